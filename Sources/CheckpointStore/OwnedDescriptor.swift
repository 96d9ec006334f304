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

    deinit { close(raw) }
}
