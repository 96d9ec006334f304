import CheckpointStore
import Containers

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
                let agreed = try agree(origins, inventory)
                out[f.file, default: [:]][t.target.name] = t.target.holdsOptimizerState ? agreed : agreed.filter { $0.section == "model" }
            }
        }
        var stateless = Set<String>()
        for t in plan.source.allTensors where !t.holdsOptimizerState { stateless.insert("\(t.file) \(t.name)") }
        for check in plan.replicaChecks where inventory[check.replica]?[check.replicaTensor] != nil {
            let pair = [(check.reference.source, check.reference.sourceTensor), (check.replica, check.replicaTensor)]
            if stateless.contains("\(check.replica) \(check.replicaTensor)") {
                // A copy that is not a parameter: only its model tensor must agree.
                var modelOnly = inventory
                for (f, n) in pair { modelOnly[f]?[n] = inventory[f]?[n]?.filter { $0.section == "model" } }
                _ = try agree(pair, modelOnly)
            } else {
                _ = try agree(pair, inventory)
            }
        }
        return out
    }

    /// The sections the pieces `origins` of one output tensor share. Every piece must carry
    /// every section any piece carries (a piece without it is named as missing it, so a fused
    /// Q/K/V whose Q lacks `exp_avg_sq` reports Q's `exp_avg_sq` missing, not K's as unexpected),
    /// each in the dtype of the first piece that has it.
    private func agree(_ origins: [(ShardFile, String)], _ inventory: Inventory) throws(ShardingError) -> [SectionDType] {
        let pieces = origins.map { inventory[$0.0]![$0.1]! }
        var union: [SectionDType] = []
        for p in pieces {
            for s in p where !union.contains(where: { $0.section == s.section }) { union.append(s) }
        }
        union.sort { a, b in a.section == "model" ? b.section != "model" : (b.section != "model" && a.section < b.section) }
        for ((file, name), mine) in zip(origins, pieces) {
            let path = source.path(file)
            for r in union {
                let tensor = TensorKey(section: r.section, name: name).description
                guard let m = mine.first(where: { $0.section == r.section }) else { throw .missingTensor(path: path, tensor: tensor) }
                if m.dtype != r.dtype {
                    throw .dtypeMismatch(path: path, tensor: tensor, expected: r.dtype.rawValue, actual: m.dtype.rawValue)
                }
            }
        }
        return union
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
                if t.isOptional && sections[t.name] == nil { continue }
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
