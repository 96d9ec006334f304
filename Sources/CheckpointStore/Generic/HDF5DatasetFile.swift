import CHDF5
import Foundation
import Glibc

/// Any HDF5 file opened read-only: its root attributes, every dataset with shape, dtype and
/// filters, and box reads that take the same fast path as ckpt's own files (chunks located in
/// HDF5's chunk index, read with `pread` and decoded — shuffle, zstd, hdf5plugin's LZ4,
/// Fletcher32 — on all cores), or go through HDF5 for other pipelines. The formats built on
/// HDF5 that ckpt reads (Cerebras `.mdl`) use it; ckpt's own files use `CheckpointReader`.
///
/// `@unchecked Sendable`: every HDF5 call runs inside `HDF5Library`'s section, the state is
/// immutable after `init`, and the read engine's pools are locked.
public final class HDF5DatasetFile: @unchecked Sendable {
    /// The file.
    public let path: String
    /// Every dataset below the root, in name order (paths with `/` for datasets in groups).
    public let datasets: [String]

    let file: H5Object
    private let descriptor: OwnedDescriptor
    private let engine: DatasetReadEngine

    /// Opens `path`. Fails with a one-line error when the file is missing, not HDF5, damaged or
    /// written in a newer HDF5 file format. The corresponding C function is `H5Fopen`.
    public init(path: String, threads: Int? = nil) throws(StoreError) {
        HDF5Library.prepareThread()
        HDF5Library.lock()
        defer { HDF5Library.unlock() }
        self.path = path
        var st = stat()
        if stat(path, &st) != 0 {
            if errno == ENOENT { throw .fileNotFound(path: path) }
            throw .io(path: path, operation: "stat", errno: errno)
        }
        if (st.st_mode & S_IFMT) == S_IFDIR || H5Fis_hdf5(path) <= 0 { throw .notHDF5(path: path) }
        guard let f = H5Object(HDF5FileAccess.open(path, flags: ckpt_H5F_ACC_RDONLY()), .file) else {
            throw CheckpointReader.openFailure(path)
        }
        file = f
        descriptor = try OwnedDescriptor(duplicatingFileOf: f.id, path: path)
        var ub: hsize_t = 0
        if let fcpl = H5Object(H5Fget_create_plist(f.id), .plist) { H5Pget_userblock(fcpl.id, &ub) }
        engine = DatasetReadEngine(
            path: path, fd: descriptor.raw, baseAddress: UInt64(ub), threads: threads ?? ProcessInfo.processInfo.activeProcessorCount)
        let listing = DatasetListing(file: f.id, group: "/")
        if listing.failed {
            throw CheckpointReader.listingFailure(
                path: path, group: "", object: listing.failedObject, structure: listing.newerStructure, writer: nil)
        }
        datasets = listing.names.map { String(decoding: $0, as: UTF8.self) }.sorted()
    }

    /// Whether `path` opens as HDF5 and its root has every attribute of `names` (false on any
    /// failure). The corresponding C functions are `H5Fopen` and `H5Aexists`.
    public static func hasRootAttributes(_ path: String, _ names: [String]) -> Bool {
        HDF5Library.prepareThread()
        return HDF5Library.serialized { () -> Bool in
            guard H5Fis_hdf5(path) > 0, let f = H5Object(HDF5FileAccess.open(path, flags: ckpt_H5F_ACC_RDONLY()), .file),
                let root = H5Object(H5Gopen2(f.id, "/", ckpt_H5P_DEFAULT()), .group)
            else { return false }
            return names.allSatisfy { H5Aexists(root.id, $0) > 0 }
        }
    }

    /// The names of the root group's attributes, in name order.
    public func rootAttributeNames() throws(StoreError) -> [String] {
        try HDF5Library.serialized { () throws(StoreError) -> [String] in
            guard let root = H5Object(H5Gopen2(file.id, "/", ckpt_H5P_DEFAULT()), .group),
                let names = HDF5AttributeReader.names(root.id)
            else { throw .corruptFile(path: path, detail: "the root group's attributes cannot be listed") }
            return names
        }
    }

