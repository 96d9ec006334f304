import Containers

extension FormatRegistry {
    /// Every format ckpt reads and writes: its own HDF5 files and directories, Megatron-LM
    /// torch directories, Hugging Face directories (safetensors both ways, `pytorch_model.bin`
    /// read) — sources tried before the HDF5 catch-alls. hf targets are cut into shards of at
    /// most `maxShardBytes`; `vocab` is the unpadded vocabulary of a Megatron-LM source.
    /// `torchtitanConfig` is the job config describing a torchtitan checkpoint's model.
    public static func all(maxShardBytes: Int = HFDirectoryWriter.defaultMaxShardBytes, vocab: Int? = nil, torchtitanConfig: String? = nil) -> FormatRegistry {
        standard
            .adding(source: MegatronTorchFormats.source(vocab: vocab))
            .adding(source: MegatronDistFormats.source(vocab: vocab))
            .adding(target: MegatronTorchFormats.target())
            .adding(target: MegatronDistFormats.target())
            .adding(
                source: HFFormats.source(torchOpener: { (p: String) throws(ContainerError) -> any TensorContainer in try TorchStateDictContainer(path: p) })
            )
            .adding(target: HFFormats.target(maxShardBytes: maxShardBytes))
            .adding(source: DCPFormats.source())
            .adding(source: TorchtitanFormats.source(jobConfig: torchtitanConfig))
            .adding(source: CerebrasFormats.source())
            .adding(target: CerebrasFormats.target())
    }
}
