import CChunkKernels

/// Verifies checkpoints: every chunk's Fletcher32 and every tensor's xxh3_64 recomputed by
/// reading all data (streamed in row blocks, so memory stays bounded), floats scanned for
/// NaN/Inf, shapes checked against `model_config` (wafer layout), and the root counts checked.
public struct CheckpointVerifier: Sendable {
    /// Bytes read per block while streaming a tensor.
    public var blockBytes = 64 << 20
    /// Whether NaN/Inf values fail the check.
    public var rejectNonFinite = true
    /// Called after each tensor with (bytes checked so far, bytes of all tensors).
    public var progress: (@Sendable (_ done: Int, _ total: Int) -> Void)?
    /// Whether optimizer state missing for some parameters (while present for others) is only
    /// noted instead of failing the check.
    public var allowPartial = false
    /// Called once the metadata and the file's structure are checked, before any tensor data is
    /// read (what a time limit on a possibly malformed file's metadata phase waits for).
    public var metadataChecked: (@Sendable () -> Void)?

    /// Creates a verifier.
    public init() {}

    /// Verifies `path`. Errors that prevent opening the file become `open` failures in the
    /// report, except a missing file, which is thrown (an I/O problem, not a damaged checkpoint).
    public func verify(path: String) throws(StoreError) -> VerificationReport {
        var report = VerificationReport(path: path)
        let reader: CheckpointReader
        do {
            reader = try CheckpointReader(path: path)
        } catch {
            if case .fileNotFound = error { throw error }
            if case .io = error { throw error }
            report.failures.append(.init(tensor: nil, check: "open", message: error.description))
            return report
        }
        // Metadata and structure first (what a damaged file can make libhdf5 crash or loop on),
        // then the data; failures are reported data first, as the file holds them.
        for info in reader.tensors where info.chunkShape != nil {
            if let problem = ChunkIndexCheck.problems(reader, info.key).first {
                report.failures.append(.init(tensor: info.key.description, check: "index", message: "\(path): tensor \(info.key): \(problem)"))
            }
        }
        for problem in GlobalHeapCheck.problems(reader) {
            report.failures.append(.init(tensor: nil, check: "metadata", message: "\(path): metadata damaged: \(problem)"))
        }
        checkCounts(reader, &report)
        checkShapes(reader, &report)
        checkMetadata(reader, &report)
        checkOptimizerCoverage(reader, &report)
        let metadataFailures = report.failures
        report.failures = []
        metadataChecked?()

        let totalBytes = reader.tensors.reduce(0) { $0 + $1.rawBytes }
        var doneBytes = 0
        // One block buffer for every tensor: its pages are faulted in once, not per tensor.
        let block = BlockBuffer()
        for info in reader.tensors {
            defer {
                doneBytes += info.rawBytes
                progress?(doneBytes, totalBytes)
            }
            do throws(StoreError) {
                let nonFinite = try check(reader, info, block: block)
                report.tensorsChecked += 1
                report.bytesChecked += info.rawBytes
                if nonFinite > 0 && rejectNonFinite {
                    report.failures.append(
                        .init(
                            tensor: info.key.description, check: "nonfinite",
                            message: "\(path): tensor \(info.key): \(nonFinite) NaN/Inf values"))
                }
            } catch {
                let kind: String
                switch error {
                case .checksumMismatch: kind = "checksum"
                case .corruptChunk: kind = "chunk"
                default: kind = "read"
                }
                report.failures.append(.init(tensor: info.key.description, check: kind, message: error.description))
            }
        }
        report.failures += metadataFailures
        return report
    }

