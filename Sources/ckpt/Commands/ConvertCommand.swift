import ArgumentParser
import CheckpointStore
import Foundation
import Glibc
import Sharding

/// `ckpt convert`: reshard a checkpoint between the wafer layout and Megatron TP x PP layouts,
/// optimizer state included, streaming.
struct ConvertCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "convert",
        abstract: "Convert a checkpoint between the wafer layout and Megatron tensor/pipeline-parallel layouts.",
        discussion: """
            SRC is a wafer checkpoint file or a Megatron checkpoint directory (its root with
            latest_checkpointed_iteration.txt, or an iter_* directory). Megatron to Megatron reshards
            directly. Optimizer state is sharded like its parameter; step, config, optimizer and RNG go
            to every rank. The output appears only when complete.
            Exit status: 0 converted, 1 the source failed validation, 2 usage or I/O error.

            Example:
              ckpt convert model.h5 --to megatron --tp 2 --pp 2 --out megatron-ckpt
              ckpt convert megatron-ckpt --to wafer --out merged.h5
            """)

    /// Target layout kinds.
    enum TargetKind: String, ExpressibleByArgument, CaseIterable {
        case wafer, megatron
    }

    @Argument(help: "Source checkpoint file or Megatron directory.") var source: String
    @Option(name: .customLong("to"), help: "Target layout (required).") var target: TargetKind
    @Option(help: "Output file (wafer) or directory (megatron); must not exist unless --force (required).") var out: String
    @Option(help: "Tensor-parallel size, 1...4096 (required for --to megatron).") var tp: Int?
    @Option(help: "Pipeline-parallel size, 1...4096 (required for --to megatron).") var pp: Int?
    @Option(name: .customLong("vocab-divisible-by"), help: "Pad the vocabulary to a multiple of this times TP, 1...65536 (megatron target).")
    var vocabDivisibleBy: Int = 128
    @Flag(name: .customLong("allow-divergent-replicas"), help: "Take rank 0 when replicated tensors differ across TP ranks and report the difference.")
    var allowDivergentReplicas = false
    @Flag(help: "Print a JSON summary.") var json = false
    @Flag(help: "Replace an existing output (atomically, once the new one is complete).") var force = false
    @OptionGroup var store: StoreOptions

    func validate() throws {
        switch target {
        case .megatron:
            guard let tp, let pp else { throw ValidationError("--to megatron needs --tp and --pp") }
            try FlagBounds.check("tp", tp, FlagBounds.parallel)
            try FlagBounds.check("pp", pp, FlagBounds.parallel)
            try FlagBounds.check("vocab-divisible-by", vocabDivisibleBy, FlagBounds.vocabDivisibleBy)
            guard tp * pp <= FlagBounds.rankFiles else {
                throw ValidationError("--tp \(tp) x --pp \(pp) makes \(tp * pp) rank files; at most \(FlagBounds.rankFiles) are supported")
            }
            guard vocabDivisibleBy * tp <= FlagBounds.paddingMultiple else {
                throw ValidationError(
                    "--vocab-divisible-by \(vocabDivisibleBy) x --tp \(tp) pads the vocabulary to a multiple of \(vocabDivisibleBy * tp); at most \(FlagBounds.paddingMultiple) is supported"
                )
            }
        case .wafer:
            if tp != nil || pp != nil { throw ValidationError("--tp and --pp apply only to --to megatron") }
            if vocabDivisibleBy != 128 { throw ValidationError("--vocab-divisible-by applies only to --to megatron") }
        }
    }

    func run() throws {
        try OutputGuard.check(out, kind: target == .wafer ? .file : .directory, inputs: [source], force: force)
        // Buffers of a megatabyte and more (chunks, windows) are allocated and freed by several
        // threads; with glibc's adaptive threshold they move into per-thread heaps that fragment
        // and never shrink (RSS tripled in a TP8 x PP4 merge). A fixed threshold maps them
        // directly, so freed buffers go back to the system.
        MallocTuning.mapLargeBuffersDirectly()
        let layout: CheckpointLayout
        switch target {
        case .wafer: layout = .wafer
        case .megatron: layout = .megatron(MegatronShape(tp: tp ?? 1, pp: pp ?? 1, vocabDivisibleBy: vocabDivisibleBy))
        }
        var options = ConvertOptions(writer: try store.writerOptions(), allowDivergentReplicas: allowDivergentReplicas)
        options.replaceExisting = force
        options.checkFreeSpace = true
        var bar: Progress?
        let report: ConversionReport
        do {
            report = try Converter(options: options).convert(source, to: layout, output: out) { done, total in
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
        }
    }
}
