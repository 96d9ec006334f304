import CheckpointStore
import Containers
import Foundation
import Testing

@testable import Sharding

/// A layout table's `requires` and `refused_families` are data: the bundled tables refuse what
/// their targets cannot express, naming the reason, and changing the data changes the verdict.
@Suite struct LayoutRequirementTests {
    func refusal(_ config: ModelConfig, _ layout: CheckpointLayout, _ interpreter: LayoutInterpreter? = nil) -> ShardingError? {
        do throws(ShardingError) {
            let i: LayoutInterpreter
            if let interpreter { i = interpreter } else { i = try LayoutInterpreter() }
            _ = try i.map(config, layout)
            return nil
        } catch {
            return error
        }
    }

    @Test func neoxWithoutAnHFFormIsRefusedByTheTable() {
        var gqa = TinyModels.neox
        gqa.kvHeads = 2
        #expect(
            refusal(gqa, .hf)
                == .cannotExpress(
                    layout: "hf", family: "neox",
                    reason:
                        "kv_heads 2 (needs heads 4): GPTNeoXAttention fuses query_key_value per head ([heads, 3, head_dim]): it has no grouped-query attention"
                ))
        var noBias = TinyModels.neox
        noBias.bias = false
        guard case .cannotExpress(_, _, let r)? = refusal(noBias, .hf) else {
            Issue.record("a neox model without biases was accepted")
            return
        }
        #expect(r.hasPrefix("bias false (needs true): "))
        #expect(refusal(TinyModels.neox, .hf) == nil)
    }

    @Test func refusedFamilyGivesTheReasonNotMerelyNoRules() throws {
        let e = try #require(refusal(TinyModels.neox, CheckpointLayout(kind: .cerebras)))
        guard case .cannotExpress(let l, let f, let r) = e else {
            Issue.record("\(e)")
            return
        }
        #expect(l == "cerebras" && f == "neox" && r.contains("gpt_neox_hf_cs.py"))
        #expect(e.description.hasPrefix("the cerebras layout cannot express this neox model: "))
    }

    @Test func requirementsComeFromTheData() throws {
        let bundled = try LayoutCatalog.bundled()
        var parallel = TinyModels.llama
        parallel.residual = "parallel"
        let layout = CheckpointLayout.megatron(MegatronShape(tp: 2, pp: 1))
        #expect(refusal(parallel, layout) != nil)
        // Without the requirement in the data the same model maps.
        var doc = try #require(bundled.documents["megatron"])
        doc.families["llama"]?.requires = nil
        #expect(refusal(parallel, layout, LayoutInterpreter(catalog: LayoutCatalog(documents: [doc]))) == nil)
        // A requirement on a key model_config does not have is bad data, named.
        doc.families["llama"]?.requires = [LayoutRequirement(field: "residul", equals: .string("sequential"), reason: "typo")]
        #expect(
            refusal(TinyModels.llama, layout, LayoutInterpreter(catalog: LayoutCatalog(documents: [doc])))
                == .badLayoutData(source: "megatron layout, family llama", detail: "requirement on 'residul', which is not a model_config key"))
        doc.families["llama"]?.requires = [LayoutRequirement(field: "residual", reason: "nothing to compare with")]
        #expect(refusal(TinyModels.llama, layout, LayoutInterpreter(catalog: LayoutCatalog(documents: [doc]))) != nil)
        // Removing a family leaves "no rules".
        doc.families["neox"] = nil
        let e = refusal(TinyModels.neox, layout, LayoutInterpreter(catalog: LayoutCatalog(documents: [doc])))
        #expect(e == .unknownFamily(family: "neox", layout: "megatron", known: ["gpt2", "llama"]))
    }

    @Test func requirementsDecodeFromJSON() throws {
        let json =
            #"[{"field": "rotary_pct", "equals": 1, "reason": "a"}, {"field": "bias", "equals": true, "reason": "b"}, {"field": "kv_heads", "equals_field": "heads", "reason": "c"}]"#
        let r = try JSONDecoder().decode([LayoutRequirement].self, from: Data(json.utf8))
        #expect(r[0].equals == .number(1) && r[1].equals == .bool(true) && r[2].equalsField == "heads" && r[2].equals == nil)
        #expect(LayoutRequirement.value(of: "rotary_pct", in: TinyModels.neox) == .number(0.25))
        #expect(LayoutRequirement.value(of: "tie_embeddings", in: TinyModels.neox) == .bool(false))
        #expect(LayoutRequirement.value(of: "family", in: TinyModels.neox) == .string("neox"))
    }

    /// A dotted field names a member of `rope_scaling`: met by a model without scaling, checked
    /// against one with it, and a member that does not exist is bad data.
    @Test func dottedRequirementsOnRopeScaling() throws {
        let layout = CheckpointLayout.megatron(MegatronShape(tp: 2, pp: 1))
        var scaled = TinyModels.llama
        scaled.maxSeq = 4096
        scaled.ropeScaling = .llama3(factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxSeq: 8192)
        #expect(refusal(scaled, layout) == nil)
        #expect(refusal(TinyModels.llama, layout) == nil)
        scaled.ropeScaling?.highFreqFactor = 2
        guard case .cannotExpress(_, _, let r)? = refusal(scaled, layout) else {
            Issue.record("high_freq_factor 2 accepted")
            return
        }
        #expect(r.hasPrefix("rope_scaling.high_freq_factor 2 (needs 4): "))
        var doc = try #require(try LayoutCatalog.bundled().documents["megatron"])
        let kept = doc.families["llama"]?.requires?.filter { !$0.field.hasPrefix("rope_scaling.") }
        doc.families["llama"]?.requires = kept
        #expect(refusal(scaled, layout, LayoutInterpreter(catalog: LayoutCatalog(documents: [doc]))) == nil)
        doc.families["llama"]?.requires = [LayoutRequirement(field: "rope_scaling.low_freq_facter", equals: .number(1), reason: "typo")]
        #expect(
            refusal(TinyModels.llama, layout, LayoutInterpreter(catalog: LayoutCatalog(documents: [doc])))
                == .badLayoutData(
                    source: "megatron layout, family llama", detail: "requirement on 'rope_scaling.low_freq_facter', which is not a model_config key"))
        #expect(LayoutRequirement.value(of: "rope_scaling.original_max_seq", in: scaled) == .number(8192))
        #expect(LayoutRequirement.value(of: "rope_scaling.type", in: TinyModels.llama) == nil)
    }
}
