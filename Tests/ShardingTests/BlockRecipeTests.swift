import CheckpointStore
import Containers
import Testing

@testable import Sharding

/// A block made of whole-row runs of the windows is written straight from them, with zero runs
/// for the rows no copy fills, and holds the same bytes as the block filled by box copies; a
/// block whose copies are not contiguous runs (a column slice, a transpose) is filled instead.
@Suite struct BlockRecipeTests {
    /// Collects what is appended.
    final class Collector: TensorByteSink {
        var bytes: [UInt8] = []
        var appends = 0
        func append(_ b: UnsafeRawBufferPointer) throws(ContainerError) {
            bytes.append(contentsOf: b)
            appends += 1
        }
        func finish() throws(ContainerError) {}
    }

    /// Row length: 2048 16-bit elements (4 KiB rows, long enough for runs).
    static let cols = 2048

    /// A window of `rows` rows whose elements count up from `first`.
    static func window(rows: Int, first: Int) -> UnsafeMutableRawPointer {
        let p = UnsafeMutableRawPointer.allocate(byteCount: rows * cols * 2, alignment: 64)
        for i in 0..<rows * cols { p.storeBytes(of: UInt16(truncatingIfNeeded: first + i), toByteOffset: 2 * i, as: UInt16.self) }
        return p
    }

    static func rows(_ r: Range<Int>, of rows: Int) -> TensorBox { .rows(r, of: [rows, cols]) }

    /// The bytes `recipe` writes, the bytes it fills, and the number of appends.
    static func written(_ recipe: BlockRecipe) throws -> (written: [UInt8], filled: [UInt8], appends: Int) {
        let block = UnsafeMutableRawPointer.allocate(byteCount: recipe.byteCount, alignment: 64)
        defer { block.deallocate() }
        // Garbage first: whatever the recipe does not write must not survive.
        block.initializeMemory(as: UInt8.self, repeating: 0xA5, count: recipe.byteCount)
        let sink = Collector()
        try recipe.write(to: sink, block: block)
        block.initializeMemory(as: UInt8.self, repeating: 0xA5, count: recipe.byteCount)
        recipe.fill(into: block)
        return (sink.bytes, Array(UnsafeRawBufferPointer(start: block, count: recipe.byteCount)), sink.appends)
    }

    @Test func wholeRowRunsAreWrittenFromTheWindowsWithZeroGaps() throws {
        let a = Self.window(rows: 4, first: 1), b = Self.window(rows: 3, first: 50_000)
        defer {
            a.deallocate()
            b.deallocate()
        }
        // Block [6, cols]: rows 0..<2 from a's rows 1..<3, row 2 padding, rows 3..<5 from b's
        // rows 0..<2, row 5 padding.
        let copies: [BlockRecipe.Copy] = [
            .init(source: b, sourceShape: [3, Self.cols], sourceBox: Self.rows(0..<2, of: 3), destBox: Self.rows(3..<5, of: 6), transposed: false),
            .init(source: a, sourceShape: [4, Self.cols], sourceBox: Self.rows(1..<3, of: 4), destBox: Self.rows(0..<2, of: 6), transposed: false),
        ]
        let recipe = BlockRecipe(
            byteCount: 6 * Self.cols * 2, blockShape: [6, Self.cols], elementSize: 2, copies: copies, coversBlock: false, widenedFrom: nil)
        let runs = try #require(recipe.runs)
        #expect(runs.count == 4)
        let (written, filled, appends) = try Self.written(recipe)
        #expect(appends == 4)
        #expect(written == filled)
        let row = Self.cols * 2
        #expect(Array(written[0..<2 * row]) == Array(UnsafeRawBufferPointer(start: a + row, count: 2 * row)))
        #expect(written[2 * row..<3 * row].allSatisfy { $0 == 0 })
        #expect(Array(written[3 * row..<5 * row]) == Array(UnsafeRawBufferPointer(start: b, count: 2 * row)))
        #expect(written[5 * row..<6 * row].allSatisfy { $0 == 0 })
    }

