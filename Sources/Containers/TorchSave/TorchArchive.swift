import CheckpointStore

/// A `torch.save` archive (the zip format of torch ≥ 1.6): its pickle decoded by ckpt's
/// restricted reader into `root`, its tensors read from the storage records on demand.
///
/// Opening reads the central directory and `<prefix>/data.pkl` only; tensor bytes are read with
/// `pread` of just the range a box needs, so memory stays bounded whatever the file's size. The
/// prefix is taken from the first entry, as torch does. Safe to read from several threads.
public final class TorchArchive: Sendable {
    /// The file, for messages.
    public let path: String
    /// The directory every record sits under (the file stem when torch saved to a path,
    /// `archive` for buffers).
    public let prefix: String
    /// The decoded pickle.
    public let root: PickleValue
    /// The zip archive underneath.
    public let zip: ZipArchive

    /// Opens the archive at `path`.
    public convenience init(path: String, limits: PickleLimits = PickleLimits()) throws(ContainerError) {
        try self.init(zip: try ZipArchive(path: path), limits: limits)
    }

    /// Reads the `torch.save` archive `zip` (a whole file, or an item inside a larger one).
    public init(zip: ZipArchive, limits: PickleLimits = PickleLimits()) throws(ContainerError) {
        let path = zip.path
        guard !zip.prefix.isEmpty else {
            throw .malformed(path: path, detail: "not a torch.save archive: its first entry \(zip.entries.first?.name ?? "(none)") is not in a directory")
        }
        let prefix = zip.prefix
        let pickleName = prefix + "/data.pkl"
        guard let pickleEntry = zip.entry(named: pickleName) else {
            if zip.entry(named: prefix + "/constants.pkl") != nil || zip.entry(named: prefix + "/code/") != nil {
                throw .unsupported(path: path, detail: "a TorchScript archive (torch.jit.save), not a torch.save checkpoint")
            }
            throw .malformed(path: path, detail: "not a torch.save archive: no \(pickleName) record")
        }
        if let order = zip.entry(named: prefix + "/byteorder") {
            let text = try zip.contents(of: order, limit: 64)
            switch text {
            case Array("little".utf8): break
            case Array("big".utf8): throw .unsupported(path: path, detail: "a big-endian torch.save archive (byteorder record says 'big')")
            default: throw .malformed(path: path, detail: "byteorder record is \(String(decoding: text, as: UTF8.self).debugDescription)")
            }
        }
        let bytes = try zip.contents(of: pickleEntry, limit: limits.maxPickleBytes)
        self.root = try PickleReader.decode(bytes, path: path, entry: pickleName, limits: limits)
        self.path = path
        self.prefix = prefix
        self.zip = zip
    }

    /// The record holding a storage's bytes, checked: present, STORED, and exactly as long as
    /// the persistent id says.
    public func storageEntry(_ s: TorchStorageRef, tensor name: String) throws(ContainerError) -> ZipEntry {
        let recordName = prefix + "/data/" + s.key
        guard let e = zip.entry(named: recordName) else {
            throw .badTensor(path: path, tensor: name, detail: "its storage record \(recordName) is missing")
        }
        if let reason = e.unreadableReason { throw .unsupported(path: path, detail: "tensor \(name): \(reason)") }
        let bytes = try TorchTensorBounds.storageBytes(s, path: path, name: name)
        guard e.size == bytes else {
            throw .badTensor(
                path: path, tensor: name,
                detail:
                    "storage record \(recordName) holds \(e.size) bytes, its persistent id says \(s.count) \(s.isUntyped ? "bytes" : "\(s.dtypeName) elements") (\(bytes) bytes)"
            )
        }
        return e
    }

    /// Checks `tensor` against the archive: its storage record exists, is STORED and as long as
    /// recorded, and every element the tensor's offset, shape and strides address lies inside it
    /// (negative strides are refused). `name` names the tensor in the error.
    public func check(_ tensor: TorchTensorRef, name: String) throws(ContainerError) {
        _ = try storageEntry(tensor.storage, tensor: name)
        _ = try TorchTensorBounds.check(tensor, path: path, name: name)
    }

    /// Copies the elements of `box` of `tensor` into `buffer` (exactly `box.count` elements of
    /// its dtype, row-major over the box, little-endian). Views with offsets and non-contiguous
    /// strides are gathered; only the byte range the box reaches is read, in pieces of at most
    /// 16 MiB. `name` names the tensor in errors.
    public func read(_ tensor: TorchTensorRef, box: TensorBox, into buffer: UnsafeMutableRawBufferPointer, name: String) throws(ContainerError) {
        guard let dtype = TorchDTypeName.dtype(tensor.dtypeName) else {
            throw .badTensor(path: path, tensor: name, detail: "dtype \(tensor.dtypeName) has no ckpt equivalent; it cannot be read")
        }
        let entry = try storageEntry(tensor.storage, tensor: name)
        _ = try TorchTensorBounds.check(tensor, path: path, name: name)
        guard box.fits(tensor.shape) else {
            throw .badTensor(path: path, tensor: name, detail: "box \(box) lies outside the shape \(tensor.shape)")
        }
        let (bytes, o) = box.count.multipliedReportingOverflow(by: dtype.size)
        guard !o, buffer.count >= bytes else {
            throw .badTensor(path: path, tensor: name, detail: "a buffer of \(buffer.count) bytes for a box of \(box.count) \(dtype.rawValue) elements")
        }
        guard bytes > 0, let out = buffer.baseAddress else { return }
        try TorchRegionReader(zip: zip, entry: entry, elementSize: dtype.size, strides: tensor.strides)
            .read(offset: tensor.storageOffset, box: box, into: out)
    }
}
