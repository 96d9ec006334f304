import CheckpointStore
import Containers

/// Everything that can go wrong while planning or running a conversion. Each message is one line
/// naming the file (rank) and tensor involved.
public enum ShardingError: Error, CustomStringConvertible, Sendable, Equatable {
    /// A layout data file does not parse.
    case badLayoutData(source: String, detail: String)
    /// No layout data for this layout kind.
    case unknownLayout(String)
    /// The layout has no rules for this model family.
    case unknownFamily(family: String, layout: String, known: [String])
    /// The layout cannot hold this model in a form its readers compute as ckpt does (a model
    /// family or a `model_config` setting the target's library does not implement).
    case cannotExpress(layout: String, family: String, reason: String)
    /// The layout rules and the model's tensors do not fit together.
    case layoutMismatch(String)
    /// The model configuration is inconsistent.
    case invalidModelConfig(String)
    /// A parallel size is not usable.
    case invalidParallelism(String)
    /// TP does not divide a dimension that tensor parallelism splits.
    case tensorParallelDoesNotDivide(what: String, value: Int, tp: Int)
    /// PP does not divide the number of layers.
    case pipelineParallelDoesNotDivideLayers(layers: Int, pp: Int)
    /// The source is neither a checkpoint file nor a Megatron checkpoint directory.
    case notACheckpoint(path: String, detail: String)
    /// A rank file the layout requires is absent.
    case missingRank(path: String, rank: String)
    /// A file exists that the layout does not have (a rank beyond TP x PP).
    case unexpectedRank(path: String)
    /// A source file carries no model configuration.
    case missingModelConfig(path: String)
    /// Rank files disagree on a metadata field (step, model_config, optimizer, layout).
    case ranksDisagree(path: String, field: String, detail: String)
    /// A rank file's layout JSON does not describe the rank it is stored as.
    case badRankLayout(path: String, detail: String)
    /// A tensor the layout requires is missing from a source file.
    case missingTensor(path: String, tensor: String)
    /// A source file holds a tensor the layout does not describe.
    case unexpectedTensor(path: String, tensor: String)
    /// A local tensor's shape contradicts the layout.
    case wrongShape(path: String, tensor: String, expected: [Int], actual: [Int])
    /// Pieces of one output tensor come in different dtypes.
    case dtypeMismatch(path: String, tensor: String, expected: String, actual: String)
    /// A replicated tensor differs from its rank-0 (primary) copy.
    case divergentReplica(path: String, tensor: String, reference: String, maxAbsDifference: Double)
    /// The requested target layout cannot shard the model (a usage error: `reason` says why).
    indirect case unusableTarget(layout: String, reason: ShardingError)
    /// The output already exists.
    case outputExists(path: String)
    /// A file-system operation failed.
    case io(path: String, detail: String)
    /// The checkpoint store reported an error.
    case store(StoreError)
    /// A tensor container (safetensors, `torch.save`, ...) reported an error.
    case container(ContainerError)
    /// Two stored tensors of one source file are read as the same layout tensor (a name and its
    /// alias spelling both present).
    case duplicateTensor(path: String, tensor: String, other: String)
    /// No target format writes this layout in this container format.
    case noTargetFormat(layout: String, container: String, known: [String])
    /// A source format needs something the command line must give (a torchtitan checkpoint's
    /// job config: its tensors do not record the architecture).
    case needsInput(path: String, detail: String)

    /// One line naming what went wrong and where.
    public var description: String {
        switch self {
        case .badLayoutData(let s, let d): return "\(s): layout data does not parse: \(d)"
        case .unknownLayout(let k): return "no layout rules for layout kind '\(k)'"
        case .unknownFamily(let f, let l, let known):
            return "the \(l) layout has no rules for model family '\(f)' (known: \(known.joined(separator: ", ")))"
        case .cannotExpress(let l, let f, let r): return "the \(l) layout cannot express this \(f) model: \(r)"
        case .layoutMismatch(let d): return "layout rules do not fit the model: \(d)"
        case .invalidModelConfig(let d): return "invalid model_config: \(d)"
        case .invalidParallelism(let d): return d
        case .tensorParallelDoesNotDivide(let what, let value, let tp):
            return "tensor-parallel size \(tp) does not divide the \(what) (\(value))"
        case .pipelineParallelDoesNotDivideLayers(let layers, let pp):
            return "pipeline-parallel size \(pp) does not divide the number of layers (\(layers))"
        case .notACheckpoint(let p, let d): return "\(p): not a checkpoint: \(d)"
        case .missingRank(let p, let r): return "\(p): missing rank file for rank \(r)"
        case .unexpectedRank(let p): return "\(p): rank directory outside the checkpoint's TP x PP grid"
        case .missingModelConfig(let p): return "\(p): no model_config attribute; cannot shard without the architecture"
        case .ranksDisagree(let p, let f, let d): return "\(p): \(f) disagrees with rank tp0/pp0: \(d)"
        case .badRankLayout(let p, let d): return "\(p): layout attribute does not match the rank: \(d)"
        case .missingTensor(let p, let t): return "\(p): missing tensor \(t)"
        case .unexpectedTensor(let p, let t): return "\(p): tensor \(t) is not part of the layout"
        case .wrongShape(let p, let t, let e, let a): return "\(p): tensor \(t) has local shape \(a), layout requires \(e)"
        case .dtypeMismatch(let p, let t, let e, let a): return "\(p): tensor \(t) is \(a) but other pieces are \(e)"
        case .divergentReplica(let p, let t, let r, let d):
            return "\(p): replicated tensor \(t) differs from \(r) (max |difference| \(d)); use --allow-divergent-replicas to take rank 0"
        case .unusableTarget(let l, let r): return "target layout \(l) cannot shard this model: \(r.description)"
        case .outputExists(let p): return "\(p): output already exists"
        case .io(let p, let d): return "\(p): \(d)"
        case .store(let e): return e.description
        case .container(let e): return e.description
        case .duplicateTensor(let p, let t, let o): return "\(p): tensors \(o) and \(t) are the same tensor under two spellings"
        case .needsInput(let p, let d): return "\(p): \(d)"
        case .noTargetFormat(let l, let c, let known):
            return "no writer for layout \(l) in container format '\(c)' (known: \(known.joined(separator: ", ")))"
        }
    }

    /// Whether this is a validation failure of the input (exit code 1) rather than a usage or
    /// I/O problem (exit code 2).
    public var isValidationFailure: Bool {
        switch self {
        case .notACheckpoint, .outputExists, .io, .store, .badLayoutData, .unknownLayout, .invalidParallelism, .unusableTarget,
            .noTargetFormat, .cannotExpress, .needsInput:
            return false
        case .container(let e):
            if case .io = e { return false }
            return true
        default: return true
        }
    }
}

extension ShardingError {
    /// A container error as a sharding error; errors of ckpt's own HDF5 store keep their
    /// `store` form (and message).
    public static func from(_ error: ContainerError) -> ShardingError {
        if case .store(let e) = error { return .store(e) }
        return .container(error)
    }
}
