/// Carries a value into a closure that runs on another thread.
///
/// `@unchecked Sendable`: used only where the value is handed to one serial queue at a time
/// (the read checksum) or names memory that no other thread writes meanwhile.
struct UncheckedBox<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}
