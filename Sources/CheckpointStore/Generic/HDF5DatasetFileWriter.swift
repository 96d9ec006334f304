import CHDF5
import Foundation
import Glibc

/// Writes an HDF5 file of another tool's layout (Cerebras `.mdl`) in HDF5's earliest file format
/// (superblock 0, h5py's default), streaming: datasets at any
/// path with their attributes, root attributes, chunks encoded on all cores outside HDF5's lock
/// and written with `H5Dwrite_chunk` (as `CheckpointWriter` does for ckpt's files). The file is
/// built under `<path>.tmp-*` and appears under its name only at `commit()` (fsync, rename,
/// fsync of the directory); `abort()`, or dropping the writer, deletes it.
public final class HDF5DatasetFileWriter: ChunkStreamOwner {
    /// The final path.
    public let path: String
    /// The temporary file being written.
    public var temporaryPath: String { temporary.temporaryPath }
    /// Target chunk size in bytes.
    public let chunkBytes: Int
    /// Whether `commit()` may replace an existing file at `path` (atomically).
    public let replace: Bool

    let pipeline: ChunkWritePipeline
    private let temporary: HDF5TemporaryFile
    private var file: hid_t { temporary.id }
    private var openStream: TensorStream?
    private var pendingAttributes: [(String, HDF5AttributeValue)] = []
    private var done = false

    /// Creates the temporary file beside `path`; chunks hold about `chunkBytes` and are encoded
    /// on `threads` cores. The corresponding C function is `H5Fcreate`.
    public init(path: String, chunkBytes: Int = 4 << 20, threads: Int? = nil, replace: Bool = false) throws(StoreError) {
        HDF5Library.prepareThread()
        guard chunkBytes >= 1 else { throw .invalidArgument("chunk size must be positive") }
        self.path = path
        self.chunkBytes = chunkBytes
        self.replace = replace
        temporary = try HDF5TemporaryFile(path: path, earliest: true)
        let cores = max(1, threads ?? ProcessInfo.processInfo.activeProcessorCount)
        pipeline = ChunkWritePipeline(path: path, chunkCapacity: chunkBytes + 64, threads: cores)
    }

    deinit {
        if !done { abort() }
    }

    /// Writes (or replaces) a root attribute.
    public func setRootAttribute(_ name: String, _ value: HDF5AttributeValue) throws(StoreError) {
        try checkOpen()
        HDF5Library.prepareThread()
        try HDF5Library.serialized { () throws(StoreError) in
            guard let root = H5Object(H5Gopen2(file, "/", ckpt_H5P_DEFAULT()), .group), HDF5AttributeWriter.write(root.id, name, value) else {
                throw .hdf5(path: path, tensor: nil, operation: "writing root attribute \(name)")
            }
        }
    }

    /// Starts dataset `name` (a `/` in it creates groups, as h5py does) holding `shape`
    /// elements of `dtype`, chunked by ckpt's rule and filtered by `filters` unless it is a
    /// scalar or empty (those are contiguous); `attributes` are written when it is finished.
    /// Its bytes arrive through the returned stream; finish it before starting the next.
    /// `values` names what the elements hold when the stored `dtype` is only their carrier
    /// (bf16 stored as int16, as cstorch does): shuffle + zstd chunks of float values get
    /// literal-only frames, as in ckpt's own files. It must have `dtype`'s size.
    public func beginDataset(
        _ name: String, dtype: DType, shape: [Int], filters: HDF5DatasetFilters, attributes: [(String, HDF5AttributeValue)] = [],
        values: DType? = nil
    ) throws(StoreError) -> TensorStream {
        try checkOpen()
        HDF5Library.prepareThread()
        HDF5Library.lock()
        defer { HDF5Library.unlock() }
        let key = TensorKey.model(name)
        if let s = openStream { throw .writerState(path: path, detail: "dataset \(s.key) is still open; finish it first") }
        guard !name.isEmpty, !name.hasPrefix("/"), !name.hasSuffix("/"), !name.contains("//") else {
            throw .invalidArgument("\(path): invalid dataset name '\(name)'")
        }
        guard shape.allSatisfy({ $0 >= 0 }) else { throw .invalidShape(path: path, tensor: name, detail: "negative dimension in shape \(shape)") }
        let elements = shape.reduce(1, *)
        let chunked = !shape.isEmpty && elements > 0
        let layout = chunked ? ChunkLayout(shape: shape, elementSize: dtype.size, chunkBytes: chunkBytes) : nil
        guard let ftype = H5Datatypes.fileType(dtype) else { throw .hdf5(path: path, tensor: name, operation: "H5Tcopy") }
        let dims = shape.map { hsize_t($0) }
        let space: H5Object? =
            shape.isEmpty
            ? H5Object(H5Screate(H5S_SCALAR), .dataspace)
            : dims.withUnsafeBufferPointer { H5Object(H5Screate_simple(Int32(dims.count), $0.baseAddress, $0.baseAddress), .dataspace) }
        guard let space, let dcpl = H5Object(H5Pcreate(ckpt_H5P_DATASET_CREATE()), .plist),
            let lcpl = H5Object(H5Pcreate(ckpt_H5P_LINK_CREATE()), .plist)
        else { throw .hdf5(path: path, tensor: name, operation: "creating dataspace") }
        H5Pset_create_intermediate_group(lcpl.id, 1)
        var encoder = ChunkEncoder(zstdLevel: nil, elementSize: dtype.size)
        encoder.fletcher32 = false
        if let layout {
            let cdims = layout.chunk.map { hsize_t($0) }
            _ = cdims.withUnsafeBufferPointer { H5Pset_chunk(dcpl.id, Int32(cdims.count), $0.baseAddress) }
            switch filters {
            case .none: break
            case .lz4:
                var cd: [UInt32] = [0]
                H5Pset_filter(dcpl.id, LZ4Filter.id, ckpt_H5Z_FLAG_OPTIONAL(), 1, &cd)
                encoder.lz4 = true
            case .zstd(let level):
                var shuffleCD: [UInt32] = [UInt32(dtype.size)]
                var zstdCD: [UInt32] = [UInt32(bitPattern: Int32(level))]
                H5Pset_filter(dcpl.id, 2, ckpt_H5Z_FLAG_OPTIONAL(), 1, &shuffleCD)
                H5Pset_filter(dcpl.id, ZstdFilter.id, ckpt_H5Z_FLAG_OPTIONAL(), 1, &zstdCD)
                let v = values.flatMap { $0.size == dtype.size ? $0 : nil } ?? dtype
                encoder = .shuffleZstd(level: level, dtype: v)
                encoder.fletcher32 = false
            }
            H5Pset_fill_time(dcpl.id, H5D_FILL_TIME_NEVER)
            H5Pset_alloc_time(dcpl.id, H5D_ALLOC_TIME_INCR)
        }
        errno = 0
        guard let dataset = H5Object(H5Dcreate2(file, name, ftype.id, space.id, lcpl.id, dcpl.id, ckpt_H5P_DEFAULT()), .dataset) else {
            if errno == ENOSPC || errno == EFBIG || errno == EDQUOT { throw .io(path: path, operation: "creating dataset \(name)", errno: errno) }
            throw .hdf5(path: path, tensor: name, operation: "H5Dcreate")
        }
        let stream = TensorStream(writer: self, key: key, dtype: dtype, shape: shape, dataset: dataset, layout: layout, encoder: encoder)
        openStream = stream
        pendingAttributes = attributes
        return stream
    }

