import CheckpointStore

/// One tensor being written to a ckpt HDF5 file: a `TensorStream` behind `TensorByteSink`.
final class HDF5TensorSink: TensorByteSink {
    let stream: TensorStream

    init(stream: TensorStream) { self.stream = stream }

    func append(_ bytes: UnsafeRawBufferPointer) throws(ContainerError) {
        do { try stream.append(bytes) } catch { throw .store(error) }
    }

    func finish() throws(ContainerError) {
        do { try stream.finish() } catch { throw .store(error) }
    }
}
