import CheckpointStore
import Foundation
import Testing

@testable import Containers

/// `DCPCheckpointWriter`: a torch-written checkpoint rewritten under another plan (three
/// writer ranks, row blocks, 2-D boxes, a single chunk) reads back bit for bit, with its bytes
/// items; wrong use fails with one-line errors and leaves nothing behind. Whether torch loads
/// the output is checked by tools/dcp_check.py (run by hand: set CKPT_DCP_WRITE_TO=DIR and run
/// this suite, then `python tools/dcp_check.py DIR/dcp-state-dict --expected
/// .../dcp-state-dict/expected.json`, and the same for dcp-zstd).
@Suite(.enabled(if: DCPFixtures.available, "Tests/Fixtures/interop/dcp-* are not in this checkout"))
struct DCPWriterTests {
    static let files = (0..<3).map { DCPFileName.data(rank: $0, index: 0) }

    /// Another plan for the fixture's tensors: 2-D quarter boxes for 2-D tensors whose rows
    /// and columns both split, three row blocks for the rest, one chunk for 1-D tensors of
    /// layer 1; bytes items in rank 2's file.
    static func plan(for src: DCPCheckpoint) -> DCPWritePlan {
        var tensors: [DCPPlannedTensor] = []
        for t in src.tensors {
            let fqn = t.key.name
            if t.shape.count == 2 && fqn.contains("attn.c_attn") {
                let (r, c) = (t.shape[0], t.shape[1])
                let boxes = [
                    TensorBox(offsets: [0, 0], sizes: [r / 2, c / 3]), TensorBox(offsets: [0, c / 3], sizes: [r / 2, c - c / 3]),
                    TensorBox(offsets: [r / 2, 0], sizes: [r - r / 2, c - c / 3]), TensorBox(offsets: [r / 2, c - c / 3], sizes: [r - r / 2, c / 3]),
                ]
                tensors.append(
                    DCPPlannedTensor(fqn: fqn, dtype: t.dtype, shape: t.shape, chunks: boxes.enumerated().map { DCPPlannedChunk(box: $1, file: files[$0 % 3]) })
                )
            } else if t.shape.count == 1 && fqn.contains(".h.1.") {
                tensors.append(.whole(fqn: fqn, dtype: t.dtype, shape: t.shape, file: files[1]))
            } else {
                tensors.append(.rowBlocks(fqn: fqn, dtype: t.dtype, shape: t.shape, files: files))
            }
        }
        let bytes = src.metadata.bytesItems.map { DCPPlannedBytes(fqn: $0.fqn, file: files[2]) } + [DCPPlannedBytes(fqn: "made_by", file: files[0])]
        return DCPWritePlan(tensors: tensors, bytesItems: bytes)
    }

    /// Writes `src` under `plan` to `out`: whole tensors through `beginTensor` where the plan
    /// is row blocks, else box by box through `beginChunk` with resharding reads of the source.
    static func write(_ src: DCPCheckpoint, plan: DCPWritePlan, to out: String) throws {
        let w = try DCPCheckpointWriter(path: out, plan: plan)
        for t in plan.tensors {
            let rowBlocks = t.chunks.allSatisfy { $0.box.sizes.dropFirst() == t.shape.dropFirst() }
            if rowBlocks {
                let bytes = try src.readAll(.model(t.fqn))
                let s = try w.beginTensor(.model(t.fqn), dtype: t.dtype, shape: t.shape)
                // In uneven pieces, so chunk boundaries fall inside appends.
                var at = 0
                while at < bytes.count {
                    let n = min(bytes.count - at, 52)
                    try bytes[at..<(at + n)].withUnsafeBytes { try s.append($0) }
                    at += n
                }
                try s.finish()
                continue
            }
            for c in t.chunks.reversed() {
                var buf = [UInt8](repeating: 0, count: c.box.count * t.dtype.size)
                try buf.withUnsafeMutableBytes { try src.read(.model(t.fqn), box: c.box, into: $0) }
                let s = try w.beginChunk(t.fqn, box: c.box)
                try buf.withUnsafeBytes { try s.append($0) }
                try s.finish()
            }
        }
        for b in src.metadata.bytesItems { try w.writeBytesItem(b.fqn, bytes: try src.bytesItem(b.fqn)) }
        try w.writeObjectItem("made_by", .dict([PickleDictEntry(key: .string("tool"), value: .string("ckpt"))]))
        try w.commit()
    }

