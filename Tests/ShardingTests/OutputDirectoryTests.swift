import CheckpointStore
import Foundation
import Testing

@testable import Sharding

/// A Megatron output directory is published without replacing one that appeared meanwhile
/// (two conversions racing: one wins, the other fails and leaves nothing), and with `replace`
/// swaps the whole tree (issue 9, item 3 and the concurrency part of the fault suite).
@Suite struct OutputDirectoryTests {
    @Test func aDirectoryPublishedMeanwhileWinsAndNothingIsLeft() throws {
        let dir = try Fixtures.tempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/m"
        let out = try OutputDirectory(path: path)
        try out.writeText("latest_checkpointed_iteration.txt", "1\n")
        try FileManager.default.createDirectory(atPath: path + "/iter_0000002", withIntermediateDirectories: true)
        #expect(throws: ShardingError.outputExists(path: path)) { try out.publish(syncing: []) }
        out.discard()
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["m"])
        #expect(try FileManager.default.contentsOfDirectory(atPath: path) == ["iter_0000002"])
        #expect(!TemporaryRegistry.registered.contains(out.temporaryPath))
    }

    @Test func replaceSwapsTheWholeTree() throws {
        let dir = try Fixtures.tempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/m"
        try FileManager.default.createDirectory(atPath: path + "/old", withIntermediateDirectories: true)
        #expect(throws: ShardingError.outputExists(path: path)) { _ = try OutputDirectory(path: path) }
        let out = try OutputDirectory(path: path, replace: true)
        try out.writeText("new.txt", "new\n")
        try out.publish(syncing: [])
        #expect(try FileManager.default.contentsOfDirectory(atPath: path) == ["new.txt"])
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["m"])
        #expect(!TemporaryRegistry.registered.contains(out.temporaryPath))
    }
}
