/// A replica that differed from its primary copy, accepted under `--allow-divergent-replicas`
/// (the primary, rank 0, was kept).
public struct DivergentReplica: Sendable, Hashable, Codable {
    /// The replica's file.
    public var file: String
    /// The replica tensor (printed key).
    public var tensor: String
    /// The primary it was compared with (`file: tensor`).
    public var reference: String
    /// Largest absolute element difference, in Float64.
    public var maxAbsDifference: Double

    enum CodingKeys: String, CodingKey {
        case file, tensor, reference
        case maxAbsDifference = "max_abs_difference"
    }
}
