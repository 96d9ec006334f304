import CheckpointStore
import Containers
import Foundation

/// Hugging Face model directories as a source and a target of conversions: `config.json` plus
/// safetensors weights (`model.safetensors`, or `model.safetensors.index.json` and its shards),
/// or, for reading, `pytorch_model.bin` (a plain `torch.save` of the state dict, through a
/// weight-file opener the caller supplies).
///
/// Hugging Face checkpoints hold model tensors only, no step and no optimizer state: the
/// source's step is 0; the target drops optimizer sections (the conversion report says so).
public enum HFFormats {
    /// The name of the source format.
    public static let name = "hf"

    /// Weight files a directory may hold, in the order transformers looks for them.
    static let safetensorsNames = HFWeightFiles.safetensorsNames
    static let torchNames = (single: "pytorch_model.bin", index: "pytorch_model.bin.index.json")

    /// The source format. `torchOpener` opens one `pytorch_model.bin` shard as a container of
    /// `.model(name)` tensors (nil: directories holding only `.bin` weights are refused).
    public static func source(torchOpener: HFCheckpointDirectory.Opener? = nil) -> SingleContainerSource {
        let torch = UncheckedOpener(open: torchOpener)
        return SingleContainerSource(name: name, layoutKind: .hf, recognizes: { recognizes($0) }) { (path: String) throws(ShardingError) in
            let dir: HFCheckpointDirectory
            do throws(ContainerError) {
                if HFWeightFiles.find(in: path, single: safetensorsNames.single, index: safetensorsNames.index) != nil {
                    dir = try HFCheckpointDirectory(path: path)
                } else if let weights = HFWeightFiles.find(in: path, single: torchNames.single, index: torchNames.index) {
                    guard let open = torch.open else {
                        throw ContainerError.unsupported(path: path, detail: "pytorch_model.bin weights need the torch.save reader")
                    }
                    dir = try HFCheckpointDirectory(path: path, weights: weights, open: open)
                } else {
                    dir = try HFCheckpointDirectory(path: path)  // names what is missing
                }
            } catch {
                throw ShardingError.from(error)
            }
            let config: HFConfig
            switch dir.config {
            case .success(let c): config = c
            case .failure(let e): throw ShardingError.from(e)
            }
            var metadata = CheckpointMetadata()
            metadata.modelConfig = config.model
            return (dir, metadata)
        }
    }

    /// Whether `path` is a directory holding `config.json` and Hugging Face weights.
    public static func recognizes(_ path: String) -> Bool {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir), isDir.boolValue else { return false }
        guard FileManager.default.fileExists(atPath: path + "/config.json") else { return false }
        return [safetensorsNames.single, safetensorsNames.index, torchNames.single, torchNames.index].contains {
            FileManager.default.fileExists(atPath: path + "/" + $0)
        }
    }

    /// The target format: a directory with `config.json`, safetensors shards of at most
    /// `maxShardBytes` and the index (one `model.safetensors` when everything fits).
    public static func target(maxShardBytes: Int = HFDirectoryWriter.defaultMaxShardBytes) -> SingleContainerTarget {
        SingleContainerTarget(layoutKind: .hf, containerFormat: "safetensors", isDirectory: true, keptUserMetadata: []) {
            (file: TargetFile) throws(ShardingError) in
            do throws(ContainerError) {
                return try HFDirectoryWriter(
                    path: file.path, model: file.config, manifest: file.manifest, maxShardBytes: maxShardBytes,
                    replace: file.replaceExisting)
            } catch {
                throw ShardingError.from(error)
            }
        }
    }

    /// Carries the optional opener into the `@Sendable` closure. The opener only constructs
    /// a container from a path; it holds no state.
    private struct UncheckedOpener: @unchecked Sendable {
        var open: HFCheckpointDirectory.Opener?
    }
}
