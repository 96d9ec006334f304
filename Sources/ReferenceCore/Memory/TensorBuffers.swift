/// Named tensors held in RAM: one flat buffer per canonical tensor, keyed by canonical name
/// (`layers.0.attn.q.weight`), with its shape. Used for parameters and for gradients.
///
/// `@unchecked Sendable`: the dictionary is only mutated by the owning thread; parallel kernels
/// reach the buffers through `SharedPointer` and write disjoint ranges.
public final class TensorBuffers<T: ReferenceScalar>: @unchecked Sendable {
    /// Tensor names in canonical order.
    public private(set) var names: [String]
    /// Shape of each tensor.
    public private(set) var shapes: [String: [Int]]
    private var buffers: [String: ScalarBuffer<T>]

    /// Creates zero-filled tensors for `tensors` (name, shape) in the given order; with
    /// `allocate` false only the names and shapes are listed, and each buffer is created by
    /// `materialize`.
    public init(tensors: [(name: String, shape: [Int])], allocate: Bool = true) {
        names = tensors.map(\.name)
        shapes = [:]
        buffers = [:]
        for t in tensors {
            shapes[t.name] = t.shape
            if allocate { buffers[t.name] = ScalarBuffer(count: t.shape.reduce(1, *)) }
        }
    }

    /// Zero-filled tensors with the same names and shapes as `other`.
    public convenience init<U>(zerosLike other: TensorBuffers<U>) {
        self.init(tensors: other.listing)
    }

    /// The names and shapes of `other`, with no buffers yet (`materialize` creates them).
    convenience init<U>(shapesOf other: TensorBuffers<U>) {
        self.init(tensors: other.listing, allocate: false)
    }

    /// (name, shape) of every listed tensor, in order.
    var listing: [(name: String, shape: [Int])] { names.compactMap { n in shapes[n].map { (n, $0) } } }

    /// The buffer of `name` (a listed tensor), created zero-filled if it has none yet, in
    /// memory from `recycler` when it has a region that fits.
    func materialize(_ name: String, recycler: PageRecycler?) -> ScalarBuffer<T> {
        if let b = buffers[name] { return b }
        guard let shape = shapes[name] else { preconditionFailure("no tensor \(name)") }
        let b = ScalarBuffer<T>(count: shape.reduce(1, *), recycler: recycler)
        buffers[name] = b
        return b
    }

    /// The buffer of `name`, or nil when absent (or released).
    public subscript(name: String) -> ScalarBuffer<T>? { buffers[name] }

    /// Whether `name` is held.
    public func contains(_ name: String) -> Bool { buffers[name] != nil }

    /// Replaces the values of `name` (which must exist with `values.count` elements).
    public func set(_ name: String, _ values: [T]) {
        guard let b = buffers[name] else { preconditionFailure("no tensor \(name)") }
        precondition(b.count == values.count, "tensor \(name): \(values.count) values for \(b.count) elements")
        values.withUnsafeBufferPointer { b.pointer.update(from: $0.baseAddress!, count: values.count) }
    }

    /// Frees the buffer of `name` (its name and shape stay listed).
    public func release(_ name: String) { buffers[name] = nil }

    /// Total number of elements held.
    public var elementCount: Int { buffers.values.reduce(0) { $0 + $1.count } }

    /// Converts every tensor to another scalar type.
    public func converted<U: ReferenceScalar>(to: U.Type) -> TensorBuffers<U> {
        let out = TensorBuffers<U>(zerosLike: self)
        for n in names {
            guard let src = buffers[n], let dst = out[n] else { continue }
            for i in 0..<src.count { dst[i] = U(src[i]) }
        }
        return out
    }
}
