import CheckpointStore
import Containers
import Foundation
import Testing

@testable import Sharding

/// The job config is read strictly: what ckpt's model would compute differently, or cannot
/// know, is one line naming the member and the file, never a default.
@Suite struct TorchtitanJobConfigTests {
    private typealias Doc = [String: Any]

    /// Applies `change` to the model dict.
    private static func model(_ change: @escaping (inout Doc) -> Void) -> (inout Doc) -> Void {
        { doc in
            var spec = doc["model_spec"] as! Doc
            var model = spec["model"] as! Doc
            change(&model)
            spec["model"] = model
            doc["model_spec"] = spec
        }
    }

    /// Applies `change` to the first layer's dict.
    private static func layer(_ change: @escaping (inout Doc) -> Void) -> (inout Doc) -> Void {
        model { m in
            var layers = m["layers"] as! [Doc]
            change(&layers[0])
            m["layers"] = layers
        }
    }

    private static func attention(_ change: @escaping (inout Doc) -> Void) -> (inout Doc) -> Void {
        layer { l in
            var a = l["attention"] as! Doc
            change(&a)
            l["attention"] = a
        }
    }

    private func error(_ edit: @escaping (inout Doc) -> Void) -> String? {
        do {
            _ = try TorchtitanJobConfig(json: TitanStores.jobJSON(edit: edit), path: "run/job_config.json")
            return nil
        } catch {
            return error.description
        }
    }

    @Test func theTestConfigMaps() throws {
        let c = try TitanStores.job().model
        #expect(
            c
                == ModelConfig(
                    family: "llama", layers: 2, hidden: 32, heads: 4, kvHeads: 2, ffn: 48, vocab: 40, maxSeq: 64, normEps: 1e-6, tieEmbeddings: false,
                    ropeTheta: 500000, bias: false))
    }

    /// Each refusal: how the config is changed and what the message says.
    private static func refusal(_ what: String) -> ((inout Doc) -> Void, String) {
        switch what {
        case "rope scaling":
            return (
                attention { a in
                    var r = a["rope"] as! Doc; r["scaling"] = "yarn"; a["rope"] = r
                },
                "model_spec.model.layers[0].attention.rope.scaling: \"yarn\" frequency scaling is not one ckpt computes"
            )
        case "no model_spec": return ({ $0["model_spec"] = nil }, "model_spec: missing")
        case "another model":
            return (
                { d in
                    var s = d["model_spec"] as! Doc; s["name"] = "qwen3"; d["model_spec"] = s
                }, "model_spec.name \"qwen3\""
            )
        case "no n_heads": return (attention { $0["n_heads"] = nil }, "attention.n_heads: missing (ckpt needs it for the number of attention heads)")
        case "heads not dividing": return (attention { $0["n_heads"] = 5 }, "attention.n_heads: 5 does not divide dim 32")
        case "head_dim": return (attention { $0["head_dim"] = 16 }, "attention.head_dim: 16 is not dim / n_heads = 8")
        case "qk norm": return (attention { $0["qk_norm"] = ["eps": 1e-6] }, "attention.qk_norm: QK norms")
        case "moe": return (layer { l in l["moe"] = ["num_experts": 8] }, "layers[0].moe: MoE blocks")
        case "bias":
            return (
                model { m in
                    var h = m["lm_head"] as! Doc; h["bias"] = true; m["lm_head"] = h
                }, "lm_head.bias: biases"
            )
        case "eps":
            return (
                model { m in
                    var n = m["norm"] as! Doc; n["eps"] = 1e-5; m["norm"] = n
                }, "norm epsilons [1e-06, 1e-06, 1e-05] differ"
            )
        case "one layer differs":
            return (
                model { m in
                    var layers = m["layers"] as! [Doc]
                    var ff = layers[1]["feed_forward"] as! Doc
                    var w1 = ff["w1"] as! Doc
                    w1["out_features"] = 64
                    ff["w1"] = w1
                    layers[1]["feed_forward"] = ff
                    m["layers"] = layers
                },
                "layers[1]: differs from layers[0] (n_heads 4, n_kv_heads 2, ffn 64, rope theta 500000.0, max_seq_len 64, eps [1e-06, 1e-06] vs n_heads 4, n_kv_heads 2, ffn 48"
            )
        case "kv heads contradict":
            return (attention { $0["n_kv_heads"] = 4 }, "attention.qkv_linear.n_kv_heads: 2 contradicts the attention's n_kv_heads 4")
        case "no layers": return (model { m in m["layers"] = [Doc]() }, "layers: no transformer blocks")
        default:
            return (
                attention { a in
                    var r = a["rope"] as! Doc; r["theta"] = "big"; a["rope"] = r
                }, "rope.theta: expected a number, found \"big\""
            )
        }
    }

    @Test(arguments: [
        "rope scaling", "no model_spec", "another model", "no n_heads", "heads not dividing", "head_dim", "qk norm", "moe", "bias", "eps",
        "one layer differs", "no layers", "theta", "kv heads contradict",
    ])
    func refusals(what: String) {
        let (edit, message) = Self.refusal(what)
        let line = error(edit)
        #expect(line?.hasPrefix("run/job_config.json: ") == true, "\(what): \(line ?? "accepted")")
        #expect(line?.contains(message) == true && line?.contains("\n") == false, "\(what): \(line ?? "accepted")")
    }

    @Test func notJSONAndNotAnObject() {
        for text in ["", "{", "[1, 2]", "{\"model_spec\": 3}"] {
            do {
                _ = try TorchtitanJobConfig(json: Array(text.utf8), path: "j.json")
                Issue.record("accepted \(text)")
            } catch {
                #expect(error.description.hasPrefix("j.json: ") && !error.description.contains("\n"), "\(error.description)")
            }
        }
    }
}
