import CheckpointStore
import Containers
import Dispatch

extension SourceWindowCache {
    /// A window being loaded by a loader queue. `@unchecked Sendable`: each load is written by
    /// exactly one queue before `done` is left, and read by the caller after `done.wait()`.
    final class Load: @unchecked Sendable {
        let key: Key
        let geometry: Geometry
        let rows: Range<Int>
        let buffer: UnsafeMutableRawPointer
        let capacity: Int
        let container: any TensorContainer
        var failure: ShardingError?
        let done = DispatchGroup()

        init(key: Key, geometry: Geometry, rows: Range<Int>, buffer: UnsafeMutableRawPointer, capacity: Int, container: any TensorContainer) {
            self.key = key
            self.geometry = geometry
            self.rows = rows
            self.buffer = buffer
            self.capacity = capacity
            self.container = container
            done.enter()
        }

        func run() {
            defer { done.leave() }
            do {
                try container.read(
                    geometry.storedKey, box: .rows(rows, of: geometry.shape),
                    into: UnsafeMutableRawBufferPointer(start: buffer, count: max(1, rows.count * geometry.rowBytes)))
            } catch {
                failure = .from(error)
            }
        }
    }
}
