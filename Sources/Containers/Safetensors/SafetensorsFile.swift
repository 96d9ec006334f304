import CheckpointStore

/// A safetensors file, memory-mapped read-only, as a `TensorContainer`.
///
/// The whole header is validated (`SafetensorsHeader.parse`) before the container exists, so
/// every read stays inside the file. Tensors are listed under `.model(name)` in data order;
/// tensors of types ckpt does not read (F8_*, U16, U32, U64, C64, F4, F6_*) are validated and
/// appear in `entries`, and reading one is an `.unsupported` error naming the tensor and type.
/// safetensors stores no checksums.
public final class SafetensorsFile: TensorContainer {
    /// The file.
    public let path: String
    /// `safetensors`.
    public var formatName: String { "safetensors" }
    /// The tensors ckpt reads, in data order.
    public let tensors: [ContainerTensor]
    /// false: the format has no checksums.
    public var verifiesChecksums: Bool { false }
    /// Every tensor the header lists, in data order, whatever its type.
    public let entries: [SafetensorsEntry]
    /// The header's `__metadata__` (empty when absent).
    public let metadata: [String: String]
    /// The validated header.
    public let header: SafetensorsHeader

    private let file: MappedFile
    private let byName: [String: Int]

    /// Maps and validates `path`.
    public init(path: String) throws(ContainerError) {
        self.path = path
        file = try MappedFile(path: path)
        header = try SafetensorsHeader.parse(file: file.bytes, path: path)
        file.release(0..<header.dataStart)
        entries = header.entries
        metadata = header.metadata
        tensors = entries.compactMap(\.containerTensor)
        var byName: [String: Int] = [:]
        for (i, e) in entries.enumerated() { byName[e.name] = i }
        self.byName = byName
    }

    /// The entry named `name` (any type), or nil.
    public func entry(_ name: String) -> SafetensorsEntry? { byName[name].map { entries[$0] } }

    /// The tensor `key`, or nil (also nil for a tensor whose type ckpt does not read).
    public func describe(_ key: TensorKey) -> ContainerTensor? {
        guard key.isModel, let i = byName[key.name] else { return nil }
        return entries[i].containerTensor
    }

    /// Copies `box` of tensor `key` out of the mapping, then releases the pages read from the
    /// process's resident set (see `MappedFile.release`).
    public func read(_ key: TensorKey, box: TensorBox, into buffer: UnsafeMutableRawBufferPointer) throws(ContainerError) {
        guard key.isModel, let i = byName[key.name] else { throw .noSuchTensor(path: path, tensor: PrintableName.of(key.description)) }
        let e = entries[i]
        let name = PrintableName.of(e.name)
        guard let dtype = e.dtype.ckptType else {
            throw .unsupported(path: path, detail: "tensor \(name) has dtype \(e.dtype.rawValue), which ckpt does not read")
        }
        guard box.fits(e.shape) else { throw .badTensor(path: path, tensor: name, detail: "box \(box) lies outside shape \(e.shape)") }
        let need = box.count * dtype.size
        guard buffer.count >= need else {
            throw .badTensor(path: path, tensor: name, detail: "buffer of \(buffer.count) bytes for a box of \(need) bytes")
        }
        guard need > 0, let out = buffer.baseAddress, let base = file.bytes.baseAddress else { return }
        let strides = Self.rowMajorStrides(e.shape)
        let start = header.dataStart + e.begin
        // A box that is one run of the file (whole rows) and large is read with pread: one copy,
        // no page faults on the mapping.
        if need >= Self.preadThreshold, (1..<max(1, e.shape.count)).allSatisfy({ box.sizes[$0] == e.shape[$0] }) {
            let offset = start + (e.shape.isEmpty ? 0 : box.offsets[0] * strides[0]) * dtype.size
            if file.read(at: offset, count: need, into: out) { return }
            throw .io(path: path, detail: "tensor \(name): short read of \(need) bytes at offset \(offset)")
        }
        StridedCopy.copy(
            from: base + start, elementSize: dtype.size, offset: 0, shape: e.shape, strides: strides, box: box, into: out)
        var first = 0, last = 0
        for d in 0..<e.shape.count {
            first += box.offsets[d] * strides[d]
            last += (box.offsets[d] + box.sizes[d] - 1) * strides[d]
        }
        file.release((start + first * dtype.size)..<(start + (last + 1) * dtype.size))
    }

    /// Boxes of at least this many contiguous bytes are read with `pread` rather than copied
    /// out of the mapping.
    static let preadThreshold = 1 << 20

    /// Element strides of a dense row-major array of `shape`.
    static func rowMajorStrides(_ shape: [Int]) -> [Int] {
        var strides = Array(repeating: 1, count: shape.count)
        var s = 1
        for d in stride(from: shape.count - 1, through: 0, by: -1) {
            strides[d] = s
            s *= shape[d]
        }
        return strides
    }
}
