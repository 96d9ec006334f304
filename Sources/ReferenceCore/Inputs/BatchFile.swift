import CHDF5
import CheckpointStore
import Foundation

/// Reads and writes batch files (`formats/batch-v1.md`): HDF5 with `/inputs` and `/targets`,
/// both integer `[B, T]`, read as int32.
public enum BatchFile {
    /// Root `format` attribute value of batch files.
    public static let formatName = "ckpt-batch"

    /// Reads `path`. The datasets may be any HDF5 integer type, contiguous or chunked with
    /// HDF5's built-in filters; values are converted to int32.
    public static func read(path: String) throws(ReferenceError) -> TokenBatch {
        HDF5Library.prepareThread()
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else { throw .store(.fileNotFound(path: path)) }
        guard !isDir.boolValue else { throw .invalidArgument("\(path): a directory, not a batch file") }
        HDF5Library.lock()  // every HDF5 call below, and the closes in the defers, inside the section
        defer { HDF5Library.unlock() }
        guard H5Fis_hdf5(path) > 0 else { throw .badBatch(path: path, detail: "not an HDF5 file") }
        let f = HDF5FileAccess.open(path, flags: ckpt_H5F_ACC_RDONLY())
        guard f >= 0 else { throw .hdf5(path: path, operation: "H5Fopen") }
        defer { H5Fclose(f) }
        let (inShape, inputs) = try readInts(f, "inputs", path: path)
        let (tShape, targets) = try readInts(f, "targets", path: path)
        guard inShape == tShape else {
            throw .badBatch(path: path, detail: "inputs \(inShape) and targets \(tShape) differ in shape")
        }
        return TokenBatch(batchSize: inShape[0], sequenceLength: inShape[1], inputs: inputs, targets: targets)
    }

    private static func readInts(_ f: hid_t, _ name: String, path: String) throws(ReferenceError) -> ([Int], [Int32]) {
        guard H5Lexists(f, name, ckpt_H5P_DEFAULT()) > 0 else { throw .badBatch(path: path, detail: "no /\(name) dataset") }
        let ds = H5Dopen2(f, name, ckpt_H5P_DEFAULT())
        guard ds >= 0 else { throw .hdf5(path: path, operation: "H5Dopen /\(name)") }
        defer { H5Dclose(ds) }
        let type = H5Dget_type(ds)
        defer { H5Tclose(type) }
        guard H5Tget_class(type) == H5T_INTEGER else { throw .badBatch(path: path, detail: "/\(name) is not an integer dataset") }
        let space = H5Dget_space(ds)
        defer { H5Sclose(space) }
        guard H5Sget_simple_extent_ndims(space) == 2 else { throw .badBatch(path: path, detail: "/\(name) must have rank 2 [B,T]") }
        var dims = [hsize_t](repeating: 0, count: 2)
        H5Sget_simple_extent_dims(space, &dims, nil)
        let shape = dims.map { Int($0) }
        var values = [Int32](repeating: 0, count: shape[0] * shape[1])
        if !values.isEmpty {
            guard H5Dread(ds, ckpt_H5T_NATIVE_INT32(), ckpt_H5S_ALL(), ckpt_H5S_ALL(), ckpt_H5P_DEFAULT(), &values) >= 0 else {
                throw .hdf5(path: path, operation: "H5Dread /\(name)")
            }
        }
        return (shape, values)
    }

    /// Writes `batch` to `path` (replacing it): contiguous int32 little-endian datasets and
    /// root attributes `format` = "ckpt-batch", `format_version` = 1.
    public static func write(_ batch: TokenBatch, to path: String) throws(ReferenceError) {
        HDF5Library.prepareThread()
        HDF5Library.lock()
        defer { HDF5Library.unlock() }
        let f = HDF5FileAccess.create(path, flags: ckpt_H5F_ACC_TRUNC())
        guard f >= 0 else { throw .hdf5(path: path, operation: "H5Fcreate") }
        defer { H5Fclose(f) }
        let dims = [hsize_t(batch.batchSize), hsize_t(batch.sequenceLength)]
        for (name, values) in [("inputs", batch.inputs), ("targets", batch.targets)] {
            let space = H5Screate_simple(2, dims, nil)
            defer { H5Sclose(space) }
            let ds = H5Dcreate2(f, name, ckpt_H5T_STD_I32LE(), space, ckpt_H5P_DEFAULT(), ckpt_H5P_DEFAULT(), ckpt_H5P_DEFAULT())
            guard ds >= 0 else { throw .hdf5(path: path, operation: "H5Dcreate /\(name)") }
            defer { H5Dclose(ds) }
            guard H5Dwrite(ds, ckpt_H5T_NATIVE_INT32(), ckpt_H5S_ALL(), ckpt_H5S_ALL(), ckpt_H5P_DEFAULT(), values) >= 0 else {
                throw .hdf5(path: path, operation: "H5Dwrite /\(name)")
            }
        }
        guard writeRootAttributes(f) else { throw .hdf5(path: path, operation: "writing root attributes") }
        H5Fflush(f, H5F_SCOPE_GLOBAL)
    }

    private static func writeRootAttributes(_ f: hid_t) -> Bool {
        let st = H5Tcopy(ckpt_H5T_C_S1())
        defer { H5Tclose(st) }
        H5Tset_size(st, ckpt_H5T_VARIABLE())
        H5Tset_cset(st, H5T_CSET_UTF8)
        let scalar = H5Screate(H5S_SCALAR)
        defer { H5Sclose(scalar) }
        let a = H5Acreate2(f, "format", st, scalar, ckpt_H5P_DEFAULT(), ckpt_H5P_DEFAULT())
        guard a >= 0 else { return false }
        let ok1 = formatName.withCString { c -> Bool in
            var p: UnsafePointer<CChar>? = c
            return H5Awrite(a, st, &p) >= 0
        }
        H5Aclose(a)
        let v = H5Acreate2(f, "format_version", ckpt_H5T_STD_I64LE(), scalar, ckpt_H5P_DEFAULT(), ckpt_H5P_DEFAULT())
        guard v >= 0 else { return false }
        var one: Int64 = 1
        let ok2 = H5Awrite(v, ckpt_H5T_NATIVE_INT64(), &one) >= 0
        H5Aclose(v)
        return ok1 && ok2
    }
}
