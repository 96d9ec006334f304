import CheckpointStore

/// A Cerebras checkpoint written by `cstorch.save` (cerebras-pytorch's format 0.5, usually named
/// `.mdl`) as a `TensorContainer`: one HDF5 file whose root holds a dataset per tensor leaf of
/// the saved state dict, named by its flattened key (`model.model.ln_f.weight`, a `/` in a key
/// making groups), and root attributes `__spec__` (torch's pytree spec of the whole state dict),
/// `__version__` (0.5), `__cstorch_version__`, one `<key>.__metadata__` JSON document per leaf
/// and `__SUCCESS__`, written last. Scalars, strings and `None` live only in that metadata;
/// values saved twice are `LinkedObject`s; other objects are dill pickles kept opaque.
///
/// Tensor names: without `parameterNames`, each tensor leaf's flattened key read by
/// `TensorKey(parsing:)` (`model.x` → `.model("x")`, `optimizer.state.0.exp_avg` → section
/// `optimizer/state`, name `0.exp_avg`, printed back as the key). With `parameterNames` (the
/// model's parameter names in the optimizer's index order, from a layout table) the container
/// shows the layout view: `model.<name>` → `.model(name)`, and each per-parameter optimizer
/// tensor `optimizer.state.<i>.<state>` with the shape of parameter i → `.optimizer(state,
/// name)`; every other leaf is in `leaves` only. bf16 tensors are stored as int16 with
/// `dtypes = ["torch.bfloat16"]`; reads return the stored bytes, little-endian.
public final class CerebrasMDLFile: TensorContainer {
    /// The file.
    public var path: String { file.path }
    /// `cerebras`.
    public var formatName: String { "cerebras" }
    /// `.mdl` files store no checksums.
    public var verifiesChecksums: Bool { false }
    /// The pytree spec of the saved state dict (`__spec__`).
    public let spec: PyTreeSpec
    /// The first element of `__spec__`: the structure with `"*"` leaves, or null when it was not
    /// JSON-serialisable.
    public let structure: JSONValue
    /// `__cstorch_version__`.
    public let cstorchVersion: String
    /// Every leaf, in the spec's leaf order.
    public let leaves: [CerebrasLeaf]
    /// The tensors, in leaf order (see the type's description for their names).
    public let tensors: [ContainerTensor]
    /// Datasets no leaf names (left alone), and other remarks, one line each.
    public let notes: [String]

    let file: HDF5DatasetFile
    /// Tensor key -> (the leaf holding the data, its description).
    private let index: [TensorKey: (leaf: Int, tensor: ContainerTensor)]
    private let leafIndex: [String: Int]
    /// Leaf key -> the tensor key it is listed under.
    private let tensorOfLeaf: [String: TensorKey]

    /// Opens `path`; `parameterNames` gives the layout view (see above).
    public convenience init(path: String, parameterNames: [String]? = nil) throws(ContainerError) {
        let parsed = try CerebrasMDLParser.parse(path: path)
        try self.init(parsed, parameterNames: parameterNames)
    }

    init(_ p: CerebrasMDLParser.Parsed, parameterNames: [String]?) throws(ContainerError) {
        file = p.file
        spec = p.spec
        structure = p.structure
        cstorchVersion = p.cstorchVersion
        leaves = p.leaves
        notes = p.notes
        var leafIndex: [String: Int] = [:]
        for (i, l) in p.leaves.enumerated() { leafIndex[l.key] = i }
        self.leafIndex = leafIndex
        var index: [TensorKey: (Int, ContainerTensor)] = [:]
        var listed: [ContainerTensor] = []
        let path = p.file.path
        var tensorOfLeaf: [String: TensorKey] = [:]
        var own = 0
        func add(_ key: TensorKey, _ i: Int, _ d: DType, _ s: [Int]) throws(ContainerError) {
            let t = ContainerTensor(key: key, dtype: d, shape: s)
            guard index[key] == nil else { throw .malformed(path: path, detail: "two leaves give tensor \(key)") }
            index[key] = (i, t)
            tensorOfLeaf[p.leaves[own].key] = key
            listed.append(t)
        }
        // A leaf linked to a tensor leaf is that tensor under a second key (tied weights saved
        // as one object): it reads the target's dataset.
        var data: [Int] = Array(p.leaves.indices)
        var tensorOf: [Int: (DType, [Int])] = [:]
        for (i, l) in p.leaves.enumerated() {
            if let t = l.tensor { tensorOf[i] = t }
            if case .linked(let target) = l.kind, let j = leafIndex[target], let t = p.leaves[j].tensor {
                data[i] = j
                tensorOf[i] = t
            }
        }
        if let names = parameterNames {
            let bare = !p.leaves.contains { $0.key.hasPrefix("model.") }
            var modelShapes: [String: [Int]] = [:]
            for (k, l) in p.leaves.enumerated() {
                guard let (d, s) = tensorOf[k] else { continue }
                let i = data[k]
                own = k
                if l.key.hasPrefix("model.") || (bare && !l.key.hasPrefix("optimizer.")) {
                    let name = bare ? l.key : String(l.key.dropFirst("model.".count))
                    modelShapes[name] = s
                    try add(.model(name), i, d, s)
                }
            }
            for (k, l) in p.leaves.enumerated() {
                guard let (d, s) = tensorOf[k], let (n, state) = Self.optimizerSlot(l.key) else { continue }
                let i = data[k]
                own = k
                guard n < names.count else {
                    throw .malformed(path: path, detail: "\(l.key): the optimizer has state for parameter \(n), the model \(names.count) parameters")
                }
                guard let shape = modelShapes[names[n]] else {
                    throw .malformed(path: path, detail: "\(l.key): parameter \(n) is \(names[n]), which the file's model does not hold")
                }
                if s == shape && !(s.isEmpty && state == "step") { try add(.optimizer(state, names[n]), i, d, s) }
            }
        } else {
            for (k, l) in p.leaves.enumerated() {
                guard let (d, s) = tensorOf[k] else { continue }
                own = k
                try add(TensorKey(parsing: l.key), data[k], d, s)
            }
        }
        self.index = index
        self.tensors = listed
        self.tensorOfLeaf = tensorOfLeaf
    }

