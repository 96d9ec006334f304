import CheckpointStore
import Containers
import Foundation

/// An opened source checkpoint in any supported format: a wafer file, every rank file of a
/// Megatron directory (checked against each other), a Hugging Face directory, ... Tensors are
/// read only through `TensorContainer`s, under the layout's names (alias spellings of the
/// layout table resolved, ignored tensors left out).
///
/// At most `maxOpenReaders` containers are open at once (least recently used closed first): an
/// open HDF5 reader keeps decoding buffers, so with hundreds of rank files memory would
/// otherwise grow with the rank count.
public final class CheckpointSource: @unchecked Sendable {
    /// The path given (file or directory).
    public let path: String
    /// The source format's name (`ckpt`, `megatron`, `hf`, ...).
    public let formatName: String
    /// The layout found.
    public let layout: CheckpointLayout
    /// The model configuration (identical in every rank file).
    public let config: ModelConfig
    /// The metadata of the wafer file or of rank tp0/pp0.
    public let metadata: CheckpointMetadata
    /// The path of each file.
    public let paths: [ShardFile: String]
    /// The tensors of each file under the layout's names, as listed when the source was opened.
    public let inventories: [ShardFile: [ContainerTensor]]
    /// Stored tensors the layout table marks as ignored (`LayoutRuleSet.ignored`), per file.
    public let ignoredTensors: [ShardFile: [TensorKey]]
    /// Whether reads check stored checksums (false for formats that have none).
    public let verifiesChecksums: Bool
    /// Containers kept open at most.
    public let maxOpenReaders: Int

    private let described: [ShardFile: [TensorKey: ContainerTensor]]
    /// Layout key -> stored key, where they differ.
    private let storedKeys: [ShardFile: [TensorKey: TensorKey]]
    private let reopen: @Sendable (ShardFile) throws(ShardingError) -> any TensorContainer

    // `@unchecked Sendable`: containers are thread-safe; the open set is guarded by `lock`.
    private let lock = NSLock()
    private var open: [ShardFile: (container: any TensorContainer, lastUse: Int)] = [:]
    private var clock = 0

    /// Opens `path` with the first format of `formats` that recognises it: by default a
    /// checkpoint file in the wafer layout, or a Megatron checkpoint directory (its root with
    /// `latest_checkpointed_iteration.txt`, or an `iter_*` directory). Each file's metadata
    /// checksum is checked unless `checkMetadata` is false (a caller that verifies every file
    /// itself, as `ckpt verify` does in its child processes).
    public convenience init(
        path: String, maxOpenReaders: Int = 8, checkMetadata: Bool = true, formats: FormatRegistry = .standard,
        catalog: LayoutCatalog? = nil
    ) throws(ShardingError) {
        guard let format = formats.sourceFormat(for: path) else {
            throw .io(path: path, detail: "no such file or directory")
        }
        let opened = try format.open(path, checkMetadata: checkMetadata)
        let rules: LayoutCatalog
        if let catalog { rules = catalog } else { rules = try LayoutCatalog.bundled() }
        try self.init(opened: opened, path: path, maxOpenReaders: maxOpenReaders, catalog: rules)
    }

    /// Wraps what a source format opened; `catalog` supplies the layout table's aliases and
    /// ignored names.
    public init(opened: OpenedSource, path: String, maxOpenReaders: Int = 8, catalog: LayoutCatalog) throws(ShardingError) {
        self.path = path
        self.maxOpenReaders = max(1, maxOpenReaders)
        formatName = opened.formatName
        layout = opened.layout
        config = opened.config
        metadata = opened.metadata
        paths = opened.paths
        verifiesChecksums = opened.verifiesChecksums
        reopen = opened.reopen
        let names = try SourceNames(opened: opened, catalog: catalog)
        inventories = names.inventories
        ignoredTensors = names.ignored
        storedKeys = names.storedKeys
        var described: [ShardFile: [TensorKey: ContainerTensor]] = [:]
        for (f, list) in inventories { described[f] = Dictionary(list.map { ($0.key, $0) }, uniquingKeysWith: { a, _ in a }) }
        self.described = described
        for (f, c) in opened.open { open[f] = (c, 0) }
    }

    /// The path of `file` (a file of this source).
    public func path(_ file: ShardFile) -> String { paths[file] ?? path }

    /// The tensor `key` (layout name) of `file`, or nil.
    public func describe(_ file: ShardFile, _ key: TensorKey) -> ContainerTensor? { described[file]?[key] }

    /// The key `key` (layout name) is stored under in `file`.
    public func storedKey(_ file: ShardFile, _ key: TensorKey) -> TensorKey { storedKeys[file]?[key] ?? key }

    /// The container of `file`, opening it (and closing the least recently used one) when needed.
    public func container(_ file: ShardFile) throws(ShardingError) -> any TensorContainer {
        lock.lock()
        defer { lock.unlock() }
        clock += 1
        if let o = open[file] {
            open[file] = (o.container, clock)
            return o.container
        }
        guard paths[file] != nil else { throw .missingRank(path: path, rank: file.description) }
        while open.count >= maxOpenReaders, let victim = open.min(by: { $0.value.lastUse < $1.value.lastUse })?.key {
            open[victim] = nil
        }
        let c = try reopen(file)
        open[file] = (c, clock)
        return c
    }

    /// Reads `box` of tensor `key` (layout name) of `file` into `buffer`.
    public func read(_ file: ShardFile, _ key: TensorKey, box: TensorBox, into buffer: UnsafeMutableRawBufferPointer) throws(ShardingError) {
        let c = try container(file)
        do { try c.read(storedKey(file, key), box: box, into: buffer) } catch { throw .from(error) }
    }

    /// Rows of one stored chunk of `key` in `file` (1 for containers without chunks).
    func chunkRows(_ file: ShardFile, _ key: TensorKey) throws(ShardingError) -> Int {
        let c = try container(file)
        guard let chunked = c as? any ChunkedTensorContainer else { return 1 }
        return max(1, chunked.chunkRows(storedKey(file, key)) ?? 1)
    }
}