    @Test(arguments: DCPFixtures.names)
    func aRewriteUnderAnotherPlanReadsBackBitForBit(name: String) throws {
        let src = try DCPCheckpoint(path: DCPFixtures.path(name))
        let e = try DCPFixtures.expected(name)
        let d = TestDirectory()
        let out = d.file("out")
        let plan = Self.plan(for: src)
        try Self.write(src, plan: plan, to: out)
        if let keep = ProcessInfo.processInfo.environment["CKPT_DCP_WRITE_TO"] {
            try? FileManager.default.createDirectory(atPath: keep, withIntermediateDirectories: true)
            try? FileManager.default.removeItem(atPath: keep + "/" + name)
            try Self.write(src, plan: plan, to: keep + "/" + name)
        }
        #expect(TestDirectory.list(out) == [".metadata"] + Self.files)
        let back = try DCPCheckpoint(path: out)
        #expect(back.metadata.version == "1.0.0" && back.metadata.storageMeta?.checkpointID == out)
        for t in back.tensors {
            #expect(DCPFixtures.hex(try back.readAll(t.key)) == e.tensors[t.key.name]?.xxh3, "\(t.key.name)")
            #expect(back.entry(t.key.name)?.chunks.map(\.box) == plan.tensors.first { $0.fqn == t.key.name }?.chunks.map(\.box))
        }
        try back.checkItems()
        for (fqn, want) in e.bytesItems {
            let bytes = try back.bytesItem(fqn)
            if name == "dcp-state-dict" { #expect(DCPFixtures.hex(bytes) == want.xxh3, "\(fqn)") }
        }
        #expect(try back.bytesArchive("step").root == .int(7))
        #expect(try back.bytesArchive("made_by").root == .dict([PickleDictEntry(key: .string("tool"), value: .string("ckpt"))]))
        #expect(back.metadata.plannerData?["transformer.wte.weight"] == .tuple([.string("transformer.wte.weight")]))
    }

    static func tinyPlan() -> DCPWritePlan {
        DCPWritePlan(
            tensors: [.rowBlocks(fqn: "w", dtype: .float32, shape: [4, 2], files: ["__0_0.distcp", "__1_0.distcp"])],
            bytesItems: [DCPPlannedBytes(fqn: "step", file: "__0_0.distcp")])
    }

    @Test func wrongUseFailsAndLeavesNothing() throws {
        let d = TestDirectory()
        let out = d.file("out")
        let w = try DCPCheckpointWriter(path: out, plan: Self.tinyPlan())
        #expect(throws: ContainerError.badTensor(path: out, tensor: "w", detail: "chunk [1:3, 0:2] is not in the write plan")) {
            _ = try w.beginChunk("w", box: TensorBox(offsets: [1, 0], sizes: [2, 2]))
        }
        #expect(throws: ContainerError.self) { try w.commit() }
        #expect(!FileManager.default.fileExists(atPath: out))
        #expect(TestDirectory.list(d.path).isEmpty, "the temporary directory is gone")

        let w2 = try DCPCheckpointWriter(path: out, plan: Self.tinyPlan())
        let s = try w2.beginChunk("w", box: TensorBox(offsets: [0, 0], sizes: [2, 2]))
        try [Float](repeating: 1, count: 3).withUnsafeBytes { try s.append($0) }
        #expect(
            throws: ContainerError.badTensor(
                path: out, tensor: "w", detail: "chunk [0:2, 0:2]: \(out)/__0_0.distcp: zip entry archive/data/0: 12 bytes written of the announced 16")
        ) {
            try s.finish()
        }
        w2.abort()
        #expect(TestDirectory.list(d.path).isEmpty)

        let w3 = try DCPCheckpointWriter(path: out, plan: Self.tinyPlan())
        let t = try w3.beginTensor(.model("w"), dtype: .float32, shape: [4, 2])
        try [Float](repeating: 2, count: 8).withUnsafeBytes { try t.append($0) }
        try t.finish()
        #expect(throws: ContainerError.badTensor(path: out, tensor: "step", detail: "bytes item is in the plan but was never written")) { try w3.commit() }
        #expect(!FileManager.default.fileExists(atPath: out))
    }

    @Test func aPlanThatDoesNotTileIsRefused() throws {
        let d = TestDirectory()
        let bad = DCPWritePlan(tensors: [
            DCPPlannedTensor(
                fqn: "w", dtype: .bfloat16, shape: [4, 4],
                chunks: [
                    DCPPlannedChunk(box: TensorBox(offsets: [0, 0], sizes: [4, 3]), file: "__0_0.distcp"),
                    DCPPlannedChunk(box: TensorBox(offsets: [0, 2], sizes: [4, 2]), file: "__0_0.distcp"),
                ])
        ])
        #expect(throws: ContainerError.badTensor(path: d.file("o"), tensor: "w", detail: "chunks [0:4, 0:3] and [0:4, 2:4] overlap")) {
            _ = try DCPCheckpointWriter(path: d.file("o"), plan: bad)
        }
        let escape = DCPWritePlan(tensors: [.whole(fqn: "w", dtype: .float32, shape: [1], file: "../x.distcp")])
        #expect(throws: ContainerError.badTensor(path: d.file("o"), tensor: "w", detail: #"data file "../x.distcp" is not a plain file name"#)) {
            _ = try DCPCheckpointWriter(path: d.file("o"), plan: escape)
        }
        let cols = DCPWritePlan(tensors: [
            DCPPlannedTensor(
                fqn: "w", dtype: .float32, shape: [2, 2],
                chunks: [
                    DCPPlannedChunk(box: TensorBox(offsets: [0, 0], sizes: [2, 1]), file: "a.distcp"),
                    DCPPlannedChunk(box: TensorBox(offsets: [0, 1], sizes: [2, 1]), file: "a.distcp"),
                ])
        ])
        let w = try DCPCheckpointWriter(path: d.file("o"), plan: cols)
        #expect(
            throws: ContainerError.unsupported(
                path: d.file("o"), detail: "tensor w: chunk [0:2, 0:1] is not a block of whole rows; write its chunks with beginChunk")
        ) {
            _ = try w.beginTensor(.model("w"), dtype: .float32, shape: [2, 2])
        }
    }

    @Test func anExistingOutputIsRefused() throws {
        let d = TestDirectory()
        #expect(throws: ContainerError.store(.outputExists(path: d.path))) { _ = try DCPCheckpointWriter(path: d.path, plan: Self.tinyPlan()) }
    }
}
