import Foundation
import Testing

/// Issue 9 item 2: a before-checkpoint at the largest Int64 step cannot be stepped; `step` and
/// `verify-step` say so in one line (exit 1, the data cannot be stepped) instead of trapping on
/// `step + 1`, and leave nothing behind. Negative steps are refused by `synth`.
@Suite struct StepBoundaryTests {
    @Test func stepAndVerifyStepRefuseTheLargestStep() throws {
        let dir = CLI.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let max = try CLIFixtures.tiny(dir, "max.h5", extra: ["--step", String(Int64.max)])
        let batch = CLIFixtures.fixture + "/batch.h5"
        let out = dir + "/after.h5"
        let s = try CLI.run(["step", "--before", max, "--batch", batch, "--out", out])
        #expect(s.status == 1, "\(s.stderr)")
        #expect(s.stderr.contains("\(Int64.max)") && s.stderr.contains("max.h5"), "\(s.stderr)")
        #expect(s.stderr.split(separator: "\n").count == 1, "\(s.stderr)")
        #expect(!FileManager.default.fileExists(atPath: out))
        #expect(CLIFixtures.temporaries(dir).isEmpty, "\(CLIFixtures.temporaries(dir))")

        let v = try CLI.run(["verify-step", "--before", max, "--after", max, "--batch", batch, "--json"])
        #expect(v.status == 1, "\(v.stderr)")
        let doc = try CLIFixtures.json(v)
        #expect(doc["verdict"] as? String == "error")
        #expect((doc["error"] as? String)?.contains("largest representable step") == true)
    }

    @Test func synthRefusesANegativeStep() throws {
        let dir = CLI.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let r = try CLI.run(["synth", "--preset", "tiny", "--step", "-5", "--out", dir + "/n.h5"])
        #expect(r.status == 2)
        #expect(r.stderr.contains("--step must be in 0..."), "\(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir + "/n.h5"))
    }
}