    @Test(arguments: [false, true])
    func columnSlicesAndTransposesAreFilled(_ transposed: Bool) throws {
        let a = Self.window(rows: 4, first: 7)
        defer { a.deallocate() }
        // Columns 0..<1024 of a's 4 rows into the left half of a [4, cols] block, or (transposed)
        // a's [4, 4] corner into the block's corner.
        let copy: BlockRecipe.Copy =
            transposed
            ? .init(
                source: a, sourceShape: [4, Self.cols], sourceBox: TensorBox(offsets: [0, 0], sizes: [4, 4]),
                destBox: TensorBox(offsets: [0, 0], sizes: [4, 4]), transposed: true)
            : .init(
                source: a, sourceShape: [4, Self.cols], sourceBox: TensorBox(offsets: [0, 0], sizes: [4, 1024]),
                destBox: TensorBox(offsets: [0, 0], sizes: [4, 1024]), transposed: false)
        let recipe = BlockRecipe(
            byteCount: 4 * Self.cols * 2, blockShape: [4, Self.cols], elementSize: 2, copies: [copy], coversBlock: false, widenedFrom: nil)
        #expect(recipe.runs == nil)
        let (written, filled, appends) = try Self.written(recipe)
        #expect(appends == 1)
        #expect(written == filled)
        let element = { (r: Int, c: Int) in UInt16(written[2 * (r * Self.cols + c)]) | UInt16(written[2 * (r * Self.cols + c) + 1]) << 8 }
        #expect(element(1, 2) == UInt16(7 + (transposed ? 2 * Self.cols + 1 : Self.cols + 2)))
        #expect(element(3, 2000) == 0)
    }

    @Test func shortRunsAreCopiedIntoTheBlock() throws {
        // 8-byte rows: one append per row would cost more than the copy.
        let p = UnsafeMutableRawPointer.allocate(byteCount: 64, alignment: 64)
        defer { p.deallocate() }
        p.initializeMemory(as: UInt8.self, repeating: 3, count: 64)
        let copies: [BlockRecipe.Copy] = (0..<2).map { r in
            .init(
                source: p, sourceShape: [8, 4], sourceBox: .rows(r..<r + 1, of: [8, 4]), destBox: .rows(2 * r..<2 * r + 1, of: [4, 4]),
                transposed: false)
        }
        let recipe = BlockRecipe(byteCount: 32, blockShape: [4, 4], elementSize: 2, copies: copies, coversBlock: false, widenedFrom: nil)
        #expect(recipe.runs == nil)
        let row = { (b: UInt8) in [UInt8](repeating: b, count: 8) }
        #expect(try Self.written(recipe).written == row(3) + row(0) + row(3) + row(0))
    }

    @Test func contiguousRanges() {
        let shape = [3, 4, 5]
        #expect(BlockRecipe.contiguousRange(.whole(shape), in: shape) == 0..<60)
        #expect(BlockRecipe.contiguousRange(TensorBox(offsets: [1, 0, 0], sizes: [2, 4, 5]), in: shape) == 20..<60)
        #expect(BlockRecipe.contiguousRange(TensorBox(offsets: [1, 2, 1], sizes: [1, 1, 3]), in: shape) == 31..<34)
        #expect(BlockRecipe.contiguousRange(TensorBox(offsets: [2, 1, 0], sizes: [1, 2, 5]), in: shape) == 45..<55)
        #expect(BlockRecipe.contiguousRange(TensorBox(offsets: [0, 1, 0], sizes: [2, 2, 5]), in: shape) == nil)
        #expect(BlockRecipe.contiguousRange(TensorBox(offsets: [0, 0, 0], sizes: [1, 2, 4]), in: shape) == nil)
        #expect(BlockRecipe.contiguousRange(TensorBox(offsets: [], sizes: []), in: []) == 0..<1)
    }

    @Test func boxesTileABlockOnlyWhenDisjointAndComplete() {
        let left = TensorBox(offsets: [0, 0], sizes: [4, 2]), right = TensorBox(offsets: [0, 2], sizes: [4, 2])
        #expect(BlockFiller.tiles([left, right], elements: 16))
        #expect(!BlockFiller.tiles([left], elements: 16), "a gap")
        // As many elements as the block, but overlapping: a column is left unset.
        #expect(!BlockFiller.tiles([left, TensorBox(offsets: [0, 1], sizes: [4, 2])], elements: 16))
    }
}
