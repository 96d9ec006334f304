import CheckpointStore
import Foundation
import Glibc

/// Writes a PyTorch DCP checkpoint directory that `torch.distributed.checkpoint.load`
/// (`FileSystemReader`, torch 2.4 to 2.13) reads: the data files the plan names
/// (`__<rank>_<k>.distcp`, one per writer rank or partition, as the caller chose), each a
/// concatenation of one complete `torch.save` zip per item, and `.metadata` (a protocol 2
/// pickle of torch's `Metadata` classes) written last.
///
/// Chunks stream in through `beginChunk` (bytes row-major over the chunk's box), in any order,
/// one at a time per data file (chunks of different files may be open together, as when one
/// writer per rank streams its own file); memory stays at a 1 MiB buffer per data file.
/// `beginTensor` streams a whole tensor whose chunks are row blocks. Bytes items are raw bytes or a `torch.save` of a
/// pickle value. Everything is built in a temporary directory beside `path` and published by
/// one rename at `commit` (`AtomicDirectory`); `abort`, an error or releasing the writer
/// unpublished removes it; an error removes it too and leaves the writer unusable. With
/// `init(writingInto:...)` the files go into an existing directory the caller publishes
/// (Megatron's `iter_*` inside its own temporary tree); `.metadata` then appears last, by rename.
public final class DCPCheckpointWriter: TensorContainerWriter {
    /// The final directory.
    public let path: String
    /// The plan.
    public let plan: DCPWritePlan
    /// The directory being filled (the temporary, or the caller's directory).
    public let directoryPath: String
    private let directory: AtomicDirectory?
    private var files: [String: OutputFile] = [:]
    private var fileOrder: [String] = []
    private let tensorIndex: [String: Int]
    private var chunkFiles: [String: [TensorBox: String]] = [:]
    private var written: [String: [TensorBox: DCPStorageInfo]] = [:]
    private var bytesWritten: [String: DCPStorageInfo] = [:]
    private let bytesFiles: [String: String]
    /// The chunk open in each data file (file → fqn): one at a time per file.
    private var openItems: [String: String] = [:]
    private var failure: ContainerError?
    private var done = false

    /// Plans the checkpoint at `path` (checked with `DCPWritePlan.validate`) and creates its
    /// temporary directory; an existing `path` is refused unless `replace`.
    public init(path: String, plan: DCPWritePlan, replace: Bool = false) throws(ContainerError) {
        try plan.validate(path: path)
        let d: AtomicDirectory
        do { d = try AtomicDirectory(path: path, replace: replace) } catch { throw .store(error) }
        self.path = path
        self.plan = plan
        self.directory = d
        self.directoryPath = d.temporaryPath
        (tensorIndex, chunkFiles, bytesFiles) = Self.index(plan)
    }

