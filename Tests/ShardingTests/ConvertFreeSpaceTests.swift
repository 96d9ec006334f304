import CheckpointStore
import Foundation
import Testing

@testable import Sharding

/// A conversion whose output the file system cannot hold is refused before anything is written
/// (issue 9, item 14: `--vocab-divisible-by 1000000000` ran until killed).
@Suite struct ConvertFreeSpaceTests {
    @Test func outputLargerThanTheFreeSpaceIsRefusedUpFront() throws {
        let dir = try Fixtures.tempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let src = dir + "/w.h5"
        try Fixtures.writeWafer(TinyModels.gpt2, dtype: .float32, path: src)
        var options = ConvertOptions()
        options.checkFreeSpace = true
        // Padding the vocabulary to 2^40 rows: hundreds of TB.
        let shape = MegatronShape(tp: 1, pp: 1, vocabDivisibleBy: 1 << 40)
        do {
            _ = try Converter(options: options).convert(src, to: .megatron(shape), output: dir + "/m")
            Issue.record("conversion was not refused")
        } catch {
            guard case .store(.insufficientSpace(let path, let needed, let available, _)) = error else {
                Issue.record("got \(error)")
                return
            }
            #expect(path == dir + "/m" && needed > available)
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["w.h5"])
    }
}
