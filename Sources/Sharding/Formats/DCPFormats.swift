import CheckpointStore
import Containers
import Foundation

/// A plain PyTorch DCP checkpoint of a model's `state_dict` (`torch.distributed.checkpoint.save`
/// by FSDP2, torchtitan, or any trainer: `.metadata` and `__<rank>_<k>.distcp`) as a source of
/// conversions, when its fqns are Hugging Face names and a Hugging Face `config.json` lies
/// beside `.metadata`: the global tensors map through the `hf` layout tables like a
/// `pytorch_model.bin`. Bytes items (step, RNG, ...) are not tensors and are not converted.
/// A DCP directory without `config.json` is still readable as a bare container (`ckpt info`,
/// `ls`, `get`, `verify`).
public enum DCPFormats {
    /// The name of the source format.
    public static let name = "dcp"

    /// Whether `path` is a DCP directory with a `config.json`.
    public static func recognizes(_ path: String) -> Bool {
        DCPCheckpoint.looksLike(path) && FileManager.default.fileExists(atPath: path + "/config.json")
    }

    /// The source format.
    public static func source() -> SingleContainerSource {
        SingleContainerSource(name: name, layoutKind: .hf, recognizes: { recognizes($0) }) { (path: String) throws(ShardingError) in
            do throws(ContainerError) {
                let dcp = try DCPCheckpoint(path: path)
                let config = try HFConfig.read(path: path + "/config.json")
                var metadata = CheckpointMetadata()
                metadata.modelConfig = config.model
                return (dcp, metadata)
            } catch {
                throw ShardingError.from(error)
            }
        }
    }
}
