import CheckpointStore

/// `TensorContainerWriter`: whole tensors streamed row-major, cut into their planned chunks on
/// the way. This needs chunks that are row blocks (each takes whole rows: every dimension
/// but the first complete), which is what FSDP's `Shard(0)`, a single chunk and Megatron's
/// per-layer chunks of a stacked tensor without TP are; other plans write with `beginChunk`.
extension DCPCheckpointWriter {
    /// Starts tensor `key` (fqn: the name of a `.model` key, else its printed form); its dtype
    /// and shape must be the plan's.
    public func beginTensor(_ key: TensorKey, dtype: DType, shape: [Int]) throws(ContainerError) -> any TensorByteSink {
        try usable()
        let fqn = key.isModel ? key.name : key.description
        let name = PrintableName.of(fqn)
        guard let t = plan.tensors.first(where: { $0.fqn == fqn }) else { throw fail(.badTensor(path: path, tensor: name, detail: "not in the write plan")) }
        guard t.dtype == dtype, t.shape == shape else {
            throw fail(.badTensor(path: path, tensor: name, detail: "written as \(dtype.rawValue) \(shape), planned as \(t.dtype.rawValue) \(t.shape)"))
        }
        let blocks = t.chunks.map(\.box).sorted { $0.offsets.first ?? 0 < $1.offsets.first ?? 0 }
        for b in blocks where !b.offsets.isEmpty && zip(b.sizes.dropFirst(), shape.dropFirst()).contains(where: { $0 != $1 }) {
            throw fail(
                .unsupported(path: path, detail: "tensor \(name): chunk \(b) is not a block of whole rows; write its chunks with beginChunk"))
        }
        return DCPRowBlockSink(writer: self, fqn: fqn, blocks: blocks, elementSize: dtype.size)
    }
}

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
