import CheckpointStore
import Foundation
import Testing

@testable import Containers

/// RoPE scaling in config.json: the config files transformers 5.24 wrote
/// (Tests/Fixtures/interop/rope-scaling/hf, tools/make_rope_fixtures.py) read into
/// `ModelConfig.ropeScaling` with the frequencies transformers computes, written back as
/// transformers writes them, both spellings, and every refusal.
@Suite struct HFConfigRopeScalingTests {
    static let dir = InteropFixtures.root + "/rope-scaling"

    /// `expected.json`'s `hf` entries: what transformers loaded from each file.
    static func expected() throws -> [String: [String: Any]] {
        let data = try Data(contentsOf: URL(fileURLWithPath: dir + "/expected.json"))
        let doc = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        return try #require(doc["hf"] as? [String: [String: Any]])
    }

    /// The `RopeScaling` transformers' `rope_parameters` describe.
    static func scaling(_ rope: [String: Any]) -> RopeScaling? {
        switch rope["rope_type"] as? String {
        case "llama3":
            return .llama3(
                factor: rope["factor"] as! Double, lowFreqFactor: rope["low_freq_factor"] as! Double,
                highFreqFactor: rope["high_freq_factor"] as! Double, originalMaxSeq: rope["original_max_position_embeddings"] as! Int)
        case "linear": return .linear(factor: rope["factor"] as! Double)
        default: return nil
        }
    }

    static let files = ["linear-legacy.json", "llama3.1-8b.json", "llama3.1-8b.t4.json", "llama3.2-1b.json"]

    @Test(arguments: files)
    func transformersConfigsMapWithTheirFrequencies(file: String) throws {
        let e = try #require(try Self.expected()[file])
        let rope = try #require(e["rope_parameters"] as? [String: Any])
        let c = try HFConfig.read(path: Self.dir + "/hf/" + file)
        #expect(c.model.ropeScaling == Self.scaling(rope))
        #expect(c.model.ropeScaling != nil)
        #expect(c.model.ropeTheta == rope["rope_theta"] as? Double)
        #expect(c.model.maxSeq == e["max_position_embeddings"] as? Int && c.model.headDim == e["head_dim"] as? Int)
        #expect(c.assumed.filter { $0.contains("rope") || $0.contains("original") }.isEmpty, "\(c.assumed)")
        let theirs = try #require(e["inv_freq"] as? [Double])
        let mine = c.model.ropeInverseFrequencies()
        #expect(mine.count == theirs.count)
        for (a, b) in zip(mine, theirs) { #expect(abs(a - b) / b < 1e-6, "\(file): \(a) vs transformers \(b)") }
    }

    /// The written `rope_parameters` is the member transformers 5.24's save_pretrained wrote
    /// for the same model, and `rope_scaling` (for transformers 4) the hub file's.
    @Test func writtenRopeMembersAreTransformersOwn() throws {
        for file in ["llama3.1-8b.json", "llama3.2-1b.json", "linear-legacy.json"] {
            let path = Self.dir + "/hf/" + file
            let theirs = try #require(try JSONValue.parse(SmallFile.read(path, maxBytes: 1 << 20)).objectValue)
            let written = try HFConfig(model: try HFConfig.read(path: path).model).jsonObject()
            let want = try #require(theirs["rope_parameters"]?.objectValue)
            let got = try #require(written["rope_parameters"]?.objectValue)
            // linear-legacy: transformers keeps the `type` it was given beside `rope_type`.
            var wanted = JSONObject()
            for (k, v) in Self.sorted(want).members where file != "linear-legacy.json" || k != "type" { wanted.insert(k, v) }
            #expect(Self.sorted(got) == wanted, "\(file)")
            #expect(written["rope_theta"]?.doubleValue == want["rope_theta"]?.doubleValue)
        }
        let hub = try #require(try JSONValue.parse(SmallFile.read(Self.dir + "/hf/llama3.1-8b.t4.json", maxBytes: 1 << 20)).objectValue)
        let written = try HFConfig(model: try HFConfig.read(path: Self.dir + "/hf/llama3.1-8b.json").model).jsonObject()
        #expect(Self.sorted(try #require(written["rope_scaling"]?.objectValue)) == Self.sorted(try #require(hub["rope_scaling"]?.objectValue)))
        let plain = ModelConfig(family: "llama", layers: 1, hidden: 16, heads: 2, ffn: 40, vocab: 10, maxSeq: 8)
        #expect(try HFConfig(model: plain).jsonObject()["rope_scaling"] == nil)
    }

    static func sorted(_ o: JSONObject) -> JSONObject { JSONObject(o.members.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }) ?? o }

