import CheckpointStore

/// The metadata cstorch 2.10 records for one leaf, built the way `cstorch.save` builds it: the
/// serializer's attributes in their order (`CerebrasStateDict.Value` → the `<key>.__metadata__`
/// object and, for datasets, the same as HDF5 attributes) and the per-leaf document
/// (`{"__spec__": [{key: "*"}, treespec], "__objects__": [key], "<key>.__metadata__": ...}`,
/// `json.dumps(indent=4)`).
enum CerebrasLeafDocument {
    /// The serializer metadata of a leaf.
    static func metadata(_ value: CerebrasStateDict.Value, dtype: DType?, shape: [Int]?) -> [(String, JSONValue)] {
        switch value {
        case .tensor, .data:
            let d = dtype ?? .float32, s = shape ?? []
            return [
                ("__TORCH__", .bool(true)), ("shapes", .array([.array(s.map { .int($0) })])),
                ("dtypes", .array([.string(CerebrasDTypeName.torch(d))])), ("rtfx_dtypes", .array([.int(CerebrasDTypeName.rtfx(d) ?? 0)])),
                ("__TYPE__", .string("TorchTensorSerializer")), ("__NUMPY__", .bool(true)), ("compressed", .bool(false)),
            ]
        case .scalar(let v): return [("scalar_value", v), ("__TYPE__", .string("ScalarSerializer")), ("__NONE__", .bool(true))]
        case .string(let s): return [("string_value", .string(s)), ("__TYPE__", .string("StringSerializer")), ("__NONE__", .bool(true))]
        case .none: return [("__TYPE__", .string("NoneSerializer")), ("__NONE__", .bool(true))]
        case .linked(let k):
            return [("key", .string(k)), ("__LINKED__", .bool(true)), ("__TYPE__", .string("LinkedObject")), ("__NONE__", .bool(true))]
        case .object: return [("__TYPE__", .string("ObjectSerializer")), ("__BYTES__", .bool(true)), ("compressed", .bool(false))]
        }
    }

    /// The text of the root attribute `<key>.__metadata__`.
    static func text(key: String, metadata: [(String, JSONValue)]) -> String {
        var one = JSONObject()
        one.insert(key, .string("*"))
        let spec = PyTreeSpec.dict([(key, .leaf)])
        var doc = JSONObject()
        doc.insert("__spec__", .array([.object(one), .string(spec.dumps())]))
        doc.insert("__objects__", .array([.string(key)]))
        doc.insert(key + ".__metadata__", .object(JSONObject(metadata) ?? JSONObject()))
        return JSONText.python(.object(doc), indent: 4)
    }

    /// The metadata as HDF5 attribute values, as h5py stores the Python values (lists of
    /// tuples as int64 arrays, `[()]` as a float64 array of shape (1, 0)).
    static func attributes(_ metadata: [(String, JSONValue)]) -> [(String, HDF5AttributeValue)] {
        metadata.compactMap { name, v -> (String, HDF5AttributeValue)? in
            switch v {
            case .bool(let b): return (name, .bools([b], shape: []))
            case .string(let s): return (name, .strings([s], shape: []))
            case .array(let items) where name == "shapes":
                let dims = items.first?.arrayValue?.compactMap(\.intValue) ?? []
                return dims.isEmpty ? (name, .floats([], shape: [1, 0])) : (name, .integers(dims.map(Int64.init), shape: [1, dims.count]))
            case .array(let items) where items.allSatisfy({ $0.stringValue != nil }):
                return (name, .strings(items.compactMap(\.stringValue), shape: [items.count]))
            case .array(let items) where items.allSatisfy({ $0.intValue != nil }):
                return (name, .integers(items.compactMap(\.intValue).map(Int64.init), shape: [items.count]))
            default: return nil
            }
        }
    }
}
