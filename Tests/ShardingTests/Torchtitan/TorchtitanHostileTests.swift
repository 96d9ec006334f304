import CheckpointStore
import Containers
import Foundation
import Testing

@testable import Sharding

/// Checkpoints that do not fit their job config, or hold what ckpt cannot carry, fail with one
/// line naming the checkpoint and the tensor (or setting), before anything is written.
@Suite struct TorchtitanHostileTests {
    /// The error opening and viewing `store` under `job`, as one line.
    private func failure(_ store: InMemoryDistStore, _ job: TorchtitanJobConfig) -> String? {
        do {
            _ = try TitanStores.view(store, job: job)
            return nil
        } catch {
            return "\(error)"
        }
    }

    @Test func aCompleteStoreOpens() throws {
        let job = try TitanStores.job()
        let view = try TitanStores.view(TitanStores.store(), job: job)
        #expect(view.tensors.count == 3 * job.model.canonicalTensors().count)
        #expect(view.source.metadata.step == 3 && view.source.metadata.optimizer?.weightDecay == 0.1)
    }

    @Test(arguments: [
        ("layers.1.attention.qkv_linear.wk.weight", "missing tensor layers.1.attention.qkv_linear.wk.weight"),
        ("optimizer.state.layers.0.feed_forward.w1.weight.exp_avg_sq", "missing tensor optimizer.state.layers.0.feed_forward.w1.weight.exp_avg_sq"),
        (
            "optimizer.state.layers.1.attention.qkv_linear.wqkv.weight.exp_avg",
            "missing tensor optimizer.state.layers.1.attention.qkv_linear.wqkv.weight.exp_avg"
        ),
        ("optimizer.state.norm.weight.step", "missing tensor optimizer.state.norm.weight.step"),
    ])
    func aMissingEntryIsNamed(drop: String, message: String) throws {
        let line = try #require(failure(TitanStores.store(drop: [drop]), try TitanStores.job()))
        #expect(line.hasPrefix("mem/step-3: ") && line.contains(message) && !line.contains("\n"), "\(line)")
    }

    @Test func aConfigThatDoesNotFitTheTensorsIsAShapeError() throws {
        var s = TitanStores.Shape()
        s.kvHeads = 1
        let line = try #require(failure(TitanStores.store(), try TitanStores.job(s)))
        #expect(line.contains("layers.0.attention.qkv_linear.wk.weight") || line.contains("wqkv"), "\(line)")
        #expect(line.contains("shape") && !line.contains("\n"), "\(line)")
        var v = TitanStores.Shape()
        v.vocab = 41
        let vocab = try #require(failure(TitanStores.store(), try TitanStores.job(v)))
        #expect(vocab.contains("tok_embeddings.weight has local shape [40, 32], layout requires [41, 32]"), "\(vocab)")
    }

    @Test func aFusedMomentOfTheWrongShapeIsNamed() throws {
        let fqn = "optimizer.state.layers.0.attention.qkv_linear.wqkv.weight.exp_avg"
        let bad = DistTensorEntry(fqn: fqn, dtype: .float32, shape: [56, 32])
        let store = TitanStores.store(drop: [fqn], extra: [(bad, Encoded.float32(56 * 32))])
        let line = try #require(failure(store, try TitanStores.job()))
        #expect(line.contains(fqn + " has local shape [56, 32], layout requires [64, 32]"), "\(line)")
    }

    @Test func optimizerStateCkptCannotCarryIsRefused() throws {
        let amsgrad = DistTensorEntry(fqn: "optimizer.state.norm.weight.max_exp_avg_sq", dtype: .float32, shape: [32])
        let line = try #require(failure(TitanStores.store(extra: [(amsgrad, Encoded.float32(32))]), try TitanStores.job()))
        #expect(line.contains("optimizer state 'max_exp_avg_sq' of norm.weight") && !line.contains("\n"), "\(line)")
        let nested = DistTensorEntry(fqn: "optimizer.preconditioners.0", dtype: .float32, shape: [2])
        let other = try #require(failure(TitanStores.store(extra: [(nested, Encoded.float32(2))]), try TitanStores.job()))
        #expect(other.contains("optimizer.preconditioners.0: not optimizer.state.<parameter>.<state>"), "\(other)")
    }

