import Foundation
import Testing

/// Commands that act on a checkpoint's metadata refuse one whose metadata checksum does not
/// match (issue 9, item 8): a changed learning rate is neither certified against by
/// `verify-step` nor used by `step`, nor laundered by `convert` under a fresh checksum.
@Suite struct MetadataTamperTests {
    /// Changes the last digit of the learning rate inside the `optimizer` attribute, as one byte
    /// edited in a binary editor.
    static func changeLearningRateDigit(_ path: String) throws {
        var d = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        let key = Array(#""lr":"#.utf8)
        let i = try #require((0...(d.count - key.count)).first { d[$0..<($0 + key.count)].elementsEqual(key) })
        // The first digit after `"lr":0.` (or the first digit at all).
        var j = i + key.count
        while j < d.count && !(UInt8(ascii: "1")...UInt8(ascii: "9")).contains(d[j]) { j += 1 }
        d[j] = d[j] == UInt8(ascii: "9") ? UInt8(ascii: "8") : d[j] + 1
        try Data(d).write(to: URL(fileURLWithPath: path))
    }

    @Test func convertRefusesAChangedLearningRate() throws {
        let dir = CLI.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let f = dir + "/m.h5"
        #expect(try CLI.run(["synth", "--preset", "tiny", "--optimizer", "adamw", "--out", f]).status == 0)
        try Self.changeLearningRateDigit(f)
        for args in [["--to", "megatron", "--tp", "2", "--pp", "1", "--out", dir + "/meg"], ["--to", "wafer", "--out", dir + "/w.h5"]] {
            let r = try CLI.run(["convert", f] + args)
            #expect(r.status == 1, "\(args): \(r.stderr)")
            #expect(r.stderr.contains("\(f): metadata damaged: metadata_xxh3_64 mismatch"), "\(r.stderr)")
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["m.h5"])
    }

    @Test func stepAndVerifyStepRefuseAChangedLearningRate() throws {
        let dir = CLI.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let batch = CLIFixtures.fixture + "/batch.h5"
        // A v1.1 checkpoint of the fixture model: the output of one reference step.
        let a = dir + "/a.h5", b = dir + "/b.h5"
        #expect(try CLI.run(["step", "--before", CLIFixtures.fixture + "/before.h5", "--batch", batch, "--out", a]).status == 0)
        #expect(try CLI.run(["step", "--before", a, "--batch", batch, "--out", b]).status == 0)
        #expect(try CLI.run(["verify-step", "--before", a, "--after", b, "--batch", batch]).status == 0)
        try Self.changeLearningRateDigit(a)
        let v = try CLI.run(["verify-step", "--before", a, "--after", b, "--batch", batch, "--json"])
        #expect(v.status == 1, "\(v.stdout)")
        #expect(v.stdout.contains("metadata damaged: metadata_xxh3_64 mismatch"), "\(v.stdout)")
        let s = try CLI.run(["step", "--before", a, "--batch", batch, "--out", dir + "/c.h5"])
        #expect(s.status == 1, "\(s.stderr)")
        #expect(s.stderr.contains("\(a): metadata damaged"), "\(s.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir + "/c.h5"))
    }
}
