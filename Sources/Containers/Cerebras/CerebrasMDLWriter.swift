import CheckpointStore

/// Writes a cstorch `.mdl` file (format 0.5) that `cerebras.pytorch.load` (2.10) loads into
/// the state dict `state` describes, streaming: each tensor of the manifest becomes the dataset
/// of its leaf (bf16 stored as int16 with `dtypes = ["torch.bfloat16"]`, chunks encoded on all
/// cores), the other leaves their metadata, then the root attributes `__spec__`, `__version__`,
/// `__cstorch_version__`, one `<key>.__metadata__` per leaf and, last, `__SUCCESS__`. The file
/// appears under `path` only at `commit` (temporary, fsync, rename).
///
/// Chunks are compressed with `filters`: ckpt's shuffle + zstd (hdf5plugin's filter 32015,
/// which cstorch's reader opens: it imports hdf5plugin), hdf5plugin's LZ4 (cstorch's own
/// default) or none.
public final class CerebrasMDLWriter: TensorContainerWriter {
    /// The final path.
    public var path: String { writer.path }
    /// The state dict written.
    public let state: CerebrasStateDict
    /// The tensors, in writing order.
    public let manifest: [ContainerTensor]

    private let writer: HDF5DatasetFileWriter
    private let filters: HDF5DatasetFilters
    private let leafOf: [TensorKey: String]
    private var next = 0

    /// Creates the temporary file beside `path`. Every tensor leaf of `state` must name a
    /// manifest tensor and every manifest tensor one leaf.
    public init(
        path: String, state: CerebrasStateDict, manifest: [ContainerTensor], filters: HDF5DatasetFilters = .zstd(level: 1),
        chunkBytes: Int = 4 << 20, threads: Int? = nil, replace: Bool = false
    ) throws(ContainerError) {
        if let p = state.problem() { throw .badTensor(path: path, tensor: "(state dict)", detail: "cannot be written: \(p)") }
        var leafOf: [TensorKey: String] = [:]
        for l in state.leaves { if case .tensor(let k) = l.value { leafOf[k] = l.key } }
        let listed = Set(manifest.map(\.key))
        if let missing = leafOf.keys.sorted().first(where: { !listed.contains($0) }) {
            throw .badTensor(path: path, tensor: missing.description, detail: "the state dict's leaf \(leafOf[missing]!) names it, the manifest does not")
        }
        if let extra = manifest.first(where: { leafOf[$0.key] == nil }) {
            throw .badTensor(path: path, tensor: extra.key.description, detail: "no leaf of the state dict holds it")
        }
        for t in manifest where CerebrasDTypeName.rtfx(t.dtype) == nil {
            throw .unsupported(path: path, detail: "tensor \(t.key): cstorch cannot load \(t.dtype.rawValue) tensors")
        }
        self.state = state
        self.manifest = manifest
        self.filters = filters
        self.leafOf = leafOf
        do { writer = try HDF5DatasetFileWriter(path: path, chunkBytes: chunkBytes, threads: threads, replace: replace) } catch { throw .store(error) }
    }

    /// Starts the next tensor of the manifest.
    public func beginTensor(_ key: TensorKey, dtype: DType, shape: [Int]) throws(ContainerError) -> any TensorByteSink {
        guard next < manifest.count else {
            throw .badTensor(path: path, tensor: key.description, detail: "not in the manifest (all \(manifest.count) tensors were written)")
        }
        let expected = manifest[next]
        guard expected.key == key, expected.dtype == dtype, expected.shape == shape else {
            throw .badTensor(
                path: path, tensor: key.description,
                detail: "out of manifest order: expected \(expected.key) \(expected.dtype.rawValue) \(expected.shape), got \(dtype.rawValue) \(shape)")
        }
        next += 1
        let leaf = leafOf[key]!
        return try begin(leaf, dtype: dtype, shape: shape)
    }

    private func begin(_ leaf: String, dtype: DType, shape: [Int]) throws(ContainerError) -> any TensorByteSink {
        let meta = CerebrasLeafDocument.metadata(.tensor(.model(leaf)), dtype: dtype, shape: shape)
        do {
            let s = try writer.beginDataset(
                leaf, dtype: CerebrasDTypeName.stored(dtype), shape: shape, filters: filters, attributes: CerebrasLeafDocument.attributes(meta),
                values: dtype)
            return HDF5TensorSink(stream: s)
        } catch { throw .store(error) }
    }

    /// Writes the leaves carried by value and the root attributes, `__SUCCESS__` last, and
    /// publishes the file; fails unless every manifest tensor was written.
    public func commit() throws(ContainerError) {
        guard next == manifest.count else {
            writer.abort()
            throw .badTensor(path: path, tensor: manifest[next].key.description, detail: "manifest tensor not written before commit")
        }
        do {
            let manifestByKey = Dictionary(manifest.map { ($0.key, $0) }, uniquingKeysWith: { a, _ in a })
            var texts: [(String, String)] = []
            for l in state.leaves {
                var dtype: DType? = nil, shape: [Int]? = nil
                switch l.value {
                case .tensor(let k):
                    dtype = manifestByKey[k]?.dtype
                    shape = manifestByKey[k]?.shape
                case .data(let d, let s, let bytes):
                    dtype = d
                    shape = s
                    guard CerebrasDTypeName.rtfx(d) != nil else {
                        throw ContainerError.unsupported(path: path, detail: "leaf \(l.key): cstorch cannot load \(d.rawValue) tensors")
                    }
                    let sink = try begin(l.key, dtype: d, shape: s)
                    try withTypedBytes(bytes) { (b) throws(ContainerError) in try sink.append(b) }
                    try sink.finish()
                case .object(let bytes):
                    let meta = CerebrasLeafDocument.metadata(l.value, dtype: nil, shape: nil)
                    var attributes = CerebrasLeafDocument.attributes(meta).filter { $0.0 != "__BYTES__" }
                    attributes.append(("__BYTES__", .opaque(bytes)))
                    try writer.writeEmptyDataset(l.key, attributes: attributes)
                default: break
                }
                texts.append(
                    (
                        l.key + ".__metadata__",
                        CerebrasLeafDocument.text(key: l.key, metadata: CerebrasLeafDocument.metadata(l.value, dtype: dtype, shape: shape))
                    ))
            }
            let spec = JSONText.python(.array([state.structure, .string(state.spec.dumps())]), indent: 4)
            try writer.setRootAttribute("__spec__", .strings([spec], shape: []))
            try writer.setRootAttribute("__version__", .floats([0.5], shape: []))
            try writer.setRootAttribute("__cstorch_version__", .strings([state.cstorchVersion], shape: []))
            for (name, text) in texts { try writer.setRootAttribute(name, .strings([text], shape: [])) }
            try writer.setRootAttribute("__SUCCESS__", .bools([true], shape: []))
            try writer.commit()
        } catch let e as ContainerError {
            writer.abort()
            throw e
        } catch let e as StoreError {
            writer.abort()
            throw .store(e)
        } catch {
            writer.abort()
            throw .io(path: path, detail: "\(error)")
        }
    }

    /// Deletes the temporary file.
    public func abort() { writer.abort() }
}
