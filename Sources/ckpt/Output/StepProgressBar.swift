import ReferenceCore

/// Shows the phases of `step` and `verify-step` (load, forward+backward, then a count of
/// parameter tensors) on a terminal, through the library's `StepProgress` callback.
final class StepProgressBar: Sendable {
    private let bar: Progress
    private let label: String
    // `Progress` guards its own state; the last phase is only compared and set under its lock.
    private let phaseBox = PhaseBox()

    /// A bar labelled `label`, drawn only when `enabled`.
    init(label: String, enabled: Bool) {
        self.label = label
        bar = Progress(total: 1, label: label, enabled: enabled, bytes: false)
    }

    /// The callback to hand to the library.
    var callback: StepProgress {
        { [bar, label, phaseBox] phase, done, total in
            if phaseBox.swap(phase) != phase { bar.phase("\(label): \(phase)", total: total) }
            bar.update(done)
        }
    }

    /// Clears the line.
    func finish() { bar.finish() }
}