    /// The metadata checksum (format v1.1), required root attributes, a non-negative step, and
    /// notes on what carried no checksum.
    private func checkMetadata(_ r: CheckpointReader, _ report: inout VerificationReport) {
        let integrity = r.metadataIntegrity()
        report.metadataChecksum = integrity.status
        if integrity.isDamage {
            report.failures.append(.init(tensor: nil, check: "metadata", message: integrity.message(path: r.path)))
        } else if integrity == .notRecorded {
            report.notes.append("no metadata checksum (format v1.0 or another writer): root attributes, tensor attributes and RNG state are not covered")
        }
        for name in r.missingRootAttributes() {
            report.failures.append(.init(tensor: nil, check: "metadata", message: "\(r.path): metadata damaged: required root attribute '\(name)' is missing"))
        }
        if r.metadata.step < 0 {
            report.failures.append(.init(tensor: nil, check: "metadata", message: "\(r.path): step \(r.metadata.step) is negative"))
        }
        report.tensorsWithoutChecksum = r.tensors.filter { $0.xxh3 == nil }.count
        report.tensorsWithoutDType = r.tensors.filter { !$0.hasDTypeAttribute }.count
        if report.tensorsWithoutChecksum > 0 {
            report.notes.append("\(report.tensorsWithoutChecksum) tensor(s) have no xxh3_64 checksum: their bytes were read but not compared with one")
        }
        if report.tensorsWithoutDType > 0 {
            report.notes.append("\(report.tensorsWithoutDType) tensor(s) have no dtype attribute: their dtype comes from the HDF5 type alone")
        }
    }

    /// Optimizer state present for some parameters but missing for others fails the check
    /// (a note with `allowPartial`).
    private func checkOptimizerCoverage(_ r: CheckpointReader, _ report: inout VerificationReport) {
        var parameters: Set<String>?
        if let config = r.metadata.modelConfig, r.metadata.layoutKind == "wafer", config.validationProblem() == nil {
            parameters = Set(config.canonicalTensors().map(\.name))
        } else {
            parameters = Set(r.tensors.filter { $0.key.isModel && $0.dtype.isFloatingPoint }.map(\.key.name))
        }
        for gap in OptimizerCoverage.gaps(r.tensors, parameters: parameters) {
            let names = gap.parameters.prefix(5).joined(separator: ", ") + (gap.parameters.count > 5 ? ", ..." : "")
            let text = "optimizer state \(gap.state) missing for \(gap.parameters.count) parameter(s) that \(gap.reason): \(names)"
            if allowPartial {
                report.notes.append(text + " (allowed by --allow-partial)")
            } else {
                let first = gap.state.contains("+") ? gap.parameters[0] : TensorKey.optimizer(gap.state, gap.parameters[0]).description
                report.failures.append(.init(tensor: first, check: "partial", message: "\(r.path): \(text) (pass --allow-partial to accept)"))
            }
        }
    }

    /// Streams one tensor through `block` (grown as needed, reused across tensors), verifying
    /// chunks and the whole-tensor hash; returns the NaN/Inf count.
    func check(_ reader: CheckpointReader, _ info: TensorInfo, block: BlockBuffer = BlockBuffer()) throws(StoreError) -> Int {
        var nonFinite = 0
        let esize = info.dtype.size
        if info.shape.isEmpty || info.elementCount == 0 {
            // A whole read: the reader itself verifies xxh3_64.
            let d = try reader.read(info.key)
            d.bytes.withUnsafeBytes { nonFinite = Self.countNonFinite($0, info.dtype) }
            return nonFinite
        }
        let rowBytes = info.shape.dropFirst().reduce(1, *) * esize
        var rowsPer = max(1, blockBytes / max(1, rowBytes))
        if let c = info.chunkShape?.first, c > 0, rowsPer > c { rowsPer -= rowsPer % c }
        let rows = info.shape[0]
        rowsPer = min(rowsPer, rows)
        // One block covering the tensor is a whole read, which the reader verifies; several
        // blocks are hashed here in order.
        let h: XXH3Hasher? = rowsPer < rows ? XXH3Hasher() : nil
        let buf = block.reserve(rowsPer * rowBytes)
        // Hash and scan each piece of the output as the reader completes it, in order.
        let scan = ScanState(hasher: h, dtype: info.dtype)
        var r = 0
        while r < rows {
            let n = min(rowsPer, rows - r)
            let sel: [DimSelection]? = h == nil ? nil : [DimSelection.range(r..<(r + n))] + info.shape.dropFirst().map { DimSelection.all($0) }
            let part = UnsafeMutableRawBufferPointer(rebasing: buf[0..<(n * rowBytes)])
            try reader.read(info.key, selection: sel, into: part, consumer: { scan.consume($0) })
            r += n
        }
        nonFinite = scan.nonFinite
        if let h, let stored = info.xxh3 {
            let computed = h.digest()
            if computed != stored {
                throw .checksumMismatch(path: reader.path, tensor: info.key.description, stored: stored, computed: computed)
            }
        }
        return nonFinite
    }

