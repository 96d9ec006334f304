import Foundation

/// Bytes a consumer was given, in order.
final class Collected: @unchecked Sendable {
    private let lock = NSLock()
    private(set) var bytes: [UInt8] = []
    private(set) var pieces = 0

    func append(_ b: UnsafeRawBufferPointer) {
        lock.lock()
        bytes += b
        pieces += 1
        lock.unlock()
    }
}
