import CHDF5

/// Owns one HDF5 identifier and closes it with the matching `H5*close` when released.
///
/// `@unchecked Sendable`: an identifier may be used and closed from any thread because HDF5
/// calls never overlap — the thread-safe library takes its global lock in every call, and
/// otherwise ckpt makes every call inside `HDF5Library`'s section (`deinit` enters it itself).
/// ckpt never closes an identifier while another thread uses it because every user holds a
/// strong reference.
final class H5Object: @unchecked Sendable {
    /// Which close function applies.
    enum Kind { case file, group, dataset, dataspace, datatype, plist, attribute, object }

    /// The raw identifier.
    let id: hid_t
    private let kind: Kind

    /// Takes ownership of `id`; returns nil when `id` is negative (the call that produced it failed).
    init?(_ id: hid_t, _ kind: Kind) {
        guard id >= 0 else { return nil }
        assert(HDF5Library.isSectionHeld, "HDF5 handle made outside HDF5Library's section")
        self.id = id
        self.kind = kind
    }

    deinit {
        HDF5Library.lock()
        defer { HDF5Library.unlock() }
        // A file closed with H5F_CLOSE_STRONG has already closed its objects.
        guard H5Iis_valid(id) > 0 else { return }
        switch kind {
        case .file: H5Fclose(id)
        case .group: H5Gclose(id)
        case .dataset: H5Dclose(id)
        case .dataspace: H5Sclose(id)
        case .datatype: H5Tclose(id)
        case .plist: H5Pclose(id)
        case .attribute: H5Aclose(id)
        case .object: H5Oclose(id)
        }
    }
}
