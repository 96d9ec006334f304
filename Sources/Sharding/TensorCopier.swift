import CheckpointStore

/// Streams one planned output tensor (one section) into a writer, in row blocks: each block is
/// zero-filled (padding stays zero), the pieces overlapping it are read as hyperslabs and placed,
/// and the block is appended to the `TensorStream`. Memory: two blocks.
struct TensorCopier {
    let source: CheckpointSource
    let blockBytes: Int

    /// Writes `tensor`'s `section` to `writer`; calls `progress` with bytes appended.
    func copy(_ tensor: PlannedTensor, _ section: SectionDType, to writer: CheckpointWriter,
              progress: (Int) -> Void) throws(ShardingError) {
        let target = tensor.target
        let es = section.dtype.size
        let rows = target.rows, cols = target.cols
        let rowBytes = cols * es
        let rowsPerBlock = max(1, blockBytes / max(1, rowBytes))
        let stream: TensorStream
        do { stream = try writer.beginTensor(TensorKey(section: section.section, name: target.name), dtype: section.dtype, shape: target.shape) }
        catch { throw .store(error) }
        let block = UnsafeMutableRawBufferPointer.allocate(byteCount: max(1, min(rows, rowsPerBlock) * rowBytes), alignment: 16)
        let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: max(1, min(rows, rowsPerBlock) * rowBytes), alignment: 16)
        defer {
            block.deallocate()
            scratch.deallocate()
        }
        var shapes: [String: [Int]] = [:]
        var first = 0
        var r0 = 0
        while r0 < rows {
            let r1 = min(rows, r0 + rowsPerBlock)
            let bytes = (r1 - r0) * rowBytes
            block.baseAddress!.initializeMemory(as: UInt8.self, repeating: 0, count: bytes)
            while first < tensor.pieces.count && tensor.pieces[first].destRows.upperBound <= r0 { first += 1 }
            var k = first
            while k < tensor.pieces.count && tensor.pieces[k].destRow < r1 {
                let p = tensor.pieces[k]
                k += 1
                let lo = max(r0, p.destRow), hi = min(r1, p.destRows.upperBound)
                if hi <= lo { continue }
                let reader = source.reader(p.source)
                let key = TensorKey(section: section.section, name: p.sourceTensor)
                let shapeKey = "\(p.source) \(key)"
                if shapes[shapeKey] == nil {
                    do { shapes[shapeKey] = try reader.info(key).shape } catch { throw .store(error) }
                }
                let srcLo = p.sourceRows.lowerBound + lo - p.destRow
                let pieceCols = p.sourceCols.count
                try RectangleReader.read(reader, key, shape: shapes[shapeKey]!, rows: srcLo ..< srcLo + (hi - lo),
                                         cols: p.sourceCols, into: scratch)
                let span = pieceCols * es
                if span == rowBytes {
                    (block.baseAddress! + (lo - r0) * rowBytes).copyMemory(from: scratch.baseAddress!, byteCount: (hi - lo) * rowBytes)
                } else {
                    for i in 0 ..< hi - lo {
                        (block.baseAddress! + (lo - r0 + i) * rowBytes + p.destCol * es)
                            .copyMemory(from: scratch.baseAddress! + i * span, byteCount: span)
                    }
                }
            }
            do { try stream.append(UnsafeRawBufferPointer(start: block.baseAddress!, count: bytes)) } catch { throw .store(error) }
            progress(bytes)
            r0 = r1
        }
        do { try stream.finish() } catch { throw .store(error) }
    }
}
