/// How the zstd stage of a shuffle + zstd chunk is encoded. Either way the chunk is one standard
/// zstd frame with its content size; readers need not know which kind they get.
enum ZstdFrames: Sendable, Equatable {
    /// LZ77 matches plus entropy coding at the dataset's level (`ZSTD_compressCCtx`).
    case lz
    /// Literal-only blocks (`LiteralZstdFrame`); a chunk on which libzstd's sequence API fails
    /// is written as `lz` instead.
    case literal
    /// Not decided yet: the dataset's first chunk decides between `literal` and `lz`
    /// (`ZstdFrameSelector`) before it is queued. An encoder still holding this encodes as
    /// `literal`.
    case sampled
}
