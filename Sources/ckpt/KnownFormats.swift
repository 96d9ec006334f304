import CheckpointStore
import Containers
import Sharding

/// Every checkpoint format the command line reads and writes, as one `FormatRegistry`.
enum KnownFormats {
    /// ckpt's own formats, Hugging Face directories (safetensors, or `pytorch_model.bin` to
    /// read) and Megatron-LM torch directories; hf targets are cut into shards of at most
    /// `maxShardBytes`.
    /// `modelConfig` is the job config describing a torchtitan checkpoint's model.
    static func registry(maxShardBytes: Int = HFDirectoryWriter.defaultMaxShardBytes, vocab: Int? = nil, modelConfig: String? = nil) -> FormatRegistry {
        FormatRegistry.all(maxShardBytes: maxShardBytes, vocab: vocab, torchtitanConfig: modelConfig)
    }
}

extension KnownFormats {
    /// Whether a source format is one of ckpt's own (HDF5 files and directories of them).
    static func isCkptFormat(_ name: String) -> Bool {
        FormatRegistry.standard.sources.contains { $0.name == name }
    }

    /// Opens a bare tensor file that is not a ckpt checkpoint: safetensors, or a `torch.save`
    /// archive holding a state dict.
    static func openFile(_ path: String) throws -> any TensorContainer {
        switch try FileKind.sniff(path) {
        case .safetensors: return try SafetensorsFile(path: path)
        case .cerebras: return try CerebrasMDLFile(path: path)
        case .zip: return try openTorchFile(path)
        case .pickle:
            throw ContainerError.unsupported(
                path: path, detail: "torch.save's legacy format (before torch 1.6, a bare pickle); load and save it again with a current torch")
        case .hdf5, .unknown:
            throw StoreError.notHDF5(path: path)
        }
    }
}
