import Containers
import Sharding

/// Every checkpoint format the command line reads and writes, as one `FormatRegistry`.
enum KnownFormats {
    /// The container name of Megatron-LM's legacy torch rank files.
    static let megatronTorchContainer = "torch"

    /// ckpt's own formats, Hugging Face directories (safetensors, or `pytorch_model.bin` to
    /// read) and Megatron-LM torch directories; hf targets are cut into shards of at most
    /// `maxShardBytes`.
    static func registry(maxShardBytes: Int = HFDirectoryWriter.defaultMaxShardBytes) -> FormatRegistry {
        FormatRegistry.standard
            .adding(source: HFFormats.source(torchOpener: nil))
            .adding(target: HFFormats.target(maxShardBytes: maxShardBytes))
    }
}
