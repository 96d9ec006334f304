import CheckpointStore
import Foundation
import Testing

@testable import Containers

/// Reading tensors and boxes out of a mapped safetensors file.
@Suite struct SafetensorsFileTests {
    typealias B = SafetensorsBytes

    func withFile(_ bytes: [UInt8], _ body: (SafetensorsFile) throws -> Void) throws {
        let dir = try TestDirectory.make()
        defer { TestDirectory.remove(dir) }
        let p = dir + "/m.safetensors"
        try TestDirectory.write(bytes, to: p)
        try body(try SafetensorsFile(path: p))
    }

    func floats(_ bytes: [UInt8]) -> [Float] {
        stride(from: 0, to: bytes.count, by: 4).map { i in
            Float(bitPattern: UInt32(bytes[i]) | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2]) << 16 | UInt32(bytes[i + 3]) << 24)
        }
    }

    @Test func listsTensorsUnderModelKeys() throws {
        try withFile(B.valid) { (f) throws in
            #expect(f.formatName == "safetensors")
            #expect(!f.verifiesChecksums)
            #expect(
                f.tensors == [ContainerTensor(key: .model("a"), dtype: .float32, shape: [2, 3]), ContainerTensor(key: .model("b"), dtype: .int64, shape: [2])])
            #expect(f.metadata == ["format": "pt"])
            #expect(f.describe(.optimizer("exp_avg", "a")) == nil)
            #expect(try floats(f.readAll(.model("a"))) == [0, 1, 2, 3, 4, 5])
            let b = try f.readAll(.model("b"))
            #expect(b.withUnsafeBytes { Array($0.bindMemory(to: Int64.self)) } == [7, -1])
        }
    }

    @Test func readsBoxesOfA3DTensor() throws {
        let shape = [3, 4, 5]
        var data: [UInt8] = []
        for i in 0..<60 { withUnsafeBytes(of: Float(i).bitPattern.littleEndian) { data += $0 } }
        let f = B.file(#"{"t":{"dtype":"F32","shape":[3,4,5],"data_offsets":[0,240]}}"#, data: data)
        try withFile(f) { (file) throws in
            for box in [
                TensorBox(offsets: [0, 0, 0], sizes: [3, 4, 5]), TensorBox(offsets: [1, 0, 0], sizes: [2, 4, 5]),
                TensorBox(offsets: [0, 1, 2], sizes: [3, 2, 3]), TensorBox(offsets: [2, 3, 4], sizes: [1, 1, 1]),
                TensorBox(offsets: [0, 0, 1], sizes: [3, 4, 0]),
            ] {
                var out = [UInt8](repeating: 0xAA, count: box.count * 4)
                try out.withUnsafeMutableBytes { try file.read(.model("t"), box: box, into: $0) }
                var expected: [Float] = []
                for i in 0..<box.sizes[0] {
                    for j in 0..<box.sizes[1] {
                        for k in 0..<box.sizes[2] {
                            expected.append(Float(((box.offsets[0] + i) * shape[1] + box.offsets[1] + j) * shape[2] + box.offsets[2] + k))
                        }
                    }
                }
                #expect(floats(out) == expected, "box \(box)")
            }
        }
    }

    @Test func scalarTensor() throws {
        let f = B.file(#"{"s":{"dtype":"BF16","shape":[],"data_offsets":[0,2]}}"#, data: [0x80, 0x3F])
        try withFile(f) { (file) throws in
            #expect(file.tensors == [ContainerTensor(key: .model("s"), dtype: .bfloat16, shape: [])])
            #expect(try file.readAll(.model("s")) == [0x80, 0x3F])
        }
    }

    @Test func typesCkptDoesNotReadAreListedAndRefusedOnRead() throws {
        let f = B.file(
            #"{"q":{"dtype":"F8_E4M3","shape":[4],"data_offsets":[0,4]},"u":{"dtype":"U32","shape":[1],"data_offsets":[4,8]},"w":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}"#,
            data: B.zeros(12))
        try withFile(f) { (file) throws in
            #expect(file.entries.map(\.name) == ["q", "u", "w"])
            #expect(file.tensors.map(\.key.name) == ["w"])
            #expect(file.describe(.model("q")) == nil)
            var out = [UInt8](repeating: 0, count: 4)
            #expect(throws: ContainerError.unsupported(path: file.path, detail: "tensor q has dtype F8_E4M3, which ckpt does not read")) {
                try out.withUnsafeMutableBytes { try file.read(.model("q"), box: .whole([4]), into: $0) }
            }
            #expect(throws: ContainerError.unsupported(path: file.path, detail: "tensor u has dtype U32, which ckpt does not read")) {
                try out.withUnsafeMutableBytes { try file.read(.model("u"), box: .whole([1]), into: $0) }
            }
        }
    }

    @Test func badBoxesAndBuffersAreErrorsNotCrashes() throws {
        try withFile(B.valid) { (file) throws in
            var out = [UInt8](repeating: 0, count: 24)
            #expect(throws: ContainerError.badTensor(path: file.path, tensor: "a", detail: "box [1:3, 0:3] lies outside shape [2, 3]")) {
                try out.withUnsafeMutableBytes { try file.read(.model("a"), box: TensorBox(offsets: [1, 0], sizes: [2, 3]), into: $0) }
            }
            // A larger buffer is filled at its start; a smaller one is an error.
            try out.withUnsafeMutableBytes { try file.read(.model("a"), box: TensorBox(offsets: [0, 0], sizes: [1, 3]), into: $0) }
            var small = [UInt8](repeating: 0, count: 8)
            #expect(throws: ContainerError.badTensor(path: file.path, tensor: "a", detail: "buffer of 8 bytes for a box of 12 bytes")) {
                try small.withUnsafeMutableBytes { try file.read(.model("a"), box: TensorBox(offsets: [0, 0], sizes: [1, 3]), into: $0) }
            }
            #expect(throws: ContainerError.noSuchTensor(path: file.path, tensor: "zz")) { _ = try file.readAll(.model("zz")) }
        }
    }

    @Test func missingFileAndDirectoryAreIOErrors() throws {
        let dir = try TestDirectory.make()
        defer { TestDirectory.remove(dir) }
        #expect(throws: ContainerError.io(path: dir + "/none", detail: "cannot open: No such file or directory")) {
            _ = try SafetensorsFile(path: dir + "/none")
        }
        #expect(throws: ContainerError.io(path: dir, detail: "not a regular file")) { _ = try SafetensorsFile(path: dir) }
    }

    @Test func concurrentReadsAgree() throws {
        var data: [UInt8] = []
        for i in 0..<(1 << 16) { withUnsafeBytes(of: Float(i).bitPattern.littleEndian) { data += $0 } }
        let f = B.file(#"{"t":{"dtype":"F32","shape":[256,256],"data_offsets":[0,262144]}}"#, data: data)
        try withFile(f) { (file) throws in
            let results = UnsafeSendableBox([[Float]](repeating: [], count: 8))
            DispatchQueue.concurrentPerform(iterations: 8) { i in
                let box = TensorBox(offsets: [i * 32, 0], sizes: [32, 256])
                var out = [UInt8](repeating: 0, count: box.count * 4)
                try? out.withUnsafeMutableBytes { try file.read(.model("t"), box: box, into: $0) }
                results.set(i, floats(out))
            }
            for i in 0..<8 { #expect(results.value[i] == (i * 8192..<(i + 1) * 8192).map(Float.init)) }
        }
    }
}

/// Results written by concurrent iterations into distinct slots (guarded by a lock).
final class UnsafeSendableBox<T>: @unchecked Sendable {  // every access holds `lock`
    private let lock = NSLock()
    private var storage: [T]
    init(_ v: [T]) { storage = v }
    func set(_ i: Int, _ v: T) {
        lock.lock()
        storage[i] = v
        lock.unlock()
    }
    var value: [T] {
        lock.lock()
        defer { lock.unlock() }
        return storage
    }
}
