import CheckpointStore
import Foundation
import Testing

@testable import Containers

/// DCP checkpoints written by torch 2.13 from 2 gloo ranks (Tests/Fixtures/interop/dcp-*,
/// tools/make_dcp_fixtures.py): the metadata lists every chunk where torch put it, every tensor
/// reads back to the fingerprint of what the ranks held, zstd items decode, and bytes items
/// read by name.
@Suite(.enabled(if: DCPFixtures.available, "Tests/Fixtures/interop/dcp-* are not in this checkout"))
struct DCPFixtureTests {
    @Test(arguments: DCPFixtures.names)
    func metadataListsTheChunksTorchWrote(name: String) throws {
        let e = try DCPFixtures.expected(name)
        let md = try DCPMetadata.read(path: DCPFixtures.path(name) + "/.metadata")
        #expect(md.type == DCPMetadata.torchClass)
        #expect(md.version == e.version)
        #expect(Set(md.tensors.map(\.fqn)) == Set(e.tensors.keys))
        #expect(Set(md.bytesItems.map(\.fqn)) == Set(e.bytesItems.keys))
        #expect(md.storageMeta?.checkpointID == name)
        for t in md.tensors {
            let want = try #require(e.tensors[t.fqn])
            #expect(t.torchDType == want.dtype && t.shape == want.shape, "\(t.fqn)")
            let got = t.chunks.map {
                DCPFixtures.Chunk(
                    offsets: $0.box.offsets, sizes: $0.box.sizes, file: $0.storage.relativePath, offset: $0.storage.offset, length: $0.storage.length,
                    transforms: $0.storage.transforms)
            }
            let key = { (c: DCPFixtures.Chunk) in "\(c.offsets) \(c.sizes) \(c.file) \(c.offset) \(c.length) \(c.transforms)" }
            #expect(Set(got.map(key)) == Set(want.chunks.map(key)), "\(t.fqn)")
        }
        #expect(
            md.files.sorted() == (name == "dcp-zstd" ? ["__0_0.distcp", "__1_0.distcp"] : ["__0_0.distcp", "__0_1.distcp", "__1_0.distcp", "__1_1.distcp"]))
    }

    @Test(arguments: DCPFixtures.names)
    func everyTensorReadsToWhatTheRanksHeld(name: String) throws {
        let e = try DCPFixtures.expected(name)
        let c = try DCPCheckpoint(path: DCPFixtures.path(name))
        #expect(c.formatName == "dcp" && !c.verifiesChecksums && c.unsupported.isEmpty)
        #expect(c.tensors.count == e.tensors.count)
        for t in c.tensors {
            let want = try #require(e.tensors[t.key.name])
            #expect(t.dtype == DType(rawValue: want.dtype) && t.shape == want.shape)
            #expect(DCPFixtures.hex(try c.readAll(t.key)) == want.xxh3, "\(name): \(t.key.name)")
        }
        try c.checkItems()
    }

    @Test func chunksAreSplitTheWayTheMeshPlacedThem() throws {
        let md = try DCPMetadata.read(path: DCPFixtures.path("dcp-state-dict") + "/.metadata")
        // Shard(1) of the Conv1D [32, 96] weight: two column blocks, one per rank.
        let qkv = try #require(md.tensor(named: "transformer.h.0.attn.c_attn.weight"))
        #expect(Set(qkv.chunks.map(\.box)) == [TensorBox(offsets: [0, 0], sizes: [32, 48]), TensorBox(offsets: [0, 48], sizes: [32, 48])])
        // Shard(0) of the 101-row embedding: 51 + 50 rows.
        let wte = try #require(md.tensor(named: "transformer.wte.weight"))
        #expect(Set(wte.chunks.map(\.box)) == [TensorBox(offsets: [0, 0], sizes: [51, 32]), TensorBox(offsets: [51, 0], sizes: [50, 32])])
        // Replicate: one chunk.
        #expect(md.tensor(named: "transformer.h.1.ln_2.bias")?.chunks.map(\.box) == [TensorBox(offsets: [0], sizes: [32])])
    }

    @Test(arguments: DCPFixtures.names)
    func bytesItemsReadByName(name: String) throws {
        let e = try DCPFixtures.expected(name)
        let c = try DCPCheckpoint(path: DCPFixtures.path(name))
        for (fqn, want) in e.bytesItems {
            #expect(DCPFixtures.hex(try c.bytesItem(fqn)) == want.xxh3, "\(fqn)")
        }
        #expect(try c.bytesArchive("step").root == .int(7))
        #expect(try c.bytesArchive("extra.tokens").root == .list([.int(1), .int(2), .int(3)]))
        #expect(try c.bytesArchive("extra.name").root == .string("gpt2-tiny"))
        #expect(try c.bytesArchive("extra.lr").root == .float(0.001))
        #expect(throws: ContainerError.noSuchTensor(path: c.path, tensor: "nope (bytes item)")) { try c.bytesItem("nope") }
    }

    @Test func zstdItemsCarryTheTransform() throws {
        let md = try DCPMetadata.read(path: DCPFixtures.path("dcp-zstd") + "/.metadata")
        #expect(md.tensors.allSatisfy { $0.chunks.allSatisfy { $0.storage.transforms == ["stream.zstd/1"] } })
        #expect(md.bytesItems.allSatisfy { $0.storage.transforms == ["stream.zstd/1"] })
        #expect(md.tensors.allSatisfy { $0.torchDType == "bfloat16" })
    }

    @Test func theMegatronShapedMetadataIsAccepted() throws {
        let p = InteropFixtures.root + "/dcp-mcore-metadata"
        let o = try #require(try JSONValue.parse(try SmallFile.read(p + "/expected.json", maxBytes: 1 << 20)).objectValue)
        let md = try DCPMetadata.read(path: p + "/.metadata")
        #expect(md.type == DCPMetadata.megatronClass)
        #expect(md.tensors.map(\.fqn).sorted() == (try #require(o["tensors"]?.arrayValue)).compactMap(\.stringValue))
        #expect(md.bytesItems.map(\.fqn).sorted() == (try #require(o["bytes_items"]?.arrayValue)).compactMap(\.stringValue))
        #expect(md.extraAttribute("all_local_plans")?.elements?.count == 2)
        guard case .object(let plan)? = md.extraAttribute("all_local_plans")?.elements?.first else { throw ContainerError.malformed(path: p, detail: "plan") }
        #expect(plan.type == PickleGlobal(module: "torch.distributed.checkpoint.planner", name: "SavePlan"))
        #expect(plan.state?["items"]?.elements?.count == o["plan_items"]?.intValue)
        #expect(md.extraAttribute("mcore_data")?["transformer.wte.weight"]?["nd_reformulated_orig_global_shape"] == .tuple([.int(101), .int(32)]))
    }

    @Test func theSafetensorsSerialisationIsRecognisedAndRefused() throws {
        // torch 2.13 FileSystemWriter(serialization_format=SAFETENSORS): the metadata is the
        // usual pickle, the data file the bytes items followed by a safetensors file.
        let p = InteropFixtures.root + "/dcp-safetensors"
        let c = try DCPCheckpoint(path: p)
        #expect(c.tensors.map(\.key.name) == ["w"])
        #expect(try c.bytesArchive("step").root == .int(3))
        #expect(throws: ContainerError.self) { _ = try c.readAll(.model("w")) }
        do {
            _ = try c.readAll(.model("w"))
        } catch {
            guard case .unsupported(let path, let detail) = error else { throw error }
            #expect(path == p + "/__0_0.distcp" && detail.hasPrefix("tensor w: the item is a safetensors file, DCP's safetensors serialisation"))
        }
    }
}
