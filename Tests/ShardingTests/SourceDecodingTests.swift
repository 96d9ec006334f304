import CheckpointStore
import Foundation
import Testing

@testable import Sharding

/// Conversions decode each stored source chunk once: row-parallel weights are not re-read per TP
/// rank and Q/K/V rows of a query group do not re-decode the chunks they share.
@Suite struct SourceDecodingTests {
    /// Raw bytes of every tensor in `path`.
    static func rawBytes(_ path: String) throws -> Int64 {
        Int64(try CheckpointReader(path: path).tensors.reduce(0) { $0 + $1.rawBytes })
    }

    @Test(arguments: [(2, 1), (4, 2), (8, 4)])
    func eachSourceChunkIsDecodedOnce(tp: Int, pp: Int) throws {
        let dir = try Fixtures.tempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // Small chunks (a few rows each) and small blocks, so that every split crosses chunks.
        let config = TinyModels.llama
        let wafer = dir + "/w.h5"
        try Fixtures.writeWafer(config, dtype: .float32, path: wafer, chunkBytes: 256)
        let converter = try Converter(options: ConvertOptions(writer: WriterOptions(chunkBytes: 384, threads: 2), blockBytes: 512))
        let shape = MegatronShape(tp: tp, pp: pp, vocabDivisibleBy: 4)
        let split = try converter.convert(wafer, to: .megatron(shape), output: dir + "/m")
        #expect(split.sourceBytesDecoded == (try Self.rawBytes(wafer)))

        let merge = try converter.convert(dir + "/m", to: .wafer, output: dir + "/back.h5")
        // At most the vocabulary padding (embedding and untied head, three sections) on top of
        // the canonical bytes.
        let padding = Int64((shape.paddedVocab(config.vocab) - config.vocab) * config.hidden * 4 * 3 * 2)
        #expect(merge.sourceBytesDecoded >= merge.bytes)
        #expect(merge.sourceBytesDecoded <= merge.bytes + padding, "decoded \(merge.sourceBytesDecoded) for \(merge.bytes)")
        #expect(try Fixtures.tensors(wafer) == (try Fixtures.tensors(dir + "/back.h5")))
    }

    @Test func aCacheOfOneWindowStillConvertsExactly() throws {
        let dir = try Fixtures.tempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let wafer = dir + "/w.h5"
        try Fixtures.writeWafer(TinyModels.gpt2, dtype: .bfloat16, path: wafer, chunkBytes: 200)
        let converter = try Converter(options: ConvertOptions(blockBytes: 300, cacheBytes: 0))
        let shape = MegatronShape(tp: 4, pp: 2, vocabDivisibleBy: 4)
        let split = try converter.convert(wafer, to: .megatron(shape), output: dir + "/m")
        // Without room to keep windows, rows shared by ranks are decoded again.
        #expect(split.sourceBytesDecoded > (try Self.rawBytes(wafer)))
        _ = try converter.convert(dir + "/m", to: .wafer, output: dir + "/back.h5")
        #expect(try Fixtures.tensors(wafer) == (try Fixtures.tensors(dir + "/back.h5")))
    }
}
