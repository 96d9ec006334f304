import CHDF5
import Glibc

/// Writes `HDF5AttributeValue`s the way h5py stores the Python values they stand for: UTF-8
/// variable-length strings (scalar, or a 1-D array), little-endian int64 and float64 arrays of
/// any shape (zero extents included), booleans as h5py's enum over int8 (FALSE 0, TRUE 1), and
/// opaque bytes as one `H5T_OPAQUE` element. Call inside the HDF5 section.
enum HDF5AttributeWriter {
    /// Writes (or replaces) attribute `name` of `object`; false on failure.
    static func write(_ object: hid_t, _ name: String, _ value: HDF5AttributeValue) -> Bool {
        if H5Aexists(object, name) > 0 { H5Adelete(object, name) }
        switch value {
        case .strings(let s, let shape):
            guard let t = H5Object(H5Tcopy(ckpt_H5T_C_S1()), .datatype) else { return false }
            H5Tset_size(t.id, ckpt_H5T_VARIABLE())
            H5Tset_cset(t.id, H5T_CSET_UTF8)
            let cstrings = s.map { strdup($0) }
            defer { for p in cstrings { free(p) } }
            var ptrs: [UnsafePointer<CChar>?] = cstrings.map { $0.map { UnsafePointer($0) } }
            return create(object, name, type: t.id, shape: shape, count: s.count) { H5Awrite($0, t.id, &ptrs) }
        case .integers(let v, let shape):
            var v = v
            return create(object, name, type: ckpt_H5T_STD_I64LE(), shape: shape, count: v.count) { H5Awrite($0, ckpt_H5T_NATIVE_INT64(), &v) }
        case .floats(let v, let shape):
            var v = v
            return create(object, name, type: ckpt_H5T_IEEE_F64LE(), shape: shape, count: v.count) { H5Awrite($0, ckpt_H5T_NATIVE_DOUBLE(), &v) }
        case .bools(let v, let shape):
            guard let t = H5Object(H5Tenum_create(ckpt_H5T_STD_I8LE()), .datatype) else { return false }
            var f: Int8 = 0, tr: Int8 = 1
            H5Tenum_insert(t.id, "FALSE", &f)
            H5Tenum_insert(t.id, "TRUE", &tr)
            var bytes = v.map { Int8($0 ? 1 : 0) }
            return create(object, name, type: t.id, shape: shape, count: v.count) { H5Awrite($0, t.id, &bytes) }
        case .opaque(let b):
            guard let t = H5Object(H5Tcreate(H5T_OPAQUE, max(1, b.count)), .datatype) else { return false }
            var bytes = b.isEmpty ? [0] : b
            return create(object, name, type: t.id, shape: [], count: 1) { H5Awrite($0, t.id, &bytes) }
        case .unsupported:
            return false
        }
    }

    /// Creates the attribute with a scalar dataspace (`shape` empty) or a simple one, then
    /// writes it with `body` when it holds elements.
    private static func create(
        _ object: hid_t, _ name: String, type: hid_t, shape: [Int], count: Int, _ body: (hid_t) -> herr_t
    ) -> Bool {
        guard shape.reduce(1, *) == count || (shape.isEmpty && count == 1) else { return false }
        let dims = shape.map { hsize_t($0) }
        let space: H5Object? =
            shape.isEmpty
            ? H5Object(H5Screate(H5S_SCALAR), .dataspace)
            : dims.withUnsafeBufferPointer { H5Object(H5Screate_simple(Int32(dims.count), $0.baseAddress, $0.baseAddress), .dataspace) }
        guard let space, let attr = H5Object(H5Acreate2(object, name, type, space.id, ckpt_H5P_DEFAULT(), ckpt_H5P_DEFAULT()), .attribute)
        else { return false }
        return count == 0 || body(attr.id) >= 0
    }
}
