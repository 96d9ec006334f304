import CheckpointStore
import Foundation

/// Converts a checkpoint between layouts (wafer <-> megatron, megatron -> megatron), streaming:
/// validate the source fully, then write every output tensor in row blocks read as hyperslabs.
/// The output appears only when complete (file: the writer's atomic commit; directory: built
/// beside the target and renamed).
public struct Converter: Sendable {
    /// The planner (and through it the layout rules).
    public let planner: ReshardPlanner
    /// Options.
    public let options: ConvertOptions

    /// Creates a converter over the bundled layout rules.
    public init(options: ConvertOptions = ConvertOptions()) throws(ShardingError) {
        self.planner = try ReshardPlanner()
        self.options = options
    }

    /// Creates a converter with an explicit planner.
    public init(planner: ReshardPlanner, options: ConvertOptions) {
        self.planner = planner
        self.options = options
    }

    /// The target layout of a request: `megatron` shapes are used as given; `wafer` as is.
    /// Converts `sourcePath` into `target` at `outputPath`. `progress` gets (bytes done, total).
    public func convert(_ sourcePath: String, to target: CheckpointLayout, output outputPath: String,
                        progress: ((Int64, Int64) -> Void)? = nil) throws(ShardingError) -> ConversionReport {
        let start = Date()
        let source = try CheckpointSource(path: sourcePath)
        if case .megatron(let shape) = target, source.config.validationProblem() == nil {
            // A target shape that cannot shard the model is a usage error, not bad input.
            do { try shape.validate(source.config) } catch {
                throw .invalidParallelism("target layout \(target.description): \(error.description)")
            }
        }
        let plan = try planner.plan(source.config, from: source.layout, to: target)
        let sections = try SourceValidator(source: source, plan: plan).validate()
        var sourceSections: [ShardFile: [String: [SectionDType]]] = [:]
        for f in plan.source.files {
            for info in source.reader(f).tensors {
                sourceSections[f, default: [:]][info.key.name, default: []].append(SectionDType(section: info.key.section, dtype: info.dtype))
            }
        }
        let divergent = try ReplicaVerifier(
            source: source, plan: plan, sections: { f, n in sourceSections[f]?[n] ?? [] }, blockBytes: options.blockBytes
        ).verify(allowDivergent: options.allowDivergentReplicas)

        var total: Int64 = 0
        var tensorCount = 0
        for f in plan.files {
            for t in f.tensors {
                for s in sections[f.file]![t.target.name]! {
                    total += Int64(t.target.shape.reduce(1, *) * s.dtype.size)
                    tensorCount += 1
                }
            }
        }
        var done: Int64 = 0
        let copier = TensorCopier(source: source, blockBytes: options.blockBytes)
        func writeFile(_ planned: PlannedFile, path: String, layoutJSON: String) throws(ShardingError) {
            let writer: CheckpointWriter
            do { writer = try CheckpointWriter(path: path, options: options.writer) } catch { throw .store(error) }
            var metadata = source.metadata
            metadata.layoutJSON = layoutJSON
            writer.metadata = metadata
            do throws(ShardingError) {
                for t in planned.tensors {
                    for s in sections[planned.file]![t.target.name]! {
                        try copier.copy(t, s, to: writer) { n in
                            done += Int64(n)
                            progress?(done, total)
                        }
                    }
                }
                do { try writer.commit() } catch { throw ShardingError.store(error) }
            } catch {
                writer.abort()
                throw error
            }
        }

        switch target {
        case .wafer:
            if FileManager.default.fileExists(atPath: outputPath) { throw .outputExists(path: outputPath) }
            try writeFile(plan.files[0], path: outputPath, layoutJSON: #"{"kind":"wafer"}"#)
        case .megatron(let shape):
            let out = try OutputDirectory(path: outputPath)
            let step = source.metadata.step
            let iter = MegatronDirectory.iterationDirectory(step: step)
            var dirs: [String] = []
            for f in plan.files {
                let rankDir = iter + "/" + shape.rankDirectoryName(f.file)
                try out.makeDirectory(rankDir)
                dirs.append(rankDir)
                let layout = MegatronRankLayout(shape: shape, file: f.file, layers: source.config.layers, vocab: source.config.vocab)
                try writeFile(f, path: out.temporaryPath + "/" + rankDir + "/" + MegatronDirectory.rankFile, layoutJSON: layout.json)
            }
            try out.writeText(MegatronDirectory.trackerFile, String(step) + "\n")
            try out.publish(syncing: dirs + [iter])
        }
        return ConversionReport(
            source: sourcePath, sourceLayout: source.layout.description, output: outputPath,
            outputLayout: target.description, files: plan.files.count, tensors: tensorCount, bytes: done,
            seconds: Date().timeIntervalSince(start), divergentReplicas: divergent)
    }
}
