import CHDF5
import CZstd
import Glibc

/// The zstd HDF5 filter (id 32015, cd_values `[level]`, one zstd frame per chunk), registered
/// in-process so that HDF5 itself can decode (and encode) chunks of files written by
/// h5py + hdf5plugin on the paths that go through `H5Dread`/`H5Dwrite`.
///
/// The corresponding C function is `H5Zregister`.
enum ZstdFilter {
    /// The registered filter id.
    static let id: H5Z_filter_t = 32015

    static func register() {
        HDF5FilterRegistration.register(id: id, name: filterName, filter: filterFunction)
    }

    private nonisolated(unsafe) static let filterName: UnsafeMutablePointer<CChar> = strdup("Zstandard (ckpt)")

    /// HDF5 filter callback. On failure it returns 0, which HDF5 treats as an error.
    private static let filterFunction: H5Z_func_t = { flags, cdNelmts, cdValues, nbytes, bufSize, buf in
        guard let buf, let bufSize, let input = buf.pointee else { return 0 }
        if flags & ckpt_H5Z_FLAG_REVERSE() != 0 {
            let declared = ZSTD_getFrameContentSize(input, nbytes)
            if declared < UInt64.max - 1 {
                let size = Int(declared)
                guard let out = H5allocate_memory(max(size, 1), false) else { return 0 }
                let n = ZSTD_decompress(out, size, input, nbytes)
                if ZSTD_isError(n) != 0 || n != size {
                    H5free_memory(out)
                    return 0
                }
                H5free_memory(input)
                buf.pointee = out
                bufSize.pointee = size
                return size
            }
            // Content size not recorded in the frame: stream into a growing buffer.
            guard let ds = ZSTD_createDStream() else { return 0 }
            defer { ZSTD_freeDStream(ds) }
            var cap = max(nbytes * 4, 1 << 16)
            guard var out = H5allocate_memory(cap, false) else { return 0 }
            var inb = ZSTD_inBuffer(src: input, size: nbytes, pos: 0)
            var produced = 0
            while true {
                var outb = ZSTD_outBuffer(dst: out + produced, size: cap - produced, pos: 0)
                let r = ZSTD_decompressStream(ds, &outb, &inb)
                if ZSTD_isError(r) != 0 {
                    H5free_memory(out)
                    return 0
                }
                produced += outb.pos
                if r == 0 { break }
                if inb.pos == inb.size && outb.pos < outb.size {
                    H5free_memory(out)
                    return 0
                }
                if produced == cap {
                    guard let bigger = H5resize_memory(out, cap * 2) else {
                        H5free_memory(out)
                        return 0
                    }
                    out = bigger
                    cap *= 2
                }
            }
            H5free_memory(input)
            buf.pointee = out
            bufSize.pointee = cap
            return produced
        } else {
            let level = cdNelmts > 0 && cdValues != nil ? Int32(bitPattern: cdValues![0]) : 3
            let bound = ZSTD_compressBound(nbytes)
            guard let out = H5allocate_memory(bound, false) else { return 0 }
            let n = ZSTD_compress(out, bound, input, nbytes, level)
            if ZSTD_isError(n) != 0 {
                H5free_memory(out)
                return 0
            }
            H5free_memory(input)
            buf.pointee = out
            bufSize.pointee = bound
            return n
        }
    }
}
