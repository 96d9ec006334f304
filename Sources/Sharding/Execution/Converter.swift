import CheckpointStore
import Containers
import Foundation

/// Converts a checkpoint between layouts and container formats (wafer <-> megatron,
/// megatron -> megatron, hf <-> either, each in any registered container), streaming: validate
/// the source fully, then write every output tensor in row blocks. The output appears only when
/// complete (a file or a writer-built directory: the writer's atomic commit; a directory tree:
/// built beside the target and renamed).
public struct Converter: Sendable {
    /// The planner (and through it the layout rules).
    public let planner: ReshardPlanner
    /// Options.
    public let options: ConvertOptions
    /// The source and target formats available.
    public let formats: FormatRegistry

    /// Creates a converter over the bundled layout rules.
    public init(options: ConvertOptions = ConvertOptions(), formats: FormatRegistry = .standard) throws(ShardingError) {
        self.planner = try ReshardPlanner()
        self.options = options
        self.formats = formats
    }

    /// Creates a converter with an explicit planner.
    public init(planner: ReshardPlanner, options: ConvertOptions, formats: FormatRegistry = .standard) {
        self.planner = planner
        self.options = options
        self.formats = formats
    }

    /// Converts `sourcePath` (any format of `formats`, detected from its content) into layout
    /// `target` in container format `container` (nil: the first registered for the layout,
    /// ckpt HDF5 for wafer and megatron) at `outputPath`. `progress` gets (bytes done, total).
    public func convert(
        _ sourcePath: String, to target: CheckpointLayout, container: String? = nil, output outputPath: String,
        progress: ((Int64, Int64) -> Void)? = nil
    ) throws(ShardingError) -> ConversionReport {
        let start = Date()
        let format = try formats.target(target.kind, container: container)
        let source = try CheckpointSource(
            path: sourcePath, maxOpenReaders: max(options.maxOpenReaders, options.maxOpenWriters), formats: formats,
            catalog: planner.interpreter.catalog)
        return try convert(source, to: target, format: format, output: outputPath, start: start, progress: progress)
    }

    /// Converts an opened source into `target`, written by `format`, at `outputPath`.
    public func convert(
        _ source: CheckpointSource, to target: CheckpointLayout, format: any TargetFormat, output outputPath: String,
        progress: ((Int64, Int64) -> Void)? = nil
    ) throws(ShardingError) -> ConversionReport {
        try convert(source, to: target, format: format, output: outputPath, start: Date(), progress: progress)
    }

