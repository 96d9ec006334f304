import CheckpointStore

extension HFConfig {
    /// The rotary settings of a config.json: the base, the frequency scaling and, for families
    /// with partial rotary, the rotated fraction of each head.
    struct RoPE {
        /// The rotary base frequency (`rope_theta`).
        var theta: Double
        /// The rotated fraction (`partial_rotary_factor`, `rotary_pct`); nil when absent.
        var partial: Double?
        /// `llama3` or `linear` frequency scaling; nil for the default (unscaled) RoPE.
        var scaling: RopeScaling?
    }

    /// One rotary object (`rope_parameters` or `rope_scaling`) as read: its type and, for the
    /// scaled types, the scaling.
    private struct RopeObject {
        var key: String
        var type: String
        var scaling: RopeScaling?
    }

    /// The rotary types ckpt maps, with the members each takes besides `rope_type` / `type`,
    /// `rope_theta` and `partial_rotary_factor` (transformers 5.24's `_validate_*_rope_parameters`).
    private static let ropeTypeMembers: [String: [String]] = [
        "default": [],
        "linear": ["factor"],
        "llama3": ["factor", "low_freq_factor", "high_freq_factor", "original_max_position_embeddings"],
    ]

    /// Reads the rotary settings from the top-level members `thetaKeys` (transformers 4:
    /// `rope_theta`; GPT-NeoX: `rotary_emb_base`), `rope_parameters` (transformers 5) and
    /// `rope_scaling` (transformers 4, with `rope_type` or the older `type`). Types `default`,
    /// `llama3` and `linear` are mapped; any other (`yarn`, `dynamic`, `longrope`, ...) is refused
    /// by name, as is a member a type does not take. A `llama3` object without
    /// `original_max_position_embeddings` takes `maxPositions`, as transformers 5 does (listed
    /// in `assumed`); other missing parameters are errors. With `partialKeys` (GPT-NeoX:
    /// `rotary_pct`) the rotated fraction is read from those members and from
    /// `rope_parameters.partial_rotary_factor`; without, a partial factor is refused. Two
    /// spellings with two values (`rope_parameters` and `rope_scaling`, `type` and
    /// `rope_type`, two bases) are a contradiction, named.
    static func rope(
        _ f: inout HFConfigFields, thetaKeys: [String], partialKeys: [String]?, maxPositions: Int
    ) throws(ContainerError) -> RoPE {
        var theta: (key: String, value: Double)? = nil
        var partial: (key: String, value: Double)? = nil
        func agree(_ current: inout (key: String, value: Double)?, _ key: String, _ value: Double) throws(ContainerError) {
            if let c = current, c.value != value {
                throw .malformed(path: f.path, detail: "\(key) \(value) contradicts \(c.key) \(c.value)")
            }
            current = current ?? (key, value)
        }
        var objects: [RopeObject] = []
        for key in ["rope_parameters", "rope_scaling"] {
            guard let v = f.value(key), !v.isNull else { continue }
            guard let o = v.objectValue else { throw f.bad(key, "expected an object or null, found \(f.describe(v))") }
            let type = try ropeType(o, key: key, f)
            guard let allowed = ropeTypeMembers[type] else {
                throw .unsupported(
                    path: f.path, detail: "\(key).rope_type \(JSONReader.quote(type)): ckpt computes default, llama3 and linear RoPE only")
            }
            for (k, value) in o.members {
                switch k {
                case "rope_type", "type": break
                case "rope_theta":
                    guard let d = value.doubleValue else { throw f.bad("\(key).rope_theta", "expected a number, found \(f.describe(value))") }
                    try agree(&theta, "\(key).rope_theta", d)
                case "partial_rotary_factor" where partialKeys != nil:
                    guard let d = value.doubleValue else {
                        throw f.bad("\(key).partial_rotary_factor", "expected a number, found \(f.describe(value))")
                    }
                    try agree(&partial, "\(key).partial_rotary_factor", d)
                default:
                    guard allowed.contains(k) else {
                        throw .unsupported(path: f.path, detail: "\(memberName(key, k)): not a member of rope_type \(type) that ckpt maps")
                    }
                }
            }
            objects.append(RopeObject(key: key, type: type, scaling: try scaling(o, key: key, type: type, maxPositions: maxPositions, &f)))
        }
        if objects.count == 2, objects[0].type != objects[1].type || objects[0].scaling != objects[1].scaling {
            func show(_ r: RopeObject) -> String { r.scaling?.summary ?? r.type }
            throw .malformed(path: f.path, detail: "rope_scaling \(show(objects[1])) contradicts rope_parameters \(show(objects[0]))")
        }
        for key in thetaKeys {
            if let v = try f.optionalNumber(key) { try agree(&theta, key, v) }
        }
        for key in partialKeys ?? [] {
            if let v = try f.optionalNumber(key) { try agree(&partial, key, v) }
        }
        if theta == nil { f.assumed.append("rope_theta=10000.0") }
        let value = theta?.value ?? 10000
        guard value > 0 && value.isFinite else { throw f.bad("rope_theta", "must be positive, found \(value)") }
        if let p = partial, !(p.value > 0 && p.value <= 1) {
            throw f.bad(p.key, "must be in (0, 1], found \(p.value)")
        }
        return RoPE(theta: value, partial: partial?.value, scaling: objects.first?.scaling)
    }

