// A Swift program that writes a small checkpoint and reads it back with `CheckpointStore`.
import CheckpointStore
import Foundation

let path = CommandLine.arguments.count > 1 ? CommandLine.arguments[1] : NSTemporaryDirectory() + "/example.h5"
do {
    // Write: two tensors and some metadata; the file appears atomically at commit.
    let writer = try CheckpointWriter(path: path)
    writer.metadata.step = 42
    writer.metadata.modelConfig = ModelConfig(family: "gpt2", layers: 1, hidden: 4, heads: 2, vocab: 8, maxSeq: 4)
    let weights = (0..<32).map { Float($0) / 8 }
    try writer.write(.model("embed.tokens.weight"), shape: [8, 4], floats: weights)
    try writer.write(.optimizer("exp_avg", "embed.tokens.weight"), shape: [8, 4], floats: [Float](repeating: 0, count: 32))
    try writer.commit()

    // Read: list tensors, read one whole and a row slice.
    let reader = try CheckpointReader(path: path)
    for t in reader.tensors { print(t.key, t.dtype.rawValue, t.shape, "\(t.storedBytes) B stored") }
    let all = try reader.readFloats(.model("embed.tokens.weight"))
    let rows = try reader.read(.model("embed.tokens.weight"), rows: 2..<4).floats()
    print("step \(reader.metadata.step), round trip \(all == weights ? "ok" : "MISMATCH"), rows 2..<4: \(rows)")
    if all != weights || rows != Array(weights[8..<16]) { exit(1) }
} catch {
    print("error: \(error)")
    exit(1)
}
