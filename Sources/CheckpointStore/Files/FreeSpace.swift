import Foundation
import Glibc

/// Refuses a write the target's file system cannot hold, before any byte is written.
///
/// The estimate is the raw (uncompressed) size of the tensors plus a margin for HDF5's
/// metadata: exact for `--codec none`, an upper bound for zstd (incompressible chunks stay
/// about their raw size). So ckpt may refuse a highly compressible model that would have fit
/// compressed, but never starts a write whose uncompressed size fits.
public enum FreeSpace {
    /// Bytes a checkpoint of `rawBytes` tensor bytes in `tensors` tensors may take on disk:
    /// the raw bytes, 1/1024 of them for codec framing, 64 bytes per chunk index entry,
    /// 8 KiB of object headers and attributes per tensor and 1 MiB for the file's own metadata.
    public static func estimate(rawBytes: Int64, tensors: Int, chunkBytes: Int) -> Int64 {
        let chunks = rawBytes / Int64(max(1, chunkBytes)) + Int64(tensors)
        let (sum, overflow) = rawBytes.addingReportingOverflow(rawBytes / 1024 + chunks * 64 + Int64(tensors) * 8192 + (1 << 20))
        return overflow ? .max : sum
    }

    /// Free bytes for an unprivileged writer on the file system that would hold `target`, and
    /// that file system's mount point; nil when it cannot be determined.
    public static func available(for target: String) -> (bytes: Int64, mountPoint: String)? {
        var dir = AtomicFile.directory(of: target)
        var st = stat()
        // The target's directory may not exist yet: measure its nearest existing ancestor.
        while stat(dir, &st) != 0 {
            if dir == "/" || dir == "." { return nil }
            dir = AtomicFile.directory(of: dir)
        }
        var vfs = statvfs()
        guard statvfs(dir, &vfs) == 0 else { return nil }
        let (bytes, overflow) = Int64(vfs.f_bavail).multipliedReportingOverflow(by: Int64(vfs.f_frsize))
        return (overflow ? .max : bytes, mountPoint(of: dir, device: st.st_dev))
    }

    /// Throws `StoreError.insufficientSpace` when fewer than `needed` bytes are free for `target`.
    public static func check(needed: Int64, for target: String) throws(StoreError) {
        guard let (free, fs) = available(for: target), needed > free else { return }
        throw .insufficientSpace(path: target, needed: needed, available: free, fileSystem: fs)
    }

    /// A byte count for people: "512 B", "3.4 MB", "1.2 TB" (powers of 1000).
    public static func describe(_ bytes: Int64) -> String {
        let units = ["B", "kB", "MB", "GB", "TB", "PB", "EB"]
        var v = Double(bytes), u = 0
        while v >= 1000 && u < units.count - 1 {
            v /= 1000
            u += 1
        }
        return u == 0 ? "\(bytes) B" : String(format: "%.1f ", v) + units[u]
    }

    /// The topmost ancestor of `dir` on the same device.
    private static func mountPoint(of dir: String, device: dev_t) -> String {
        var current = dir.hasPrefix("/") ? dir : FileManager.default.currentDirectoryPath + (dir == "." ? "" : "/" + dir)
        var st = stat()
        while current != "/" {
            let parent = AtomicFile.directory(of: current)
            if stat(parent, &st) != 0 || st.st_dev != device { break }
            current = parent
        }
        return current
    }
}
