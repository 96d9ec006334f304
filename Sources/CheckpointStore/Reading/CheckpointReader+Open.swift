import CHDF5
import Glibc

/// The reader's opening steps: root attributes that are absent, damaged or of the wrong type,
/// the dataset listing, and files HDF5 refuses because they use a newer file format than the
/// linked library.
extension CheckpointReader {
    /// The detail for a root attribute HDF5 lists but cannot decode.
    static func damagedAttribute(_ name: String) -> String { "metadata damaged: root attribute '\(name)' cannot be read" }

    /// A root string attribute: nil when absent; damaged or non-string attributes are errors.
    static func rootText(_ root: hid_t, _ name: String, path: String) throws(StoreError) -> String? {
        try rootValue(H5Attributes.probeString(root, name), name, kind: "a string", path: path)
    }

    /// A root integer attribute: nil when absent; damaged or non-integer attributes are errors.
    static func rootInteger(_ root: hid_t, _ name: String, path: String) throws(StoreError) -> Int64? {
        try rootValue(H5Attributes.probeInt64(root, name), name, kind: "an integer", path: path)
    }

    /// The value of a probed root attribute: nil when absent, an error when damaged or not `kind`.
    private static func rootValue<T>(_ read: AttributeRead<T>, _ name: String, kind: String, path: String) throws(StoreError) -> T? {
        switch read {
        case .absent: return nil
        case .value(let v): return v
        case .wrongType: throw .badMetadata(path: path, detail: "root attribute '\(name)' is not \(kind)")
        case .unreadable: throw .corruptFile(path: path, detail: damagedAttribute(name))
        }
    }

    /// A root JSON attribute: nil when absent or the JSON literal `null` (both mean "not
    /// recorded", `formats/checkpoint-v1.md` section 3).
    static func rootJSON(_ root: hid_t, _ name: String, path: String) throws(StoreError) -> String? {
        guard let s = try rootText(root, name, path: path), !MetadataJSON.isNull(s) else { return nil }
        return s
    }

    /// Why `H5Fopen` refused a file that has an HDF5 signature (call right after the failure).
    static func openFailure(_ path: String) -> StoreError {
        if let structure = HDF5ErrorStack.unknownVersion() {
            return .needsNewerHDF5(path: path, detail: HDF5ErrorStack.newerFormatDetail(structure, where: "the file"))
        }
        if let v = superblockVersion(path), v > 3 {
            return .needsNewerHDF5(path: path, detail: HDF5ErrorStack.newerFormatDetail("superblock (version \(v))", where: "the file"))
        }
        // The innermost messages say why (truncated superblock, bad signature, a lock ...).
        let reasons = HDF5ErrorStack.descriptions().prefix(2).joined(separator: "; ")
        return .corruptFile(path: path, detail: "HDF5 cannot open it" + (reasons.isEmpty ? "" : ": \(reasons)") + "; the file is likely truncated")
    }

    /// Why an object below `/group` could not be opened while listing it: a newer file format
    /// (not for ckpt's own files, which use the 1.8 format, so there it is damage) or damage.
    static func listingFailure(
        path: String, group: String, object: String?, structure: String?, writer: String?
    ) -> StoreError {
        let place = object.map { "/\(group)/\($0)" } ?? "/\(group)"
        if let structure, !(writer ?? "").hasPrefix("ckpt ") {
            return .needsNewerHDF5(path: path, detail: HDF5ErrorStack.newerFormatDetail(structure, where: place, writer: writer))
        }
        if let object { return .corruptFile(path: path, detail: "cannot open /\(group)/\(object)") }
        return .corruptFile(path: path, detail: "cannot list /\(group)")
    }

    /// The version byte of the file's superblock: found at byte 0 or at a user-block offset
    /// (512, 1024, 2048, ...), right after the 8-byte signature.
    static func superblockVersion(_ path: String) -> UInt8? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        let signature: [UInt8] = [0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a]
        var offset: off_t = 0
        while offset < (1 << 40) {
            var head = [UInt8](repeating: 0, count: 9)
            guard pread(fd, &head, 9, offset) == 9 else { return nil }
            if Array(head[0..<8]) == signature { return head[8] }
            offset = offset == 0 ? 512 : offset * 2
        }
        return nil
    }

    /// Dataset paths below `group`, relative to it. The corresponding C function is `H5Lvisit`.
    static func datasetPaths(file: hid_t, group: String, path: String, writer: String?) throws(StoreError) -> [String] {
        let listing = DatasetListing(file: file, group: group)
        if listing.failed {
            if listing.groupUnreadable {
                throw .corruptFile(path: path, detail: "group /\(group) unreadable")
            }
            throw listingFailure(path: path, group: group, object: listing.failedObject, structure: listing.newerStructure, writer: writer)
        }
        return listing.names.map { String(decoding: $0, as: UTF8.self) }
    }
}
