import CHDF5

extension CheckpointReader {
    /// Root attributes format v1 requires (besides `format`, which opening checks).
    static let requiredRootAttributes = ["format_version", "writer", "created", "tensor_count", "parameter_count", "step", "layout"]

    /// Recomputes format v1.1's metadata checksum (every root attribute, every tensor's name,
    /// shape and attributes, every RNG state; `formats/checkpoint-v1.md` section 13) and
    /// compares it with the stored `metadata_xxh3_64`. Reads only metadata and the RNG bytes,
    /// never tensor data.
    public func metadataIntegrity() -> MetadataIntegrity {
        HDF5Library.prepareThread()
        HDF5Library.lock()  // every HDF5 call below, and the closes of its handles, inside the section
        defer { HDF5Library.unlock() }
        HDF5Library.prepareThread()
        guard let root = H5Object(H5Gopen2(file.id, "/", ckpt_H5P_DEFAULT()), .group) else { return .unreadable("root group unreadable") }
        let name = MetadataChecksum.attribute
        guard H5Aexists(root.id, name) > 0 else {
            if H5Aexists(root.id, MetadataChecksum.minorAttribute) > 0 {
                return .missing(formatMinor: H5Attributes.readInt64(root.id, MetadataChecksum.minorAttribute) ?? -1)
            }
            return .notRecorded
        }
        guard let stored = H5Attributes.readUInt64(root.id, name) else { return .unreadable("root attribute \(name) is not a readable integer") }
        do {
            let computed = try MetadataChecksum.compute(file: file.id)
            return computed == stored ? .verified : .mismatch(stored: stored, computed: computed)
        } catch {
            return .unreadable(error.detail)
        }
    }

    /// Throws when the metadata checksum says the metadata is damaged (a mismatch, a missing
    /// checksum that `format_minor` promises, covered metadata HDF5 cannot read); a file
    /// without a checksum passes. Commands that act on the metadata (convert, step,
    /// verify-step) call it, so a changed learning rate or step is refused instead of being
    /// used, or rewritten under a fresh checksum.
    public func requireIntactMetadata() throws(StoreError) {
        let integrity = metadataIntegrity()
        if integrity.isDamage { throw .metadataDamaged(path: path, detail: integrity.message(path: path)) }
    }

    /// The required root attributes (section 3 of the format) that the file lacks.
    public func missingRootAttributes() -> [String] {
        HDF5Library.prepareThread()
        HDF5Library.lock()  // every HDF5 call below, and the closes of its handles, inside the section
        defer { HDF5Library.unlock() }
        HDF5Library.prepareThread()
        guard let root = H5Object(H5Gopen2(file.id, "/", ckpt_H5P_DEFAULT()), .group) else { return Self.requiredRootAttributes }
        return Self.requiredRootAttributes.filter { H5Aexists(root.id, $0) <= 0 }
    }
}
