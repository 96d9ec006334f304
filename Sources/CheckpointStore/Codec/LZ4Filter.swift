import CHDF5
import Glibc

/// hdf5plugin's LZ4 HDF5 filter (id 32004, cd_values `[block size]`, 0 for one block per
/// chunk; format in `LZ4Chunk`), registered in-process so that HDF5 itself can decode and
/// encode such chunks on the paths that go through `H5Dread`/`H5Dwrite`, and so datasets using
/// it can be created. The corresponding C function is `H5Zregister`.
enum LZ4Filter {
    /// The registered filter id.
    static let id = H5Z_filter_t(LZ4Chunk.filterID)

    static func register() {
        HDF5FilterRegistration.register(id: id, name: filterName, filter: filterFunction)
    }

    private nonisolated(unsafe) static let filterName: UnsafeMutablePointer<CChar> = strdup("HDF5 lz4 filter (ckpt)")

    /// HDF5 filter callback. On failure it returns 0, which HDF5 treats as an error.
    private static let filterFunction: H5Z_func_t = { flags, cdNelmts, cdValues, nbytes, bufSize, buf in
        guard let buf, let bufSize, let input = buf.pointee else { return 0 }
        if flags & ckpt_H5Z_FLAG_REVERSE() != 0 {
            guard nbytes >= 8 else { return 0 }
            var declared: UInt64 = 0
            for k in 0..<8 { declared = declared << 8 | UInt64(input.load(fromByteOffset: k, as: UInt8.self)) }
            guard declared < 1 << 40, let out = H5allocate_memory(max(Int(declared), 1), false) else { return 0 }
            guard case .success(let n) = LZ4Chunk.decode(input, count: nbytes, into: out, capacity: Int(declared)) else {
                H5free_memory(out)
                return 0
            }
            H5free_memory(input)
            buf.pointee = out
            bufSize.pointee = max(Int(declared), 1)
            return n
        } else {
            let block = cdNelmts > 0 && cdValues != nil && cdValues![0] > 0 ? Int(cdValues![0]) : LZ4Chunk.defaultBlockSize
            let cap = LZ4Chunk.capacity(rawBytes: nbytes, blockSize: block)
            guard let out = H5allocate_memory(cap, false) else { return 0 }
            guard let n = LZ4Chunk.encode(input, count: nbytes, blockSize: block, into: out, capacity: cap) else {
                H5free_memory(out)
                return 0
            }
            H5free_memory(input)
            buf.pointee = out
            bufSize.pointee = cap
            return n
        }
    }
}
