import CheckpointStore

/// A single-file (wafer layout) checkpoint read through `CheckpointReader`.
public final class CheckpointFileSource: TensorSource {
    /// The reader.
    public let reader: CheckpointReader

    /// Opens `path`, refusing a file whose metadata checksum does not match (its learning rate,
    /// step or configuration may have been changed).
    public init(path: String) throws(ReferenceError) {
        do {
            reader = try CheckpointReader(path: path)
            try reader.requireIntactMetadata()
        } catch {
            throw .store(error)
        }
    }

    /// The file path.
    public var path: String { reader.path }
    /// The file's metadata.
    public var metadata: CheckpointMetadata { reader.metadata }

    /// dtype and shape from the file's dataset description.
    public func describe(_ key: TensorKey) -> (dtype: DType, shape: [Int])? {
        guard reader.contains(key), let i = try? reader.info(key) else { return nil }
        return (i.dtype, i.shape)
    }

    /// Reads and widens one tensor (xxh3_64 verified). float32 tensors are read straight into
    /// the returned array (no intermediate byte copy).
    public func readFloats(_ key: TensorKey) throws(ReferenceError) -> [Float] {
        do throws(StoreError) {
            let info = try reader.info(key)
            guard info.dtype == .float32 else { return try reader.readFloats(key) }
            var out = [Float](repeating: 0, count: info.elementCount)
            var failure: StoreError?
            out.withUnsafeMutableBytes { b in
                do throws(StoreError) { try reader.read(key, selection: nil, into: b) } catch { failure = error }
            }
            if let failure { throw failure }
            return out
        } catch {
            throw .store(error)
        }
    }

    /// Reads one tensor (xxh3_64 verified) into `out`; float32 tensors are decoded straight
    /// into it.
    public func readFloats(_ key: TensorKey, into out: UnsafeMutableBufferPointer<Float>) throws(ReferenceError) {
        let info: TensorInfo
        do { info = try reader.info(key) } catch { throw .store(error) }
        guard info.elementCount == out.count else {
            throw .invalidArgument("\(path): tensor \(key) has \(info.elementCount) elements, expected \(out.count)")
        }
        do throws(StoreError) {
            if info.dtype == .float32 {
                try reader.read(key, selection: nil, into: UnsafeMutableRawBufferPointer(out))
            } else {
                _ = out.update(fromContentsOf: try reader.readFloats(key))
            }
        } catch {
            throw .store(error)
        }
    }

    /// Reads rows of one tensor. Rows covering the whole tensor are a full read (xxh3_64
    /// verified); a part verifies the chunks' Fletcher-32 checksums.
    public func readFloats(_ key: TensorKey, rows: Range<Int>) throws(ReferenceError) -> [Float] {
        if let d = describe(key), rows == 0..<(d.shape.first ?? 1) { return try readFloats(key) }
        do {
            return try reader.read(key, rows: rows).floats()
        } catch {
            throw .store(error)
        }
    }
}
