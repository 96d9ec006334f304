import CHDF5
import Dispatch
import Foundation
import Glibc

/// Opens a checkpoint lazily and reads tensors, whole or in hyperslabs, touching only the
/// chunks a read needs and decompressing them on all cores (`H5Dread_chunk` + ckpt's own
/// decoders). Files written by other tools (h5py + hdf5plugin, any chunking, with or without
/// shuffle, gzip, contiguous) read correctly too, through HDF5 where ckpt cannot decode a
/// pipeline itself.
///
/// `@unchecked Sendable`: every HDF5 call runs inside `HDF5Library`'s section (a no-op with the
/// thread-safe library, which locks itself), the reader's own state is immutable after `init`,
/// and its buffer pools are locked, so reads may run from several threads at once.
public final class CheckpointReader: @unchecked Sendable {
    /// The file read.
    public let path: String
    /// Checkpoint-level metadata.
    public let metadata: CheckpointMetadata
    /// Every tensor under `/model` and `/optimizer`, model tensors first, in natural name order.
    public let tensors: [TensorInfo]
    /// Root `format_version`.
    public let formatVersion: Int64
    /// Root `writer` attribute.
    public let writer: String?
    /// Root `created` attribute.
    public let created: String?
    /// Root `tensor_count` and `parameter_count` as recorded (nil when absent).
    public let recordedCounts: (tensors: Int64?, parameters: Int64?)

    let file: H5Object
    /// A plain descriptor on the same file: workers `pread` raw chunks in parallel, outside
    /// HDF5's global lock, at the addresses HDF5's chunk index gives.
    private let descriptor: OwnedDescriptor
    /// The descriptor of the file HDF5 opened (structure checks read raw bytes through it).
    var fd: Int32 { descriptor.raw }
    /// File offset of HDF5 address 0 (the user-block size).
    private let baseAddress: UInt64
    private let index: [TensorKey: Int]
    /// Reads and decodes chunks on all cores (shared with `HDF5DatasetFile`).
    let engine: DatasetReadEngine

    /// Opens `path`. Fails with a one-line error when the file is missing, not HDF5, damaged,
    /// written in a newer HDF5 file format or not a ckpt checkpoint; a failed open releases the
    /// descriptor and every HDF5 object it took. The corresponding C function is `H5Fopen`.
    public init(path: String, threads: Int? = nil) throws(StoreError) {
        HDF5Library.prepareThread()
        HDF5Library.lock()
        defer { HDF5Library.unlock() }
        self.path = path
        let threadCount = max(1, threads ?? ProcessInfo.processInfo.activeProcessorCount)
        var st = stat()
        if stat(path, &st) != 0 {
            if errno == ENOENT { throw .fileNotFound(path: path) }
            throw .io(path: path, operation: "stat", errno: errno)
        }
        if (st.st_mode & S_IFMT) == S_IFDIR { throw .notHDF5(path: path) }
        if H5Fis_hdf5(path) <= 0 { throw .notHDF5(path: path) }
        guard let f = H5Object(HDF5FileAccess.open(path, flags: ckpt_H5F_ACC_RDONLY()), .file) else {
            throw Self.openFailure(path)
        }
        file = f
        descriptor = try OwnedDescriptor(duplicatingFileOf: f.id, path: path)
        var ub: hsize_t = 0
        if let fcpl = H5Object(H5Fget_create_plist(f.id), .plist) { H5Pget_userblock(fcpl.id, &ub) }
        baseAddress = UInt64(ub)
        engine = DatasetReadEngine(path: path, fd: descriptor.raw, baseAddress: baseAddress, threads: threadCount)
        guard let root = H5Object(H5Gopen2(f.id, "/", ckpt_H5P_DEFAULT()), .group) else {
            throw .corruptFile(path: path, detail: "root group unreadable")
        }
        switch H5Attributes.probeString(root.id, "format") {
        case .absent: throw .notACheckpoint(path: path, detail: "no root 'format' attribute")
        case .wrongType: throw .notACheckpoint(path: path, detail: "the root 'format' attribute is not a string")
        case .unreadable: throw .corruptFile(path: path, detail: Self.damagedAttribute("format"))
        case .value(let format):
            guard format == CheckpointFormat.name else { throw .notACheckpoint(path: path, detail: "format is '\(format)'") }
        }
        let version = try Self.rootInteger(root.id, "format_version", path: path) ?? 0
        guard version >= 1 && version <= CheckpointFormat.version else {
            throw .notACheckpoint(path: path, detail: "format_version \(version) is not supported (this build reads 1...\(CheckpointFormat.version))")
        }
        formatVersion = version
        writer = try Self.rootText(root.id, "writer", path: path)
        created = try Self.rootText(root.id, "created", path: path)
        recordedCounts = (
            try Self.rootInteger(root.id, "tensor_count", path: path), try Self.rootInteger(root.id, "parameter_count", path: path)
        )
        var m = CheckpointMetadata()
        m.step = try Self.rootInteger(root.id, "step", path: path) ?? 0
        if let s = try Self.rootJSON(root.id, "model_config", path: path) {
            m.modelConfig = try MetadataJSON.decode(ModelConfig.self, s, path: path, what: "model_config")
        }
        if let s = try Self.rootJSON(root.id, "optimizer", path: path) {
            m.optimizer = try MetadataJSON.decode(OptimizerConfig.self, s, path: path, what: "optimizer")
        }
        // A missing or null layout reads as the wafer layout (formats/checkpoint-v1.md section 3).
        m.layoutJSON = try Self.rootJSON(root.id, "layout", path: path) ?? #"{"kind":"wafer"}"#
        m.userJSON = try Self.rootJSON(root.id, "user_metadata", path: path)
        m.rng = try Self.readRNG(file: f.id, path: path, writer: writer)
        metadata = m

        var keys: [TensorKey] = []
        for group in ["model", "optimizer"] where H5Lexists(f.id, group, ckpt_H5P_DEFAULT()) > 0 {
            for p in try Self.datasetPaths(file: f.id, group: group, path: path, writer: writer) {
                if let k = TensorKey.fromDatasetPath(group + "/" + p) { keys.append(k) }
            }
        }
        keys.sort()
        var infos: [TensorInfo] = []
        var idx: [TensorKey: Int] = [:]
        for k in keys {
            let ds = try StoredDataset.open(file: f.id, path: path, key: k)
            idx[k] = infos.count
            infos.append(ds.info)
        }
        tensors = infos
        index = idx
    }

