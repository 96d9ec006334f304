import CHDF5

/// Reading and writing the scalar attributes ckpt uses: UTF-8 strings, int64 and uint64.
enum H5Attributes {
    /// Writes (or replaces) a variable-length UTF-8 string attribute. Returns false on failure.
    @discardableResult
    static func writeString(_ obj: hid_t, _ name: String, _ value: String) -> Bool {
        guard let t = H5Object(H5Tcopy(ckpt_H5T_C_S1()), .datatype) else { return false }
        H5Tset_size(t.id, ckpt_H5T_VARIABLE())
        H5Tset_cset(t.id, H5T_CSET_UTF8)
        return value.withCString { cstr -> Bool in
            var p: UnsafePointer<CChar>? = cstr
            return write(obj, name, type: t.id, memType: t.id, &p)
        }
    }

    /// Writes (or replaces) a scalar int64 attribute.
    @discardableResult
    static func writeInt64(_ obj: hid_t, _ name: String, _ value: Int64) -> Bool {
        var v = value
        return write(obj, name, type: ckpt_H5T_STD_I64LE(), memType: ckpt_H5T_NATIVE_INT64(), &v)
    }

    /// Writes (or replaces) a scalar uint64 attribute.
    @discardableResult
    static func writeUInt64(_ obj: hid_t, _ name: String, _ value: UInt64) -> Bool {
        var v = value
        return write(obj, name, type: ckpt_H5T_STD_U64LE(), memType: ckpt_H5T_NATIVE_UINT64(), &v)
    }

    private static func write<T>(_ obj: hid_t, _ name: String, type: hid_t, memType: hid_t, _ value: inout T) -> Bool {
        if H5Aexists(obj, name) > 0 { H5Adelete(obj, name) }
        guard let space = H5Object(H5Screate(H5S_SCALAR), .dataspace),
            let attr = H5Object(H5Acreate2(obj, name, type, space.id, ckpt_H5P_DEFAULT(), ckpt_H5P_DEFAULT()), .attribute)
        else { return false }
        return withUnsafeMutablePointer(to: &value) { H5Awrite(attr.id, memType, $0) >= 0 }
    }

    /// Reads a string attribute (variable- or fixed-length), or nil if absent or not a string.
    static func readString(_ obj: hid_t, _ name: String) -> String? { probeString(obj, name).value }

    /// Reads a string attribute, telling an absent attribute from a damaged one.
    static func probeString(_ obj: hid_t, _ name: String) -> AttributeRead<String> {
        let exists = H5Aexists(obj, name)
        if exists == 0 { return .absent }
        guard exists > 0, let attr = H5Object(H5Aopen(obj, name, ckpt_H5P_DEFAULT()), .attribute),
            let ftype = H5Object(H5Aget_type(attr.id), .datatype),
            let space = H5Object(H5Aget_space(attr.id), .dataspace)
        else { return .unreadable }
        guard H5Tget_class(ftype.id) == H5T_STRING, H5Sget_simple_extent_npoints(space.id) == 1 else { return .wrongType }
        if H5Tis_variable_str(ftype.id) > 0 {
            guard let mtype = H5Object(H5Tcopy(ckpt_H5T_C_S1()), .datatype) else { return .unreadable }
            H5Tset_size(mtype.id, ckpt_H5T_VARIABLE())
            H5Tset_cset(mtype.id, H5Tget_cset(ftype.id))
            var p: UnsafeMutablePointer<CChar>? = nil
            guard H5Aread(attr.id, mtype.id, &p) >= 0, let p else { return .unreadable }
            defer { H5free_memory(p) }
            return .value(String(cString: p))
        }
        let size = H5Tget_size(ftype.id)
        var buf = [UInt8](repeating: 0, count: size + 1)
        guard H5Aread(attr.id, ftype.id, &buf) >= 0 else { return .unreadable }
        let end = buf.firstIndex(of: 0) ?? size
        return .value(String(decoding: buf[..<end], as: UTF8.self))
    }

    /// Reads a scalar integer attribute as Int64, or nil.
    static func readInt64(_ obj: hid_t, _ name: String) -> Int64? { probeInt64(obj, name).value }

    /// Reads a scalar integer attribute as Int64, telling an absent attribute from a damaged one.
    static func probeInt64(_ obj: hid_t, _ name: String) -> AttributeRead<Int64> {
        probeInteger(obj, name, memoryType: ckpt_H5T_NATIVE_INT64(), as: Int64.self)
    }

    /// Reads a scalar integer attribute as UInt64 (bit pattern preserved), or nil.
    static func readUInt64(_ obj: hid_t, _ name: String) -> UInt64? { probeUInt64(obj, name).value }

    /// Reads a scalar integer attribute as UInt64, telling an absent attribute from a damaged one.
    static func probeUInt64(_ obj: hid_t, _ name: String) -> AttributeRead<UInt64> {
        probeInteger(obj, name, memoryType: ckpt_H5T_NATIVE_UINT64(), as: UInt64.self)
    }

    /// Reads a scalar integer attribute converted by HDF5 to `memoryType` (a native 64-bit type).
    private static func probeInteger<T: FixedWidthInteger>(_ obj: hid_t, _ name: String, memoryType: hid_t, as: T.Type) -> AttributeRead<T> {
        let exists = H5Aexists(obj, name)
        if exists == 0 { return .absent }
        guard exists > 0, let attr = H5Object(H5Aopen(obj, name, ckpt_H5P_DEFAULT()), .attribute),
            let ftype = H5Object(H5Aget_type(attr.id), .datatype)
        else { return .unreadable }
        guard H5Tget_class(ftype.id) == H5T_INTEGER else { return .wrongType }
        var v: T = 0
        guard H5Aread(attr.id, memoryType, &v) >= 0 else { return .unreadable }
        return .value(v)
    }
}
