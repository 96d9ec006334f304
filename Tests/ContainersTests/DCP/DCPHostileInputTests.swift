import CheckpointStore
import Foundation
import Testing

@testable import Containers

/// Damaged and hostile DCP checkpoints (copies of the torch-written fixture with one thing
/// changed): each fails with its one-line error naming the file and the tensor, and nothing
/// crashes or is executed.
@Suite(.enabled(if: DCPFixtures.available, "Tests/Fixtures/interop/dcp-* are not in this checkout"))
struct DCPHostileInputTests {
    static let wte = "transformer.wte.weight"

    /// A copy of `name` whose `.metadata` is rewritten after `change`.
    static func damaged(_ name: String = "dcp-state-dict", in dir: TestDirectory, _ change: (inout DCPMetadata) throws -> Void) throws -> String {
        let p = try DCPFixtures.copy(name, into: dir)
        var md = try DCPMetadata.read(path: p + "/.metadata")
        try change(&md)
        try TestDirectory.write(try md.encode(path: p + "/.metadata"), to: p + "/.metadata")
        return p
    }

    static func changeChunk(_ md: inout DCPMetadata, _ fqn: String, _ i: Int, _ f: (inout DCPChunk) -> Void) throws {
        let k = try #require(md.tensors.firstIndex { $0.fqn == fqn })
        let j = try #require(
            md.tensors[k].chunks.indices.sorted { md.tensors[k].chunks[$0].box.offsets.lexicographicallyPrecedes(md.tensors[k].chunks[$1].box.offsets) }
                .dropFirst(i).first)
        f(&md.tensors[k].chunks[j])
    }

    static func error(_ body: () throws -> Void) -> ContainerError? {
        do {
            try body()
            return nil
        } catch let e as ContainerError {
            #expect(!e.description.contains("\n"), "one line: \(e)")
            return e
        } catch {
            Issue.record("not a ContainerError: \(error)")
            return nil
        }
    }

    @Test func theRewrittenMetadataStillReads() throws {
        // The harness itself: re-encoding changes nothing torch-visible.
        let d = TestDirectory()
        let p = try Self.damaged(in: d) { _ in }
        let c = try DCPCheckpoint(path: p)
        let e = try DCPFixtures.expected("dcp-state-dict")
        #expect(DCPFixtures.hex(try c.readAll(.model(Self.wte))) == e.tensors[Self.wte]?.xxh3)
    }

    @Test func aMetadataNamingOsSystemIsRefused() throws {
        let d = TestDirectory()
        let p = try DCPFixtures.copy("dcp-state-dict", into: d)
        var a = PickleAssembler()
        a.global("os", "system")
        a.unicode("touch /tmp/ckpt-pwned")
        a.op(.tuple1)
        a.op(.reduce)
        a.op(.stop)
        try TestDirectory.write(a.bytes, to: p + "/.metadata")
        let e = try #require(Self.error { _ = try DCPCheckpoint(path: p) })
        guard case .refused(let path, let detail) = e else { throw e }
        #expect(path == p + "/.metadata" && detail.contains("os.system"))
        #expect(!FileManager.default.fileExists(atPath: "/tmp/ckpt-pwned"))
        // Inside a real Metadata too: a storage record that is a posix.system call.
        var b = PickleAssembler()
        b.stackGlobal("torch.distributed.checkpoint.metadata", "Metadata")
        b.op(.emptyTuple)
        b.op(.newObj)
        b.op(.emptyDict)
        b.unicode("storage_data")
        b.global("posix", "system")
        b.unicode("id")
        b.op(.tuple1)
        b.op(.reduce)
        b.op(.setItem)
        b.op(.build)
        b.op(.stop)
        try TestDirectory.write(b.bytes, to: p + "/.metadata")
        guard case .refused(_, let d2)? = Self.error({ _ = try DCPCheckpoint(path: p) }) else { throw ContainerError.malformed(path: p, detail: "not refused") }
        #expect(d2.contains("posix.system"))
    }

    @Test func otherClassesOfTheDCPPackageAreNotCallable() throws {
        var a = PickleAssembler()
        a.global("torch.distributed.checkpoint.state_dict_loader", "load")
        a.op(.emptyTuple)
        a.op(.reduce)
        a.op(.stop)
        guard case .refused(_, let d)? = Self.error({ _ = try DCPMetadata.decode(a.bytes, path: "m") }) else {
            throw ContainerError.malformed(path: "m", detail: "not refused")
        }
        #expect(d.contains("torch.distributed.checkpoint.state_dict_loader.load"))
    }

    @Test func overlappingChunks() throws {
        let d = TestDirectory()
        let p = try Self.damaged(in: d) { try Self.changeChunk(&$0, Self.wte, 1) { $0.box.offsets = [50, 0] } }
        #expect(
            Self.error { _ = try DCPCheckpoint(path: p) }
                == .badTensor(path: p + "/.metadata", tensor: Self.wte, detail: "chunks [0:51, 0:32] and [50:100, 0:32] overlap"))
    }

    @Test func overlappingColumnChunks() throws {
        let d = TestDirectory()
        let fqn = "transformer.h.0.attn.c_attn.weight"
        let p = try Self.damaged(in: d) { try Self.changeChunk(&$0, fqn, 1) { $0.box.offsets = [0, 47] } }
        #expect(
            Self.error { _ = try DCPCheckpoint(path: p) }
                == .badTensor(path: p + "/.metadata", tensor: fqn, detail: "chunks [0:32, 0:48] and [0:32, 47:95] overlap"))
    }

    @Test func chunksThatLeaveAGap() throws {
        let d = TestDirectory()
        let p = try Self.damaged(in: d) { try Self.changeChunk(&$0, Self.wte, 1) { $0.box.sizes = [49, 32] } }
        #expect(
            Self.error { _ = try DCPCheckpoint(path: p) }
                == .badTensor(
                    path: p + "/.metadata", tensor: Self.wte, detail: "its chunks leave gaps: they hold 3200 of its 3232 elements (global shape [101, 32])"))
    }

    @Test func aChunkOutsideTheGlobalShape() throws {
        let d = TestDirectory()
        let p = try Self.damaged(in: d) { try Self.changeChunk(&$0, Self.wte, 1) { $0.box.offsets = [52, 0] } }
        #expect(
            Self.error { _ = try DCPCheckpoint(path: p) }
                == .badTensor(path: p + "/.metadata", tensor: Self.wte, detail: "chunk [52:102, 0:32] lies outside the global shape [101, 32]"))
    }

    @Test func anItemOffsetPastTheEndOfItsFile() throws {
        let d = TestDirectory()
        var file = "", size = 0, length = 0
        let p = try Self.damaged(in: d) { md in
            try Self.changeChunk(&md, Self.wte, 0) { c in
                file = c.storage.relativePath
                length = c.storage.length
                size = (try? FileManager.default.attributesOfItem(atPath: DCPFixtures.path("dcp-state-dict") + "/" + file)[.size] as? Int) ?? 0
                c.storage.offset = size - 10
            }
        }
        #expect(
            Self.error { _ = try DCPCheckpoint(path: p) }
                == .badTensor(
                    path: p + "/" + file, tensor: Self.wte,
                    detail: "its chunk [0:51, 0:32] at bytes \(size - 10)..<\(size - 10 + length) runs past the end of the \(size)-byte file (truncated?)"))
    }

    @Test func aMissingDataFile() throws {
        let d = TestDirectory()
        let p = try DCPFixtures.copy("dcp-state-dict", into: d)
        try FileManager.default.removeItem(atPath: p + "/__1_1.distcp")
        let e = try #require(Self.error { _ = try DCPCheckpoint(path: p) })
        guard case .badTensor(let path, let tensor, let detail) = e else { throw e }
        #expect(path == p + "/__1_1.distcp" && detail == "the data file holding its items (listed in .metadata) is missing")
        #expect(try DCPMetadata.read(path: p + "/.metadata").tensor(named: tensor)?.chunks.contains { $0.storage.relativePath == "__1_1.distcp" } == true)
    }

    @Test func aTruncatedItem() throws {
        // The recorded length cuts the item's zip short: its end records are missing.
        let d = TestDirectory()
        let p = try Self.damaged(in: d) { try Self.changeChunk(&$0, Self.wte, 0) { $0.storage.length -= 100 } }
        let c = try DCPCheckpoint(path: p)
        let e = try #require(Self.error { _ = try c.readAll(.model(Self.wte)) })
        guard case .badTensor(let path, let t, let detail) = e else { throw e }
        #expect(path.hasPrefix(p + "/__") && t == Self.wte)
        #expect(detail.hasPrefix("its chunk [0:51, 0:32] (item at bytes ") && detail.contains("no zip end-of-central-directory record"))
    }

    @Test func aTruncatedZstdItem() throws {
        let d = TestDirectory()
        let p = try Self.damaged("dcp-zstd", in: d) { try Self.changeChunk(&$0, Self.wte, 0) { $0.storage.length -= 7 } }
        let c = try DCPCheckpoint(path: p)
        let e = try #require(Self.error { _ = try c.readAll(.model(Self.wte)) })
        #expect(
            e.badTensorDetail.hasSuffix("its zstd stream is truncated (the last frame does not end)") || e.badTensorDetail.contains("zstd stream is damaged"),
            "\(e)")
    }

    @Test func aDTypeTheItemDoesNotHave() throws {
        let d = TestDirectory()
        let p = try Self.damaged(in: d) { md in
            let k = md.tensors.firstIndex { $0.fqn == Self.wte }!
            md.tensors[k].torchDType = "bfloat16"
        }
        let c = try DCPCheckpoint(path: p)
        let e = try #require(Self.error { _ = try c.readAll(.model(Self.wte)) })
        #expect(e.badTensorDetail.hasSuffix("the item's dtype float32 differs from the metadata's bfloat16"))
    }

    @Test func aChunkWhoseItemHasAnotherSize() throws {
        // Swapped storage records: the 51-row chunk points at the 50-row item.
        let d = TestDirectory()
        let p = try Self.damaged(in: d) { md in
            let k = md.tensors.firstIndex { $0.fqn == Self.wte }!
            let s0 = md.tensors[k].chunks[0].storage
            md.tensors[k].chunks[0].storage = md.tensors[k].chunks[1].storage
            md.tensors[k].chunks[1].storage = s0
        }
        let c = try DCPCheckpoint(path: p)
        let e = try #require(Self.error { _ = try c.readAll(.model(Self.wte)) })
        #expect(e.badTensorDetail.contains("the item's shape ["), "\(e)")
        #expect(e.badTensorDetail.contains("differs from the chunk's sizes"))
    }

    @Test func aDataFileOutsideTheDirectory() throws {
        let d = TestDirectory()
        let p = try Self.damaged(in: d) { try Self.changeChunk(&$0, Self.wte, 0) { $0.storage.relativePath = "../__0_0.distcp" } }
        guard case .refused(_, let detail)? = Self.error({ _ = try DCPCheckpoint(path: p) }) else {
            throw ContainerError.malformed(path: p, detail: "not refused")
        }
        #expect(detail.contains("not a plain file name inside the checkpoint directory"))
    }

    @Test func anUnknownTransform() throws {
        let d = TestDirectory()
        let p = try Self.damaged(in: d) { try Self.changeChunk(&$0, Self.wte, 0) { $0.storage.transforms = ["stream.aes/1"] } }
        guard case .unsupported(_, let detail)? = Self.error({ _ = try DCPCheckpoint(path: p) }) else {
            throw ContainerError.malformed(path: p, detail: "not unsupported")
        }
        #expect(detail.contains("stream.aes/1"))
    }

    @Test func notAMetadataPickle() throws {
        #expect(
            Self.error { _ = try DCPMetadata.decode([0x80, 2, 0x4B, 7, 0x2E], path: "m") }
                == .malformed(path: "m", detail: "DCP metadata: the pickle holds a int, not a torch.distributed.checkpoint Metadata"))
        let d = TestDirectory()
        #expect(
            Self.error { _ = try DCPCheckpoint(path: d.path) }
                == .malformed(path: d.path, detail: "no .metadata file: not a DCP checkpoint, or torch.distributed.checkpoint.save did not finish"))
    }
}

extension ContainerError {
    /// The detail of a `.badTensor`, or the description.
    var badTensorDetail: String {
        if case .badTensor(_, _, let d) = self { return d }
        return description
    }
}
