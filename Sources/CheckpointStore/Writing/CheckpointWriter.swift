import CHDF5
import Foundation
import Glibc

/// Writes one checkpoint file in format v1, streaming: tensors are added one at a time (or fed
/// in row blocks through a `TensorStream`), chunks are shuffled, compressed and checksummed on
/// all cores outside HDF5's global lock, and the file appears under its name only at `commit()`.
///
/// ```swift
/// let w = try CheckpointWriter(path: "model.h5")
/// w.metadata.step = 100
/// try w.write(.model("layers.0.attn.q.weight"), shape: [768, 768], floats: weights)
/// try w.commit()
/// ```
///
/// Until `commit()` succeeds the data lives in `<path>.tmp-*` beside the target; `abort()` (or
/// dropping the writer) deletes it and leaves any existing file at `path` untouched.
public final class CheckpointWriter: ChunkStreamOwner {
    /// The final path of the checkpoint.
    public let path: String
    /// The temporary file being written.
    public var temporaryPath: String { temporary.temporaryPath }
    /// Storage options.
    public let options: WriterOptions
    /// Checkpoint-level metadata, written at `commit()`; set it any time before.
    public var metadata = CheckpointMetadata()

    let pipeline: ChunkWritePipeline
    private let temporary: HDF5TemporaryFile
    private var file: hid_t { temporary.id }
    private var openStream: TensorStream?
    private var names = Set<TensorKey>()
    private var parameterCount: Int64 = 0
    private var done = false

    /// Creates the temporary file beside `path`. The corresponding C function is `H5Fcreate`.
    public init(path: String, options: WriterOptions = WriterOptions()) throws(StoreError) {
        HDF5Library.prepareThread()
        self.path = path
        self.options = options
        guard options.chunkBytes >= 1 else { throw .invalidArgument("chunk size must be positive") }
        temporary = try HDF5TemporaryFile(path: path, earliest: false)
        pipeline = ChunkWritePipeline(path: path, chunkCapacity: options.chunkBytes + 64, threads: max(1, options.threads))
    }

    deinit {
        if !done { abort() }
    }

    /// Starts a tensor whose bytes arrive through the returned stream. Only one stream may be
    /// open at a time; `finish()` it before starting the next.
    public func beginTensor(_ key: TensorKey, dtype: DType, shape: [Int]) throws(StoreError) -> TensorStream {
        try checkOpen()
        HDF5Library.prepareThread()
        // No wait for the chunk pipeline happens below, so the HDF5 section may span it all.
        HDF5Library.lock()
        defer { HDF5Library.unlock() }
        if let s = openStream { throw .writerState(path: path, detail: "tensor \(s.key) is still open; finish it first") }
        guard !names.contains(key) else { throw .invalidArgument("\(path): tensor \(key) written twice") }
        guard !key.name.isEmpty, !key.name.split(separator: ".", omittingEmptySubsequences: false).contains(where: { $0.isEmpty || $0.contains("/") })
        else { throw .invalidArgument("\(path): invalid tensor name '\(key.name)'") }
        guard shape.allSatisfy({ $0 >= 0 }) else {
            throw .invalidShape(path: path, tensor: key.description, detail: "negative dimension in shape \(shape)")
        }
        let elements = shape.reduce(1, *)
        let chunked = !shape.isEmpty && elements > 0
        let layout = chunked ? ChunkLayout(shape: shape, elementSize: dtype.size, chunkBytes: options.chunkBytes) : nil
        guard let ftype = H5Datatypes.fileType(dtype) else { throw .hdf5(path: path, tensor: key.description, operation: "H5Tcopy") }
        let dims = shape.map { hsize_t($0) }
        let space: H5Object? =
            shape.isEmpty
            ? H5Object(H5Screate(H5S_SCALAR), .dataspace)
            : dims.withUnsafeBufferPointer { H5Object(H5Screate_simple(Int32(dims.count), $0.baseAddress, $0.baseAddress), .dataspace) }
        guard let space, let dcpl = H5Object(H5Pcreate(ckpt_H5P_DATASET_CREATE()), .plist),
            let lcpl = H5Object(H5Pcreate(ckpt_H5P_LINK_CREATE()), .plist)
        else { throw .hdf5(path: path, tensor: key.description, operation: "creating dataspace") }
        H5Pset_create_intermediate_group(lcpl.id, 1)
        var encoder = ChunkEncoder(zstdLevel: nil, elementSize: dtype.size)
        if let layout {
            let cdims = layout.chunk.map { hsize_t($0) }
            _ = cdims.withUnsafeBufferPointer { H5Pset_chunk(dcpl.id, Int32(cdims.count), $0.baseAddress) }
            if case .zstd(let level) = options.codec {
                encoder = .shuffleZstd(level: level, dtype: dtype)
                var shuffleCD: [UInt32] = [UInt32(dtype.size)]
                var zstdCD: [UInt32] = [UInt32(bitPattern: Int32(level))]
                H5Pset_filter(dcpl.id, 2, ckpt_H5Z_FLAG_OPTIONAL(), 1, &shuffleCD)
                H5Pset_filter(dcpl.id, ZstdFilter.id, ckpt_H5Z_FLAG_OPTIONAL(), 1, &zstdCD)
            }
            H5Pset_filter(dcpl.id, 3, ckpt_H5Z_FLAG_MANDATORY(), 0, nil)
            // Chunks are written whole by ckpt; never pre-fill them.
            H5Pset_fill_time(dcpl.id, H5D_FILL_TIME_NEVER)
            H5Pset_alloc_time(dcpl.id, H5D_ALLOC_TIME_INCR)
        }
        errno = 0
        let ds = H5Dcreate2(file, key.datasetPath, ftype.id, space.id, lcpl.id, dcpl.id, ckpt_H5P_DEFAULT())
        guard let dataset = H5Object(ds, .dataset) else {
            if errno == ENOSPC || errno == EFBIG || errno == EDQUOT {
                throw .io(path: path, operation: "creating tensor \(key)", errno: errno)
            }
            throw .hdf5(path: path, tensor: key.description, operation: "H5Dcreate")
        }
        names.insert(key)
        if key.isModel { parameterCount += Int64(elements) }
        let stream = TensorStream(
            writer: self, key: key, dtype: dtype, shape: shape, dataset: dataset, layout: layout,
            encoder: encoder)
        openStream = stream
        return stream
    }

