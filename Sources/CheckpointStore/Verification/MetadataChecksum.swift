import CHDF5
import Glibc

/// Format v1.1's metadata checksum: XXH3-64 of a canonical serialisation of every root
/// attribute, the path, shape and attributes of every dataset under `/model`, `/optimizer` and
/// `/rng`, and the bytes of every `/rng` dataset (`formats/checkpoint-v1.md`, section 13).
/// `tools/ckpt_reader.py` (`metadata_serialisation`) computes the same bytes from h5py.
enum MetadataChecksum {
    /// Root attribute holding the checksum (`H5T_STD_U64LE`).
    static let attribute = "metadata_xxh3_64"
    /// Root attribute holding the minor format version (`H5T_STD_I64LE`); 1 = v1.1.
    static let minorAttribute = "format_minor"
    /// The minor version this build writes.
    static let minorVersion: Int64 = 1
    /// The groups whose datasets are covered.
    static let groups = ["model", "optimizer", "rng"]
    /// First bytes of the serialisation.
    static let magic = Array("ckpt-metadata-v1.1\n".utf8)
    /// Largest `/rng` dataset hashed (a damaged dataspace must not make the verifier allocate
    /// terabytes): 1 GiB.
    static let maxRNGBytes = 1 << 30

    /// The XXH3-64 of the file's metadata serialisation; throws a one-line reason when some
    /// covered object cannot be read.
    static func compute(file: hid_t) throws(MetadataReadError) -> UInt64 {
        let bytes = try serialise(file: file)
        return bytes.withUnsafeBytes { XXH3Hasher.hash($0) }
    }

    /// The serialisation itself (section 13 of the format document).
    static func serialise(file: hid_t) throws(MetadataReadError) -> [UInt8] {
        var out = MetadataBytes(magic)
        var paths: [[UInt8]] = [Array("/".utf8)]
        for g in groups where H5Lexists(file, g, ckpt_H5P_DEFAULT()) > 0 {
            for p in try datasetPaths(file: file, group: g) { paths.append(Array("/\(g)/".utf8) + p) }
        }
        paths.sort { $0.lexicographicallyPrecedes($1) }
        for p in paths {
            out.tag("O")
            out.string(p)
            let name = String(decoding: p, as: UTF8.self)
            let cpath = p + [0]
            let isRoot = p == Array("/".utf8)
            guard
                let obj = cpath.withUnsafeBufferPointer({ b in
                    b.withMemoryRebound(to: CChar.self) { H5Object(H5Oopen(file, $0.baseAddress!, ckpt_H5P_DEFAULT()), .object) }
                })
            else { throw MetadataReadError("\(name) cannot be opened") }
            if !isRoot {
                guard let space = H5Object(H5Dget_space(obj.id), .dataspace) else { throw MetadataReadError("\(name): dataspace unreadable") }
                let rank = Int(H5Sget_simple_extent_ndims(space.id))
                guard rank >= 0 else { throw MetadataReadError("\(name): dataspace unreadable") }
                var dims = [hsize_t](repeating: 0, count: rank)
                if rank > 0 { H5Sget_simple_extent_dims(space.id, &dims, nil) }
                out.tag("S")
                out.u64(UInt64(rank))
                for d in dims { out.u64(UInt64(d)) }
            }
            for attr in try attributeNames(obj.id, object: name) where !(isRoot && attr == Array(attribute.utf8)) {
                out.tag("A")
                out.string(attr)
                try value(obj.id, attr, object: name, into: &out)
            }
            if p.starts(with: Array("/rng/".utf8)) {
                out.tag("D")
                out.string(try rngBytes(obj.id, name: name))
            }
        }
        return out.bytes
    }

    /// Dataset paths below `group` (hard links only), relative to it, as stored bytes.
    private static func datasetPaths(file: hid_t, group: String) throws(MetadataReadError) -> [[UInt8]] {
        let listing = DatasetListing(file: file, group: group)
        if listing.failed { throw MetadataReadError(listing.groupUnreadable ? "group /\(group) unreadable" : "cannot list /\(group)") }
        return listing.names
    }

    /// The names of an object's attributes, as stored bytes, in bytewise order.
    /// The corresponding C function is `H5Aiterate2`.
    private static func attributeNames(_ obj: hid_t, object: String) throws(MetadataReadError) -> [[UInt8]] {
        final class Collector { var names: [[UInt8]] = [] }
        let c = Collector()
        let rc = withExtendedLifetime(c) { () -> herr_t in
            H5Aiterate2(
                obj, H5_INDEX_NAME, H5_ITER_INC, nil,
                { _, name, _, op in
                    guard let name, let op else { return -1 }
                    let bytes = UnsafeRawBufferPointer(start: name, count: strlen(name))
                    Unmanaged<Collector>.fromOpaque(op).takeUnretainedValue().names.append(Array(bytes))
                    return 0
                }, Unmanaged.passUnretained(c).toOpaque())
        }
        if rc < 0 { throw MetadataReadError("\(object): attributes unreadable") }
        return c.names.sorted { $0.lexicographicallyPrecedes($1) }
    }

