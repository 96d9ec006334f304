import CheckpointStore
import Foundation
import Testing

@testable import Containers

@Suite struct FileKindTests {
    func temporaryDirectory() -> String {
        let d = NSTemporaryDirectory() + "ckpt-filekind-\(UUID().uuidString)"
        try? FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        return d
    }

    func write(_ bytes: [UInt8], _ path: String) {
        FileManager.default.createFile(atPath: path, contents: Data(bytes))
    }

    @Test func kindsAreToldFromContentNotName() throws {
        let d = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: d) }
        // A ckpt file named like a safetensors file is still HDF5.
        let h5 = d + "/model.safetensors"
        let w = try CheckpointWriter(path: h5)
        try w.write(.model("x"), shape: [2], floats: [1, 2])
        try w.commit()
        #expect(try FileKind.sniff(h5) == .hdf5)

        let header = Array(#"{"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#.utf8)
        var st: [UInt8] = withUnsafeBytes(of: UInt64(header.count).littleEndian) { Array($0) }
        st += header + [0, 0, 128, 63]
        write(st, d + "/weights.h5")
        #expect(try FileKind.sniff(d + "/weights.h5") == .safetensors)

        write([0x50, 0x4b, 3, 4] + Array(repeating: 0, count: 40), d + "/a.bin")
        #expect(try FileKind.sniff(d + "/a.bin") == .zip)
        write([0x80, 0x02, 0x8a, 0x0a] + Array(repeating: 0, count: 10), d + "/b.pt")
        #expect(try FileKind.sniff(d + "/b.pt") == .pickle)
        write(Array("hello, world".utf8), d + "/c.txt")
        #expect(try FileKind.sniff(d + "/c.txt") == .unknown)
        // A header length pointing past the end is not safetensors.
        var lying: [UInt8] = withUnsafeBytes(of: UInt64(1000).littleEndian) { Array($0) }
        lying += Array("{}".utf8)
        write(lying, d + "/d")
        #expect(try FileKind.sniff(d + "/d") == .unknown)
        #expect(throws: ContainerError.self) { try FileKind.sniff(d + "/missing") }
    }
}
