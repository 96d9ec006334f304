import Foundation

/// The current phase name of a `StepProgressBar`, swapped atomically.
final class PhaseBox: @unchecked Sendable {
    // `@unchecked Sendable`: `value` is only touched under `lock`.
    private let lock = NSLock()
    private var value = ""

    /// Stores `new`, returning the previous phase.
    func swap(_ new: String) -> String {
        lock.lock()
        defer { lock.unlock() }
        let old = value
        value = new
        return old
    }
}
