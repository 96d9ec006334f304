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
    /// Sections of the source the target layout cannot hold, not written (`optimizer/exp_avg`,
    /// ... when converting to Hugging Face).
    public var droppedSections: [String] = []
    /// The source's format (`ckpt`, `megatron`, `hf`, ...).
    public var sourceFormat: String = ""
    /// The output's container format (`ckpt`, `torch`, `safetensors`).
    public var outputFormat: String = ""
    /// What the conversion left out and why, one line each ("optimizer state dropped: HF
    /// checkpoints hold none").
    public var notes: [String] = []

    /// Creates a report.
    public init(
        source: String, sourceLayout: String, output: String, outputLayout: String, files: Int, tensors: Int, bytes: Int64,
        sourceBytesDecoded: Int64, seconds: Double, divergentReplicas: [DivergentReplica], droppedSections: [String] = [],
        notes: [String] = []
    ) {
        self.source = source
        self.sourceLayout = sourceLayout
        self.output = output
        self.outputLayout = outputLayout
        self.files = files
        self.tensors = tensors
        self.bytes = bytes
        self.sourceBytesDecoded = sourceBytesDecoded
        self.seconds = seconds
        self.divergentReplicas = divergentReplicas
        self.droppedSections = droppedSections
        self.notes = notes
    }

    enum CodingKeys: String, CodingKey {
        case source, output, files, tensors, bytes, seconds, notes
        case sourceFormat = "source_format", outputFormat = "output_format"
        case sourceLayout = "source_layout", sourceBytesDecoded = "source_bytes_decoded", outputLayout = "output_layout", divergentReplicas =
            "divergent_replicas", droppedSections = "dropped_sections"
    }

    /// Throughput in MB/s (10^6 bytes).
    public var megabytesPerSecond: Double { seconds > 0 ? Double(bytes) / 1e6 / seconds : 0 }
}
