import CheckpointStore
import Foundation

/// Writes NumPy `.npy` (version 1.0) files, streaming row blocks, atomically.
enum NpyWriter {
    /// The NumPy dtype string of a stored dtype (bfloat16 widens to float32).
    static func descr(_ d: DType) -> String {
        switch d {
        case .float32, .bfloat16: return "<f4"
        case .float16: return "<f2"
        case .float64: return "<f8"
        case .int8: return "|i1"
        case .int16: return "<i2"
        case .int32: return "<i4"
        case .int64: return "<i8"
        case .uint8: return "|u1"
        case .bool: return "|b1"
        }
    }

    static func header(descr: String, shape: [Int]) -> [UInt8] {
        let shapeText = shape.isEmpty ? "()" : shape.count == 1 ? "(\(shape[0]),)" : "(" + shape.map(String.init).joined(separator: ", ") + ")"
        var dict = "{'descr': '\(descr)', 'fortran_order': False, 'shape': \(shapeText), }"
        let unpadded = 10 + dict.utf8.count + 1
        dict += String(repeating: " ", count: (64 - unpadded % 64) % 64) + "\n"
        var h: [UInt8] = [0x93] + Array("NUMPY".utf8) + [1, 0]
        let len = UInt16(dict.utf8.count)
        h += [UInt8(len & 0xff), UInt8(len >> 8)]
        h += Array(dict.utf8)
        return h
    }

    /// Writes `rows` of the tensor (or the whole scalar when nil) to `out`; `progress` gets the
    /// rows written so far. An existing `out` is replaced only with `replace`.
    static func write(
        reader: CheckpointReader, key: TensorKey, info: TensorInfo, rows: Range<Int>?, shape: [Int], to out: String,
        replace: Bool, progress: (Int) -> Void = { _ in }
    ) throws {
        try write(dtype: info.dtype, tensorShape: info.shape, rows: rows, shape: shape, to: out, replace: replace, progress: progress) { r in
            guard let r else { return try reader.read(key) }
            return try reader.read(key, selection: [.range(r)] + info.shape.dropFirst().map { .all($0) })
        }
    }

    /// Writes `rows` of a tensor held in memory (an assembled Megatron tensor) to `out`.
    static func write(
        data: TensorData, rows: Range<Int>?, shape: [Int], to out: String, replace: Bool, progress: (Int) -> Void = { _ in }
    ) throws {
        let rowBytes = data.shape.dropFirst().reduce(1, *) * data.dtype.size
        try write(dtype: data.dtype, tensorShape: data.shape, rows: rows, shape: shape, to: out, replace: replace, progress: progress) { r in
            guard let r else { return data }
            return TensorData(
                dtype: data.dtype, shape: [r.count] + data.shape.dropFirst(),
                bytes: Array(data.bytes[(r.lowerBound * rowBytes)..<(r.upperBound * rowBytes)]))
        }
    }

    /// Writes the header, then blocks of rows obtained from `read` (nil: the whole tensor),
    /// through a registered temporary beside `out`, published when complete.
    private static func write(
        dtype: DType, tensorShape: [Int], rows: Range<Int>?, shape: [Int], to out: String, replace: Bool, progress: (Int) -> Void,
        read: (Range<Int>?) throws -> TensorData
    ) throws {
        let tmp = AtomicFile.temporaryPath(for: out)
        StaleTemporaries.removeStale(beside: out)
        TemporaryRegistry.register(tmp)  // before it exists: a signal as it appears must find it
        guard FileManager.default.createFile(atPath: tmp, contents: nil) else {
            let e = errno
            TemporaryRegistry.unregister(tmp)
            throw StoreError.io(path: out, operation: "creating \(tmp)", errno: e)
        }
        guard let h = FileHandle(forWritingAtPath: tmp) else {
            let e = errno
            unlink(tmp)
            TemporaryRegistry.unregister(tmp)
            throw StoreError.io(path: out, operation: "opening \(tmp)", errno: e)
        }
        var ok = false
        defer {
            try? h.close()
            if !ok { unlink(tmp) }
            TemporaryRegistry.unregister(tmp)
        }
        do {
            try h.write(contentsOf: header(descr: descr(dtype), shape: shape))
            if let rows {
                let rowElems = tensorShape.dropFirst().reduce(1, *)
                let per = max(1, (32 << 20) / max(1, rowElems * dtype.size))
                var r = rows.lowerBound
                while r < rows.upperBound {
                    let n = min(per, rows.upperBound - r)
                    try h.write(contentsOf: payload(try read(r..<(r + n))))
                    r += n
                    progress(r - rows.lowerBound)
                }
            } else {
                try h.write(contentsOf: payload(try read(nil)))
            }
            try h.synchronize()
            try h.close()
        } catch let e as StoreError {
            throw e
        } catch {
            throw StoreError.io(path: out, operation: "writing", errno: errno == 0 ? EIO : errno)
        }
        try AtomicFile.publish(tmp, as: out, replace: replace)
        ok = true
    }

    private static func payload(_ d: TensorData) -> Data {
        if d.dtype == .bfloat16 { return d.floats().withUnsafeBytes { Data($0) } }
        return Data(d.bytes)
    }
}
