import CheckpointStore
import Containers

/// The non-tensor state of one Megatron rank file, in `PickleJSON` form, so that export can
/// write it back: `common` (the same in every rank: `args`, `checkpoint_version`, `iteration`,
/// `opt_param_scheduler`, `num_floating_point_operations_so_far`, `rerun_state_machine` and any
/// other top-level entry) and `rank` (`rng_state`, the `_extra_state` entries, the optimizer's
/// `param_groups`, `grad_scaler` and per-parameter `step`, and the process's `rank` and
/// `local_rank` args).
///
/// Small tensors inside (the RNG states' ByteTensors, Transformer Engine extra state) are
/// inlined as bytes; larger ones are dropped with a note.
public struct MegatronTorchState: Sendable, Hashable {
    /// JSON object of the entries every rank shares.
    let common: JSONTree
    /// JSON object of this rank's own entries.
    let rank: JSONTree

    init(
        root: [PickleDictEntry], extraState: [(String, PickleValue)], optimizer: MegatronOptimizerState,
        source: any TorchPickleSource, notes: inout [String]
    ) throws(ContainerError) {
        var dropped: [String] = []
        let bytes: (TorchTensorRef) throws(ContainerError) -> [UInt8]? = { t throws(ContainerError) in
            try Self.inlineBytes(t, source: source)
        }
        var common: [(String, JSONTree)] = []
        var rank: [(String, JSONTree)] = []
        for e in root {
            guard case .string(let key) = e.key else { continue }
            if key.hasPrefix("model") && Int(key.dropFirst(5)) != nil { continue }  // model0, model1, ...: virtual pipeline chunks
            switch key {
            case "model", "optimizer": continue
            case "rng_state": rank.append((key, try PickleJSON.encode(e.value, tensorBytes: bytes, dropped: &dropped)))
            default: common.append((key, try PickleJSON.encode(e.value, tensorBytes: bytes, dropped: &dropped)))
            }
        }
        if let args = root.last(where: { $0.key == .string("args") })?.value {
            var process: [(String, JSONTree)] = []
            for k in Self.rankSpecificArgs.sorted() {
                if case .int(let i)? = args[k] { process.append((k, .int(i))) }
            }
            rank.append(("args", .object(process)))
        }
        var extra: [(String, JSONTree)] = []
        for (k, v) in extraState { extra.append((k, try PickleJSON.encode(v, tensorBytes: bytes, dropped: &dropped))) }
        if !extra.isEmpty { rank.append(("extra_state", .object(extra))) }
        if optimizer.form != "none" {
            var o: [(String, JSONTree)] = [("form", .string(optimizer.form))]
            var groups: [JSONTree] = []
            for g in optimizer.paramGroups { groups.append(try PickleJSON.encode(g, tensorBytes: bytes, dropped: &dropped)) }
            o.append(("param_groups", .array(groups)))
            if let s = optimizer.gradScaler { o.append(("grad_scaler", try PickleJSON.encode(s, tensorBytes: bytes, dropped: &dropped))) }
            if let s = optimizer.step { o.append(("step", try PickleJSON.encode(s, tensorBytes: bytes, dropped: &dropped))) }
            rank.append(("optimizer", .object(o)))
        }
        if root.contains(where: { $0.key == .string("rng_state") }) {
            notes.append("rng_state kept in the metadata (restored on export at the same TP x PP)")
        }
        for d in dropped { notes.append("\(d) too large to keep in the metadata; dropped") }
        self.common = .object(common)
        self.rank = .object(rank)
    }

    init(common: JSONTree, rank: JSONTree) {
        self.common = common
        self.rank = rank
    }

    /// The bytes of a small tensor, or nil when it is larger than `PickleJSON.maxInlineTensorBytes`.
    static func inlineBytes(_ t: TorchTensorRef, source: any TorchPickleSource) throws(ContainerError) -> [UInt8]? {
        guard let d = TorchDTypeName.dtype(t.dtypeName) else { return nil }
        var count = 1
        for s in t.shape {
            let (m, o) = count.multipliedReportingOverflow(by: s)
            if o || s < 0 { return nil }
            count = m
        }
        let (n, o) = count.multipliedReportingOverflow(by: d.size)
        guard !o, n <= PickleJSON.maxInlineTensorBytes else { return nil }
        var out = [UInt8](repeating: 0, count: n)
        let failure: ContainerError? = out.withUnsafeMutableBytes { b in
            do throws(ContainerError) {
                try source.read(t, box: .whole(t.shape), into: b, name: "inline tensor")
                return nil
            } catch { return error }
        }
        if let failure { throw failure }
        return out
    }

    /// The `common` entries without the arguments that differ between ranks (`rank`,
    /// `local_rank`), for comparing ranks.
    var comparableCommon: JSONTree {
        guard case .object(let members) = common else { return common }
        return .object(
            members.map { k, v in
                guard k == "args", case .object(var ns) = v else { return (k, v) }
                if let i = ns.firstIndex(where: { $0.0 == "state" }), case .object(let attrs) = ns[i].1 {
                    ns[i].1 = .object(attrs.filter { !MegatronTorchState.rankSpecificArgs.contains($0.0) })
                }
                return (k, .object(ns))
            })
    }

    /// Arguments Megatron sets per process.
    static let rankSpecificArgs: Set<String> = ["rank", "local_rank"]
}
