/// Runs `body` over an array's bytes, keeping the thrown type (the standard library's
/// `withUnsafeBytes` rethrows untyped).
func withTypedBytes<T, R, E: Error>(_ array: [T], _ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
    let result: Result<R, E> = array.withUnsafeBytes { b in
        do throws(E) { return .success(try body(b)) } catch { return .failure(error) }
    }
    return try result.get()
}
