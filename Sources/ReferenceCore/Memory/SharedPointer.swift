/// A raw pointer passed into `DispatchQueue.concurrentPerform` bodies.
///
/// `@unchecked Sendable`: every parallel loop that captures one writes disjoint index ranges
/// per iteration (or only reads).
struct SharedPointer<T>: @unchecked Sendable {
    let p: UnsafeMutablePointer<T>
    init(_ p: UnsafeMutablePointer<T>) { self.p = p }
}