    /// Creates dataset `name` with HDF5's null dataspace (no elements; `h5py.Empty("f")`, a
    /// float32 placeholder) carrying `attributes`.
    public func writeEmptyDataset(_ name: String, attributes: [(String, HDF5AttributeValue)]) throws(StoreError) {
        try checkOpen()
        HDF5Library.prepareThread()
        try HDF5Library.serialized { () throws(StoreError) in
            if let s = openStream { throw .writerState(path: path, detail: "dataset \(s.key) is still open; finish it first") }
            guard let space = H5Object(H5Screate(H5S_NULL), .dataspace), let lcpl = H5Object(H5Pcreate(ckpt_H5P_LINK_CREATE()), .plist) else {
                throw .hdf5(path: path, tensor: name, operation: "H5Screate")
            }
            H5Pset_create_intermediate_group(lcpl.id, 1)
            guard
                let ds = H5Object(
                    H5Dcreate2(file, name, ckpt_H5T_IEEE_F32LE(), space.id, lcpl.id, ckpt_H5P_DEFAULT(), ckpt_H5P_DEFAULT()), .dataset)
            else { throw .hdf5(path: path, tensor: name, operation: "H5Dcreate") }
            for (n, v) in attributes where !HDF5AttributeWriter.write(ds.id, n, v) {
                throw .hdf5(path: path, tensor: name, operation: "writing attribute \(n)")
            }
        }
    }

    /// Another tool's layout has no place for ckpt's checksum.
    var recordsDigest: Bool { false }

    func writeAttributes(of stream: TensorStream, dataset: hid_t, chunked: Bool, digest: UInt64) -> Bool {
        defer { pendingAttributes = [] }
        return pendingAttributes.allSatisfy { HDF5AttributeWriter.write(dataset, $0.0, $0.1) }
    }

    func streamFinished(_ s: TensorStream) {
        if openStream === s { openStream = nil }
    }

    /// Waits until every chunk queued so far is in the file.
    public func flush() throws(StoreError) {
        try checkOpen()
        try pipeline.drain()
    }

    /// Writes the remaining chunks, closes the file, makes it durable and renames it to `path`
    /// (never over an existing file unless `replace`).
    public func commit() throws(StoreError) {
        try checkOpen()
        if let s = openStream { throw .writerState(path: path, detail: "dataset \(s.key) was not finished before commit") }
        HDF5Library.prepareThread()
        do throws(StoreError) {
            try pipeline.drain()
            HDF5Library.lock()
            defer { HDF5Library.unlock() }
            try temporary.closeAndPublish(replace: replace)
            done = true
        } catch {
            abort()
            throw error
        }
    }

    /// Deletes the temporary file; an existing file at `path` is untouched.
    public func abort() {
        guard !done else { return }
        done = true
        pipeline.discard()
        openStream = nil
        temporary.discard()
    }

    private func checkOpen() throws(StoreError) {
        if done { throw .writerState(path: path, detail: "writer already committed or aborted") }
    }
}
