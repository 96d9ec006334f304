/// The root attribute `__spec__` of a cstorch `.mdl` file: the JSON pair
/// `[structure, treespec]`, where `structure` mirrors the state dict with `"*"` for each leaf and
/// `treespec` is torch's `treespec_dumps` text of the whole state dict.
///
/// Parsing is bounded (JSON depth, the pytree's depth and node count, the leaf count) and
/// executes nothing; every refusal is one line naming the file.
public struct CerebrasSpecAttribute: Sendable {
    /// The most leaves a state dict may have.
    public static let maxLeaves = 4_000_000

    /// The pytree spec of the whole state dict.
    public var spec: PyTreeSpec
    /// The first member of the pair, kept as cstorch wrote it.
    public var structure: JSONValue
    /// Each leaf's flattened key (`cstorch.utils.nest` naming), in leaf order; all distinct.
    public var leafKeys: [String]

    /// Parses the attribute's text; `path` names the file in errors.
    public static func parse(_ text: String, path: String) throws(ContainerError) -> CerebrasSpecAttribute {
        let doc: JSONValue
        do { doc = try JSONValue.parse(Array(text.utf8), limits: JSONLimits(maxDepth: 2 * PyTreeSpec.maxDepth + 4)) } catch {
            throw .malformed(path: path, detail: "__spec__ is not JSON: \(error)")
        }
        guard let pair = doc.arrayValue, pair.count == 2, let treeText = pair[1].stringValue else {
            throw .malformed(path: path, detail: "__spec__ is not [structure, treespec]")
        }
        let spec: PyTreeSpec
        switch PyTreeSpec.parse(treeText) {
        case .success(let s): spec = s
        case .failure(let e): throw .malformed(path: path, detail: "__spec__: \(e)")
        }
        let keys: [String]
        switch spec.leafKeys() {
        case .success(let k): keys = k
        case .failure(let e): throw .unsupported(path: path, detail: "__spec__: \(e)")
        }
        guard keys.count <= maxLeaves else { throw .malformed(path: path, detail: "__spec__ has \(keys.count) leaves (at most \(maxLeaves))") }
        guard Set(keys).count == keys.count else { throw .malformed(path: path, detail: "__spec__ gives two leaves the same flattened key") }
        return CerebrasSpecAttribute(spec: spec, structure: pair[0], leafKeys: keys)
    }
}
