import CheckpointStore
import Containers

/// Builds a `ReshardPlan`: a pure function of the model configuration and the two layouts.
///
/// Both layouts are first expanded into canonical boxes (`LayoutInterpreter`); each output
/// segment is then intersected with the primary source segments of the same canonical tensor.
/// Every mapping is a translation (with the last two dimensions swapped where one side is
/// stored transposed), so each intersection becomes one `PlanPiece`.
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
                guard let common = segment.canonicalBox.overlap(with: s.canonicalBox), common.count > 0 else { continue }
                area += common.count
                out.append(
                    PlanPiece(
                        source: t.file, sourceTensor: t.name, sourceBox: s.localBox(for: common), destBox: segment.localBox(for: common),
                        transposed: s.transposed != segment.transposed))
            }
            if area != segment.canonicalBox.count {
                throw .layoutMismatch(
                    "source layout covers \(area) of \(segment.canonicalBox.count) elements of \(segment.canonical) box \(segment.canonicalBox)"
                )
            }
            return out
        }

        var files: [PlannedFile] = []
        for file in dst.files {
            var tensors: [PlannedTensor] = []
            for t in dst.tensors(in: file) where !t.isOptional {
                var ps: [PlanPiece] = []
                for s in t.segments { ps += try pieces(for: s) }
                tensors.append(PlannedTensor(target: t, pieces: Self.coalesce(Self.sorted(ps))))
            }
            files.append(PlannedFile(file: file, tensors: tensors))
        }

        var checks: [ReplicaCheck] = []
        for t in src.allTensors where !t.isPrimary {
            var ps: [PlanPiece] = []
            for s in t.segments { ps += try pieces(for: s) }
            for p in Self.coalesce(Self.sorted(ps)) {
                checks.append(ReplicaCheck(replica: t.file, replicaTensor: t.name, reference: p))
            }
        }
        return ReshardPlan(config: config, source: src, target: dst, files: files, replicaChecks: checks)
    }

    /// Pieces in output order: by destination offsets, dimension 0 first.
    static func sorted(_ pieces: [PlanPiece]) -> [PlanPiece] {
        pieces.sorted { $0.destBox.offsets.lexicographicallyPrecedes($1.destBox.offsets) }
    }

    /// Joins consecutive pieces that continue each other along dimension 0 in both the source
    /// and the output (same tensor, same rank on both sides, not transposed, equal elsewhere).
    static func coalesce(_ pieces: [PlanPiece]) -> [PlanPiece] {
        var out: [PlanPiece] = []
        for p in pieces {
            if var last = out.last, last.source == p.source, last.sourceTensor == p.sourceTensor,
                !last.transposed, !p.transposed,
                last.sourceBox.offsets.count == last.destBox.offsets.count, !last.destBox.offsets.isEmpty,
                p.sourceBox.offsets.count == last.sourceBox.offsets.count, p.destBox.offsets.count == last.destBox.offsets.count,
                last.sourceBox.offsets.dropFirst() == p.sourceBox.offsets.dropFirst(),
                last.sourceBox.sizes.dropFirst() == p.sourceBox.sizes.dropFirst(),
                last.destBox.offsets.dropFirst() == p.destBox.offsets.dropFirst(),
                last.destBox.sizes.dropFirst() == p.destBox.sizes.dropFirst(),
                last.sourceBox.offsets[0] + last.sourceBox.sizes[0] == p.sourceBox.offsets[0],
                last.destBox.offsets[0] + last.destBox.sizes[0] == p.destBox.offsets[0]
            {
                last.sourceBox.sizes[0] += p.sourceBox.sizes[0]
                last.destBox.sizes[0] += p.destBox.sizes[0]
                out[out.count - 1] = last
            } else {
                out.append(p)
            }
        }
        return out
    }
}
