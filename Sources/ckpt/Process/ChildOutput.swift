import Foundation

/// A child's whole stdout, read on another thread and handed to the waiting one.
///
/// `@unchecked Sendable`: `bytes` is only touched under `lock`.
final class ChildOutput: @unchecked Sendable {
    private let lock = NSLock()
    private var bytes = Data()

    /// Stores what was read.
    func set(_ data: Data) {
        lock.lock()
        bytes = data
        lock.unlock()
    }

    /// What was read.
    var data: Data {
        lock.lock()
        defer { lock.unlock() }
        return bytes
    }
}
