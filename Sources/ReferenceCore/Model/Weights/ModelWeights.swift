/// Every parameter of a model, bound once by canonical name into one typed value per block
/// (as llm.c resolves its parameter table), so the pass reads as a list of block calls.
struct ModelWeights<T: ReferenceScalar> {
    /// `embed.tokens.weight` `[V, C]`.
    let tokens: BoundTensor<T>
    /// `embed.positions.weight` `[S, C]` (learned positions only).
    let positions: BoundTensor<T>?
    /// `layers.{i}.*`.
    let blocks: [BlockWeights<T>]
    /// `final_norm`.
    let finalNorm: NormWeights<T>
    /// The output head `[V, C]`: `embed.tokens.weight` when tied, else `lm_head.weight`.
    let head: BoundTensor<T>

    /// Binds every tensor `architecture` reads from `tensors`. A tensor it needs that is absent
    /// or misshapen, or a tensor in `tensors` it does not read (a set made for another
    /// configuration), is an error naming the tensor; `source` names the checkpoint.
    static func bind(_ a: ModelArchitecture, from tensors: TensorBuffers<T>, source: String) throws(ReferenceError) -> ModelWeights {
        let c = a.hidden
        let tokens = try BoundTensor.bind("embed.tokens.weight", shape: [a.vocab, c], from: tensors, source: source)
        let positions = a.positions == .learned ? try BoundTensor.bind("embed.positions.weight", shape: [a.maxSeq, c], from: tensors, source: source) : nil
        var blocks: [BlockWeights<T>] = []
        for i in 0..<a.layers { blocks.append(try .bind(i, a, from: tensors, source: source)) }
        let weights = ModelWeights(
            tokens: tokens, positions: positions, blocks: blocks,
            finalNorm: try .bind("final_norm", columns: c, bias: a.normHasBias, from: tensors, source: source),
            head: a.tiedHead ? tokens : try .bind("lm_head.weight", shape: [a.vocab, c], from: tensors, source: source))
        let bound = Set(weights.tensors.map(\.name))
        if let extra = tensors.names.first(where: { !bound.contains($0) }) {
            throw .unsupportedModel(path: source, detail: "tensor \(extra) is not read by the model model_config describes")
        }
        return weights
    }

    /// Every bound tensor, in canonical order (the head once when tied).
    var tensors: [BoundTensor<T>] {
        [tokens] + (positions.map { [$0] } ?? []) + blocks.flatMap(\.tensors) + finalNorm.tensors
            + (head.name == tokens.name ? [] : [head])
    }
}
