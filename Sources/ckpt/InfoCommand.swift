import ArgumentParser
import CheckpointStore
import Foundation

/// `ckpt info`: a summary of one checkpoint.
struct InfoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "info", abstract: "Summarise a checkpoint: model, parameters, dtypes, sizes, step, layout.")

    @Argument(help: "Checkpoint file.") var file: String
    @Flag(help: "Print JSON.") var json = false

    func run() throws {
        let r = try CheckpointReader(path: file)
        let s = CheckpointSummary(r)
        if json {
            print(Format.json(s))
            return
        }
        let m = r.metadata
        print("file:        \(file)")
        print("format:      ckpt v\(r.formatVersion) (\(r.writer ?? "unknown writer")\(r.created.map { ", created \($0)" } ?? ""))")
        if let c = m.modelConfig {
            print(
                "model:       \(c.family), \(c.layers) layers, hidden \(c.hidden), \(c.heads) heads (\(c.kvHeads) kv), ffn \(c.ffn), vocab \(c.vocab), max_seq \(c.maxSeq)"
            )
            print("             \(c.norm), \(c.activation), \(c.position) positions, \(c.tieEmbeddings ? "tied" : "untied") head")
        } else {
            print("model:       (no model_config)")
        }
        print("parameters:  \(s.parameters) (\(Format.count(s.parameters)))")
        print("tensors:     \(s.tensors) (\(s.modelTensors) model, \(s.tensors - s.modelTensors) optimizer)")
        print("dtypes:      " + s.dtypes.sorted { $0.key < $1.key }.map { "\($0.key) x\($0.value)" }.joined(separator: ", "))
        print("size:        \(Format.bytes(s.rawBytes)) raw, \(Format.bytes(s.storedBytes)) stored, ratio \(String(format: "%.4f", s.ratio))")
        print("step:        \(m.step)")
        if let o = m.optimizer {
            print(
                "optimizer:   AdamW (\(o.variant)), lr \(o.lr), betas (\(o.beta1), \(o.beta2)), eps \(o.eps), weight_decay \(o.weightDecay) on \(o.decay), grad_clip \(o.gradClip)"
            )
        }
        print("layout:      \(m.layoutJSON)")
        if !m.rng.isEmpty { print("rng:         " + m.rng.keys.sorted().map { "\($0) (\(m.rng[$0]!.count) B)" }.joined(separator: ", ")) }
    }
}

/// The numbers `ckpt info` prints.
struct CheckpointSummary: Encodable {
    var path: String
    var formatVersion: Int64
    var family: String?
    var modelConfig: ModelConfig?
    var optimizer: OptimizerConfig?
    var parameters: Int
    var tensors: Int
    var modelTensors: Int
    var dtypes: [String: Int]
    var rawBytes: Int
    var storedBytes: Int
    var ratio: Double
    var step: Int64
    var layout: String

    init(_ r: CheckpointReader) {
        path = r.path
        formatVersion = r.formatVersion
        family = r.metadata.modelConfig?.family
        modelConfig = r.metadata.modelConfig
        optimizer = r.metadata.optimizer
        let model = r.tensors.filter { $0.key.isModel }
        parameters = model.reduce(0) { $0 + $1.elementCount }
        tensors = r.tensors.count
        modelTensors = model.count
        dtypes = Dictionary(grouping: r.tensors, by: { $0.dtype.rawValue }).mapValues(\.count)
        rawBytes = r.tensors.reduce(0) { $0 + $1.rawBytes }
        storedBytes = r.tensors.reduce(0) { $0 + $1.storedBytes }
        ratio = rawBytes == 0 ? 1 : Double(storedBytes) / Double(rawBytes)
        step = r.metadata.step
        layout = r.metadata.layoutJSON
    }

    enum CodingKeys: String, CodingKey {
        case path, family, optimizer, parameters, tensors, dtypes, ratio, step, layout
        case formatVersion = "format_version", modelConfig = "model_config", modelTensors = "model_tensors"
        case rawBytes = "raw_bytes", storedBytes = "stored_bytes"
    }
}
