import CheckpointStore
import Containers

extension MegatronOptimizerState {
    /// Maps the flat tensors of `distrib_optim.pt` (root `root`, file `path`) back to the rank's
    /// parameters, given per model chunk, by `DistribOptimLayout`. Only the `buckets_coalesced`
    /// layout of megatron-core >= 0.7 is read; the older `per_bucket_numel` layouts are refused.
    mutating func addDistributed(
        root: PickleValue, chunks: [[MegatronParamGroups.Param]], sharedEmbedding: Set<String>, settings: DistribOptimSettings,
        ppRank: Int, path: String
    ) throws(ContainerError) {
        let params = chunks.flatMap { $0 }
        if root.elements != nil {
            throw .unsupported(path: path, detail: "distrib_optim.pt holds a list (a ChainedOptimizer, e.g. dense + expert): not supported")
        }
        guard case .dict(let entries) = root else { throw .malformed(path: path, detail: "distrib_optim.pt root is not a dict") }
        if root["per_bucket_numel"] != nil {
            throw .unsupported(
                path: path,
                detail: "distrib_optim.pt uses the per_bucket_numel layout of megatron-core <= 0.6; re-save it with megatron-core >= 0.7 (buckets_coalesced)")
        }
        guard root["buckets_coalesced"] == .bool(true) else {
            throw .unsupported(path: path, detail: "distrib_optim.pt has no buckets_coalesced flag: unknown layout")
        }
        let layout: DistribOptimLayout
        do {
            layout = try DistribOptimLayout(
                chunks: chunks.map { chunk in
                    chunk.map {
                        DistribOptimLayout.Param(
                            name: $0.name, count: $0.shape.reduce(1, *), dtype: $0.dtype, sharedEmbedding: sharedEmbedding.contains($0.name))
                    }
                },
                settings: settings, ppRank: ppRank)
        } catch {
            throw .malformed(path: path, detail: error.description)
        }
        let buffers = entries.filter { if case .int = $0.key { return true } else { return false } }
        guard buffers.count == layout.buffers.count else {
            throw .malformed(
                path: path,
                detail:
                    "distrib_optim.pt holds \(buffers.count) buffers, this rank's parameters make \(layout.buffers.count) (one per model chunk and param/grad dtype)"
            )
        }
        let shapes = Dictionary(params.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        for (b, buffer) in layout.buffers.enumerated() {
            guard case .dict(let keyed)? = root.entry(int: b), keyed.count == 1, let only = keyed.first else {
                throw .malformed(path: path, detail: "distrib_optim.pt buffer \(b) is not a dict with one dtype key")
            }
            let expected = PickleValue.tuple([
                .global(PickleGlobal(module: "torch", name: TorchDTypeName.name(buffer.paramDType))),
                .global(PickleGlobal(module: "torch", name: TorchDTypeName.name(buffer.gradDType))),
            ])
            guard only.key == expected else {
                throw .malformed(
                    path: path,
                    detail:
                        "distrib_optim.pt buffer \(b) is keyed \(ArgReader.show(only.key)), expected (torch.\(TorchDTypeName.name(buffer.paramDType)), torch.\(TorchDTypeName.name(buffer.gradDType))) (check accumulate_allreduce_grads_in_fp32)"
                )
            }
            let state = only.value
            guard case .int(let n)? = state["numel_unpadded"] else {
                throw .malformed(path: path, detail: "distrib_optim.pt buffer \(b) has no numel_unpadded")
            }
            guard n == Int64(buffer.numelUnpadded) else {
                throw .malformed(
                    path: path,
                    detail:
                        "distrib_optim.pt buffer \(b) has numel_unpadded \(n), the bucket walk gives \(buffer.numelUnpadded) (DP \(settings.dataParallel), bucket size \(settings.bucketSize.map(String.init) ?? "none"))"
                )
            }
            for key in ["param", "exp_avg", "exp_avg_sq"] {
                guard case .tensor(let world)? = state[key] else {
                    throw .malformed(path: path, detail: "distrib_optim.pt buffer \(b) has no tensor \(key)")
                }
                guard world.dtypeName == "float32", world.shape == [buffer.numelUnpadded], world.strides == [1],
                    world.storageOffset >= 0, world.storageOffset < 1 << 56
                else {
                    throw .malformed(
                        path: path,
                        detail: "distrib_optim.pt buffer \(b) \(key) is \(world.dtypeName)\(world.shape), expected float32[\(buffer.numelUnpadded)]")
                }
                let stateName = key == "param" ? "master" : key
                for place in buffer.placements {
                    guard let p = shapes[place.name] else { continue }
                    if stateName == "master" && !(p.dtype == .bfloat16 || p.dtype == .float16) { continue }
                    tensors[p.name, default: [:]][stateName] = (.distributed, Self.view(world, offset: place.fileOffset, shape: p.shape))
                }
            }
        }
        form = "distributed"
    }

    /// `world[offset ..< offset + count]` (a contiguous 1-D tensor) viewed with `shape`, whose
    /// element count the caller has checked.
    static func view(_ world: TorchTensorRef, offset: Int, shape: [Int]) -> TorchTensorRef {
        var strides = Array(repeating: 1, count: shape.count)
        var s = 1
        for d in stride(from: shape.count - 1, through: 0, by: -1) {
            strides[d] = s
            s *= shape[d]
        }
        var v = world
        v.storageOffset = world.storageOffset + offset
        v.shape = shape
        v.strides = strides
        return v
    }
}

extension PickleValue {
    /// The entries of a dict, or of an `OrderedDict` kept as an object (as ckpt writes
    /// `state_dict()`s); nil otherwise.
    var stateDictEntries: [PickleDictEntry]? {
        if case .dict(let e) = self { return e }
        if case .object(let o) = self, o.type.description == "collections.OrderedDict" { return o.dictItems }
        return nil
    }

    /// The value under integer key `key` of a dict.
    func entry(int key: Int) -> PickleValue? {
        entries?.last { $0.key == .int(Int64(key)) }?.value
    }
}
