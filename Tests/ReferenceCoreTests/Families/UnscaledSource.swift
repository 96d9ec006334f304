import CheckpointStore

@testable import ReferenceCore

/// A checkpoint read as if its `model_config` had no `rope_scaling`.
final class UnscaledSource: TensorSource {
    let base: any TensorSource
    let metadata: CheckpointMetadata
    init(_ base: any TensorSource) {
        self.base = base
        var m = base.metadata
        m.modelConfig?.ropeScaling = nil
        metadata = m
    }
    var path: String { base.path }
    func describe(_ key: TensorKey) -> (dtype: DType, shape: [Int])? { base.describe(key) }
    func readFloats(_ key: TensorKey) throws(ReferenceError) -> [Float] { try base.readFloats(key) }
    func readFloats(_ key: TensorKey, rows: Range<Int>) throws(ReferenceError) -> [Float] { try base.readFloats(key, rows: rows) }
}