    private static func readRNG(file: hid_t, path: String, writer: String?) throws(StoreError) -> [String: [UInt8]] {
        guard H5Lexists(file, "rng", ckpt_H5P_DEFAULT()) > 0 else { return [:] }
        var out: [String: [UInt8]] = [:]
        for name in try datasetPaths(file: file, group: "rng", path: path, writer: writer) {
            guard let ds = H5Object(H5Dopen2(file, "/rng/" + name, ckpt_H5P_DEFAULT()), .dataset),
                let space = H5Object(H5Dget_space(ds.id), .dataspace)
            else { throw .corruptFile(path: path, detail: "rng/\(name) unreadable") }
            let n = Int(H5Sget_simple_extent_npoints(space.id))
            var bytes = [UInt8](repeating: 0, count: n)
            if n > 0 && H5Dread(ds.id, ckpt_H5T_NATIVE_UINT8(), ckpt_H5S_ALL(), ckpt_H5S_ALL(), ckpt_H5P_DEFAULT(), &bytes) < 0 {
                throw .corruptFile(path: path, detail: "rng/\(name) unreadable")
            }
            out[name] = bytes
        }
        return out
    }

    /// Where each stored chunk of a tensor lies in the file: grid origin, byte address and
    /// stored size (for diagnostics and fault-injection tests). The corresponding C function is
    /// `H5Dget_chunk_info`.
    public func chunkLocations(_ key: TensorKey) throws(StoreError) -> [(origin: [Int], address: UInt64, size: Int)] {
        HDF5Library.prepareThread()
        HDF5Library.lock()
        defer { HDF5Library.unlock() }
        let ds = try StoredDataset.open(file: file.id, path: path, key: key)
        guard ds.layout != nil, let space = H5Object(H5Dget_space(ds.object.id), .dataspace) else { return [] }
        var n: hsize_t = 0
        H5Dget_num_chunks(ds.object.id, space.id, &n)
        var out: [(origin: [Int], address: UInt64, size: Int)] = []
        for i in 0..<n {
            var off = [hsize_t](repeating: 0, count: ds.info.shape.count)
            var mask: UInt32 = 0
            var addr: haddr_t = 0
            var size: hsize_t = 0
            if H5Dget_chunk_info(ds.object.id, space.id, i, &off, &mask, &addr, &size) >= 0 {
                out.append((off.map { Int($0) }, UInt64(addr), Int(size)))
            }
        }
        return out
    }

    /// Whether the checkpoint holds `key`.
    public func contains(_ key: TensorKey) -> Bool { index[key] != nil }

    /// The description of one tensor.
    public func info(_ key: TensorKey) throws(StoreError) -> TensorInfo {
        guard let i = index[key] else { throw .tensorNotFound(path: path, tensor: key.description) }
        return tensors[i]
    }

    /// Reads a whole tensor and checks its stored xxh3_64.
    public func read(_ key: TensorKey) throws(StoreError) -> TensorData {
        try read(key, selection: nil)
    }

