import CheckpointStore
import Containers
import Foundation
import Sharding

/// A checkpoint in a format other than ckpt's own HDF5: a Hugging Face directory, a Megatron-LM
/// torch directory, a PyTorch DCP directory, or a bare safetensors / `torch.save` file. Such formats store no checksums;
/// their structure is validated when opened.
struct ForeignInput {
    /// The path given.
    var path: String
    /// The format's name (`hf`, `megatron-torch`, `safetensors`, `torch`).
    var formatName: String
    /// The opened checkpoint, for inputs with a layout (directories); nil for a bare file.
    var source: CheckpointSource?
    /// The files: rank label (sharded layouts) and container.
    var files: [(label: String?, container: any TensorContainer)]

    /// Whether `path` is a foreign input (judged by content): a directory some non-ckpt format
    /// of `KnownFormats` recognises, or a file that is not HDF5 but safetensors or a zip archive.
    static func recognizes(_ path: String) -> Bool {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else { return false }
        if isDir.boolValue {
            guard let f = KnownFormats.registry().sourceFormat(for: path) else { return false }
            return !KnownFormats.isCkptFormat(f.name) || DCPCheckpoint.looksLike(path)
        }
        switch try? FileKind.sniff(path) {
        case .safetensors, .zip, .pickle, .cerebras: return true
        default: return false
        }
    }

    /// Opens `path`.
    static func open(_ path: String) throws -> ForeignInput {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else { throw StoreError.fileNotFound(path: path) }
        if isDir.boolValue {
            if let f = KnownFormats.registry().sourceFormat(for: path), KnownFormats.isCkptFormat(f.name), DCPCheckpoint.looksLike(path) {
                // A DCP directory no layout claims (no config.json): its global tensors by fqn.
                let c = try DCPCheckpoint(path: path)
                return ForeignInput(path: path, formatName: c.formatName, source: nil, files: [(nil, c)])
            }
            let s = try CheckpointSource(path: path, formats: KnownFormats.registry())
            var files: [(String?, any TensorContainer)] = []
            for f in s.layout.files { files.append((s.layout.kind.isSharded ? RankFile.label(f) : nil, try s.container(f))) }
            return ForeignInput(path: path, formatName: s.formatName, source: s, files: files)
        }
        if (try? FileKind.sniff(path)) == .cerebras {
            // A Model Zoo checkpoint opens in the cerebras layout (optimizer state by parameter
            // name); any other cstorch file shows its leaves as saved.
            if let s = try? CheckpointSource(path: path, formats: KnownFormats.registry()) {
                return ForeignInput(path: path, formatName: s.formatName, source: s, files: [(nil, try s.container(.wafer))])
            }
        }
        let c = try KnownFormats.openFile(path)
        return ForeignInput(path: path, formatName: c.formatName, source: nil, files: [(nil, c)])
    }
}
