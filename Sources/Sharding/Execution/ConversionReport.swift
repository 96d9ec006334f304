/// What a conversion did (printed by `ckpt convert --json`).
public struct ConversionReport: Sendable, Codable {
    /// Source path.
    public var source: String
    /// Source layout (`wafer`, `megatron(tp=2, pp=1)`).
    public var sourceLayout: String
    /// Output path.
    public var output: String
    /// Output layout.
    public var outputLayout: String
    /// Output files written.
    public var files: Int
    /// Output tensors written (all sections).
    public var tensors: Int
    /// Logical bytes written.
    public var bytes: Int64
    /// Source bytes decoded to produce them (each stored chunk counts once per time it was
    /// decoded; replica checks not included).
    public var sourceBytesDecoded: Int64
    /// Wall time in seconds.
    public var seconds: Double
    /// Replicas that differed and were accepted.
    public var divergentReplicas: [DivergentReplica]

    enum CodingKeys: String, CodingKey {
        case source, output, files, tensors, bytes, seconds
        case sourceLayout = "source_layout", sourceBytesDecoded = "source_bytes_decoded", outputLayout = "output_layout", divergentReplicas =
            "divergent_replicas"
    }

    /// Throughput in MB/s (10^6 bytes).
    public var megabytesPerSecond: Double { seconds > 0 ? Double(bytes) / 1e6 / seconds : 0 }
}
