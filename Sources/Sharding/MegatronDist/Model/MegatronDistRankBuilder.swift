import CheckpointStore
import Containers

/// Lists the tensors of one (TP, PP) rank of a `torch_dist` checkpoint with their regions:
/// the model tensors by `MegatronDistLayout`, and the optimizer states by the form — model
/// space (the model tensor's region in `optimizer.state.<state>.<model key>`) or bucket space
/// (`dp_reshardable`: the rank's parameters walked by `DistribOptimLayout`, each a run of its
/// bucket's flat tensor).
struct MegatronDistRankBuilder {
    let layout: MegatronDistLayout
    let entries: [String: DistTensorEntry]
    let form: MegatronDistOptimizerForm
    let args: MegatronArgs
    /// The naming whose registration order the parameters had (`transformer_impl`).
    let naming: MegatronNaming
    let path: String

    /// The rank's tensors in order: model tensors, then per parameter exp_avg, exp_avg_sq and
    /// (half-precision parameters) master.
    func build(_ file: ShardFile) throws(ContainerError) -> [(ContainerTensor, DistRegion)] {
        var model: [(LocalTensor, ContainerTensor, DistRegion)] = []
        for t in layout.map.tensors(in: file) {
            let candidates = layout.candidateKeys(t.name, stage: file.ppRank)
            guard let fqn = candidates.first(where: { entries[$0] != nil }), let e = entries[fqn] else {
                if t.isOptional { continue }
                throw .malformed(path: path, detail: "no tensor \(candidates[0]) (rank \(file)'s \(t.name))")
            }
            let region = try layout.region(of: t, fqn: fqn, globalShape: e.shape, path: path)
            model.append((t, ContainerTensor(key: .model(t.name), dtype: e.dtype, shape: t.shape), region))
        }
        var out = model.map { ($0.1, $0.2) }
        switch form {
        case .none:
            break
        case .nonDistributed, .fullyReshardable:
            for (t, c, _) in model {
                var states = [("exp_avg", "exp_avg"), ("exp_avg_sq", "exp_avg_sq")]
                if c.dtype == .bfloat16 || c.dtype == .float16, let m = form.masterKey { states.append(("master", m)) }
                for (section, stored) in states {
                    let candidates = layout.candidateKeys(t.name, stage: file.ppRank).map { "optimizer.state.\(stored)." + $0 }
                    guard let fqn = candidates.first(where: { entries[$0] != nil }), let e = entries[fqn] else {
                        throw .malformed(path: path, detail: "no optimizer state \(candidates[0]) (rank \(file)'s \(t.name))")
                    }
                    guard e.dtype == .float32 else { throw .malformed(path: path, detail: "\(fqn) is \(e.dtype.rawValue), expected float32") }
                    let region = try layout.region(of: t, fqn: fqn, globalShape: e.shape, path: path)
                    out.append((ContainerTensor(key: .optimizer(section, t.name), dtype: .float32, shape: t.shape), region))
                }
            }
        case .dpReshardable:
            out += try bucketStates(file, model: model.map { ($0.0, $0.1) })
        }
        return out
    }

    /// The `dp_reshardable` states of rank `file`.
    private func bucketStates(_ file: ShardFile, model: [(LocalTensor, ContainerTensor)]) throws(ContainerError) -> [(ContainerTensor, DistRegion)] {
        let params = model.map { MegatronParamGroups.Param(name: $0.0.name, shape: $0.1.shape, dtype: $0.1.dtype) }
            .sorted { naming.registrationOrder(naming.key($0.name)) < naming.registrationOrder(naming.key($1.name)) }
        let shared = MegatronTorchRank.sharedEmbedding(args: args, file: file, params: params)
        let settings = try args.bufferSettings
        let walk: DistribOptimLayout
        do throws(DistribOptimLayoutError) {
            walk = try DistribOptimLayout(
                params: params.map {
                    DistribOptimLayout.Param(name: $0.name, count: $0.shape.reduce(1, *), dtype: $0.dtype, sharedEmbedding: shared.contains($0.name))
                },
                settings: settings, ppRank: file.ppRank)
        } catch {
            throw .malformed(path: path, detail: error.description)
        }
        let group = file.tpRank + layout.shape.tp * file.ppRank
        let prefix = "optimizer.distributed.dp_group_idx_\(group)."
        let present = Set(entries.keys.filter { $0.hasPrefix(prefix) }.compactMap { Self.bufferIndex($0, prefix: prefix) })
        if present.count != walk.buffers.count {
            throw .malformed(
                path: path,
                detail: "\(prefix)* holds \(present.count) grad buffers, rank \(file)'s parameters make \(walk.buffers.count) (one per param/grad dtype)")
        }
        var byName: [String: [(String, DistRegion)]] = [:]
        for (b, buffer) in walk.buffers.enumerated() {
            let dtypes = "dtype_(torch.\(TorchDTypeName.name(buffer.paramDType)), torch.\(TorchDTypeName.name(buffer.gradDType)))"
            for (k, bucket) in buffer.buckets.enumerated() {
                for state in ["param", "exp_avg", "exp_avg_sq"] {
                    let fqn = "\(prefix)gbuf_idx_\(b).\(dtypes).bucket_idx_\(k).\(state)"
                    guard let e = entries[fqn] else {
                        throw .malformed(
                            path: path,
                            detail:
                                "no \(fqn) (the bucket walk gives \(buffer.buckets.count) buckets for DP \(settings.dataParallel), bucket size \(settings.bucketSize.map(String.init) ?? "none"); check accumulate_allreduce_grads_in_fp32)"
                        )
                    }
                    guard e.dtype == .float32, e.shape == [bucket.numelUnpadded] else {
                        throw .malformed(
                            path: path,
                            detail:
                                "\(fqn) is \(e.dtype.rawValue)\(e.shape), the bucket walk gives float32[\(bucket.numelUnpadded)] (DP \(settings.dataParallel), bucket size \(settings.bucketSize.map(String.init) ?? "none"))"
                        )
                    }
                }
            }
            for place in buffer.placements {
                let bucket = buffer.buckets[place.bucket]
                for state in ["param", "exp_avg", "exp_avg_sq"] {
                    let fqn = "\(prefix)gbuf_idx_\(b).\(dtypes).bucket_idx_\(place.bucket).\(state)"
                    byName[place.name, default: []].append((state, .flat(fqn: fqn, start: place.bufferStart - bucket.start)))
                }
            }
        }
        var out: [(ContainerTensor, DistRegion)] = []
        for (_, c) in model {
            guard let states = byName[c.key.name] else { continue }
            for (state, region) in states.sorted(by: { Self.order($0.0) < Self.order($1.0) }) {
                if state == "param" && !(c.dtype == .bfloat16 || c.dtype == .float16) { continue }
                let section = state == "param" ? "master" : state
                out.append((ContainerTensor(key: .optimizer(section, c.key.name), dtype: .float32, shape: c.shape), region))
            }
        }
        return out
    }

    /// `b` of `<prefix>gbuf_idx_<b>.…`.
    static func bufferIndex(_ fqn: String, prefix: String) -> Int? {
        let rest = fqn.dropFirst(prefix.count)
        guard rest.hasPrefix("gbuf_idx_") else { return nil }
        let digits = rest.dropFirst("gbuf_idx_".count).prefix { $0.isASCII && $0.isNumber }
        guard !digits.isEmpty, digits.count < 7 else { return nil }
        return Int(digits)
    }

    private static func order(_ state: String) -> Int { ["exp_avg": 0, "exp_avg_sq": 1, "param": 2][state] ?? 3 }
}
