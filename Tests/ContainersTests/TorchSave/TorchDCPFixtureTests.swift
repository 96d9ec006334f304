import CheckpointStore
import Foundation
import Testing

@testable import Containers

/// A PyTorch DCP checkpoint written by torch 2.13 (`dcp.save(..., no_dist=True)`): its
/// `.metadata` pickle (protocol 4 dataclasses) decodes into opaque records, and each item of
/// `__0_0.distcp` is a torch.save zip read in place at its offset.
@Suite struct TorchDCPFixtureTests {
    static let dir = TorchFixtureTests.dir + "/dcp"

    @Test func metadataDecodesToRecords() throws {
        let bytes = Array(try Data(contentsOf: URL(fileURLWithPath: Self.dir + "/.metadata")))
        let root = try PickleReader.decode(bytes, path: ".metadata", entry: ".metadata")
        guard case .object(let md) = root else { throw ContainerError.malformed(path: "", detail: "root") }
        #expect(md.type == PickleGlobal(module: "torch.distributed.checkpoint.metadata", name: "Metadata"))
        #expect(md.construction == .newObject)
        let w = try #require(root["state_dict_metadata"]?["w"])
        guard case .object(let tsm) = w else { throw ContainerError.malformed(path: "", detail: "w") }
        #expect(tsm.type.name == "TensorStorageMetadata")
        #expect(w["size"] == .tuple([.int(2), .int(3)]))
        // TensorProperties' state is a tuple: (dtype, layout, requires_grad, memory format, pin_memory).
        guard case .object(let props)? = w["properties"], case .tuple(let p)? = props.state else {
            throw ContainerError.malformed(path: "", detail: "properties")
        }
        #expect(p.first == .global(PickleGlobal(module: "torch", name: "float32")))
        #expect(p.dropFirst().first == .global(PickleGlobal(module: "torch", name: "strided")))
    }

    @Test func itemsAreZipArchivesInsideTheFile() throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: TorchFixtureTests.dir + "/expected.json"))
        let all = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let dcp = try #require(all["dcp"] as? [String: Any])
        let items = try #require(dcp["items"] as? [String: [String: Any]])
        let file = try RandomAccessFile(path: Self.dir + "/__0_0.distcp")
        for (fqn, item) in items {
            let offset = try #require(item["offset"] as? Int), length = try #require(item["length"] as? Int)
            let a = try TorchArchive(zip: try ZipArchive(file: file, range: offset..<(offset + length)))
            #expect(a.prefix == "archive", "\(fqn)")
            if fqn == "step" {
                #expect(a.root == .int(3))
                continue
            }
            guard case .tensor(let t) = a.root else { throw ContainerError.malformed(path: "", detail: "\(fqn) is \(a.root)") }
            #expect(t.shape == dcp["w_size"] as? [Int])
            #expect(try TorchTestSupport.read(a, t, .whole(t.shape), 4) == TorchFixtureTests.hex(dcp["w_hex"] as! String))
        }
        #expect(throws: ContainerError.self) { _ = try ZipArchive(file: file, range: 0..<(file.size + 1)) }
    }
}
