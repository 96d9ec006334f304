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
    public func convert(
        _ sourcePath: String, to target: CheckpointLayout, output outputPath: String,
        progress: ((Int64, Int64) -> Void)? = nil
    ) throws(ShardingError) -> ConversionReport {
        let start = Date()
        let source = try CheckpointSource(path: sourcePath, maxOpenReaders: max(options.maxOpenReaders, options.maxOpenWriters))
        if case .megatron(let shape) = target, source.config.validationProblem() == nil {
            // A target shape that cannot shard the model is a usage error, not bad input.
            do { try shape.validate(source.config) } catch { throw .unusableTarget(layout: target.description, reason: error) }
        }
        let plan = try planner.plan(source.config, from: source.layout, to: target)
        let sections = try SourceValidator(source: source, plan: plan).validate()
        var sourceSections: [ShardFile: [String: [SectionDType]]] = [:]
        for f in plan.source.files {
            for info in source.inventories[f] ?? [] {
                sourceSections[f, default: [:]][info.key.name, default: []].append(SectionDType(section: info.key.section, dtype: info.dtype))
            }
        }
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
        try checkOutput(outputPath, target: target, rawBytes: total, tensors: tensorCount)
        let divergent = try ReplicaVerifier(
            source: source, plan: plan, sections: { f, n in sourceSections[f]?[n] ?? [] }, blockBytes: options.blockBytes
        ).verify(allowDivergent: options.allowDivergentReplicas)
        var done: Int64 = 0
        let cache = SourceWindowCache(source: source, windowBytes: options.blockBytes, budgetBytes: options.cacheBytes)
        func output(_ f: PlannedFile, path: String, layoutJSON: String) -> FileGroupWriter.Output {
            FileGroupWriter.Output(planned: f, path: path, layoutJSON: layoutJSON, sections: sections[f.file] ?? [:])
        }
        func write(_ group: [FileGroupWriter.Output]) throws(ShardingError) {
            // Writers of a group share the cores: fewer encoder threads each keeps the chunks in
            // flight (a few per encoder thread per writer) bounded.
            var writerOptions = options.writer
            writerOptions.threads = max(1, options.writer.threads / group.count)
            writerOptions.overwrite = options.replaceExisting
            let writer = FileGroupWriter(
                outputs: group, metadata: source.metadata, writerOptions: writerOptions,
                blockBytes: options.blockBytes, filler: BlockFiller(cache: cache))
            try writer.write { n in
                done += Int64(n)
                progress?(done, total)
            }
        }

        switch target {
        case .wafer:
            try write([output(plan.files[0], path: outputPath, layoutJSON: #"{"kind":"wafer"}"#)])
        case .megatron(let shape):
            let out = try OutputDirectory(path: outputPath, replace: options.replaceExisting)
            let step = source.metadata.step
            let iter = MegatronDirectory.iterationDirectory(step: step)
            var dirs: [String] = []
            var outputs: [FileGroupWriter.Output] = []
            for f in plan.files {
                let rankDir = iter + "/" + shape.rankDirectoryName(f.file)
                try out.makeDirectory(rankDir)
                dirs.append(rankDir)
                let layout = MegatronRankLayout(shape: shape, file: f.file, layers: source.config.layers, vocab: source.config.vocab)
                outputs.append(output(f, path: out.temporaryPath + "/" + rankDir + "/" + MegatronDirectory.rankFile, layoutJSON: layout.json))
            }
            // The TP ranks of a stage are written in lockstep (up to `maxOpenWriters` at once).
            for stage in 0..<shape.pp {
                let ranks = outputs.filter { $0.planned.file.ppRank == stage }
                var k = 0
                while k < ranks.count {
                    let group = Array(ranks[k..<min(ranks.count, k + max(1, options.maxOpenWriters))])
                    if FileGroupWriter.canGroup(group) {
                        try write(group)
                    } else {
                        for o in group { try write([o]) }
                    }
                    k += group.count
                }
            }
            try out.writeText(MegatronDirectory.trackerFile, String(step) + "\n")
            try out.publish(syncing: dirs + [iter])
        }
        return ConversionReport(
            source: sourcePath, sourceLayout: source.layout.description, output: outputPath,
            outputLayout: target.description, files: plan.files.count, tensors: tensorCount, bytes: done,
            sourceBytesDecoded: cache.decodedBytes,
            seconds: Date().timeIntervalSince(start), divergentReplicas: divergent)
    }

    /// Refuses an output that exists (unless `replaceExisting`, and then only one of the same
    /// kind: a file for wafer, a directory for megatron) or that the file system cannot hold.
    private func checkOutput(_ path: String, target: CheckpointLayout, rawBytes: Int64, tensors: Int) throws(ShardingError) {
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDir) {
            let wantsDirectory: Bool
            if case .megatron = target { wantsDirectory = true } else { wantsDirectory = false }
            if !options.replaceExisting || isDir.boolValue != wantsDirectory { throw .outputExists(path: path) }
        }
        if options.checkFreeSpace {
            let needed = FreeSpace.estimate(rawBytes: rawBytes, tensors: tensors, chunkBytes: options.writer.chunkBytes)
            do { try FreeSpace.check(needed: needed, for: path) } catch { throw .store(error) }
        }
    }
}
