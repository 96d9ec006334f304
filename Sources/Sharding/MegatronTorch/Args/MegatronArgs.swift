import CheckpointStore
import Containers

/// The `args` entry of a Megatron-LM `model_optim_rng.pt` (an `argparse.Namespace`), read into
/// ckpt's terms: the parallel shape, the model architecture (`modelConfig(vocab:)`), the
/// optimizer (`optimizerConfig(paramGroups:)`) and the data-parallel settings the distributed
/// optimizer's buffer layout depends on (`bufferSettings`).
///
/// Creating one refuses, with a one-line error naming the argument, every checkpoint whose
/// tensors ckpt cannot lay out: mixture of experts, uneven or custom pipeline stages,
/// multi-latent attention, hybrid (Mamba) models, multi-token prediction, FP8/FP4 parameters,
/// custom layer specs, precision-aware or offloaded optimizers.
public struct MegatronArgs: Sendable, Hashable {
    /// Every attribute of the Namespace, in file order.
    public var attributes: [PickleDictEntry]
    /// The file the Namespace came from, for messages.
    public var path: String

    /// Tensor-parallel size, pipeline-parallel size, virtual pipeline size (`virtualPipeline`)
    /// and vocabulary divisor.
    public let shape: MegatronShape
    /// `padded_vocab_size`: vocabulary rows of the embedding over all TP ranks.
    public let paddedVocab: Int
    /// Data-parallel size: `data_parallel_size`, else `world_size / (tp * pp * cp)`.
    public let dataParallel: Int
    /// `context_parallel_size` (1 when absent).
    public let contextParallel: Int
    /// The parameters' dtype: `params_dtype`, else from the `bf16` / `fp16` flags.
    public let paramsDType: DType
    /// `transformer_impl`: `local` or `transformer_engine` (1.x checkpoints without it: `local`).
    public let transformerImpl: String
    /// `use_distributed_optimizer`.
    public let usesDistributedOptimizer: Bool

    /// Reads `namespace` (from `path`).
    public init(_ namespace: PickleValue, path: String) throws(ContainerError) {
        guard case .object(let o) = namespace, ["argparse.Namespace", "types.SimpleNamespace"].contains(o.type.description) else {
            throw .malformed(path: path, detail: "args is not an argparse.Namespace")
        }
        guard case .dict(let entries)? = o.state else {
            throw .malformed(path: path, detail: "args Namespace has no attribute dict")
        }
        self.attributes = entries
        self.path = path
        let reader = ArgReader(entries: entries, path: path)
        try Self.refuseUnsupported(reader)

        let tp = try reader.requiredInt("tensor_model_parallel_size", atLeast: 1)
        let pp = try reader.requiredInt("pipeline_model_parallel_size", atLeast: 1)
        let divisor = try reader.int("make_vocab_size_divisible_by", atLeast: 1) ?? 128
        let vpp = try Self.virtualPipeline(reader, pp: pp)
        shape = MegatronShape(tp: tp, pp: pp, vpp: vpp, vocabDivisibleBy: divisor)
        paddedVocab = try reader.requiredInt("padded_vocab_size", atLeast: 1)
        let (multiple, overflow) = divisor.multipliedReportingOverflow(by: tp)
        if overflow || multiple >= 1 << 40 || paddedVocab % multiple != 0 {
            throw .unsupported(
                path: path,
                detail: "args.padded_vocab_size = \(paddedVocab) is not a multiple of make_vocab_size_divisible_by x TP (\(divisor) x \(tp))")
        }
        contextParallel = try reader.int("context_parallel_size", atLeast: 1) ?? 1
        if let dp = try reader.int("data_parallel_size", atLeast: 1) {
            dataParallel = dp
        } else if let world = try reader.int("world_size", atLeast: 1) {
            let (tpp, o1) = tp.multipliedReportingOverflow(by: pp)
            let (group, o2) = tpp.multipliedReportingOverflow(by: contextParallel)
            guard !o1, !o2, world % group == 0 else {
                throw .malformed(path: path, detail: "args.world_size = \(world) is not a multiple of TP x PP x CP = \(group)")
            }
            dataParallel = world / group
        } else {
            dataParallel = 1
        }
        if let g = reader.value("params_dtype"), case .global(let gl) = g, gl.module == "torch" {
            guard let d = TorchDTypeName.dtype(gl.name), d.isFloatingPoint else {
                throw .unsupported(path: path, detail: "args.params_dtype = torch.\(gl.name) is not a floating-point parameter type")
            }
            paramsDType = d
        } else {
            paramsDType = try reader.flag("bf16") ? .bfloat16 : (try reader.flag("fp16") ? .float16 : .float32)
        }
        let impl = try reader.string("transformer_impl") ?? "local"
        guard ["local", "transformer_engine"].contains(impl) else {
            throw .unsupported(path: path, detail: "args.transformer_impl = '\(impl)' (ckpt reads local and transformer_engine)")
        }
        transformerImpl = impl
        usesDistributedOptimizer = try reader.flag("use_distributed_optimizer")
    }

    /// The attribute `name`, or nil when absent.
    public func value(_ name: String) -> PickleValue? {
        attributes.last { $0.key == .string(name) }?.value
    }

    /// The `iteration` attribute some Megatron versions record (nil when absent).
    public var iteration: Int64? {
        if case .int(let i)? = value("iteration") { return i }
        return nil
    }

    var reader: ArgReader { ArgReader(entries: attributes, path: path) }

