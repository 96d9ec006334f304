import CHDF5
import Glibc

/// A plain descriptor on the very file an HDF5 handle has open.
///
/// Opening the path a second time could reach a different file: `ckpt synth --force` (or any
/// atomic replace) may rename a new file over the path between the two opens, and reading the
/// new file's bytes at the old file's chunk addresses mixes two checkpoints. A duplicate of
/// HDF5's own descriptor always refers to the file HDF5 parsed.
enum HDF5Descriptor {
    /// `dup` of the sec2 driver's descriptor of `file`, with close-on-exec; -1 with `errno` set
    /// when the handle is unavailable. The corresponding C function is `H5Fget_vfd_handle`.
    static func duplicate(of file: hid_t) -> Int32 {
        var handle: UnsafeMutableRawPointer? = nil
        guard H5Fget_vfd_handle(file, ckpt_H5P_DEFAULT(), &handle) >= 0, let handle else {
            errno = EBADF
            return -1
        }
        return fcntl(handle.assumingMemoryBound(to: Int32.self).pointee, F_DUPFD_CLOEXEC, 0)
    }
}
