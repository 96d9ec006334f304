import CheckpointStore
import Containers
import Foundation

/// Interprets layout rules: from a model configuration and a layout, lists every local tensor of
/// every file with its shape and the canonical boxes it holds.
///
/// This is the only code that knows what the split kinds and transforms mean; which tensor gets
/// which split, name and orientation is data (`LayoutRuleSet`), for every layout kind with a
/// table (Megatron, Hugging Face). The canonical (wafer) layout has no table: its tensors are
/// the canonical ones.
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
        if let shape = layout.shape {
            try shape.validate(config)
        } else if let problem = config.validationProblem() {
            throw .invalidModelConfig(problem)
        }
        guard let table = layout.kind.table else {
            let tensors = config.canonicalTensors().map { t in
                LocalTensor(
                    file: .wafer, name: t.name, shape: t.shape,
                    segments: [TensorSegment(canonical: t.name, canonicalBox: .whole(t.shape), localOffsets: t.shape.map { _ in 0 })],
                    isPrimary: true, split: .replicated, canonicalNames: [t.name])
            }
            return LayoutMap(config: config, layout: layout, tensorsByFile: [.wafer: tensors])
        }
        let rules = try checkedRules(config, table: table)
        return try tableMap(config, layout, rules)
    }

    /// The rule set `layout` uses for `config`, or nil for the canonical layout; a model the
    /// rule set's `requires` refuses is `cannotExpress`.
    public func rules(_ config: ModelConfig, _ layout: CheckpointLayout) throws(ShardingError) -> LayoutRuleSet? {
        guard let table = layout.kind.table else { return nil }
        return try checkedRules(config, table: table)
    }

    private func checkedRules(_ config: ModelConfig, table: String) throws(ShardingError) -> LayoutRuleSet {
        let rules = try catalog.rules(kind: table, family: config.family)
        for r in rules.requires ?? [] {
            try r.check(config, layout: table, source: "\(table) layout, family \(config.family)")
        }
        return rules
    }

    private func tableMap(_ config: ModelConfig, _ layout: CheckpointLayout, _ rules: LayoutRuleSet) throws(ShardingError) -> LayoutMap {
        let shape = layout.effectiveShape
        let canonical = config.canonicalTensors()
        var shapes: [String: [Int]] = [:]
        for t in canonical { shapes[t.name] = t.shape }
        var coverage: [String: Int] = [:]
        var byFile: [ShardFile: [LocalTensor]] = [:]
        var namesByFile: [ShardFile: Set<String>] = [:]
        if shape.vpp > 1 && rules.chunkPrefix == nil {
            throw .layoutMismatch("the \(layout.kind.name) layout names no model chunks (chunk_prefix): it cannot hold a virtual pipeline")
        }
        // The prefix of chunk c's stored names (none without a virtual pipeline).
        func prefix(_ chunk: Int) -> String {
            guard shape.vpp > 1, let p = rules.chunkPrefix else { return "" }
            return p.replacingOccurrences(of: "{c}", with: String(chunk))
        }

        for rule in rules.tensors {
            let perLayer = rule.canonical.contains { $0.contains("{i}") } || rule.name.contains("{j}") || rule.name.contains("{i}")
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
                        "rule for \(rule.name) fuses \(names.joined(separator: ", ")) but the \(config.family) model has no \(missing.joined(separator: ", "))"
                    )
                }
                let stage: Int, chunk: Int
                var local: Int?
                switch rule.stage ?? (perLayer ? .layer : .first) {
                case .first: (stage, chunk) = (0, 0)
                case .last: (stage, chunk) = (shape.pp - 1, shape.vpp - 1)
                case .layer:
                    guard let layer else { throw .layoutMismatch("rule for \(rule.name) has stage 'layer' but no {i}") }
                    (stage, chunk, local) = shape.placement(ofLayer: layer, layers: config.layers)
                }
                if let layer, local == nil { local = shape.placement(ofLayer: layer, layers: config.layers).local }
                let storedName = prefix(chunk) + Self.fill(rule.name, i: layer, j: local)
                if rule.copy != true { for n in names { coverage[n, default: 0] += 1 } }
                for r in 0..<shape.tp {
                    let file = ShardFile(tpRank: r, ppRank: stage)
                    if !namesByFile[file, default: []].insert(storedName).inserted {
                        throw .layoutMismatch("two rules produce \(storedName) in \(layout.kind.name) file \(file)")
                    }
                    var t = try localTensor(rule, names: names, shapes: shapes, name: storedName, file: file, config: config, shape: shape)
                    if rule.transpose == true { t = try Self.transposed(t) }
                    if let order = rule.rope {
                        guard config.rotaryPct == 1 else {
                            throw .layoutMismatch(
                                "rule for \(rule.name) has rope '\(order.rawValue)', which permutes whole heads, but rotary_pct is \(config.rotaryPct)")
                        }
                        t = try Self.ropeOrdered(t, order, headDim: config.headDim)
                    }
                    if rule.noOptimizerState == true {
                        guard rule.copy == true else { throw .layoutMismatch("rule for \(rule.name) has no_optimizer_state but is not a copy") }
                        t.holdsOptimizerState = false
                    }
                    if rule.optional == true {
                        guard rule.copy == true else { throw .layoutMismatch("rule for \(rule.name) is optional but not a copy") }
                        t.isOptional = true
                    }
                    byFile[file, default: []].append(t)
                }
            }
        }
        for t in canonical {
            let n = coverage[t.name] ?? 0
            if n != 1 {
                throw .layoutMismatch(
                    "canonical tensor \(t.name) is covered by \(n) rules of the \(layout.kind.name) layout for family \(config.family) (expected exactly 1)")
            }
        }
        return LayoutMap(config: config, layout: layout, tensorsByFile: byFile)
    }

    /// The local tensor in canonical orientation (fused parts stacked along dimension 0).
    private func localTensor(
        _ rule: LayoutRule, names: [String], shapes: [String: [Int]], name: String,
        file: ShardFile, config: ModelConfig, shape: MegatronShape
    ) throws(ShardingError) -> LocalTensor {
        let tp = shape.tp, r = file.tpRank
        guard let first = shapes[names[0]] else { throw .layoutMismatch("rule for \(rule.name) names no canonical tensor") }
        let rows = first.first ?? 1, cols = first.dropFirst().reduce(1, *)
        let isCopy = rule.copy == true
        func divides(_ n: Int, _ d: Int, _ what: String) throws(ShardingError) {
            if d == 0 || n % d != 0 {
                throw .layoutMismatch("\(name): \(what) \(n) is not divisible by \(d)")
            }
        }
        // Canonical tensors are 1-D or 2-D: rows (dimension 0) x columns (dimension 1, if any).
        func seg(_ c: String, _ rr: Range<Int>, _ cc: Range<Int>, _ lr: Int, _ lc: Int) -> TensorSegment {
            switch first.count {
            case 0: return TensorSegment(canonical: c, canonicalBox: .whole([]), localOffsets: [])
            case 1:
                return TensorSegment(canonical: c, canonicalBox: TensorBox(offsets: [rr.lowerBound], sizes: [rr.count]), localOffsets: [lr])
            default:
                return TensorSegment(
                    canonical: c, canonicalBox: TensorBox(offsets: [rr.lowerBound, cc.lowerBound], sizes: [rr.count, cc.count]),
                    localOffsets: [lr, lc])
            }
        }
        guard first.count <= 2 else { throw .layoutMismatch("\(name): canonical tensors have at most 2 dimensions, \(names[0]) has shape \(first)") }
        if rule.split != .fused && names.count != 1 {
            throw .layoutMismatch("rule for \(rule.name) lists \(names.count) canonical tensors but split '\(rule.split.rawValue)' takes one")
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
            if !s.isEmpty { s[0] = n }
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
            guard !first.isEmpty else { throw .layoutMismatch("\(name): vocab split needs a tensor with rows, got a scalar") }
            let padded = shape.paddedVocab(rows)
            let n = padded / tp
            let lo = min(r * n, rows), hi = min((r + 1) * n, rows)
            var s = first
            s[0] = n
            let segments = hi > lo ? [seg(names[0], lo..<hi, 0..<cols, 0, 0)] : []
            return LocalTensor(file: file, name: name, shape: s, segments: segments, isPrimary: !isCopy, split: .vocab, canonicalNames: names)
        case .fused:
            guard let blockKind = rule.blocks else { throw .layoutMismatch("fused rule for \(rule.name) has no 'blocks'") }
            guard !first.isEmpty else { throw .layoutMismatch("\(name): fused split needs tensors with rows, got a scalar") }
            let blocks: Int
            switch blockKind {
            case .kvHeads: blocks = config.kvHeads
            case .tp: blocks = tp
            case .one: blocks = 1
            }
            var partRows: [Int] = []
            for n in names {
                guard let s = shapes[n] else { throw .layoutMismatch("rule for \(rule.name) fuses unknown \(n)") }
                if s.dropFirst() != first.dropFirst() || s.count != first.count {
                    throw .layoutMismatch("\(name): fused parts \(names[0]) \(first) and \(n) \(s) differ after dimension 0")
                }
                try divides(s.first ?? 1, blocks, "\(n) dimension 0")
                partRows.append((s.first ?? 1) / blocks)
            }
            var segments: [TensorSegment] = []
            var cursor = 0
            if blocks % tp == 0 {
                // Each rank holds whole blocks.
                let perRank = blocks / tp
                for b in r * perRank..<(r + 1) * perRank {
                    for (p, n) in names.enumerated() {
                        let k = partRows[p]
                        segments.append(seg(n, b * k..<(b + 1) * k, 0..<cols, cursor, 0))
                        cursor += k
                    }
                }
            } else {
                // Fewer KV groups than ranks (megatron-core's ColumnParallelLinear over the whole
                // fused tensor): the rows of all blocks, in order, cut into TP contiguous pieces;
                // a piece may start or end inside a block's part.
                guard blockKind == .kvHeads, tp % blocks == 0 else {
                    throw .layoutMismatch("\(name): \(blocks) row blocks cannot be split over \(tp) tensor-parallel ranks")
                }
                let total = blocks * partRows.reduce(0, +)
                try divides(total, tp, "dimension 0")
                let lo = r * total / tp, hi = (r + 1) * total / tp
                var row = 0
                for b in 0..<blocks {
                    for (p, n) in names.enumerated() {
                        let k = partRows[p]
                        let a = max(lo, row), e = min(hi, row + k)
                        if a < e {
                            let off = a - row
                            segments.append(seg(n, b * k + off..<b * k + off + (e - a), 0..<cols, cursor, 0))
                            cursor += e - a
                        }
                        row += k
                    }
                }
            }
            var s = first
            s[0] = cursor
            return LocalTensor(file: file, name: name, shape: s, segments: segments, isPrimary: !isCopy, split: .fused, canonicalNames: names)
        }
    }

    /// `t` stored with its two dimensions swapped (`transpose: true`).
    private static func transposed(_ t: LocalTensor) throws(ShardingError) -> LocalTensor {
        guard t.shape.count == 2 else {
            throw .layoutMismatch("\(t.name): transpose needs a 2-D tensor, got shape \(t.shape)")
        }
        var out = t
        out.shape = [t.shape[1], t.shape[0]]
        out.segments = t.segments.map { s in
            TensorSegment(
                canonical: s.canonical, canonicalBox: s.canonicalBox, localOffsets: [s.localOffsets[1], s.localOffsets[0]], transposed: !s.transposed)
        }
        return out
    }

    /// Substitutes `{i}` and `{j}` in a name template.
    static func fill(_ template: String, i: Int?, j: Int?) -> String {
        var s = template
        if let i { s = s.replacingOccurrences(of: "{i}", with: String(i)) }
        if let j { s = s.replacingOccurrences(of: "{j}", with: String(j)) }
        return s
    }
}
