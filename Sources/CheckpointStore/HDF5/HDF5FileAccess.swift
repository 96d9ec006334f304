import CHDF5
import Glibc

/// How ckpt opens and creates HDF5 files: without HDF5's `flock` file locking, with the
/// descriptor marked close-on-exec, and (files it writes) through `DirectIO`'s driver.
///
/// HDF5 1.10 locks every file it opens (`flock`, shared for reading, exclusive for writing) on a
/// descriptor it opens without close-on-exec. A process started meanwhile (a test runner's
/// `ckpt`, verify's isolated child, any program a library user spawns) inherits that descriptor
/// and with it the lock, and a later open of the same file in the parent then fails with
/// "unable to lock file" — seen as flaky "HDF5 cannot open it" failures. ckpt needs no such
/// lock: it never opens a published checkpoint for writing, and writes go to a fresh temporary
/// created with `O_EXCL` and renamed into place. Lustre and NFS mounts without `flock` support
/// refuse HDF5's locking outright, so this also lets ckpt read checkpoints there.
public enum HDF5FileAccess {
    /// The access list for reading: file locking off. Made once and never closed, so that no
    /// HDF5 call (closing a list clears the error stack) runs between a failed open and the
    /// caller reading why it failed.
    private static let readList: hid_t = HDF5Library.serialized {
        let fapl = H5Pcreate(ckpt_H5P_FILE_ACCESS())
        if fapl >= 0 { H5Pset_file_locking(fapl, false, true) }
        return fapl
    }

    /// The access list for writing: file locking off, the 1.8 file format (readable by every
    /// HDF5 from 1.8 on, see formats/checkpoint-v1.md), and a strong close that closes every
    /// object still open in the file.
    private static let writeList: hid_t = HDF5Library.serialized {
        let fapl = H5Pcreate(ckpt_H5P_FILE_ACCESS())
        if fapl >= 0 {
            H5Pset_file_locking(fapl, false, true)
            H5Pset_libver_bounds(fapl, H5F_LIBVER_V18, H5F_LIBVER_V18)
            H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG)
            DirectIO.configure(fapl)
        }
        return fapl
    }

    /// The access list for files in other tools' layouts: file locking off, HDF5's default
    /// (earliest) file format as h5py writes it, and a strong close.
    private static let earliestWriteList: hid_t = HDF5Library.serialized {
        let fapl = H5Pcreate(ckpt_H5P_FILE_ACCESS())
        if fapl >= 0 {
            H5Pset_file_locking(fapl, false, true)
            H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG)
            DirectIO.configure(fapl)
        }
        return fapl
    }

    /// `H5Fcreate(path, flags)` in HDF5's earliest file format (superblock 0, as h5py writes by
    /// default) without file locking, its descriptor close-on-exec; a negative id when it
    /// fails. Call inside the HDF5 section; the caller closes the file.
    public static func createEarliest(_ path: String, flags: UInt32) -> hid_t {
        let f = H5Fcreate(path, flags, ckpt_H5P_DEFAULT(), earliestWriteList)
        if f >= 0 { closeOnExec(f) }
        return f
    }

    /// `H5Fopen(path, flags)` without file locking, its descriptor close-on-exec; a negative id
    /// when it fails, with HDF5's error stack still telling why. Call inside the HDF5 section;
    /// the caller closes the file.
    public static func open(_ path: String, flags: UInt32) -> hid_t {
        let f = H5Fopen(path, flags, readList)
        if f >= 0 { closeOnExec(f) }
        return f
    }

    /// `H5Fcreate(path, flags)` in the 1.8 file format without file locking, its descriptor
    /// close-on-exec; a negative id when it fails. Call inside the HDF5 section; the caller
    /// closes the file.
    public static func create(_ path: String, flags: UInt32) -> hid_t {
        let f = H5Fcreate(path, flags, ckpt_H5P_DEFAULT(), writeList)
        if f >= 0 { closeOnExec(f) }
        return f
    }

    /// Marks the descriptor behind an open `file` close-on-exec, so child processes do not
    /// inherit it. The corresponding C functions are `H5Fget_vfd_handle` and `fcntl`.
    static func closeOnExec(_ file: hid_t) {
        var handle: UnsafeMutableRawPointer? = nil
        guard H5Fget_vfd_handle(file, ckpt_H5P_DEFAULT(), &handle) >= 0, let handle else { return }
        let fd = handle.assumingMemoryBound(to: Int32.self).pointee
        let flags = fcntl(fd, F_GETFD)
        if flags >= 0 { _ = fcntl(fd, F_SETFD, flags | FD_CLOEXEC) }
    }
}
