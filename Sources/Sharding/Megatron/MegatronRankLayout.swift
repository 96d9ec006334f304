import CheckpointStore
import Foundation

/// The `layout` JSON of one Megatron rank file: which rank it is and the shape it belongs to.
///
/// `{"kind":"megatron","tp":T,"pp":P,"tp_rank":r,"pp_rank":s,"vocab_divisible_by":D,
/// "padded_vocab":N,"layers_per_stage":L/P,"first_layer":s*L/P}`.
public struct MegatronRankLayout: Codable, Sendable, Hashable {
    /// The layout kind (`megatron`).
    public var kind: String
    /// Tensor-parallel size.
    public var tp: Int
    /// Pipeline-parallel size.
    public var pp: Int
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
        case kind, tp, pp
        case tpRank = "tp_rank", ppRank = "pp_rank", vocabDivisibleBy = "vocab_divisible_by"
        case paddedVocab = "padded_vocab", layersPerStage = "layers_per_stage", firstLayer = "first_layer"
    }

    /// The layout of `file` in `shape` for a model of `layers` layers and `vocab` tokens.
    public init(kind: String = LayoutKind.megatron.name, shape: MegatronShape, file: ShardFile, layers: Int, vocab: Int) {
        self.kind = kind
        tp = shape.tp
        pp = shape.pp
        tpRank = file.tpRank
        ppRank = file.ppRank
        vocabDivisibleBy = shape.vocabDivisibleBy
        paddedVocab = shape.paddedVocab(vocab)
        layersPerStage = layers / shape.pp
        firstLayer = file.ppRank * layersPerStage
    }

    /// The parallel shape.
    public var shape: MegatronShape { MegatronShape(tp: tp, pp: pp, vocabDivisibleBy: vocabDivisibleBy) }

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
