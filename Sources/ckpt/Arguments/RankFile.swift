import Sharding

/// One rank file of a Megatron checkpoint directory, as `info`, `ls`, `verify` and `get` list it.
struct RankFile {
    /// The rank, `tp<t>pp<p>` (the form `get --rank` takes).
    var label: String
    /// The rank as a layout file.
    var file: ShardFile
    /// The rank file's path (`.../mp_rank_TT[_PPP]/model_optim_rng.h5`).
    var path: String

    /// `tp<t>pp<p>` for a rank.
    static func label(_ f: ShardFile) -> String { "tp\(f.tpRank)pp\(f.ppRank)" }

    /// Parses `tp0pp1`, `tp0/pp1` or a rank directory name (`mp_rank_00_001`).
    static func parse(_ text: String) -> ShardFile? {
        if let (tp, pp) = MegatronDirectory.parseRankDirectory(text) { return ShardFile(tpRank: tp, ppRank: pp ?? 0) }
        let t = text.lowercased().replacingOccurrences(of: "/", with: "")
        guard t.hasPrefix("tp"), let p = t.range(of: "pp") else { return nil }
        guard let tp = Int(t[t.index(t.startIndex, offsetBy: 2)..<p.lowerBound]), let pp = Int(t[p.upperBound...]), tp >= 0, pp >= 0 else {
            return nil
        }
        return ShardFile(tpRank: tp, ppRank: pp)
    }
}
