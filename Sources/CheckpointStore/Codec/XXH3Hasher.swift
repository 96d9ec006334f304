import CXXHash

/// A streaming XXH3-64 (seed 0) hasher over a tensor's logical little-endian bytes.
///
/// The corresponding C functions are `XXH3_createState`, `XXH3_64bits_reset`,
/// `XXH3_64bits_update` and `XXH3_64bits_digest`.
final class XXH3Hasher {
    private let state: OpaquePointer

    init() {
        state = XXH3_createState()
        XXH3_64bits_reset(state)
    }

    deinit { XXH3_freeState(state) }

    /// Feeds bytes in order.
    func update(_ bytes: UnsafeRawBufferPointer) {
        guard let p = bytes.baseAddress, bytes.count > 0 else { return }
        XXH3_64bits_update(state, p, bytes.count)
    }

    /// The digest of everything fed so far.
    func digest() -> UInt64 { XXH3_64bits_digest(state) }

    /// One-shot hash of a buffer.
    static func hash(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        XXH3_64bits(bytes.baseAddress, bytes.count)
    }
}

/// XXH3-64 (seed 0), the checksum format v1 stores per tensor in `xxh3_64`.
public enum XXH3 {
    /// The XXH3-64 of `bytes`. The corresponding C function is `XXH3_64bits`.
    public static func hash(_ bytes: UnsafeRawBufferPointer) -> UInt64 { XXH3Hasher.hash(bytes) }
}
