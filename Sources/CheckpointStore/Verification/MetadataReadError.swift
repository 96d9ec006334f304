/// Why the metadata serialisation could not be computed (an object or attribute HDF5 cannot
/// read): itself a sign of damage.
struct MetadataReadError: Error {
    let detail: String
    init(_ detail: String) { self.detail = detail }
}
