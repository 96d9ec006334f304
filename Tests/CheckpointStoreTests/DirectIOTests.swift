import CDirectIO
import CHDF5
import Foundation
import Testing

@testable import CheckpointStore

/// The `O_DIRECT` paths (`DirectIO`): the HDF5 driver ckpt creates files with sends the aligned
/// middle of large chunk writes straight to the file and everything else through the page cache,
/// and the bytes land where HDF5's POSIX driver would put them; `DirectReader` reads uncached
/// ranges of any offset and length exactly, and leaves cached ones to the caller.
@Suite struct DirectIOTests {
    /// Whether the directory's filesystem takes `O_DIRECT` writes at all (tmpfs before Linux 6.6
    /// does not): where it does not, the driver writes buffered and only the contents are checked.
    static func takesDirect(_ dir: String) -> Bool {
        let p = dir + "/probe"
        let fd = open(p, O_RDWR | O_CREAT | 0o40000, 0o644)
        defer { unlink(p) }
        guard fd >= 0 else { return false }
        defer { close(fd) }
        let b = UnsafeMutableRawPointer.allocate(byteCount: 4096, alignment: 4096)
        defer { b.deallocate() }
        b.initializeMemory(as: UInt8.self, repeating: 1, count: 4096)
        return pwrite(fd, b, 4096, 0) == 4096
    }

    /// One chunk of `bytes` (uint8, one chunk per dataset) written with `H5Dwrite_chunk` from
    /// `source`, which may be misaligned on purpose. Returns the chunk's file address.
    static func writeChunk(_ file: hid_t, _ name: String, _ source: UnsafeRawPointer, count: Int) -> UInt64? {
        var dims = [hsize_t(count)]
        let space = H5Screate_simple(1, &dims, nil)
        let dcpl = H5Pcreate(ckpt_H5P_DATASET_CREATE())
        defer {
            H5Pclose(dcpl)
            H5Sclose(space)
        }
        guard H5Pset_chunk(dcpl, 1, &dims) >= 0 else { return nil }
        let d = H5Dcreate2(file, name, ckpt_H5T_STD_U8LE(), space, ckpt_H5P_DEFAULT(), dcpl, ckpt_H5P_DEFAULT())
        guard d >= 0 else { return nil }
        defer { H5Dclose(d) }
        var offset: [hsize_t] = [0]
        guard H5Dwrite_chunk(d, ckpt_H5P_DEFAULT(), 0, &offset, count, source) >= 0 else { return nil }
        var mask: UInt32 = 0
        var addr: haddr_t = 0
        var size: hsize_t = 0
        guard H5Dget_chunk_info(d, space, 0, &offset, &mask, &addr, &size) >= 0, size == hsize_t(count) else { return nil }
        return UInt64(addr)
    }

    @Test func largeChunksGoDirectAlignedAndReadBackExactly() throws {
        let dir = makeTempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/direct.h5"
        let direct = DirectIO.enabled && Self.takesDirect(dir)
        // Three chunks: large and aligned in memory (direct), large but misaligned by one byte
        // (buffered), and small (buffered); odd lengths leave unaligned tails.
        let big = 3 << 20 + 123, small = 10_000
        let data = [randomBytes(big, seed: 1), randomBytes(big, seed: 2), randomBytes(small, seed: 3)]
        let aligned = UnsafeMutableRawPointer.allocate(byteCount: big + 4096, alignment: 4096)
        defer { aligned.deallocate() }
        var stats: (direct: UInt64, buffered: UInt64) = (0, 0)
        var addresses: [UInt64?] = []
        HDF5Library.lock()
        let f = HDF5FileAccess.create(path, flags: ckpt_H5F_ACC_EXCL())
        #expect(f >= 0)
        if f >= 0 {
            var before: (UInt64, UInt64) = (0, 0)
            #expect(ckpt_direct_file_stats(f, &before.0, &before.1) == (DirectIO.enabled ? 0 : -1))
            data[0].withUnsafeBytes { aligned.copyMemory(from: $0.baseAddress!, byteCount: big) }
            addresses.append(Self.writeChunk(f, "aligned", aligned, count: big))
            var afterFirst: (UInt64, UInt64) = (0, 0)
            _ = ckpt_direct_file_stats(f, &afterFirst.0, &afterFirst.1)
            data[1].withUnsafeBytes { (aligned + 1).copyMemory(from: $0.baseAddress!, byteCount: big) }
            addresses.append(Self.writeChunk(f, "misaligned", aligned + 1, count: big))
            addresses.append(data[2].withUnsafeBytes { Self.writeChunk(f, "small", $0.baseAddress!, count: small) })
            _ = ckpt_direct_file_stats(f, &stats.direct, &stats.buffered)
            if direct {
                // The first chunk's whole blocks went direct; the later writes added none.
                #expect(afterFirst.0 - before.0 == UInt64(big / 4096 * 4096))
                #expect(stats.direct == afterFirst.0)
            }
            H5Fclose(f)
        }
        HDF5Library.unlock()
        #expect(addresses.allSatisfy { $0 != nil })
        if direct {
            // Large objects start on a block boundary (H5Pset_alignment), small ones need not.
            #expect(addresses[0]! % 4096 == 0 && addresses[1]! % 4096 == 0)
        }

        // Stock HDF5 (the POSIX driver) reads every byte back.
        HDF5Library.lock()
        defer { HDF5Library.unlock() }
        let r = H5Fopen(path, ckpt_H5F_ACC_RDONLY(), ckpt_H5P_DEFAULT())
        #expect(r >= 0)
        guard r >= 0 else { return }
        defer { H5Fclose(r) }
        for (name, expected) in zip(["aligned", "misaligned", "small"], data) {
            let d = H5Dopen2(r, name, ckpt_H5P_DEFAULT())
            #expect(d >= 0)
            var got = [UInt8](repeating: 0, count: expected.count)
            let rc = got.withUnsafeMutableBytes { H5Dread(d, ckpt_H5T_NATIVE_UINT8(), ckpt_H5S_ALL(), ckpt_H5S_ALL(), ckpt_H5P_DEFAULT(), $0.baseAddress) }
            #expect(rc >= 0)
            #expect(got == expected, "dataset \(name)")
            H5Dclose(d)
        }
    }

