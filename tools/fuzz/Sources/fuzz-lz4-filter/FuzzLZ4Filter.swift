import CheckpointStore
import Glibc

/// libFuzzer entry: decodes the input as one chunk of hdf5plugin's LZ4 filter (32004) into a
/// buffer of the size its header declares (at most 1 MiB). A chunk that decodes must fill
/// exactly that size and survive re-encoding (decode(encode(x)) == x, in one block and in small
/// blocks); a chunk that lies about a size must fail with a one-line message, never read or
/// write outside the buffers (AddressSanitizer).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzLZ4Filter(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    guard let data else { return 0 }
    var declared = 0
    if size >= 8 { for k in 0..<8 { declared = declared << 8 | Int(data[k]) } }
    let capacity = max(0, min(declared, 1 << 20))
    let out = UnsafeMutableRawPointer.allocate(byteCount: max(capacity, 1), alignment: 16)
    defer { out.deallocate() }
    switch LZ4Chunk.decode(UnsafeRawPointer(data), count: size, into: out, capacity: capacity) {
    case .failure(let f):
        guard !f.description.contains("\n") else { fatalError("multi-line error: \(f.description)") }
    case .success(let n):
        guard n == declared, n <= capacity else { fatalError("decoded \(n) bytes, the header declares \(declared)") }
        for block in [LZ4Chunk.defaultBlockSize, 7] {
            let cap = LZ4Chunk.capacity(rawBytes: n, blockSize: block)
            let enc = UnsafeMutableRawPointer.allocate(byteCount: cap, alignment: 16)
            defer { enc.deallocate() }
            guard let m = LZ4Chunk.encode(out, count: n, blockSize: block, into: enc, capacity: cap) else { fatalError("encode failed") }
            let back = UnsafeMutableRawPointer.allocate(byteCount: max(n, 1), alignment: 16)
            defer { back.deallocate() }
            guard case .success(let r) = LZ4Chunk.decode(enc, count: m, into: back, capacity: n), r == n,
                memcmp(back, out, n) == 0
            else { fatalError("decode(encode(x)) != x for \(n) bytes in blocks of \(block)") }
        }
    }
    return 0
}