    /// Appends the value record of one attribute (`s`, `i`, `u`, `f` or `?`).
    private static func value(_ obj: hid_t, _ name: [UInt8], object: String, into out: inout MetadataBytes) throws(MetadataReadError) {
        let label = "\(object): attribute \(String(decoding: name, as: UTF8.self))"
        let cname = (name + [0]).map { CChar(bitPattern: $0) }
        guard let attr = H5Object(H5Aopen(obj, cname, ckpt_H5P_DEFAULT()), .attribute),
            let ftype = H5Object(H5Aget_type(attr.id), .datatype),
            let space = H5Object(H5Aget_space(attr.id), .dataspace)
        else { throw MetadataReadError("\(label) unreadable") }
        let cls = H5Tget_class(ftype.id)
        guard cls.rawValue >= 0 else { throw MetadataReadError("\(label): datatype unreadable") }
        guard H5Sget_simple_extent_type(space.id) == H5S_SCALAR, [H5T_STRING, H5T_INTEGER, H5T_FLOAT].contains(cls) else {
            out.tag("?")
            out.u64(UInt64(cls.rawValue))
            out.u64(UInt64(max(0, H5Sget_simple_extent_npoints(space.id))))
            return
        }
        switch cls {
        case H5T_STRING:
            out.tag("s")
            if H5Tis_variable_str(ftype.id) > 0 {
                guard let mtype = H5Object(H5Tcopy(ckpt_H5T_C_S1()), .datatype) else { throw MetadataReadError("\(label) unreadable") }
                H5Tset_size(mtype.id, ckpt_H5T_VARIABLE())
                H5Tset_cset(mtype.id, H5Tget_cset(ftype.id))
                var p: UnsafeMutablePointer<CChar>? = nil
                guard H5Aread(attr.id, mtype.id, &p) >= 0 else { throw MetadataReadError("\(label) unreadable") }
                defer { if let p { H5free_memory(p) } }
                out.string(p.map { Array(UnsafeRawBufferPointer(start: $0, count: strlen($0))) } ?? [])
            } else {
                let size = H5Tget_size(ftype.id)
                guard size > 0 && size <= maxRNGBytes else { throw MetadataReadError("\(label): string size unreadable") }
                var buf = [UInt8](repeating: 0, count: size)
                guard H5Aread(attr.id, ftype.id, &buf) >= 0 else { throw MetadataReadError("\(label) unreadable") }
                out.string(Array(buf[..<(buf.firstIndex(of: 0) ?? size)]))
            }
        case H5T_INTEGER:
            if H5Tget_sign(ftype.id) == H5T_SGN_NONE {
                var v: UInt64 = 0
                guard H5Aread(attr.id, ckpt_H5T_NATIVE_UINT64(), &v) >= 0 else { throw MetadataReadError("\(label) unreadable") }
                out.tag("u")
                out.u64(v)
            } else {
                var v: Int64 = 0
                guard H5Aread(attr.id, ckpt_H5T_NATIVE_INT64(), &v) >= 0 else { throw MetadataReadError("\(label) unreadable") }
                out.tag("i")
                out.u64(UInt64(bitPattern: v))
            }
        default:
            var v: Double = 0
            guard H5Aread(attr.id, ckpt_H5T_NATIVE_DOUBLE(), &v) >= 0 else { throw MetadataReadError("\(label) unreadable") }
            out.tag("f")
            out.u64(v.bitPattern)
        }
    }

    /// All elements of an `/rng` dataset as uint8.
    private static func rngBytes(_ ds: hid_t, name: String) throws(MetadataReadError) -> [UInt8] {
        guard let space = H5Object(H5Dget_space(ds), .dataspace) else { throw MetadataReadError("\(name): dataspace unreadable") }
        let n = Int(H5Sget_simple_extent_npoints(space.id))
        guard n >= 0 && n <= maxRNGBytes else { throw MetadataReadError("\(name) claims \(n) elements") }
        var bytes = [UInt8](repeating: 0, count: n)
        if n > 0 && H5Dread(ds, ckpt_H5T_NATIVE_UINT8(), ckpt_H5S_ALL(), ckpt_H5S_ALL(), ckpt_H5P_DEFAULT(), &bytes) < 0 {
            throw MetadataReadError("\(name) unreadable")
        }
        return bytes
    }
}
