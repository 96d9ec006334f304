import CheckpointStore
import Containers

/// libFuzzer entry: validates the input as a whole safetensors file. A header that passes must
/// describe tensors that tile the data exactly and can all be copied out (AddressSanitizer
/// catches a read outside the input); a header that fails must fail with a one-line message.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSafetensors(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let file = UnsafeRawBufferPointer(start: data, count: size)
    do {
        let header = try SafetensorsHeader.parse(file: file, path: "fuzz.safetensors")
        var end = 0
        for e in header.entries {
            guard e.begin == end, e.end >= e.begin else { fatalError("entries do not tile the data: \(e)") }
            var bits = e.dtype.bits
            for d in e.shape { bits *= d }  // validated not to overflow
            guard bits / 8 == e.byteCount else { fatalError("byte count does not match the shape: \(e)") }
            end = e.end
            guard let dtype = e.dtype.ckptType, e.byteCount > 0, let base = file.baseAddress else { continue }
            let out = UnsafeMutableRawPointer.allocate(byteCount: e.byteCount, alignment: 8)
            defer { out.deallocate() }
            var strides = Array(repeating: 1, count: e.shape.count)
            for d in stride(from: e.shape.count - 2, through: 0, by: -1) { strides[d] = strides[d + 1] * e.shape[d + 1] }
            StridedCopy.copy(
                from: base + header.dataStart + e.begin, elementSize: dtype.size, offset: 0, shape: e.shape, strides: strides,
                box: .whole(e.shape), into: out)
        }
        guard header.dataStart + end == size else { fatalError("data does not end at the end of the file") }
    } catch {
        guard !error.description.contains("\n") else { fatalError("multi-line error: \(error.description)") }
    }
    return 0
}
