import ArgumentParser
import CheckpointStore
import Containers
import Foundation
import Glibc
import Sharding

/// `ckpt convert`: reshard a checkpoint between the wafer layout and Megatron TP x PP layouts,
/// optimizer state included, streaming.
struct ConvertCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "convert",
        abstract: "Convert a checkpoint between the wafer layout, Megatron tensor/pipeline-parallel layouts and Hugging Face.",
        discussion: """
            SRC is detected from its content: a ckpt checkpoint file (wafer layout), a Megatron checkpoint
            directory (its root with latest_checkpointed_iteration.txt, or an iter_* or release directory) of
            ckpt HDF5 rank files or of Megatron-LM torch rank files (model_optim_rng.pt, distrib_optim.pt), or a
            Hugging Face model directory (config.json with model.safetensors, sharded safetensors, or
            pytorch_model.bin), a Megatron torch_dist directory (metadata.json, common.pt, PyTorch DCP
            .metadata + __R_k.distcp), a Cerebras checkpoint (cstorch.save .mdl of a Model Zoo GPT-2 or LLaMA), or a
            torchtitan checkpoint (its DCP step-N directory; --model-config gives its job config).
            Targets: wafer (one ckpt file), megatron (ckpt HDF5 rank files), megatron-torch (Megatron-LM's legacy
            torch format), megatron-dist (torch_dist, loadable at any TP x PP; --tp/--pp set the args and chunks),
            hf (config.json + safetensors shards + index), cerebras (one .mdl file cerebras.pytorch.load reads,
            optimizer state included).
            Sharded targets reshard directly; with --vpp each pipeline stage holds VPP model chunks
            (Megatron-LM's virtual pipeline: model0, model1, ... per rank file), and virtual-pipeline
            sources are read as such. Optimizer state is sharded like its parameter; Hugging Face
            checkpoints hold none, so converting to hf drops it and says so. The output appears only when complete.
            Exit status: 0 converted, 1 the source failed validation, 2 usage or I/O error.

            Example:
              ckpt convert model.h5 --to megatron --tp 2 --pp 2 --out megatron-ckpt
              ckpt convert megatron-ckpt --to wafer --out merged.h5
              ckpt convert hf-model/ --to megatron-torch --tp 8 --pp 4 --out megatron-lm-ckpt
              ckpt convert hf-model/ --to megatron-torch --tp 2 --pp 4 --vpp 2 --out megatron-lm-vpp
              ckpt convert megatron-lm-ckpt --to hf --out hf-model-2
              ckpt convert checkpoint_1000.mdl --to wafer --out wafer.h5
              ckpt convert wafer.h5 --to cerebras --out checkpoint_1000.mdl
              ckpt convert outputs/checkpoint/step-1000 --model-config outputs/job_config.json --to wafer --out titan.h5
            """)

    /// Target formats.
    enum TargetKind: String, ExpressibleByArgument, CaseIterable {
        case wafer, megatron
        case megatronTorch = "megatron-torch"
        case megatronDist = "megatron-dist"
        case hf
        case cerebras

        /// Whether the target has TP x PP ranks.
        var isSharded: Bool { self == .megatron || self == .megatronTorch || self == .megatronDist }
    }

    @Argument(help: "Source checkpoint: file or directory, any supported format.") var source: String
    @Option(name: .customLong("to"), help: "Target format (required).") var target: TargetKind
    @Option(help: "Output file (wafer, cerebras) or directory (megatron, megatron-torch, megatron-dist, hf); must not exist unless --force (required).")
    var out: String
    @Option(name: .customLong("max-shard-size"), help: "Largest safetensors shard of an hf target (5GB, 500MB, 2GiB, bytes).")
    var maxShardSize = ByteSize(bytes: HFDirectoryWriter.defaultMaxShardBytes)
    @Option(help: "Tensor-parallel size, 1...4096 (required for --to megatron, megatron-torch and megatron-dist).") var tp: Int?
    @Option(help: "Pipeline-parallel size, 1...4096 (required for --to megatron, megatron-torch and megatron-dist).") var pp: Int?
    @Option(
        help: ArgumentHelp(
            "Virtual pipeline size of a megatron target, 1...4096: model chunks per stage (model0, model1, ... in each rank file; Megatron-LM's --num-layers-per-virtual-pipeline-stage L/(PP x VPP)); needs PP > 1 and PP x VPP dividing the layers.",
            valueName: "n"))
    var vpp: Int = 1
    @Option(name: .customLong("vocab-divisible-by"), help: "Pad the vocabulary to a multiple of this times TP, 1...65536 (megatron targets).")
    var vocabDivisibleBy: Int = 128
    @Option(
        help: ArgumentHelp(
            "Vocabulary of a Megatron-LM torch source, 1...2^31-1 (Megatron records only the padded size; give the padded size to keep the padding rows).",
            valueName: "n"))
    var vocab: Int?
    @Option(
        name: .customLong("model-config"),
        help: ArgumentHelp(
            "The job config JSON of a torchtitan source (torchtitan's --debug.save_config_file: Trainer.Config.to_dict()); its DCP checkpoint records no architecture.",
            valueName: "file"))
    var modelConfig: String?
    @Flag(name: .customLong("allow-divergent-replicas"), help: "Take rank 0 when replicated tensors differ across TP ranks and report the difference.")
    var allowDivergentReplicas = false
    @Flag(help: "Print a JSON summary.") var json = false
    @Flag(help: "Replace an existing output (atomically, once the new one is complete).") var force = false
    @OptionGroup var store: StoreOptions

    func validate() throws {
        try FlagBounds.check("vocab", vocab, FlagBounds.vocab)
        if target != .hf && maxShardSize.bytes != HFDirectoryWriter.defaultMaxShardBytes {
            throw ValidationError("--max-shard-size applies only to --to hf")
        }
        switch target {
        case .megatron, .megatronTorch, .megatronDist:
            guard let tp, let pp else { throw ValidationError("--to \(target.rawValue) needs --tp and --pp") }
            try FlagBounds.check("tp", tp, FlagBounds.parallel)
            try FlagBounds.check("pp", pp, FlagBounds.parallel)
            try FlagBounds.check("vpp", vpp, FlagBounds.parallel)
            if vpp > 1 && pp == 1 {
                throw ValidationError("--vpp \(vpp) needs --pp > 1: Megatron-LM builds virtual pipeline chunks only with pipeline parallelism")
            }
            if vpp > 1 && target == .megatronDist {
                throw ValidationError("--vpp applies only to --to megatron and megatron-torch (a torch_dist checkpoint loads at any virtual pipeline)")
            }
            try FlagBounds.check("vocab-divisible-by", vocabDivisibleBy, FlagBounds.vocabDivisibleBy)
            guard tp * pp <= FlagBounds.rankFiles else {
                throw ValidationError("--tp \(tp) x --pp \(pp) makes \(tp * pp) rank files; at most \(FlagBounds.rankFiles) are supported")
            }
            guard vocabDivisibleBy * tp <= FlagBounds.paddingMultiple else {
                throw ValidationError(
                    "--vocab-divisible-by \(vocabDivisibleBy) x --tp \(tp) pads the vocabulary to a multiple of \(vocabDivisibleBy * tp); at most \(FlagBounds.paddingMultiple) is supported"
                )
            }
        case .wafer, .hf, .cerebras:
            if tp != nil || pp != nil { throw ValidationError("--tp and --pp apply only to --to megatron, megatron-torch and megatron-dist") }
            if vocabDivisibleBy != 128 { throw ValidationError("--vocab-divisible-by applies only to --to megatron, megatron-torch and megatron-dist") }
            if vpp != 1 { throw ValidationError("--vpp applies only to --to megatron and megatron-torch") }
        }
    }

    func run() throws {
        try OutputGuard.check(out, kind: target == .wafer || target == .cerebras ? .file : .directory, inputs: [source], force: force)
        // Buffers of a megatabyte and more (chunks, windows) are allocated and freed by several
        // threads; with glibc's adaptive threshold they move into per-thread heaps that fragment
        // and never shrink (RSS tripled in a TP8 x PP4 merge). A fixed threshold maps them
        // directly, so freed buffers go back to the system.
        MallocTuning.mapLargeBuffersDirectly()
        let layout: CheckpointLayout
        var container: String?
        switch target {
        case .wafer: layout = .wafer
        case .megatron, .megatronTorch, .megatronDist:
            layout = .megatron(MegatronShape(tp: tp ?? 1, pp: pp ?? 1, vpp: vpp, vocabDivisibleBy: vocabDivisibleBy))
            container = target == .megatronTorch ? MegatronTorchFormats.containerFormat : nil
            if target == .megatronDist { container = MegatronDistFormats.containerFormat }
        case .hf: layout = .hf
        case .cerebras: layout = CheckpointLayout(kind: .cerebras)
        }
        var options = ConvertOptions(writer: try store.writerOptions(), allowDivergentReplicas: allowDivergentReplicas)
        options.replaceExisting = force
        options.checkFreeSpace = true
        var bar: Progress?
        let report: ConversionReport
        do {
            let converter = try Converter(
                options: options, formats: KnownFormats.registry(maxShardBytes: maxShardSize.bytes, vocab: vocab, modelConfig: modelConfig))
            report = try converter.convert(source, to: layout, container: container, output: out) { done, total in
                if bar == nil { bar = Progress(total: Int(total), label: "convert", enabled: Progress.shown(json: json)) }
                bar?.update(Int(done))
            }
            bar?.finish()
        } catch {
            bar?.finish()
            throw error  // Main prints it (JSON with --json) with ExitPolicy's code
        }
        for d in report.divergentReplicas where !json {
            FileHandle.standardError.write(
                Data(
                    "ckpt: warning: \(d.file): \(d.tensor) differs from \(d.reference) (max |difference| \(d.maxAbsDifference)); kept rank 0\n".utf8))
        }
        if json {
            struct Summary: Encodable {
                var path: String
                var output: String
                var report: ConversionReport
                var mbPerSecond: Double
                enum CodingKeys: String, CodingKey { case path, output, report, mbPerSecond = "mb_per_s" }
            }
            print(JSONDocument.text(Summary(path: source, output: out, report: report, mbPerSecond: report.megabytesPerSecond)))
        } else {
            print(
                "\(report.source) (\(report.sourceLayout)) -> \(report.output) (\(report.outputLayout)): "
                    + "\(report.files) file(s), \(report.tensors) tensors, \(Format.bytes(Int(report.bytes))) in "
                    + String(format: "%.2fs (%.0f MB/s)", report.seconds, report.megabytesPerSecond))
            for n in report.notes { print("  note: \(n)") }
        }
    }
}
