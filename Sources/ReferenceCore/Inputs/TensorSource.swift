import CheckpointStore

/// Where the verifier and the step read a checkpoint's tensors from: a wafer file
/// (`CheckpointFileSource`) or, plugged in by the `Sharding` module, an assembled megatron
/// directory. Tensors are addressed by canonical key, in the wafer layout (unpadded vocab,
/// separate Q/K/V, PyTorch `[out, in]` weights).
public protocol TensorSource: AnyObject {
    /// The file or directory, for messages.
    var path: String { get }
    /// Checkpoint-level metadata (step, model_config, optimizer, user_metadata ...).
    var metadata: CheckpointMetadata { get }
    /// dtype and shape of `key`, or nil when the checkpoint does not hold it.
    func describe(_ key: TensorKey) -> (dtype: DType, shape: [Int])?
    /// The whole tensor widened to Float (checksums verified by the implementation).
    func readFloats(_ key: TensorKey) throws(ReferenceError) -> [Float]
    /// Rows `rows` (along dimension 0, all of the other dimensions) widened to Float.
    func readFloats(_ key: TensorKey, rows: Range<Int>) throws(ReferenceError) -> [Float]
}

extension TensorSource {
    /// The whole tensor widened to Float, written into `out` (exactly its element count);
    /// sources that can decode in place override this to skip the intermediate array.
    public func readFloats(_ key: TensorKey, into out: UnsafeMutableBufferPointer<Float>) throws(ReferenceError) {
        let values = try readFloats(key)
        guard values.count == out.count else {
            throw .invalidArgument("\(path): tensor \(key) has \(values.count) elements, expected \(out.count)")
        }
        _ = out.update(fromContentsOf: values)
    }
}
