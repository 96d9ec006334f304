import CheckpointStore
import Containers
import Foundation

/// Smaller than the defaults so a fuzz input cannot spend seconds inside the limits.
let limits = DCPLimits(
    maxMetadataBytes: 1 << 20, maxEntries: 4096, maxChunksPerTensor: 4096, maxChunks: 1 << 14, maxRank: 16, maxFiles: 64,
    maxOverlapComparisons: 1 << 20, maxBytesItem: 1 << 20, maxDecodedItemBytes: 1 << 22, maxScratchBytes: 4096,
    pickle: PickleLimits(maxPickleBytes: 1 << 20, maxDepth: 200, maxMemoEntries: 1 << 16, maxNodes: 1 << 18, maxStringBytes: 1 << 20))
let scratch =
    (FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm" : ProcessInfo.processInfo.environment["TMPDIR"] ?? "/tmp") + "/ckpt-fuzz-dcp-\(getpid())"

func oneLine(_ e: ContainerError) {
    guard !e.description.contains("\n") else { fatalError("multi-line error: \(e.description)") }
}

/// A decoded metadata must satisfy what the decoder promises: every tensor's chunks tile it,
/// and encoding it (the writer's pickle) decodes to the same tensors and bytes items.
func checkMetadata(_ md: DCPMetadata) {
    for t in md.tensors {
        do { try DCPChunkGeometry.check(t, path: "fuzz", limits: limits) } catch { fatalError("accepted chunks that do not tile: \(error)") }
    }
    do {
        let again = try DCPMetadata.decode(try md.encode(path: "fuzz"), path: "fuzz", limits: limits)
        guard again.tensors == md.tensors, again.bytesItems == md.bytesItems, again.version == md.version else {
            fatalError("metadata changed through encode and decode")
        }
    } catch {
        fatalError("re-encoded metadata refused: \(error)")
    }
}

/// `DCP1` + a 4-byte little-endian length + that many bytes of `.metadata` + the bytes of
/// `__0_0.distcp`: the whole checkpoint is opened and every small tensor and bytes item read.
func checkpoint(_ bytes: [UInt8]) {
    guard bytes.count >= 8 else { return }
    let n = Int(bytes[4]) | Int(bytes[5]) << 8 | Int(bytes[6]) << 16 | Int(bytes[7]) << 24
    guard n <= bytes.count - 8 else { return }
    try? FileManager.default.removeItem(atPath: scratch)
    guard (try? FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: false)) != nil else { return }
    defer { try? FileManager.default.removeItem(atPath: scratch) }
    _ = FileManager.default.createFile(atPath: scratch + "/.metadata", contents: Data(bytes[8..<(8 + n)]))
    _ = FileManager.default.createFile(atPath: scratch + "/__0_0.distcp", contents: Data(bytes[(8 + n)...]))
    let c: DCPCheckpoint
    do { c = try DCPCheckpoint(path: scratch, limits: limits) } catch {
        oneLine(error)
        return
    }
    checkMetadata(c.metadata)
    for t in c.tensors.prefix(32) where t.byteCount <= 1 << 16 {
        do throws(ContainerError) {
            let whole = try c.readAll(t.key)
            // A box of the last half of every dimension, through the resharding read.
            let box = TensorBox(offsets: t.shape.map { $0 / 2 }, sizes: t.shape.map { $0 - $0 / 2 })
            var part = [UInt8](repeating: 0, count: box.count * t.dtype.size)
            let failure: ContainerError? = part.withUnsafeMutableBytes { b in
                do throws(ContainerError) {
                    try c.read(t.key, box: box, into: b)
                    return nil
                } catch { return error }
            }
            if let failure { throw failure }
            _ = whole.count
        } catch {
            oneLine(error)
        }
    }
    for b in c.metadata.bytesItems.prefix(16) {
        do { _ = try c.bytesArchive(b.fqn).root } catch { oneLine(error) }
    }
}

/// libFuzzer entry: the input as a `.metadata` pickle, or (`DCP1` prefix) as a whole
/// one-file checkpoint. Errors are the expected outcome; crashes, sanitizer reports, hangs
/// and unbounded memory are the bugs.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzDCPMetadata(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    if bytes.starts(with: Array("DCP1".utf8)) {
        checkpoint(bytes)
        return 0
    }
    do { checkMetadata(try DCPMetadata.decode(bytes, path: "fuzz", limits: limits)) } catch { oneLine(error) }
    return 0
}
