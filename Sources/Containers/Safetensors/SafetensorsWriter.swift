import CheckpointStore
import Glibc

/// Writes a safetensors file, streaming: the header (every tensor's dtype, shape and offsets,
/// in manifest order, contiguous from 0, padded with spaces to a multiple of 8 bytes) goes out
/// first, then each tensor's bytes as they arrive.
///
/// The file is built under a temporary name beside `path` (registered with
/// `TemporaryRegistry`, so a signal removes it), checked to receive exactly the manifest's
/// tensors in order with exactly their bytes, and published at `commit` by fsync and rename.
/// After any error the writer is unusable and its temporary is gone; `abort` (or releasing the
/// writer) removes it too.
public final class SafetensorsWriter: TensorContainerWriter {
    /// The final path.
    public let path: String
    /// The temporary file being written.
    public let temporaryPath: String
    /// The tensors, in the order they are written.
    public let manifest: [ContainerTensor]
    /// The header's `__metadata__`.
    public let metadata: [String: String]
    /// Whether `commit` may replace an existing file at `path` (atomically).
    public let overwrite: Bool
    /// The size the finished file will have.
    public let fileSize: Int

    private var output: OutputFile?
    private var next = 0
    private var openSink: SafetensorsByteSink?
    private var failure: ContainerError?
    private var done = false

    /// Validates the manifest, creates the temporary file and writes the header. Tensors must be
    /// model tensors (`.model(name)`, safetensors has no sections) with distinct, non-empty
    /// names other than `__metadata__`.
    public init(
        path: String, manifest: [ContainerTensor], metadata: [String: String] = ["format": "pt"], overwrite: Bool = true
    ) throws(ContainerError) {
        self.path = path
        self.manifest = manifest
        self.metadata = metadata
        self.overwrite = overwrite
        let header = try Self.header(manifest: manifest, metadata: metadata, path: path)
        var size = header.count
        for t in manifest { size += t.byteCount }  // each byte count checked by `header`, the sum too
        fileSize = size
        temporaryPath = AtomicFile.temporaryPath(for: path)
        StaleTemporaries.removeStale(beside: path)
        TemporaryRegistry.register(temporaryPath)  // before it exists: a signal as it appears must find it
        let out: OutputFile
        do { out = try OutputFile(creating: temporaryPath, reportingAs: path) } catch {
            TemporaryRegistry.unregister(temporaryPath)
            throw error
        }
        output = out
        do {
            try out.write(header)
        } catch {
            abort()
            throw error
        }
    }

    deinit {
        if !done { abort() }
    }

    /// The first 8 + N bytes of the file for `manifest`: the length and the padded header.
    public static func header(manifest: [ContainerTensor], metadata: [String: String], path: String) throws(ContainerError) -> [UInt8] {
        var text = "{"
        if !metadata.isEmpty {
            text += "\"__metadata__\":{"
            text += metadata.sorted { $0.key < $1.key }.map { JSONText.quoted($0.key) + ":" + JSONText.quoted($0.value) }.joined(separator: ",")
            text += "}"
        }
        var names = Set<String>()
        var offset = 0
        for t in manifest {
            let name = PrintableName.of(t.key.description)
            guard t.key.isModel else {
                throw .unsupported(path: path, detail: "tensor \(name): safetensors holds model tensors only, not section \(t.key.section)")
            }
            guard !t.key.name.isEmpty, t.key.name != "__metadata__" else {
                throw .badTensor(path: path, tensor: name, detail: "not a valid safetensors tensor name")
            }
            guard names.insert(t.key.name).inserted else { throw .badTensor(path: path, tensor: name, detail: "listed twice in the manifest") }
            guard t.shape.allSatisfy({ $0 >= 0 }) else { throw .badTensor(path: path, tensor: name, detail: "negative dimension in shape \(t.shape)") }
            var bytes = t.dtype.size
            for d in t.shape {
                let (b, o) = bytes.multipliedReportingOverflow(by: d)
                guard !o else { throw .badTensor(path: path, tensor: name, detail: "shape \(t.shape) is too large") }
                bytes = b
            }
            let (end, o) = offset.addingReportingOverflow(bytes)
            guard !o else { throw .badTensor(path: path, tensor: name, detail: "the file would exceed 2^63 bytes") }
            if text.count > 1 { text += "," }
            text += JSONText.quoted(t.key.name) + ":{\"dtype\":\"\(SafetensorsDType(t.dtype).rawValue)\",\"shape\":["
            text += t.shape.map(String.init).joined(separator: ",") + "],\"data_offsets\":[\(offset),\(end)]}"
            offset = end
        }
        text += "}"
        var json = Array(text.utf8)
        json.append(contentsOf: repeatElement(0x20, count: (8 - json.count % 8) % 8))
        guard json.count <= SafetensorsHeader.maxHeaderBytes else {
            throw .unsupported(path: path, detail: "header of \(json.count) bytes exceeds safetensors' limit of \(SafetensorsHeader.maxHeaderBytes)")
        }
        guard Int.max - offset > 8 + json.count else { throw .unsupported(path: path, detail: "the file would exceed 2^63 bytes") }
        var out = [UInt8](repeating: 0, count: 8)
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { for i in 0..<8 { out[i] = $0[i] } }
        return out + json
    }

