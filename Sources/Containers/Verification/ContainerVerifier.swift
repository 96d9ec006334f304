import CheckpointStore

/// Verifies a container of a format without ckpt's checksums (safetensors, `torch.save`): its
/// structure was validated when it was opened (header, offsets, storages inside the file);
/// this reads every tensor in bounded blocks, which also checks every byte is readable, and
/// counts NaN/Inf values. It cannot detect changed values: the report says so.
///
/// A ckpt HDF5 file is verified by `CheckpointVerifier` instead (chunk checksums, xxh3_64,
/// metadata checksum); `verify(_:)` refuses nothing, but for such a file it only reads.
public struct ContainerVerifier: Sendable {
    /// Whether NaN/Inf values fail the check.
    public var rejectNonFinite = true
    /// Bytes read at a time per tensor.
    public var blockBytes = 16 << 20
    /// Called with (bytes done, total bytes) after each block.
    public var progress: (@Sendable (Int, Int) -> Void)?

    /// Creates a verifier with the defaults.
    public init() {}

    /// Reads every tensor of `container`.
    public func verify(_ container: any TensorContainer) -> VerificationReport {
        var report = VerificationReport(path: container.path)
        report.metadataChecksum = container.verifiesChecksums ? "unchecked" : "none"
        if !container.verifiesChecksums {
            report.tensorsWithoutChecksum = container.tensors.count
            report.notes.append(
                "\(container.formatName) files store no checksums: the structure and every tensor's bounds were validated and every byte was read, but changed values cannot be detected"
            )
        }
        let total = container.tensors.reduce(0) { $0 + $1.byteCount }
        var done = 0
        var buffer = [UInt8]()
        for t in container.tensors {
            let rows = t.shape.first ?? 1
            let rowBytes = max(1, t.byteCount / max(1, rows))
            let step = t.shape.isEmpty ? 1 : max(1, blockBytes / rowBytes)
            var nonFinite = 0
            var failed = false
            var r0 = 0
            repeat {
                let r1 = t.shape.isEmpty ? 1 : min(rows, r0 + step)
                let box = t.shape.isEmpty ? TensorBox.whole([]) : TensorBox.rows(r0..<r1, of: t.shape)
                let n = box.count * t.dtype.size
                if buffer.count < n { buffer = [UInt8](repeating: 0, count: n) }
                let failure: ContainerError? = buffer.withUnsafeMutableBytes { b in
                    do throws(ContainerError) {
                        let part = UnsafeMutableRawBufferPointer(rebasing: b[0..<n])
                        try container.read(t.key, box: box, into: part)
                        nonFinite += CheckpointVerifier.countNonFinite(UnsafeRawBufferPointer(part), t.dtype)
                        return nil
                    } catch { return error }
                }
                if let failure {
                    report.failures.append(.init(tensor: t.key.description, check: "read", message: failure.description))
                    failed = true
                    break
                }
                done += n
                progress?(done, total)
                r0 = r1
            } while r0 < rows
            if failed { continue }
            report.tensorsChecked += 1
            report.bytesChecked += t.byteCount
            if nonFinite > 0 && rejectNonFinite {
                report.failures.append(
                    .init(tensor: t.key.description, check: "nonfinite", message: "\(container.path): tensor \(t.key): \(nonFinite) NaN/Inf values"))
            }
        }
        return report
    }
}