    /// The tensor key leaf `key` is listed under, or nil when it is not in `tensors`.
    public func tensorKey(ofLeaf key: String) -> TensorKey? { tensorOfLeaf[key] }

    /// The whole state dict, the leaves listed in `tensors` as references to them and every
    /// other tensor leaf carried by value (at most `maxValueBytes` each).
    public func stateDict(maxValueBytes: Int = 1 << 20) throws(ContainerError) -> CerebrasStateDict {
        try CerebrasStateDict(file: self, maxValueBytes: maxValueBytes) { tensorOfLeaf[$0.key] }
    }

    /// (parameter index, state name) of `optimizer.state.<i>.<state>`, or nil.
    public static func optimizerSlot(_ key: String) -> (Int, String)? {
        let parts = key.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4, parts[0] == "optimizer", parts[1] == "state", let i = Int(parts[2]), i >= 0, !parts[3].isEmpty else { return nil }
        return (i, String(parts[3]))
    }

    /// The same file with the layout view for `parameterNames` (nothing is read again).
    public func withParameterNames(_ parameterNames: [String]) throws(ContainerError) -> CerebrasMDLFile {
        try CerebrasMDLFile(
            CerebrasMDLParser.Parsed(file: file, spec: spec, structure: structure, cstorchVersion: cstorchVersion, leaves: leaves, notes: notes),
            parameterNames: parameterNames)
    }

    /// The dataset holding tensor `key`, or nil.
    func datasetName(_ key: TensorKey) -> String? {
        guard let (i, _) = index[key], case .tensor(_, _, let d, _) = leaves[i].kind else { return nil }
        return d
    }

    /// The leaf with flattened key `key`, or nil.
    public func leaf(_ key: String) -> CerebrasLeaf? { leafIndex[key].map { leaves[$0] } }

    /// The tensor stored under `key`, or nil.
    public func describe(_ key: TensorKey) -> ContainerTensor? { index[key]?.tensor }

    /// Reads `box` of `key`.
    public func read(_ key: TensorKey, box: TensorBox, into buffer: UnsafeMutableRawBufferPointer) throws(ContainerError) {
        guard let (i, t) = index[key] else { throw .noSuchTensor(path: path, tensor: key.description) }
        try readLeaf(leaves[i], shape: t.shape, box: box, into: buffer, name: key.description)
    }

    /// Reads every byte of a tensor leaf (also one that is not in `tensors`).
    public func readLeaf(_ leaf: CerebrasLeaf) throws(ContainerError) -> [UInt8] {
        guard let (d, s) = leaf.tensor else { throw .badTensor(path: path, tensor: leaf.key, detail: "not a tensor") }
        var out = [UInt8](repeating: 0, count: s.reduce(1, *) * d.size)
        let failure: ContainerError? = out.withUnsafeMutableBytes { b in
            do throws(ContainerError) {
                try readLeaf(leaf, shape: s, box: .whole(s), into: b, name: leaf.key)
                return nil
            } catch { return error }
        }
        if let failure { throw failure }
        return out
    }

    /// The pickled bytes of an object leaf (never unpickled).
    public func objectBytes(_ leaf: CerebrasLeaf) throws(ContainerError) -> [UInt8] {
        guard case .object(let dataset) = leaf.kind else { throw .badTensor(path: path, tensor: leaf.key, detail: "not a pickled object") }
        let v: HDF5AttributeValue?
        do { v = try file.attribute(of: dataset, "__BYTES__") } catch { throw .store(error) }
        guard case .opaque(let bytes)? = v else {
            throw .malformed(path: path, detail: "\(leaf.key): the dataset's __BYTES__ attribute is missing or not opaque bytes")
        }
        return bytes
    }

    private func readLeaf(
        _ leaf: CerebrasLeaf, shape: [Int], box: TensorBox, into buffer: UnsafeMutableRawBufferPointer, name: String
    ) throws(ContainerError) {
        guard case .tensor(let dtype, _, let dataset, _) = leaf.kind else { throw .badTensor(path: path, tensor: name, detail: "not a tensor") }
        guard box.fits(shape) else { throw .badTensor(path: path, tensor: name, detail: "box \(box) lies outside shape \(shape)") }
        guard buffer.count >= box.count * dtype.size else {
            throw .badTensor(path: path, tensor: name, detail: "buffer of \(buffer.count) bytes is smaller than the box's \(box.count * dtype.size)")
        }
        if box.count == 0 { return }
        let whole = box.offsets.allSatisfy { $0 == 0 } && box.sizes == shape
        let selection: [DimSelection]? = whole ? nil : zip(box.offsets, box.sizes).map { DimSelection(start: $0, count: $1) }
        do { try file.read(dataset, tensor: name, selection: selection, into: buffer) } catch { throw .store(error) }
    }
}
