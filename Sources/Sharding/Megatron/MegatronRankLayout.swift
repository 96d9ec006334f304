import CheckpointStore
import Foundation

/// The `layout` JSON of one Megatron rank file: which rank it is and the shape it belongs to.
///
/// `{"kind":"megatron","tp":T,"pp":P,"tp_rank":r,"pp_rank":s,"vocab_divisible_by":D,
/// "padded_vocab":N,"layers_per_stage":L/P,"first_layer":s*L/P}`; with a virtual pipeline also
/// `"vpp":V`, and `first_layer` is then that of the stage's first model chunk, s*L/(P*V)
/// (`MegatronShape` says where the other chunks' layers lie).
public struct MegatronRankLayout: Codable, Sendable, Hashable {
    /// The layout kind (`megatron`).
    public var kind: String
    /// Tensor-parallel size.
    public var tp: Int
    /// Pipeline-parallel size.
    public var pp: Int
    /// Virtual pipeline size (model chunks per stage; 1, and absent from the JSON, without).
    public var vpp: Int
    /// This file's tensor-parallel rank.
    public var tpRank: Int
    /// This file's pipeline stage.
    public var ppRank: Int
    /// `make_vocab_size_divisible_by`.
    public var vocabDivisibleBy: Int
    /// Vocabulary rows after padding (all TP ranks together).
    public var paddedVocab: Int
    /// Layers per pipeline stage.
    public var layersPerStage: Int
    /// Global index of this stage's `decoder.layers.0`.
    public var firstLayer: Int

    enum CodingKeys: String, CodingKey {
        case kind, tp, pp, vpp
        case tpRank = "tp_rank", ppRank = "pp_rank", vocabDivisibleBy = "vocab_divisible_by"
        case paddedVocab = "padded_vocab", layersPerStage = "layers_per_stage", firstLayer = "first_layer"
    }

    /// Decodes a layout; a missing `vpp` is 1.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        kind = try c.decode(String.self, forKey: .kind)
        tp = try c.decode(Int.self, forKey: .tp)
        pp = try c.decode(Int.self, forKey: .pp)
        vpp = try c.decodeIfPresent(Int.self, forKey: .vpp) ?? 1
        tpRank = try c.decode(Int.self, forKey: .tpRank)
        ppRank = try c.decode(Int.self, forKey: .ppRank)
        vocabDivisibleBy = try c.decode(Int.self, forKey: .vocabDivisibleBy)
        paddedVocab = try c.decode(Int.self, forKey: .paddedVocab)
        layersPerStage = try c.decode(Int.self, forKey: .layersPerStage)
        firstLayer = try c.decode(Int.self, forKey: .firstLayer)
    }

    /// Encodes the layout; `vpp` only when there is a virtual pipeline, so files without one
    /// keep the JSON they always had.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(kind, forKey: .kind)
        try c.encode(tp, forKey: .tp)
        try c.encode(pp, forKey: .pp)
        if vpp != 1 { try c.encode(vpp, forKey: .vpp) }
        try c.encode(tpRank, forKey: .tpRank)
        try c.encode(ppRank, forKey: .ppRank)
        try c.encode(vocabDivisibleBy, forKey: .vocabDivisibleBy)
        try c.encode(paddedVocab, forKey: .paddedVocab)
        try c.encode(layersPerStage, forKey: .layersPerStage)
        try c.encode(firstLayer, forKey: .firstLayer)
    }

    /// The layout of `file` in `shape` for a model of `layers` layers and `vocab` tokens.
    public init(kind: String = LayoutKind.megatron.name, shape: MegatronShape, file: ShardFile, layers: Int, vocab: Int) {
        self.kind = kind
        tp = shape.tp
        pp = shape.pp
        vpp = shape.vpp
        tpRank = file.tpRank
        ppRank = file.ppRank
        vocabDivisibleBy = shape.vocabDivisibleBy
        paddedVocab = shape.paddedVocab(vocab)
        layersPerStage = layers / shape.pp
        firstLayer = file.ppRank * (layersPerStage / max(shape.vpp, 1))
    }

    /// The parallel shape.
    public var shape: MegatronShape { MegatronShape(tp: tp, pp: pp, vpp: vpp, vocabDivisibleBy: vocabDivisibleBy) }

    /// The JSON text stored in the rank file (sorted keys).
    public var json: String {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        return String(decoding: (try? e.encode(self)) ?? Data(), as: UTF8.self)
    }

    /// Parses a rank file's layout JSON.
    public static func parse(_ text: String, path: String) throws(ShardingError) -> MegatronRankLayout {
        do {
            return try JSONDecoder().decode(MegatronRankLayout.self, from: Data(text.utf8))
        } catch {
            throw .badRankLayout(
                path: path, detail: "layout JSON is not a megatron rank layout: " + PlainErrorMessage.decoding(error, json: text, root: "layout"))
        }
    }
}