    private func convert(
        _ source: CheckpointSource, to target: CheckpointLayout, format: any TargetFormat, output outputPath: String, start: Date,
        progress: ((Int64, Int64) -> Void)?
    ) throws(ShardingError) -> ConversionReport {
        if let shape = target.shape, source.config.validationProblem() == nil {
            // A target shape that cannot shard the model is a usage error, not bad input.
            do { try shape.validate(source.config) } catch { throw .unusableTarget(layout: target.description, reason: error) }
        }
        let plan = try planner.plan(source.config, from: source.layout, to: target)
        try format.check(model: source.config)
        var sections = try SourceValidator(source: source, plan: plan).validate()
        var dropped = Set<String>()
        if !target.kind.holdsOptimizerState {
            for (f, byName) in sections {
                for (name, list) in byName {
                    for s in list where s.section != "model" { dropped.insert(s.section) }
                    sections[f]?[name] = list.filter { $0.section == "model" }
                }
            }
        }
        var notes: [String] = []
        if !dropped.isEmpty { notes.append("optimizer state dropped: \(target.kind.title) checkpoints hold none") }
        notes += format.optimizerStatePolicy.apply(to: &sections, title: target.kind.title)
        notes += Self.unkeptMetadataNotes(source.metadata.userJSON, kept: format.keptUserMetadata, title: target.kind.title)
        let ignored = source.ignoredTensors.values.flatMap { $0 }.sorted()
        if !ignored.isEmpty {
            let shown = ignored.prefix(3).map(\.description).joined(separator: ", ")
            notes.append(
                "ignored \(ignored.count) source tensor(s) the \(source.layout.kind.name) layout does not carry: \(shown)\(ignored.count > 3 ? ", ..." : "")")
        }
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
                for s in sections[f.file]?[t.target.name] ?? [] {
                    total += Int64(t.target.shape.reduce(1, *) * s.dtype.size)
                    tensorCount += 1
                }
            }
        }
        let structure = format.structure(for: target, step: source.metadata.step)
        try checkOutput(outputPath, isDirectory: structure.isDirectory, rawBytes: total, tensors: tensorCount)
        let divergent = try ReplicaVerifier(
            source: source, plan: plan, sections: { f, n in sourceSections[f]?[n] ?? [] }, blockBytes: options.blockBytes
        ).verify(allowDivergent: options.allowDivergentReplicas)
        var done: Int64 = 0
        let cache = SourceWindowCache(source: source, windowBytes: options.blockBytes, budgetBytes: options.cacheBytes)
        let appender = RoundAppender()
        func output(_ f: PlannedFile, path: String) -> FileGroupWriter.Output {
            FileGroupWriter.Output(planned: f, path: path, sections: sections[f.file] ?? [:])
        }
        func write(_ group: [FileGroupWriter.Output], retained: Set<SourceWindowCache.Key>) throws(ShardingError) {
            // Writers of a group share the cores: fewer encoder threads each keeps the chunks in
            // flight (a few per encoder thread per writer) bounded.
            var writerOptions = options.writer
            writerOptions.threads = max(1, options.writer.threads / group.count)
            writerOptions.overwrite = options.replaceExisting
            let replace = options.replaceExisting
            let writer = FileGroupWriter(
                outputs: group, blockBytes: options.blockBytes, filler: BlockFiller(cache: cache), appender: appender, retained: retained,
                makeWriter: { (o: FileGroupWriter.Output, manifest: [ContainerTensor]) throws(ShardingError) -> any TensorContainerWriter in
                    var m = source.metadata
                    m.layoutJSON = target.layoutJSON(for: o.planned.file, config: source.config)
                    return try format.makeWriter(
                        TargetFile(
                            path: o.path, file: o.planned.file, layout: target, config: source.config, manifest: manifest, metadata: m,
                            writerOptions: writerOptions, replaceExisting: replace))
                })
            let said = try writer.write { n in
                done += Int64(n)
                progress?(done, total)
            }
            for n in said where !notes.contains(n) { notes.append(n) }
        }

        switch structure {
        case .single:
            guard plan.files.count == 1 else {
                throw .layoutMismatch("\(format.containerFormat) writes one \(target.kind.name) output, the layout has \(plan.files.count) files")
            }
            try write([output(plan.files[0], path: outputPath)], retained: [])
        case .tree(let tree):
            let out = try OutputDirectory(path: outputPath, replace: options.replaceExisting)
            var outputs: [FileGroupWriter.Output] = []
            for f in plan.files {
                guard let relative = tree.files[f.file] else { throw .layoutMismatch("\(target) names no path for file \(f.file)") }
                let parts = relative.split(separator: "/")
                if parts.count > 1 { try out.makeDirectory(parts.dropLast().joined(separator: "/")) }
                outputs.append(output(f, path: out.temporaryPath + "/" + relative))
            }
            // The files of a pipeline stage (its TP ranks) are written in lockstep (up to
            // `maxOpenWriters` at once).
            var stages: [Int] = []
            for f in plan.files where !stages.contains(f.file.ppRank) { stages.append(f.file.ppRank) }
            var groups: [[FileGroupWriter.Output]] = []
            for stage in stages {
                let ranks = outputs.filter { $0.planned.file.ppRank == stage }
                var k = 0
                while k < ranks.count {
                    let group = Array(ranks[k..<min(ranks.count, k + max(1, options.maxOpenWriters))])
                    groups += FileGroupWriter.canGroup(group) ? [group] : group.map { [$0] }
                    k += group.count
                }
            }
            // What each group's successors read stays cached after the group.
            var later = [Set<SourceWindowCache.Key>](repeating: [], count: groups.count)
            for g in groups.indices.dropLast().reversed() { later[g] = later[g + 1].union(FileGroupWriter.sourceKeys(groups[g + 1])) }
            for (group, retained) in zip(groups, later) { try write(group, retained: retained) }
            for (path, text) in tree.textFiles { try out.writeText(path, text) }
            try out.publish(syncing: tree.directories)
        }
        var report = ConversionReport(
            source: source.path, sourceLayout: source.layout.description, output: outputPath,
            outputLayout: target.description, files: plan.files.count, tensors: tensorCount, bytes: done,
            sourceBytesDecoded: cache.decodedBytes,
            seconds: Date().timeIntervalSince(start), divergentReplicas: divergent, droppedSections: dropped.sorted(), notes: notes)
        report.sourceFormat = source.formatName
        report.outputFormat = format.containerFormat
        return report
    }

    /// One note per top-level member of the source's user metadata that the target does not
    /// write (`kept` nil: it keeps all of them).
    static func unkeptMetadataNotes(_ userJSON: String?, kept: Set<String>?, title: String) -> [String] {
        guard let kept, let text = userJSON, let doc = try? JSONValue.parse(Array(text.utf8), limits: JSONLimits(maxDepth: 128)),
            let members = doc.objectValue
        else { return [] }
        return members.keys.sorted().filter { !kept.contains($0) }.map { key in
            let what =
                switch key {
                case "megatron": "Megatron-LM state (args, opt_param_scheduler, RNG states, _extra_state, param groups)"
                case "cerebras": "the .mdl's other leaves (cstorch's beta powers, schedulers, lr, Model Zoo's __metadata__)"
                case "torchtitan": "torchtitan's train_state, lr_scheduler, dataloader and param groups"
                default: "user metadata `\(key)`"
                }
            return "\(what) not written: \(title) checkpoints have no place for it"
        }
    }

    /// Refuses an output that exists (unless `replaceExisting`, and then only one of the same
    /// kind: a file or a directory) or that the file system cannot hold.
    private func checkOutput(_ path: String, isDirectory wantsDirectory: Bool, rawBytes: Int64, tensors: Int) throws(ShardingError) {
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDir) {
            if !options.replaceExisting || isDir.boolValue != wantsDirectory { throw .outputExists(path: path) }
        }
        if options.checkFreeSpace {
            let needed = FreeSpace.estimate(rawBytes: rawBytes, tensors: tensors, chunkBytes: options.writer.chunkBytes)
            do { try FreeSpace.check(needed: needed, for: path) } catch { throw .store(error) }
        }
    }
}