    @Test(arguments: [
        RopeScaling.llama3(factor: 32, lowFreqFactor: 1, highFreqFactor: 4, originalMaxSeq: 8192),
        .llama3(factor: 4, lowFreqFactor: 2, highFreqFactor: 8, originalMaxSeq: 256),
        .linear(factor: 2.5),
    ])
    func scalingRoundTripsThroughConfigJSON(scaling: RopeScaling) throws {
        for family in ["llama", "neox"] {
            let model = ModelConfig(family: family, layers: 1, hidden: 64, heads: 4, ffn: 40, vocab: 10, maxSeq: 65536, ropeScaling: scaling)
            let text = try HFConfig(model: model).jsonText()
            let back = try HFConfig(json: Array(text.utf8), path: "config.json")
            #expect(back.model == model, "\(family)")
            #expect(back.assumed.isEmpty)
            // Each spelling alone carries it too.
            for drop in ["rope_scaling", "rope_parameters"] {
                var o = try #require(try JSONValue.parse(Array(text.utf8)).objectValue)
                var kept = JSONObject()
                for (k, v) in o.members where k != drop { kept.insert(k, v) }
                o = kept
                #expect(try HFConfig(json: Array(JSONText.compact(.object(o)).utf8), path: "config.json").model == model, "\(family) without \(drop)")
            }
        }
    }

