import CheckpointStore

/// How `HFDirectoryWriter` splits a manifest into safetensors shards.
///
/// Greedy in manifest order, as huggingface_hub's `split_torch_state_dict_into_shards`: a
/// tensor starts a new shard when adding it would take the current shard's tensor bytes past
/// `maxShardBytes`; a tensor larger than the limit gets a shard of its own. Unlike the hub
/// (which lists an oversized tensor's shard before the one being filled), shards keep manifest
/// order, so tensors arriving in manifest order fill one shard after another. One shard is
/// named `model.safetensors`; several `model-00001-of-0000N.safetensors`.
public struct HFShardPlan: Sendable, Equatable {
    /// The shard files, in order.
    public var fileNames: [String]
    /// The manifest indices of each shard's tensors, in order.
    public var shards: [[Int]]
    /// The shard of each manifest entry.
    public var shardOf: [Int]
    /// The sum of the tensors' bytes (`total_size` of the index).
    public var totalBytes: Int
    /// The sum of the tensors' elements (`total_parameters` of the index).
    public var totalParameters: Int

    /// Plans `manifest` with shards of at most `maxShardBytes` tensor bytes (single oversized
    /// tensors excepted). `path` names the output in messages.
    public init(manifest: [ContainerTensor], maxShardBytes: Int, path: String) throws(ContainerError) {
        guard maxShardBytes > 0 else { throw .unsupported(path: path, detail: "maximum shard size must be positive (got \(maxShardBytes))") }
        var shards: [[Int]] = []
        var current: [Int] = []
        var size = 0, total = 0, parameters = 0
        var shardOf = Array(repeating: 0, count: manifest.count)
        for (i, t) in manifest.enumerated() {
            var elements = 1
            for d in t.shape {
                let (e, o) = elements.multipliedReportingOverflow(by: max(d, 0))
                guard !o else { throw .badTensor(path: path, tensor: PrintableName.of(t.key.description), detail: "shape \(t.shape) is too large") }
                elements = e
            }
            let (bytes, o1) = elements.multipliedReportingOverflow(by: t.dtype.size)
            let (sum, o2) = total.addingReportingOverflow(bytes)
            guard !o1, !o2 else { throw .badTensor(path: path, tensor: PrintableName.of(t.key.description), detail: "the checkpoint would exceed 2^63 bytes") }
            total = sum
            parameters += elements
            if bytes > maxShardBytes {
                if !current.isEmpty { shards.append(current) }
                current = []
                size = 0
                shardOf[i] = shards.count
                shards.append([i])
                continue
            }
            if !current.isEmpty && size + bytes > maxShardBytes {
                shards.append(current)
                current = []
                size = 0
            }
            shardOf[i] = shards.count
            current.append(i)
            size += bytes
        }
        if !current.isEmpty || shards.isEmpty { shards.append(current) }
        let n = shards.count
        fileNames = n == 1 ? [HFWeightFiles.safetensorsNames.single] : (1...n).map { Self.shardName($0, of: n) }
        self.shards = shards
        self.shardOf = shardOf
        totalBytes = total
        totalParameters = parameters
    }

    /// `model-00002-of-00005.safetensors` (at least five digits, as transformers writes).
    public static func shardName(_ i: Int, of n: Int) -> String {
        func pad(_ v: Int) -> String {
            let s = String(v)
            return String(repeating: "0", count: max(0, 5 - s.count)) + s
        }
        return "model-\(pad(i))-of-\(pad(n)).safetensors"
    }
}
