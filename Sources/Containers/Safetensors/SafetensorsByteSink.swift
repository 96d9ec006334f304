import CheckpointStore

/// The bytes of one tensor going into a `SafetensorsWriter`: exactly its byte count, checked.
final class SafetensorsByteSink: TensorByteSink {
    private let writer: SafetensorsWriter
    /// The tensor's name.
    let name: String
    private let byteCount: Int
    private var written = 0
    private var finished = false

    init(writer: SafetensorsWriter, name: String, byteCount: Int) {
        self.writer = writer
        self.name = name
        self.byteCount = byteCount
    }

    func append(_ bytes: UnsafeRawBufferPointer) throws(ContainerError) {
        guard !finished else { try writer.fail(bad("bytes appended after finish()")) }
        guard bytes.count <= byteCount - written else {
            try writer.fail(bad("\(written + bytes.count) bytes appended, but the tensor holds \(byteCount)"))
        }
        try writer.append(bytes)
        written += bytes.count
    }

    func finish() throws(ContainerError) {
        guard !finished else { return }
        guard written == byteCount else { try writer.fail(bad("finished after \(written) of its \(byteCount) bytes")) }
        finished = true
        writer.sinkFinished(self)
    }

    private func bad(_ detail: String) -> ContainerError {
        .badTensor(path: writer.path, tensor: PrintableName.of(name), detail: detail)
    }
}
