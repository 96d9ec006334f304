import CheckpointStore
import Foundation

/// The layout rule tables the converter knows, read from the layout data files.
///
/// The bundled catalog is `formats/layouts/*.json` (`megatron-gpt.json`, `hf-gpt2.json`,
/// `hf-llama.json`, `hf-neox.json`, ...), symbolic links to the files compiled into
/// the module, `Sources/Sharding/Layouts/` (SwiftPM `embedInCode`, so the executable needs no
/// resource bundle at run time). Documents of the same `kind` are
/// merged by family, so each Hugging Face family can live in its own file. Adding a model
/// family means adding an entry under `families`.
public struct LayoutCatalog: Sendable {
    /// The layout documents, keyed by table kind (documents of one kind merged).
    public let documents: [String: LayoutDocument]

    /// Creates a catalog from already parsed documents; a later document's family replaces an
    /// earlier one of the same kind and name.
    public init(documents: [LayoutDocument]) {
        var byKind: [String: LayoutDocument] = [:]
        for d in documents {
            if var merged = byKind[d.kind] {
                for (family, rules) in d.families { merged.families[family] = rules }
                if let refused = d.refusedFamilies { merged.refusedFamilies = (merged.refusedFamilies ?? [:]).merging(refused) { a, _ in a } }
                byKind[d.kind] = merged
            } else {
                byKind[d.kind] = d
            }
        }
        self.documents = byKind
    }

    /// Parses a catalog from layout data files' bytes; `source` names the data in errors. Two
    /// files defining the same family of the same kind are an error.
    public init(jsonFiles: [(source: String, bytes: [UInt8])]) throws(ShardingError) {
        var docs: [LayoutDocument] = []
        var seen: [String: String] = [:]
        for file in jsonFiles {
            let doc: LayoutDocument
            do {
                doc = try JSONDecoder().decode(LayoutDocument.self, from: Data(file.bytes))
            } catch {
                throw .badLayoutData(
                    source: file.source, detail: PlainErrorMessage.decoding(error, json: String(decoding: file.bytes, as: UTF8.self), root: ""))
            }
            for family in doc.families.keys.sorted() {
                if let other = seen[doc.kind + "/" + family] {
                    throw .badLayoutData(source: file.source, detail: "family '\(family)' of layout '\(doc.kind)' is also defined in \(other)")
                }
                seen[doc.kind + "/" + family] = file.source
            }
            docs.append(doc)
        }
        self.init(documents: docs)
    }

    /// The data files compiled into the module: their `formats/` paths and bytes.
    public static var bundledFiles: [(source: String, bytes: [UInt8])] {
        [
            ("formats/layouts/megatron-gpt.json", PackageResources.megatron_gpt_json),
            ("formats/layouts/hf-gpt2.json", PackageResources.hf_gpt2_json),
            ("formats/layouts/hf-llama.json", PackageResources.hf_llama_json),
            ("formats/layouts/cerebras-gpt2.json", PackageResources.cerebras_gpt2_json),
            ("formats/layouts/cerebras-llama.json", PackageResources.cerebras_llama_json),
            ("formats/layouts/hf-neox.json", PackageResources.hf_neox_json),
            ("formats/layouts/torchtitan-llama.json", PackageResources.torchtitan_llama_json),
        ]
    }

    private static let parsedBundle: Result<LayoutCatalog, ShardingError> = {
        do throws(ShardingError) { return .success(try LayoutCatalog(jsonFiles: bundledFiles)) } catch { return .failure(error) }
    }()

    /// The catalog compiled into the module (parsed once).
    public static func bundled() throws(ShardingError) -> LayoutCatalog {
        switch parsedBundle {
        case .success(let c): return c
        case .failure(let e): throw e
        }
    }

    /// The raw bytes of the bundled Megatron layout data file, for tests comparing it with `formats/`.
    public static var bundledMegatronGPTBytes: [UInt8] { PackageResources.megatron_gpt_json }

    /// The rules for `family` in table `kind`; a family the table refuses (`refused_families`)
    /// is `cannotExpress` with the table's reason.
    public func rules(kind: String, family: String) throws(ShardingError) -> LayoutRuleSet {
        guard let doc = documents[kind] else { throw .unknownLayout(kind) }
        if let reason = doc.refusedFamilies?[family], doc.families[family] == nil {
            throw .cannotExpress(layout: kind, family: family, reason: reason)
        }
        guard let set = doc.families[family] else {
            throw .unknownFamily(family: family, layout: kind, known: doc.families.keys.sorted())
        }
        return set
    }
}
