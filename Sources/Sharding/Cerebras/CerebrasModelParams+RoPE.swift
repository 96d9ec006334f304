import CheckpointStore
import Containers

extension CerebrasModelParams {
    /// The parameters Model Zoo's `_llama_3_update_inv_freq` takes from
    /// `pos_scaling_extra_args`, with its defaults (Model Zoo 2.10,
    /// `layers/RotaryPositionEmbeddingHelper.py`).
    static let llama3ExtraArgs: [(key: String, fallback: Double)] = [
        ("low_freq_factor", 1), ("high_freq_factor", 4), ("original_max_position_embeddings", 8192),
    ]

    /// The rotary scaling of Model Zoo params (`pos_scaling_factor`, default 1;
    /// `pos_scaling_type`, default `linear`, case-insensitive as Model Zoo lowercases it;
    /// `pos_scaling_extra_args.*` for `llama3`, Model Zoo's defaults where absent): nil for
    /// linear by 1 (no scaling); `yarn` and `longrope` are refused by name, as is an extra
    /// argument `_llama_3_update_inv_freq` does not take.
    static func ropeScaling(_ p: [String: JSONValue], path: String) throws(ShardingError) -> RopeScaling? {
        func bad(_ d: String) -> ShardingError { .notACheckpoint(path: path, detail: "Model Zoo params: \(d)") }
        var factor = 1.0
        if let f = p["pos_scaling_factor"] {
            guard let d = f.doubleValue, d > 0 else { throw bad("pos_scaling_factor \(JSONText.compact(f)) is not a positive number") }
            factor = d
        }
        var type = "linear"
        if let t = p["pos_scaling_type"] {
            guard let s = t.stringValue else { throw bad("pos_scaling_type is \(t.kindDescription), not a string") }
            type = s.lowercased()
        }
        let extraPrefix = "pos_scaling_extra_args."
        switch type {
        case "linear":
            return factor == 1 ? nil : .linear(factor: factor)
        case "llama3":
            let known = Set(llama3ExtraArgs.map(\.key))
            if let k = p.keys.sorted().first(where: { $0.hasPrefix(extraPrefix) && !known.contains(String($0.dropFirst(extraPrefix.count))) }) {
                throw bad(
                    "\(PrintableName.of(k)): not an argument of Model Zoo's llama3 scaling (low_freq_factor, high_freq_factor, original_max_position_embeddings)"
                )
            }
            var values: [Double] = []
            for (key, fallback) in llama3ExtraArgs {
                guard let v = p[extraPrefix + key] else {
                    values.append(fallback)
                    continue
                }
                guard let d = v.doubleValue, d > 0 else { throw bad("\(extraPrefix + key) \(JSONText.compact(v)) is not a positive number") }
                values.append(d)
            }
            guard let original = Int(exactly: values[2]) else { throw bad("\(extraPrefix)original_max_position_embeddings \(values[2]) is not an integer") }
            let s = RopeScaling.llama3(factor: factor, lowFreqFactor: values[0], highFreqFactor: values[1], originalMaxSeq: original)
            if let problem = s.validationProblem() { throw bad("pos_scaling_type llama3: \(problem)") }
            return s
        default:
            throw bad("pos_scaling_type \(PrintableName.of(type)) (ckpt computes linear and llama3 rotary scaling)")
        }
    }

    /// Model Zoo params for `scaling` in its naming (as its Llama 3.1 / 3.2 configs spell them):
    /// `pos_scaling_factor`, `pos_scaling_type` and, for llama3, `pos_scaling_extra_args`;
    /// nothing without scaling (Model Zoo's default is linear by 1).
    static func ropeScalingParams(_ scaling: RopeScaling?) -> [(String, CerebrasStateDict.Node)] {
        typealias N = CerebrasStateDict.Node
        guard let s = scaling else { return [] }
        func v(_ x: Double) -> N { .leaf(.scalar(JSONValue.double(x) ?? .int(1))) }
        var out: [(String, N)] = [("pos_scaling_factor", v(s.factor ?? 1)), ("pos_scaling_type", .leaf(.string(s.type)))]
        if s.type == "llama3" {
            out.append(
                (
                    "pos_scaling_extra_args",
                    .dict([
                        ("high_freq_factor", v(s.highFreqFactor ?? 4)), ("low_freq_factor", v(s.lowFreqFactor ?? 1)),
                        ("original_max_position_embeddings", .leaf(.scalar(.int(s.originalMaxSeq ?? 8192)))),
                    ])
                ))
        }
        return out
    }
}
