import CheckpointStore
import Glibc

/// A PyTorch DCP checkpoint directory (`torch.distributed.checkpoint.save` with
/// `FileSystemWriter`): `.metadata` and the `__<rank>_<k>.distcp` data files, as one container
/// of global tensors.
///
/// Tensors are listed as `.model(fqn)` with their global shape and dtype; each is stored as
/// chunks (N-d boxes), every chunk a complete `torch.save` zip at (offset, length) of a data
/// file, possibly zstd-compressed (`stream.zstd/1`). Reading any box intersects it with the
/// chunks it meets (the resharding read) and reads only the bytes needed. Bytes items
/// (non-tensor entries) are read by name with `bytesItem` / `bytesArchive`.
///
/// Opening decodes and checks `.metadata` (chunk geometry, storage records) and checks that
/// every data file exists and holds every item's byte range; each item's zip, pickle, dtype and
/// shape are checked when it is first read (`checkItems` checks them all). Safe to read from
/// several threads at once.
public final class DCPCheckpoint: TensorContainer {
    /// The directory.
    public let path: String
    /// `dcp`.
    public var formatName: String { "dcp" }
    /// The decoded metadata.
    public let metadata: DCPMetadata
    /// Every tensor ckpt can hold, in `.metadata` order, as `.model(fqn)`.
    public let tensors: [ContainerTensor]
    /// DCP stores no checksums.
    public var verifiesChecksums: Bool { false }
    /// Tensors of dtypes ckpt has no equivalent for: fqn → torch dtype name.
    public let unsupported: [String: String]
    /// The size of each data file when the checkpoint was opened.
    public let fileSizes: [String: Int]
    let limits: DCPLimits
    let cache = DCPItemCache()
    private let index: [String: Int]

    /// Whether `path` is a directory holding a `.metadata` file that starts as a pickle
    /// (judged by content, not by name).
    public static func looksLike(_ path: String) -> Bool {
        var st = stat()
        guard stat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR else { return false }
        guard let f = try? RandomAccessFile(path: path + "/" + DCPFileName.metadata), let head = try? f.bytes(at: 0, count: 2) else { return false }
        return head[0] == 0x80 && (2...5).contains(head[1])
    }

    /// Opens the checkpoint directory `path`.
    public init(path: String, limits: DCPLimits = DCPLimits()) throws(ContainerError) {
        var st = stat()
        guard stat(path, &st) == 0 else { throw .io(path: path, detail: "no such directory") }
        guard (st.st_mode & S_IFMT) == S_IFDIR else { throw .io(path: path, detail: "not a directory (a DCP checkpoint is a directory with .metadata)") }
        let mdPath = path + "/" + DCPFileName.metadata
        guard SmallFile.exists(mdPath) else {
            throw .malformed(path: path, detail: "no .metadata file: not a DCP checkpoint, or torch.distributed.checkpoint.save did not finish")
        }
        let md = try DCPMetadata.read(path: mdPath, limits: limits)
        var sizes: [String: Int] = [:]
        func where_(_ fqn: String) -> String { PrintableName.of(fqn) }
        for name in md.files {
            let p = path + "/" + name
            var fs = stat()
            guard stat(p, &fs) == 0, (fs.st_mode & S_IFMT) == S_IFREG else {
                let who =
                    md.tensors.first { $0.chunks.contains { $0.storage.relativePath == name } }?.fqn
                    ?? md.bytesItems.first { $0.storage.relativePath == name }?.fqn ?? ""
                let what = SmallFile.exists(p) ? "is not a regular file" : "is missing"
                throw .badTensor(path: p, tensor: where_(who), detail: "the data file holding its items (listed in .metadata) \(what)")
            }
            sizes[name] = Int(fs.st_size)
        }
        func checkRange(_ s: DCPStorageInfo, _ fqn: String, _ what: String) throws(ContainerError) {
            let size = sizes[s.relativePath] ?? 0
            guard s.offset <= size, s.length <= size - s.offset else {
                throw .badTensor(
                    path: path + "/" + s.relativePath, tensor: where_(fqn),
                    detail: "\(what) at bytes \(s.offset)..<\(s.offset + s.length) runs past the end of the \(size)-byte file (truncated?)")
            }
            guard s.transforms.isEmpty || s.transforms == ["stream.zstd/1"] else {
                throw .unsupported(
                    path: path + "/" + s.relativePath,
                    detail: "tensor \(where_(fqn)): stream transforms \(s.transforms) (ckpt decodes stream.zstd/1 only)")
            }
        }
        var tensors: [ContainerTensor] = [], unsupported: [String: String] = [:], index: [String: Int] = [:]
        for t in md.tensors {
            for c in t.chunks { try checkRange(c.storage, t.fqn, "its chunk \(c.box)") }
            guard let dtype = t.dtype else {
                unsupported[t.fqn] = t.torchDType
                continue
            }
            index[t.fqn] = tensors.count
            tensors.append(ContainerTensor(key: .model(t.fqn), dtype: dtype, shape: t.shape))
        }
        for b in md.bytesItems { try checkRange(b.storage, b.fqn, "its bytes item") }
        self.path = path
        self.metadata = md
        self.tensors = tensors
        self.unsupported = unsupported
        self.fileSizes = sizes
        self.limits = limits
        self.index = index
    }

    /// The tensor stored under `key` (`.model(fqn)`), or nil.
    public func describe(_ key: TensorKey) -> ContainerTensor? {
        guard key.isModel else { return nil }
        return index[key.name].map { tensors[$0] }
    }

    /// The metadata of the tensor `fqn` (chunks and their storage), or nil.
    public func entry(_ fqn: String) -> DCPTensorEntry? { metadata.tensor(named: fqn) }

    /// Copies `box` of tensor `key` into `buffer`.
    public func read(_ key: TensorKey, box: TensorBox, into buffer: UnsafeMutableRawBufferPointer) throws(ContainerError) {
        guard key.isModel, let t = metadata.tensor(named: key.name) else { throw .noSuchTensor(path: path, tensor: key.description) }
        try read(t, box: box, into: buffer)
    }

    /// Drops the cached open files and items (reads reopen them).
    public func releaseCachedItems() { cache.removeAll() }

    /// The path of data file `name`.
    func filePath(_ name: String) -> String { path + "/" + name }

    /// The data file `name`, opened (or taken from the cache).
    func dataFile(_ name: String) throws(ContainerError) -> RandomAccessFile {
        try cache.file(name) { () throws(ContainerError) -> RandomAccessFile in
            let f = try RandomAccessFile(path: self.filePath(name))
            guard f.size == self.fileSizes[name] else {
                throw .io(path: f.path, detail: "the file changed size since the checkpoint was opened (\(self.fileSizes[name] ?? 0) -> \(f.size) bytes)")
            }
            return f
        }
    }
}
