import ArgumentParser
import CheckpointStore
import Foundation

/// `ckpt get`: export one tensor (or a row range) as a NumPy `.npy` file.
struct GetCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "get", abstract: "Export one tensor, or a row range of it, as NumPy .npy.",
        discussion: "bfloat16 tensors are written as float32 (exact); names are as `ckpt ls` prints them.")

    @Argument(help: "Checkpoint file.") var file: String
    @Argument(help: "Tensor name, e.g. layers.0.attn.q.weight or optimizer.exp_avg.layers.0.attn.q.weight.") var name: String
    @Option(help: "Row range a:b along dimension 0 (a: or :b allowed).") var rows: String?
    @Option(help: "Output .npy file.") var out: String
    @Flag(help: "Replace an existing output file.") var force = false

    func parseRows(_ n: Int) throws -> Range<Int> {
        guard let rows else { return 0..<n }
        let parts = rows.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2 else { throw CLIError.usage("--rows must look like a:b") }
        let a = parts[0].isEmpty ? 0 : Int(parts[0])
        let b = parts[1].isEmpty ? n : Int(parts[1])
        guard let a, let b, a >= 0, b <= n, a <= b else {
            throw CLIError.usage("--rows \(rows) is outside 0:\(n) of tensor \(name)")
        }
        return a..<b
    }

    func run() throws {
        try OutputGuard.check(out, kind: .file, inputs: [file], force: force)
        let r = try CheckpointReader(path: file)
        let key = TensorKey(parsing: name)
        let info = try r.info(key)
        if rows != nil && info.shape.isEmpty { throw CLIError.usage("\(file): tensor \(name) is a scalar; --rows does not apply") }
        let range = info.shape.isEmpty ? 0..<1 : try parseRows(info.shape[0])
        let shape = info.shape.isEmpty ? [] : [range.count] + info.shape.dropFirst()
        try NpyWriter.write(reader: r, key: key, info: info, rows: info.shape.isEmpty ? nil : range, shape: shape, to: out, replace: force)
        print("wrote \(out): \(key) \(info.dtype.rawValue) \(shape)")
    }
}
