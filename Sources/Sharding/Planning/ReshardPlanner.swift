import CheckpointStore

/// Builds a `ReshardPlan`: a pure function of the model configuration and the two layouts.
///
/// Both layouts are first expanded into canonical rectangles (`LayoutInterpreter`); each output
/// segment is then intersected with the primary source segments of the same canonical tensor.
/// Every mapping is a translation, so each intersection becomes one `PlanPiece`.
public struct ReshardPlanner: Sendable {
    /// The interpreter expanding layouts.
    public let interpreter: LayoutInterpreter

    /// Creates a planner over `interpreter`.
    public init(interpreter: LayoutInterpreter) {
        self.interpreter = interpreter
    }

    /// Creates a planner over the bundled layout rules.
    public init() throws(ShardingError) {
        self.interpreter = try LayoutInterpreter()
    }

    /// Plans the conversion of a `source`-layout checkpoint of `config` into `target`.
    public func plan(_ config: ModelConfig, from source: CheckpointLayout, to target: CheckpointLayout) throws(ShardingError) -> ReshardPlan {
        let src = try interpreter.map(config, source)
        let dst = try interpreter.map(config, target)

        var primaries: [String: [(tensor: LocalTensor, segment: TensorSegment)]] = [:]
        for t in src.allTensors where t.isPrimary {
            for s in t.segments { primaries[s.canonical, default: []].append((t, s)) }
        }

        func pieces(for segment: TensorSegment) throws(ShardingError) -> [PlanPiece] {
            var out: [PlanPiece] = []
            var area = 0
            for (t, s) in primaries[segment.canonical] ?? [] {
                let rows = segment.canonicalRows.clamped(to: s.canonicalRows)
                let cols = segment.canonicalCols.clamped(to: s.canonicalCols)
                if rows.isEmpty || cols.isEmpty { continue }
                area += rows.count * cols.count
                out.append(
                    PlanPiece(
                        source: t.file, sourceTensor: t.name,
                        sourceRows: s.localRow + rows.lowerBound - s.canonicalRows.lowerBound..<s.localRow + rows.upperBound - s.canonicalRows.lowerBound,
                        sourceCols: s.localCol + cols.lowerBound - s.canonicalCols.lowerBound..<s.localCol + cols.upperBound - s.canonicalCols.lowerBound,
                        destRow: segment.localRow + rows.lowerBound - segment.canonicalRows.lowerBound,
                        destCol: segment.localCol + cols.lowerBound - segment.canonicalCols.lowerBound))
            }
            if area != segment.canonicalRows.count * segment.canonicalCols.count {
                throw .layoutMismatch(
                    "source layout covers \(area) of \(segment.canonicalRows.count * segment.canonicalCols.count) elements of \(segment.canonical) rows \(segment.canonicalRows)"
                )
            }
            return out
        }

        var files: [PlannedFile] = []
        for file in dst.files {
            var tensors: [PlannedTensor] = []
            for t in dst.tensors(in: file) {
                var ps: [PlanPiece] = []
                for s in t.segments { ps += try pieces(for: s) }
                ps.sort { ($0.destRow, $0.destCol) < ($1.destRow, $1.destCol) }
                tensors.append(PlannedTensor(target: t, pieces: Self.coalesce(ps)))
            }
            files.append(PlannedFile(file: file, tensors: tensors))
        }

        var checks: [ReplicaCheck] = []
        for t in src.allTensors where !t.isPrimary {
            var ps: [PlanPiece] = []
            for s in t.segments { ps += try pieces(for: s) }
            for p in Self.coalesce(ps.sorted { ($0.destRow, $0.destCol) < ($1.destRow, $1.destCol) }) {
                checks.append(ReplicaCheck(replica: t.file, replicaTensor: t.name, reference: p))
            }
        }
        return ReshardPlan(config: config, source: src, target: dst, files: files, replicaChecks: checks)
    }

    /// Joins consecutive pieces that continue each other in both source and output rows.
    static func coalesce(_ pieces: [PlanPiece]) -> [PlanPiece] {
        var out: [PlanPiece] = []
        for p in pieces {
            if var last = out.last, last.source == p.source, last.sourceTensor == p.sourceTensor,
                last.sourceCols == p.sourceCols, last.destCol == p.destCol,
                last.sourceRows.upperBound == p.sourceRows.lowerBound,
                last.destRow + last.sourceRows.count == p.destRow
            {
                last.sourceRows = last.sourceRows.lowerBound..<p.sourceRows.upperBound
                out[out.count - 1] = last
            } else {
                out.append(p)
            }
        }
        return out
    }
}