    /// `key.member` for a message: the member as it is when it is a plain name, quoted (control
    /// characters escaped) when not, so a hostile key cannot break the one-line error.
    private static func memberName(_ key: String, _ member: String) -> String {
        let plain =
            !member.isEmpty && member.utf8.allSatisfy { $0 == UInt8(ascii: "_") || (48...57).contains($0) || (65...90).contains($0) || (97...122).contains($0) }
        return key + "." + (plain ? member : JSONReader.quote(member))
    }

    /// The type of a rotary object: `rope_type`, or the older `type` (both: they must agree);
    /// `default` when neither is there, as transformers 5 reads it.
    private static func ropeType(_ o: JSONObject, key: String, _ f: HFConfigFields) throws(ContainerError) -> String {
        var found: (key: String, value: String)? = nil
        for k in ["rope_type", "type"] {
            guard let v = o[k] else { continue }
            guard let s = v.stringValue else { throw f.bad("\(key).\(k)", "expected a string, found \(f.describe(v))") }
            if let c = found, c.value != s {
                throw .malformed(path: f.path, detail: "\(key).\(k) \(JSONReader.quote(s)) contradicts \(key).\(c.key) \(JSONReader.quote(c.value))")
            }
            found = found ?? (k, s)
        }
        if found == nil && key == "rope_scaling" {
            throw .unsupported(path: f.path, detail: "rope_scaling: no rope_type (or type); ckpt cannot tell which scaling it means")
        }
        return found?.value ?? "default"
    }

    /// The `RopeScaling` of a `linear` or `llama3` object (nil for `default`).
    private static func scaling(
        _ o: JSONObject, key: String, type: String, maxPositions: Int, _ f: inout HFConfigFields
    ) throws(ContainerError) -> RopeScaling? {
        guard type != "default" else { return nil }
        func number(_ k: String) throws(ContainerError) -> Double {
            guard let v = o[k] else {
                throw .malformed(path: f.path, detail: "\(key).\(k): missing (rope_type \(type) needs \(ropeTypeMembers[type]?.joined(separator: ", ") ?? k))")
            }
            guard let d = v.doubleValue, d > 0 else { throw f.bad("\(key).\(k)", "expected a positive number, found \(f.describe(v))") }
            return d
        }
        let factor = try number("factor")
        guard type == "llama3" else { return .linear(factor: factor) }
        let low = try number("low_freq_factor"), high = try number("high_freq_factor")
        guard high > low else {
            throw f.bad("\(key).high_freq_factor", "\(high) must exceed low_freq_factor \(low) (the llama3 bands would be empty or reversed)")
        }
        let original: Int
        if let v = o["original_max_position_embeddings"] {
            guard let i = v.intValue, i > 0 else {
                throw f.bad("\(key).original_max_position_embeddings", "expected a positive integer, found \(f.describe(v))")
            }
            original = i
        } else {
            let note = "original_max_position_embeddings=\(maxPositions)"
            if !f.assumed.contains(note) { f.assumed.append(note) }
            original = maxPositions
        }
        return .llama3(factor: factor, lowFreqFactor: low, highFreqFactor: high, originalMaxSeq: original)
    }

    /// `rope_parameters` as transformers 5.24's `save_pretrained` writes it: `rope_theta`,
    /// `rope_type` and the type's parameters (and `partial_rotary_factor` when given).
    static func ropeParameters(theta: Double, scaling: RopeScaling?, partial: Double? = nil) -> JSONObject {
        var members: [(String, JSONValue)] = ropeScalingMembers(scaling)
        if let partial { members.append(("partial_rotary_factor", JSONValue.double(partial) ?? .null)) }
        members.append(("rope_theta", JSONValue.double(theta) ?? .null))
        if scaling == nil { members.append(("rope_type", .string("default"))) }
        return JSONObject(members) ?? JSONObject()
    }

    /// `rope_scaling` as transformers 4 (4.43 and later, which read `rope_type`) reads it, for
    /// a scaled model: the type's parameters and `rope_type`; nil without scaling. transformers
    /// 5 prefers it to `rope_parameters` and loads the same `rope_parameters` from either (no
    /// legacy `type` member, which transformers 5 would keep in its `rope_parameters`).
    static func ropeScalingTransformers4(_ scaling: RopeScaling?) -> JSONObject? {
        guard let scaling else { return nil }
        return JSONObject(ropeScalingMembers(scaling))
    }

    private static func ropeScalingMembers(_ scaling: RopeScaling?) -> [(String, JSONValue)] {
        guard let s = scaling else { return [] }
        var members: [(String, JSONValue)] = [("factor", JSONValue.double(s.factor ?? 1) ?? .null)]
        if s.type == "llama3" {
            members += [
                ("high_freq_factor", JSONValue.double(s.highFreqFactor ?? 0) ?? .null),
                ("low_freq_factor", JSONValue.double(s.lowFreqFactor ?? 0) ?? .null),
                ("original_max_position_embeddings", .int(s.originalMaxSeq ?? 0)),
            ]
        }
        members.append(("rope_type", .string(s.type)))
        return members
    }
}