    @Test func checkpointsWrittenThroughTheDriverRoundTrip() throws {
        let dir = makeTempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let p = dir + "/c.h5"
        // Chunks of a few MiB, shuffled + zstd and plain: both pass through the direct path.
        let n = 1 << 21
        let values = (0..<n).map { Float(sin(Double($0) * 0.001)) }
        let before = DirectIO.bytesWrittenDirect
        for codec in [Codec.zstd(level: 1), .none] {
            try? FileManager.default.removeItem(atPath: p)
            let w = try CheckpointWriter(path: p, options: WriterOptions(codec: codec))
            try w.write(.model("w"), shape: [n / 1024, 1024], floats: values)
            try w.commit()
            let r = try CheckpointReader(path: p)
            #expect(try r.read(.model("w")).floats() == values)
            #expect(try CheckpointVerifier().verify(path: p).ok)
        }
        if DirectIO.enabled && Self.takesDirect(dir) { #expect(DirectIO.bytesWrittenDirect > before) }
    }

    /// A file of `count` pseudo-random bytes, fsynced and dropped from the page cache.
    static func coldFile(_ path: String, count: Int) -> [UInt8] {
        let bytes = randomBytes(count, seed: 7)
        FileManager.default.createFile(atPath: path, contents: Data(bytes))
        let fd = open(path, O_RDONLY)
        fsync(fd)
        posix_fadvise(fd, 0, 0, Int32(POSIX_FADV_DONTNEED))
        close(fd)
        return bytes
    }

    @Test func directReadsAnyRangeExactly() throws {
        let dir = makeTempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let p = dir + "/in.bin"
        let count = 20 << 20 + 777
        let bytes = Self.coldFile(p, count: count)
        guard let reader = DirectReader(path: p) else { return }  // direct I/O off, or refused here
        // Where the filesystem takes direct transfers every cold read below must be one.
        let strict = Self.takesDirect(dir)
        let fd = open(p, O_RDONLY)
        defer { close(fd) }
        // Odd offsets and lengths, longer than one bounce buffer, up to the file's last byte.
        for (offset, length) in [(1, 9 << 20), (4095, 300_001), (4096, 8 << 20), (count - 262_144 - 5, 262_149), (0, count)] {
            posix_fadvise(fd, 0, 0, Int32(POSIX_FADV_DONTNEED))
            // Declining is right only when the pages stayed cached (the kernel may keep some).
            let cached = ckpt_cached_percent(fd, off_t(offset), length) >= 50
            var got = [UInt8](repeating: 0, count: length)
            let outcome = got.withUnsafeMutableBytes { reader.read(at: offset, count: length, into: $0.baseAddress!, buffered: fd) }
            #expect(outcome == .done || (outcome == .declined && (!strict || cached)), "offset \(offset)")
            if outcome == .done { #expect(got[...] == bytes[offset..<offset + length], "offset \(offset) length \(length)") }
        }
        // Small reads are left to the caller; so is a range past the end of the file's bytes.
        var small = [UInt8](repeating: 0, count: 4096)
        #expect(small.withUnsafeMutableBytes { reader.read(at: 0, count: 4096, into: $0.baseAddress!, buffered: fd) } == .declined)
        var past = [UInt8](repeating: 0, count: 1 << 20)
        posix_fadvise(fd, 0, 0, Int32(POSIX_FADV_DONTNEED))
        let outcome = past.withUnsafeMutableBytes { reader.read(at: count - 1000, count: 1 << 20, into: $0.baseAddress!, buffered: fd) }
        #expect(outcome == .shortFile || (!strict && outcome == .declined))
    }

    @Test func cachedRangesAreLeftToThePageCache() throws {
        let dir = makeTempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let p = dir + "/in.bin"
        let count = 4 << 20
        _ = Self.coldFile(p, count: count)
        let fd = open(p, O_RDONLY)
        defer { close(fd) }
        let cold = ckpt_cached_percent(fd, 0, count)
        // Read it buffered: now cached, and DirectReader declines it.
        var warm = [UInt8](repeating: 0, count: count)
        #expect(warm.withUnsafeMutableBytes { pread(fd, $0.baseAddress, count, 0) } == count)
        #expect(ckpt_cached_percent(fd, 0, count) == 100)
        #expect(cold < 100)
        if let reader = DirectReader(path: p) {
            #expect(warm.withUnsafeMutableBytes { reader.read(at: 0, count: count, into: $0.baseAddress!, buffered: fd) } == .declined)
        }
    }

    @Test func uncachedChunksAtAnyAddressReadBackExactly() throws {
        // A file of HDF5's own POSIX driver (no alignment): a small dataset first, so the
        // chunks of the large one start at arbitrary addresses; dropped from the page cache,
        // its chunks are read directly and decoded from inside the aligned span.
        let dir = makeTempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let p = dir + "/stock.h5"
        let rows = 3, cols = 300_001
        let values = (0..<(rows * cols)).map { Float($0 % 9973) * 0.5 }
        HDF5Library.lock()
        let f = H5Fcreate(p, ckpt_H5F_ACC_TRUNC(), ckpt_H5P_DEFAULT(), ckpt_H5P_DEFAULT())
        #expect(f >= 0)
        var small: [hsize_t] = [3]
        let s1 = H5Screate_simple(1, &small, nil)
        let d1 = H5Dcreate2(f, "small", ckpt_H5T_STD_U8LE(), s1, ckpt_H5P_DEFAULT(), ckpt_H5P_DEFAULT(), ckpt_H5P_DEFAULT())
        var three: [UInt8] = [1, 2, 3]
        H5Dwrite(d1, ckpt_H5T_NATIVE_UINT8(), ckpt_H5S_ALL(), ckpt_H5S_ALL(), ckpt_H5P_DEFAULT(), &three)
        H5Dclose(d1)
        H5Sclose(s1)
        var dims: [hsize_t] = [hsize_t(rows), hsize_t(cols)]
        var chunk: [hsize_t] = [1, hsize_t(cols)]
        let space = H5Screate_simple(2, &dims, nil)
        let dcpl = H5Pcreate(ckpt_H5P_DATASET_CREATE())
        H5Pset_chunk(dcpl, 2, &chunk)
        let d = H5Dcreate2(f, "big", ckpt_H5T_IEEE_F32LE(), space, ckpt_H5P_DEFAULT(), dcpl, ckpt_H5P_DEFAULT())
        _ = values.withUnsafeBytes { H5Dwrite(d, ckpt_H5T_NATIVE_FLOAT(), ckpt_H5S_ALL(), ckpt_H5S_ALL(), ckpt_H5P_DEFAULT(), $0.baseAddress) }
        var addresses: [UInt64] = []
        for k in 0..<rows {
            var off: [hsize_t] = [0, 0]
            var mask: UInt32 = 0
            var addr: haddr_t = 0
            var size: hsize_t = 0
            H5Dget_chunk_info(d, space, hsize_t(k), &off, &mask, &addr, &size)
            addresses.append(UInt64(addr))
        }
        H5Dclose(d)
        H5Pclose(dcpl)
        H5Sclose(space)
        H5Fclose(f)
        HDF5Library.unlock()
        #expect(addresses.contains { $0 % 4096 != 0 })
        let fd = open(p, O_RDONLY)
        fsync(fd)
        posix_fadvise(fd, 0, 0, Int32(POSIX_FADV_DONTNEED))
        #expect(ckpt_cached_percent(fd, off_t(addresses[0]), cols * 4) < 50)
        close(fd)
        let file = try HDF5DatasetFile(path: p)
        var got = [Float](repeating: -1, count: values.count)
        try got.withUnsafeMutableBytes { try file.read("big", tensor: "big", selection: nil, into: $0) }
        #expect(got == values)
    }
}
