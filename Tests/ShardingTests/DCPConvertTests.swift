import CheckpointStore
import Containers
import Foundation
import Testing

@testable import Sharding

/// A plain DCP save of a Hugging Face GPT-2 `state_dict` (torch 2.13, 2 ranks; fp32 with 2-D
/// and row splits, and bf16 with zstd items) converts to the wafer layout through the hf layout
/// tables: every canonical tensor has the fingerprint tools/interop_canonical.py computed from
/// what the ranks held, and the fp32 one equals the conversion of the same model saved by
/// transformers, byte for byte.
@Suite(.enabled(if: FileManager.default.fileExists(atPath: InteropFixtures.root + "/dcp-zstd/expected.json"), "DCP fixtures missing"))
struct DCPConvertTests {
    private func hex(_ bytes: [UInt8]) -> String {
        let s = String(bytes.withUnsafeBytes { XXH3.hash($0) }, radix: 16)
        return String(repeating: "0", count: 16 - s.count) + s
    }

    private func canonical(_ path: String) throws -> [TensorKey: [UInt8]] {
        let view = try CanonicalView(source: CheckpointSource(path: path, formats: .all()))
        var out: [TensorKey: [UInt8]] = [:]
        for t in view.tensors { out[t.key] = try view.readAll(t.key) }
        return out
    }

    @Test(arguments: ["dcp-state-dict", "dcp-zstd"])
    func toWaferMatchesTheCanonicalFingerprints(name: String) throws {
        let src = InteropFixtures.root + "/" + name
        #expect(FormatRegistry.all().sourceFormat(for: src)?.name == "dcp")
        let dir = try Fixtures.tempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var options = ConvertOptions()
        options.writer.threads = 2
        _ = try Converter(options: options, formats: .all()).convert(src, to: .wafer, output: dir + "/w.h5")
        let e = try InteropFixtures.expected(name)
        let want = try #require((e["canonical"] as? [String: Any])?["model"] as? [String: [String: Any]])
        let got = try canonical(dir + "/w.h5")
        #expect(Set(got.keys.map(\.name)) == Set(want.keys))
        for (k, bytes) in got {
            #expect(hex(bytes) == want[k.name]?["xxh3_64"] as? String, "\(name): \(k)")
        }
    }

    @Test func theSameModelSavedByTransformersGivesTheSameCanonicalTensors() throws {
        let a = try canonical(InteropFixtures.root + "/dcp-state-dict"), b = try canonical(InteropFixtures.root + "/hf-gpt2")
        #expect(!a.isEmpty && a == b)
    }

    @Test func aDCPDirectoryWithoutConfigIsNotAConversionSource() throws {
        let dir = try Fixtures.tempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.copyItem(atPath: InteropFixtures.root + "/dcp-state-dict", toPath: dir + "/d")
        try FileManager.default.removeItem(atPath: dir + "/d/config.json")
        #expect(!DCPFormats.recognizes(dir + "/d"))
        #expect(DCPCheckpoint.looksLike(dir + "/d"))
    }
}
