import CheckpointStore
import Foundation

/// The layout rules the converter knows, read from the layout data files.
///
/// The bundled catalog is `formats/layouts/megatron-gpt.json`, compiled into the module from its
/// byte-identical copy `Sources/Sharding/Layouts/megatron-gpt.json` (SwiftPM `embedInCode`, so the
/// executable needs no resource bundle at run time; a test keeps the two copies identical).
/// Adding a model family means adding an entry under `families` in that file.
public struct LayoutCatalog: Sendable {
    /// The parsed layout documents, keyed by layout kind.
    public let documents: [String: LayoutDocument]

    /// Creates a catalog from already parsed documents.
    public init(documents: [LayoutDocument]) {
        var byKind: [String: LayoutDocument] = [:]
        for d in documents { byKind[d.kind] = d }
        self.documents = byKind
    }

    /// Parses a catalog from layout data files' bytes; `source` names the data in errors.
    public init(jsonFiles: [(source: String, bytes: [UInt8])]) throws(ShardingError) {
        var docs: [LayoutDocument] = []
        for file in jsonFiles {
            do {
                docs.append(try JSONDecoder().decode(LayoutDocument.self, from: Data(file.bytes)))
            } catch {
                throw .badLayoutData(
                    source: file.source, detail: PlainErrorMessage.decoding(error, json: String(decoding: file.bytes, as: UTF8.self), root: ""))
            }
        }
        self.init(documents: docs)
    }

    /// The catalog compiled into the module (`formats/layouts/megatron-gpt.json`).
    public static func bundled() throws(ShardingError) -> LayoutCatalog {
        try LayoutCatalog(jsonFiles: [("formats/layouts/megatron-gpt.json", PackageResources.megatron_gpt_json)])
    }

    /// The raw bytes of the bundled layout data file, for tests comparing it with `formats/`.
    public static var bundledMegatronGPTBytes: [UInt8] { PackageResources.megatron_gpt_json }

    /// The rules for `family` in layout `kind`.
    public func rules(kind: String, family: String) throws(ShardingError) -> LayoutRuleSet {
        guard let doc = documents[kind] else { throw .unknownLayout(kind) }
        guard let set = doc.families[family] else {
            throw .unknownFamily(family: family, layout: kind, known: doc.families.keys.sorted())
        }
        return set
    }
}
