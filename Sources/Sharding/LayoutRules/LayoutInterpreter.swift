import CheckpointStore
import Foundation

/// Interprets layout rules: from a model configuration and a layout, lists every local tensor of
/// every file with its shape and the canonical rectangles it holds.
///
/// This is the only code that knows what the split kinds mean; which tensor gets which split is
/// data (`LayoutRuleSet`).
public struct LayoutInterpreter: Sendable {
    /// The rule catalog.
    public let catalog: LayoutCatalog

    /// Creates an interpreter over `catalog`.
    public init(catalog: LayoutCatalog) {
        self.catalog = catalog
    }

    /// Creates an interpreter over the bundled catalog.
    public init() throws(ShardingError) {
        self.catalog = try LayoutCatalog.bundled()
    }

    /// The local tensors of `layout` for `config`.
    public func map(_ config: ModelConfig, _ layout: CheckpointLayout) throws(ShardingError) -> LayoutMap {
        switch layout {
        case .wafer:
            if let problem = config.validationProblem() { throw .invalidModelConfig(problem) }
            let tensors = config.canonicalTensors().map { t in
                let rows = t.shape.first ?? 1, cols = t.shape.dropFirst().reduce(1, *)
                return LocalTensor(
                    file: .wafer, name: t.name, shape: t.shape,
                    segments: [
                        TensorSegment(
                            canonical: t.name, canonicalRows: 0..<rows, canonicalCols: 0..<cols,
                            localRow: 0, localCol: 0)
                    ],
                    isPrimary: true, split: .replicated, canonicalNames: [t.name])
            }
            return LayoutMap(config: config, layout: layout, tensorsByFile: [.wafer: tensors])
        case .megatron(let shape):
            try shape.validate(config)
            let rules = try catalog.rules(kind: "megatron", family: config.family)
            return try megatronMap(config, shape, rules)
        }
    }

    private func megatronMap(_ config: ModelConfig, _ shape: MegatronShape, _ rules: LayoutRuleSet) throws(ShardingError) -> LayoutMap {
        let canonical = config.canonicalTensors()
        var shapes: [String: [Int]] = [:]
        for t in canonical { shapes[t.name] = t.shape }
        var coverage: [String: Int] = [:]
        var byFile: [ShardFile: [LocalTensor]] = [:]
        var namesByFile: [ShardFile: Set<String>] = [:]
        let perStage = config.layers / shape.pp

        for rule in rules.tensors {
            let perLayer = rule.canonical.contains { $0.contains("{i}") } || rule.megatron.contains("{j}")
            let layerIndices: [Int?] = perLayer ? (0..<config.layers).map { $0 } : [nil]
            if let w = rule.when {
                if let tie = w.tieEmbeddings, tie != config.tieEmbeddings { continue }
                if let minPP = w.minPP, shape.pp < minPP { continue }
            }
            for layer in layerIndices {
                let names = rule.canonical.map { Self.fill($0, i: layer, j: nil) }
                let present = names.filter { shapes[$0] != nil }
                if present.isEmpty { continue }
                if present.count != names.count {
                    let missing = names.filter { shapes[$0] == nil }
                    throw .layoutMismatch(
                        "rule for \(rule.megatron) fuses \(names.joined(separator: ", ")) but the \(config.family) model has no \(missing.joined(separator: ", "))"
                    )
                }
                let stage: Int
                switch rule.stage {
                case .first: stage = 0
                case .last: stage = shape.pp - 1
                case .layer:
                    guard let layer else { throw .layoutMismatch("rule for \(rule.megatron) has stage 'layer' but no {i}") }
                    stage = layer / perStage
                }
                let local = layer.map { $0 - stage * perStage }
                let megatronName = Self.fill(rule.megatron, i: layer, j: local)
                if rule.copy != true { for n in names { coverage[n, default: 0] += 1 } }
                for r in 0..<shape.tp {
                    let file = ShardFile(tpRank: r, ppRank: stage)
                    if !namesByFile[file, default: []].insert(megatronName).inserted {
                        throw .layoutMismatch("two rules produce \(megatronName) in rank file \(file)")
                    }
                    let t = try localTensor(
                        rule, names: names, shapes: shapes, name: megatronName, file: file,
                        config: config, shape: shape)
                    byFile[file, default: []].append(t)
                }
            }
        }
        for t in canonical {
            let n = coverage[t.name] ?? 0
            if n != 1 {
                throw .layoutMismatch(
                    "canonical tensor \(t.name) is covered by \(n) rules of the megatron layout for family \(config.family) (expected exactly 1)")
            }
        }
        return LayoutMap(config: config, layout: .megatron(shape), tensorsByFile: byFile)
    }

