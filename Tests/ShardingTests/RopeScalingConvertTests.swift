import CheckpointStore
import Containers
import Foundation
import Testing

@testable import Sharding

/// `model_config.rope_scaling` through every target and back: each writes it in its own
/// spelling (config.json `rope_parameters` / `rope_scaling`, Megatron args `use_rope_scaling` /
/// `rope_scaling_factor`, Model Zoo `pos_scaling_*`), each source reads it back, and a target
/// that cannot express a scaling refuses it before any work, naming the value.
@Suite struct RopeScalingConvertTests {
    let io = InteropConvertTests()

    static let llama31 = RopeScaling.llama3(factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxSeq: 8192)
    static let llama32 = RopeScaling.llama3(factor: 32, lowFreqFactor: 1, highFreqFactor: 4, originalMaxSeq: 8192)
    static let narrow = RopeScaling.llama3(factor: 4, lowFreqFactor: 2, highFreqFactor: 8, originalMaxSeq: 256)

    static func model(_ s: RopeScaling?) -> ModelConfig {
        var m = TinyModels.llama
        m.ropeTheta = 500000
        m.maxSeq = 131072
        m.ropeScaling = s
        return m
    }

    /// The targets, with the container and the layout.
    static let targets: [(String, CheckpointLayout, String?)] = [
        ("hf", .hf, nil), ("megatron", .megatron(MegatronShape(tp: 2, pp: 2)), nil),
        ("megatron-torch", .megatron(MegatronShape(tp: 2, pp: 2)), MegatronTorchFormats.containerFormat),
        ("megatron-dist", .megatron(MegatronShape(tp: 2, pp: 1)), MegatronDistFormats.containerFormat),
        ("cerebras", CheckpointLayout(kind: .cerebras), nil),
    ]

    @Test(arguments: ["hf", "megatron", "megatron-torch", "megatron-dist", "cerebras"])
    func everyTargetKeepsTheScaling(target: String) throws {
        let (_, layout, container) = try #require(Self.targets.first { $0.0 == target })
        let scalings: [RopeScaling] = target.hasPrefix("megatron") ? [Self.llama31, Self.llama32] : [Self.llama31, Self.narrow, .linear(factor: 4)]
        for s in scalings {
            let dir = try Fixtures.tempDirectory()
            defer { try? FileManager.default.removeItem(atPath: dir) }
            let config = Self.model(s)
            try Fixtures.writeWafer(config, dtype: .bfloat16, path: dir + "/w.h5")
            let out = dir + "/out" + (target == "cerebras" ? ".mdl" : "")
            let report = try io.convert(dir + "/w.h5", to: layout, container: container, out)
            let note = report.notes.first { $0.hasPrefix("args.rope_scaling_factor") }
            #expect((note != nil) == (target.hasPrefix("megatron-") && s.factor != 8), "\(target) \(s.summary): \(report.notes)")
            let read = try CheckpointSource(path: out, formats: .all(vocab: config.vocab)).config
            #expect(read.ropeScaling == s, "\(target) \(s.summary)")
            #expect(read == config, "\(target) \(s.summary)")
            _ = try io.convert(out, to: .wafer, dir + "/back.h5", vocab: config.vocab)
            #expect(try CheckpointReader(path: dir + "/back.h5").metadata.modelConfig?.ropeScaling == s, "\(target) \(s.summary)")
            try expectNativeSpelling(target, out, s)
        }
    }

    /// What each target's own readers see.
    private func expectNativeSpelling(_ target: String, _ out: String, _ s: RopeScaling) throws {
        switch target {
        case "hf":
            let o = try #require(try JSONValue.parse(SmallFile.read(out + "/config.json", maxBytes: 1 << 20)).objectValue)
            let p = try #require(o["rope_parameters"]?.objectValue)
            #expect(p["rope_type"]?.stringValue == s.type && p["factor"]?.doubleValue == s.factor)
            #expect(p["original_max_position_embeddings"]?.intValue == s.originalMaxSeq)
            #expect(o["rope_scaling"]?.objectValue?["rope_type"]?.stringValue == s.type)
        case "megatron-torch":
            let args = try MegatronTorchDirectory(path: out).args
            #expect(args.value("use_rope_scaling") == .bool(true) && args.value("rope_scaling_factor") == .float(s.factor ?? 0))
        case "megatron-dist":
            let common = try TorchArchive(path: out + "/iter_0001234/common.pt").root
            #expect(common["args"]?["use_rope_scaling"] == .bool(true), "\(String(describing: common["args"]?["use_rope_scaling"]))")
            #expect(common["args"]?["rope_scaling_factor"] == .float(s.factor ?? 0))
        case "cerebras":
            let f = try CerebrasMDLFile(path: out)
            let (p, _) = try #require(CerebrasModelParams.read(f))
            #expect(p["pos_scaling_type"] == .string(s.type) && p["pos_scaling_factor"]?.doubleValue == s.factor)
            #expect(p["pos_scaling_extra_args.original_max_position_embeddings"]?.intValue == s.originalMaxSeq)
            #expect(p["pos_scaling_extra_args.low_freq_factor"]?.doubleValue == s.lowFreqFactor)
        default:
            break
        }
    }

