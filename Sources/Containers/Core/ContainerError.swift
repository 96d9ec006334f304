import CheckpointStore

/// Every way reading or writing a tensor container can fail, each with a one-line message that
/// names the file and, where one is involved, the tensor.
public enum ContainerError: Error, CustomStringConvertible, Sendable, Equatable {
    /// An operating-system call failed (open, read, write, rename ...).
    case io(path: String, detail: String)
    /// The bytes do not follow the format (bad header, truncated archive, lying offsets ...).
    case malformed(path: String, detail: String)
    /// The file asks for something ckpt never does (a pickle calling `os.system`, a global
    /// outside the allow-list where a value is required). Nothing was executed.
    case refused(path: String, detail: String)
    /// A valid file using a feature ckpt does not read (compressed zip entries, an old
    /// optimizer layout ...); the detail names the feature.
    case unsupported(path: String, detail: String)
    /// The tensor is not in the container.
    case noSuchTensor(path: String, tensor: String)
    /// A tensor's recorded size, dtype or storage is inconsistent, or a box falls outside it.
    case badTensor(path: String, tensor: String, detail: String)
    /// An error of ckpt's own HDF5 store.
    case store(StoreError)

    /// A one-line, user-actionable message.
    public var description: String {
        switch self {
        case .io(let p, let d): return "\(p): \(d)"
        case .malformed(let p, let d): return "\(p): malformed file (\(d))"
        case .refused(let p, let d): return "\(p): refused (\(d)); nothing in the file was executed"
        case .unsupported(let p, let d): return "\(p): not supported: \(d)"
        case .noSuchTensor(let p, let t): return "\(p): tensor \(t): not found"
        case .badTensor(let p, let t, let d): return "\(p): tensor \(t): \(d)"
        case .store(let e): return e.description
        }
    }

    /// The file the error is about.
    public var path: String? {
        switch self {
        case .io(let p, _), .malformed(let p, _), .refused(let p, _), .unsupported(let p, _),
            .noSuchTensor(let p, _), .badTensor(let p, _, _):
            return p
        case .store(let e): return e.path
        }
    }
}
