import CheckpointStore

extension HFConfig {
    /// The rotary settings of a config.json: the base and, for families with partial rotary,
    /// the rotated fraction of each head.
    struct RoPE {
        /// The rotary base frequency (`rope_theta`).
        var theta: Double
        /// The rotated fraction (`partial_rotary_factor`, `rotary_pct`); nil when absent.
        var partial: Double?
    }

    /// Reads the rotary base from the top-level members `thetaKeys` (transformers 4:
    /// `rope_theta`; GPT-NeoX: `rotary_emb_base`) and/or `rope_parameters` / `rope_scaling`
    /// (transformers 5); only the default rotary type, unscaled. With `partialKeys` (GPT-NeoX:
    /// `rotary_pct`) the rotated fraction is read from those members and from
    /// `rope_parameters.partial_rotary_factor`; without, a partial factor is refused. Two
    /// spellings with two values are a contradiction, named.
    static func rope(_ f: inout HFConfigFields, thetaKeys: [String], partialKeys: [String]?) throws(ContainerError) -> RoPE {
        var theta: (key: String, value: Double)? = nil
        var partial: (key: String, value: Double)? = nil
        func agree(_ current: inout (key: String, value: Double)?, _ key: String, _ value: Double) throws(ContainerError) {
            if let c = current, c.value != value {
                throw .malformed(path: f.path, detail: "\(key) \(value) contradicts \(c.key) \(c.value)")
            }
            current = current ?? (key, value)
        }
        if let p = f.value("rope_parameters"), !p.isNull {
            guard let o = p.objectValue else { throw f.bad("rope_parameters", "expected an object, found \(f.describe(p))") }
            for (k, v) in o.members {
                switch k {
                case "rope_type", "type":
                    guard v.stringValue == "default" else { throw unsupportedRope("rope_parameters", v, f) }
                case "rope_theta":
                    guard let d = v.doubleValue else { throw f.bad("rope_parameters.rope_theta", "expected a number, found \(f.describe(v))") }
                    try agree(&theta, "rope_parameters.rope_theta", d)
                case "partial_rotary_factor" where partialKeys != nil:
                    guard let d = v.doubleValue else {
                        throw f.bad("rope_parameters.partial_rotary_factor", "expected a number, found \(f.describe(v))")
                    }
                    try agree(&partial, "rope_parameters.partial_rotary_factor", d)
                default:
                    throw .unsupported(path: f.path, detail: "rope_parameters.\(k): ckpt implements unscaled default RoPE only")
                }
            }
        }
        if let s = f.value("rope_scaling"), !s.isNull {
            guard let o = s.objectValue else { throw f.bad("rope_scaling", "expected an object or null, found \(f.describe(s))") }
            let type = o["rope_type"] ?? o["type"]
            guard let type, type.stringValue == "default", o.keys.allSatisfy({ ["rope_type", "type", "rope_theta"].contains($0) }) else {
                throw unsupportedRope("rope_scaling", type ?? .object(o), f)
            }
            if let t = o["rope_theta"] {
                guard let d = t.doubleValue else { throw f.bad("rope_scaling.rope_theta", "expected a number, found \(f.describe(t))") }
                try agree(&theta, "rope_scaling.rope_theta", d)
            }
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
        return RoPE(theta: value, partial: partial?.value)
    }

    private static func unsupportedRope(_ key: String, _ v: JSONValue, _ f: HFConfigFields) -> ContainerError {
        .unsupported(path: f.path, detail: "\(key) of type \(f.describe(v)): ckpt implements unscaled default RoPE only")
    }
}
