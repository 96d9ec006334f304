import CheckpointStore

/// One leaf of the state dict a cstorch `.mdl` file holds, as its per-leaf metadata
/// (`<key>.__metadata__`) describes it.
public struct CerebrasLeaf: Sendable, Equatable {
    /// What the leaf is.
    public enum Kind: Sendable, Equatable {
        /// A tensor (`TorchTensorSerializer`) or numpy array (`NumpyArraySerializer`) stored as
        /// the dataset `dataset`: its logical dtype (bf16 is stored as int16) and shape.
        case tensor(dtype: DType, shape: [Int], dataset: String, numpy: Bool)
        /// A Python `bool`, `int` or `float` (`ScalarSerializer`): metadata only, no dataset.
        case scalar(JSONValue)
        /// A Python `str` (`StringSerializer`): metadata only.
        case string(String)
        /// `None`.
        case none
        /// The same object as the leaf `key` (`LinkedObject`: cstorch saves a value reachable
        /// twice once, by `id()`, and re-ties it on load).
        case linked(String)
        /// Any other Python object, dill-pickled into the dataset's `__BYTES__` attribute
        /// (`ObjectSerializer`); ckpt keeps the bytes and never unpickles them.
        case object(dataset: String)
    }

    /// The flattened key (`model.model.ln_f.weight`, `optimizer.state.3.exp_avg`, `global_step`).
    public var key: String
    /// What it is.
    public var kind: Kind

    /// Creates a leaf.
    public init(key: String, kind: Kind) {
        self.key = key
        self.kind = kind
    }

    /// The tensor's dtype and shape, for tensor leaves.
    public var tensor: (dtype: DType, shape: [Int])? {
        if case .tensor(let d, let s, _, _) = kind { return (d, s) }
        return nil
    }
}
