/// Where a Hugging Face directory keeps its weights: one file, or an index naming shards.
public enum HFWeightFiles: Sendable, Equatable {
    /// One weights file (`model.safetensors`, `pytorch_model.bin`), by name in the directory.
    case single(String)
    /// An index (`model.safetensors.index.json`) naming the shard of each tensor.
    case sharded(index: String)

    /// The safetensors names `save_pretrained` writes: single file, index.
    public static let safetensorsNames = (single: "model.safetensors", index: "model.safetensors.index.json")

    /// The weights of `directory` under the given names: the single file when present (as
    /// transformers looks for it first), else the index; nil when neither exists.
    public static func find(in directory: String, single: String, index: String) -> HFWeightFiles? {
        if SmallFile.exists(directory + "/" + single) { return .single(single) }
        if SmallFile.exists(directory + "/" + index) { return .sharded(index: index) }
        return nil
    }
}
