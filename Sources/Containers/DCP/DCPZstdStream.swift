import CZstd
import Glibc

/// Decodes a `stream.zstd/1` item (torch >= 2.8 `ZStandard` extension: the item's bytes as one
/// or more zstd frames) into an unlinked temporary file, streaming in 1 MiB pieces, so a large
/// chunk never sits in memory whole. The file is created under `$TMPDIR` (default `/tmp`) and
/// unlinked at once (nothing is left behind even after a crash); it is reopened through
/// `/proc/self/fd` and its space is freed when the returned `RandomAccessFile` is released.
enum DCPZstdStream {
    static let pieceBytes = 1 << 20

    /// The decoded bytes of `range` of `file`; `fail(detail)` makes the error naming the item.
    static func decode(
        _ file: RandomAccessFile, range: Range<Int>, maxBytes: Int, fail: (String) -> ContainerError
    ) throws(ContainerError) -> RandomAccessFile {
        let dir = getenv("TMPDIR").map { String(cString: $0) }.flatMap { $0.isEmpty ? nil : $0 } ?? "/tmp"
        var template = Array((dir + "/ckpt-dcp-item-XXXXXX").utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        if fd < 0 { throw .io(path: dir, detail: "cannot create a temporary file to decode a zstd item: \(String(cString: strerror(errno)))") }
        template.withUnsafeBufferPointer { _ = unlink($0.baseAddress!) }
        defer { close(fd) }
        let tmp = "/proc/self/fd/\(fd)"
        guard let stream = ZSTD_createDStream() else { throw .io(path: file.path, detail: "zstd could not allocate a decoder") }
        defer { ZSTD_freeDStream(stream) }
        ZSTD_initDStream(stream)
        let input = UnsafeMutableRawBufferPointer.allocate(byteCount: pieceBytes, alignment: 64)
        let output = UnsafeMutableRawBufferPointer.allocate(byteCount: pieceBytes, alignment: 64)
        defer {
            input.deallocate()
            output.deallocate()
        }
        var at = range.lowerBound
        var produced = 0
        var last: Int = 0  // ZSTD_decompressStream's last hint: 0 when a frame just ended
        var sawInput = false
        while at < range.upperBound {
            let n = min(pieceBytes, range.upperBound - at)
            try file.read(at: at, into: UnsafeMutableRawBufferPointer(rebasing: input[0..<n]))
            at += n
            sawInput = true
            var inBuf = ZSTD_inBuffer(src: UnsafeRawPointer(input.baseAddress), size: n, pos: 0)
            repeat {
                var outBuf = ZSTD_outBuffer(dst: output.baseAddress, size: pieceBytes, pos: 0)
                let r = ZSTD_decompressStream(stream, &outBuf, &inBuf)
                if ZSTD_isError(r) != 0 { throw fail("its zstd stream is damaged (\(String(cString: ZSTD_getErrorName(r))))") }
                last = r
                produced += outBuf.pos
                guard produced <= maxBytes else { throw fail("its zstd stream decodes to more than the limit of \(maxBytes) bytes") }
                try writeAll(fd, output.baseAddress!, outBuf.pos, path: tmp)
                if outBuf.pos < pieceBytes && inBuf.pos == inBuf.size { break }
            } while true
        }
        guard sawInput, last == 0 else { throw fail("its zstd stream is truncated (the last frame does not end)") }
        return try RandomAccessFile(path: tmp)
    }

    /// The corresponding C function is `write` (retried on `EINTR` and short writes).
    static func writeAll(_ fd: Int32, _ p: UnsafeMutableRawPointer, _ n: Int, path: String) throws(ContainerError) {
        var done = 0
        while done < n {
            let w = write(fd, p + done, n - done)
            if w < 0 {
                if errno == EINTR { continue }
                throw .io(path: path, detail: "write failed while decoding a zstd item: \(String(cString: strerror(errno)))")
            }
            done += w
        }
    }
}
