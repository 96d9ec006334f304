import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// The scratch file of `ClippingStrategy.spill`: each final gradient is appended as raw fp32
/// and read back by name once the global norm is known. The file is unlinked as soon as it is
/// created, so it disappears when the step ends however it ends (a crash or a kill included);
/// only the open descriptor keeps its blocks.
final class GradientSpill {
    private let fd: Int32
    private let directory: String
    private var extents: [String: (offset: Int, count: Int)] = [:]
    private var end = 0
    /// Bytes written so far.
    var bytes: Int { end }

    /// A new, already unlinked spill file in `directory`.
    init(directory: String) throws(ReferenceError) {
        self.directory = directory
        var template = Array((directory.hasSuffix("/") ? directory : directory + "/").utf8CString.dropLast()) + Array("ckpt-spill-XXXXXX".utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard fd >= 0 else { throw .invalidArgument("\(directory): cannot create a gradient spill file (\(String(cString: strerror(errno)))); pass --scratch-dir or --clipping two-pass") }
        let name = template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        unlink(name)
        self.fd = fd
    }

    deinit { close(fd) }

    /// Appends the gradient of `name`.
    func write(_ name: String, _ values: UnsafeBufferPointer<Float>) throws(ReferenceError) {
        let raw = UnsafeRawBufferPointer(values)
        var done = 0
        while done < raw.count {
            let n = pwrite(fd, raw.baseAddress! + done, raw.count - done, off_t(end + done))
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw failure("writing", name) }
            done += n
        }
        extents[name] = (end, values.count)
        end += raw.count
    }

    /// Reads the gradient of `name` back into `out` (its element count).
    func read(_ name: String, into out: UnsafeMutableBufferPointer<Float>) throws(ReferenceError) {
        guard let e = extents[name], e.count == out.count else {
            throw .invalidArgument("\(directory): gradient spill holds no \(out.count)-element gradient of \(name)")
        }
        let raw = UnsafeMutableRawBufferPointer(out)
        var done = 0
        while done < raw.count {
            let n = pread(fd, raw.baseAddress! + done, raw.count - done, off_t(e.offset + done))
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw failure("reading", name) }
            done += n
        }
    }

    private func failure(_ what: String, _ name: String) -> ReferenceError {
        let reason = errno == 0 ? "short transfer" : String(cString: strerror(errno))
        return .invalidArgument("\(directory): \(what) the gradient of \(name) in the spill file failed (\(reason)); free space there, pass --scratch-dir or --clipping two-pass")
    }
}
