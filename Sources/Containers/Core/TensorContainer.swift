import CheckpointStore

/// One file (or directory) of named tensors in any supported format, readable by region.
///
/// Every format ckpt reads implements this: its own HDF5 files (`HDF5Container`), Hugging Face
/// safetensors, and `torch.save` zip archives. `Sharding` and `ReferenceCore` read tensors only
/// through it. Names are `TensorKey`s: the section (`model`, `optimizer/exp_avg`, ...) and the
/// name as the format stores it (canonical for ckpt files, `transformer.h.0.attn.c_attn.weight`
/// for Hugging Face GPT-2, `decoder.layers.0...` for Megatron). Implementations are safe to
/// read from several threads at once.
public protocol TensorContainer: AnyObject, Sendable {
    /// The file or directory, for messages.
    var path: String { get }
    /// A short name of the format (`ckpt`, `safetensors`, `torch`), for reports.
    var formatName: String { get }
    /// Every tensor, in the container's own order.
    var tensors: [ContainerTensor] { get }
    /// Whether reads check stored checksums (ckpt's Fletcher32 and xxh3); false for formats that
    /// store none (safetensors, `torch.save`).
    var verifiesChecksums: Bool { get }
    /// The tensor stored under `key`, or nil.
    func describe(_ key: TensorKey) -> ContainerTensor?
    /// Copies the elements of `box` of tensor `key` into the start of `buffer` (at least
    /// `box.count` elements of the tensor's dtype long), row-major over the box, little-endian.
    func read(_ key: TensorKey, box: TensorBox, into buffer: UnsafeMutableRawBufferPointer) throws(ContainerError)
}

extension TensorContainer {
    /// The whole tensor `key` as bytes.
    public func readAll(_ key: TensorKey) throws(ContainerError) -> [UInt8] {
        guard let t = describe(key) else { throw .noSuchTensor(path: path, tensor: key.description) }
        var out = [UInt8](repeating: 0, count: t.byteCount)
        let failure: ContainerError? = out.withUnsafeMutableBytes { b in
            do throws(ContainerError) {
                try read(key, box: .whole(t.shape), into: b)
                return nil
            } catch { return error }
        }
        if let failure { throw failure }
        return out
    }
}
