/// What format v1.1's metadata checksum (`metadata_xxh3_64`) says about a file.
public enum MetadataIntegrity: Sendable, Equatable {
    /// The checksum is present and matches the file's metadata.
    case verified
    /// No checksum was recorded (a format v1.0 file, or one from another writer): root
    /// attributes, tensor attributes and RNG state are not covered.
    case notRecorded
    /// `format_minor` promises a checksum, but the `metadata_xxh3_64` attribute is missing.
    case missing(formatMinor: Int64)
    /// The recomputed checksum differs from the stored one.
    case mismatch(stored: UInt64, computed: UInt64)
    /// Some covered object or attribute cannot be read.
    case unreadable(String)

    /// Whether this outcome means the metadata is damaged.
    public var isDamage: Bool {
        switch self {
        case .verified, .notRecorded: return false
        case .missing, .mismatch, .unreadable: return true
        }
    }

    /// The short word for reports: `verified`, `absent` or `failed`.
    public var status: String {
        switch self {
        case .verified: return "verified"
        case .notRecorded: return "absent"
        case .missing, .mismatch, .unreadable: return "failed"
        }
    }

    /// A one-line explanation naming the file.
    public func message(path: String) -> String {
        switch self {
        case .verified: return "\(path): metadata checksum verified"
        case .notRecorded:
            return "\(path): no metadata_xxh3_64 (format v1.0 or another writer): root attributes, tensor attributes and RNG state "
                + "are not covered by a checksum"
        case .missing(let minor):
            return "\(path): metadata damaged: format_minor \(minor) promises a metadata_xxh3_64 attribute, which is missing"
        case .mismatch(let s, let c):
            return "\(path): metadata damaged: metadata_xxh3_64 mismatch (stored \(hex(s)), computed \(hex(c))): a root attribute "
                + "(step, model_config, optimizer, layout, ...), a tensor's name, shape or attribute (dtype, codec, xxh3_64) "
                + "or an RNG state differs from what was written"
        case .unreadable(let d): return "\(path): metadata damaged: \(d)"
        }
    }
}
