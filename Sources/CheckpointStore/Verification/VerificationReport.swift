/// The outcome of verifying one checkpoint file.
public struct VerificationReport: Sendable, Codable {
    /// One failed check.
    public struct Failure: Sendable, Codable, Equatable {
        /// The tensor involved, or nil for file-level checks.
        public var tensor: String?
        /// Which check: `open`, `checksum`, `chunk`, `nonfinite`, `shape`, `missing`, `unexpected`, `counts`, `metadata`,
        /// `partial` (optimizer state missing for some parameters), `index` (the chunk index disagrees with itself).
        public var check: String
        /// One-line message naming file and tensor.
        public var message: String

        /// Creates a failure entry.
        public init(tensor: String?, check: String, message: String) {
            self.tensor = tensor
            self.check = check
            self.message = message
        }
    }

    /// The file verified.
    public var path: String
    /// Tensors whose data was read and checked.
    public var tensorsChecked = 0
    /// Logical bytes read.
    public var bytesChecked = 0
    /// Every failed check, in file order.
    public var failures: [Failure] = []
    /// Checks that could not run (and why), e.g. shape checks of a non-wafer layout.
    public var notes: [String] = []
    /// The format v1.1 metadata checksum: `verified`, `absent` (not recorded: root attributes,
    /// tensor attributes and RNG state were not covered) or `failed`; `unchecked` when the
    /// file could not be opened.
    public var metadataChecksum = "unchecked"
    /// Tensors without an `xxh3_64` attribute: their bytes were read (and any Fletcher32
    /// checked) but not compared with a whole-tensor checksum.
    public var tensorsWithoutChecksum = 0
    /// Tensors without a `dtype` attribute (the dtype came from the HDF5 type alone).
    public var tensorsWithoutDType = 0

    /// Whether every check passed.
    public var ok: Bool { failures.isEmpty }

    enum CodingKeys: String, CodingKey {
        case path, failures, notes, ok
        case tensorsChecked = "tensors_checked", bytesChecked = "bytes_checked", metadataChecksum = "metadata_checksum"
        case tensorsWithoutChecksum = "tensors_without_checksum", tensorsWithoutDType = "tensors_without_dtype"
    }

    /// Creates an empty report.
    public init(path: String) { self.path = path }

    /// Encodes all fields plus `ok`.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(path, forKey: .path)
        try c.encode(ok, forKey: .ok)
        try c.encode(tensorsChecked, forKey: .tensorsChecked)
        try c.encode(bytesChecked, forKey: .bytesChecked)
        try c.encode(metadataChecksum, forKey: .metadataChecksum)
        try c.encode(tensorsWithoutChecksum, forKey: .tensorsWithoutChecksum)
        try c.encode(tensorsWithoutDType, forKey: .tensorsWithoutDType)
        try c.encode(failures, forKey: .failures)
        try c.encode(notes, forKey: .notes)
    }

    /// Decodes a report.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        path = try c.decode(String.self, forKey: .path)
        tensorsChecked = try c.decode(Int.self, forKey: .tensorsChecked)
        bytesChecked = try c.decode(Int.self, forKey: .bytesChecked)
        failures = try c.decode([Failure].self, forKey: .failures)
        notes = try c.decode([String].self, forKey: .notes)
        metadataChecksum = try c.decodeIfPresent(String.self, forKey: .metadataChecksum) ?? "unchecked"
        tensorsWithoutChecksum = try c.decodeIfPresent(Int.self, forKey: .tensorsWithoutChecksum) ?? 0
        tensorsWithoutDType = try c.decodeIfPresent(Int.self, forKey: .tensorsWithoutDType) ?? 0
    }
}
