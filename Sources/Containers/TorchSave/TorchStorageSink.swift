/// The byte stream of one storage record of a `TorchArchiveWriter`.
final class TorchStorageSink: TensorByteSink {
    private let writer: TorchArchiveWriter
    private let key: String

    init(writer: TorchArchiveWriter, key: String) {
        self.writer = writer
        self.key = key
    }

    /// Appends the next bytes of the storage (CRC-32 computed on the way).
    func append(_ bytes: UnsafeRawBufferPointer) throws(ContainerError) {
        try writer.appendStorage(key, bytes)
    }

    /// Ends the storage; fails unless exactly its byte count was appended.
    func finish() throws(ContainerError) {
        try writer.finishStorage(key)
    }
}
