import CHDF5
import Glibc

/// A file descriptor closed when its owner is released, so an initialiser that fails after
/// opening it (or any later failure) cannot leak it.
final class OwnedDescriptor: Sendable {
    /// The descriptor.
    let raw: Int32

    /// Opens `path` read-only (close-on-exec). The corresponding C function is `open`.
    init(readOnly path: String) throws(StoreError) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 { throw .io(path: path, operation: "open", errno: errno) }
        raw = fd
    }

    /// Duplicates the descriptor HDF5 holds for `file` (see `HDF5Descriptor`), so reads reach the
    /// very file HDF5 parsed even if `path` is replaced meanwhile.
    init(duplicatingFileOf file: hid_t, path: String) throws(StoreError) {
        let fd = HDF5Descriptor.duplicate(of: file)
        if fd < 0 { throw .io(path: path, operation: "open", errno: errno) }
        raw = fd
    }

    deinit { close(raw) }
}
