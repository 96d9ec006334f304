import CheckpointStore
import Foundation
import Testing

/// `ckpt bench write --tensors`: the tensors of a safetensors file (bench_store.py's trained
/// set) written under their own names, bit-exact; a damaged file is refused naming it.
@Suite struct BenchWriteTensorsTests {
    /// A safetensors file of `tensors` (name, dtype tag, shape, little-endian bytes).
    func safetensors(_ tensors: [(String, String, [Int], [UInt8])]) -> [UInt8] {
        var offset = 0
        var entries: [String] = []
        for (name, dtype, shape, bytes) in tensors {
            entries.append("\"\(name)\":{\"dtype\":\"\(dtype)\",\"shape\":\(shape),\"data_offsets\":[\(offset),\(offset + bytes.count)]}")
            offset += bytes.count
        }
        var header = Array(("{" + entries.joined(separator: ",") + "}").utf8)
        header += [UInt8](repeating: 0x20, count: (8 - header.count % 8) % 8)
        var out = withUnsafeBytes(of: UInt64(header.count).littleEndian) { Array($0) } + header
        for t in tensors { out += t.3 }
        return out
    }

    @Test func writesEveryTensorBitExactly() throws {
        let dir = CLI.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var rng = SystemRandomNumberGenerator()
        let conv = (0..<(16 * 3 * 3 * 3)).flatMap { _ in withUnsafeBytes(of: Float.random(in: -0.1...0.1, using: &rng)) { Array($0) } }
        let bias = (0..<16).flatMap { i in withUnsafeBytes(of: Float(i) * 0.01) { Array($0) } }
        let bf16 = (0..<(300 * 70)).flatMap { _ in withUnsafeBytes(of: UInt16.random(in: 0x3c00...0x3f80, using: &rng)) { Array($0) } }
        let tensors = [("det.conv1_weight", "F32", [16, 3, 3, 3], conv), ("det.conv1_bias", "F32", [16], bias), ("rec.fc", "BF16", [300, 70], bf16)]
        let src = dir + "/t.safetensors"
        try Data(safetensors(tensors)).write(to: URL(fileURLWithPath: src))
        let out = dir + "/t.h5"
        let r = try CLI.run(["bench", "write", "--tensors", src, "--chunk-mb", "0.01", "--out", out, "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let json = try CLIFixtures.json(r)
        #expect(json["raw_bytes"] as? Int == conv.count + bias.count + bf16.count)
        let reader = try CheckpointReader(path: out)
        #expect(reader.tensors.count == 3)
        for (name, _, shape, bytes) in tensors {
            let d = try reader.read(.model(name))
            #expect(d.shape == shape && d.bytes == bytes, "\(name)")
        }
        #expect(try reader.info(.model("rec.fc")).dtype == .bfloat16)
        #expect(try CLI.run(["verify", out]).status == 0)
    }

    @Test func damagedFileIsRefusedNamingIt() throws {
        let dir = CLI.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let src = dir + "/bad.safetensors"
        // The header says 1 MiB of data; the file holds 8 bytes.
        var bytes = safetensors([("w", "F32", [2], [UInt8](repeating: 0, count: 8))])
        let text = String(decoding: bytes[8...], as: UTF8.self).replacingOccurrences(of: "[0,8]", with: "[0,1048576]")
        bytes = withUnsafeBytes(of: UInt64(text.utf8.count).littleEndian) { Array($0) } + Array(text.utf8) + [UInt8](repeating: 0, count: 8)
        try Data(bytes).write(to: URL(fileURLWithPath: src))
        let out = dir + "/t.h5"
        let r = try CLI.run(["bench", "write", "--tensors", src, "--out", out])
        #expect(r.status != 0)
        #expect(r.stderr.contains("bad.safetensors"), "\(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: out), "no partial output")
    }
}
