/// Opening items: the `torch.save` zip at an item's bytes (decoded first when zstd-compressed),
/// checked against the metadata; bytes items by name.
extension DCPCheckpoint {
    /// The opened item of chunk `chunk` of tensor `t`: its archive holds one tensor of `t`'s
    /// dtype and exactly the chunk's sizes, inside its storage.
    func chunkItem(_ t: DCPTensorEntry, _ chunk: DCPChunk) throws(ContainerError) -> DCPOpenItem {
        try cache.item(chunk.storage) { () throws(ContainerError) -> DCPOpenItem in
            let what = "its chunk \(chunk.box) (item at bytes \(chunk.storage.offset)..<\(chunk.storage.offset + chunk.storage.length))"
            let archive = try self.openArchive(chunk.storage, fqn: t.fqn, what: what)
            let file = self.filePath(chunk.storage.relativePath)
            let fail = { (d: String) -> ContainerError in .badTensor(path: file, tensor: PrintableName.of(t.fqn), detail: "\(what): \(d)") }
            guard case .tensor(let ref) = archive.root else { throw fail("the item holds a \(Self.kind(archive.root)), not a tensor") }
            guard TorchDTypeName.canonical(ref.dtypeName) == t.torchDType else {
                throw fail("the item's dtype \(ref.dtypeName) differs from the metadata's \(t.torchDType)")
            }
            guard ref.shape == chunk.box.sizes else { throw fail("the item's shape \(ref.shape) differs from the chunk's sizes \(chunk.box.sizes)") }
            do throws(ContainerError) { try archive.check(ref, name: t.fqn) } catch { throw Self.wrap(error, path: file, fqn: t.fqn, what: what) }
            return DCPOpenItem(archive: archive, tensor: ref)
        }
    }

    /// The `torch.save` zip at `storage`, decoded first when it carries a zstd transform.
    func openArchive(_ storage: DCPStorageInfo, fqn: String, what: String) throws(ContainerError) -> TorchArchive {
        let p = filePath(storage.relativePath)
        let file = try dataFile(storage.relativePath)
        let (source, range) = try decodedItem(storage, file: file, fqn: fqn, what: what)
        if range.count >= 9, let head = try? source.bytes(at: range.lowerBound, count: 9), !head.starts(with: [0x50, 0x4B, 0x03, 0x04]),
            head[8] == UInt8(ascii: "{")
        {
            throw ContainerError.unsupported(
                path: p,
                detail:
                    "tensor \(PrintableName.of(fqn)): the item is a safetensors file, DCP's safetensors serialisation (SerializationFormat.SAFETENSORS, torch >= 2.8), which torch's own FileSystemReader does not load either; save with the default TORCH_SAVE format"
            )
        }
        do throws(ContainerError) {
            let zip = try ZipArchive(file: source, range: range)
            return try TorchArchive(zip: zip)
        } catch {
            throw Self.wrap(error, path: p, fqn: fqn, what: what)
        }
    }

    /// The file and byte range holding the item's plain bytes: the data file itself, or an
    /// unlinked temporary holding the decoded zstd stream.
    func decodedItem(_ storage: DCPStorageInfo, file: RandomAccessFile, fqn: String, what: String) throws(ContainerError) -> (RandomAccessFile, Range<Int>) {
        guard !storage.transforms.isEmpty else { return (file, storage.range) }
        let p = filePath(storage.relativePath)
        let decoded = try DCPZstdStream.decode(file, range: storage.range, maxBytes: limits.maxDecodedItemBytes) { d in
            .badTensor(path: p, tensor: PrintableName.of(fqn), detail: "\(what): \(d)")
        }
        return (decoded, 0..<decoded.size)
    }

    /// The raw bytes of bytes item `fqn` (decoded when zstd-compressed; normally a
    /// `torch.save` zip of the object), at most `DCPLimits.maxBytesItem`.
    public func bytesItem(_ fqn: String) throws(ContainerError) -> [UInt8] {
        guard let b = metadata.bytesItem(named: fqn) else { throw .noSuchTensor(path: path, tensor: PrintableName.of(fqn) + " (bytes item)") }
        let what = "its bytes item (at bytes \(b.storage.offset)..<\(b.storage.offset + b.storage.length))"
        let (file, range) = try decodedItem(b.storage, file: try dataFile(b.storage.relativePath), fqn: fqn, what: what)
        guard range.count <= limits.maxBytesItem else {
            throw .badTensor(
                path: filePath(b.storage.relativePath), tensor: PrintableName.of(fqn),
                detail: "\(what): \(range.count) bytes, more than the limit of \(limits.maxBytesItem)")
        }
        return try file.bytes(at: range.lowerBound, count: range.count)
    }

    /// Bytes item `fqn` opened as the `torch.save` archive it holds (`root` is the saved
    /// object, decoded by the restricted reader; its tensors readable through the archive).
    public func bytesArchive(_ fqn: String) throws(ContainerError) -> TorchArchive {
        guard let b = metadata.bytesItem(named: fqn) else { throw .noSuchTensor(path: path, tensor: PrintableName.of(fqn) + " (bytes item)") }
        let what = "its bytes item (at bytes \(b.storage.offset)..<\(b.storage.offset + b.storage.length))"
        return try openArchive(b.storage, fqn: fqn, what: what)
    }

    /// The archive holding chunk `chunk` (an index into the tensor's chunks) of tensor `fqn`.
    public func chunkArchive(_ fqn: String, chunk: Int) throws(ContainerError) -> TorchArchive {
        guard let t = metadata.tensor(named: fqn), t.chunks.indices.contains(chunk) else {
            throw .noSuchTensor(path: path, tensor: PrintableName.of(fqn) + " chunk \(chunk)")
        }
        return try chunkItem(t, t.chunks[chunk]).archive
    }

    /// Opens every tensor chunk item (dtype, shape and storage checked) and every bytes item
    /// (a readable `torch.save` archive when it is a zip); throws the first problem.
    public func checkItems() throws(ContainerError) {
        for t in metadata.tensors {
            for c in t.chunks { _ = try chunkItem(t, c) }
        }
        for b in metadata.bytesItems {
            let head = try bytesItem(b.fqn).prefix(4)
            if head.elementsEqual([0x50, 0x4B, 0x03, 0x04]) { _ = try bytesArchive(b.fqn) }
        }
    }

    /// `error` re-addressed to data file `path` and tensor `fqn`, keeping its kind.
    static func wrap(_ error: ContainerError, path: String, fqn: String, what: String) -> ContainerError {
        let name = PrintableName.of(fqn)
        switch error {
        case .malformed(_, let d), .badTensor(_, _, let d): return .badTensor(path: path, tensor: name, detail: "\(what): \(d)")
        case .noSuchTensor(_, let t): return .badTensor(path: path, tensor: name, detail: "\(what): \(t) not found")
        case .refused(_, let d): return .refused(path: path, detail: "tensor \(name), \(what): \(d)")
        case .unsupported(_, let d): return .unsupported(path: path, detail: "tensor \(name), \(what): \(d)")
        case .io(_, let d): return .io(path: path, detail: "tensor \(name), \(what): \(d)")
        case .store: return error
        }
    }

    static func kind(_ v: PickleValue) -> String { DCPMetadataDecoder.kind(v) }
}
