/// Chooses between literal-only and LZ zstd frames for a float dataset written as `zstd:1`,
/// once per dataset, from a sample of its first chunk (`formats/checkpoint-v1.md`, section 8.3).
///
/// The sample is the chunk's first 128 Ki elements (the whole chunk when it is smaller): shuffled,
/// each of its byte planes then fills one 128 KiB block, as the planes of a full chunk do, so
/// both encoders see what they would see on the chunk. It is compressed both ways; LZ is chosen
/// only when its frame is at least 1 % smaller, since the literal-only frame compresses about
/// twice as fast and decodes faster. LZ wins, for instance, on Adam's second moment when whole
/// rows share an exponent. The choice depends only on the bytes, never on timing, so a file's
/// bytes are reproducible.
enum ZstdFrameSelector {
    /// Elements sampled from the first chunk.
    static let sampleElements = 128 << 10

    /// The rule: LZ when its sample frame is at least 1 % smaller than the literal-only one,
    /// literal-only otherwise; whichever one succeeded when the other failed.
    static func choose(literal: Int?, lz: Int?) -> ZstdFrames {
        guard let literal else { return .lz }
        guard let lz else { return .literal }
        return lz * 100 <= literal * 99 ? .lz : .literal
    }

    /// Compresses the sample of the `count` raw (unshuffled) bytes at `raw` both ways, using
    /// `scratch` (at least the sample's size) for the shuffle and `out` (`capacity` bytes, at
    /// least `ZSTD_compressBound` of the sample) for the frames. Returns both frame lengths
    /// (nil for a failed one).
    static func sample(
        raw: UnsafeRawPointer, count: Int, elementSize: Int, level: Int32,
        scratch: UnsafeMutableRawPointer, out: UnsafeMutableRawPointer, capacity: Int
    ) -> (literal: Int?, lz: Int?) {
        let elements = count / max(elementSize, 1)
        let n = elements > sampleElements ? sampleElements * elementSize : count
        ByteShuffle.shuffle(raw, scratch, count: n, elementSize: elementSize)
        let literal = ZstdContexts.shared.compressLiteral(scratch, n, elementSize: elementSize, into: out, capacity: capacity)
        let lz = ZstdContexts.shared.compress(scratch, n, into: out, capacity: capacity, level: level)
        return (literal, lz)
    }
}
