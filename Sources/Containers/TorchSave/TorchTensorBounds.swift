/// Checks that a tensor's strided view addresses only elements inside its storage.
enum TorchTensorBounds {
    /// The number of bytes of the storage the view of `t` reaches (one past its last byte), 0
    /// for a tensor without elements. Fails on negative sizes, offsets or strides, on
    /// arithmetic overflow and on dtypes torch does not know.
    static func extent(of t: TorchTensorRef, path: String, name: String) throws(ContainerError) -> Int {
        func bad(_ d: String) -> ContainerError { .badTensor(path: path, tensor: name, detail: d) }
        guard let es = TorchDTypeName.elementSize(t.dtypeName) else { throw bad("unknown dtype \(t.dtypeName)") }
        guard t.shape.count == t.strides.count else { throw bad("shape \(t.shape) and strides \(t.strides) differ in rank") }
        guard t.storageOffset >= 0 else { throw bad("negative storage offset \(t.storageOffset)") }
        if let s = t.strides.first(where: { $0 < 0 }) { throw bad("negative stride \(s) (strides \(t.strides)) is refused") }
        if let s = t.shape.first(where: { $0 < 0 }) { throw bad("negative size \(s) in shape \(t.shape)") }
        var count = 1
        for n in t.shape {
            let (c, o) = count.multipliedReportingOverflow(by: n)
            guard !o else { throw bad("shape \(t.shape) overflows") }
            count = c
        }
        if count == 0 { return 0 }
        var last = t.storageOffset
        for (n, s) in zip(t.shape, t.strides) {
            let (step, o1) = (n - 1).multipliedReportingOverflow(by: s)
            let (sum, o2) = last.addingReportingOverflow(step)
            guard !o1, !o2 else { throw bad("shape \(t.shape) with strides \(t.strides) overflows") }
            last = sum
        }
        let (end, o3) = last.addingReportingOverflow(1)
        let (bytes, o4) = end.multipliedReportingOverflow(by: es)
        guard !o3, !o4 else { throw bad("shape \(t.shape) with strides \(t.strides) overflows") }
        return bytes
    }

    /// Bytes a storage of `s` holds according to its persistent id.
    static func storageBytes(_ s: TorchStorageRef, path: String, name: String) throws(ContainerError) -> Int {
        let es = s.isUntyped ? 1 : TorchDTypeName.elementSize(s.dtypeName)
        guard let es else { throw .badTensor(path: path, tensor: name, detail: "storage \(s.key) has unknown dtype \(s.dtypeName)") }
        let (n, o) = s.count.multipliedReportingOverflow(by: es)
        guard !o, s.count >= 0 else { throw .badTensor(path: path, tensor: name, detail: "storage \(s.key) of \(s.count) elements overflows") }
        return n
    }

    /// Checks `t` against its storage's recorded size: the view must lie inside it, and a typed
    /// storage must have the tensor's dtype (`_rebuild_tensor_v2` does not convert).
    static func check(_ t: TorchTensorRef, path: String, name: String) throws(ContainerError) -> (needed: Int, storageBytes: Int) {
        let needed = try extent(of: t, path: path, name: name)
        let have = try storageBytes(t.storage, path: path, name: name)
        if !t.storage.isUntyped && t.storage.dtypeName != t.dtypeName {
            throw .badTensor(path: path, tensor: name, detail: "dtype \(t.dtypeName) differs from its typed storage's \(t.storage.dtypeName)")
        }
        guard needed <= have else {
            throw .badTensor(
                path: path, tensor: name,
                detail:
                    "storage \(t.storage.key) holds \(have) bytes, shorter than the \(needed) bytes the tensor (offset \(t.storageOffset), shape \(t.shape), strides \(t.strides)) needs"
            )
        }
        return (needed, have)
    }
}
