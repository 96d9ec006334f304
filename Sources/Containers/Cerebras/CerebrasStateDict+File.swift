import CheckpointStore

extension CerebrasStateDict {
    /// The state dict `file` holds: its spec, and for each leaf its value, a tensor leaf either
    /// as the tensor `tensorKey` names (nil: carried by value, read now, at most
    /// `maxValueBytes`; larger ones are an error naming the leaf), a linked leaf as the tensor
    /// `tensorKey` names or else as the link.
    public init(
        file: CerebrasMDLFile, maxValueBytes: Int = 1 << 20, tensorKey: (CerebrasLeaf) -> TensorKey?
    ) throws(ContainerError) {
        var leaves: [Leaf] = []
        leaves.reserveCapacity(file.leaves.count)
        for l in file.leaves {
            switch l.kind {
            case .tensor(let d, let s, _, _):
                if let k = tensorKey(l) {
                    leaves.append(Leaf(l.key, .tensor(k)))
                } else {
                    let n = s.reduce(d.size, *)
                    guard n <= maxValueBytes else {
                        throw .unsupported(
                            path: file.path, detail: "leaf \(l.key) (\(s) of \(d.rawValue)) is not a tensor of the layout and too large to carry as metadata")
                    }
                    leaves.append(Leaf(l.key, .data(dtype: d, shape: s, bytes: try file.readLeaf(l))))
                }
            case .scalar(let v): leaves.append(Leaf(l.key, .scalar(v)))
            case .string(let s): leaves.append(Leaf(l.key, .string(s)))
            case .none: leaves.append(Leaf(l.key, .none))
            case .linked(let t):
                // A second key of a tensor (tied weights saved as one object) that `tensorKey` names
                // is written as that tensor (the layout holds it as a copy); otherwise it stays a link.
                if let k = tensorKey(l) {
                    leaves.append(Leaf(l.key, .tensor(k)))
                } else {
                    leaves.append(Leaf(l.key, .linked(t)))
                }
            case .object: leaves.append(Leaf(l.key, .object(try file.objectBytes(l))))
            }
        }
        self.init(spec: file.spec, leaves: leaves, cstorchVersion: file.cstorchVersion)
    }
}
