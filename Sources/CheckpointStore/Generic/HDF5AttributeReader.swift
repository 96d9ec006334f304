import CHDF5
import Glibc

/// Reads attributes of any HDF5 object into `HDF5AttributeValue`s, bounded: an attribute larger
/// than `maxBytes` is refused, as a damaged size would otherwise allocate without limit. Call
/// inside the HDF5 section.
enum HDF5AttributeReader {
    /// The largest attribute value read, in bytes (element size x element count).
    static let maxBytes = 256 << 20

    /// Every attribute name of `object`, in name order. The corresponding C function is
    /// `H5Aiterate2`.
    static func names(_ object: hid_t) -> [String]? {
        final class Collector { var names: [String] = [] }
        let c = Collector()
        var idx: hsize_t = 0
        let rc = withExtendedLifetime(c) { () -> herr_t in
            H5Aiterate2(
                object, H5_INDEX_NAME, H5_ITER_INC, &idx,
                { _, name, _, op in
                    guard let name, let op else { return -1 }
                    Unmanaged<Collector>.fromOpaque(op).takeUnretainedValue().names.append(String(cString: name))
                    return 0
                }, Unmanaged.passUnretained(c).toOpaque())
        }
        return rc < 0 ? nil : c.names
    }

    /// The attribute `name` of `object`: nil when absent, `.unreadable` when HDF5 cannot read it.
    static func read(_ object: hid_t, _ name: String) -> AttributeRead<HDF5AttributeValue> {
        let exists = H5Aexists(object, name)
        if exists == 0 { return .absent }
        guard exists > 0, let attr = H5Object(H5Aopen(object, name, ckpt_H5P_DEFAULT()), .attribute),
            let ftype = H5Object(H5Aget_type(attr.id), .datatype),
            let space = H5Object(H5Aget_space(attr.id), .dataspace)
        else { return .unreadable }
        let rank = Int(H5Sget_simple_extent_ndims(space.id))
        guard rank >= 0, rank <= 32 else { return .unreadable }
        var dims = [hsize_t](repeating: 0, count: rank)
        if rank > 0 { H5Sget_simple_extent_dims(space.id, &dims, nil) }
        let shape = dims.map { Int(clamping: $0) }
        let npoints = Int(H5Sget_simple_extent_npoints(space.id))
        guard npoints >= 0 else { return .unreadable }
        let size = H5Tget_size(ftype.id)
        let (bytes, overflow) = npoints.multipliedReportingOverflow(by: max(size, 1))
        guard !overflow, bytes <= maxBytes else { return .value(.unsupported("an attribute of \(npoints) x \(size) bytes")) }
        switch H5Tget_class(ftype.id) {
        case H5T_STRING:
            return strings(attr.id, ftype.id, count: npoints, shape: shape)
        case H5T_INTEGER:
            if size == 8 && H5Tget_sign(ftype.id) == H5T_SGN_NONE {
                var v = [UInt64](repeating: 0, count: npoints)
                guard npoints == 0 || H5Aread(attr.id, ckpt_H5T_NATIVE_UINT64(), &v) >= 0 else { return .unreadable }
                guard v.allSatisfy({ $0 <= UInt64(Int64.max) }) else { return .value(.unsupported("a uint64 beyond the int64 range")) }
                return .value(.integers(v.map { Int64($0) }, shape: shape))
            }
            var v = [Int64](repeating: 0, count: npoints)
            guard npoints == 0 || H5Aread(attr.id, ckpt_H5T_NATIVE_INT64(), &v) >= 0 else { return .unreadable }
            return .value(.integers(v, shape: shape))
        case H5T_FLOAT:
            var v = [Double](repeating: 0, count: npoints)
            guard npoints == 0 || H5Aread(attr.id, ckpt_H5T_NATIVE_DOUBLE(), &v) >= 0 else { return .unreadable }
            return .value(.floats(v, shape: shape))
        case H5T_ENUM:
            guard size == 1, H5Tget_nmembers(ftype.id) == 2, isBooleanEnum(ftype.id) else {
                return .value(.unsupported("an enum other than h5py's boolean"))
            }
            var v = [Int8](repeating: 0, count: npoints)
            guard npoints == 0 || H5Aread(attr.id, ftype.id, &v) >= 0 else { return .unreadable }
            return .value(.bools(v.map { $0 != 0 }, shape: shape))
        case H5T_OPAQUE:
            var v = [UInt8](repeating: 0, count: bytes)
            guard bytes == 0 || H5Aread(attr.id, ftype.id, &v) >= 0 else { return .unreadable }
            return .value(.opaque(v))
        default:
            return .value(.unsupported("an attribute of HDF5 type class \(H5Tget_class(ftype.id).rawValue)"))
        }
    }

    private static func isBooleanEnum(_ type: hid_t) -> Bool {
        var names: [String] = []
        for k in 0..<2 {
            guard let p = H5Tget_member_name(type, UInt32(k)) else { return false }
            names.append(String(cString: p))
            H5free_memory(p)
        }
        return Set(names) == ["FALSE", "TRUE"]
    }

    private static func strings(_ attr: hid_t, _ ftype: hid_t, count: Int, shape: [Int]) -> AttributeRead<HDF5AttributeValue> {
        if H5Tis_variable_str(ftype) > 0 {
            guard let mtype = H5Object(H5Tcopy(ckpt_H5T_C_S1()), .datatype) else { return .unreadable }
            H5Tset_size(mtype.id, ckpt_H5T_VARIABLE())
            H5Tset_cset(mtype.id, H5Tget_cset(ftype))
            var ptrs = [UnsafeMutablePointer<CChar>?](repeating: nil, count: count)
            guard count == 0 || H5Aread(attr, mtype.id, &ptrs) >= 0 else { return .unreadable }
            defer { for p in ptrs { if let p { H5free_memory(p) } } }
            return .value(.strings(ptrs.map { $0.map { String(cString: $0) } ?? "" }, shape: shape))
        }
        let size = H5Tget_size(ftype)
        var buf = [UInt8](repeating: 0, count: size * count + 1)
        guard count == 0 || H5Aread(attr, ftype, &buf) >= 0 else { return .unreadable }
        var out: [String] = []
        for k in 0..<count {
            let item = buf[(k * size)..<((k + 1) * size)]
            let end = item.firstIndex(of: 0) ?? item.endIndex
            out.append(String(decoding: item[item.startIndex..<end], as: UTF8.self))
        }
        return .value(.strings(out, shape: shape))
    }
}
