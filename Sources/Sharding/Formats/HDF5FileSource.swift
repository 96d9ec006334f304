import CheckpointStore
import Containers
import Foundation

/// Reads one ckpt HDF5 checkpoint file: the wafer layout (or any one-file layout its `layout`
/// attribute names). A Megatron rank file given alone is refused: its directory is the
/// checkpoint.
public struct HDF5FileSource: SourceFormat {
    /// Creates the format.
    public init() {}

    /// `ckpt`.
    public var name: String { "ckpt" }

    /// Any regular file (the last file format of a registry: opening reports what is wrong).
    public func recognizes(_ path: String) -> Bool {
        var isDir: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &isDir) && !isDir.boolValue
    }

    /// Opens the file and checks its metadata checksum if asked.
    public func open(_ path: String, checkMetadata: Bool) throws(ShardingError) -> OpenedSource {
        let reader: CheckpointReader
        do {
            reader = try CheckpointReader(path: path)
            if checkMetadata { try reader.requireIntactMetadata() }
        } catch { throw .store(error) }
        let kindName = reader.metadata.layoutKind
        guard let kind = LayoutKind.named(kindName), !kind.isSharded else {
            throw .notACheckpoint(path: path, detail: "layout is '\(kindName)'; pass the Megatron checkpoint directory, not one rank file")
        }
        guard let c = reader.metadata.modelConfig else { throw .missingModelConfig(path: path) }
        let container = HDF5Container(reader: reader)
        return OpenedSource(
            formatName: name, layout: CheckpointLayout(kind: kind), config: c, metadata: reader.metadata, paths: [.wafer: path],
            inventories: [.wafer: container.tensors], open: [.wafer: container], verifiesChecksums: true,
            reopen: { (_: ShardFile) throws(ShardingError) -> any TensorContainer in
                do throws(StoreError) { return HDF5Container(reader: try CheckpointReader(path: path)) } catch { throw .store(error) }
            })
    }
}
