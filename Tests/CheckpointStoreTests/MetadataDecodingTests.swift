import Foundation
import Testing

@testable import CheckpointStore

/// Item 10 of issue 9: null optional metadata is "not recorded", and JSON errors read as plain
/// words naming the key.
@Suite struct MetadataDecodingTests {
    @Test func nullOptionalMetadataReadsAsAbsent() throws {
        let dir = makeTempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let p = dir + "/n.h5"
        try BadFiles.writeCheckpoint(p)
        for name in ["model_config", "optimizer", "user_metadata", "layout"] { BadFiles.setRootString(p, name, " null ") }
        let r = try CheckpointReader(path: p)
        #expect(r.metadata.modelConfig == nil)
        #expect(r.metadata.optimizer == nil)
        #expect(r.metadata.userJSON == nil)
        #expect(r.metadata.layoutKind == "wafer")
        #expect(try r.readFloats(.model("w")).count == 512)
    }

    static let cases: [(String, String, String)] = [
        ("model_config", #"{"family":"gpt2","hidden":8,"heads":2,"vocab":16,"max_seq":4}"#, "model_config: key 'layers' is missing"),
        (
            "model_config", #"{"family":"gpt2","layers":"12","hidden":8,"heads":2,"vocab":16,"max_seq":4}"#,
            "model_config.layers: expected an integer, found a string"
        ),
        (
            "model_config", #"{"family":"gpt2","layers":null,"hidden":8,"heads":2,"vocab":16,"max_seq":4}"#,
            "model_config.layers: expected an integer, found null"
        ),
        (
            "model_config", #"{"family":"gpt2","layers":2,"hidden":8,"heads":2,"vocab":16,"max_seq":4,"bias":"yes"}"#,
            "model_config.bias: expected true or false, found a string"
        ),
        ("model_config", "[1, 2]", "model_config: expected an object, found an array"),
        ("model_config", "{bad", "model_config: not valid JSON"),
        (
            "optimizer", #"{"variant":"torch","lr":"0.1","beta1":0.9,"beta2":0.95,"eps":1e-8,"weight_decay":0.1,"grad_clip":1,"decay":"all"}"#,
            "optimizer.lr: expected a number, found a string"
        ),
    ]

    @Test func decodingErrorsNameTheKeyInPlainWords() throws {
        for (what, json, expected) in Self.cases {
            do {
                if what == "optimizer" {
                    _ = try MetadataJSON.decode(OptimizerConfig.self, json, path: "x.h5", what: what)
                } else {
                    _ = try MetadataJSON.decode(ModelConfig.self, json, path: "x.h5", what: what)
                }
                Issue.record("\(json) decoded")
            } catch {
                #expect(error == .badMetadata(path: "x.h5", detail: expected))
                Self.expectNoTypeNames(error.description)
            }
        }
        // A fraction where an integer belongs.
        do {
            _ = try MetadataJSON.decode(
                ModelConfig.self, #"{"family":"gpt2","layers":2.5,"hidden":8,"heads":2,"vocab":16,"max_seq":4}"#, path: "x.h5",
                what: "model_config")
            Issue.record("2.5 layers decoded")
        } catch {
            #expect(error.description.contains("model_config: a value does not fit its key"))
            Self.expectNoTypeNames(error.description)
        }
    }

    @Test func onlyTheFormatV1FamiliesMayLeaveKeysOut() throws {
        // gpt2 and llama documents of format v1.0 writers: the sizes suffice.
        let gpt2 = try MetadataJSON.decode(
            ModelConfig.self, #"{"family":"gpt2","layers":2,"hidden":8,"heads":2,"vocab":16,"max_seq":4}"#, path: "x.h5", what: "model_config")
        #expect(gpt2.residual == "sequential" && gpt2.rotaryPct == 1 && gpt2.position == "learned" && gpt2.ffn == 32)
        let llama = try MetadataJSON.decode(
            ModelConfig.self, #"{"family":"llama","layers":2,"hidden":8,"heads":2,"vocab":16,"max_seq":4,"kv_heads":1}"#, path: "x.h5",
            what: "model_config")
        #expect(llama.norm == "rmsnorm" && llama.activation == "swiglu" && llama.residual == "sequential" && llama.rotaryPct == 1)
        // neox (and any later family) needs every key; the error names the first missing one.
        let full = try #require(ModelConfig.preset(family: "neox", name: "tiny"))
        let object = try #require(try JSONSerialization.jsonObject(with: JSONEncoder().encode(full)) as? [String: Any])
        for key in ["rotary_pct", "residual", "norm_eps", "rope_theta", "bias", "kv_heads", "ffn", "activation"] {
            var partial = object
            partial[key] = nil
            let json = String(decoding: try JSONSerialization.data(withJSONObject: partial), as: UTF8.self)
            #expect(throws: StoreError.badMetadata(path: "x.h5", detail: "model_config: key '\(key)' is missing")) {
                try MetadataJSON.decode(ModelConfig.self, json, path: "x.h5", what: "model_config")
            }
        }
        let json = String(decoding: try JSONSerialization.data(withJSONObject: object), as: UTF8.self)
        #expect(try MetadataJSON.decode(ModelConfig.self, json, path: "x.h5", what: "model_config") == full)
    }

    @Test func readerReportsBadModelConfigWithoutTypeNames() throws {
        let dir = makeTempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let p = dir + "/b.h5"
        try BadFiles.writeCheckpoint(p)
        BadFiles.setRootString(p, "model_config", #"{"family": "gpt2", "layers": "one"}"#)
        #expect(throws: StoreError.badMetadata(path: p, detail: "model_config.layers: expected an integer, found a string")) {
            try CheckpointReader(path: p)
        }
    }

    @Test func foundationErrorsArePlain() {
        let dir = makeTempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        _ = FileManager.default.createFile(atPath: dir + "/file", contents: Data())
        do {
            try FileManager.default.createDirectory(atPath: dir + "/file/sub", withIntermediateDirectories: true)
            Issue.record("created a directory below a file")
        } catch {
            let m = PlainErrorMessage.describe(error)
            #expect(!m.isEmpty)
            Self.expectNoTypeNames(m)
        }
        Self.expectNoTypeNames(PlainErrorMessage.describe(POSIXError(.ENOSPC)))
        #expect(PlainErrorMessage.describe(StoreError.fileNotFound(path: "a.h5")) == "a.h5: no such file")
    }

    static func expectNoTypeNames(_ m: String) {
        for bad in ["DecodingError", "CodingKeys", "Swift.", "Error Domain", "NSCocoaErrorDomain", "CocoaError", "POSIXError", "Context("] {
            #expect(!m.contains(bad), "\(m)")
        }
    }
}
