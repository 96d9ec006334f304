/// How a tensor's chunks are compressed on disk.
///
/// Every codec ends the chunk with HDF5's Fletcher32 checksum; `zstd` adds HDF5's byte shuffle
/// and the zstd filter (id 32015, as hdf5plugin registers it) in front of it.
public enum Codec: Sendable, Hashable, CustomStringConvertible {
    /// No compression (chunks still carry Fletcher32).
    case none
    /// Shuffle + zstd at the given level (1...22). Negative (fast) levels are refused: HDF5
    /// stores the level as an unsigned `cd_values` entry, which h5py shows as 4294967291 for -5,
    /// and hdf5plugin's zstd filter clamps anything below 1 to 1 when it compresses.
    case zstd(level: Int)

    /// The default codec: `zstd:1`.
    public static let `default` = Codec.zstd(level: 1)

    /// Parses `none`, `zstd` (level 1) or `zstd:<level>`.
    public init(parsing text: String) throws(StoreError) {
        let t = text.lowercased()
        if t == "none" { self = .none; return }
        if t == "zstd" { self = .zstd(level: 1); return }
        if t.hasPrefix("zstd:"), let l = Int(t.dropFirst(5)), (1...22).contains(l) {
            self = .zstd(level: l)
            return
        }
        throw .invalidArgument("unknown codec '\(text)' (expected none, zstd or zstd:<level 1..22>)")
    }

    /// The textual form stored in the `codec` attribute (`none`, `zstd:1`).
    public var description: String {
        switch self {
        case .none: return "none"
        case .zstd(let l): return "zstd:\(l)"
        }
    }
}
