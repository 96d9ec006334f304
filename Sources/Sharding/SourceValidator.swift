import CheckpointStore

/// Checks a source against the plan before anything is written: every tensor the layout needs
/// is present in every rank file with its local shape, nothing else is there, and the pieces of
/// each output tensor agree on sections (model and optimizer states) and dtypes.
struct SourceValidator {
    let source: CheckpointSource
    let plan: ReshardPlan

    /// Sections of each source tensor, keyed by file then stored name.
    typealias Inventory = [ShardFile: [String: [SectionDType]]]

    /// Validates and returns the sections to write for each output tensor (keyed by file, name).
    func validate() throws(ShardingError) -> [ShardFile: [String: [SectionDType]]] {
        let inventory = try checkFiles()
        var primaryByCanonical: [String: (ShardFile, String)] = [:]
        for t in plan.source.allTensors where t.isPrimary {
            for c in t.canonicalNames where primaryByCanonical[c] == nil { primaryByCanonical[c] = (t.file, t.name) }
        }
        var out: [ShardFile: [String: [SectionDType]]] = [:]
        for f in plan.files {
            for t in f.tensors {
                let origins: [(ShardFile, String)]
                if t.pieces.isEmpty {
                    guard let o = t.target.canonicalNames.first.flatMap({ primaryByCanonical[$0] }) else {
                        throw .layoutMismatch("no source tensor holds \(t.target.canonicalNames)")
                    }
                    origins = [o]
                } else {
                    origins = t.pieces.map { ($0.source, $0.sourceTensor) }
                }
                let sections = inventory[origins[0].0]![origins[0].1]!
                for (file, name) in origins.dropFirst() {
                    try compare(inventory[file]![name]!, file: file, name: name, reference: sections)
                }
                out[f.file, default: [:]][t.target.name] = sections
            }
        }
        for check in plan.replicaChecks {
            let reference = inventory[check.reference.source]![check.reference.sourceTensor]!
            try compare(
                inventory[check.replica]![check.replicaTensor]!, file: check.replica, name: check.replicaTensor,
                reference: reference)
        }
        return out
    }

    private func compare(_ s: [SectionDType], file: ShardFile, name: String, reference: [SectionDType]) throws(ShardingError) {
        let path = source.path(file)
        for r in reference {
            guard let mine = s.first(where: { $0.section == r.section }) else {
                throw .missingTensor(path: path, tensor: TensorKey(section: r.section, name: name).description)
            }
            if mine.dtype != r.dtype {
                throw .dtypeMismatch(
                    path: path, tensor: TensorKey(section: r.section, name: name).description,
                    expected: r.dtype.rawValue, actual: mine.dtype.rawValue)
            }
        }
        for mine in s where !reference.contains(where: { $0.section == mine.section }) {
            throw .unexpectedTensor(path: path, tensor: TensorKey(section: mine.section, name: name).description)
        }
    }

    private func checkFiles() throws(ShardingError) -> Inventory {
        var inventory: Inventory = [:]
        for file in plan.source.files {
            let path = source.path(file)
            let expected = plan.source.tensors(in: file)
            var shapes: [String: [Int]] = [:]
            for t in expected { shapes[t.name] = t.shape }
            var sections: [String: [SectionDType]] = [:]
            for info in source.inventories[file] ?? [] {
                guard let shape = shapes[info.key.name] else {
                    throw .unexpectedTensor(path: path, tensor: info.key.description)
                }
                if info.shape != shape {
                    throw .wrongShape(path: path, tensor: info.key.description, expected: shape, actual: info.shape)
                }
                sections[info.key.name, default: []].append(SectionDType(section: info.key.section, dtype: info.dtype))
            }
            for t in expected {
                guard let s = sections[t.name], s.contains(where: { $0.section == "model" }) else {
                    throw .missingTensor(path: path, tensor: t.name)
                }
                sections[t.name] = s.sorted { a, b in
                    a.section == "model" ? b.section != "model" : (b.section != "model" && a.section < b.section)
                }
            }
            inventory[file] = sections
        }
        return inventory
    }
}
