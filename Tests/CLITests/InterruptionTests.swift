import CheckpointStore
import Foundation
import Testing

/// SIGINT/SIGTERM/SIGHUP delete ckpt's temporaries and exit 128 + signal; after SIGKILL, `ckpt
/// gc` and the next write to the same target delete the stale temporaries, never a live one's;
/// step inputs are assembled under $TMPDIR and removed on every exit (issue 9, items 6 and 7).
@Suite struct InterruptionTests {
    /// A synth long enough to be caught mid-write.
    static func longSynth(_ out: String) -> [String] {
        [
            "synth", "--preset", "tiny", "--layers", "4", "--hidden", "256", "--heads", "8", "--vocab", "4096", "--optimizer", "adamw", "--codec", "zstd:9",
            "--chunk-mb", "0.25", "--out", out,
        ]
    }

    @Test(arguments: [SIGINT, SIGTERM, SIGHUP])
    func signalDuringSynthRemovesTemporaries(_ sig: Int32) throws {
        let expected = 128 + sig
        let dir = CLI.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let out = dir + "/s.h5"
        let child = try ChildProcess(Self.longSynth(out))
        let caught = child.wait(upTo: 60) { !temporaries(in: dir).isEmpty }
        let r = child.signal(sig)
        if caught {
            #expect(r.status == expected, "\(r.stderr)")
            #expect(r.stderr.contains("interrupted"), "\(r.stderr)")
            #expect(!FileManager.default.fileExists(atPath: out))
        }
        #expect(temporaries(in: dir).isEmpty)
    }

    @Test func signalDuringMegatronConvertRemovesTheDirectory() throws {
        let dir = CLI.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let src = dir + "/s.h5", meg = dir + "/meg"
        #expect(try CLI.run(Self.longSynth(src)).status == 0)
        let child = try ChildProcess(["convert", src, "--to", "megatron", "--tp", "2", "--pp", "2", "--codec", "zstd:9", "--out", meg])
        let caught = child.wait(upTo: 60) { temporaries(in: dir).contains { $0.hasSuffix(".h5") || $0.contains("/") } }
        let r = child.signal(SIGTERM)
        if caught { #expect(r.status == 143, "\(r.stderr)") }
        #expect(temporaries(in: dir).isEmpty)
        #expect(!FileManager.default.fileExists(atPath: meg))
    }

    @Test func staleTemporariesGoToGcAndTheNextWriteLiveOnesStay() throws {
        let dir = CLI.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let out = dir + "/s.h5"
        // A real SIGKILL mid-write.
        let child = try ChildProcess(Self.longSynth(out))
        _ = child.wait(upTo: 60) { !temporaries(in: dir).isEmpty }
        _ = child.signal(SIGKILL)
        let killed = temporaries(in: dir)
        // A live process's temporary (this test's own pid and start time) and one whose pid was
        // reused (this pid, another start time).
        let me = getpid(), start = ProcessLiveness.ownStartTime
        let live = "s.h5.tmp-\(me)-\(start)-live", reused = "s.h5.tmp-\(me)-\(start + 1)-reused"
        for n in [live, reused] { FileManager.default.createFile(atPath: dir + "/" + n, contents: Data("x".utf8)) }
        try FileManager.default.createDirectory(atPath: dir + "/sub/m.tmp-\(me)-\(start + 7)-dir/iter", withIntermediateDirectories: true)

        let dry = try CLI.run(["gc", dir, "--dry-run", "--json"])
        #expect(dry.status == 0, "\(dry.stderr)")
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(dry.stdout.utf8)) as? [String: Any])
        let removed = (summary["removed"] as? [[String: Any]] ?? []).compactMap { $0["path"] as? String }
        let kept = (summary["kept"] as? [[String: Any]] ?? []).compactMap { $0["path"] as? String }
        #expect(Set(removed) == Set((killed + [reused, "sub/m.tmp-\(me)-\(start + 7)-dir"]).map { dir + "/" + $0 }))
        #expect(kept == [dir + "/" + live])
        #expect(Set(temporaries(in: dir)).isSuperset(of: killed + [live, reused]))

        // The next write to the same target removes the stale ones beside it.
        #expect(try CLI.run(["synth", "--preset", "tiny", "--out", out]).status == 0)
        #expect(temporaries(in: dir).filter { !$0.hasPrefix("sub") } == [live])

        let gc = try CLI.run(["gc", dir])
        #expect(gc.status == 0)
        #expect(gc.stdout.contains("removed 1 stale temporary"), "\(gc.stdout)")
        #expect(temporaries(in: dir) == [live])
        #expect(try CLI.run(["verify", out]).status == 0)
    }

    /// `step` and `verify-step` assemble a Megatron --before under $TMPDIR and remove it on a
    /// normal exit, an error exit and SIGINT.
    /// A Megatron directory is read through `CanonicalView`: nothing is assembled on disk, in
    /// TMPDIR or anywhere else, and the step matches the one on the wafer file.
    @Test func stepOnAMegatronDirectoryWritesNoTemporaryFile() throws {
        let dir = CLI.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let tmp = dir + "/tmp", meg = dir + "/meg", fixture = StepCommandTests.fixture
        try FileManager.default.createDirectory(atPath: tmp, withIntermediateDirectories: true)
        #expect(try CLI.run(["convert", fixture + "/before.h5", "--to", "megatron", "--tp", "2", "--pp", "1", "--out", meg]).status == 0)
        let env = ["TMPDIR": tmp]
        func listing() -> [String] { (try? FileManager.default.contentsOfDirectory(atPath: tmp)) ?? [] }

        let ok = try ChildProcess(["step", "--before", meg, "--batch", fixture + "/batch.h5", "--out", dir + "/after.h5"], environment: env)
        var sawTemporary = false
        _ = ok.wait(upTo: 60) {
            if !listing().isEmpty || !temporaries(in: meg).isEmpty { sawTemporary = true }
            return false
        }
        #expect(ok.finish().status == 0)
        #expect(!sawTemporary, "the Megatron input was assembled on disk")
        #expect(try CLI.run(["step", "--before", fixture + "/before.h5", "--batch", fixture + "/batch.h5", "--out", dir + "/wafer-after.h5"]).status == 0)
        let same = try CLI.run(["verify-step", "--before", meg, "--after", dir + "/wafer-after.h5", "--batch", fixture + "/batch.h5"])
        #expect(same.status == 0, "\(same.stdout)\(same.stderr)")

        let failed = try ChildProcess(["verify-step", "--before", meg, "--after", meg, "--batch", dir + "/missing.h5"], environment: env)
        #expect(failed.finish().status == 2)
        #expect(listing().isEmpty)
    }
}
