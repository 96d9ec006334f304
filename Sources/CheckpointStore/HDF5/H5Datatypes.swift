import CHDF5

/// Maps ckpt dtypes to HDF5 file datatypes and back.
enum H5Datatypes {
    /// A new HDF5 datatype describing `dtype` on disk (little-endian; bf16/fp16 as custom IEEE
    /// floats; bool as h5py's enum over int8).
    static func fileType(_ dtype: DType) -> H5Object? {
        switch dtype {
        case .float32: return H5Object(H5Tcopy(ckpt_H5T_IEEE_F32LE()), .datatype)
        case .float64: return H5Object(H5Tcopy(ckpt_H5T_IEEE_F64LE()), .datatype)
        case .int8: return H5Object(H5Tcopy(ckpt_H5T_STD_I8LE()), .datatype)
        case .int16: return H5Object(H5Tcopy(ckpt_H5T_STD_I16LE()), .datatype)
        case .int32: return H5Object(H5Tcopy(ckpt_H5T_STD_I32LE()), .datatype)
        case .int64: return H5Object(H5Tcopy(ckpt_H5T_STD_I64LE()), .datatype)
        case .uint8: return H5Object(H5Tcopy(ckpt_H5T_STD_U8LE()), .datatype)
        case .float16: return customFloat(exponentBits: 5, mantissaBits: 10, bias: 15)
        case .bfloat16: return customFloat(exponentBits: 8, mantissaBits: 7, bias: 127)
        case .bool:
            guard let t = H5Object(H5Tenum_create(ckpt_H5T_NATIVE_INT8()), .datatype) else { return nil }
            var f: Int8 = 0, tr: Int8 = 1
            H5Tenum_insert(t.id, "FALSE", &f)
            H5Tenum_insert(t.id, "TRUE", &tr)
            return t
        }
    }

    /// A 16-bit IEEE-style float: sign bit 15, exponent above the mantissa.
    private static func customFloat(exponentBits: Int, mantissaBits: Int, bias: Int) -> H5Object? {
        guard let t = H5Object(H5Tcopy(ckpt_H5T_IEEE_F32LE()), .datatype) else { return nil }
        guard H5Tset_fields(t.id, 15, mantissaBits, exponentBits, 0, mantissaBits) >= 0,
            H5Tset_size(t.id, 2) >= 0, H5Tset_ebias(t.id, bias) >= 0
        else { return nil }
        return t
    }

    /// Recognises the dtype of an HDF5 datatype, or nil when ckpt does not know it (big-endian
    /// data, strings, compounds, other float layouts).
    static func dtype(of type: hid_t) -> DType? {
        let cls = H5Tget_class(type)
        let size = H5Tget_size(type)
        if cls == H5T_FLOAT || cls == H5T_INTEGER {
            if H5Tget_order(type) != H5T_ORDER_LE && size > 1 { return nil }
        }
        switch cls {
        case H5T_FLOAT:
            var spos = 0, epos = 0, esize = 0, mpos = 0, msize = 0
            guard H5Tget_fields(type, &spos, &epos, &esize, &mpos, &msize) >= 0 else { return nil }
            let bias = H5Tget_ebias(type)
            switch (size, spos, epos, esize, mpos, msize, bias) {
            case (4, 31, 23, 8, 0, 23, 127): return .float32
            case (8, 63, 52, 11, 0, 52, 1023): return .float64
            case (2, 15, 10, 5, 0, 10, 15): return .float16
            case (2, 15, 7, 8, 0, 7, 127): return .bfloat16
            default: return nil
            }
        case H5T_INTEGER:
            let signed = H5Tget_sign(type) == H5T_SGN_2
            switch (size, signed) {
            case (1, true): return .int8
            case (2, true): return .int16
            case (4, true): return .int32
            case (8, true): return .int64
            case (1, false): return .uint8
            default: return nil
            }
        case H5T_ENUM:
            guard size == 1, H5Tget_nmembers(type) == 2 else { return nil }
            return .bool
        default:
            return nil
        }
    }
}
