extension CanonicalView {
    /// Compares every replica of the source (TP copies of replicated tensors, Megatron's
    /// last-stage copy of a tied embedding) with the primary copy the view reads, as `convert`
    /// does, and returns those that differ (never throwing for a difference). Reads
    /// `blockBytes` at a time.
    public func divergentReplicas(blockBytes: Int = 8 << 20) throws(ShardingError) -> [DivergentReplica] {
        var sections: [ShardFile: [String: [SectionDType]]] = [:]
        for f in plan.source.files {
            for info in source.inventories[f] ?? [] {
                sections[f, default: [:]][info.key.name, default: []].append(SectionDType(section: info.key.section, dtype: info.dtype))
            }
        }
        return try ReplicaVerifier(source: source, plan: plan, sections: { f, n in sections[f]?[n] ?? [] }, blockBytes: blockBytes)
            .verify(allowDivergent: true)
    }
}
