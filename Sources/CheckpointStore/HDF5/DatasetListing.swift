import CHDF5
import Glibc

/// The datasets below one group of an open file (hard links only, recursively, in name order),
/// as the reader lists tensors and the metadata checksum serialises them. The corresponding C
/// function is `H5Lvisit`.
struct DatasetListing {
    /// Dataset paths relative to the group, as stored bytes (names are not re-encoded).
    var names: [[UInt8]] = []
    /// When the walk stopped: the object that could not be opened, or nil when the group itself
    /// could not be listed.
    var failedObject: String?
    /// The newer-version structure HDF5 named when `failedObject` would not open, if any.
    var newerStructure: String?
    /// Whether the walk stopped early (the group or an object below it unreadable).
    var failed = false
    /// Whether the group itself could not be opened.
    var groupUnreadable = false

    /// Walks `group` of `file`; `failed` is set, and nothing thrown, when it cannot. Call inside
    /// the HDF5 section.
    init(file: hid_t, group: String) {
        guard let g = H5Object(H5Gopen2(file, group, ckpt_H5P_DEFAULT()), .group) else {
            failed = true
            groupUnreadable = true
            return
        }
        final class Collector {
            var names: [[UInt8]] = []
            var failedObject: String?
            var newerStructure: String?
        }
        let c = Collector()
        let rc = withExtendedLifetime(c) { () -> herr_t in
            H5Lvisit(
                g.id, H5_INDEX_NAME, H5_ITER_INC,
                { gid, name, info, op in
                    guard let name, let op, let info, info.pointee.type == H5L_TYPE_HARD else { return 0 }
                    let c = Unmanaged<Collector>.fromOpaque(op).takeUnretainedValue()
                    let obj = H5Oopen(gid, name, ckpt_H5P_DEFAULT())
                    if obj < 0 {
                        c.failedObject = String(cString: name)
                        c.newerStructure = HDF5ErrorStack.unknownVersion()
                        return -1
                    }
                    defer { H5Oclose(obj) }
                    if H5Iget_type(obj) == H5I_DATASET {
                        c.names.append(Array(UnsafeRawBufferPointer(start: name, count: strlen(name))))
                    }
                    return 0
                }, Unmanaged.passUnretained(c).toOpaque())
        }
        names = c.names
        failedObject = c.failedObject
        newerStructure = c.newerStructure
        failed = rc < 0
    }
}
