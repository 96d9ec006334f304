import CHDF5

/// Receives one tensor's bytes in C order, in pieces of any size (row blocks, say), and turns
/// them into chunks as they fill. Obtained from `CheckpointWriter.beginTensor` (or
/// `HDF5DatasetFileWriter.beginDataset`); call `finish()` after the last byte.
public final class TensorStream {
    /// The tensor being written.
    public let key: TensorKey
    /// Its element type.
    public let dtype: DType
    /// Its shape.
    public let shape: [Int]

    private unowned let writer: any ChunkStreamOwner
    private var dataset: H5Object?
    private let layout: ChunkLayout?
    private var encoder: ChunkEncoder
    private let hasher: XXH3Hasher?
    private let totalBytes: Int
    private var received = 0
    private var finished = false
    // Chunked state: the chunk being filled, its grid position and how many bytes it holds.
    private var grid: [Int]
    private var gridIndex: [Int]
    private var current: UnsafeMutableRawPointer?
    private var currentValid = 0
    private var currentFill = 0
    private let chunkBytes: Int
    // Contiguous (0-d / empty) tensors are small: collected and written at finish.
    private var smallBuffer: [UInt8] = []

    init(
        writer: any ChunkStreamOwner, key: TensorKey, dtype: DType, shape: [Int], dataset: H5Object,
        layout: ChunkLayout?, encoder: ChunkEncoder
    ) {
        self.writer = writer
        self.key = key
        self.dtype = dtype
        self.shape = shape
        self.dataset = dataset
        self.layout = layout
        self.encoder = encoder
        totalBytes = shape.reduce(1, *) * dtype.size
        grid = layout?.grid ?? []
        gridIndex = [Int](repeating: 0, count: shape.count)
        chunkBytes = (layout?.chunkElements ?? 0) * dtype.size
        // Hashing costs a pass over every byte on the producer's thread: only for owners that record it.
        hasher = writer.recordsDigest ? XXH3Hasher() : nil
    }

    /// Bytes still expected.
    public var remainingBytes: Int { totalBytes - received }

    /// Appends the next bytes of the tensor (C order, little-endian elements).
    public func append(_ bytes: UnsafeRawBufferPointer) throws(StoreError) {
        guard !finished else { throw .writerState(path: writer.path, detail: "tensor \(key): append after finish") }
        guard bytes.count <= remainingBytes else {
            throw .invalidShape(
                path: writer.path, tensor: key.description,
                detail: "received \(received + bytes.count) bytes, shape \(shape) of \(dtype.rawValue) holds \(totalBytes)")
        }
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        hasher?.update(bytes)
        received += bytes.count
        guard let layout else {
            smallBuffer.append(contentsOf: bytes)
            return
        }
        var pos = 0
        while pos < bytes.count {
            if current == nil { startChunk(layout) }
            let n = min(bytes.count - pos, currentValid - currentFill)
            (current! + currentFill).copyMemory(from: base + pos, byteCount: n)
            currentFill += n
            pos += n
            if currentFill == currentValid { try submitChunk(layout) }
        }
    }

    /// Appends Float values (the tensor must be float32).
    public func append(_ values: [Float]) throws(StoreError) {
        guard dtype == .float32 else {
            throw .invalidArgument("\(writer.path): tensor \(key): append([Float]) on a \(dtype.rawValue) tensor")
        }
        try withBytes(values) { (b) throws(StoreError) in try append(b) }
    }

    /// Completes the tensor: checks the byte count and has the writer record its attributes
    /// (ckpt's: dtype, codec and xxh3_64).
    public func finish() throws(StoreError) {
        guard !finished else { return }
        guard received == totalBytes else {
            throw .invalidShape(
                path: writer.path, tensor: key.description,
                detail: "got \(received) of \(totalBytes) bytes for shape \(shape) of \(dtype.rawValue)")
        }
        finished = true
        guard let dataset else { throw .writerState(path: writer.path, detail: "tensor \(key): writer was aborted") }
        defer { self.dataset = nil }  // the stream no longer keeps the dataset open
        HDF5Library.lock()
        defer { HDF5Library.unlock() }
        if layout == nil, !smallBuffer.isEmpty {
            guard let t = H5Object(H5Dget_type(dataset.id), .datatype) else {
                throw .hdf5(path: writer.path, tensor: key.description, operation: "H5Dget_type")
            }
            let rc = smallBuffer.withUnsafeBytes {
                H5Dwrite(dataset.id, t.id, ckpt_H5S_ALL(), ckpt_H5S_ALL(), ckpt_H5P_DEFAULT(), $0.baseAddress)
            }
            if rc < 0 { throw .hdf5(path: writer.path, tensor: key.description, operation: "H5Dwrite") }
        }
        if !writer.writeAttributes(of: self, dataset: dataset.id, chunked: layout != nil, digest: hasher?.digest() ?? 0) {
            throw .hdf5(path: writer.path, tensor: key.description, operation: "writing attributes")
        }
        writer.streamFinished(self)
    }

    private func startChunk(_ layout: ChunkLayout) {
        current = writer.pipeline.rawBuffer()
        currentFill = 0
        // Valid elements: the chunk's extent clipped at the tensor edge, in every dimension.
        var valid = 1
        for k in 0..<shape.count {
            let o = gridIndex[k] * layout.chunk[k]
            valid *= min(layout.chunk[k], shape[k] - o)
        }
        currentValid = valid * dtype.size
    }

    private func submitChunk(_ layout: ChunkLayout) throws(StoreError) {
        guard let buf = current else { return }
        if currentValid < chunkBytes { (buf + currentValid).initializeMemory(as: UInt8.self, repeating: 0, count: chunkBytes - currentValid) }
        let offset = layout.origin(gridIndex).map { hsize_t($0) }
        current = nil
        guard let dataset else { throw .writerState(path: writer.path, detail: "tensor \(key): writer was aborted") }
        // Literal-only or LZ zstd frames: the first chunk decides for the whole tensor.
        if encoder.frames == .sampled { encoder = writer.pipeline.resolveFrames(encoder, firstChunk: buf, count: chunkBytes) }
        try writer.pipeline.submit(
            ChunkJob(
                dataset: dataset, tensor: key.description, offset: offset, raw: buf,
                rawCount: chunkBytes, validCount: currentValid, encoder: encoder))
        // Next grid position in C order.
        var k = shape.count - 1
        while k >= 0 {
            gridIndex[k] += 1
            if gridIndex[k] < grid[k] { break }
            gridIndex[k] = 0
            k -= 1
        }
    }

    deinit {
        if let c = current { writer.pipeline.returnRaw(c) }
    }
}

/// The writer a `TensorStream` belongs to: where its chunks go and what it records when the
/// tensor is complete.
protocol ChunkStreamOwner: AnyObject {
    /// The final path, for messages.
    var path: String { get }
    /// The chunk pipeline of the file.
    var pipeline: ChunkWritePipeline { get }
    /// Whether `writeAttributes` records the tensor's xxh3_64 (else it is not computed: 0).
    var recordsDigest: Bool { get }
    /// Writes the finished tensor's attributes (inside the HDF5 section); false on failure.
    func writeAttributes(of stream: TensorStream, dataset: hid_t, chunked: Bool, digest: UInt64) -> Bool
    /// The stream is complete.
    func streamFinished(_ s: TensorStream)
}