    /// The virtual pipeline size: model chunks per pipeline stage (`model0`, `model1`, ... in
    /// each rank file), 1 without a virtual pipeline.
    ///
    /// `validate_args` records it as `virtual_pipeline_model_parallel_size` (None for 1),
    /// derived from `--num-layers-per-virtual-pipeline-stage` n as (L / PP) / n or taken from
    /// `--num-virtual-stages-per-pipeline-rank`; when it is absent it is derived the same way.
    /// The layers must split evenly into PP x VPP chunks, and a virtual pipeline needs PP > 1
    /// (`get_model` builds chunks only then).
    static func virtualPipeline(_ r: ArgReader, pp: Int) throws(ContainerError) -> Int {
        let recorded = try r.int("virtual_pipeline_model_parallel_size", atLeast: 1)
        let perChunk = try r.int("num_layers_per_virtual_pipeline_stage", atLeast: 1)
        let perRank = try r.int("num_virtual_stages_per_pipeline_rank", atLeast: 1)
        guard recorded != nil || perChunk != nil || perRank != nil else { return 1 }
        let layers = try r.int("num_layers", atLeast: 1)
        var vpp = recorded ?? perRank ?? 1
        if let n = perChunk {
            guard let layers, layers % pp == 0, (layers / pp) % n == 0 else {
                throw .unsupported(
                    path: r.path,
                    detail:
                        "args.num_layers_per_virtual_pipeline_stage = \(n) does not divide the \(layers.map(String.init) ?? "unknown number of") layers of each of the \(pp) pipeline stages evenly"
                )
            }
            let derived = layers / pp / n
            if recorded == nil { vpp = derived }
            guard vpp == derived else {
                throw .malformed(
                    path: r.path,
                    detail:
                        "args.virtual_pipeline_model_parallel_size = \(vpp) contradicts num_layers_per_virtual_pipeline_stage = \(n) (\(layers) layers, PP \(pp))"
                )
            }
        }
        if vpp == 1 { return 1 }
        guard pp > 1 else {
            throw .unsupported(
                path: r.path,
                detail:
                    "args.virtual_pipeline_model_parallel_size = \(vpp) with pipeline_model_parallel_size 1: Megatron-LM builds model chunks only with pipeline parallelism"
            )
        }
        let (chunks, overflow) = pp.multipliedReportingOverflow(by: vpp)
        guard let layers, !overflow, layers % chunks == 0 else {
            throw .unsupported(
                path: r.path,
                detail:
                    "args.virtual_pipeline_model_parallel_size = \(vpp): PP \(pp) x VPP \(vpp) model chunks do not divide args.num_layers = \(layers.map(String.init) ?? "None") evenly"
            )
        }
        return vpp
    }

    /// The structural features ckpt cannot lay out, each refused naming its argument.
    private static func refuseUnsupported(_ r: ArgReader) throws(ContainerError) {
        let notNone: [(String, String)] = [
            ("num_experts", "mixture-of-experts models are not supported"),
            ("decoder_first_pipeline_num_layers", "uneven pipeline stages are not supported"),
            ("decoder_last_pipeline_num_layers", "uneven pipeline stages are not supported"),
            ("pipeline_model_parallel_layout", "custom pipeline layouts are not supported"),
            ("heterogeneous_layers_config_path", "heterogeneous layers are not supported"),
            ("heterogeneous_layers_config_encoded_json", "heterogeneous layers are not supported"),
            ("fp8", "FP8 parameters and their scaling state are not supported"),
            ("fp4", "FP4 parameters are not supported"),
            ("spec", "custom layer specs may name tensors differently and are not supported"),
        ]
        for (name, why) in notNone {
            if let v = r.value(name), v != .none {
                throw .unsupported(path: r.path, detail: "args.\(name) = \(ArgReader.show(v)): \(why)")
            }
        }
        let flags: [(String, String)] = [
            ("multi_latent_attention", "multi-latent attention is not supported"),
            ("is_hybrid_model", "hybrid (Mamba) models are not supported"),
            ("account_for_embedding_in_pipeline_split", "uneven pipeline stages are not supported"),
            ("account_for_loss_in_pipeline_split", "uneven pipeline stages are not supported"),
            ("use_precision_aware_optimizer", "precision-aware optimizer states are not supported"),
            ("optimizer_cpu_offload", "CPU-offloaded optimizer states are not supported"),
            ("use_megatron_fsdp", "Megatron-FSDP checkpoints are not in the torch format"),
            ("use_torch_fsdp2", "FSDP2 checkpoints are not in the torch format"),
        ]
        for (name, why) in flags where try r.flag(name) {
            throw .unsupported(path: r.path, detail: "args.\(name) = True: \(why)")
        }
        let mustBeOne: [(String, String)] = [
            ("expert_model_parallel_size", "expert parallelism is not supported")
        ]
        for (name, why) in mustBeOne {
            if let v = try r.int(name, atLeast: 0), v > 1 {
                throw .unsupported(path: r.path, detail: "args.\(name) = \(v): \(why)")
            }
        }
        if let m = try r.int("mtp_num_layers", atLeast: 0), m > 0 {
            throw .unsupported(path: r.path, detail: "args.mtp_num_layers = \(m): multi-token prediction layers are not supported")
        }
        if try r.flag("use_distributed_optimizer"), let n = try r.int("num_distributed_optimizer_instances", atLeast: 1), n > 1 {
            throw .unsupported(
                path: r.path, detail: "args.num_distributed_optimizer_instances = \(n): partial distributed optimizers are not supported")
        }
    }
}
