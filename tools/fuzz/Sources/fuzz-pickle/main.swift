import CLibFuzzer
import Containers
import Foundation

// One input per call. Inputs beginning with a zip local-header signature are written to a file
// and opened as a torch.save archive (zip reader, pickle, tensor bounds, every tensor read);
// anything else is decoded as a bare pickle. Errors are the expected outcome; crashes,
// sanitizer reports, hangs and unbounded memory are the bugs.

/// Smaller than the defaults so a fuzz input cannot spend seconds inside the limits.
let limits = PickleLimits(maxPickleBytes: 1 << 20, maxDepth: 200, maxMemoEntries: 1 << 16, maxNodes: 1 << 18, maxStringBytes: 1 << 20)
let scratch =
    (FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm" : ProcessInfo.processInfo.environment["TMPDIR"] ?? "/tmp") + "/ckpt-fuzz-\(getpid()).pt"

func archive(_ bytes: [UInt8]) {
    guard FileManager.default.createFile(atPath: scratch, contents: Data(bytes)) else { return }
    defer { unlink(scratch) }
    guard let a = try? TorchArchive(path: scratch, limits: limits) else { return }
    for (name, t) in a.root.tensorsWithPaths.prefix(64) {
        guard (try? a.check(t, name: name)) != nil, let dtype = TorchDTypeName.dtype(t.dtypeName) else { continue }
        let count = t.shape.reduce(1) { $0.multipliedReportingOverflow(by: $1).partialValue }
        guard count >= 0, count <= 1 << 16 else { continue }
        var out = [UInt8](repeating: 0, count: count * dtype.size)
        out.withUnsafeMutableBytes { b in _ = try? a.read(t, box: .whole(t.shape), into: b, name: name) }
    }
    if let c = try? TorchStateDictContainer(archive: a) {
        for t in c.tensors.prefix(16) where t.count <= 1 << 16 { _ = try? c.readAll(t.key) }
    }
}

/// libFuzzer's entry point (whichever `main` the linker keeps, libFuzzer's or the top-level code
/// below, ends up here).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    if bytes.starts(with: [0x50, 0x4B, 0x03, 0x04]) {
        archive(bytes)
    } else if let v = try? PickleReader.decode(bytes, path: "fuzz", entry: "input", limits: limits) {
        _ = v.tensorsWithPaths.count
        _ = try? PickleWriter.encode(v, path: "fuzz")
    }
    return 0
}

var argc = CommandLine.argc
var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
exit(LLVMFuzzerRunDriver(&argc, &argv) { fuzz($0, $1) })
