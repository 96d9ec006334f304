import CheckpointStore

/// Reads and checks the structure of a cstorch `.mdl` file (root attributes, the pytree spec,
/// every leaf's metadata and the dataset it names) for `CerebrasMDLFile`. Everything is bounded:
/// JSON depth, leaf count, and each leaf's dataset is checked against its metadata before any
/// tensor byte is trusted.
enum CerebrasMDLParser {
    /// The format version ckpt reads.
    static let version = 0.5

    struct Parsed {
        var file: HDF5DatasetFile
        var spec: PyTreeSpec
        var structure: JSONValue
        var cstorchVersion: String
        var leaves: [CerebrasLeaf]
        var notes: [String]
    }

    static func parse(path: String) throws(ContainerError) -> Parsed {
        let file: HDF5DatasetFile
        do { file = try HDF5DatasetFile(path: path) } catch { throw .store(error) }
        func root(_ name: String) throws(ContainerError) -> HDF5AttributeValue? {
            do { return try file.rootAttribute(name) } catch { throw .store(error) }
        }
        guard let version = try root("__version__")?.number else {
            throw .malformed(path: path, detail: "no numeric root attribute __version__: not a cstorch checkpoint")
        }
        if version < version0_5 - 1e-9 {
            throw .unsupported(
                path: path,
                detail:
                    "cstorch checkpoint format \(version) (cerebras-pytorch 2.0 and older); ckpt reads format 0.5: load it with cstorch.load and save it again with cerebras-pytorch 2.x"
            )
        }
        if version > version0_5 + 1e-9 { throw .unsupported(path: path, detail: "cstorch checkpoint format \(version); ckpt reads format 0.5") }
        guard try root("__SUCCESS__")?.bool == true else {
            throw .malformed(
                path: path,
                detail: "partially written checkpoint: no __SUCCESS__ (cstorch writes it last, so the save did not finish); use an earlier checkpoint")
        }
        guard let specText = try root("__spec__")?.string else { throw .malformed(path: path, detail: "no string root attribute __spec__") }
        let attribute = try CerebrasSpecAttribute.parse(specText, path: path)
        let spec = attribute.spec, keys = attribute.leafKeys
        let cstorchVersion = (try root("__cstorch_version__"))?.string ?? "unknown"

        var leaves: [CerebrasLeaf] = []
        leaves.reserveCapacity(keys.count)
        var used = Set<String>()
        for key in keys {
            guard let text = try root(key + ".__metadata__")?.string else {
                throw .malformed(path: path, detail: "leaf \(PrintableName.of(key)) has no string root attribute \(PrintableName.of(key)).__metadata__")
            }
            let leaf = try CerebrasLeafMetadata.parse(text, key: key, file: file)
            if case .tensor(_, _, let d, _) = leaf.kind { used.insert(d) }
            if case .object(let d) = leaf.kind { used.insert(d) }
            leaves.append(leaf)
        }
        let keySet = Set(keys)
        for l in leaves {
            guard case .linked(let target) = l.kind else { continue }
            guard keySet.contains(target), target != l.key else {
                throw .malformed(path: path, detail: "leaf \(PrintableName.of(l.key)) is linked to \(PrintableName.of(target)), which is not another leaf")
            }
        }
        var notes: [String] = []
        let extra = file.datasets.filter { !used.contains($0) }
        if !extra.isEmpty {
            notes.append("\(extra.count) dataset(s) no leaf of __spec__ names, left alone: \(extra.prefix(3).map(PrintableName.of).joined(separator: ", "))")
        }
        return Parsed(file: file, spec: spec, structure: attribute.structure, cstorchVersion: cstorchVersion, leaves: leaves, notes: notes)
    }

    private static let version0_5 = version
}
