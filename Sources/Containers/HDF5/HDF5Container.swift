import CheckpointStore

/// ckpt's own HDF5 checkpoint file (format v1) as a `TensorContainer`: a box read is one
/// hyperslab read, touching only the chunks it needs; every chunk's Fletcher32 is checked, and
/// a whole-tensor read also checks the tensor's xxh3_64.
public final class HDF5Container: TensorContainer {
    /// The underlying reader (metadata, chunk details).
    public let reader: CheckpointReader
    /// Every tensor, model tensors first, in natural name order.
    public let tensors: [ContainerTensor]
    private let index: [TensorKey: Int]

    /// Opens `path` (see `CheckpointReader.init`).
    public convenience init(path: String) throws(ContainerError) {
        do { self.init(reader: try CheckpointReader(path: path)) } catch { throw .store(error) }
    }

    /// Wraps an opened reader.
    public init(reader: CheckpointReader) {
        self.reader = reader
        self.tensors = reader.tensors.map { ContainerTensor(key: $0.key, dtype: $0.dtype, shape: $0.shape) }
        var index: [TensorKey: Int] = [:]
        for (i, t) in tensors.enumerated() { index[t.key] = i }
        self.index = index
    }

    /// The file.
    public var path: String { reader.path }
    /// `ckpt`.
    public var formatName: String { "ckpt" }
    /// Chunk checksums are always checked.
    public var verifiesChecksums: Bool { true }

    /// The tensor stored under `key`, or nil.
    public func describe(_ key: TensorKey) -> ContainerTensor? {
        index[key].map { tensors[$0] }
    }

    /// Reads `box` of `key` as one hyperslab.
    public func read(_ key: TensorKey, box: TensorBox, into buffer: UnsafeMutableRawBufferPointer) throws(ContainerError) {
        guard let t = describe(key) else { throw .noSuchTensor(path: path, tensor: key.description) }
        guard box.fits(t.shape) else {
            throw .badTensor(path: path, tensor: key.description, detail: "box \(box) lies outside shape \(t.shape)")
        }
        let whole = box.offsets.allSatisfy { $0 == 0 } && box.sizes == t.shape
        let selection: [DimSelection]? = whole ? nil : zip(box.offsets, box.sizes).map { DimSelection(start: $0, count: $1) }
        do { try reader.read(key, selection: selection, into: buffer) } catch { throw .store(error) }
    }
}