    func streamFinished(_ s: TensorStream) {
        if openStream === s { openStream = nil }
    }

    /// ckpt's files carry every tensor's xxh3_64.
    var recordsDigest: Bool { true }

    func writeAttributes(of s: TensorStream, dataset: hid_t, chunked: Bool, digest: UInt64) -> Bool {
        H5Attributes.writeString(dataset, "dtype", s.dtype.rawValue)
            && H5Attributes.writeString(dataset, "codec", chunked ? options.codec.description : "none")
            && H5Attributes.writeUInt64(dataset, "xxh3_64", digest)
    }

    /// Writes a whole tensor from raw little-endian C-order bytes.
    public func write(_ key: TensorKey, dtype: DType, shape: [Int], bytes: UnsafeRawBufferPointer) throws(StoreError) {
        let s = try beginTensor(key, dtype: dtype, shape: shape)
        try s.append(bytes)
        try s.finish()
    }

    /// Writes a whole float32 tensor.
    public func write(_ key: TensorKey, shape: [Int], floats: [Float]) throws(StoreError) {
        try withBytes(floats) { (b) throws(StoreError) in try write(key, dtype: .float32, shape: shape, bytes: b) }
    }

    /// Writes a whole tensor held in a `TensorData`.
    public func write(_ key: TensorKey, _ data: TensorData) throws(StoreError) {
        try withBytes(data.bytes) { (b) throws(StoreError) in try write(key, dtype: data.dtype, shape: data.shape, bytes: b) }
    }

    /// Waits until every chunk queued so far is written to the file (for progress reporting
    /// and benchmarks; `commit()` does this itself).
    public func flush() throws(StoreError) {
        try checkOpen()
        try pipeline.drain()
    }

    /// Finishes the file (metadata, counts), makes it durable and renames it to `path`.
    public func commit() throws(StoreError) {
        try checkOpen()
        if let s = openStream { throw .writerState(path: path, detail: "tensor \(s.key) was not finished before commit") }
        HDF5Library.prepareThread()
        do throws(StoreError) {
            try pipeline.drain()  // outside the HDF5 section: the pipeline's writer thread needs it
            HDF5Library.lock()
            defer { HDF5Library.unlock() }
            try writeRootMetadata()
            try temporary.closeAndPublish(replace: options.overwrite)
            done = true
        } catch {
            abort()
            throw error
        }
    }

    /// Abandons the checkpoint: deletes the temporary file; an existing file at `path` is untouched.
    public func abort() {
        guard !done else { return }
        done = true
        pipeline.discard()  // outside the HDF5 section: it waits for the pipeline's writer thread
        openStream = nil
        temporary.discard()
    }

