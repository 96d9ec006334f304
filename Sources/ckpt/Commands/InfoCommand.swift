import ArgumentParser
import CheckpointStore
import Foundation
import Sharding

/// `ckpt info`: a summary of one checkpoint file or Megatron checkpoint directory.
struct InfoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "info", abstract: "Summarise a checkpoint: model, parameters, dtypes, sizes, step, layout.",
        discussion: """
            CHECKPOINT is a checkpoint file or a Megatron checkpoint directory; for a directory the summary \
            covers every rank file (the ranks are checked to agree, as convert checks them).

            Example:
              ckpt info model.h5
              ckpt info megatron-ckpt/ --json
            """)

    @Argument(help: "Checkpoint file or Megatron checkpoint directory.") var file: String
    @Flag(help: "Print JSON.") var json = false

    func run() throws {
        let s: CheckpointSummary
        switch try CheckpointInput.open(file) {
        case .file(let p): s = CheckpointSummary(try CheckpointReader(path: p))
        case .megatron(let p, _): s = try CheckpointSummary(CheckpointSource(path: p))
        case .foreign(let f): s = try CheckpointSummary(f)
        }
        if json {
            print(JSONDocument.text(object: s.jsonObject(), exitCode: ExitPolicy.ok))
            return
        }
        let m = s.metadata
        print("path:        \(file)")
        if let foreign = s.foreignFormat {
            print("format:      \(foreign) (no checksums: its structure was validated, changed values cannot be detected)")
        } else {
            print("format:      ckpt v\(s.formatVersion) (\(s.writer ?? "unknown writer")\(s.created.map { ", created \($0)" } ?? ""))")
        }
        if let c = m.modelConfig {
            print(
                "model:       \(c.family), \(c.layers) layers, hidden \(c.hidden), \(c.heads) heads (\(c.kvHeads) kv), ffn \(c.ffn), vocab \(c.vocab), max_seq \(c.maxSeq)"
            )
            var rotary = c.position == "rope" && c.rotaryPct != 1 ? " (rotary_pct \(c.rotaryPct))" : ""
            if c.position == "rope", let scaling = c.ropeScaling { rotary += ", rope scaling \(scaling.summary)" }
            print(
                "             \(c.norm), \(c.activation), \(c.position) positions\(rotary), \(c.residual) residual, "
                    + "\(c.tieEmbeddings ? "tied" : "untied") head")
        } else {
            print("model:       (no model_config)")
        }
        print("parameters:  \(s.parameters) (\(Format.count(s.parameters)))")
        print("tensors:     \(s.tensors) (\(s.modelTensors) model, \(s.tensors - s.modelTensors) optimizer)\(s.files > 1 ? " in \(s.files) rank files" : "")")
        print("dtypes:      " + s.dtypes.sorted { $0.key < $1.key }.map { "\($0.key) x\($0.value)" }.joined(separator: ", "))
        print("size:        \(Format.bytes(s.rawBytes)) raw, \(Format.bytes(s.storedBytes)) stored, ratio \(String(format: "%.4f", s.ratio))")
        print("step:        \(m.step)")
        if let o = m.optimizer {
            print(
                "optimizer:   AdamW (\(o.variant)), lr \(o.lr), betas (\(o.beta1), \(o.beta2)), eps \(o.eps), weight_decay \(o.weightDecay) on \(o.decay), grad_clip \(o.gradClip)"
            )
        }
        print("layout:      \(s.layoutText)")
        if !m.rng.isEmpty { print("rng:         " + m.rng.keys.sorted().map { "\($0) (\(m.rng[$0]!.count) B)" }.joined(separator: ", ")) }
        if let u = m.userJSON { print("user:        \(u)") }
    }
}
