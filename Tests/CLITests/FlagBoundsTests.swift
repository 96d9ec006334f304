import Foundation
import Testing

/// Issue 9 items 1 and 14: every numeric flag is range-checked in `validate()`, before any
/// work, with a one-line message naming the flag and exit code 2.
@Suite struct FlagBoundsTests {
    /// Flags out of range (or outside what the format and the tool represent), with the flag
    /// the message must name. `OUT` is replaced by an output path, `SRC` by a tiny checkpoint.
    @Test(arguments: [
        (["synth", "--preset", "tiny", "--layers", "0", "--out", "OUT"], "--layers"),
        (["synth", "--layers", "100000", "--hidden", "100000", "--out", "OUT"], "--layers"),
        (["synth", "--preset", "tiny", "--hidden", "100000", "--out", "OUT"], "--hidden"),
        (["synth", "--preset", "tiny", "--vocab", "3000000000", "--out", "OUT"], "--vocab"),
        (["synth", "--preset", "tiny", "--max-seq", "0", "--out", "OUT"], "--max-seq"),
        (["synth", "--preset", "tiny", "--ffn", "-3", "--out", "OUT"], "--ffn"),
        (["synth", "--preset", "tiny", "--heads", "0", "--out", "OUT"], "--heads"),
        (["synth", "--preset", "tiny", "--step", "-5", "--out", "OUT"], "--step"),
        (["synth", "--preset", "tiny", "--threads", "0", "--out", "OUT"], "--threads"),
        (["synth", "--preset", "tiny", "--threads", "100000", "--out", "OUT"], "--threads"),
        (["synth", "--preset", "tiny", "--chunk-mb", "0", "--out", "OUT"], "--chunk-mb"),
        (["synth", "--preset", "tiny", "--codec", "zstd:-5", "--out", "OUT"], "zstd:-5"),
        (["synth", "--preset", "tiny", "--codec", "zstd:23", "--out", "OUT"], "zstd:23"),
        (["convert", "SRC", "--to", "megatron", "--tp", "1", "--pp", "1", "--vocab-divisible-by", "1000000000", "--out", "OUT"], "--vocab-divisible-by"),
        (["convert", "SRC", "--to", "megatron", "--tp", "0", "--pp", "1", "--out", "OUT"], "--tp"),
        (["convert", "SRC", "--to", "megatron", "--tp", "1", "--pp", "100000", "--out", "OUT"], "--pp"),
        (["bench", "write", "--preset", "tiny", "--group-mb", "0", "--out", "OUT"], "--group-mb"),
        (["verify-step", "--before", "SRC", "--after", "SRC", "--batch", "BATCH", "--show=-1"], "--show"),
        (["verify-step", "--before", "SRC", "--after", "SRC", "--batch", "BATCH", "--show", "-1"], "--show"),
        (["verify-step", "--before", "SRC", "--after", "SRC", "--batch", "BATCH", "--loss-rtol", "nan"], "--loss-rtol"),
        (["verify-step", "--before", "SRC", "--after", "SRC", "--batch", "BATCH", "--update-rtol", "inf"], "--update-rtol"),
    ])
    func outOfRangeFlagIsRefusedBeforeAnyWork(args: [String], flag: String) throws {
        let dir = CLI.tempDir("bounds" + args.joined())
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let out = dir + "/out.h5"
        // SRC is a real checkpoint, so that only the flag can be refused.
        let src = args.contains("SRC") ? try CLIFixtures.tiny(dir) : ""
        let argv = args.map { $0 == "OUT" ? out : $0 == "SRC" ? src : $0 == "BATCH" ? CLIFixtures.fixture + "/batch.h5" : $0 }
        let r = try CLI.run(argv)
        #expect(r.status == 2, "\(argv): \(r.stdout)\(r.stderr)")
        #expect(r.stderr.contains(flag), "message does not name \(flag): \(r.stderr)")
        #expect(!r.stdout.contains("pass") && !r.stdout.contains("FAIL"), "work started: \(r.stdout)")
        #expect(!FileManager.default.fileExists(atPath: out))
        #expect(CLIFixtures.temporaries(dir).isEmpty)
    }
}
