import CHDF5

/// Owns one HDF5 identifier and closes it with the matching `H5*close` when released.
///
/// `@unchecked Sendable`: the library is built thread-safe (one global lock), so an identifier
/// may be used and closed from any thread; ckpt never closes one while another thread uses it
/// because every user holds a strong reference.
final class H5Object: @unchecked Sendable {
    /// Which close function applies.
    enum Kind { case file, group, dataset, dataspace, datatype, plist, attribute, object }

    /// The raw identifier.
    let id: hid_t
    private let kind: Kind

    /// Takes ownership of `id`; returns nil when `id` is negative (the call that produced it failed).
    init?(_ id: hid_t, _ kind: Kind) {
        guard id >= 0 else { return nil }
        self.id = id
        self.kind = kind
    }

    deinit {
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

/// Process-wide HDF5 set-up, done once: initialise the library, silence its error printing
/// (ckpt reports its own one-line errors) and register the zstd filter (id 32015).
enum HDF5Library {
    /// Touch to ensure set-up has run.
    static let ready: Void = {
        // No library shutdown at exit: ckpt closes what it commits itself, and HDF5's exit-time
        // close of a file whose earlier close failed (disk full) crashes in 1.10.
        H5dont_atexit()
        H5open()
        ckpt_H5_silence_errors()
        ZstdFilter.register()
    }()

    /// Runs the one-time set-up and silences HDF5's error printing for the calling thread
    /// (the thread-safe library keeps one error stack, and one printing setting, per thread).
    static func prepareThread() {
        _ = ready
        ckpt_H5_silence_errors()
    }
}
