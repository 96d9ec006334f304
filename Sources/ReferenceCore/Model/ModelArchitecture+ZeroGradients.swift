extension ModelArchitecture {
    /// The elements of parameter `name` whose gradient is exactly zero for every batch, as
    /// ranges of its flat (C-order) index; empty for most tensors.
    ///
    /// Only the key bias has such elements. Without rotary embedding, q·b_k is the same for
    /// every key of a query row and softmax ignores a constant shift, so the whole
    /// `attn.k.bias` has zero gradient (GPT-2). With rotary embedding the rotated part of each
    /// key head turns with the key position, so q·R_p b_k changes along the row and those
    /// elements carry a gradient; the pass-through dimensions of each head (`rotary_pct` < 1,
    /// GPT-NeoX) keep the zero gradient. Models without biases have no such tensor.
    public func zeroGradientRanges(_ name: String) -> [Range<Int>] {
        guard bias, name.hasPrefix("layers."), name.hasSuffix(".attn.k.bias") else { return [] }
        let width = kvHeads * headDim
        switch positions {
        case .learned:
            return [0..<width]
        case .rotary(let rotated, _, _):
            guard rotated < headDim else { return [] }
            return (0..<kvHeads).map { h in (h * headDim + rotated)..<((h + 1) * headDim) }
        }
    }
}
