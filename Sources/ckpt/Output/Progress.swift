import Foundation

/// A one-line progress bar on stderr: phase, done / total (bytes or items) and the rate. Shown
/// only when stderr is a terminal and JSON was not asked for (`shown(json:)`).
final class Progress: @unchecked Sendable {
    // `@unchecked Sendable`: every mutable field is guarded by `lock` (library callbacks may
    // come from worker threads).
    private let lock = NSLock()
    private var total: Int
    private var label: String
    private let enabled: Bool
    private let bytes: Bool
    private var start = Date()
    private var lastDraw = Date.distantPast

    /// A bar for `total` bytes (or items when `bytes` is false) labelled `label`.
    init(total: Int, label: String, enabled: Bool = Progress.shown(json: false), bytes: Bool = true) {
        self.total = max(1, total)
        self.label = label
        self.enabled = enabled
        self.bytes = bytes
    }

    /// Whether progress goes to stderr: a terminal, and no `--json`.
    static func shown(json: Bool) -> Bool { !json && isatty(2) != 0 }

    /// Starts a new phase: a new label and total, the rate measured afresh unless `keepClock`.
    func phase(_ label: String, total: Int, keepClock: Bool = false) {
        lock.lock()
        defer { lock.unlock() }
        self.label = label
        self.total = max(1, total)
        if !keepClock {
            start = Date()
            lastDraw = .distantPast
        }
    }

    /// Reports `done` bytes (or items); redraws at most ten times a second.
    func update(_ done: Int) {
        guard enabled else { return }
        lock.lock()
        defer { lock.unlock() }
        let now = Date()
        guard now.timeIntervalSince(lastDraw) > 0.1 || done >= total else { return }
        lastDraw = now
        let f = min(1, Double(done) / Double(total))
        let width = 30
        let filled = Int(f * Double(width))
        let secs = max(1e-3, now.timeIntervalSince(start))
        let bar = String(repeating: "#", count: filled) + String(repeating: " ", count: width - filled)
        let amount =
            bytes
            ? "\(Format.bytes(done)) / \(Format.bytes(total)) " + String(format: "%.0f MB/s", Double(done) / secs / 1e6)
            : "\(done) / \(total) " + String(format: "%.1f/s", Double(done) / secs)
        let line = "\r\u{1B}[K" + String(format: "%@ [%@] %3.0f%% ", label, bar, f * 100) + amount + String(format: " %.0fs", secs)
        FileHandle.standardError.write(Data(line.utf8))
    }

    /// Clears the line.
    func finish() {
        guard enabled else { return }
        lock.lock()
        defer { lock.unlock() }
        FileHandle.standardError.write(Data("\r\u{1B}[K".utf8))
    }
}
