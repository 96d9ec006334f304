/// Optimizer state a source stores under one fused parameter while its model tensors are
/// stored split (`LayoutRuleSet.fusedOptimizerState`).
///
/// torchtitan's `FusedQKVLinear` holds one `nn.Parameter` `wqkv`, so its optimizer keys its
/// Adam moments by `...qkv_linear.wqkv.weight`, while a `state_dict` hook saves the weight as
/// `wq`, `wk`, `wv`. The fused tensor's rows are the parts' row blocks interleaved as a `fused`
/// layout rule lays them out: block 0 of every part, then block 1 of every part, ... with
/// `blocks` blocks per part (`kv_heads`: one per query group, `[q heads of the group, k, v]`).
/// A source reading such state presents each part's rows under the part's name, so the layout
/// rules of the parts (and their `rope` order) apply to the moments as to the weights.
public struct FusedStateRule: Codable, Sendable, Hashable {
    /// The fused parameter's name template (`layers.{i}.attention.qkv_linear.wqkv.weight`).
    public var name: String
    /// The stored names of the parts, in fusion order (each a layout rule's `name`).
    public var parts: [String]
    /// How many row blocks each part is cut into.
    public var blocks: LayoutRule.BlockCount

    /// Creates a rule.
    public init(name: String, parts: [String], blocks: LayoutRule.BlockCount) {
        self.name = name
        self.parts = parts
        self.blocks = blocks
    }
}
