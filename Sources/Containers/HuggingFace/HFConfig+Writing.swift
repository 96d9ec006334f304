import CheckpointStore

extension HFConfig {
    /// The config.json object: the mapped members, `dtype`, and the kept `extra` members that
    /// the mapping does not set itself.
    func jsonObject() -> JSONObject {
        var o = JSONObject()
        let members: [(String, JSONValue)]
        switch modelType {
        case "gpt2": members = gpt2Members()
        case "gpt_neox": members = neoxMembers()
        default: members = llamaMembers()
        }
        for (k, v) in members { o.insert(k, v) }
        if let dtype { o.insert("dtype", .string(Self.name(of: dtype))) }
        let writerOwned: Set<String> = ["architectures", "model_type", "dtype", "torch_dtype", "transformers_version"]
        for (k, v) in extra.members where !writerOwned.contains(k) { o.insert(k, v) }
        return o
    }
}
