import CheckpointStore
import Containers

/// The optimizer settings a torchtitan checkpoint records: one bytes item per parameter and
/// setting, `optimizer.param_groups.<fqn>.<key>` (`lr`, `betas`, `eps`, `weight_decay`,
/// `amsgrad`, `maximize`, `decoupled_weight_decay`, `initial_lr`, ...), as torchtitan's
/// `get_flat_optim_state_dict` flattens `torch.optim` param groups by parameter.
struct TorchtitanParamGroups {
    /// The items' prefix.
    static let prefix = "optimizer.param_groups."
    /// Each parameter's settings, in the checkpoint's order.
    private(set) var settings: [(fqn: String, values: [(key: String, value: PickleValue)])] = []
    let path: String

    /// Reads every `optimizer.param_groups.*` bytes item of `store`.
    init(store: any DistCheckpointStore) throws(ContainerError) {
        path = store.path
        var index: [String: Int] = [:]
        for item in store.byteItemNames where item.hasPrefix(Self.prefix) {
            let rest = item.dropFirst(Self.prefix.count)
            guard let dot = rest.lastIndex(of: "."), dot > rest.startIndex else {
                throw .malformed(path: path, detail: "bytes item \(PrintableName.of(item)) names no parameter and setting")
            }
            let fqn = String(rest[..<dot]), key = String(rest[rest.index(after: dot)...])
            let value = try store.object(item).root
            if let i = index[fqn] {
                settings[i].values.append((key, value))
            } else {
                index[fqn] = settings.count
                settings.append((fqn, [(key, value)]))
            }
        }
    }

    /// The AdamW hyperparameters of every parameter in `ranks` (fqn → number of dimensions):
    /// they must agree, except that weight decay may be 0 on exactly the 1-D parameters
    /// (`decay: matrices`). `job` tells AdamW from Adam when the checkpoint does not
    /// (`decoupled_weight_decay` is recorded by torch >= 2.6) and gives the gradient clipping.
    func optimizerConfig(ranks: [String: Int], job: TorchtitanJobConfig) throws(ContainerError) -> OptimizerConfig? {
        var common: (lr: Double, b1: Double, b2: Double, eps: Double, fqn: String)?
        var decays: [(fqn: String, wd: Double, matrix: Bool)] = []
        var decoupled: Bool?
        for (fqn, values) in settings {
            guard let rank = ranks[fqn] else { continue }
            func value(_ key: String) -> PickleValue? { values.first { $0.key == key }?.value }
            func number(_ key: String) throws(ContainerError) -> Double {
                switch value(key) {
                case .float(let d)?: return d
                case .int(let i)?: return Double(i)
                case nil: throw .malformed(path: path, detail: "parameter \(PrintableName.of(fqn)): no optimizer setting '\(key)'")
                default: throw .unsupported(path: path, detail: "parameter \(PrintableName.of(fqn)): optimizer setting '\(key)' is not a number")
                }
            }
            for flag in ["amsgrad", "maximize"] where value(flag) == .bool(true) {
                throw .unsupported(path: path, detail: "parameter \(PrintableName.of(fqn)): \(flag)=True is not an AdamW variant ckpt has")
            }
            var betas: [PickleValue] = []
            switch value("betas") {
            case .tuple(let b)?, .list(let b)?: betas = b
            default: break
            }
            guard betas.count == 2, let b1 = betas[0].number, let b2 = betas[1].number else {
                throw .malformed(path: path, detail: "parameter \(PrintableName.of(fqn)): betas is not a pair of numbers")
            }
            let mine = (lr: try number("lr"), b1: b1, b2: b2, eps: try number("eps"), fqn: fqn)
            if let c = common, (c.lr, c.b1, c.b2, c.eps) != (mine.lr, mine.b1, mine.b2, mine.eps) {
                throw .unsupported(
                    path: path,
                    detail:
                        "parameters \(PrintableName.of(c.fqn)) and \(PrintableName.of(fqn)) have different lr/betas/eps; ckpt's optimizer metadata holds one setting"
                )
            }
            common = common ?? mine
            decays.append((fqn, try number("weight_decay"), rank >= 2))
            if case .bool(let d)? = value("decoupled_weight_decay") { decoupled = (decoupled ?? d) && d }
        }
        guard let c = common else { return nil }
        let matrices = decays.filter(\.matrix), vectors = decays.filter { !$0.matrix }
        let decay: String
        let wd: Double
        if Set(decays.map(\.wd)).count == 1 {
            (decay, wd) = ("all", decays[0].wd)
        } else if Set(matrices.map(\.wd)).count == 1, vectors.allSatisfy({ $0.wd == 0 }) {
            (decay, wd) = ("matrices", matrices[0].wd)
        } else {
            let a = decays[0], b = decays.first { $0.wd != a.wd }!
            throw .unsupported(
                path: path,
                detail:
                    "weight decay \(a.wd) on \(PrintableName.of(a.fqn)) but \(b.wd) on \(PrintableName.of(b.fqn)); ckpt decays all parameters or the matrices alike"
            )
        }
        if wd != 0 {
            let adamW = decoupled ?? (job.optimizerNames.isEmpty ? nil : job.optimizerNames.allSatisfy { $0 == "AdamW" })
            guard let adamW else {
                throw .unsupported(
                    path: path,
                    detail: "the checkpoint does not say whether its weight decay is decoupled (AdamW) or L2 (Adam); the job config names no optimizer")
            }
            guard adamW else {
                throw .unsupported(path: path, detail: "Adam with L2 weight decay \(wd) (decoupled_weight_decay False): ckpt's AdamW variants decay decoupled")
            }
        }
        return OptimizerConfig(variant: "torch", lr: c.lr, beta1: c.b1, beta2: c.b2, eps: c.eps, weightDecay: wd, gradClip: job.maxNorm ?? 0, decay: decay)
    }

    /// The settings as JSON: one object per distinct group of settings, with the parameters
    /// that share it (`params`), as `torch.optim` param groups are.
    func json() throws(ContainerError) -> JSONTree {
        var groups: [(values: [(String, JSONTree)], params: [String])] = []
        var dropped: [String] = []
        for (fqn, values) in settings {
            var members: [(String, JSONTree)] = []
            for (k, v) in values { members.append((k, try PickleJSON.encode(v, tensorBytes: { _ in nil }, dropped: &dropped))) }
            if let i = groups.firstIndex(where: { JSONTree.object($0.values) == JSONTree.object(members) }) {
                groups[i].params.append(fqn)
            } else {
                groups.append((members, [fqn]))
            }
        }
        return .array(groups.map { .object([("params", .array($0.params.map { .string($0) }))] + $0.values) })
    }
}

extension PickleValue {
    /// A float or an int as a Double, else nil.
    fileprivate var number: Double? {
        switch self {
        case .float(let d): return d
        case .int(let i): return Double(i)
        default: return nil
        }
    }
}
