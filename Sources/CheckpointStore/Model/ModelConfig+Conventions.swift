extension ModelConfig {
    /// The architecture switches of a family: the values every one of its presets in
    /// `formats/presets.json` shares (a test holds the presets to that). They fill the
    /// switches `ModelConfig.init` is not given, and the keys a format v1.0 file of the gpt2 or
    /// llama family may omit (`formats/checkpoint-v1.md` section 9.1).
    public struct Conventions: Sendable, Hashable {
        /// `activation`, `norm`, `position`, `residual`.
        public var activation, norm, position, residual: String
        /// `tie_embeddings`, `bias`.
        public var tieEmbeddings, bias: Bool
        /// `norm_eps`, `rope_theta`, `rotary_pct`.
        public var normEps, ropeTheta, rotaryPct: Double

        /// The switches of `config`.
        public init(_ config: ModelConfig) {
            activation = config.activation
            norm = config.norm
            position = config.position
            residual = config.residual
            tieEmbeddings = config.tieEmbeddings
            bias = config.bias
            normEps = config.normEps
            ropeTheta = config.ropeTheta
            rotaryPct = config.rotaryPct
        }
    }

    /// The conventions of `family`, from its presets; nil for a family without presets.
    public static func conventions(family: String) -> Conventions? { PresetTable.shared.conventions[family] }

    /// Families whose `model_config` may omit keys: those format v1.0 already had, whose
    /// writers were allowed to leave out everything but the sizes (section 9.1).
    public static let familiesWithOptionalKeys: Set<String> = ["gpt2", "llama"]

    /// `JSONDecoder.userInfo` key: when set to true, every key of `model_config` is required
    /// whatever the family (used for `formats/presets.json`).
    public static let requireEveryKey = CodingUserInfoKey(rawValue: "ckpt.model_config.require_every_key")!
}
