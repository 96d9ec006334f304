import CheckpointStore

/// How a target format stores optimizer state, given what the source holds
/// (`TargetFormat.optimizerStatePolicy`).
public enum OptimizerStatePolicy: Sendable, Hashable {
    /// Every section as the source stores it (ckpt's HDF5 files, Cerebras `.mdl`).
    case asSource
    /// megatron-core's mixed-precision optimizers (`Float16OptimizerWithFloat16Params`, the
    /// distributed optimizer): Adam moments in float32 and a float32 master copy of every
    /// 16-bit parameter. 16-bit moments (a Cerebras bf16 model's, whose AdamW keeps them in the
    /// parameter's dtype) are widened to float32, exactly; a 16-bit parameter with moments but
    /// no master gets its own value widened as the master, as megatron-core makes its main
    /// parameters from the model's when it starts without them. Both are reported in a note.
    case megatronFloat32

    /// Rewrites the output `sections` (by file, then tensor name) the policy changes and
    /// returns one note per kind of change ("optimizer state widened ...").
    func apply(to sections: inout [ShardFile: [String: [SectionDType]]], title: String) -> [String] {
        guard self == .megatronFloat32 else { return [] }
        func isHalf(_ d: DType) -> Bool { d == .bfloat16 || d == .float16 }
        var widened = Set<DType>(), masters = Set<DType>()
        for (f, byName) in sections {
            for (name, list) in byName {
                guard let model = list.first(where: { $0.section == "model" }) else { continue }
                var out: [SectionDType] = []
                for s in list {
                    if s.section != "model" && isHalf(s.dtype) {
                        widened.insert(s.dtype)
                        out.append(SectionDType(section: s.section, dtype: .float32, from: s.section, dtype: s.dtype))
                    } else {
                        out.append(s)
                    }
                }
                let hasMoments = list.contains { $0.section == "optimizer/exp_avg" || $0.section == "optimizer/exp_avg_sq" }
                if hasMoments && isHalf(model.dtype) && !list.contains(where: { $0.section == "optimizer/master" }) {
                    masters.insert(model.dtype)
                    out.append(SectionDType(section: "optimizer/master", dtype: .float32, from: "model", dtype: model.dtype))
                }
                out.sort { a, b in a.section == "model" ? b.section != "model" : (b.section != "model" && a.section < b.section) }
                sections[f]?[name] = out
            }
        }
        func names(_ s: Set<DType>) -> String { s.map(\.rawValue).sorted().joined(separator: " and ") }
        var notes: [String] = []
        if !widened.isEmpty {
            notes.append("optimizer state widened from \(names(widened)) to float32 (exact): \(title) checkpoints keep Adam moments in float32")
        }
        if !masters.isEmpty {
            notes.append(
                "fp32 master weights made from the \(names(masters)) parameters (exact; the source holds none), as megatron-core makes them from a model")
        }
        return notes
    }
}
