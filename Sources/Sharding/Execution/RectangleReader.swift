import CheckpointStore

/// Reads rectangles (matrix view: rows x columns) of stored tensors through hyperslab selections.
enum RectangleReader {
    /// Reads `rows x cols` of `key` (shape `shape`) into `buffer`, row-major.
    static func read(
        _ reader: CheckpointReader, _ key: TensorKey, shape: [Int], rows: Range<Int>, cols: Range<Int>,
        into buffer: UnsafeMutableRawBufferPointer
    ) throws(ShardingError) {
        let selection: [DimSelection]?
        switch shape.count {
        case 0: selection = nil
        case 1: selection = [.range(rows)]
        case 2: selection = [.range(rows), .range(cols)]
        default: selection = [.range(rows)] + shape.dropFirst().map { .all($0) }
        }
        do { try reader.read(key, selection: selection, into: buffer) } catch { throw .store(error) }
    }
}