    /// Writes into the existing empty directory `directory`, which the caller publishes;
    /// messages name `shown`.
    public init(writingInto directory: String, reportingAs shown: String, plan: DCPWritePlan) throws(ContainerError) {
        try plan.validate(path: shown)
        var st = stat()
        guard stat(directory, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR else { throw .io(path: shown, detail: "\(directory) is not a directory") }
        self.path = shown
        self.plan = plan
        self.directory = nil
        self.directoryPath = directory
        (tensorIndex, chunkFiles, bytesFiles) = Self.index(plan)
    }

    private static func index(_ plan: DCPWritePlan) -> ([String: Int], [String: [TensorBox: String]], [String: String]) {
        var t: [String: Int] = [:], c: [String: [TensorBox: String]] = [:], b: [String: String] = [:]
        for (i, p) in plan.tensors.enumerated() {
            t[p.fqn] = i
            var m: [TensorBox: String] = [:]
            for ch in p.chunks { m[ch.box] = ch.file }
            c[p.fqn] = m
        }
        for p in plan.bytesItems { b[p.fqn] = p.file }
        return (t, c, b)
    }

    deinit { if !done { abort() } }

    // MARK: items

    /// Starts the item of chunk `box` of tensor `fqn`; its bytes (row-major over the box,
    /// little-endian, exactly `box.count` elements) follow through the sink, then `finish`.
    public func beginChunk(_ fqn: String, box: TensorBox) throws(ContainerError) -> any TensorByteSink {
        try usable()
        let name = PrintableName.of(fqn)
        guard let i = tensorIndex[fqn] else { throw fail(.badTensor(path: path, tensor: name, detail: "not in the write plan")) }
        guard let file = chunkFiles[fqn]?[box] else { throw fail(.badTensor(path: path, tensor: name, detail: "chunk \(box) is not in the write plan")) }
        guard written[fqn]?[box] == nil else { throw fail(.badTensor(path: path, tensor: name, detail: "chunk \(box) written twice")) }
        if let other = openItems[file] {
            throw fail(.io(path: path, detail: "chunk \(box) of \(name) started while a chunk of \(PrintableName.of(other)) is open in \(file)"))
        }
        let t = plan.tensors[i]
        let out = try output(file)
        let start = out.position
        let zip = ZipStreamWriter(out: out)
        try guarded { () throws(ContainerError) in try zip.beginEntry(name: "archive/data/0", size: box.count * t.dtype.size) }
        openItems[file] = fqn
        return DCPChunkSink(writer: self, tensor: t, box: box, file: file, start: start, zip: zip)
    }

    /// Called by the chunk sink once its bytes are in: the rest of the item's zip.
    func finishChunk(_ t: DCPPlannedTensor, box: TensorBox, file: String, start: Int, zip: ZipStreamWriter) throws(ContainerError) {
        try usable()
        guard openItems[file] == t.fqn else { throw fail(.io(path: path, detail: "chunk \(box) of \(PrintableName.of(t.fqn)) finished while not open")) }
        let dtypeName = TorchDTypeName.name(t.dtype)
        var strides = Array(repeating: 1, count: box.sizes.count)
        for d in stride(from: box.sizes.count - 2, through: 0, by: -1) { strides[d] = strides[d + 1] * box.sizes[d + 1] }
        let storage = TorchStorageRef(key: "0", dtypeName: dtypeName, isUntyped: false, location: "cpu", count: box.count)
        let ref = TorchTensorRef(
            storage: storage, dtypeName: dtypeName, storageOffset: 0, shape: box.sizes, strides: strides, requiresGrad: false, isParameter: false)
        try guarded { () throws(ContainerError) in
            do { try zip.finishEntry() } catch { throw ContainerError.badTensor(path: path, tensor: PrintableName.of(t.fqn), detail: "chunk \(box): \(error)") }
            let pickle = try PickleWriter.encode(.tensor(ref), path: path)
            try TorchArchiveRecords.finish(zip, prefix: "archive", pickle: pickle, storagesInFirstUseOrder: true)
        }
        let out = try output(file)
        written[t.fqn, default: [:]][box] = DCPStorageInfo(relativePath: file, offset: start, length: out.position - start)
        openItems[file] = nil
    }

    /// Called by a sink when appending fails or over-runs.
    func append(_ bytes: UnsafeRawBufferPointer, to zip: ZipStreamWriter, fqn: String, box: TensorBox) throws(ContainerError) {
        try usable()
        try guarded { () throws(ContainerError) in
            do { try zip.append(bytes) } catch { throw ContainerError.badTensor(path: path, tensor: PrintableName.of(fqn), detail: "chunk \(box): \(error)") }
        }
    }

    /// Writes bytes item `fqn` as the given bytes (normally a `torch.save` zip of an object;
    /// `writeObjectItem` makes one).
    public func writeBytesItem(_ fqn: String, bytes: [UInt8]) throws(ContainerError) {
        try writeBytesItem(fqn) { (out: OutputFile) throws(ContainerError) in try out.write(bytes) }
    }

    /// Writes bytes item `fqn` as `torch.save(value)` (a zip with prefix `archive`, what DCP's
    /// planner stores for a non-tensor entry); `value` may hold no tensors.
    public func writeObjectItem(_ fqn: String, _ value: PickleValue) throws(ContainerError) {
        if let t = value.tensorsWithPaths(maxPathBytes: 1 << 20), !t.isEmpty {
            throw fail(.badTensor(path: path, tensor: PrintableName.of(fqn), detail: "a bytes item holding tensors (write them as tensors)"))
        }
        let pickle = try PickleWriter.encode(value, path: path)
        try writeBytesItem(fqn) { (out: OutputFile) throws(ContainerError) in
            try TorchArchiveRecords.finish(ZipStreamWriter(out: out), prefix: "archive", pickle: pickle, storagesInFirstUseOrder: true)
        }
    }

    private func writeBytesItem(_ fqn: String, _ body: (OutputFile) throws(ContainerError) -> Void) throws(ContainerError) {
        try usable()
        let name = PrintableName.of(fqn)
        guard let file = bytesFiles[fqn] else { throw fail(.badTensor(path: path, tensor: name, detail: "bytes item not in the write plan")) }
        guard bytesWritten[fqn] == nil else { throw fail(.badTensor(path: path, tensor: name, detail: "bytes item written twice")) }
        if let other = openItems[file] {
            throw fail(.io(path: path, detail: "bytes item \(name) written while a chunk of \(PrintableName.of(other)) is open in \(file)"))
        }
        let out = try output(file)
        let start = out.position
        try guarded { () throws(ContainerError) in try body(out) }
        bytesWritten[fqn] = DCPStorageInfo(relativePath: file, offset: start, length: out.position - start)
    }

    // MARK: files

    private func output(_ file: String) throws(ContainerError) -> OutputFile {
        if let f = files[file] { return f }
        let f: OutputFile
        do { f = try OutputFile(creating: directoryPath + "/" + file, reportingAs: path + "/" + file) } catch { throw fail(error) }
        files[file] = f
        fileOrder.append(file)
        return f
    }

    func usable() throws(ContainerError) {
        if let failure { throw .io(path: path, detail: "the writer failed earlier (\(failure))") }
        if done { throw .io(path: path, detail: "the writer was already committed or aborted") }
    }

    /// Records `error`, removes the temporary (the writer is unusable afterwards) and returns
    /// the error.
    func fail(_ error: ContainerError) -> ContainerError {
        if failure == nil { failure = error }
        abort()
        return error
    }

    func guarded(_ body: () throws(ContainerError) -> Void) throws(ContainerError) {
        do { try body() } catch { throw fail(error) }
    }

    // MARK: commit

    /// Checks that every planned chunk and bytes item was written, fsyncs and closes the data
    /// files, writes `.metadata` and publishes the directory.
    public func commit() throws(ContainerError) {
        try usable()
        do throws(ContainerError) {
            if let other = openItems.values.sorted().first {
                throw ContainerError.io(path: path, detail: "commit while a chunk of \(PrintableName.of(other)) is open")
            }
            var tensors: [DCPTensorEntry] = []
            for t in plan.tensors {
                var chunks: [DCPChunk] = []
                for c in t.chunks {
                    guard let s = written[t.fqn]?[c.box] else {
                        throw ContainerError.badTensor(
                            path: path, tensor: PrintableName.of(t.fqn), detail: "chunk \(c.box) is in the plan but was never written")
                    }
                    chunks.append(DCPChunk(box: c.box, storage: s))
                }
                tensors.append(DCPTensorEntry(fqn: t.fqn, torchDType: TorchDTypeName.name(t.dtype), shape: t.shape, chunks: chunks))
            }
            var bytes: [DCPBytesEntry] = []
            for b in plan.bytesItems {
                guard let s = bytesWritten[b.fqn] else {
                    throw ContainerError.badTensor(path: path, tensor: PrintableName.of(b.fqn), detail: "bytes item is in the plan but was never written")
                }
                bytes.append(DCPBytesEntry(fqn: b.fqn, storage: s))
            }
            for f in fileOrder {
                try files[f]?.sync()
                try files[f]?.close()
            }
            let md = DCPMetadata(
                type: plan.metadataClass, tensors: tensors, bytesItems: bytes,
                plannerData: plan.plannerData ?? DCPMetadata.flatPlannerData(plan.tensors.map(\.fqn) + plan.bytesItems.map(\.fqn)),
                storageMeta: DCPStorageMeta(checkpointID: path, saveID: UUID().uuidString.lowercased()), version: "1.0.0",
                extraAttributes: plan.extraAttributes)
            let tmp = directoryPath + "/" + DCPFileName.metadata + ".tmp"
            let out = try OutputFile(creating: tmp, reportingAs: path + "/" + DCPFileName.metadata)
            try out.write(try md.encode(path: path + "/" + DCPFileName.metadata))
            try out.sync()
            try out.close()
            if rename(tmp, directoryPath + "/" + DCPFileName.metadata) != 0 {
                throw ContainerError.io(path: path + "/" + DCPFileName.metadata, detail: "rename failed: \(String(cString: strerror(errno)))")
            }
            do throws(StoreError) {
                if let directory { try directory.publish() } else { try AtomicFile.fsyncPath(directoryPath, directory: true) }
            } catch { throw ContainerError.store(error) }
            done = true
        } catch {
            throw fail(error)
        }
    }

    /// Drops the temporary directory (in `writingInto` mode: the files written so far); the
    /// final path is untouched. Safe to call more than once.
    public func abort() {
        guard !done else { return }
        done = true
        for f in files.values { f.discard() }
        if let directory {
            directory.discard()
        } else {
            for f in fileOrder { unlink(directoryPath + "/" + f) }
            unlink(directoryPath + "/" + DCPFileName.metadata + ".tmp")
        }
    }
}