    private func checkOpen() throws(StoreError) {
        if done { throw .writerState(path: path, detail: "writer already committed or aborted") }
    }

    private func writeRootMetadata() throws(StoreError) {
        guard let root = H5Object(H5Gopen2(file, "/", ckpt_H5P_DEFAULT()), .group) else {
            throw .hdf5(path: path, tensor: nil, operation: "H5Gopen")
        }
        let m = metadata
        let iso = ISO8601DateFormatter()
        iso.formatOptions = [.withInternetDateTime]
        var ok =
            H5Attributes.writeString(root.id, "format", "ckpt")
            && H5Attributes.writeInt64(root.id, "format_version", 1)
            && H5Attributes.writeString(root.id, "writer", "ckpt \(CheckpointFormat.writerVersion)")
            && H5Attributes.writeString(root.id, "created", iso.string(from: Date()))
            && H5Attributes.writeInt64(root.id, "tensor_count", Int64(names.count))
            && H5Attributes.writeInt64(root.id, "parameter_count", parameterCount)
            && H5Attributes.writeInt64(root.id, "step", m.step)
            && H5Attributes.writeString(root.id, "layout", m.layoutJSON)
        if let c = m.modelConfig { ok = ok && H5Attributes.writeString(root.id, "model_config", MetadataJSON.encode(c)) }
        if let o = m.optimizer { ok = ok && H5Attributes.writeString(root.id, "optimizer", MetadataJSON.encode(o)) }
        if let u = m.userJSON { ok = ok && H5Attributes.writeString(root.id, "user_metadata", u) }
        if !ok { throw .hdf5(path: path, tensor: nil, operation: "writing root attributes") }
        for (name, bytes) in m.rng.sorted(by: { $0.key < $1.key }) {
            let dims = [hsize_t(bytes.count)]
            guard let lcpl = H5Object(H5Pcreate(ckpt_H5P_LINK_CREATE()), .plist),
                let space = H5Object(H5Screate_simple(1, dims, dims), .dataspace)
            else { throw .hdf5(path: path, tensor: "rng/\(name)", operation: "H5Screate") }
            H5Pset_create_intermediate_group(lcpl.id, 1)
            guard
                let ds = H5Object(
                    H5Dcreate2(
                        file, "/rng/\(name)", ckpt_H5T_STD_U8LE(), space.id, lcpl.id,
                        ckpt_H5P_DEFAULT(), ckpt_H5P_DEFAULT()), .dataset)
            else { throw .hdf5(path: path, tensor: "rng/\(name)", operation: "H5Dcreate") }
            if !bytes.isEmpty {
                let rc = bytes.withUnsafeBytes { H5Dwrite(ds.id, ckpt_H5T_NATIVE_UINT8(), ckpt_H5S_ALL(), ckpt_H5S_ALL(), ckpt_H5P_DEFAULT(), $0.baseAddress) }
                if rc < 0 { throw .hdf5(path: path, tensor: "rng/\(name)", operation: "H5Dwrite") }
            }
        }
        try writeMetadataChecksum(root.id)
    }

    /// Format v1.1: `format_minor`, then, last of all, `metadata_xxh3_64` over what the file
    /// now holds (read back, so writer and verifier share one serialisation).
    private func writeMetadataChecksum(_ root: hid_t) throws(StoreError) {
        guard H5Attributes.writeInt64(root, MetadataChecksum.minorAttribute, MetadataChecksum.minorVersion) else {
            throw .hdf5(path: path, tensor: nil, operation: "writing root attribute \(MetadataChecksum.minorAttribute)")
        }
        let sum: UInt64
        do { sum = try MetadataChecksum.compute(file: file) } catch {
            throw .hdf5(path: path, tensor: nil, operation: "reading back the metadata (\(error.detail))")
        }
        guard H5Attributes.writeUInt64(root, MetadataChecksum.attribute, sum) else {
            throw .hdf5(path: path, tensor: nil, operation: "writing root attribute \(MetadataChecksum.attribute)")
        }
    }
}

/// Constants of the on-disk format.
public enum CheckpointFormat {
    /// The format name stored in the root `format` attribute.
    public static let name = "ckpt"
    /// The format version this build writes (and the highest it reads).
    public static let version: Int64 = 1
    /// The version of ckpt recorded in the `writer` attribute.
    public static let writerVersion = "0.1.0"
}
