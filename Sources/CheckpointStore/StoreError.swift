#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Every way a checkpoint operation can fail, each with a one-line message that names the file
/// and, where one is involved, the tensor.
public enum StoreError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The file does not exist.
    case fileNotFound(path: String)
    /// The file exists but is not an HDF5 file (or its superblock is unreadable).
    case notHDF5(path: String)
    /// The file is HDF5 but its structure is damaged or cut short.
    case corruptFile(path: String, detail: String)
    /// The file is HDF5 but not a ckpt checkpoint of a version this build reads.
    case notACheckpoint(path: String, detail: String)
    /// The named tensor is not in the checkpoint.
    case tensorNotFound(path: String, tensor: String)
    /// A tensor is stored in a way this reader cannot decode (unknown dtype, filter, layout).
    case unsupportedTensor(path: String, tensor: String, detail: String)
    /// A chunk failed its checksum or could not be decompressed.
    case corruptChunk(path: String, tensor: String, detail: String)
    /// The whole-tensor xxh3 checksum does not match the stored one.
    case checksumMismatch(path: String, tensor: String, stored: UInt64, computed: UInt64)
    /// A shape, selection or byte count is inconsistent.
    case invalidShape(path: String, tensor: String, detail: String)
    /// A caller-supplied argument is invalid (bad codec string, unknown dtype, ...).
    case invalidArgument(String)
    /// An HDF5 call failed while writing or reading.
    case hdf5(path: String, tensor: String?, operation: String)
    /// An operating-system call failed (open, write, fsync, rename, disk full ...).
    case io(path: String, operation: String, errno: Int32)
    /// The writer was used after commit/abort or with a tensor stream still open.
    case writerState(path: String, detail: String)
    /// Metadata (model_config, optimizer, layout JSON) is malformed.
    case badMetadata(path: String, detail: String)
    /// The file uses an HDF5 file-format version newer than the linked libhdf5 reads; the
    /// detail names the release needed.
    case needsNewerHDF5(path: String, detail: String)
    /// The metadata checksum (format v1.1) does not match: `detail` is the full message.
    case metadataDamaged(path: String, detail: String)
    /// The output exists and the writer was told not to replace it.
    case outputExists(path: String)
    /// The file system cannot hold the output.
    case insufficientSpace(path: String, needed: Int64, available: Int64, fileSystem: String)

    /// A one-line, user-actionable message.
    public var description: String {
        switch self {
        case .fileNotFound(let p): return "\(p): no such file"
        case .notHDF5(let p): return "\(p): not an HDF5 file"
        case .corruptFile(let p, let d): return "\(p): damaged or truncated HDF5 file (\(d))"
        case .notACheckpoint(let p, let d): return "\(p): not a ckpt checkpoint (\(d))"
        case .tensorNotFound(let p, let t): return "\(p): tensor \(t): not found"
        case .unsupportedTensor(let p, let t, let d): return "\(p): tensor \(t): \(d)"
        case .corruptChunk(let p, let t, let d): return "\(p): tensor \(t): corrupt data (\(d))"
        case .checksumMismatch(let p, let t, let s, let c):
            return "\(p): tensor \(t): xxh3_64 mismatch (stored \(hex(s)), computed \(hex(c)))"
        case .invalidShape(let p, let t, let d): return "\(p): tensor \(t): \(d)"
        case .invalidArgument(let m): return m
        case .hdf5(let p, let t, let op):
            if let t { return "\(p): tensor \(t): HDF5 \(op) failed" }
            return "\(p): HDF5 \(op) failed"
        case .io(let p, let op, let e):
            return "\(p): \(op) failed: \(String(cString: strerror(e)))"
        case .writerState(let p, let d): return "\(p): \(d)"
        case .badMetadata(let p, let d): return "\(p): bad metadata (\(d))"
        case .needsNewerHDF5(let p, let d): return "\(p): \(d)"
        case .metadataDamaged(_, let d): return d
        case .outputExists(let p): return "\(p): output already exists (pass --force to replace it)"
        case .insufficientSpace(let p, let n, let a, let fs):
            return "\(p): not enough free space: needs \(FreeSpace.describe(n)), \(FreeSpace.describe(a)) free on \(fs)"
        }
    }

    /// The file the error is about, when there is one.
    public var path: String? {
        switch self {
        case .fileNotFound(let p), .notHDF5(let p), .corruptFile(let p, _), .notACheckpoint(let p, _),
            .tensorNotFound(let p, _), .unsupportedTensor(let p, _, _), .corruptChunk(let p, _, _),
            .checksumMismatch(let p, _, _, _), .invalidShape(let p, _, _), .hdf5(let p, _, _),
            .io(let p, _, _), .writerState(let p, _), .badMetadata(let p, _), .needsNewerHDF5(let p, _),
            .metadataDamaged(let p, _), .outputExists(let p), .insufficientSpace(let p, _, _, _):
            return p
        case .invalidArgument: return nil
        }
    }
}

/// Formats a 64-bit checksum as 16 lowercase hex digits.
func hex(_ v: UInt64) -> String {
    let s = String(v, radix: 16)
    return String(repeating: "0", count: max(0, 16 - s.count)) + s
}
