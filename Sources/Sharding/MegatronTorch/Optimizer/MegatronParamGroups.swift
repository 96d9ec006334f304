import CheckpointStore

/// The parameter groups megatron-core 0.16.1 gives its optimizer, and so the integer indices of
/// the non-distributed optimizer's `state` and the lists of `fp32_from_fp16_params`.
///
/// `megatron.training` passes `get_standard_config_overrides`: parameters that are 1-D or
/// named `*.bias` get `wd_mult = 0`, the others no override. `_get_param_groups` keys groups by
/// their override and sorts the keys with "no override" first, so group 0 holds the decayed
/// parameters (`wd_mult` 1) and group 1 the others (`wd_mult` 0), each in `named_parameters()`
/// order (module-registration order). `torch.optim.Optimizer.state_dict()` numbers the
/// parameters group after group from 0. `Float16OptimizerWithFloat16Params` lists, per group,
/// the fp32 masters of the group's bfloat16/float16 parameters in the same order.
public struct MegatronParamGroups: Sendable, Hashable {
    /// A trainable parameter, in registration order.
    public struct Param: Sendable, Hashable {
        /// Local-spec name.
        public var name: String
        /// Shape.
        public var shape: [Int]
        /// dtype.
        public var dtype: DType

        /// Creates a parameter.
        public init(name: String, shape: [Int], dtype: DType) {
            self.name = name
            self.shape = shape
            self.dtype = dtype
        }
    }

    /// The groups in order; each a list of parameters in group order.
    public let groups: [[Param]]
    /// `wd_mult` of each group.
    public let weightDecayMultipliers: [Double]

    /// Groups `params` (registration order).
    public init(params: [Param]) {
        var decayed: [Param] = []
        var plain: [Param] = []
        for p in params {
            if Self.skipsWeightDecay(p) { plain.append(p) } else { decayed.append(p) }
        }
        groups = [decayed, plain]
        weightDecayMultipliers = [1, 0]
    }

    /// megatron-core's default rule: 1-D parameters and biases get no weight decay.
    public static func skipsWeightDecay(_ p: Param) -> Bool {
        p.shape.count == 1 || p.name.hasSuffix(".bias")
    }

    /// The optimizer-state index of every parameter.
    public var indices: [String: Int] {
        var out: [String: Int] = [:]
        var i = 0
        for g in groups {
            for p in g {
                out[p.name] = i
                i += 1
            }
        }
        return out
    }

    /// The index lists of each group (`param_groups[g]["params"]`).
    public var indexLists: [[Int]] {
        var out: [[Int]] = []
        var i = 0
        for g in groups {
            out.append(Array(i..<(i + g.count)))
            i += g.count
        }
        return out
    }

    /// The parameters of each group that have fp32 masters (bfloat16 and float16), in order.
    public var masterLists: [[Param]] {
        groups.map { $0.filter { $0.dtype == .bfloat16 || $0.dtype == .float16 } }
    }
}
