/// The filter pipeline of the chunked datasets an `HDF5DatasetFileWriter` creates.
public enum HDF5DatasetFilters: Sendable, Hashable {
    /// No compression.
    case none
    /// hdf5plugin's LZ4 (filter 32004, `cd_values [0]`: one block per chunk), no shuffle:
    /// what `cstorch.save` writes by default.
    case lz4
    /// HDF5's byte shuffle, then zstd (filter 32015) at the level: ckpt's own pipeline.
    case zstd(level: Int)

    /// ckpt's codec as a pipeline (`none`, or shuffle + zstd at its level).
    public init(_ codec: Codec) {
        switch codec {
        case .none: self = .none
        case .zstd(let l): self = .zstd(level: l)
        }
    }
}
