import CHDF5

/// Registers one of ckpt's in-process HDF5 filters (zstd, LZ4) with HDF5, encoder and decoder
/// both, unless a filter with that id is already available (a plugin loaded first keeps its
/// place). The corresponding C functions are `H5Zfilter_avail` and `H5Zregister`.
enum HDF5FilterRegistration {
    static func register(id: H5Z_filter_t, name: UnsafeMutablePointer<CChar>, filter: H5Z_func_t) {
        if H5Zfilter_avail(id) > 0 { return }
        var cls = H5Z_class2_t(
            version: Int32(ckpt_H5Z_CLASS_T_VERS()), id: id, encoder_present: 1, decoder_present: 1,
            name: UnsafePointer(name), can_apply: nil, set_local: nil, filter: filter)
        _ = H5Zregister(&cls)
    }
}
