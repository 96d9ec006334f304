/// A whole tensor's byte stream cut into its row-block chunks: each chunk's bytes go to its own
/// chunk sink, opened when the stream reaches it.
final class DCPRowBlockSink: TensorByteSink {
    private let writer: DCPCheckpointWriter
    private let fqn: String
    private let blocks: [TensorBox]
    private let elementSize: Int
    private var next = 0
    private var current: (any TensorByteSink)?
    private var left = 0

    init(writer: DCPCheckpointWriter, fqn: String, blocks: [TensorBox], elementSize: Int) {
        self.writer = writer
        self.fqn = fqn
        self.blocks = blocks
        self.elementSize = elementSize
    }

    /// Appends the next bytes, finishing and starting chunks at their boundaries.
    func append(_ bytes: UnsafeRawBufferPointer) throws(ContainerError) {
        var rest = bytes
        while rest.count > 0 {
            if current == nil {
                try skipEmptyBlocks()
                guard next < blocks.count else {
                    throw writer.fail(.badTensor(path: writer.path, tensor: PrintableName.of(fqn), detail: "more bytes than its shape holds"))
                }
                current = try writer.beginChunk(fqn, box: blocks[next])
                left = blocks[next].count * elementSize
                next += 1
            }
            let n = min(left, rest.count)
            try current?.append(UnsafeRawBufferPointer(rebasing: rest[0..<n]))
            rest = UnsafeRawBufferPointer(rebasing: rest[n...])
            left -= n
            if left == 0 {
                try current?.finish()
                current = nil
            }
        }
    }

    /// Ends the tensor; fails unless every chunk got all its bytes.
    func finish() throws(ContainerError) {
        if current == nil { try skipEmptyBlocks() }
        guard current == nil, next == blocks.count else {
            throw writer.fail(.badTensor(path: writer.path, tensor: PrintableName.of(fqn), detail: "fewer bytes than its shape holds"))
        }
    }

    /// Chunks without elements still get their (empty) item.
    private func skipEmptyBlocks() throws(ContainerError) {
        while next < blocks.count && blocks[next].count == 0 {
            try writer.beginChunk(fqn, box: blocks[next]).finish()
            next += 1
        }
    }
}
