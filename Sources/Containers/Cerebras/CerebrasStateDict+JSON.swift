import CheckpointStore

extension CerebrasStateDict {
    /// The form ckpt keeps in `user_metadata` under `cerebras`:
    /// `{"format": "cstorch", "version": 1, "cstorch_version": ..., "spec": <treespec text>,
    /// "leaves": [[key, kind, ...], ...]}` with kinds `tensor` (section, stored name), `data`
    /// (dtype, shape, hex bytes), `scalar` (value), `string`, `none`, `linked` (key), `object`
    /// (hex bytes).
    public var json: JSONValue {
        var leaves: [JSONValue] = []
        for l in self.leaves {
            let k = JSONValue.string(l.key)
            switch l.value {
            case .tensor(let t): leaves.append(.array([k, .string("tensor"), .string(t.section), .string(t.name)]))
            case .data(let d, let s, let b): leaves.append(.array([k, .string("data"), .string(d.rawValue), .array(s.map { .int($0) }), .string(Self.hex(b))]))
            case .scalar(let v): leaves.append(.array([k, .string("scalar"), v]))
            case .string(let s): leaves.append(.array([k, .string("string"), .string(s)]))
            case .none: leaves.append(.array([k, .string("none")]))
            case .linked(let t): leaves.append(.array([k, .string("linked"), .string(t)]))
            case .object(let b): leaves.append(.array([k, .string("object"), .string(Self.hex(b))]))
            }
        }
        var o = JSONObject()
        o.insert("format", .string("cstorch"))
        o.insert("version", .int(1))
        o.insert("cstorch_version", .string(cstorchVersion))
        o.insert("spec", .string(spec.dumps()))
        o.insert("leaves", .array(leaves))
        return .object(o)
    }

    /// Reads the form `json` writes; the error says what is wrong.
    public init(json v: JSONValue) throws(PyTreeSpecError) {
        func bad(_ m: String) -> PyTreeSpecError { PyTreeSpecError(message: "cerebras metadata: \(m)") }
        guard let o = v.objectValue, o["format"]?.stringValue == "cstorch", o["version"]?.intValue == 1,
            let specText = o["spec"]?.stringValue, let items = o["leaves"]?.arrayValue
        else { throw bad("not a cstorch state dict (format, version 1, spec, leaves)") }
        let spec: PyTreeSpec
        switch PyTreeSpec.parse(specText) {
        case .success(let s): spec = s
        case .failure(let e): throw bad("spec: \(e)")
        }
        var leaves: [Leaf] = []
        for item in items {
            guard let a = item.arrayValue, a.count >= 2, let key = a[0].stringValue, let kind = a[1].stringValue else {
                throw bad("a leaf is not [key, kind, ...]")
            }
            func string(_ i: Int) throws(PyTreeSpecError) -> String {
                guard i < a.count, let s = a[i].stringValue else { throw bad("leaf \(key): item \(i) is not a string") }
                return s
            }
            func bytes(_ i: Int) throws(PyTreeSpecError) -> [UInt8] {
                guard let b = Self.unhex(try string(i)) else { throw bad("leaf \(key): item \(i) is not hex bytes") }
                return b
            }
            switch kind {
            case "tensor": leaves.append(Leaf(key, .tensor(TensorKey(section: try string(2), name: try string(3)))))
            case "data":
                guard let d = DType(rawValue: try string(2)), a.count == 5, let dims = a[3].arrayValue else { throw bad("leaf \(key): bad data") }
                let shape = dims.compactMap(\.intValue)
                guard shape.count == dims.count, shape.allSatisfy({ $0 >= 0 && $0 < 1 << 32 }) else { throw bad("leaf \(key): bad shape") }
                leaves.append(Leaf(key, .data(dtype: d, shape: shape, bytes: try bytes(4))))
            case "scalar":
                guard a.count == 3, a[2].boolValue != nil || a[2].doubleValue != nil else { throw bad("leaf \(key): bad scalar") }
                leaves.append(Leaf(key, .scalar(a[2])))
            case "string": leaves.append(Leaf(key, .string(try string(2))))
            case "none": leaves.append(Leaf(key, .none))
            case "linked": leaves.append(Leaf(key, .linked(try string(2))))
            case "object": leaves.append(Leaf(key, .object(try bytes(2))))
            default: throw bad("leaf \(key): unknown kind \(kind)")
            }
        }
        self.init(spec: spec, leaves: leaves, cstorchVersion: o["cstorch_version"]?.stringValue ?? "2.10.0")
        if let p = problem() { throw bad(p) }
    }

    static func hex(_ b: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(2 * b.count)
        for x in b {
            out.append(digits[Int(x >> 4)])
            out.append(digits[Int(x & 15)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    static func unhex(_ s: String) -> [UInt8]? {
        let u = Array(s.utf8)
        guard u.count % 2 == 0 else { return nil }
        func nib(_ c: UInt8) -> UInt8? {
            switch c {
            case 48...57: return c - 48
            case 97...102: return c - 87
            default: return nil
            }
        }
        var out = [UInt8]()
        out.reserveCapacity(u.count / 2)
        var i = 0
        while i < u.count {
            guard let h = nib(u[i]), let l = nib(u[i + 1]) else { return nil }
            out.append(h << 4 | l)
            i += 2
        }
        return out
    }
}
