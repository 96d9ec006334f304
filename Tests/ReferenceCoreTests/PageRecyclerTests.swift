import Glibc
import Testing

@testable import ReferenceCore

/// `PageRecycler`: best-fit reuse with splitting, merging of neighbouring regions, refusal after
/// `close`, and zero-filled `ScalarBuffer`s on reused memory.
@Suite struct PageRecyclerTests {
    static let page = PageRecycler.page

    /// A fresh anonymous mapping of `pages` pages.
    static func map(pages: Int) -> UnsafeMutableRawPointer {
        let raw = mmap(nil, pages * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
        precondition(raw != nil && raw != MAP_FAILED)
        return raw!
    }

    @Test func takesTheSmallestFittingRegionAndSplitsIt() {
        let r = PageRecycler()
        // One mapping, two regions with a gap of two pages between them (so they never merge).
        let base = Self.map(pages: 13)
        let big = base, small = base + 10 * Self.page
        #expect(r.give(big, length: 8 * Self.page))
        #expect(r.give(small, length: 3 * Self.page))
        #expect(r.take(2 * Self.page) == small)  // best fit: the 3-page region
        #expect(r.keptBytes == 9 * Self.page)  // 8 + the 1 page split off
        #expect(r.take(4 * Self.page) == big)
        #expect(r.take(5 * Self.page) == nil)  // 4 + 1 pages left, not adjacent
        #expect(r.take(4 * Self.page) == big + 4 * Self.page)
        r.close()
        munmap(base, 13 * Self.page)
    }

    @Test func mergesNeighboursAndRefusesAfterClose() {
        let r = PageRecycler()
        let base = Self.map(pages: 6)
        // Given out of order: the three 2-page pieces merge into one 6-page region.
        #expect(r.give(base + 4 * Self.page, length: 2 * Self.page))
        #expect(r.give(base, length: 2 * Self.page))
        #expect(r.give(base + 2 * Self.page, length: 2 * Self.page))
        #expect(r.take(6 * Self.page) == base)
        #expect(r.keptBytes == 0)
        r.close()
        #expect(!r.give(base, length: 6 * Self.page))
        munmap(base, 6 * Self.page)
    }

    @Test func reusedBuffersAreZeroFilled() {
        let r = PageRecycler()
        let count = ScalarBuffer<Float>.mappedThreshold / 4 * 3
        var address: UnsafeMutablePointer<Float>?
        do {
            let first = ScalarBuffer<Float>(count: count, recycler: r)
            for i in 0..<count { first[i] = Float(i) + 1 }
            address = first.pointer
        }
        #expect(r.keptBytes >= count * 4)
        let second = ScalarBuffer<Float>(count: count, recycler: r)
        #expect(second.pointer == address)  // the freed memory was reused
        #expect((0..<count).allSatisfy { second[$0] == 0 })
        r.close()
    }
}
