import CheckpointStore
import Foundation
import Testing

@testable import Containers

/// One container over a directory's shards, and every way its index can lie.
@Suite struct HFCheckpointDirectoryTests {
    typealias F = HFDirectoryFixtures
    let a = F.f32("a", [2, 3]), b = F.f32("b", [4]), c = F.f32("c", [1])

    /// A directory with shards s1 = [a, b], s2 = [c] and the given index text.
    func sharded(_ index: String) throws -> String {
        let dir = try TestDirectory.make()
        try F.shard(dir + "/s1.safetensors", [a, b])
        try F.shard(dir + "/s2.safetensors", [c])
        try F.writeText(index, to: dir + "/model.safetensors.index.json")
        return dir
    }

    @Test func shardedDirectoryReadsAsOneContainer() throws {
        let dir = try sharded(F.index([("c", "s2.safetensors"), ("a", "s1.safetensors"), ("b", "s1.safetensors")]))
        defer { TestDirectory.remove(dir) }
        try F.writeText(HFConfigTests.gpt2, to: dir + "/config.json")
        let d = try HFCheckpointDirectory(path: dir)
        #expect(d.formatName == "hf" && !d.verifiesChecksums)
        #expect(d.weights == .sharded(index: "model.safetensors.index.json"))
        #expect(d.weightFileNames == ["s1.safetensors", "s2.safetensors"])
        #expect(d.tensors == [a, b, c])
        for t in [a, b, c] { #expect(try d.readAll(t.key) == F.bytes(t)) }
        #expect(try d.config.get().model.layers == 2)
        var out = [UInt8](repeating: 0, count: 12)
        try out.withUnsafeMutableBytes { try d.read(.model("a"), box: TensorBox(offsets: [1, 0], sizes: [1, 3]), into: $0) }
        #expect(out == Array(F.bytes(a)[12..<24]))
    }

    @Test func singleFileDirectoryWithoutConfigStillReads() throws {
        let dir = try TestDirectory.make()
        defer { TestDirectory.remove(dir) }
        try F.shard(dir + "/model.safetensors", [a])
        let d = try HFCheckpointDirectory(path: dir)
        #expect(d.weights == .single("model.safetensors"))
        #expect(d.index == nil)
        #expect(try d.readAll(a.key) == F.bytes(a))
        #expect(throws: ContainerError.io(path: dir + "/config.json", detail: "no such file")) { try d.config.get() }
    }

    @Test(arguments: [
        ("../x.safetensors", "a path with a directory separator; shards must sit directly in the directory"),
        ("/etc/passwd", "an absolute path, outside the directory"),
        ("a/b.safetensors", "a path with a directory separator; shards must sit directly in the directory"),
        ("..", "not a file inside the directory"),
        (".", "not a file inside the directory"),
        ("", "an empty file name"),
        ("a\\\\b", "a path with a directory separator; shards must sit directly in the directory"),
        ("x\\u0000y", "a file name containing NUL"),
    ])
    func shardNamesThatWouldLeaveTheDirectoryAreRefused(name: String, problem: String) throws {
        let dir = try sharded(F.index([("a", "s1.safetensors"), ("b", "s1.safetensors"), ("c", name)]))
        defer { TestDirectory.remove(dir) }
        // Make the escape target real, so only the name check can stop it.
        try? F.shard(AtomicFile.directory(of: dir) + "/x.safetensors", [c])
        defer { try? FileManager.default.removeItem(atPath: AtomicFile.directory(of: dir) + "/x.safetensors") }
        let decoded = try #require(try JSONValue.parse(Array("\"\(name)\"".utf8)).stringValue)
        let e = ContainerError.refused(
            path: dir + "/model.safetensors.index.json", detail: "weight_map sends tensor c to \(JSONReader.quote(decoded)): \(problem)")
        #expect(throws: e) { _ = try HFCheckpointDirectory(path: dir) }
        #expect(!e.description.contains("\n"))
    }

    @Test func tensorInAShardButNotInTheIndex() throws {
        let dir = try sharded(F.index([("a", "s1.safetensors"), ("c", "s2.safetensors")]))
        defer { TestDirectory.remove(dir) }
        #expect(
            throws: ContainerError.badTensor(
                path: dir + "/model.safetensors.index.json", tensor: "b", detail: "held by shard s1.safetensors but not listed in the weight_map")
        ) {
            _ = try HFCheckpointDirectory(path: dir)
        }
    }

