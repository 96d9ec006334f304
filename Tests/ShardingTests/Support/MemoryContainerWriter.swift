import CheckpointStore
import Containers

/// A `TensorContainerWriter` collecting tensors in memory and publishing them to a
/// `MemoryStore` at `commit`, enforcing the manifest order as real writers must.
final class MemoryContainerWriter: TensorContainerWriter {
    let store: MemoryStore
    let path: String
    let manifest: [ContainerTensor]
    let metadata: CheckpointMetadata
    private var written: [(ContainerTensor, [UInt8])] = []

    init(store: MemoryStore, path: String, manifest: [ContainerTensor], metadata: CheckpointMetadata) {
        self.store = store
        self.path = path
        self.manifest = manifest
        self.metadata = metadata
    }

    func beginTensor(_ key: TensorKey, dtype: DType, shape: [Int]) throws(ContainerError) -> any TensorByteSink {
        let t = ContainerTensor(key: key, dtype: dtype, shape: shape)
        guard written.count < manifest.count, manifest[written.count] == t else {
            throw .badTensor(path: path, tensor: key.description, detail: "not the next tensor of the manifest")
        }
        return Sink(writer: self, tensor: t)
    }

    func commit() throws(ContainerError) {
        guard written.count == manifest.count else { throw .badTensor(path: path, tensor: "", detail: "manifest incomplete") }
        store.put(path, MemoryContainer(path: path, tensors: written), metadata: metadata)
    }

    func abort() {}

    private final class Sink: TensorByteSink {
        let writer: MemoryContainerWriter
        let tensor: ContainerTensor
        var bytes: [UInt8] = []

        init(writer: MemoryContainerWriter, tensor: ContainerTensor) {
            self.writer = writer
            self.tensor = tensor
        }

        func append(_ b: UnsafeRawBufferPointer) throws(ContainerError) { bytes += b }

        func finish() throws(ContainerError) {
            guard bytes.count == tensor.byteCount else {
                throw .badTensor(path: writer.path, tensor: tensor.key.description, detail: "\(bytes.count) bytes for \(tensor.byteCount)")
            }
            writer.written.append((tensor, bytes))
        }
    }
}
