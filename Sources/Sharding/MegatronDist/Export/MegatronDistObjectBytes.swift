import CheckpointStore
import Containers
import Foundation

/// The bytes of a DCP byte item holding a pickled object with tensors (`torch.save([x])` of a
/// Megatron ShardedObject whose data has ByteTensors, such as an RNG state), made with
/// `TorchArchiveWriter` (record prefix `archive`, as DCP's planner writes them) in a scratch
/// file that is removed again.
enum MegatronDistObjectBytes {
    /// `torch.save(value)` as bytes; `inline` holds the bytes of the tensors `value` refers to
    /// (`PickleJSON.Decoded`), `scratch` the directory of the temporary file.
    static func torchSave(_ value: PickleValue, inline: [String: [UInt8]], scratch: String) throws(ContainerError) -> [UInt8] {
        let p = scratch + "/.ckpt-item-\(UUID().uuidString).pt"
        defer { unlink(p) }
        let archive = try TorchArchiveWriter(path: p, prefix: "archive")
        do {
            let root = try MegatronStateDictBuilder.materialise(PickleJSON.Decoded(value: value, inline: inline), archive: archive)
            try archive.commit(root: root)
        } catch {
            archive.abort()
            throw error
        }
        return try SmallFile.read(p, maxBytes: 1 << 30)
    }
}
