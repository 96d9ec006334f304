import CheckpointStore
import Containers

/// Every way a reference step or a step verification can fail to run, each with a one-line
/// message that names the file and, where one is involved, the tensor.
public enum ReferenceError: Error, CustomStringConvertible, Sendable, Equatable {
    /// Reading or writing a checkpoint failed.
    case store(StoreError)
    /// Reading a tensor through a container (a foreign format or an assembling view) failed.
    case container(ContainerError)
    /// The checkpoint lacks metadata the step needs (`model_config`, `optimizer`).
    case missingMetadata(path: String, what: String)
    /// The model configuration is outside what the reference core computes.
    case unsupportedModel(path: String, detail: String)
    /// A parameter or optimizer tensor the step needs is absent.
    case missingTensor(path: String, tensor: String)
    /// A tensor's shape differs from the one `model_config` implies.
    case shapeMismatch(path: String, tensor: String, expected: [Int], found: [Int])
    /// The batch file is malformed (missing dataset, wrong rank or type, shapes differ).
    case badBatch(path: String, detail: String)
    /// A token id is outside the vocabulary (targets may also be -1, ignored).
    case tokenOutOfRange(path: String, tensor: String, index: Int, value: Int32, vocab: Int)
    /// Every target is -1, so the mean loss is undefined.
    case noTargets(path: String)
    /// An HDF5 call on a batch file failed.
    case hdf5(path: String, operation: String)
    /// A caller-supplied option is invalid.
    case invalidArgument(String)
    /// The checkpoint's step is the largest Int64, so no step can follow it.
    case stepOverflow(path: String, step: Int64)

    /// A one-line, user-actionable message.
    public var description: String {
        switch self {
        case .store(let e): return e.description
        case .container(let e): return e.description
        case .missingMetadata(let p, let w): return "\(p): no '\(w)' metadata; the reference step needs it"
        case .unsupportedModel(let p, let d): return "\(p): model not supported by the reference core (\(d))"
        case .missingTensor(let p, let t): return "\(p): tensor \(t): not found"
        case .shapeMismatch(let p, let t, let e, let f):
            return "\(p): tensor \(t): shape \(f) does not match model_config (expected \(e))"
        case .badBatch(let p, let d): return "\(p): bad batch file (\(d))"
        case .tokenOutOfRange(let p, let t, let i, let v, let vocab):
            return "\(p): \(t)[\(i)] = \(v) is outside the vocabulary 0..<\(vocab)"
        case .noTargets(let p): return "\(p): every target is -1; the loss is undefined"
        case .hdf5(let p, let op): return "\(p): HDF5 \(op) failed"
        case .invalidArgument(let m): return m
        case .stepOverflow(let p, let step): return "\(p): step \(step) is the largest representable step; no step can follow it"
        }
    }
}
