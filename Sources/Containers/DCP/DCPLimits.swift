/// Bounds the DCP reader enforces before trusting a `.metadata` pickle or a data file; each is
/// checked before the memory it guards is allocated. The defaults admit any real checkpoint
/// seen so far (a 1.3B model at TP8 x PP4 with optimizer state has a few thousand chunks) with a
/// wide margin.
public struct DCPLimits: Sendable, Hashable {
    /// Largest `.metadata` file, in bytes.
    public var maxMetadataBytes: Int
    /// Most entries (tensors and bytes items) in `state_dict_metadata`.
    public var maxEntries: Int
    /// Most chunks of one tensor.
    public var maxChunksPerTensor: Int
    /// Most chunks and storage records of the whole checkpoint.
    public var maxChunks: Int
    /// Most dimensions of a tensor.
    public var maxRank: Int
    /// Most distinct data files.
    public var maxFiles: Int
    /// Most pairs of chunk boxes compared when checking one tensor's chunks for overlaps.
    public var maxOverlapComparisons: Int
    /// Largest bytes item returned whole by `DCPCheckpoint.bytesItem`, after decoding.
    public var maxBytesItem: Int
    /// Largest decoded (zstd) item, in bytes; decoded items go to an unlinked temporary file.
    public var maxDecodedItemBytes: Int
    /// Largest scratch buffer of a resharding read, for a chunk's part of a box that is not
    /// contiguous in the output (larger parts are read in pieces).
    public var maxScratchBytes: Int
    /// Bounds of the restricted pickle reader for `.metadata`.
    public var pickle: PickleLimits

    /// Creates limits (defaults: 1 GiB of metadata, 4 Mi entries, 1 Mi chunks per tensor, 16 Mi
    /// chunks, rank 64, 64 Ki files, 2^28 comparisons, 1 GiB bytes items, 1 TiB decoded items, 16
    /// MiB of scratch).
    public init(
        maxMetadataBytes: Int = 1 << 30, maxEntries: Int = 1 << 22, maxChunksPerTensor: Int = 1 << 20, maxChunks: Int = 1 << 24,
        maxRank: Int = 64, maxFiles: Int = 1 << 16, maxOverlapComparisons: Int = 1 << 28, maxBytesItem: Int = 1 << 30,
        maxDecodedItemBytes: Int = 1 << 40, maxScratchBytes: Int = 16 << 20,
        pickle: PickleLimits = PickleLimits(maxPickleBytes: 1 << 30, maxMemoEntries: 1 << 26, maxNodes: 1 << 27)
    ) {
        self.maxMetadataBytes = maxMetadataBytes
        self.maxEntries = maxEntries
        self.maxChunksPerTensor = maxChunksPerTensor
        self.maxChunks = maxChunks
        self.maxRank = maxRank
        self.maxFiles = maxFiles
        self.maxOverlapComparisons = maxOverlapComparisons
        self.maxBytesItem = maxBytesItem
        self.maxDecodedItemBytes = maxDecodedItemBytes
        self.maxScratchBytes = maxScratchBytes
        self.pickle = pickle
    }
}
