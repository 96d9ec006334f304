import CheckpointStore
import Foundation
import Testing

@testable import Containers

/// Archives that lie about their tensors or use what ckpt does not read: one-line errors.
@Suite struct TorchArchiveHostileTests {
    /// A hand-built archive `a/` with the pickle of `root` and the given storage records.
    func archive(_ dir: TestDirectory, root: PickleValue, storages: [String: [UInt8]], method: UInt16 = 0, extra: [HandZip.Entry] = []) throws -> String {
        var entries = [HandZip.Entry(name: "a/data.pkl", data: try PickleWriter.encode(root, path: "x"))]
        for (k, v) in storages.sorted(by: { $0.key < $1.key }) { entries.append(HandZip.Entry(name: "a/data/\(k)", data: v, method: method)) }
        entries += extra
        return dir.write("a.pt", HandZip.build(entries, zip64: true).bytes)
    }

    func floats(_ n: Int) -> TorchStorageRef {
        TorchStorageRef(key: "0", dtypeName: "float32", isUntyped: false, location: "cpu", count: n)
    }

    func stateDictError(_ path: String) -> ContainerError? {
        do { _ = try TorchStateDictContainer(path: path) } catch { return error }
        return nil
    }

    @Test func storageShorterThanItsTensor() throws {
        let dir = TestDirectory()
        // The persistent id says 6 floats and the record holds 24 bytes, but the view needs 8.
        let t = TorchTestSupport.tensor(floats(6), "float32", [2, 4])
        let p = try archive(dir, root: TorchTestSupport.dict([("w", .tensor(t))]), storages: ["0": Array(repeating: 0, count: 24)])
        #expect(
            stateDictError(p)
                == .badTensor(
                    path: p, tensor: "w",
                    detail: "storage 0 holds 24 bytes, shorter than the 32 bytes the tensor (offset 0, shape [2, 4], strides [4, 1]) needs"))
        // An offset pushing the view past the end is caught the same way.
        let t2 = TorchTestSupport.tensor(floats(6), "float32", [2, 3], offset: 1)
        let p2 = try archive(dir, root: TorchTestSupport.dict([("w", .tensor(t2))]), storages: ["0": Array(repeating: 0, count: 24)])
        #expect(stateDictError(p2).map { if case .badTensor(_, "w", _) = $0 { true } else { false } } == true)
        #expect(stateDictError(p2)?.description.contains("\n") == false)
    }

    @Test func recordShorterThanItsPersistentID() throws {
        let dir = TestDirectory()
        let t = TorchTestSupport.tensor(floats(6), "float32", [6])
        let p = try archive(dir, root: TorchTestSupport.dict([("w", .tensor(t))]), storages: ["0": Array(repeating: 0, count: 20)])
        #expect(
            stateDictError(p)
                == .badTensor(path: p, tensor: "w", detail: "storage record a/data/0 holds 20 bytes, its persistent id says 6 float32 elements (24 bytes)"))
        let q = try archive(dir, root: TorchTestSupport.dict([("w", .tensor(t))]), storages: [:])
        #expect(stateDictError(q) == .badTensor(path: q, tensor: "w", detail: "its storage record a/data/0 is missing"))
    }

    @Test func negativeStridesAndHugeShapesAreRefused() throws {
        let dir = TestDirectory()
        let neg = TorchTestSupport.tensor(floats(6), "float32", [6], offset: 5, strides: [-1])
        let p = try archive(dir, root: TorchTestSupport.dict([("w", .tensor(neg))]), storages: ["0": Array(repeating: 0, count: 24)])
        #expect(stateDictError(p) == .badTensor(path: p, tensor: "w", detail: "negative stride -1 (strides [-1]) is refused"))
        let huge = TorchTestSupport.tensor(floats(6), "float32", [1 << 40, 1 << 40], strides: [1, 1])
        let q = try archive(dir, root: TorchTestSupport.dict([("w", .tensor(huge))]), storages: ["0": Array(repeating: 0, count: 24)])
        #expect(stateDictError(q) == .badTensor(path: q, tensor: "w", detail: "shape [1099511627776, 1099511627776] overflows"))
    }

    @Test func compressedStorageIsUnsupportedNamingTheEntry() throws {
        let dir = TestDirectory()
        let t = TorchTestSupport.tensor(floats(6), "float32", [6])
        let p = try archive(dir, root: TorchTestSupport.dict([("w", .tensor(t))]), storages: ["0": Array(repeating: 0, count: 24)], method: 8)
        #expect(
            stateDictError(p)
                == .unsupported(path: p, detail: "tensor w: zip entry a/data/0 is compressed (method 8: deflate); torch.save writes every entry STORED"))
    }

    @Test func compressedPickleIsUnsupported() throws {
        let dir = TestDirectory()
        let p = dir.write("a.pt", HandZip.build([HandZip.Entry(name: "a/data.pkl", data: [0x80, 2, 0x4E, 0x2E], method: 8)]).bytes)
        #expect(
            stateDictError(p) == .unsupported(path: p, detail: "zip entry a/data.pkl is compressed (method 8: deflate); torch.save writes every entry STORED"))
    }

    @Test func bigEndianAndOddByteorderRecords() throws {
        let dir = TestDirectory()
        let big = try archive(dir, root: .dict([]), storages: [:], extra: [HandZip.Entry(name: "a/byteorder", data: Array("big".utf8))])
        #expect(stateDictError(big) == .unsupported(path: big, detail: "a big-endian torch.save archive (byteorder record says 'big')"))
        let odd = try archive(dir, root: .dict([]), storages: [:], extra: [HandZip.Entry(name: "a/byteorder", data: Array("middle".utf8))])
        #expect(stateDictError(odd) == .malformed(path: odd, detail: "byteorder record is \"middle\""))
        let little = try archive(dir, root: .dict([]), storages: [:], extra: [HandZip.Entry(name: "a/byteorder", data: Array("little".utf8))])
        #expect(stateDictError(little) == nil)
    }

    @Test func notATorchArchive() throws {
        let dir = TestDirectory()
        let flat = dir.write("a.pt", HandZip.build([HandZip.Entry(name: "data.pkl", data: [0x4E, 0x2E])]).bytes)
        #expect(stateDictError(flat) == .malformed(path: flat, detail: "not a torch.save archive: its first entry data.pkl is not in a directory"))
        let noPickle = dir.write("b.pt", HandZip.build([HandZip.Entry(name: "a/version", data: [0x33])]).bytes)
        #expect(stateDictError(noPickle) == .malformed(path: noPickle, detail: "not a torch.save archive: no a/data.pkl record"))
        let list = try archive(dir, root: .list([]), storages: [:])
        #expect(stateDictError(list) == .malformed(path: list, detail: "the pickle's root is not a dict of tensors (a state_dict)"))
    }

    @Test func refusedGlobalInsideAnArchive() throws {
        let dir = TestDirectory()
        var p = PickleAssembler()
        p.call("os", "system", arg: "rm -rf ~")
        let path = dir.write("a.pt", HandZip.build([HandZip.Entry(name: "a/data.pkl", data: p.finished())]).bytes)
        #expect(
            stateDictError(path) == .refused(path: path, detail: "global os.system names module os, which ckpt never reads, at byte 2 of pickle a/data.pkl"))
    }

    @Test func readsOutsideTheShapeOrWithAWrongBufferFail() throws {
        let dir = TestDirectory()
        let t = TorchTestSupport.tensor(floats(6), "float32", [2, 3])
        let p = try archive(dir, root: TorchTestSupport.dict([("w", .tensor(t))]), storages: ["0": Array(repeating: 0, count: 24)])
        let c = try TorchStateDictContainer(path: p)
        var b = [UInt8](repeating: 0, count: 12)
        #expect(throws: ContainerError.badTensor(path: p, tensor: "w", detail: "box [1:3, 0:3] lies outside the shape [2, 3]")) {
            try b.withUnsafeMutableBytes { try c.read(.model("w"), box: TensorBox(offsets: [1, 0], sizes: [2, 3]), into: $0) }
        }
        #expect(throws: ContainerError.badTensor(path: p, tensor: "w", detail: "a buffer of 12 bytes for a box of 6 float32 elements")) {
            try b.withUnsafeMutableBytes { try c.read(.model("w"), box: .whole([2, 3]), into: $0) }
        }
        #expect(throws: ContainerError.noSuchTensor(path: p, tensor: "v")) {
            try b.withUnsafeMutableBytes { try c.read(.model("v"), box: .whole([3]), into: $0) }
        }
    }
}
