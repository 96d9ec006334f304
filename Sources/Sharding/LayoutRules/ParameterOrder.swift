import CheckpointStore

/// How a layout's optimizer numbers the parameters (`LayoutRuleSet.optimizer`): the stored names
/// of every tensor of the state dict in module-registration order (`state_dict()` order; a run
/// of templates with `{i}` repeats for each layer), and which of them get no weight decay.
///
/// Copies (`LayoutRule.copy`: a tied head, Model Zoo's `transformer_decoder.norm` alias of
/// `ln_f`) are in the state dict but not among the parameters: `named_parameters()` skips a
/// parameter it has seen. torch's `Optimizer.state_dict()` numbers the parameters group after
/// group; Model Zoo's trainer (`configure_param_groups`) builds two groups, the decayed
/// parameters then the others, each in registration order; an optimizer over
/// `model.parameters()` has one group in registration order.
public struct ParameterOrder: Codable, Sendable, Hashable {
    /// A human-readable summary.
    public var description: String?
    /// Stored-name templates in registration order.
    public var parameters: [String]
    /// Patterns (`*`, `{i}`) of parameters without weight decay.
    public var noWeightDecay: [String]

    enum CodingKeys: String, CodingKey {
        case description, parameters
        case noWeightDecay = "no_weight_decay"
    }

    /// Creates an order.
    public init(description: String? = nil, parameters: [String], noWeightDecay: [String]) {
        self.description = description
        self.parameters = parameters
        self.noWeightDecay = noWeightDecay
    }

    /// The expanded order for a layout map of `layers` layers.
    public struct Expanded: Sendable, Hashable {
        /// Every stored tensor, state-dict order.
        public var stateDict: [String]
        /// The parameters (copies left out), registration order.
        public var parameters: [String]
        /// The parameters with weight decay, in order (Model Zoo's group 0).
        public var decayed: [String]
        /// The parameters without weight decay, in order (group 1).
        public var plain: [String]

        /// The optimizer's index order with Model Zoo's two groups.
        public var grouped: [String] { decayed + plain }
    }

    /// Expands the templates over `map` (one file): a template instance is kept when the map
    /// holds that stored tensor; every stored tensor of the map must appear exactly once.
    public func expand(_ map: LayoutMap) throws(ShardingError) -> Expanded {
        let tensors = map.tensors(in: .wafer)
        var copies = Set<String>()
        var present = Set<String>()
        for t in tensors {
            present.insert(t.name)
            if !t.isPrimary { copies.insert(t.name) }
        }
        var order: [String] = []
        var k = 0
        while k < parameters.count {
            if parameters[k].contains("{i}") {
                var end = k
                while end < parameters.count && parameters[end].contains("{i}") { end += 1 }
                for i in 0..<map.config.layers {
                    for t in parameters[k..<end] { order.append(LayoutInterpreter.fill(t, i: i, j: nil)) }
                }
                k = end
            } else {
                order.append(parameters[k])
                k += 1
            }
        }
        order = order.filter { present.contains($0) }
        if Set(order).count != order.count { throw .layoutMismatch("the optimizer's parameter order names a tensor twice") }
        if let missing = tensors.first(where: { !order.contains($0.name) }) {
            throw .layoutMismatch("the optimizer's parameter order does not place \(missing.name)")
        }
        let params = order.filter { !copies.contains($0) }
        let patterns = noWeightDecay.map(NamePattern.init)
        let plain = params.filter { n in patterns.contains { $0.matches(n) } }
        let plainSet = Set(plain)
        return Expanded(stateDict: order, parameters: params, decayed: params.filter { !plainSet.contains($0) }, plain: plain)
    }
}
