import Foundation

/// The checkpoint-level metadata stored as root attributes (and the `/rng` group).
public struct CheckpointMetadata: Sendable, Equatable {
    /// Optimizer steps completed when the checkpoint was taken.
    public var step: Int64 = 0
    /// The model architecture (`model_config`).
    public var modelConfig: ModelConfig?
    /// The optimizer hyperparameters (`optimizer`).
    public var optimizer: OptimizerConfig?
    /// The layout JSON: `{"kind":"wafer"}` or a megatron rank description.
    public var layoutJSON: String = #"{"kind":"wafer"}"#
    /// Named raw RNG states (torch CPU/CUDA, numpy, python ...).
    public var rng: [String: [UInt8]] = [:]
    /// Free-form user metadata as a JSON document.
    public var userJSON: String?

    /// Creates metadata; every field can be set afterwards.
    public init(
        step: Int64 = 0, modelConfig: ModelConfig? = nil, optimizer: OptimizerConfig? = nil,
        layoutJSON: String = #"{"kind":"wafer"}"#, rng: [String: [UInt8]] = [:], userJSON: String? = nil
    ) {
        self.step = step
        self.modelConfig = modelConfig
        self.optimizer = optimizer
        self.layoutJSON = layoutJSON
        self.rng = rng
        self.userJSON = userJSON
    }

    /// The layout's `kind` (`wafer`, `megatron`), read from `layoutJSON`.
    public var layoutKind: String {
        guard let d = layoutJSON.data(using: .utf8),
            let o = try? JSONSerialization.jsonObject(with: d) as? [String: Any],
            let k = o["kind"] as? String
        else { return "unknown" }
        return k
    }
}

/// JSON helpers shared by the writer and reader: sorted keys, no escaped slashes.
enum MetadataJSON {
    static func encode<T: Encodable>(_ v: T) -> String {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: (try? e.encode(v)) ?? Data("null".utf8), as: UTF8.self)
    }

    /// Decodes the JSON attribute `what`; a failure names the key and what was expected,
    /// never a Swift type.
    static func decode<T: Decodable>(_ t: T.Type, _ s: String, path: String, what: String) throws(StoreError) -> T {
        do {
            return try JSONDecoder().decode(t, from: Data(s.utf8))
        } catch {
            throw .badMetadata(path: path, detail: PlainErrorMessage.decoding(error, json: s, root: what))
        }
    }

    /// Whether a JSON document is the literal `null` (which, for an optional attribute, means
    /// "not recorded").
    static func isNull(_ s: String) -> Bool { s.trimmingCharacters(in: .whitespacesAndNewlines) == "null" }
}
