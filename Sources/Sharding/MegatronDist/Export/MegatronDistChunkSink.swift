import CheckpointStore
import Containers
import Glibc

/// The byte stream of one rank-local tensor of a `torch_dist` export, routed into its DCP
/// chunks: the chunks are row slices of the stream, opened in the shared DCP writer as the
/// stream reaches them. Chunks of a second global tensor over the same rows (the `param` state
/// of a float32 parameter, written from the model tensor) are spooled to an unlinked temporary
/// file beside the output and written after the first tensor's chunks.
final class MegatronDistChunkSink: TensorByteSink {
    private let dcp: DCPCheckpointWriter
    private let rowBytes: Int
    private let totalBytes: Int
    private let primary: [MegatronDistExportPlan.Chunk]
    private let spooled: [MegatronDistExportPlan.Chunk]
    private let path: String
    private var position = 0
    private var next = 0
    private var open: (any TensorByteSink, end: Int)?
    private var spool: Int32 = -1
    private var finished = false

    /// Routes a stream of `rows` x `rowBytes` bytes into `chunks` (in row order; chunks of a
    /// global tensor other than the first one's are spooled). `spoolDirectory` holds the spool.
    init(dcp: DCPCheckpointWriter, chunks: [MegatronDistExportPlan.Chunk], rows: Int, rowBytes: Int, spoolDirectory: String, path: String)
        throws(ContainerError)
    {
        self.dcp = dcp
        self.rowBytes = rowBytes
        self.path = path
        totalBytes = rows * rowBytes
        let first = chunks.first?.fqn
        primary = chunks.filter { $0.fqn == first }.sorted { $0.rows.lowerBound < $1.rows.lowerBound }
        spooled = chunks.filter { $0.fqn != first }.sorted { $0.rows.lowerBound < $1.rows.lowerBound }
        if !spooled.isEmpty {
            var template = Array((spoolDirectory + "/.ckpt-spool-XXXXXX").utf8CString)
            let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
            guard fd >= 0 else { throw .io(path: spoolDirectory, detail: "cannot create a spool file: \(String(cString: strerror(errno)))") }
            template.withUnsafeBufferPointer { _ = unlink($0.baseAddress!) }
            spool = fd
        }
    }

    deinit { if spool >= 0 { close(spool) } }

    func append(_ bytes: UnsafeRawBufferPointer) throws(ContainerError) {
        guard !finished, position + bytes.count <= totalBytes else {
            throw .malformed(path: path, detail: "more bytes than the tensor's \(totalBytes)")
        }
        if spool >= 0 { try writeAll(spool, bytes) }
        var offset = 0
        while offset < bytes.count {
            if open == nil { try openNext() }
            guard let (sink, end) = open else {
                // Bytes no chunk takes (a replica's): skipped.
                position += bytes.count - offset
                return
            }
            let n = min(bytes.count - offset, end - position)
            try sink.append(UnsafeRawBufferPointer(rebasing: bytes[offset..<offset + n]))
            position += n
            offset += n
            if position == end {
                try sink.finish()
                open = nil
            }
        }
    }

    func finish() throws(ContainerError) {
        guard !finished else { return }
        guard position == totalBytes, open == nil, next == primary.count else {
            throw .malformed(path: path, detail: "the tensor ended after \(position) of \(totalBytes) bytes")
        }
        finished = true
        guard spool >= 0 else { return }
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        for c in spooled {
            let sink = try dcp.beginChunk(c.fqn, box: c.box)
            var at = c.rows.lowerBound * rowBytes
            let end = c.rows.upperBound * rowBytes
            while at < end {
                let n = min(buffer.count, end - at)
                let got = buffer.withUnsafeMutableBytes { pread(spool, $0.baseAddress, n, off_t(at)) }
                guard got == n else { throw .io(path: path, detail: "spool read failed") }
                let failure: ContainerError? = buffer.withUnsafeBytes { b in
                    do throws(ContainerError) {
                        try sink.append(UnsafeRawBufferPointer(rebasing: b[0..<n]))
                        return nil
                    } catch { return error }
                }
                if let failure { throw failure }
                at += n
            }
            try sink.finish()
        }
    }

    /// Opens the chunk starting at the current position (skipping to it when rows before it
    /// are not written).
    private func openNext() throws(ContainerError) {
        guard next < primary.count else { return }
        let c = primary[next]
        let start = c.rows.lowerBound * rowBytes
        guard start == position else {
            throw .malformed(path: path, detail: "chunk \(c.box) of \(c.fqn) starts at byte \(start), the stream is at \(position)")
        }
        open = (try dcp.beginChunk(c.fqn, box: c.box), c.rows.upperBound * rowBytes)
        next += 1
    }

    private func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) throws(ContainerError) {
        var done = 0
        while done < bytes.count {
            let n = Glibc.write(fd, bytes.baseAddress! + done, bytes.count - done)
            if n < 0 {
                if errno == EINTR { continue }
                throw .io(path: path, detail: "spool write failed: \(String(cString: strerror(errno)))")
            }
            done += n
        }
    }
}
