/// Bounds the zip reader enforces before trusting a central directory.
public struct ZipLimits: Sendable, Hashable {
    /// Most entries an archive may list.
    public var maxEntries: Int
    /// Longest entry name, in bytes.
    public var maxNameBytes: Int
    /// Largest central directory, in bytes (it is read into memory whole).
    public var maxCentralDirectoryBytes: Int

    /// Creates limits; the defaults are far above any `torch.save` file (one entry per storage,
    /// names of a few dozen bytes).
    public init(maxEntries: Int = 1 << 20, maxNameBytes: Int = 4096, maxCentralDirectoryBytes: Int = 1 << 30) {
        self.maxEntries = maxEntries
        self.maxNameBytes = maxNameBytes
        self.maxCentralDirectoryBytes = maxCentralDirectoryBytes
    }
}
