import CheckpointStore
import Glibc

/// Writes a `torch.save`-compatible archive, streaming: each storage becomes one record
/// `<prefix>/data/<n>` written as its bytes arrive (64-byte aligned, CRC-32 computed on the
/// way), then `commit` pickles the root value (protocol 2, as `torch.save`) into
/// `<prefix>/data.pkl`, adds the small records torch writes and publishes the file atomically.
/// The result loads with `torch.load(path, weights_only=True)`.
///
/// Nothing appears under `path` before `commit`: the file is built in a registered temporary
/// beside it (removed by `abort`, on release without commit, or by ckpt's signal cleanup).
public final class TorchArchiveWriter {
    /// The final path.
    public let path: String
    /// The directory name of every record.
    public let prefix: String
    private let temporary: String
    private let out: OutputFile
    private let zip: ZipStreamWriter
    private var storages: [String: TorchStorageRef] = [:]
    private var order: [String] = []
    private var openKey: String?
    private var finished = false
    private var failure: ContainerError?

    /// torch's prefix for a file saved to `path`: its name without the last extension.
    public static func defaultPrefix(for path: String) -> String {
        let name = path.split(separator: "/").last.map(String.init) ?? path
        if let dot = name.lastIndex(of: "."), dot != name.startIndex { return String(name[..<dot]) }
        return name
    }

    /// Starts an archive for `path` whose records sit under `prefix` (torch uses the file stem,
    /// see `defaultPrefix`, or `archive`).
    public init(path: String, prefix: String) throws(ContainerError) {
        guard !prefix.isEmpty, !prefix.contains("/"), !prefix.contains("\0"), prefix.utf8.count <= 1024 else {
            throw .malformed(path: path, detail: "archive prefix \(prefix.debugDescription) is empty, too long or has a '/'")
        }
        let temporary = AtomicFile.temporaryPath(for: path)
        TemporaryRegistry.register(temporary)  // before it exists: a signal as it appears must find it
        let out: OutputFile
        do { out = try OutputFile(creating: temporary) } catch {
            TemporaryRegistry.unregister(temporary)
            throw error
        }
        self.path = path
        self.prefix = prefix
        self.temporary = temporary
        self.out = out
        self.zip = ZipStreamWriter(out: out)
    }

    deinit { if !finished { abort() } }

    /// Yes: the writer keeps its state to itself and writes its own file, so different
    /// archives may be written on different threads at once.
    public var isIndependent: Bool { true }

    /// Starts the next storage: `elementCount` elements of torch dtype `dtypeName`
    /// (`float32`, `bfloat16`, `float8_e4m3fn` ...). Returns the reference tensors in the root
    /// value use and the sink its bytes (little-endian, exactly elementCount × element size)
    /// go through. One storage is open at a time.
    public func beginStorage(dtypeName: String, elementCount: Int) throws(ContainerError) -> (TorchStorageRef, any TensorByteSink) {
        try usable()
        guard openKey == nil else { throw .io(path: path, detail: "a storage was begun while storage \(openKey ?? "") is still open") }
        guard let name = TorchDTypeName.canonical(dtypeName), let es = TorchDTypeName.elementSize(name) else {
            throw .unsupported(path: path, detail: "torch dtype \(dtypeName)")
        }
        // Quantized and bits tensors need rebuild calls other than _rebuild_tensor_v2/v3.
        guard !name.hasPrefix("q"), !name.hasPrefix("bits") else {
            throw .unsupported(path: path, detail: "writing \(name) tensors (quantized and bits dtypes)")
        }
        let (bytes, o) = elementCount.multipliedReportingOverflow(by: es)
        guard elementCount >= 0, !o else { throw .malformed(path: path, detail: "a storage of \(elementCount) \(name) elements") }
        let key = String(order.count)
        let untyped = TorchStorageType.legacyClass(for: name) == nil
        let ref = TorchStorageRef(key: key, dtypeName: untyped ? "uint8" : name, isUntyped: untyped, location: "cpu", count: untyped ? bytes : elementCount)
        try guarded { () throws(ContainerError) in try zip.beginEntry(name: "\(prefix)/data/\(key)", size: bytes) }
        storages[key] = ref
        order.append(key)
        openKey = key
        return (ref, TorchStorageSink(writer: self, key: key))
    }

    func appendStorage(_ key: String, _ bytes: UnsafeRawBufferPointer) throws(ContainerError) {
        try usable()
        guard openKey == key else { throw .io(path: path, detail: "bytes for storage \(key), which is not open") }
        try guarded { () throws(ContainerError) in try zip.append(bytes) }
    }

    func finishStorage(_ key: String) throws(ContainerError) {
        try usable()
        guard openKey == key else { throw .io(path: path, detail: "storage \(key) finished, which is not open") }
        try guarded { () throws(ContainerError) in try zip.finishEntry() }
        openKey = nil
    }

    /// Pickles `root` into `<prefix>/data.pkl`, writes the other records, the central directory
    /// and the Zip64 end records, fsyncs and renames the file into place. Every tensor in
    /// `root` must view a storage of this writer and lie inside it. `.format_version` ("1",
    /// which lets torch compute storage offsets instead of reading local headers) is written
    /// only when the pickle uses the storages first in the order they were written, as
    /// `torch.save` numbers them.
    public func commit(root: PickleValue) throws(ContainerError) {
        try usable()
        guard openKey == nil else { throw .io(path: path, detail: "commit while storage \(openKey ?? "") is still open") }
        var firstUse: [String] = [], seen = Set<String>()
        for (name, t) in root.tensorsWithPaths(maxPathBytes: .max) ?? [] {
            let label = name.isEmpty ? "(root)" : name
            guard let s = storages[t.storage.key], s.dtypeName == t.storage.dtypeName, s.isUntyped == t.storage.isUntyped, s.count == t.storage.count
            else { throw .badTensor(path: path, tensor: label, detail: "its storage \(t.storage.key) is not one this writer wrote") }
            _ = try TorchTensorBounds.check(t, path: path, name: label)
            if seen.insert(s.key).inserted { firstUse.append(s.key) }
        }
        let pickle = try PickleWriter.encode(root, path: path)
        try guarded { () throws(ContainerError) in
            try TorchArchiveRecords.finish(zip, prefix: prefix, pickle: pickle, storagesInFirstUseOrder: firstUse == order)
            try out.sync()
            try out.close()
            do throws(StoreError) { try AtomicFile.publish(temporary, as: path) } catch { throw .store(error) }
        }
        TemporaryRegistry.unregister(temporary)
        finished = true
    }

    /// Drops the temporary; the final path is untouched. Safe to call more than once.
    public func abort() {
        guard !finished else { return }
        finished = true
        try? out.close()
        unlink(temporary)
        TemporaryRegistry.unregister(temporary)
    }

    private func usable() throws(ContainerError) {
        if let failure { throw .io(path: path, detail: "the writer failed earlier (\(failure))") }
        if finished { throw .io(path: path, detail: "the writer was already committed or aborted") }
    }

    /// Runs `body`, remembering a failure so later calls refuse to continue.
    private func guarded(_ body: () throws(ContainerError) -> Void) throws(ContainerError) {
        do { try body() } catch {
            failure = error
            throw error
        }
    }
}