    /// Reads rows `rows` (along dimension 0) of a tensor of rank >= 1.
    public func read(_ key: TensorKey, rows: Range<Int>) throws(StoreError) -> TensorData {
        let i = try info(key)
        guard !i.shape.isEmpty else { throw .invalidShape(path: path, tensor: key.description, detail: "a scalar has no rows") }
        return try read(key, selection: [.range(rows)] + i.shape.dropFirst().map { .all($0) })
    }

    /// Reads a hyperslab (one `DimSelection` per dimension; nil reads everything and verifies
    /// the whole-tensor checksum).
    public func read(_ key: TensorKey, selection: [DimSelection]?) throws(StoreError) -> TensorData {
        let i = try info(key)
        let sel = try normalized(selection, i)
        let n = sel.reduce(1) { $0 * $1.count } * i.dtype.size
        var bytes = [UInt8](unsafeUninitializedCapacity: n) { _, c in c = n }
        try withMutableBytes(&bytes) { (b) throws(StoreError) in try read(key, selection: selection, into: b) }
        return TensorData(dtype: i.dtype, shape: selection == nil ? i.shape : sel.map(\.count), bytes: bytes)
    }

    /// Reads a whole float tensor widened to Float.
    public func readFloats(_ key: TensorKey) throws(StoreError) -> [Float] {
        let d = try read(key)
        guard d.dtype.isFloatingPoint else {
            throw .unsupportedTensor(path: path, tensor: key.description, detail: "is \(d.dtype.rawValue), not a float tensor")
        }
        return d.floats()
    }

    /// Reads a hyperslab into caller memory (`selection` element count x element size bytes).
    /// A full read (selection nil) also verifies the tensor's xxh3_64.
    public func read(_ key: TensorKey, selection: [DimSelection]?, into buffer: UnsafeMutableRawBufferPointer) throws(StoreError) {
        try read(key, selection: selection, into: buffer, consumer: nil)
    }

    /// `read(_:selection:into:)` with `consumer` shown every output byte once, in order (while
    /// the bytes are in cache where the chunking allows; see `DatasetReadEngine.fastRead`),
    /// before the call returns.
    func read(_ key: TensorKey, selection: [DimSelection]?, into buffer: UnsafeMutableRawBufferPointer, consumer: OutputConsumer?)
        throws(StoreError)
    {
        let i = try info(key)
        let sel = try normalized(selection, i)
        let count = sel.reduce(1) { $0 * $1.count }
        guard buffer.count >= count * i.dtype.size else {
            throw .invalidShape(
                path: path, tensor: key.description, detail: "buffer of \(buffer.count) bytes is smaller than the \(count * i.dtype.size) selected")
        }
        guard count > 0, let out = buffer.baseAddress else { return }
        HDF5Library.prepareThread()
        let ds = try HDF5Library.serialized { () throws(StoreError) in try StoredDataset.open(file: file.id, path: path, key: key) }
        let full = zip(sel, i.shape).allSatisfy { $0.start == 0 && $0.count == $1 && ($0.stride == 1 || $0.count <= 1) }
        let hasher: XXH3Hasher? = (full && i.xxh3 != nil) ? XXH3Hasher() : nil
        let both: OutputConsumer? =
            hasher.map { h in
                let box = UncheckedBox(h)
                return { bytes in
                    box.value.update(bytes)
                    consumer?(bytes)
                }
            } ?? consumer
        if let decoder = ds.decoder, let layout = ds.layout {
            try engine.fastRead(ds, decoder: decoder, layout: layout, selection: sel, out: out, consumer: both)
        } else {
            try engine.hdf5Read(ds, selection: sel, out: out)
            both?(UnsafeRawBufferPointer(start: out, count: count * i.dtype.size))
        }
        if let stored = i.xxh3, let hasher {
            let computed = hasher.digest()
            if computed != stored { throw .checksumMismatch(path: path, tensor: key.description, stored: stored, computed: computed) }
        }
    }

    private func normalized(_ selection: [DimSelection]?, _ i: TensorInfo) throws(StoreError) -> [DimSelection] {
        guard let selection else { return i.shape.map { .all($0) } }
        guard selection.count == i.shape.count else {
            throw .invalidShape(
                path: path, tensor: i.key.description, detail: "selection has \(selection.count) dimensions, tensor has \(i.shape.count) (shape \(i.shape))")
        }
        for (k, (s, n)) in zip(selection, i.shape).enumerated() {
            if s.count < 0 || s.stride < 1 || s.start < 0 || (s.count > 0 && (s.last >= n)) {
                throw .invalidShape(
                    path: path, tensor: i.key.description,
                    detail: "selection \(s.start):\(s.start + s.count * s.stride):\(s.stride) is outside dimension \(k) of extent \(n)")
            }
        }
        return selection
    }

}
