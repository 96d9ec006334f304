import CheckpointStore
import Containers
import Foundation

/// The state dict Model Zoo's trainer would save for a checkpoint that did not come from a
/// `.mdl` file: `{"model": OrderedDict(Model Zoo names, state_dict order), "optimizer":
/// {"state": {i: {"exp_avg", "exp_avg_sq", ["master"], "beta1_power", "beta2_power"}},
/// "param_groups": [decayed, not decayed]} (cstorch's AdamW), "global_step", "__metadata__":
/// [{"version", "model_name", "params"}]}`.
enum CerebrasStateDictBuilder {
    /// The state dict for `manifest`, numbered by `order`; hyperparameters from `optimizer`.
    static func build(
        config: ModelConfig, manifest: [ContainerTensor], step: Int64, optimizer: OptimizerConfig?, order: ParameterOrder.Expanded
    ) throws(ShardingError) -> CerebrasStateDict {
        typealias N = CerebrasStateDict.Node
        let keys = Set(manifest.map(\.key))
        var model: [(String, N)] = []
        for n in order.stateDict where keys.contains(.model(n)) { model.append((n, .leaf(.tensor(.model(n))))) }
        if model.count != manifest.filter({ $0.key.isModel }).count {
            throw .layoutMismatch("the cerebras state dict order does not place every model tensor of the conversion")
        }
        var root: [(String, N)] = [("model", .dict(model, ordered: true))]
        let sections = Array(Set(manifest.compactMap(\.key.optimizerState))).sorted { a, b in
            let rank = ["exp_avg": 0, "exp_avg_sq": 1]
            return (rank[a] ?? 2, a) < (rank[b] ?? 2, b)
        }
        let o = optimizer ?? OptimizerConfig()
        if !sections.isEmpty {
            let b1 = Float(o.beta1), b2 = Float(o.beta2)
            // cstorch's AdamW starts beta^1 and multiplies in float32 after every step.
            var p1 = b1, p2 = b2
            for _ in 0..<min(max(step, 0), 100_000_000) {
                p1 *= b1
                p2 *= b2
            }
            func scalar(_ f: Float) -> N { .leaf(.data(dtype: .float32, shape: [], bytes: withUnsafeBytes(of: f.bitPattern.littleEndian) { Array($0) })) }
            var state: [(Int, N)] = []
            for (i, n) in order.grouped.enumerated() {
                var s: [(String, N)] = []
                for sec in sections where keys.contains(.optimizer(sec, n)) { s.append((sec, .leaf(.tensor(.optimizer(sec, n))))) }
                if s.isEmpty { continue }
                s.append(("beta1_power", scalar(p1)))
                s.append(("beta2_power", scalar(p2)))
                state.append((i, .dict(s)))
            }
            func group(_ first: Int, _ count: Int, _ wd: Double) -> N {
                func d(_ x: Double) -> N { .leaf(.scalar(JSONValue.double(x) ?? .int(0))) }
                return .dict([
                    ("weight_decay", d(wd)), ("lr", d(o.lr)), ("betas", .list([d(o.beta1), d(o.beta2)], tuple: true)), ("eps", d(o.eps)),
                    ("l2_regularization_rate", d(0)), ("correct_bias", .leaf(.scalar(.bool(true)))), ("amsgrad", .leaf(.scalar(.bool(false)))),
                    ("params", .list((first..<(first + count)).map { .leaf(.scalar(.int($0))) }, tuple: false)),
                ])
            }
            let groups: [N] = [group(0, order.decayed.count, o.weightDecay), group(order.decayed.count, order.plain.count, 0)]
            root.append(("optimizer", .dict([("state", .intDict(state)), ("param_groups", .list(groups, tuple: false))])))
        }
        root.append(("global_step", .leaf(.scalar(.int(Int(step))))))
        func d(_ x: Double) -> N { .leaf(.scalar(JSONValue.double(x) ?? .int(0))) }
        let adam: N = .dict([
            ("betas", .list([d(o.beta1), d(o.beta2)], tuple: false)), ("eps", d(o.eps)), ("weight_decay", d(o.weightDecay)),
            ("correct_bias", .leaf(.scalar(.bool(true)))),
        ])
        let params: N = .dict([("trainer", .dict([("init", .dict([("model", CerebrasModelParams.params(config)), ("optimizer", .dict([("AdamW", adam)]))]))]))])
        let meta: N = .dict([
            ("version", .leaf(.string("2.10.0"))), ("model_name", .leaf(.string(CerebrasModelParams.modelNames[config.family] ?? config.family))),
            ("params", params),
        ])
        root.append(("__metadata__", .list([meta], tuple: false)))
        return CerebrasStateDict(root: .dict(root))
    }
}
