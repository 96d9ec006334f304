import CHDF5
import CDirectIO
import Foundation

/// Whether ckpt moves large blocks between its buffers and files with `O_DIRECT`, bypassing the
/// page cache: chunk writes of the HDF5 files it creates (the `CDirectIO` driver: 4096-byte
/// aligned chunks, metadata and every read as HDF5's POSIX driver does them), the sequential
/// writers of other formats (`OutputFile` in Containers: whole staging buffers), and large reads
/// of ranges not in the page cache (`DirectReader`: HDF5 chunks in `DatasetReadEngine`, foreign
/// inputs in `RandomAccessFile` and `MappedFile`).
///
/// A conversion reads and writes each byte once, so the page cache only costs it a copy per
/// byte, in the kernel, and pages to allocate and reclaim: measured on the reference VM, writing
/// 5.7 GB buffered took 6.3-14.4 s (5.3-13 s of it in the kernel), direct 3.2-3.6 s (0.3 s).
/// Where a filesystem refuses `O_DIRECT` ckpt falls back to buffered I/O by itself. Set
/// `CKPT_DIRECT_IO=0` to turn it off (every read and write buffered, as HDF5 does it).
public enum DirectIO {
    /// On unless the environment says `CKPT_DIRECT_IO=0` (or `off`, `false`, `no`).
    public static let enabled: Bool = {
        guard let v = ProcessInfo.processInfo.environment["CKPT_DIRECT_IO"]?.lowercased() else { return true }
        return !["0", "off", "false", "no"].contains(v)
    }()

    /// The smallest block moved with `O_DIRECT`; smaller ones go through the page cache.
    public static let minimumBytes = Int(CKPT_DIRECT_MIN_WRITE)
    /// The alignment of direct transfers: file offsets, lengths and buffer addresses.
    public static let alignment = Int(CKPT_DIRECT_ALIGN)

    /// Bytes the HDF5 driver has written with `O_DIRECT` in this process (every file).
    public static var bytesWrittenDirect: UInt64 { ckpt_direct_bytes_direct() }
    /// Bytes the HDF5 driver has written through the page cache in this process.
    public static var bytesWrittenBuffered: UInt64 { ckpt_direct_bytes_buffered() }

    /// Puts `fapl` on the direct driver, objects of at least `minimumBytes` aligned to
    /// `alignment`, when enabled and the HDF5 build takes the driver; otherwise leaves HDF5's
    /// POSIX driver. Call inside the HDF5 section.
    static func configure(_ fapl: hid_t) {
        guard enabled else { return }
        _ = ckpt_direct_set_fapl(fapl, hsize_t(minimumBytes))
    }
}
