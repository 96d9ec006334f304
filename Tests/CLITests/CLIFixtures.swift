import CheckpointStore
import Foundation
import Testing

/// Small inputs the CLI tests share: a tiny synthetic checkpoint, its Megatron TP2 x PP2
/// conversion, the PyTorch fixture paths, and JSON parsing of a command's stdout.
enum CLIFixtures {
    static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    /// The PyTorch fp32 fixture (tiny gpt2) with its batch.
    static let fixture = repo + "/Tests/ReferenceCoreTests/Fixtures/fp32"

    /// Writes a tiny gpt2 checkpoint with AdamW state to `dir/name`, returning its path.
    static func tiny(_ dir: String, _ name: String = "tiny.h5", extra: [String] = []) throws -> String {
        let f = dir + "/" + name
        let r = try CLI.run(["synth", "--preset", "tiny", "--optimizer", "adamw", "--out", f] + extra)
        #expect(r.status == 0, "synth: \(r.stderr)")
        return f
    }

    /// Converts a tiny checkpoint to a Megatron TP2 x PP2 directory `dir/name`.
    static func megatron(_ dir: String, _ name: String = "meg", extra: [String] = []) throws -> String {
        let src = try tiny(dir, name + "-src.h5", extra: extra)
        let out = dir + "/" + name
        let r = try CLI.run(["convert", src, "--to", "megatron", "--tp", "2", "--pp", "2", "--out", out])
        #expect(r.status == 0, "convert: \(r.stderr)")
        return out
    }

    /// The JSON object a command printed (exactly one document on stdout).
    static func json(_ r: CLIResult) throws -> [String: Any] {
        let o = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8))
        return try #require(o as? [String: Any], "not a JSON object: \(r.stdout)")
    }

    /// Files in `dir` whose names start with `prefix` and contain `.tmp-` (left-over temporaries).
    static func temporaries(_ dir: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).filter { $0.contains(".tmp-") }
    }
}

extension CLIFixtures {
    /// Flips one byte in the middle of the first stored chunk of `tensor` in `file`.
    static func damageChunk(_ file: String, tensor: String) throws {
        let chunks = try CheckpointReader(path: file).chunkLocations(TensorKey(parsing: tensor))
        let c = try #require(chunks.first)
        let h = try FileHandle(forUpdating: URL(fileURLWithPath: file))
        defer { try? h.close() }
        try h.seek(toOffset: c.address + UInt64(c.size / 3))
        var b = try #require(try h.read(upToCount: 1))
        b[0] ^= 0x04
        try h.seek(toOffset: c.address + UInt64(c.size / 3))
        try h.write(contentsOf: b)
    }
}
