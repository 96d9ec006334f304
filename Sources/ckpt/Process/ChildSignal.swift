import Foundation

/// A flag one thread sets and another polls (the child's "metadata checked" line).
///
/// `@unchecked Sendable`: `value` is only touched under `lock`.
final class ChildSignal: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false

    /// Sets the flag.
    func set() {
        lock.lock()
        value = true
        lock.unlock()
    }

    /// Whether the flag was set.
    var isSet: Bool {
        lock.lock()
        defer { lock.unlock() }
        return value
    }
}
