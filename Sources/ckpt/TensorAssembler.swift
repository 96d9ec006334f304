import CheckpointStore
import Containers
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
        guard let firstInfo = source.describe(first.source, firstKey) else {
            throw CLIError.usage("\(source.path(first.source)): tensor \(firstKey): not found (the checkpoint has no \(key.section) section for it)")
        }
        let dtype = firstInfo.dtype
        let es = dtype.size
        let shape = planned.target.shape
        var out = [UInt8](repeating: 0, count: shape.reduce(1, *) * es)
        var copied = 0
        for p in planned.pieces {
            defer {
                copied += p.count * es
                progress(copied, out.count)
            }
            let k = TensorKey(section: key.section, name: p.sourceTensor)
            guard let info = source.describe(p.source, k) else {
                throw ShardingError.missingTensor(path: source.path(p.source), tensor: k.description)
            }
            guard info.dtype == dtype else {
                throw ShardingError.dtypeMismatch(path: source.path(p.source), tensor: k.description, expected: dtype.rawValue, actual: info.dtype.rawValue)
            }
            var piece = [UInt8](repeating: 0, count: p.count * es)
            try piece.withUnsafeMutableBytes { try source.read(p.source, k, box: p.sourceBox, into: $0) }
            piece.withUnsafeBytes { src in
                out.withUnsafeMutableBytes { dst in
                    BoxCopy.copy(
                        from: src.baseAddress!, shape: p.sourceBox.sizes, box: .whole(p.sourceBox.sizes), to: dst.baseAddress!, shape: shape,
                        box: p.destBox, transposed: p.transposed, elementSize: es)
                }
            }
        }
        return TensorData(dtype: dtype, shape: shape, bytes: out)
    }
}
