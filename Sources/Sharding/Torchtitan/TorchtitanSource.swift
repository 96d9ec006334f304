import CheckpointStore
import Containers

/// Opens a torchtitan DCP checkpoint as a `torchtitan`-layout source (`TorchtitanCheckpoint`),
/// its model described by the job config at `jobConfig`.
struct TorchtitanSource: SourceFormat {
    /// The job config's path, nil when none was given.
    let jobConfig: String?

    var name: String { TorchtitanFormats.name }

    func recognizes(_ path: String) -> Bool { TorchtitanFormats.recognizes(path, jobConfigGiven: jobConfig != nil) }

    func open(_ path: String, checkMetadata: Bool) throws(ShardingError) -> OpenedSource {
        guard let jobConfig else {
            throw .needsInput(
                path: path,
                detail:
                    "a torchtitan DCP checkpoint records no model architecture (heads, rope theta, norm eps); give its job config JSON with ckpt convert --model-config FILE (torchtitan's --debug.save_config_file, or Trainer.Config.to_dict() of its config_registry entry)"
            )
        }
        let job: TorchtitanJobConfig
        do { job = try TorchtitanJobConfig.read(path: jobConfig) } catch { throw .from(error) }
        let (container, metadata) = try TorchtitanCheckpoint.open(path, job: job)
        let layout = CheckpointLayout(kind: .torchtitan)
        var m = metadata
        m.layoutJSON = layout.layoutJSON(for: .wafer, config: job.model)
        return OpenedSource(
            formatName: name, layout: layout, config: job.model, metadata: m, paths: [.wafer: path],
            inventories: [.wafer: container.tensors], open: [.wafer: container], verifiesChecksums: false,
            reopen: { (_: ShardFile) throws(ShardingError) -> any TensorContainer in try TorchtitanCheckpoint.open(path, job: job).0 })
    }
}
