/// Sees the bytes of a read's output, piece by piece in output order, each byte once (a
/// checksum, a NaN/Inf count). Called on one thread at a time, not necessarily the caller's.
typealias OutputConsumer = @Sendable (UnsafeRawBufferPointer) -> Void
