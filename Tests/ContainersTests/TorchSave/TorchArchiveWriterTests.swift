import CheckpointStore
import Foundation
import Testing

@testable import Containers

/// TorchArchiveWriter's file layout and its refusals.
@Suite struct TorchArchiveWriterTests {
    @Test func layoutIsTorchs() throws {
        let dir = TestDirectory()
        let path = dir.file("m.pt")
        let w = try TorchArchiveWriter(path: path, prefix: "m")
        let a = try TorchTestSupport.storage(w, "float32", Array(repeating: 1, count: 12))
        let b = try TorchTestSupport.storage(w, "int64", [])
        let c = try TorchTestSupport.storage(w, "uint8", Array(repeating: 7, count: 3))
        try w.commit(
            root: TorchTestSupport.dict([
                ("a", .tensor(TorchTestSupport.tensor(a, "float32", [3]))), ("b", .tensor(TorchTestSupport.tensor(b, "int64", [0]))),
                ("c", .tensor(TorchTestSupport.tensor(c, "uint8", [3]))),
            ]))
        let z = try ZipArchive(path: path)
        #expect(
            z.entries.map(\.name) == [
                "m/data/0", "m/data/1", "m/data/2", "m/data.pkl", "m/.format_version", "m/.storage_alignment", "m/byteorder", "m/version",
                "m/.data/serialization_id",
            ])
        for e in z.entries {
            #expect(e.dataOffset % 64 == 0, "\(e.name)")
            #expect(e.method == 0 && e.flags == (e.size == 0 ? 0x0800 : 0x0808))
            #expect(e.crc32 == HandZip.crc(try z.contents(of: e, limit: 1 << 20)), "\(e.name)")
        }
        #expect(try z.contents(of: z.entry(named: "m/version")!, limit: 10) == Array("3\n".utf8))
        #expect(try z.contents(of: z.entry(named: "m/.format_version")!, limit: 10) == Array("1".utf8))
        let id = try z.contents(of: z.entry(named: "m/.data/serialization_id")!, limit: 100)
        #expect(id.count == 40 && id.allSatisfy { $0 >= 0x30 && $0 <= 0x39 })
        // Consecutive storages: each header follows the previous data and its 16-byte descriptor
        // (none after an empty entry), as torch's offset calculation assumes.
        let e0 = z.entries[0], e1 = z.entries[1], e2 = z.entries[2]
        #expect(e1.localHeaderOffset == e0.dataOffset + e0.size + 16)
        #expect(e2.localHeaderOffset == e1.dataOffset + e1.size)
        #expect(!FileManager.default.fileExists(atPath: dir.path + "/m.pt.tmp"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["m.pt"])
    }

    @Test func formatVersionOnlyWhenStoragesAreUsedInWriteOrder() throws {
        let dir = TestDirectory()
        let path = dir.file("r.pt")
        let w = try TorchArchiveWriter(path: path, prefix: "r")
        let a = try TorchTestSupport.storage(w, "float32", Array(repeating: 1, count: 4))
        let b = try TorchTestSupport.storage(w, "float32", Array(repeating: 2, count: 4))
        try w.commit(root: .list([.tensor(TorchTestSupport.tensor(b, "float32", [1])), .tensor(TorchTestSupport.tensor(a, "float32", [1]))]))
        #expect(try ZipArchive(path: path).entry(named: "r/.format_version") == nil)
        #expect(try TorchArchive(path: path).root.tensorsWithPaths.map(\.tensor.storage.key) == ["1", "0"])
    }

    @Test func misuseIsRefusedAndAbortLeavesNothing() throws {
        let dir = TestDirectory()
        let path = dir.file("x.pt")
        let w = try TorchArchiveWriter(path: path, prefix: "x")
        let (_, sink) = try w.beginStorage(dtypeName: "float32", elementCount: 2)
        #expect(throws: ContainerError.self) { _ = try w.beginStorage(dtypeName: "float32", elementCount: 1) }
        #expect(throws: ContainerError.self) { try w.commit(root: .none) }
        try [UInt8](repeating: 0, count: 4).withUnsafeBytes { try sink.append($0) }
        #expect(throws: ContainerError.self) { try sink.finish() }  // 4 of 8 bytes
        #expect(throws: ContainerError.self) { try w.commit(root: .none) }  // failed earlier
        w.abort()
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).isEmpty)
        #expect(!TemporaryRegistry.registered.contains { $0.hasPrefix(path) })

        let w2 = try TorchArchiveWriter(path: path, prefix: "x")
        #expect(throws: ContainerError.unsupported(path: path, detail: "torch dtype float128")) {
            _ = try w2.beginStorage(dtypeName: "float128", elementCount: 1)
        }
        let s = try TorchTestSupport.storage(w2, "float32", Array(repeating: 0, count: 8))
        let stranger = TorchStorageRef(key: "9", dtypeName: "float32", isUntyped: false, location: "cpu", count: 2)
        #expect(throws: ContainerError.badTensor(path: path, tensor: "w", detail: "its storage 9 is not one this writer wrote")) {
            try w2.commit(root: TorchTestSupport.dict([("w", .tensor(TorchTestSupport.tensor(stranger, "float32", [2])))]))
        }
        #expect(throws: ContainerError.self) {
            try w2.commit(root: TorchTestSupport.dict([("w", .tensor(TorchTestSupport.tensor(s, "float32", [3])))]))
        }
        #expect(throws: ContainerError.self) { try w2.commit(root: .global(PickleGlobal(module: "a\nb", name: "c"))) }
        try w2.commit(root: TorchTestSupport.dict([("w", .tensor(TorchTestSupport.tensor(s, "float32", [2])))]))
        #expect(throws: ContainerError.self) { try w2.commit(root: .none) }
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["x.pt"])
    }

    @Test func releasingAnUncommittedWriterRemovesItsTemporary() throws {
        let dir = TestDirectory()
        do {
            let w = try TorchArchiveWriter(path: dir.file("y.pt"), prefix: "y")
            _ = try TorchTestSupport.storage(w, "uint8", [1, 2, 3])
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).isEmpty)
    }

    @Test func defaultPrefixIsTheFileStem() {
        #expect(TorchArchiveWriter.defaultPrefix(for: "/a/b/model_optim_rng.pt") == "model_optim_rng")
        #expect(TorchArchiveWriter.defaultPrefix(for: "pytorch_model.bin") == "pytorch_model")
        #expect(TorchArchiveWriter.defaultPrefix(for: "/x/archive") == "archive")
    }
}