    private func localTensor(
        _ rule: LayoutRule, names: [String], shapes: [String: [Int]], name: String,
        file: ShardFile, config: ModelConfig, shape: MegatronShape
    ) throws(ShardingError) -> LocalTensor {
        let tp = shape.tp, r = file.tpRank
        let first = shapes[names[0]]!
        let rows = first.first ?? 1, cols = first.dropFirst().reduce(1, *)
        let isCopy = rule.copy == true
        func divides(_ n: Int, _ d: Int, _ what: String) throws(ShardingError) {
            if d == 0 || n % d != 0 {
                throw .layoutMismatch("\(name): \(what) \(n) is not divisible by \(d)")
            }
        }
        func seg(_ c: String, _ rr: Range<Int>, _ cc: Range<Int>, _ lr: Int, _ lc: Int) -> TensorSegment {
            TensorSegment(canonical: c, canonicalRows: rr, canonicalCols: cc, localRow: lr, localCol: lc)
        }
        if rule.split != .fused && names.count != 1 {
            throw .layoutMismatch("rule for \(rule.megatron) lists \(names.count) canonical tensors but split '\(rule.split.rawValue)' takes one")
        }
        switch rule.split {
        case .replicated:
            return LocalTensor(
                file: file, name: name, shape: first, segments: [seg(names[0], 0..<rows, 0..<cols, 0, 0)],
                isPrimary: r == 0 && !isCopy, split: .replicated, canonicalNames: names)
        case .column:
            try divides(rows, tp, "dimension 0")
            let n = rows / tp
            var s = first
            s[0] = n
            return LocalTensor(
                file: file, name: name, shape: s, segments: [seg(names[0], r * n..<(r + 1) * n, 0..<cols, 0, 0)],
                isPrimary: !isCopy, split: .column, canonicalNames: names)
        case .row:
            guard first.count == 2 else { throw .layoutMismatch("\(name): row-parallel split needs a 2-D tensor, got shape \(first)") }
            try divides(cols, tp, "dimension 1")
            let m = cols / tp
            return LocalTensor(
                file: file, name: name, shape: [rows, m], segments: [seg(names[0], 0..<rows, r * m..<(r + 1) * m, 0, 0)],
                isPrimary: !isCopy, split: .row, canonicalNames: names)
        case .vocab:
            let padded = shape.paddedVocab(rows)
            let n = padded / tp
            let lo = min(r * n, rows), hi = min((r + 1) * n, rows)
            var s = first
            s[0] = n
            let segments = hi > lo ? [seg(names[0], lo..<hi, 0..<cols, 0, 0)] : []
            return LocalTensor(file: file, name: name, shape: s, segments: segments, isPrimary: !isCopy, split: .vocab, canonicalNames: names)
        case .fused:
            guard let blockKind = rule.blocks else { throw .layoutMismatch("fused rule for \(rule.megatron) has no 'blocks'") }
            let blocks = blockKind == .kvHeads ? config.kvHeads : tp
            try divides(blocks, tp, "block count")
            var partRows: [Int] = []
            for n in names {
                let s = shapes[n]!
                if s.dropFirst() != first.dropFirst() {
                    throw .layoutMismatch("\(name): fused parts \(names[0]) \(first) and \(n) \(s) differ after dimension 0")
                }
                try divides(s.first ?? 1, blocks, "\(n) dimension 0")
                partRows.append((s.first ?? 1) / blocks)
            }
            let perRank = blocks / tp
            var segments: [TensorSegment] = []
            var cursor = 0
            for b in r * perRank..<(r + 1) * perRank {
                for (p, n) in names.enumerated() {
                    let k = partRows[p]
                    segments.append(seg(n, b * k..<(b + 1) * k, 0..<cols, cursor, 0))
                    cursor += k
                }
            }
            var s = first
            s[0] = cursor
            return LocalTensor(file: file, name: name, shape: s, segments: segments, isPrimary: !isCopy, split: .fused, canonicalNames: names)
        }
    }

    /// Substitutes `{i}` and `{j}` in a name template.
    static func fill(_ template: String, i: Int?, j: Int?) -> String {
        var s = template
        if let i { s = s.replacingOccurrences(of: "{i}", with: String(i)) }
        if let j { s = s.replacingOccurrences(of: "{j}", with: String(j)) }
        return s
    }
}