    /// Yes: the writer keeps its state to itself and writes its own file.
    public var isIndependent: Bool { true }

    /// Starts the next tensor of the manifest; `key`, `dtype` and `shape` must be the manifest's.
    public func beginTensor(_ key: TensorKey, dtype: DType, shape: [Int]) throws(ContainerError) -> any TensorByteSink {
        try checkUsable()
        let name = PrintableName.of(key.description)
        if let s = openSink {
            try fail(.badTensor(path: path, tensor: name, detail: "tensor \(PrintableName.of(s.name)) is still open; finish it first"))
        }
        guard next < manifest.count else {
            try fail(.badTensor(path: path, tensor: name, detail: "not in the manifest (all \(manifest.count) tensors are written)"))
        }
        let m = manifest[next]
        guard m.key == key else {
            try fail(.badTensor(path: path, tensor: name, detail: "out of order: the manifest has tensor \(PrintableName.of(m.key.description)) next"))
        }
        guard m.dtype == dtype, m.shape == shape else {
            try fail(.badTensor(path: path, tensor: name, detail: "is \(dtype.rawValue) \(shape), but the manifest says \(m.dtype.rawValue) \(m.shape)"))
        }
        next += 1
        let sink = SafetensorsByteSink(writer: self, name: key.name, byteCount: m.byteCount)
        openSink = sink
        return sink
    }

    /// Flushes, fsyncs and renames the file to `path`; fails unless every tensor was written.
    public func commit() throws(ContainerError) {
        try checkUsable()
        if let s = openSink { try fail(.badTensor(path: path, tensor: PrintableName.of(s.name), detail: "was not finished before commit")) }
        if next < manifest.count {
            try fail(.badTensor(path: path, tensor: PrintableName.of(manifest[next].key.description), detail: "in the manifest but never written"))
        }
        do throws(ContainerError) {
            try output?.close()
            output = nil
            do { try AtomicFile.publish(temporaryPath, as: path, replace: overwrite) } catch { throw ContainerError.store(error) }
            TemporaryRegistry.unregister(temporaryPath)
            done = true
        } catch {
            try fail(error)
        }
    }

    /// Deletes the temporary file; `path` is untouched.
    public func abort() {
        guard !done else { return }
        done = true
        openSink = nil
        output?.discard()
        output = nil
        unlink(temporaryPath)
        TemporaryRegistry.unregister(temporaryPath)
    }

    /// Appends bytes of the open tensor (called by its sink).
    func append(_ bytes: UnsafeRawBufferPointer) throws(ContainerError) {
        try checkUsable()
        guard let output else { return }
        do throws(ContainerError) { try output.write(bytes) } catch { try fail(error) }
    }

    /// The open tensor's sink finished.
    func sinkFinished(_ sink: SafetensorsByteSink) {
        if openSink === sink { openSink = nil }
    }

    /// Records `error`, removes the temporary and throws.
    func fail(_ error: ContainerError) throws(ContainerError) -> Never {
        failure = error
        abort()
        throw error
    }

    private func checkUsable() throws(ContainerError) {
        if let failure { throw .io(path: path, detail: "writer stopped after an earlier error: \(failure)") }
        if done { throw .io(path: path, detail: "writer already committed or aborted") }
    }
}
