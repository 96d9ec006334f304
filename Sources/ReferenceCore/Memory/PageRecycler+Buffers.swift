extension PageRecycler {
    /// A zero-filled activation buffer of `count` elements, in memory this recycler holds
    /// when a kept region fits.
    func buffer<T: ReferenceScalar>(_ count: Int, of: T.Type = T.self) -> ScalarBuffer<T> {
        ScalarBuffer(count: count, recycler: self)
    }
}