    @Test func megatronRefusesWhatMegatronCoreCannotComputeNamingTheValue() throws {
        let dir = try Fixtures.tempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for (s, reason) in [
            (Self.narrow, "rope_scaling.low_freq_factor 2 (needs 1): megatron-core 0.16.1's RotaryEmbedding._apply_scaling fixes"),
            (.linear(factor: 4), "rope_scaling.type linear (needs llama3): megatron-core 0.16.1 scales RoPE only as Llama 3 does"),
            (
                .llama3(factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxSeq: 4096),
                "rope_scaling.original_max_seq 4096 (needs 8192): megatron-core 0.16.1's"
            ),
        ] as [(RopeScaling, String)] {
            let config = Self.model(s)
            try Fixtures.writeWafer(config, dtype: .bfloat16, path: dir + "/w.h5")
            for container in [MegatronTorchFormats.containerFormat, MegatronDistFormats.containerFormat] {
                do {
                    _ = try io.convert(dir + "/w.h5", to: .megatron(MegatronShape(tp: 2, pp: 1)), container: container, dir + "/m")
                    Issue.record("\(container) accepted \(s.summary)")
                } catch let e as ShardingError {
                    guard case .cannotExpress(_, _, let r) = e else {
                        Issue.record("\(e)")
                        continue
                    }
                    #expect(r.hasPrefix(reason), "\(r)")
                }
                #expect(!FileManager.default.fileExists(atPath: dir + "/m"))
            }
            try FileManager.default.removeItem(atPath: dir + "/w.h5")
        }
    }

    /// Megatron-LM's args: `use_rope_scaling` with or without `rope_scaling_factor` (its
    /// default 8), and the factor alone does nothing.
    @Test func megatronArgsReadTheFlagAndTheFactor() throws {
        let base = try InteropFixtures.args("megatron-llama-tp2pp2")
        func config(_ extra: [(String, PickleValue)]) throws -> ModelConfig {
            guard case .object(var o) = base, case .dict(var e) = o.state else { throw ContainerError.malformed(path: "a.pt", detail: "args") }
            for (k, v) in extra {
                e.removeAll { $0.key == .string(k) }
                e.append(PickleDictEntry(key: .string(k), value: v))
            }
            o.state = .dict(e)
            return try MegatronArgs(.object(o), path: "a.pt").modelConfig()
        }
        #expect(try config([]).ropeScaling == nil)
        #expect(try config([("use_rope_scaling", .bool(true))]).ropeScaling == Self.llama31)
        #expect(try config([("use_rope_scaling", .bool(true)), ("rope_scaling_factor", .float(32))]).ropeScaling == Self.llama32)
        #expect(try config([("use_rope_scaling", .bool(false)), ("rope_scaling_factor", .float(32))]).ropeScaling == nil)
        #expect(throws: ContainerError.self) { try config([("use_rope_scaling", .bool(true)), ("rope_scaling_factor", .float(0))]) }
    }

    @Test func cerebrasParamsAsModelZooSpellsThem() throws {
        // Model Zoo 2.10's params_llama3p2_1b_msl_8k.yaml (shapes shrunk): pos_scaling_* as it spells them.
        var p: [String: JSONValue] = [
            "name": .string("llama"), "hidden_size": .int(64), "num_heads": .int(4), "num_hidden_layers": .int(2), "filter_size": .int(96),
            "vocab_size": .int(50), "max_position_embeddings": .int(8192), "nonlinearity": .string("swiglu"), "norm_type": .string("rmsnorm"),
            "position_embedding_type": .string("rotary"), "rope_theta": .number("500000.0"), "rotary_dim": .int(16),
            "use_ffn_bias": .bool(false), "use_ffn_bias_in_attention": .bool(false), "use_projection_bias_in_attention": .bool(false),
            "share_embedding_weights": .bool(true), "pos_scaling_factor": .number("32.0"), "pos_scaling_type": .string("llama3"),
            "pos_scaling_extra_args.high_freq_factor": .number("4.0"), "pos_scaling_extra_args.low_freq_factor": .number("1.0"),
            "pos_scaling_extra_args.original_max_position_embeddings": .int(8192),
        ]
        func read() throws(ShardingError) -> RopeScaling? { try CerebrasModelParams.modelConfig(p, modelName: nil, path: "m.mdl").ropeScaling }
        #expect(try read() == Self.llama32)
        // Model Zoo's defaults for absent extra arguments, its case-insensitive type.
        p["pos_scaling_extra_args.high_freq_factor"] = nil
        p["pos_scaling_extra_args.original_max_position_embeddings"] = nil
        p["pos_scaling_type"] = .string("LLaMA3")
        #expect(try read() == Self.llama32)
        p["pos_scaling_type"] = .string("linear")
        #expect(try read() == .linear(factor: 32))
        p["pos_scaling_factor"] = .number("1.0")
        #expect(try read() == nil)
        p["pos_scaling_factor"] = nil
        p["pos_scaling_type"] = nil
        #expect(try read() == nil)
        for (k, v, message) in [
            ("pos_scaling_type", JSONValue.string("YaRN"), "pos_scaling_type yarn (ckpt computes linear and llama3 rotary scaling)"),
            ("pos_scaling_type", .string("longrope"), "pos_scaling_type longrope"),
            ("pos_scaling_factor", .number("-2"), "pos_scaling_factor -2 is not a positive number"),
        ] {
            var q = p
            q[k] = v
            q["pos_scaling_factor"] = q["pos_scaling_factor"] ?? .number("4.0")
            #expect(throws: ShardingError.self) { try CerebrasModelParams.modelConfig(q, modelName: nil, path: "m.mdl") }
            do {
                _ = try CerebrasModelParams.modelConfig(q, modelName: nil, path: "m.mdl")
            } catch {
                #expect(error.description.contains(message), "\(error)")
            }
        }
        var q = p
        q["pos_scaling_type"] = .string("llama3")
        q["pos_scaling_factor"] = .number("8.0")
        q["pos_scaling_extra_args.beta_fast"] = .int(32)
        #expect(throws: ShardingError.self) { try CerebrasModelParams.modelConfig(q, modelName: nil, path: "m.mdl") }
    }
}
