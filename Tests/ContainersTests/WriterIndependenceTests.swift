import CheckpointStore
import Foundation
import Testing

@testable import Containers

/// Writers say whether several of them may be fed on different threads at once: safetensors,
/// Hugging Face directories and torch archives keep their state to themselves; HDF5 files go
/// through a library with process-wide state and must not be (the converter writes them in
/// turn).
@Suite struct WriterIndependenceTests {
    @Test func onlyWritersWithoutSharedStateAreIndependent() throws {
        let dir = NSTemporaryDirectory() + "ckpt-independence-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let manifest = [ContainerTensor(key: .model("w"), dtype: .float32, shape: [2])]
        let h5 = try HDF5ContainerWriter(path: dir + "/f.h5", manifest: manifest, metadata: CheckpointMetadata())
        defer { h5.abort() }
        #expect(!h5.isIndependent)
        let st = try SafetensorsWriter(path: dir + "/f.safetensors", manifest: manifest)
        defer { st.abort() }
        #expect(st.isIndependent)
        let model = ModelConfig(family: "gpt2", layers: 2, hidden: 8, heads: 2, vocab: 11, maxSeq: 6)
        let hf = try HFDirectoryWriter(path: dir + "/hf", model: model, manifest: manifest)
        defer { hf.abort() }
        #expect(hf.isIndependent)
        let pt = try TorchArchiveWriter(path: dir + "/f.pt", prefix: "f")
        defer { pt.abort() }
        #expect(pt.isIndependent)
    }
}
