import CheckpointStore

/// One leaf's `<key>.__metadata__` document: `{"__spec__": [structure, treespec of {key: leaf}],
/// "__objects__": [key] or [], "<key>.__metadata__": {"__TYPE__": serializer, ...}}`, read into
/// a `CerebrasLeaf` and, for datasets, checked against the file (dtype, shape).
enum CerebrasLeafMetadata {
    /// The JSON depth a leaf document may have.
    static let limits = JSONLimits(maxDepth: 32)

    static func parse(_ text: String, key: String, file: HDF5DatasetFile) throws(ContainerError) -> CerebrasLeaf {
        let path = file.path
        let shown = PrintableName.of(key)
        func bad(_ d: String) -> ContainerError { .malformed(path: path, detail: "leaf \(shown): \(d)") }
        let doc: JSONValue
        do { doc = try JSONValue.parse(Array(text.utf8), limits: limits) } catch { throw bad("its __metadata__ is not JSON: \(error)") }
        guard let o = doc.objectValue else { throw bad("its __metadata__ is not a JSON object") }
        guard let spec = o["__spec__"]?.arrayValue, spec.count == 2, let specText = spec[1].stringValue else {
            throw bad("its __metadata__ has no __spec__ [structure, treespec]")
        }
        switch PyTreeSpec.parse(specText).flatMap({ $0.leafKeys() }) {
        case .success(let k) where k == [key]: break
        case .success: throw .unsupported(path: path, detail: "leaf \(shown): a nested serialized object (deferred or external data) is not supported")
        case .failure(let e): throw bad("its __spec__: \(e)")
        }
        guard let objects = o["__objects__"]?.arrayValue else { throw bad("its __metadata__ has no __objects__ list") }
        guard let m = o[key + ".__metadata__"]?.objectValue else { throw bad("its __metadata__ has no \(shown).__metadata__ object") }
        guard let type = m["__TYPE__"]?.stringValue else { throw bad("no __TYPE__ (serializer) in its metadata") }
        let isObject = objects.count == 1 && objects[0].stringValue == key
        if !(objects.isEmpty || isObject) { throw bad("__objects__ names other keys") }
        func flag(_ name: String) -> Bool { m[name]?.boolValue == true }
        switch type {
        case "TorchTensorSerializer", "NumpyArraySerializer":
            guard flag("__NUMPY__"), isObject else {
                throw .unsupported(path: path, detail: "leaf \(shown): a \(type) without a stored array (deferred or external data) is not supported")
            }
            return CerebrasLeaf(key: key, kind: try tensor(key: key, type: type, m, file: file))
        case "ScalarSerializer":
            guard let v = m["scalar_value"], v.boolValue != nil || v.doubleValue != nil else {
                throw bad("a ScalarSerializer without a number or bool scalar_value")
            }
            return CerebrasLeaf(key: key, kind: .scalar(v))
        case "StringSerializer":
            guard let s = m["string_value"]?.stringValue else { throw bad("a StringSerializer without a string_value") }
            return CerebrasLeaf(key: key, kind: .string(s))
        case "NoneSerializer":
            return CerebrasLeaf(key: key, kind: .none)
        case "LinkedObject":
            guard let target = m["key"]?.stringValue, flag("__LINKED__") else { throw bad("a LinkedObject without its key") }
            return CerebrasLeaf(key: key, kind: .linked(target))
        case "ObjectSerializer":
            guard flag("__BYTES__"), isObject, file.datasets.contains(key) else { throw bad("an ObjectSerializer without its __BYTES__ dataset") }
            return CerebrasLeaf(key: key, kind: .object(dataset: key))
        default:
            throw .unsupported(path: path, detail: "leaf \(shown): serializer \(PrintableName.of(type)) is not supported")
        }
    }

    /// A tensor leaf: `shapes`/`dtypes` (torch tensors) or the dataset's own type (numpy arrays,
    /// bf16 when `is_bfloat16`), checked against the dataset.
    private static func tensor(key: String, type: String, _ m: JSONObject, file: HDF5DatasetFile) throws(ContainerError) -> CerebrasLeaf.Kind {
        let path = file.path
        let shown = PrintableName.of(key)
        guard file.datasets.contains(key) else { throw .malformed(path: path, detail: "leaf \(shown): its dataset is missing") }
        let info: HDF5DatasetInfo
        do { info = try file.describe(key) } catch { throw .store(error) }
        guard let stored = info.dtype, !info.isNull else {
            throw .unsupported(path: path, detail: "leaf \(shown): the dataset's HDF5 type is not one ckpt reads (\(info.codec))")
        }
        var dtype = stored
        var shape = info.shape
        let numpy = type == "NumpyArraySerializer"
        if numpy {
            if m["is_bfloat16"]?.boolValue == true { dtype = .bfloat16 }
        } else {
            guard let dtypes = m["dtypes"]?.arrayValue, dtypes.count == 1, let name = dtypes[0].stringValue else {
                throw .malformed(path: path, detail: "leaf \(shown): its metadata has no dtypes [\"torch.<dtype>\"]")
            }
            guard let d = CerebrasDTypeName.dtype(torch: name) else {
                throw .unsupported(path: path, detail: "leaf \(shown): dtype \(PrintableName.of(name)) is not one ckpt holds")
            }
            dtype = d
            guard let shapes = m["shapes"]?.arrayValue, shapes.count == 1, let dims = shapes[0].arrayValue else {
                throw .malformed(path: path, detail: "leaf \(shown): its metadata has no shapes [[...]]")
            }
            var s: [Int] = []
            for v in dims {
                guard let n = v.intValue, n >= 0, n < 1 << 40 else {
                    throw .malformed(path: path, detail: "leaf \(shown): shapes holds \(JSONText.compact(v))")
                }
                s.append(n)
            }
            guard s == info.shape else {
                throw .malformed(path: path, detail: "leaf \(shown): the metadata's shape \(s) differs from the dataset's \(info.shape)")
            }
            shape = s
        }
        let expected = CerebrasDTypeName.stored(dtype)
        guard stored == expected || (dtype == .bfloat16 && stored == .bfloat16) || (dtype == .bool && stored == .bool) else {
            throw .malformed(path: path, detail: "leaf \(shown): dtype \(dtype.rawValue) is stored as \(stored.rawValue) (expected \(expected.rawValue))")
        }
        let (bytes, overflow) = shape.reduce(dtype.size) { $0.multipliedReportingOverflow(by: $1).partialValue }.multipliedReportingOverflow(by: 1)
        if overflow || bytes >= 1 << 56 { throw .malformed(path: path, detail: "leaf \(shown): shape \(shape) is not a tensor size") }
        return .tensor(dtype: dtype, shape: shape, dataset: key, numpy: numpy)
    }
}
