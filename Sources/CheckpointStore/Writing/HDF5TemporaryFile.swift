import CHDF5
import Glibc

/// The file an HDF5 writer builds under `<path>.tmp-*` beside its target: created exclusively
/// (stale temporaries of killed runs removed first, registered so a signal handler can delete
/// it), then either closed and published under `path` (fsync, rename, fsync of the directory)
/// or discarded, leaving any existing file at `path` untouched. Shared by `CheckpointWriter`
/// and `HDF5DatasetFileWriter`, which differ in what they write, not in how a file appears.
final class HDF5TemporaryFile {
    /// The final path.
    let path: String
    /// The temporary file being written.
    let temporaryPath: String
    /// The open HDF5 file, or -1 once closed.
    private(set) var id: hid_t = -1

    /// Creates the temporary file beside `path`, in HDF5's earliest file format when `earliest`
    /// (superblock 0, as h5py writes) else ckpt's. The corresponding C function is `H5Fcreate`.
    init(path: String, earliest: Bool) throws(StoreError) {
        self.path = path
        temporaryPath = AtomicFile.temporaryPath(for: path)
        StaleTemporaries.removeStale(beside: path)
        let dir = AtomicFile.directory(of: path)
        var st = stat()
        if stat(dir, &st) != 0 { throw .io(path: path, operation: "opening directory \(dir)", errno: errno) }
        HDF5Library.lock()
        defer { HDF5Library.unlock() }
        errno = 0
        // Registered before it exists: a signal arriving as the file appears must find it.
        TemporaryRegistry.register(temporaryPath)
        let flags = ckpt_H5F_ACC_EXCL()
        id = earliest ? HDF5FileAccess.createEarliest(temporaryPath, flags: flags) : HDF5FileAccess.create(temporaryPath, flags: flags)
        if id < 0 {
            let e = errno
            TemporaryRegistry.unregister(temporaryPath)
            throw e != 0
                ? .io(path: path, operation: "creating \(temporaryPath)", errno: e)
                : .hdf5(path: path, tensor: nil, operation: "H5Fcreate")
        }
    }

    /// Closes the file and renames it to `path` (never over an existing file unless `replace`).
    /// The caller holds HDF5's lock; on a throw the caller discards.
    func closeAndPublish(replace: Bool) throws(StoreError) {
        errno = 0
        let rc = H5Fclose(id)
        id = -1
        if rc < 0 {
            throw errno != 0
                ? StoreError.io(path: path, operation: "closing \(temporaryPath)", errno: errno)
                : .hdf5(path: path, tensor: nil, operation: "H5Fclose")
        }
        try AtomicFile.publish(temporaryPath, as: path, replace: replace)
        TemporaryRegistry.unregister(temporaryPath)
    }

    /// Closes the file if open and deletes it (whatever was published stays).
    func discard() {
        if id >= 0 {
            HDF5Library.serialized { _ = H5Fclose(id) }
            id = -1
        }
        unlink(temporaryPath)
        TemporaryRegistry.unregister(temporaryPath)
    }
}
