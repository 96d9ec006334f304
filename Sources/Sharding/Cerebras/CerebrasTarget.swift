import CheckpointStore
import Containers
import Foundation

/// Writes a `cerebras`-layout checkpoint as one `.mdl` file: the state dict a `.mdl` source left
/// in `user_metadata.cerebras` when its tensors are exactly the conversion's (a round trip), else
/// the one Model Zoo's trainer would save (`CerebrasStateDictBuilder`).
struct CerebrasTarget: TargetFormat {
    /// Whether chunks use hdf5plugin's LZ4 instead of the writer options' codec.
    var lz4: Bool

    var layoutKind: LayoutKind { .cerebras }
    var containerFormat: String { CerebrasFormats.containerFormat }
    /// A `.mdl` source's state dict (`user_metadata.cerebras`); nothing else has a place.
    var keptUserMetadata: Set<String>? { ["cerebras"] }

    func structure(for layout: CheckpointLayout, step: Int64) -> OutputStructure { .single(isDirectory: false) }

    func makeWriter(_ file: TargetFile) throws(ShardingError) -> any TensorContainerWriter {
        let state = try Self.state(file)
        let filters: HDF5DatasetFilters = lz4 ? .lz4 : HDF5DatasetFilters(file.writerOptions.codec)
        do {
            return try CerebrasMDLWriter(
                path: file.path, state: state, manifest: file.manifest, filters: filters, chunkBytes: file.writerOptions.chunkBytes,
                threads: file.writerOptions.threads, replace: file.replaceExisting)
        } catch { throw .from(error) }
    }

    /// The state dict for `file`.
    static func state(_ file: TargetFile) throws(ShardingError) -> CerebrasStateDict {
        if let kept = kept(file.metadata.userJSON), Set(kept.tensorKeys) == Set(file.manifest.map(\.key)) { return kept }
        let interpreter = try LayoutInterpreter()
        let map = try interpreter.map(file.config, file.layout)
        guard let order = try interpreter.rules(file.config, file.layout)?.optimizer?.expand(map) else {
            throw .layoutMismatch("the cerebras layout of family \(file.config.family) has no optimizer order")
        }
        return try CerebrasStateDictBuilder.build(
            config: file.config, manifest: file.manifest, step: file.metadata.step, optimizer: file.metadata.optimizer, order: order)
    }

    /// The state dict a `.mdl` source recorded, or nil.
    static func kept(_ userJSON: String?) -> CerebrasStateDict? {
        guard let text = userJSON, let doc = try? JSONValue.parse(Array(text.utf8), limits: JSONLimits(maxDepth: 128)),
            let blob = doc.objectValue?["cerebras"]
        else { return nil }
        return try? CerebrasStateDict(json: blob)
    }
}