    @Test func stepsThatDisagreeAreRefused() throws {
        let fqn = "optimizer.state.norm.weight.step"
        let four = DistTensorEntry(fqn: fqn, dtype: .float32, shape: [])
        let store = TitanStores.store(drop: [fqn], extra: [(four, withUnsafeBytes(of: Float(4).bitPattern.littleEndian) { Array($0) })])
        let line = try #require(failure(store, try TitanStores.job()))
        #expect(line.contains("Adam step") && line.contains("differs") && !line.contains("\n"), "\(line)")
    }

    @Test(arguments: [
        ("optimizer.param_groups.norm.weight.lr", PickleValue.float(2e-3), "different lr/betas/eps"),
        ("optimizer.param_groups.norm.weight.amsgrad", .bool(true), "amsgrad=True"),
        ("optimizer.param_groups.norm.weight.weight_decay", .float(0.05), "weight decay"),
        ("optimizer.param_groups.norm.weight.betas", .string("x"), "betas is not a pair of numbers"),
    ])
    func paramGroupsCkptCannotHoldAreRefused(item: String, value: PickleValue, message: String) throws {
        let line = try #require(failure(TitanStores.store(objects: [item: value]), try TitanStores.job()))
        #expect(line.contains(message) && !line.contains("\n"), "\(line)")
    }

    @Test func weightDecayOnMatricesOnlyAndL2AdamAreTold() throws {
        var objects: [String: PickleValue] = [:]
        for n in ["norm.weight", "layers.0.attention_norm.weight", "layers.0.ffn_norm.weight", "layers.1.attention_norm.weight", "layers.1.ffn_norm.weight"] {
            objects["optimizer.param_groups.\(n).weight_decay"] = .float(0)
        }
        let view = try TitanStores.view(TitanStores.store(objects: objects), job: try TitanStores.job())
        #expect(view.source.metadata.optimizer?.decay == "matrices" && view.source.metadata.optimizer?.weightDecay == 0.1)
        var l2: [String: PickleValue] = [:]
        for (n, _) in TitanStores.parameters(TitanStores.Shape(), fused: true) { l2["optimizer.param_groups.\(n).decoupled_weight_decay"] = .bool(false) }
        let line = try #require(failure(TitanStores.store(objects: l2), try TitanStores.job()))
        #expect(line.contains("Adam with L2 weight decay"), "\(line)")
    }

    @Test func aTensorTheLayoutDoesNotHaveIsNamed() throws {
        let qNorm = DistTensorEntry(fqn: "layers.0.attention.q_norm.weight", dtype: .float32, shape: [8])
        let line = try #require(failure(TitanStores.store(extra: [(qNorm, Encoded.float32(8))]), try TitanStores.job()))
        #expect(line.contains("tensor layers.0.attention.q_norm.weight is not part of the layout"), "\(line)")
    }

    @Test func aTiedHeadIsTheEmbeddingAndCarriesNoStateOfItsOwn() throws {
        let job = try TitanStores.job { doc in
            var spec = doc["model_spec"] as! [String: Any]
            var model = spec["model"] as! [String: Any]
            model["enable_weight_tying"] = true
            spec["model"] = model
            doc["model_spec"] = spec
        }
        #expect(job.model.tieEmbeddings)
        let store = TitanStores.store(tied: true)
        let view = try TitanStores.view(store, job: job)
        #expect(!view.tensors.contains { $0.key.name == "lm_head.weight" })
        #expect(try view.readAll(.model("embed.tokens.weight")) == (try store.readAll("tok_embeddings.weight")))
        #expect(try view.readAll(.optimizer("exp_avg", "embed.tokens.weight")) == (try store.readAll("optimizer.state.tok_embeddings.weight.exp_avg")))
    }

    @Test func aModelOnlyCheckpointTakesTheTrainerStep() throws {
        var drop = Set<String>()
        for (n, _) in TitanStores.parameters(TitanStores.Shape(), fused: true) {
            drop.formUnion(["optimizer.state.\(n).step", "optimizer.state.\(n).exp_avg", "optimizer.state.\(n).exp_avg_sq"])
        }
        let (c, m) = try TorchtitanCheckpoint.open(store: TitanStores.store(drop: drop), job: try TitanStores.job())
        #expect(c.tensors.allSatisfy(\.key.isModel) && m.step == 3)
    }
}
