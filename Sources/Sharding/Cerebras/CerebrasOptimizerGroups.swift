import CheckpointStore
import Containers

/// The `param_groups` of a `.mdl` file's optimizer (`optimizer.param_groups.<g>.*` leaves): each
/// group's parameter indices and hyperparameters, and from them which parameter each state index
/// is (`names(for:)`).
struct CerebrasOptimizerGroups {
    /// One group.
    struct Group {
        var params: [Int] = []
        var values: [String: JSONValue] = [:]
    }

    /// The groups in order (empty when the file holds no optimizer).
    var groups: [Group] = []

    /// Reads the groups of `file`.
    init(_ file: CerebrasMDLFile) throws(ShardingError) {
        var byIndex: [Int: Group] = [:]
        let prefix = "optimizer.param_groups."
        for l in file.leaves where l.key.hasPrefix(prefix) {
            let rest = l.key.dropFirst(prefix.count).split(separator: ".", maxSplits: 1).map(String.init)
            guard rest.count == 2, let g = Int(rest[0]) else { continue }
            var leaf = l
            if case .linked(let t) = l.kind, let target = file.leaf(t) { leaf = target }
            let v: JSONValue
            switch leaf.kind {
            case .scalar(let x): v = x
            case .tensor(let d, let shape, _, _) where shape.isEmpty && (d == .float32 || d == .float64):
                // A scheduler turns lr into a 0-d tensor.
                guard let bytes = try? file.readLeaf(leaf), let x = Self.number(bytes, d).flatMap(JSONValue.double) else { continue }
                v = x
            default: continue
            }
            if rest[1].hasPrefix("params.") {
                guard let i = v.intValue, i >= 0 else { throw .notACheckpoint(path: file.path, detail: "\(l.key) is not a parameter index") }
                byIndex[g, default: Group()].params.append(i)
            } else {
                byIndex[g, default: Group()].values[rest[1]] = v
            }
        }
        groups = byIndex.keys.sorted().map { byIndex[$0]! }
    }

    private static func number(_ b: [UInt8], _ d: DType) -> Double? {
        var bits: UInt64 = 0
        for (k, x) in b.enumerated() { bits |= UInt64(x) << (8 * UInt64(k)) }
        switch (d, b.count) {
        case (.float32, 4): return Double(Float(bitPattern: UInt32(bits)))
        case (.float64, 8): return Double(bitPattern: bits)
        default: return nil
        }
    }

    /// The parameter name of each state index: Model Zoo's two groups (decayed, then the others),
    /// or one group over the parameters in registration order. The error says how the file's
    /// groups differ from both.
    func names(for order: ParameterOrder.Expanded, path: String) throws(ShardingError) -> [String] {
        let sizes = groups.map(\.params.count)
        let total = sizes.reduce(0, +)
        let flat = groups.flatMap(\.params)
        guard flat == Array(0..<total) else {
            throw .notACheckpoint(path: path, detail: "optimizer param_groups do not number the parameters 0, 1, 2, ... group after group")
        }
        if sizes == [order.decayed.count, order.plain.count] { return order.grouped }
        if sizes == [order.parameters.count] { return order.parameters }
        throw .notACheckpoint(
            path: path,
            detail:
                "optimizer param_groups hold \(sizes) parameters; Model Zoo's grouping of this model gives [\(order.decayed.count), \(order.plain.count)] (weight decay, none) or [\(order.parameters.count)] (one group): custom parameter groups are not supported"
        )
    }

    /// The hyperparameters of group 0 as ckpt's optimizer config (cstorch's AdamW: decoupled
    /// weight decay inside the learning rate; its ε enters before the bias correction of v, see
    /// formats/cerebras-mdl.md).
    var optimizerConfig: OptimizerConfig? {
        guard let g = groups.first, let lr = g.values["lr"]?.doubleValue else { return nil }
        var c = OptimizerConfig(variant: "decoupled", lr: lr, gradClip: 0, decay: groups.count == 2 ? "matrices" : "all")
        if let b1 = g.values["betas.0"]?.doubleValue { c.beta1 = b1 }
        if let b2 = g.values["betas.1"]?.doubleValue { c.beta2 = b2 }
        if let e = g.values["eps"]?.doubleValue { c.eps = e }
        c.weightDecay = g.values["weight_decay"]?.doubleValue ?? 0
        return c
    }
}