    /// The number of NaN and infinite values among the `dtype` elements in `b` (0 for integer
    /// types): elements whose exponent bits are all set, counted by `CChunkKernels`'s vector loop.
    public static func countNonFinite(_ b: UnsafeRawBufferPointer, _ dtype: DType) -> Int {
        guard let base = b.baseAddress else { return 0 }
        switch dtype {
        case .float32: return ckpt_count_masked32(base.assumingMemoryBound(to: UInt32.self), b.count / 4, 0x7f80_0000)
        case .bfloat16: return ckpt_count_masked16(base.assumingMemoryBound(to: UInt16.self), b.count / 2, 0x7f80)
        case .float16: return ckpt_count_masked16(base.assumingMemoryBound(to: UInt16.self), b.count / 2, 0x7c00)
        case .float64: return ckpt_count_masked64(base.assumingMemoryBound(to: UInt64.self), b.count / 8, 0x7ff0_0000_0000_0000)
        default: return 0
        }
    }

    private func checkCounts(_ r: CheckpointReader, _ report: inout VerificationReport) {
        if let t = r.recordedCounts.tensors, t != Int64(r.tensors.count) {
            report.failures.append(.init(tensor: nil, check: "counts", message: "\(r.path): tensor_count says \(t), file holds \(r.tensors.count)"))
        }
        let params = r.tensors.filter { $0.key.isModel }.reduce(0) { $0 + $1.elementCount }
        if let p = r.recordedCounts.parameters, p != Int64(params) {
            report.failures.append(.init(tensor: nil, check: "counts", message: "\(r.path): parameter_count says \(p), file holds \(params)"))
        }
    }

    private func checkShapes(_ r: CheckpointReader, _ report: inout VerificationReport) {
        guard let config = r.metadata.modelConfig else {
            report.notes.append("no model_config: shapes not checked")
            return
        }
        if let p = config.validationProblem() {
            report.failures.append(.init(tensor: nil, check: "metadata", message: "\(r.path): model_config: \(p)"))
            return
        }
        // Optimizer state always mirrors its parameter's shape, whatever the layout.
        let params = Dictionary(uniqueKeysWithValues: r.tensors.filter { $0.key.isModel }.map { ($0.key.name, $0.shape) })
        for t in r.tensors where !t.key.isModel {
            if let s = params[t.key.name] {
                if s != t.shape {
                    report.failures.append(
                        .init(
                            tensor: t.key.description, check: "shape",
                            message: "\(r.path): tensor \(t.key): shape \(t.shape) differs from its parameter's \(s)"))
                }
            } else {
                report.failures.append(
                    .init(
                        tensor: t.key.description, check: "unexpected",
                        message: "\(r.path): tensor \(t.key): optimizer state without a parameter"))
            }
        }
        guard r.metadata.layoutKind == "wafer" else {
            report.notes.append("layout \(r.metadata.layoutKind): parameter shapes are checked by the sharding layer (ckpt convert)")
            return
        }
        let expected = config.canonicalTensors()
        var seen = Set<String>()
        for (name, shape) in expected {
            seen.insert(name)
            guard let s = params[name] else {
                report.failures.append(.init(tensor: name, check: "missing", message: "\(r.path): tensor \(name): missing (model_config expects \(shape))"))
                continue
            }
            if s != shape {
                report.failures.append(
                    .init(
                        tensor: name, check: "shape",
                        message: "\(r.path): tensor \(name): shape \(s) contradicts model_config (expects \(shape))"))
            }
        }
        // Format v1 allows further tensors (buffers, extra state) beside the parameters.
        let extra = params.keys.filter { !seen.contains($0) }.sorted(by: naturalLess)
        if !extra.isEmpty {
            report.notes.append(
                "\(extra.count) tensor(s) under /model are not parameters of model_config: " + extra.prefix(5).joined(separator: ", ")
                    + (extra.count > 5 ? ", ..." : ""))
        }
    }
}
