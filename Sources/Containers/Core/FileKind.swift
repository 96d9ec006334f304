import CheckpointStore
import Glibc

/// What a file is, told from its first bytes (never from its name).
public enum FileKind: String, Sendable, Hashable {
    /// An HDF5 file (ckpt's format v1, or any other HDF5).
    case hdf5
    /// A Cerebras checkpoint (`cstorch.save`, format 0.5, `.mdl`): an HDF5 file in h5py's
    /// default file format (superblock version 0 or 1) whose root has the attributes `__spec__`
    /// and `__version__`.
    case cerebras
    /// A zip archive (`torch.save` since torch 1.6).
    case zip
    /// A safetensors file (an 8-byte header length followed by a JSON object).
    case safetensors
    /// A bare pickle (torch.save's legacy pre-1.6 format, or `pickle.dump`).
    case pickle
    /// None of the above.
    case unknown

    /// Sniffs the file at `path`. The corresponding C functions are `open`, `fstat` and `pread`.
    public static func sniff(_ path: String) throws(ContainerError) -> FileKind {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 { throw .io(path: path, detail: "cannot open: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var st = stat()
        if fstat(fd, &st) != 0 { throw .io(path: path, detail: "cannot stat: \(String(cString: strerror(errno)))") }
        if (st.st_mode & S_IFMT) == S_IFDIR { return .unknown }
        let size = Int(st.st_size)
        func bytes(_ offset: Int, _ n: Int) -> [UInt8] {
            guard offset + n <= size else { return [] }
            var b = [UInt8](repeating: 0, count: n)
            let got = b.withUnsafeMutableBytes { pread(fd, $0.baseAddress, n, off_t(offset)) }
            return got == n ? b : []
        }
        let hdf5: [UInt8] = [0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a]
        // HDF5's superblock sits at 0 or after a user block of 512, 1024, 2048, ... bytes.
        var at = 0
        while at + 8 <= size && at <= 1 << 20 {
            if bytes(at, 8) == hdf5 {
                // ckpt writes the 1.8 format (superblock 2); h5py, and so cstorch, the earliest
                // (0): only those are opened to look for cstorch's root attributes.
                if let v = bytes(at + 8, 1).first, v <= 1, HDF5DatasetFile.hasRootAttributes(path, ["__spec__", "__version__"]) {
                    return .cerebras
                }
                return .hdf5
            }
            at = at == 0 ? 512 : at * 2
        }
        let head = bytes(0, 9)
        if head.count == 9 {
            if head[0] == 0x50 && head[1] == 0x4b && (head[2], head[3]) == (3, 4) { return .zip }
            if head[0] == 0x50 && head[1] == 0x4b && (head[2], head[3]) == (5, 6) { return .zip }
            var n: UInt64 = 0
            for k in 0..<8 { n |= UInt64(head[k]) << (8 * UInt64(k)) }
            if n >= 2 && n <= 100_000_000 && n + 8 <= UInt64(size) {
                // The JSON object may be preceded by padding whitespace.
                let probe = bytes(8, Int(min(n, 64)))
                if let first = probe.first(where: { ![0x20, 0x09, 0x0a, 0x0d].contains($0) }), first == UInt8(ascii: "{") {
                    return .safetensors
                }
            }
            if head[0] == 0x80 && head[1] >= 2 && head[1] <= 5 { return .pickle }
        }
        return .unknown
    }
}
