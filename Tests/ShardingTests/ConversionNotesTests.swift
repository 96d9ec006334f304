import CheckpointStore
import Containers
import Foundation
import Testing

@testable import Sharding

/// The report says what a target leaves out: the source's user metadata members it has no
/// place for, and what the Megatron writers synthesised (each line once, not once per rank).
@Suite struct ConversionNotesTests {
    let io = InteropConvertTests()

    @Test func userMetadataATargetCannotHoldIsNamed() throws {
        let dir = try Fixtures.tempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Fixtures.writeWafer(TinyModels.llama, dtype: .bfloat16, path: dir + "/w.h5")  // user metadata {"run": "test"}
        let hf = try io.convert(dir + "/w.h5", to: .hf, dir + "/hf")
        #expect(hf.notes.contains("user metadata `run` not written: HF checkpoints have no place for it"), "\(hf.notes)")
        let wafer = try io.convert(dir + "/w.h5", to: .wafer, dir + "/copy.h5")
        #expect(wafer.notes.isEmpty)
        #expect(try CheckpointReader(path: dir + "/copy.h5").metadata.userJSON == #"{"run":"test"}"#)
        let ranks = try io.convert(dir + "/w.h5", to: .megatron(MegatronShape(tp: 2, pp: 1)), dir + "/ranks")
        #expect(ranks.notes.isEmpty, "ckpt's rank files keep it: \(ranks.notes)")
    }

    @Test(arguments: [MegatronTorchFormats.containerFormat, MegatronDistFormats.containerFormat])
    func megatronWriterNotesReachTheReportOnce(container: String) throws {
        let dir = try Fixtures.tempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let report = try io.convert(
            InteropFixtures.root + "/hf-llama", to: .megatron(MegatronShape(tp: 2, pp: 2)), container: container, dir + "/meg")
        #expect(report.notes.filter { $0 == "no optimizer state: load with --no-load-optim (or --finetune)" }.count == 1, "\(report.notes)")
        #expect(report.notes.filter { $0 == "no rng_state (none in the source): load with --no-load-rng" }.count == 1, "\(report.notes)")
    }
}
