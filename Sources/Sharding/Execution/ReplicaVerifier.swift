import CheckpointStore
import Foundation

/// Compares every replica rectangle of a source with its primary, bit for bit, in row blocks.
struct ReplicaVerifier {
    let source: CheckpointSource
    let plan: ReshardPlan
    let sections: (ShardFile, String) -> [SectionDType]
    let blockBytes: Int

    /// Throws `divergentReplica` on the first difference unless `allowDivergent`; then returns
    /// every divergent replica with its maximum absolute difference.
    func verify(allowDivergent: Bool) throws(ShardingError) -> [DivergentReplica] {
        var found: [DivergentReplica] = []
        // Two block buffers for the whole run, grown when a check needs more.
        var a = UnsafeMutableRawBufferPointer.allocate(byteCount: 1, alignment: 64)
        var b = UnsafeMutableRawBufferPointer.allocate(byteCount: 1, alignment: 64)
        defer {
            a.deallocate()
            b.deallocate()
        }
        for check in plan.replicaChecks {
            let replicaReader = try source.reader(check.replica)
            let refReader = try source.reader(check.reference.source)
            for s in sections(check.replica, check.replicaTensor) {
                let rKey = TensorKey(section: s.section, name: check.replicaTensor)
                let pKey = TensorKey(section: s.section, name: check.reference.sourceTensor)
                let rShape: [Int], pShape: [Int]
                do {
                    rShape = try replicaReader.info(rKey).shape
                    pShape = try refReader.info(pKey).shape
                } catch { throw .store(error) }
                let ref = check.reference
                let cols = ref.sourceCols.count
                let rowsPerBlock = max(1, blockBytes / max(1, cols * s.dtype.size))
                var maxDiff = 0.0
                var differs = false
                var r0 = 0
                let needed = max(1, min(rowsPerBlock, ref.sourceRows.count) * cols * s.dtype.size)
                if needed > a.count {
                    a.deallocate()
                    b.deallocate()
                    a = .allocate(byteCount: needed, alignment: 64)
                    b = .allocate(byteCount: needed, alignment: 64)
                }
                while r0 < ref.sourceRows.count {
                    let n = min(rowsPerBlock, ref.sourceRows.count - r0)
                    let bytes = n * cols * s.dtype.size
                    try RectangleReader.read(
                        refReader, pKey, shape: pShape,
                        rows: ref.sourceRows.lowerBound + r0..<ref.sourceRows.lowerBound + r0 + n,
                        cols: ref.sourceCols, into: a)
                    try RectangleReader.read(
                        replicaReader, rKey, shape: rShape,
                        rows: ref.destRow + r0..<ref.destRow + r0 + n,
                        cols: ref.destCol..<ref.destCol + cols, into: b)
                    if memcmp(a.baseAddress!, b.baseAddress!, bytes) != 0 {
                        differs = true
                        let x = TensorData(dtype: s.dtype, shape: [n * cols], bytes: Array(a[0..<bytes])).floats()
                        let y = TensorData(dtype: s.dtype, shape: [n * cols], bytes: Array(b[0..<bytes])).floats()
                        for k in 0..<x.count {
                            let d = abs(Double(x[k]) - Double(y[k]))
                            if d > maxDiff || d.isNaN { maxDiff = d.isNaN ? .nan : d }
                        }
                    }
                    r0 += n
                }
                if differs {
                    let entry = DivergentReplica(
                        file: replicaReader.path, tensor: rKey.description,
                        reference: "\(refReader.path): \(pKey.description)", maxAbsDifference: maxDiff)
                    if !allowDivergent {
                        throw .divergentReplica(
                            path: entry.file, tensor: entry.tensor, reference: entry.reference,
                            maxAbsDifference: maxDiff)
                    }
                    found.append(entry)
                }
            }
        }
        return found
    }
}
