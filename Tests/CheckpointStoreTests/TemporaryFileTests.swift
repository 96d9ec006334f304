import Foundation
import Glibc
import Testing

@testable import CheckpointStore

/// Temporary names, their staleness, the no-replace publish and the free-space estimate
/// (issue 9, items 6, 14 and the concurrency part of the fault suite).
@Suite struct TemporaryFileTests {
    /// The pid of a process that has exited.
    func deadPid() throws -> Int32 {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/true")
        try p.run()
        p.waitUntilExit()
        return p.processIdentifier
    }

    @Test func namesParseAndTellLiveFromStale() throws {
        let fresh = TemporaryName.fresh(for: "/ckpt/run.1/model.h5")
        let name = try #require(TemporaryName(parsing: fresh))
        #expect(name.target == "/ckpt/run.1/model.h5")
        #expect(name.pid == getpid())
        #expect(name.startTime == ProcessLiveness.ownStartTime)
        #expect(!name.isStale, "this process is running")

        // Same pid, another start time: the pid was reused, the writer is gone.
        let reused = "/x/a.h5.tmp-\(getpid())-\(ProcessLiveness.ownStartTime + 1)-abc"
        #expect(TemporaryName(parsing: reused)?.isStale == true)
        let dead = try deadPid()
        #expect(TemporaryName(parsing: "a.h5.tmp-\(dead)-12345-z9")?.isStale == true)
        // Names of ckpt before 0.2 (no start time): stale only when the pid is gone.
        #expect(TemporaryName(parsing: "a.h5.tmp-\(getpid())-1x2y")?.isStale == false)
        #expect(TemporaryName(parsing: "a.h5.tmp-\(dead)-1x2y")?.isStale == true)
        #expect(TemporaryName(parsing: "a.h5.tmp-\(dead)-1x2y")?.startTime == nil)

        for other in ["a.h5", "a.h5.tmp-", "a.h5.tmp-x-1", ".tmp-12-3-4", "a.h5.tmp-12-3-4-5", "a.h5.tmp-12-3-A", "dir/.tmp-1-2-3"] {
            #expect(TemporaryName(parsing: other) == nil, "\(other)")
        }
    }

    @Test func removeStaleBesideKeepsLiveAndOtherTargets() throws {
        let dir = makeTempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let dead = try deadPid()
        let stale = dir + "/a.h5.tmp-\(dead)-1-q", live = TemporaryName.fresh(for: dir + "/a.h5")
        let other = dir + "/ab.h5.tmp-\(dead)-1-q", staleDir = dir + "/a.h5.tmp-\(dead)-2-d"
        for p in [stale, live, other] { FileManager.default.createFile(atPath: p, contents: Data()) }
        try FileManager.default.createDirectory(atPath: staleDir + "/inner", withIntermediateDirectories: true)
        #expect(Set(StaleTemporaries.removeStale(beside: dir + "/a.h5")) == [stale, staleDir])
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir).sorted() == [other, live].map { ($0 as NSString).lastPathComponent }.sorted())
        let found = StaleTemporaries.find(under: dir)
        #expect(found.map(\.path).sorted() == [other, live].sorted())
        #expect(found.first { $0.path == live }?.isStale == false)
    }

    @Test func writerWithoutOverwriteLeavesAFileCreatedMeanwhile() throws {
        let dir = makeTempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/a.h5"
        var options = WriterOptions(codec: .none)
        options.overwrite = false
        let w = try CheckpointWriter(path: path, options: options)
        #expect(TemporaryRegistry.registered.contains(w.temporaryPath))
        try w.write(.model("w"), shape: [4], floats: [1, 2, 3, 4])
        // Another process publishes the same target while this one writes.
        FileManager.default.createFile(atPath: path, contents: Data("winner".utf8))
        #expect(throws: StoreError.outputExists(path: path)) { try w.commit() }
        #expect(FileManager.default.contents(atPath: path) == Data("winner".utf8))
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["a.h5"])
        #expect(!TemporaryRegistry.registered.contains(w.temporaryPath))
    }

    @Test func estimateHoldsAnUncompressedCheckpoint() throws {
        let dir = makeTempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/a.h5"
        let chunk = 1 << 14
        let w = try CheckpointWriter(path: path, options: WriterOptions(codec: .none, chunkBytes: chunk))
        var raw = 0
        for i in 0..<20 {
            let n = 1000 * (i + 1)
            try w.write(.model("t\(i)"), shape: [n], floats: [Float](repeating: Float(i), count: n))
            raw += 4 * n
        }
        try w.commit()
        let size = try #require(try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int)
        let estimate = FreeSpace.estimate(rawBytes: Int64(raw), tensors: 20, chunkBytes: chunk)
        #expect(size >= raw && Int64(size) <= estimate, "size \(size), estimate \(estimate)")
        #expect(throws: StoreError.self) { try FreeSpace.check(needed: .max, for: path) }
        try FreeSpace.check(needed: 1, for: dir + "/not/yet/there.h5")
    }
}
