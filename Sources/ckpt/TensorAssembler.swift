import CheckpointStore
import Foundation
import Sharding

/// Assembles one canonical (wafer-layout) tensor from the rank files of a Megatron checkpoint,
/// following the same reshard plan `convert --to wafer` uses: every piece of every rank is
/// copied into place, vocabulary padding dropped.
enum TensorAssembler {
    /// The tensor `key` (canonical name, any section) of the Megatron directory `source`;
    /// `progress` gets (bytes copied, bytes of the tensor) after each piece.
    static func assemble(_ key: TensorKey, from source: CheckpointSource, progress: (Int, Int) -> Void = { _, _ in }) throws -> TensorData {
        let plan = try ReshardPlanner().plan(source.config, from: source.layout, to: .wafer)
        guard let planned = plan.files.lazy.flatMap(\.tensors).first(where: { $0.target.name == key.name }), let first = planned.pieces.first
        else {
            throw CLIError.usage(
                "\(source.path): tensor \(key): not found (give a canonical name as formats/tensor-names.md lists them, or --rank with a name `ckpt ls` prints)"
            )
        }
        let firstKey = TensorKey(section: key.section, name: first.sourceTensor)
        let firstReader = try source.reader(first.source)
        guard firstReader.contains(firstKey) else {
            throw CLIError.usage("\(firstReader.path): tensor \(firstKey): not found (the checkpoint has no \(key.section) section for it)")
        }
        let dtype = try firstReader.info(firstKey).dtype
        let es = dtype.size
        let shape = planned.target.shape
        let cols = planned.target.cols
        var out = [UInt8](repeating: 0, count: planned.target.rows * cols * es)
        var copied = 0
        for p in planned.pieces {
            defer {
                copied += p.sourceRows.count * p.sourceCols.count * es
                progress(copied, out.count)
            }
            let reader = try source.reader(p.source)
            let k = TensorKey(section: key.section, name: p.sourceTensor)
            let info = try reader.info(k)
            guard info.dtype == dtype else {
                throw ShardingError.dtypeMismatch(path: reader.path, tensor: k.description, expected: dtype.rawValue, actual: info.dtype.rawValue)
            }
            let d = info.shape.isEmpty ? try reader.read(k) : try reader.read(k, rows: p.sourceRows)
            let srcCols = info.shape.dropFirst().reduce(1, *)
            let width = p.sourceCols.count * es
            d.bytes.withUnsafeBytes { src in
                out.withUnsafeMutableBytes { dst in
                    for i in 0..<p.sourceRows.count {
                        let from = (i * srcCols + p.sourceCols.lowerBound) * es
                        let to = ((p.destRow + i) * cols + p.destCol) * es
                        dst.baseAddress!.advanced(by: to).copyMemory(from: src.baseAddress!.advanced(by: from), byteCount: width)
                    }
                }
            }
        }
        return TensorData(dtype: dtype, shape: shape, bytes: out)
    }
}
