/// The records `torch.save` writes after the storages, in its order: `data.pkl`,
/// `.format_version`, `.storage_alignment`, `byteorder`, `version`, `.data/serialization_id`,
/// then the central directory. Shared by `TorchArchiveWriter` (a whole file) and the DCP writer
/// (one archive per item inside a data file).
enum TorchArchiveRecords {
    /// Writes the records and finishes `zip`. `.format_version` ("1", which lets torch compute
    /// storage offsets instead of reading local headers) is written only when the pickle uses
    /// the storages first in the order they were written, as `torch.save` numbers them.
    static func finish(_ zip: ZipStreamWriter, prefix: String, pickle: [UInt8], storagesInFirstUseOrder: Bool) throws(ContainerError) {
        try zip.addEntry(name: "\(prefix)/data.pkl", bytes: pickle)
        if storagesInFirstUseOrder { try zip.addEntry(name: "\(prefix)/.format_version", bytes: Array("1".utf8)) }
        try zip.addEntry(name: "\(prefix)/.storage_alignment", bytes: Array(String(ZipStreamWriter.alignment).utf8))
        try zip.addEntry(name: "\(prefix)/byteorder", bytes: Array("little".utf8))
        try zip.addEntry(name: "\(prefix)/version", bytes: Array("3\n".utf8))
        let id = (0..<40).map { _ in String(Int.random(in: 0...9)) }.joined()
        try zip.addEntry(name: "\(prefix)/.data/serialization_id", bytes: Array(id.utf8))
        try zip.finish()
    }
}
