import CheckpointStore
import Testing

@testable import Sharding

/// After each round the writer retires the source windows no later round of the group reads:
/// for every tensor the round read, the rows later rounds still ask for.
@Suite struct FileGroupWriterTests {
    static func request(_ name: String, _ rows: Range<Int>) -> SourceWindowCache.Request {
        .init(file: .wafer, tensor: .model(name), rows: rows)
    }

    static func key(_ name: String) -> SourceWindowCache.Key { .init(file: .wafer, tensor: .model(name)) }

    @Test func laterRowsAreKeptAndTheRestRetired() {
        let rounds: [[SourceWindowCache.Request]] = [
            [Self.request("a", 0..<4), Self.request("b", 0..<2), Self.request("a", 2..<6)],
            [Self.request("a", 6..<8)],
            [Self.request("a", 0..<2), Self.request("b", 5..<6)],
        ]
        let plan = FileGroupWriter.retirements(rounds, retained: [])
        #expect(plan[0].map(\.0) == [Self.key("a"), Self.key("b")], "each tensor once, in the order read")
        #expect(plan[0][0].1 == [0..<2, 6..<8])
        #expect(plan[0][1].1 == [5..<6])
        #expect(plan[1].map(\.1) == [[0..<2]])
        #expect(plan[2].map(\.1) == [[], []], "after its last round nothing of a tensor is kept")
        // A tensor a later group reads is never retired.
        let kept = FileGroupWriter.retirements(rounds, retained: [Self.key("b")])
        #expect(kept.flatMap { $0.map(\.0) }.allSatisfy { $0 == Self.key("a") })
    }

    @Test func rangesJoinWhenTheyOverlapOrTouch() {
        var r: [Range<Int>] = []
        for x in [10..<12, 0..<2, 5..<6, 2..<3, 11..<15, 6..<10] { r = FileGroupWriter.union(r, x) }
        #expect(r == [0..<3, 5..<15])
        #expect(FileGroupWriter.union([0..<3, 5..<15], 20..<21) == [0..<3, 5..<15, 20..<21])
        #expect(FileGroupWriter.union([0..<3, 5..<15], 3..<5) == [0..<15])
    }
}
