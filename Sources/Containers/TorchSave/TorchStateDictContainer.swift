import CheckpointStore

/// A `torch.save(model.state_dict())` file (`pytorch_model.bin`): a flat dict of name → tensor,
/// listed as `.model(name)` keys in the dict's order.
///
/// Every tensor is checked against its storage at open, so a storage shorter than its tensor is
/// an error naming the tensor before anything is read. Entries that are not tensors are listed
/// in `skipped`; tensors of dtypes ckpt has no equivalent for (`float8_e4m3fn`, `uint16` ...)
/// in `unsupported`, and reading one fails with a one-line error.
public final class TorchStateDictContainer: TensorContainer {
    /// The archive underneath.
    public let archive: TorchArchive
    /// The file.
    public var path: String { archive.path }
    /// `torch`.
    public var formatName: String { "torch" }
    /// Every readable tensor, in the dict's order.
    public let tensors: [ContainerTensor]
    /// `torch.save` stores no checksums ckpt checks.
    public var verifiesChecksums: Bool { false }
    /// Keys of entries that are not tensors (with non-string keys printed), in order.
    public let skipped: [String]
    /// Tensors whose dtype ckpt cannot hold: name → torch dtype name.
    public let unsupported: [String: String]
    private let refs: [TensorKey: TorchTensorRef]
    private let index: [TensorKey: Int]

    /// Opens the file at `path`.
    public convenience init(path: String, limits: PickleLimits = PickleLimits()) throws(ContainerError) {
        try self.init(archive: try TorchArchive(path: path, limits: limits))
    }

    /// Lists the state dict of an open archive; its root must be a dict.
    public init(archive: TorchArchive) throws(ContainerError) {
        guard case .dict(let entries) = archive.root else {
            throw .malformed(path: archive.path, detail: "the pickle's root is not a dict of tensors (a state_dict)")
        }
        var tensors: [ContainerTensor] = [], skipped: [String] = [], unsupported: [String: String] = [:]
        var refs: [TensorKey: TorchTensorRef] = [:], index: [TensorKey: Int] = [:]
        for e in entries {
            guard case .string(let name) = e.key, case .tensor(let t) = e.value else {
                skipped.append(e.key.stringValue ?? "\(e.key)")
                continue
            }
            try archive.check(t, name: name)
            guard let dtype = TorchDTypeName.dtype(t.dtypeName) else {
                unsupported[name] = t.dtypeName
                continue
            }
            let key = TensorKey.model(name)
            index[key] = tensors.count
            tensors.append(ContainerTensor(key: key, dtype: dtype, shape: t.shape))
            refs[key] = t
        }
        self.archive = archive
        self.tensors = tensors
        self.skipped = skipped
        self.unsupported = unsupported
        self.refs = refs
        self.index = index
    }

    /// The tensor stored under `key`, or nil.
    public func describe(_ key: TensorKey) -> ContainerTensor? {
        index[key].map { tensors[$0] }
    }

    /// The archive's reference of the tensor stored under `key` (storage, offset, strides), or nil.
    public func reference(_ key: TensorKey) -> TorchTensorRef? { refs[key] }

    /// Copies `box` of tensor `key` into `buffer`.
    public func read(_ key: TensorKey, box: TensorBox, into buffer: UnsafeMutableRawBufferPointer) throws(ContainerError) {
        guard let t = refs[key] else {
            if key.isModel, let d = unsupported[key.name] {
                throw .badTensor(path: path, tensor: key.name, detail: "dtype \(d) has no ckpt equivalent; it cannot be read")
            }
            throw .noSuchTensor(path: path, tensor: key.description)
        }
        try archive.read(t, box: box, into: buffer, name: key.name)
    }
}
