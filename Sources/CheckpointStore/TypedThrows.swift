/// Runs `body` over an array's bytes, keeping `StoreError` as the thrown type (the standard
/// library's `withUnsafeBytes` rethrows untyped).

func withBytes<T, R>(_ array: [T], _ body: (UnsafeRawBufferPointer) throws(StoreError) -> R) throws(StoreError) -> R {
    var result: Result<R, StoreError>?
    array.withUnsafeBytes { b in
        do throws(StoreError) { result = .success(try body(b)) } catch { result = .failure(error) }
    }
    return try result!.get()
}

/// Runs `body` over an array's mutable bytes, keeping `StoreError` as the thrown type.

func withMutableBytes<T, R>(_ array: inout [T], _ body: (UnsafeMutableRawBufferPointer) throws(StoreError) -> R) throws(StoreError) -> R {
    var result: Result<R, StoreError>?
    array.withUnsafeMutableBytes { b in
        do throws(StoreError) { result = .success(try body(b)) } catch { result = .failure(error) }
    }
    return try result!.get()
}
