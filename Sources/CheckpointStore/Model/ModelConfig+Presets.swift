import Foundation

extension ModelConfig {
    /// Named shapes for `ckpt synth --preset`, per family, from `formats/presets.json` (compiled
    /// in; the only place they are written down). GPT-2 sizes follow GPT-2/GPT-3 (the 1.3b
    /// preset is GPT-3 XL), llama sizes LLaMA-1/2, neox sizes Pythia. Documented in
    /// `formats/tensor-names.md`.
    public static func preset(family: String, name: String) -> ModelConfig? {
        PresetTable.shared.families[family]?.first { $0.name == name.lowercased() }?.config
    }

    /// Preset names available for a family, smallest (fewest parameters) first.
    public static func presetNames(family: String) -> [String] {
        PresetTable.shared.families[family]?.map(\.name) ?? []
    }

    /// The families that have presets, in name order.
    public static var presetFamilies: [String] { PresetTable.shared.families.keys.sorted() }

    /// The compiled-in bytes of `formats/presets.json`.
    public static var presetsJSON: [UInt8] { PackageResources.presets_json }
}

/// `formats/presets.json` decoded once: per family its presets sorted by size, and the
/// family's conventions (the architecture switches every one of its presets shares).
struct PresetTable: Sendable {
    /// (name, config) per family, fewest parameters first.
    let families: [String: [(name: String, config: ModelConfig)]]
    /// Per family the switches all its presets agree on.
    let conventions: [String: ModelConfig.Conventions]

    static let shared: PresetTable = {
        do {
            let decoder = JSONDecoder()
            decoder.userInfo[ModelConfig.requireEveryKey] = true
            let raw = try decoder.decode([String: [String: ModelConfig]].self, from: Data(PackageResources.presets_json))
            var families: [String: [(name: String, config: ModelConfig)]] = [:]
            var conventions: [String: ModelConfig.Conventions] = [:]
            for (family, presets) in raw {
                let sorted = presets.map { (name: $0.key, config: $0.value) }.sorted {
                    ($0.config.parameterCount, $0.name) < ($1.config.parameterCount, $1.name)
                }
                families[family] = sorted
                if let first = sorted.first { conventions[family] = ModelConfig.Conventions(first.config) }
            }
            return PresetTable(families: families, conventions: conventions)
        } catch {
            preconditionFailure("the compiled-in formats/presets.json does not decode: \(error)")
        }
    }()
}