    static let base = #"""
        {"model_type": "llama", "hidden_size": 64, "num_attention_heads": 4, "num_hidden_layers": 1, "intermediate_size": 128,
         "vocab_size": 100, "max_position_embeddings": 131072, "rope_theta": 500000.0}
        """#

    func map(_ members: String) throws(ContainerError) -> HFConfig {
        let text = Self.base.replacingOccurrences(of: #""rope_theta": 500000.0}"#, with: #""rope_theta": 500000.0, "# + members + "}")
        return try HFConfig(json: Array(text.utf8), path: "config.json")
    }

    static let llama3 = #""factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0, "original_max_position_embeddings": 8192"#

    @Test func aMissingOriginalLengthIsTheContextLengthAsTransformers5Assumes() throws {
        let c = try map(#""rope_parameters": {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0}"#)
        #expect(c.model.ropeScaling == .llama3(factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxSeq: 131072))
        #expect(c.assumed.contains("original_max_position_embeddings=131072"))
    }

    @Test func bothTypeSpellingsAgreeing() throws {
        let c = try map(#""rope_scaling": {"type": "linear", "rope_type": "linear", "factor": 2}"#)
        #expect(c.model.ropeScaling == .linear(factor: 2))
    }

    static let llama3Object = #""rope_type": "llama3", "# + llama3
    static let twoFactors =
        #""rope_parameters": {"# + llama3Object
        + #"}, "rope_scaling": {"rope_type": "llama3", "factor": 32.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0, "original_max_position_embeddings": 8192}"#
    static let defaultAndLlama3 = #""rope_parameters": {"rope_type": "default"}, "rope_scaling": {"# + llama3Object + "}"
    static let otherTheta = #""rope_parameters": {"rope_theta": 10000.0, "# + llama3Object + "}"
    static let extraMember = #""rope_scaling": {"attention_factor": 1.0, "# + llama3Object + "}"

    static let refusalCases: [(String, ContainerError)] = [
        (
            #""rope_scaling": {"rope_type": "yarn", "factor": 4.0, "original_max_position_embeddings": 4096}"#,
            ContainerError.unsupported(path: "config.json", detail: "rope_scaling.rope_type \"yarn\": ckpt computes default, llama3 and linear RoPE only")
        ),
        (
            #""rope_scaling": {"type": "dynamic", "factor": 2.0}"#,
            .unsupported(path: "config.json", detail: "rope_scaling.rope_type \"dynamic\": ckpt computes default, llama3 and linear RoPE only")
        ),
        (
            #""rope_parameters": {"rope_type": "longrope", "rope_theta": 500000.0}"#,
            .unsupported(path: "config.json", detail: "rope_parameters.rope_type \"longrope\": ckpt computes default, llama3 and linear RoPE only")
        ),
        (
            #""rope_scaling": {"type": "linear", "rope_type": "llama3", "factor": 2.0}"#,
            .malformed(path: "config.json", detail: "rope_scaling.type \"linear\" contradicts rope_scaling.rope_type \"llama3\"")
        ),
        (
            twoFactors,
            .malformed(
                path: "config.json",
                detail:
                    "rope_scaling llama3 (factor 32.0, low_freq_factor 1.0, high_freq_factor 4.0, original_max_seq 8192) contradicts rope_parameters llama3 (factor 8.0, low_freq_factor 1.0, high_freq_factor 4.0, original_max_seq 8192)"
            )
        ),
        (
            defaultAndLlama3,
            .malformed(
                path: "config.json",
                detail: "rope_scaling llama3 (factor 8.0, low_freq_factor 1.0, high_freq_factor 4.0, original_max_seq 8192) contradicts rope_parameters default"
            )
        ),
        (
            otherTheta,
            .malformed(path: "config.json", detail: "rope_theta 500000.0 contradicts rope_parameters.rope_theta 10000.0")
        ),
        (
            #""rope_scaling": {"rope_type": "linear"}"#,
            .malformed(path: "config.json", detail: "rope_scaling.factor: missing (rope_type linear needs factor)")
        ),
        (
            #""rope_scaling": {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "original_max_position_embeddings": 8192}"#,
            .malformed(
                path: "config.json",
                detail:
                    "rope_scaling.high_freq_factor: missing (rope_type llama3 needs factor, low_freq_factor, high_freq_factor, original_max_position_embeddings)"
            )
        ),
        (
            #""rope_scaling": {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 4.0, "high_freq_factor": 1.0, "original_max_position_embeddings": 8192}"#,
            .malformed(
                path: "config.json",
                detail: "rope_scaling.high_freq_factor: 1.0 must exceed low_freq_factor 4.0 (the llama3 bands would be empty or reversed)")
        ),
        (
            #""rope_scaling": {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0, "original_max_position_embeddings": 8192.5}"#,
            .malformed(path: "config.json", detail: "rope_scaling.original_max_position_embeddings: expected a positive integer, found the number 8192.5")
        ),
        (
            #""rope_scaling": {"rope_type": "linear", "factor": "2"}"#,
            .malformed(path: "config.json", detail: "rope_scaling.factor: expected a positive number, found the string \"2\"")
        ),
        (
            extraMember,
            .unsupported(path: "config.json", detail: "rope_scaling.attention_factor: not a member of rope_type llama3 that ckpt maps")
        ),
        (
            #""rope_scaling": {"rope_type": "linear", "factor": 2.0, "low_freq_factor": 1.0}"#,
            .unsupported(path: "config.json", detail: "rope_scaling.low_freq_factor: not a member of rope_type linear that ckpt maps")
        ),
        (
            #""rope_scaling": {"factor": 2.0}"#,
            .unsupported(path: "config.json", detail: "rope_scaling: no rope_type (or type); ckpt cannot tell which scaling it means")
        ),
        (
            #""rope_scaling": [8.0]"#,
            .malformed(path: "config.json", detail: "rope_scaling: expected an object or null, found an array")
        ),
        (
            #""original_max_position_embeddings": 8192"#,
            .unsupported(
                path: "config.json",
                detail: "member \"original_max_position_embeddings\" is not one ckpt maps for llama; it may change the tensors or the math")
        ),
    ]

    @Test(arguments: refusalCases)
    func refusals(members: String, error: ContainerError) {
        #expect(throws: error) { try map(members) }
    }

    /// fuzz-hf-json found a member name with line breaks inside `rope_parameters` printed raw,
    /// breaking the one-line error (its input is in tools/fuzz/corpus/hf-json/3cd0317d...).
    @Test func aHostileMemberNameStaysOnOneLine() throws {
        let text =
            #"{"model_type": "llama", "hidden_size": 32, "num_attention_heads": 4, "num_hidden_layers": 2, "intermediate_size": 48, "vocab_size": 101, "max_position_embeddings": 64, "rope_parameters": {"rope_theta": 20000.0, "rope_\n\n\type": "default"}}"#
        do {
            _ = try HFConfig(json: Array(text.utf8), path: "config.json")
            Issue.record("accepted")
        } catch {
            #expect(!error.description.contains("\n"), "\(error.description)")
            #expect(error.description.contains("rope_parameters.\"rope_"), "\(error.description)")
        }
    }
}