    /// The root attribute `name`, or nil when there is none.
    public func rootAttribute(_ name: String) throws(StoreError) -> HDF5AttributeValue? {
        try attribute(of: "/", name)
    }

    /// The attribute `name` of the dataset or group at `object` (a path below the root, or
    /// `/`), or nil when there is none.
    public func attribute(of object: String, _ name: String) throws(StoreError) -> HDF5AttributeValue? {
        try HDF5Library.serialized { () throws(StoreError) -> HDF5AttributeValue? in
            guard let o = H5Object(H5Oopen(file.id, object, ckpt_H5P_DEFAULT()), .object) else {
                throw .corruptFile(path: path, detail: "cannot open \(object)")
            }
            switch HDF5AttributeReader.read(o.id, name) {
            case .absent: return nil
            case .value(let v): return v
            case .unreadable, .wrongType:
                throw .corruptFile(path: path, detail: "metadata damaged: attribute '\(name)' of \(object) cannot be read")
            }
        }
    }

    /// Describes the dataset `name`.
    public func describe(_ name: String) throws(StoreError) -> HDF5DatasetInfo {
        HDF5Library.prepareThread()
        return try HDF5Library.serialized { () throws(StoreError) -> HDF5DatasetInfo in
            guard let ds = H5Object(H5Dopen2(file.id, name, ckpt_H5P_DEFAULT()), .dataset),
                let ftype = H5Object(H5Dget_type(ds.id), .datatype), let space = H5Object(H5Dget_space(ds.id), .dataspace)
            else { throw .corruptFile(path: path, detail: "cannot open dataset \(name)") }
            let isNull = H5Sget_simple_extent_type(space.id) == H5S_NULL
            guard let dtype = H5Datatypes.dtype(of: ftype.id), !isNull else {
                return HDF5DatasetInfo(
                    name: name, dtype: nil, shape: [], isNull: isNull, chunkShape: nil, codec: "none", storedBytes: Int(H5Dget_storage_size(ds.id)))
            }
            _ = dtype
            let stored = try StoredDataset.open(file: file.id, path: path, key: .model(name), datasetPath: name, ckptAttributes: false)
            return HDF5DatasetInfo(
                name: name, dtype: stored.info.dtype, shape: stored.info.shape, isNull: false, chunkShape: stored.info.chunkShape,
                codec: stored.info.codec, storedBytes: stored.info.storedBytes)
        }
    }

    /// Reads `selection` (one `DimSelection` per dimension, nil for everything) of dataset
    /// `name` into `buffer`, raw little-endian elements of its stored dtype; messages call it
    /// `tensor`.
    public func read(
        _ name: String, tensor: String, selection: [DimSelection]?, into buffer: UnsafeMutableRawBufferPointer
    ) throws(StoreError) {
        HDF5Library.prepareThread()
        let ds = try HDF5Library.serialized { () throws(StoreError) in
            try StoredDataset.open(file: file.id, path: path, key: .model(tensor), datasetPath: name, ckptAttributes: false)
        }
        let shape = ds.info.shape
        let sel = selection ?? shape.map { .all($0) }
        guard sel.count == shape.count else {
            throw .invalidShape(path: path, tensor: tensor, detail: "selection has \(sel.count) dimensions, the dataset \(shape.count)")
        }
        for (k, (s, n)) in zip(sel, shape).enumerated() where s.count < 0 || s.stride < 1 || s.start < 0 || (s.count > 0 && s.last >= n) {
            throw .invalidShape(path: path, tensor: tensor, detail: "selection is outside dimension \(k) of extent \(n)")
        }
        let count = sel.reduce(1) { $0 * $1.count }
        guard buffer.count >= count * ds.info.dtype.size else {
            throw .invalidShape(
                path: path, tensor: tensor, detail: "buffer of \(buffer.count) bytes is smaller than the \(count * ds.info.dtype.size) selected")
        }
        guard count > 0, let out = buffer.baseAddress else { return }
        if let decoder = ds.decoder, let layout = ds.layout {
            try engine.fastRead(ds, decoder: decoder, layout: layout, selection: sel, out: out, consumer: nil)
        } else {
            try engine.hdf5Read(ds, selection: sel, out: out)
        }
    }
}
