import CheckpointStore
import Glibc

/// A Hugging Face model directory (`save_pretrained` output) as one `TensorContainer` over all
/// its weight files, with its config.json.
///
/// Sharded directories are validated as a whole when opened: every shard the index names must
/// open, each must hold exactly the tensors the index assigns to it (a tensor the index does
/// not list, lists under another shard, or lists but the shard lacks is an error, so no tensor
/// can exist twice). Files in the directory that the index does not name are ignored, as
/// transformers ignores them. The weight files are opened by a factory, so the same type
/// serves safetensors (the default) and `torch.save` files (`pytorch_model.bin`, with the torch
/// reader as the factory). Tensors are listed under `.model(name)`, shard by shard in file-name
/// order.
public final class HFCheckpointDirectory: TensorContainer {
    /// Opens one weight file of the directory by path.
    public typealias Opener = (String) throws(ContainerError) -> any TensorContainer

    /// The directory.
    public let path: String
    /// `hf`.
    public var formatName: String { "hf" }
    /// Every tensor ckpt reads.
    public let tensors: [ContainerTensor]
    /// false: neither safetensors nor `torch.save` files store checksums.
    public var verifiesChecksums: Bool { false }
    /// How the weights are stored.
    public let weights: HFWeightFiles
    /// The index, for a sharded directory.
    public let index: HFShardIndex?
    /// The weight files (names in the directory), in the order their tensors are listed.
    public let weightFileNames: [String]
    /// The opened weight files, in the same order.
    public let weightFiles: [any TensorContainer]
    /// config.json mapped to ckpt's model (a failure when it is absent or not mappable; the
    /// tensors stay readable either way).
    public let config: Result<HFConfig, ContainerError>

    private let fileOf: [String: Int]

    /// Opens a directory of safetensors weights (`model.safetensors`, or
    /// `model.safetensors.index.json` with its shards).
    public convenience init(path: String) throws(ContainerError) {
        let names = HFWeightFiles.safetensorsNames
        guard let weights = HFWeightFiles.find(in: path, single: names.single, index: names.index) else {
            try Self.checkDirectory(path)
            throw .malformed(path: path, detail: "no \(names.single) or \(names.index) in the directory")
        }
        try self.init(path: path, weights: weights) { (p: String) throws(ContainerError) -> any TensorContainer in
            try SafetensorsFile(path: p)
        }
    }

    /// Opens the directory's weights with `open` (called with each weight file's path).
    public init(path: String, weights: HFWeightFiles, open: Opener) throws(ContainerError) {
        try Self.checkDirectory(path)
        self.path = path
        self.weights = weights
        switch weights {
        case .single(let name):
            if let problem = HFShardIndex.shardNameProblem(name) { throw .refused(path: path, detail: "weights file \(JSONReader.quote(name)): \(problem)") }
            index = nil
            weightFileNames = [name]
            weightFiles = [try open(path + "/" + name)]
        case .sharded(let indexName):
            if let problem = HFShardIndex.shardNameProblem(indexName) { throw .refused(path: path, detail: "index \(JSONReader.quote(indexName)): \(problem)") }
            let indexPath = path + "/" + indexName
            let idx = try HFShardIndex.read(path: indexPath)
            var opened: [any TensorContainer] = []
            for file in idx.files { opened.append(try open(path + "/" + file)) }
            try Self.check(idx, indexPath: indexPath, files: opened)
            index = idx
            weightFileNames = idx.files
            weightFiles = opened
        }
        var fileOf: [String: Int] = [:]
        var tensors: [ContainerTensor] = []
        for (i, f) in weightFiles.enumerated() {
            for t in f.tensors where t.key.isModel {
                if let j = fileOf[t.key.name] {
                    throw .badTensor(
                        path: path, tensor: PrintableName.of(t.key.name), detail: "held by both \(weightFileNames[j]) and \(weightFileNames[i])")
                }
                fileOf[t.key.name] = i
                tensors.append(t)
            }
        }
        self.fileOf = fileOf
        self.tensors = tensors
        let configPath = path + "/config.json"
        config = Result { () throws(ContainerError) -> HFConfig in try HFConfig.read(path: configPath) }
    }

    /// The tensors ckpt lists but does not read (safetensors F8_*, U16, ...), over all shards.
    public var unreadableEntries: [SafetensorsEntry] {
        weightFiles.flatMap { f in (f as? SafetensorsFile)?.entries.filter { $0.dtype.ckptType == nil } ?? [] }
    }

    /// The tensor `key`, or nil.
    public func describe(_ key: TensorKey) -> ContainerTensor? {
        guard key.isModel, let i = fileOf[key.name] else { return nil }
        return weightFiles[i].describe(key)
    }

    /// Reads from the weight file that holds `key` (its errors name that file).
    public func read(_ key: TensorKey, box: TensorBox, into buffer: UnsafeMutableRawBufferPointer) throws(ContainerError) {
        if key.isModel, let i = fileOf[key.name] {
            try weightFiles[i].read(key, box: box, into: buffer)
            return
        }
        // A tensor of a type ckpt does not read: the shard says so.
        for f in weightFiles {
            if let s = f as? SafetensorsFile, s.entry(key.name) != nil { try s.read(key, box: box, into: buffer) }
        }
        throw .noSuchTensor(path: path, tensor: PrintableName.of(key.description))
    }

    /// Every name a weight file holds, readable by ckpt or not.
    private static func names(in file: any TensorContainer) -> [String] {
        if let s = file as? SafetensorsFile { return s.entries.map(\.name) }
        return file.tensors.filter(\.key.isModel).map(\.key.name)
    }

    /// Each shard holds exactly the tensors the index assigns to it.
    private static func check(_ index: HFShardIndex, indexPath: String, files: [any TensorContainer]) throws(ContainerError) {
        var held: [String: Set<String>] = [:]
        for (file, container) in zip(index.files, files) {
            var set = Set<String>()
            for name in names(in: container) {
                let t = PrintableName.of(name)
                guard let mapped = index.fileOf[name] else {
                    throw .badTensor(path: indexPath, tensor: t, detail: "held by shard \(file) but not listed in the weight_map")
                }
                guard mapped == file else {
                    throw .badTensor(path: indexPath, tensor: t, detail: "held by shard \(file), but the weight_map sends it to \(mapped)")
                }
                set.insert(name)
            }
            held[file] = set
        }
        for name in index.tensorNames {
            let file = index.fileOf[name] ?? ""
            guard held[file]?.contains(name) == true else {
                throw .badTensor(path: indexPath, tensor: PrintableName.of(name), detail: "the weight_map sends it to \(file), which does not hold it")
            }
        }
    }

    private static func checkDirectory(_ path: String) throws(ContainerError) {
        var st = stat()
        guard stat(path, &st) == 0 else { throw .io(path: path, detail: "no such directory") }
        guard (st.st_mode & S_IFMT) == S_IFDIR else { throw .io(path: path, detail: "not a directory") }
    }
}
