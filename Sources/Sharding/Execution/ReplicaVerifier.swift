import CheckpointStore
import Containers
import Foundation

/// Compares every replica box of a source with its primary, bit for bit, in blocks of source
/// rows, reading both through the source's containers.
struct ReplicaVerifier {
    let source: CheckpointSource
    let plan: ReshardPlan
    let sections: (ShardFile, String) -> [SectionDType]
    let blockBytes: Int

    /// Throws `divergentReplica` on the first difference unless `allowDivergent`; then returns
    /// every divergent replica with its maximum absolute difference.
    func verify(allowDivergent: Bool) throws(ShardingError) -> [DivergentReplica] {
        var found: [DivergentReplica] = []
        // Block buffers for the whole run (primary, replica, primary in replica order), grown
        // when a check needs more.
        var buffers = (0..<3).map { _ in UnsafeMutableRawBufferPointer.allocate(byteCount: 1, alignment: 64) }
        defer { for b in buffers { b.deallocate() } }
        for check in plan.replicaChecks {
            let ref = check.reference
            for s in sections(check.replica, check.replicaTensor) {
                let rKey = TensorKey(section: s.section, name: check.replicaTensor)
                let pKey = TensorKey(section: s.section, name: ref.sourceTensor)
                let rows = ref.sourceRows
                let perRow = ref.sourceBox.offsets.isEmpty ? 1 : ref.count / max(1, ref.sourceBox.sizes[0])
                let rowsPerBlock = max(1, blockBytes / max(1, perRow * s.dtype.size))
                let needed = max(1, min(rowsPerBlock, rows.count) * perRow * s.dtype.size)
                if needed > buffers[0].count {
                    for b in buffers { b.deallocate() }
                    buffers = (0..<3).map { _ in UnsafeMutableRawBufferPointer.allocate(byteCount: needed, alignment: 64) }
                }
                let (a, b, t) = (buffers[0], buffers[1], buffers[2])
                var maxDiff = 0.0
                var differs = false
                var r0 = rows.lowerBound
                while r0 < rows.upperBound {
                    let r1 = min(rows.upperBound, r0 + rowsPerBlock)
                    guard let part = ref.restricted(sourceRows: r0..<r1) else { break }
                    let bytes = part.count * s.dtype.size
                    try source.read(ref.source, pKey, box: part.sourceBox, into: a)
                    try source.read(check.replica, rKey, box: part.destBox, into: b)
                    var primary = UnsafeRawPointer(a.baseAddress!)
                    if part.transposed {
                        BoxCopy.copy(
                            from: a.baseAddress!, shape: part.sourceBox.sizes, box: .whole(part.sourceBox.sizes), to: t.baseAddress!,
                            shape: part.destBox.sizes, box: .whole(part.destBox.sizes), transposed: true, elementSize: s.dtype.size)
                        primary = UnsafeRawPointer(t.baseAddress!)
                    }
                    if memcmp(primary, b.baseAddress!, bytes) != 0 {
                        differs = true
                        let x = TensorData(dtype: s.dtype, shape: [part.count], bytes: Array(UnsafeRawBufferPointer(start: primary, count: bytes))).floats()
                        let y = TensorData(dtype: s.dtype, shape: [part.count], bytes: Array(b[0..<bytes])).floats()
                        for k in 0..<x.count {
                            let d = abs(Double(x[k]) - Double(y[k]))
                            if d > maxDiff || d.isNaN { maxDiff = d.isNaN ? .nan : d }
                        }
                    }
                    r0 = r1
                }
                if differs {
                    let entry = DivergentReplica(
                        file: source.path(check.replica), tensor: rKey.description,
                        reference: "\(source.path(ref.source)): \(pKey.description)", maxAbsDifference: maxDiff)
                    if !allowDivergent {
                        throw .divergentReplica(path: entry.file, tensor: entry.tensor, reference: entry.reference, maxAbsDifference: maxDiff)
                    }
                    found.append(entry)
                }
            }
        }
        return found
    }
}
