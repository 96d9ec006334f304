import CheckpointStore
import Containers
import Foundation

/// Opens a cstorch `.mdl` file as a `cerebras`-layout source: the model from Model Zoo's
/// recorded params, the optimizer's state indices mapped to parameter names by the layout
/// table's order (`ParameterOrder`), step from `global_step`, and every other leaf kept in the
/// metadata (`user_metadata.cerebras`, a `CerebrasStateDict`) so an export rebuilds the file's
/// state dict.
struct CerebrasSource: SourceFormat {
    var name: String { CerebrasFormats.name }

    func recognizes(_ path: String) -> Bool { CerebrasFormats.recognizes(path) }

    func open(_ path: String, checkMetadata: Bool) throws(ShardingError) -> OpenedSource {
        let (container, metadata) = try Self.open(path)
        let layout = CheckpointLayout(kind: .cerebras)
        var m = metadata
        m.layoutJSON = layout.layoutJSON(for: .wafer, config: metadata.modelConfig!)
        return OpenedSource(
            formatName: name, layout: layout, config: metadata.modelConfig!, metadata: m, paths: [.wafer: path],
            inventories: [.wafer: container.tensors], open: [.wafer: container], verifiesChecksums: false,
            reopen: { (_: ShardFile) throws(ShardingError) -> any TensorContainer in try Self.open(path).0 })
    }

    /// The layout view of the file and its metadata.
    static func open(_ path: String) throws(ShardingError) -> (CerebrasMDLFile, CheckpointMetadata) {
        let raw: CerebrasMDLFile
        do { raw = try CerebrasMDLFile(path: path) } catch { throw .from(error) }
        guard let (params, modelName) = CerebrasModelParams.read(raw) else {
            throw .notACheckpoint(
                path: path,
                detail:
                    "no Model Zoo __metadata__ params (the trainer's ModelZooParamsMetadata): the model's architecture, the number of attention heads among it, is not in the tensors"
            )
        }
        let config = try CerebrasModelParams.modelConfig(params, modelName: modelName, path: path)
        let interpreter = try LayoutInterpreter()
        let map = try interpreter.map(config, CheckpointLayout(kind: .cerebras))
        guard let order = try interpreter.rules(config, CheckpointLayout(kind: .cerebras))?.optimizer?.expand(map) else {
            throw .layoutMismatch("the cerebras layout of family \(config.family) has no optimizer order")
        }
        let groups = try CerebrasOptimizerGroups(raw)
        var names: [String] = []
        if !groups.groups.isEmpty {
            names = try groups.names(for: order, path: path)
            // Files saved from the bare model spell the names without the "model." prefix.
            if !raw.leaves.contains(where: { $0.key.hasPrefix("model.") }) {
                names = names.map { $0.hasPrefix("model.") ? String($0.dropFirst("model.".count)) : $0 }
            }
        }
        let container: CerebrasMDLFile
        do { container = try raw.withParameterNames(names) } catch { throw .from(error) }
        var metadata = CheckpointMetadata()
        metadata.modelConfig = config
        metadata.optimizer = groups.optimizerConfig
        var stepLeaf = container.leaf("global_step")
        if case .linked(let t)? = stepLeaf?.kind { stepLeaf = container.leaf(t) }
        if case .scalar(let v)? = stepLeaf?.kind, let s = v.intValue, s >= 0 { metadata.step = Int64(s) }
        let state: CerebrasStateDict
        do { state = try container.stateDict() } catch { throw .from(error) }
        var user = JSONObject()
        user.insert("cerebras", state.json)
        metadata.userJSON = JSONText.compact(.object(user))
        return (container, metadata)
    }
}
