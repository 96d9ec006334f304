import CheckpointStore
import Foundation
import Testing

@testable import Containers

/// `DCPCheckpointWriter` keeps one open chunk per data file: writers of several ranks stream
/// their own files in lockstep (a torch_dist export), while two chunks of one file at once are
/// refused.
@Suite struct DCPWriterFilesTests {
    static func bytes(_ values: [Float]) -> [UInt8] { values.flatMap { v in withUnsafeBytes(of: v.bitPattern.littleEndian) { Array($0) } } }

    @Test func chunksOfTwoFilesMayBeOpenTogether() throws {
        let dir = NSTemporaryDirectory() + "ckpt-dcp-files-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let a = TensorBox(offsets: [0], sizes: [2]), b = TensorBox(offsets: [2], sizes: [2])
        let plan = DCPWritePlan(tensors: [
            DCPPlannedTensor(
                fqn: "w", dtype: .float32, shape: [4],
                chunks: [DCPPlannedChunk(box: a, file: "__0_0.distcp"), DCPPlannedChunk(box: b, file: "__1_0.distcp")])
        ])
        let w = try DCPCheckpointWriter(path: dir, plan: plan)
        let s0 = try w.beginChunk("w", box: a)
        let s1 = try w.beginChunk("w", box: b)
        try Self.bytes([1, 2]).withUnsafeBytes { try s0.append($0) }
        try Self.bytes([3, 4]).withUnsafeBytes { try s1.append($0) }
        try s1.finish()
        try s0.finish()
        try w.commit()
        let back = try DCPCheckpoint(path: dir)
        #expect(try back.readAll(.model("w")) == Self.bytes([1, 2, 3, 4]))
    }

    @Test func twoChunksOfOneFileAreRefused() throws {
        let dir = NSTemporaryDirectory() + "ckpt-dcp-files-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let a = TensorBox(offsets: [0], sizes: [2]), b = TensorBox(offsets: [2], sizes: [2])
        let plan = DCPWritePlan(tensors: [
            DCPPlannedTensor(
                fqn: "w", dtype: .float32, shape: [4],
                chunks: [DCPPlannedChunk(box: a, file: "__0_0.distcp"), DCPPlannedChunk(box: b, file: "__0_0.distcp")])
        ])
        let w = try DCPCheckpointWriter(path: dir, plan: plan)
        _ = try w.beginChunk("w", box: a)
        do {
            _ = try w.beginChunk("w", box: b)
            Issue.record("a second open chunk in one file was accepted")
        } catch {
            #expect(error.description.contains("while a chunk of w is open in __0_0.distcp"), "\(error.description)")
        }
        #expect(!FileManager.default.fileExists(atPath: dir))
    }
}