    @Test func indexListsATensorTheShardLacks() throws {
        let dir = try sharded(F.index([("a", "s1.safetensors"), ("b", "s1.safetensors"), ("c", "s2.safetensors"), ("d", "s2.safetensors")]))
        defer { TestDirectory.remove(dir) }
        #expect(
            throws: ContainerError.badTensor(
                path: dir + "/model.safetensors.index.json", tensor: "d", detail: "the weight_map sends it to s2.safetensors, which does not hold it")
        ) {
            _ = try HFCheckpointDirectory(path: dir)
        }
    }

    @Test func indexSendsATensorToTheWrongShard() throws {
        let dir = try sharded(F.index([("a", "s1.safetensors"), ("b", "s2.safetensors"), ("c", "s2.safetensors")]))
        defer { TestDirectory.remove(dir) }
        #expect(
            throws: ContainerError.badTensor(
                path: dir + "/model.safetensors.index.json", tensor: "b", detail: "held by shard s1.safetensors, but the weight_map sends it to s2.safetensors")
        ) {
            _ = try HFCheckpointDirectory(path: dir)
        }
    }

    @Test func tensorInTwoShards() throws {
        let dir = try TestDirectory.make()
        defer { TestDirectory.remove(dir) }
        try F.shard(dir + "/s1.safetensors", [a])
        try F.shard(dir + "/s2.safetensors", [a, c])
        try F.writeText(F.index([("a", "s1.safetensors"), ("c", "s2.safetensors")]), to: dir + "/model.safetensors.index.json")
        #expect(
            throws: ContainerError.badTensor(
                path: dir + "/model.safetensors.index.json", tensor: "a", detail: "held by shard s2.safetensors, but the weight_map sends it to s1.safetensors")
        ) {
            _ = try HFCheckpointDirectory(path: dir)
        }
    }

    @Test func tensorListedTwiceInTheIndex() throws {
        let dir = try sharded(#"{"weight_map":{"a":"s1.safetensors","b":"s1.safetensors","c":"s2.safetensors","a":"s2.safetensors"}}"#)
        defer { TestDirectory.remove(dir) }
        #expect(throws: ContainerError.malformed(path: dir + "/model.safetensors.index.json", detail: "not valid JSON: duplicate key \"a\" at byte 78")) {
            _ = try HFCheckpointDirectory(path: dir)
        }
    }

    @Test(arguments: [
        (#"{"metadata":{}}"#, "no weight_map"), (#"{"weight_map":[]}"#, "weight_map is not an object"),
        (#"{"weight_map":{}}"#, "weight_map lists no tensors"), ("[1]", "not a JSON object"),
    ])
    func malformedIndexes(text: String, detail: String) throws {
        let dir = try sharded(text)
        defer { TestDirectory.remove(dir) }
        #expect(throws: ContainerError.malformed(path: dir + "/model.safetensors.index.json", detail: detail)) { _ = try HFCheckpointDirectory(path: dir) }
    }

    @Test func nonStringShardIsRefused() throws {
        let dir = try sharded(#"{"weight_map":{"a":1}}"#)
        defer { TestDirectory.remove(dir) }
        #expect(
            throws: ContainerError.badTensor(
                path: dir + "/model.safetensors.index.json", tensor: "a", detail: "weight_map value is an integer, not a file name")
        ) {
            _ = try HFCheckpointDirectory(path: dir)
        }
    }

    @Test func filesTheIndexDoesNotNameAreIgnored() throws {
        let dir = try sharded(F.index([("a", "s1.safetensors"), ("b", "s1.safetensors"), ("c", "s2.safetensors")]))
        defer { TestDirectory.remove(dir) }
        try F.shard(dir + "/stale-00003.safetensors", [F.f32("zzz", [1])])
        try TestDirectory.write([1, 2, 3], to: dir + "/garbage.safetensors")
        #expect(try HFCheckpointDirectory(path: dir).tensors.map(\.key.name) == ["a", "b", "c"])
    }

    @Test func missingShardIsAnError() throws {
        let dir = try sharded(F.index([("a", "s1.safetensors"), ("b", "s1.safetensors"), ("c", "s3.safetensors")]))
        defer { TestDirectory.remove(dir) }
        #expect(throws: ContainerError.io(path: dir + "/s3.safetensors", detail: "cannot open: No such file or directory")) {
            _ = try HFCheckpointDirectory(path: dir)
        }
    }

    @Test func damagedShardNamesTheShard() throws {
        let dir = try sharded(F.index([("a", "s1.safetensors"), ("b", "s1.safetensors"), ("c", "s2.safetensors")]))
        defer { TestDirectory.remove(dir) }
        let raw = try TestDirectory.read(dir + "/s2.safetensors")
        try TestDirectory.write(Array(raw.dropLast()), to: dir + "/s2.safetensors")
        #expect(
            throws: ContainerError.badTensor(
                path: dir + "/s2.safetensors", tensor: "c", detail: "data_offsets [0, 4] run past the end of the file (3 data bytes after the 88-byte header)")
        ) {
            _ = try HFCheckpointDirectory(path: dir)
        }
    }

    @Test func unreadableDtypesAreListedAndExplained() throws {
        let dir = try TestDirectory.make()
        defer { TestDirectory.remove(dir) }
        try TestDirectory.write(
            SafetensorsBytes.file(#"{"q":{"dtype":"F8_E5M2","shape":[2],"data_offsets":[0,2]}}"#, data: [1, 2]), to: dir + "/model.safetensors")
        let d = try HFCheckpointDirectory(path: dir)
        #expect(d.tensors.isEmpty)
        #expect(d.unreadableEntries.map(\.name) == ["q"])
        var out = [UInt8](repeating: 0, count: 2)
        #expect(throws: ContainerError.unsupported(path: dir + "/model.safetensors", detail: "tensor q has dtype F8_E5M2, which ckpt does not read")) {
            try out.withUnsafeMutableBytes { try d.read(.model("q"), box: .whole([2]), into: $0) }
        }
    }

    @Test func notADirectoryOrNoWeights() throws {
        let dir = try TestDirectory.make()
        defer { TestDirectory.remove(dir) }
        #expect(throws: ContainerError.malformed(path: dir, detail: "no model.safetensors or model.safetensors.index.json in the directory")) {
            _ = try HFCheckpointDirectory(path: dir)
        }
        #expect(throws: ContainerError.io(path: dir + "/none", detail: "no such directory")) { _ = try HFCheckpointDirectory(path: dir + "/none") }
        try TestDirectory.write([1], to: dir + "/f")
        #expect(throws: ContainerError.io(path: dir + "/f", detail: "not a directory")) { _ = try HFCheckpointDirectory(path: dir + "/f") }
    }

    @Test func weightFilesComeFromTheFactory() throws {
        // The hook for pytorch_model.bin: any container type, opened by the caller's factory.
        let dir = try sharded(F.index([("a", "s1.safetensors"), ("b", "s1.safetensors"), ("c", "s2.safetensors")]))
        defer { TestDirectory.remove(dir) }
        let opened = LockedList()
        let d = try HFCheckpointDirectory(path: dir, weights: .sharded(index: "model.safetensors.index.json")) {
            (p: String) throws(ContainerError) -> any TensorContainer in
            opened.append(p)
            return try SafetensorsFile(path: p)
        }
        #expect(opened.items == [dir + "/s1.safetensors", dir + "/s2.safetensors"])
        #expect(d.tensors.count == 3)
        #expect(
            throws: ContainerError.refused(
                path: dir, detail: "weights file \"../m.bin\": a path with a directory separator; shards must sit directly in the directory")
        ) {
            _ = try HFCheckpointDirectory(path: dir, weights: .single("../m.bin")) { (p: String) throws(ContainerError) -> any TensorContainer in
                try SafetensorsFile(path: p)
            }
        }
    }
}

/// Paths recorded by a factory.
final class LockedList: @unchecked Sendable {  // every access holds `lock`
    private let lock = NSLock()
    private var list: [String] = []
    func append(_ s: String) {
        lock.lock()
        list.append(s)
        lock.unlock()
    }
    var items: [String] {
        lock.lock()
        defer { lock.unlock() }
        return list
    }
}
