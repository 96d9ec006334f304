/// Identifies one tensor in a checkpoint: its section (`model` or an optimizer state) and its
/// canonical dotted name.
///
/// The HDF5 dataset path is `/<section>/<name with dots as slashes>`, so
/// `TensorKey.model("layers.3.attn.q.weight")` lives at `/model/layers/3/attn/q/weight` and
/// `TensorKey.optimizer("exp_avg", "layers.3.attn.q.weight")` at
/// `/optimizer/exp_avg/layers/3/attn/q/weight`.
public struct TensorKey: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// `model`, or `optimizer/<state>` (`optimizer/exp_avg`, `optimizer/exp_avg_sq`, `optimizer/master`).
    public var section: String
    /// The canonical dotted name (`layers.3.attn.q.weight`).
    public var name: String

    /// Creates a key from a section and a dotted name.
    public init(section: String, name: String) {
        self.section = section
        self.name = name
    }

    /// A parameter tensor under `/model`.
    public static func model(_ name: String) -> TensorKey { TensorKey(section: "model", name: name) }

    /// An optimizer state tensor under `/optimizer/<state>`.
    public static func optimizer(_ state: String, _ name: String) -> TensorKey {
        TensorKey(section: "optimizer/\(state)", name: name)
    }

    /// Parses the printed form: a bare name is a model tensor; `optimizer.<state>.<name>` an
    /// optimizer tensor; `model.<name>` is accepted too.
    public init(parsing text: String) {
        if text.hasPrefix("optimizer.") {
            let rest = text.dropFirst("optimizer.".count)
            if let dot = rest.firstIndex(of: ".") {
                self.init(section: "optimizer/\(rest[..<dot])", name: String(rest[rest.index(after: dot)...]))
                return
            }
        }
        if text.hasPrefix("model.") {
            self.init(section: "model", name: String(text.dropFirst("model.".count)))
            return
        }
        self.init(section: "model", name: text)
    }

    /// The optimizer state this key belongs to (`exp_avg` ...), or nil for a model tensor.
    public var optimizerState: String? {
        section.hasPrefix("optimizer/") ? String(section.dropFirst("optimizer/".count)) : nil
    }

    /// Whether this is a parameter under `/model`.
    public var isModel: Bool { section == "model" }

    /// The HDF5 dataset path.
    public var datasetPath: String {
        "/" + section + "/" + name.split(separator: ".", omittingEmptySubsequences: false).joined(separator: "/")
    }

    /// Recovers a key from an HDF5 dataset path below the root (`model/layers/0/...`).
    static func fromDatasetPath(_ path: String) -> TensorKey? {
        var parts = path.split(separator: "/").map(String.init)
        guard let first = parts.first else { return nil }
        if first == "model", parts.count >= 2 {
            parts.removeFirst()
            return .model(parts.joined(separator: "."))
        }
        if first == "optimizer", parts.count >= 3 {
            let state = parts[1]
            return .optimizer(state, parts.dropFirst(2).joined(separator: "."))
        }
        return nil
    }

    /// Printed form: the bare name for model tensors, `optimizer.<state>.<name>` otherwise.
    public var description: String {
        if isModel { return name }
        return section.replacingOccurrences(of: "/", with: ".") + "." + name
    }

    /// Orders model tensors first, then by section, then by name with numeric components
    /// compared as numbers (`layers.2` before `layers.10`).
    public static func < (a: TensorKey, b: TensorKey) -> Bool {
        if a.section != b.section {
            if a.isModel != b.isModel { return a.isModel }
            return a.section < b.section
        }
        return naturalLess(a.name, b.name)
    }
}

/// Compares dotted names component by component, numbers numerically.
func naturalLess(_ a: String, _ b: String) -> Bool {
    let pa = a.split(separator: "."), pb = b.split(separator: ".")
    for (x, y) in zip(pa, pb) where x != y {
        if let ix = Int(x), let iy = Int(y) { return ix < iy }
        return x < y
    }
    return pa.count < pb.count
}
