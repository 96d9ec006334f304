import ArgumentParser
import CheckpointStore
import Containers
import Foundation
import Sharding

/// `ckpt get`: export one tensor (or a row range) as a NumPy `.npy` file.
struct GetCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "get", abstract: "Export one tensor, or a row range of it, as NumPy .npy.",
        discussion: """
            bfloat16 tensors are written as float32 (exact); names are as `ckpt ls` prints them. --rows takes \
            Python-style start:end along dimension 0: either end may be omitted and negative indices count from \
            the end (--rows -1: is the last row; no '=' needed). For a Megatron checkpoint directory NAME is \
            the canonical name (as in the wafer layout) and the tensor is assembled from every rank, exactly \
            as convert --to wafer would store it; with --rank (tp<t>pp<p> as `ckpt ls` prints it, or \
            mp_rank_TT_PPP) NAME is the rank file's own name and that rank's local shard is exported.

            Example:
              ckpt get model.h5 layers.0.attn.q.weight --rows 0:16 --out q.npy
              ckpt get megatron-ckpt/ layers.0.attn.q.weight --out q.npy
              ckpt get megatron-ckpt/ decoder.layers.0.self_attention.linear_qkv.weight --rank tp1pp0 --out qkv-tp1.npy
            """)

    @Argument(help: "Checkpoint file or Megatron checkpoint directory.") var file: String
    @Argument(help: "Tensor name, e.g. layers.0.attn.q.weight or optimizer.exp_avg.layers.0.attn.q.weight.") var name: String
    @Option(parsing: .unconditional, help: "Row range start:end along dimension 0 (default: all rows; negative counts from the end).")
    var rows: String?
    @Option(help: "Rank file of a Megatron directory, tp<t>pp<p> (default: assemble the canonical tensor from every rank).")
    var rank: String?
    @Option(help: "Output .npy file (required).") var out: String
    @Flag(help: "Replace an existing output file.") var force = false
    @Flag(help: "Print a JSON summary.") var json = false

    func validate() throws {
        if let rank, RankFile.parse(rank) == nil { throw ValidationError("--rank \(rank): expected tp<t>pp<p>, e.g. tp0pp1") }
        if let rows, rows.split(separator: ":", omittingEmptySubsequences: false).count != 2 {
            throw ValidationError("--rows \(rows): expected start:end (either may be omitted, e.g. 2:5, 10:, :-1)")
        }
    }

    /// The checkpoint file to read: the file itself, the chosen rank file of a directory, or nil
    /// for a directory without `--rank` (the tensor is assembled).
    func sourceFile() throws -> (path: String, rank: String?)? {
        switch try CheckpointInput.open(file) {
        case .file(let p):
            if rank != nil { throw CLIError.usage("--rank applies to a Megatron checkpoint directory; \(file) is a file") }
            return (p, nil)
        case .megatron(_, let ranks):
            let labels = ranks.map(\.label).joined(separator: ", ")
            guard let rank else { return nil }
            guard let want = RankFile.parse(rank), let r = ranks.first(where: { $0.file == want }) else {
                throw CLIError.usage("\(file): no rank \(rank) (have: \(labels))")
            }
            guard FileManager.default.fileExists(atPath: r.path) else { throw ShardingError.missingRank(path: r.path, rank: r.file.description) }
            return (r.path, r.label)
        case .foreign:
            return nil
        }
    }

    func run() throws {
        try OutputGuard.check(out, kind: .file, inputs: [file], force: force)
        if case .foreign(let f) = try CheckpointInput.open(file) { return try runForeign(f) }
        guard let (path, rankLabel) = try sourceFile() else { return try runAssembled() }
        let r = try CheckpointReader(path: path)
        let key = TensorKey(parsing: name)
        guard r.contains(key) else {
            throw CLIError.usage("\(path): tensor \(name): not found (\(r.tensors.count) tensors; `ckpt ls` lists them)")
        }
        let info = try r.info(key)
        if rows != nil && info.shape.isEmpty { throw CLIError.usage("\(path): tensor \(name) is a scalar; --rows does not apply") }
        let range = info.shape.isEmpty ? 0..<1 : try RowRange(text: rows ?? ":").resolve(rows: info.shape[0], tensor: name)
        let shape = info.shape.isEmpty ? [] : [range.count] + info.shape.dropFirst()
        let rowBytes = info.shape.dropFirst().reduce(1, *) * info.dtype.size
        let progress = Progress(total: range.count * rowBytes, label: "get \(name)", enabled: Progress.shown(json: json))
        try NpyWriter.write(
            reader: r, key: key, info: info, rows: info.shape.isEmpty ? nil : range, shape: shape, to: out, replace: force
        ) {
            progress.update($0 * rowBytes)
        }
        progress.finish()
        report(rank: rankLabel, key: key, dtype: info.dtype, shape: shape, rows: info.shape.isEmpty ? nil : range)
    }

    /// A Megatron directory without `--rank`: the canonical tensor assembled from every rank.
    func runAssembled() throws {
        let key = TensorKey(parsing: name)
        let source = try CheckpointSource(path: file)
        let bar = Progress(total: 1, label: "get \(name): assemble", enabled: Progress.shown(json: json))
        let data = try TensorAssembler.assemble(key, from: source) { done, total in
            bar.phase("get \(name): assemble", total: total, keepClock: true)
            bar.update(done)
        }
        bar.finish()
        if rows != nil && data.shape.isEmpty { throw CLIError.usage("\(file): tensor \(name) is a scalar; --rows does not apply") }
        let range = data.shape.isEmpty ? 0..<1 : try RowRange(text: rows ?? ":").resolve(rows: data.shape[0], tensor: name)
        let shape = data.shape.isEmpty ? [] : [range.count] + data.shape.dropFirst()
        try NpyWriter.write(data: data, rows: data.shape.isEmpty ? nil : range, shape: shape, to: out, replace: force)
        report(rank: nil, key: key, dtype: data.dtype, shape: shape, rows: data.shape.isEmpty ? nil : range)
    }

    /// A checkpoint of another format: a bare file or `--rank`'s file by its stored name; a
    /// directory without `--rank` by canonical name, assembled through `CanonicalView`.
    func runForeign(_ f: ForeignInput) throws {
        let key = TensorKey(parsing: name)
        let container: any TensorContainer
        var rankLabel: String?
        if let rank {
            guard f.files.contains(where: { $0.label != nil }) else {
                throw CLIError.usage("--rank applies to a sharded checkpoint; \(file) is \(f.formatName) with one file")
            }
            guard let want = RankFile.parse(rank), let e = f.files.first(where: { $0.label == RankFile.label(want) }) else {
                throw CLIError.usage("\(file): no rank \(rank) (have: \(f.files.compactMap(\.label).joined(separator: ", ")))")
            }
            container = e.container
            rankLabel = e.label
        } else if let s = f.source {
            // Canonical names; a one-file layout (Hugging Face) also takes its stored names.
            let view = try CanonicalView(source: s)
            container = view.describe(key) == nil && f.files.count == 1 && f.files[0].container.describe(key) != nil ? f.files[0].container : view
        } else {
            container = f.files[0].container
        }
        guard let t = container.describe(key) else {
            throw CLIError.usage(
                "\(container.path): tensor \(name): not found (\(container.tensors.count) tensors; `ckpt ls` lists the stored names, a directory without --rank takes canonical names)"
            )
        }
        if rows != nil && t.shape.isEmpty { throw CLIError.usage("\(file): tensor \(name) is a scalar; --rows does not apply") }
        let range = t.shape.isEmpty ? 0..<1 : try RowRange(text: rows ?? ":").resolve(rows: t.shape[0], tensor: name)
        let box = t.shape.isEmpty ? TensorBox.whole([]) : TensorBox.rows(range, of: t.shape)
        var bytes = [UInt8](repeating: 0, count: box.count * t.dtype.size)
        let failure: ContainerError? = bytes.withUnsafeMutableBytes { b in
            do throws(ContainerError) {
                try container.read(key, box: box, into: b)
                return nil
            } catch { return error }
        }
        if let failure { throw failure }
        let shape = box.sizes
        let data = TensorData(dtype: t.dtype, shape: shape, bytes: bytes)
        try NpyWriter.write(data: data, rows: nil, shape: shape, to: out, replace: force)
        report(rank: rankLabel, key: key, dtype: t.dtype, shape: shape, rows: t.shape.isEmpty ? nil : range)
    }

    /// Prints what was written.
    func report(rank: String?, key: TensorKey, dtype: DType, shape: [Int], rows: Range<Int>?) {
        if json {
            struct Out: Encodable {
                var path: String, rank: String?, tensor: String, dtype: String, shape: [Int], rows: [Int]?, output: String
            }
            let rowsValue = rows.map { [$0.lowerBound, $0.upperBound] }
            print(
                JSONDocument.text(
                    Out(path: file, rank: rank, tensor: key.description, dtype: dtype.rawValue, shape: shape, rows: rowsValue, output: out),
                    nullable: ["rank", "rows"]))
        } else {
            print("wrote \(out): \(key) \(dtype.rawValue) \(shape)")
        }
    }
}
