/// One parameter tensor bound by its canonical name: the storage the pass reads and the name
/// its gradient is kept under. Bound once per pass (`ModelWeights.bind`), after the name and
/// shape were checked, so the pass itself never looks a tensor up.
struct BoundTensor<T: ReferenceScalar> {
    /// Canonical name (`layers.3.attn.q.weight`).
    let name: String
    /// The values.
    let pointer: UnsafeMutablePointer<T>
    /// Number of elements.
    let count: Int

    /// `name` from `tensors`, which must hold it with `shape`; `source` names the checkpoint
    /// (or the in-memory set) in errors.
    static func bind(_ name: String, shape: [Int], from tensors: TensorBuffers<T>, source: String) throws(ReferenceError) -> BoundTensor {
        guard let found = tensors.shapes[name], let buffer = tensors[name] else { throw .missingTensor(path: source, tensor: name) }
        guard found == shape else { throw .shapeMismatch(path: source, tensor: name, expected: shape, found: found) }
        return BoundTensor(name: name, pointer: buffer.pointer, count: buffer.count)
    }
}
