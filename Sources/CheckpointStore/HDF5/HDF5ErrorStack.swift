import CHDF5
import Foundation

/// Reads why the last HDF5 call on this thread failed (its error stack, which ckpt keeps from
/// printing) to tell a file written in a newer HDF5 file format from a damaged one.
///
/// HDF5 1.12 and later, asked for their newest format (h5py `libver='latest'`, or a low bound of
/// `'v112'` or later), write object-header messages — the chunked-storage layout message first
/// of all — in versions that older libraries refuse with "bad version number for layout
/// message". The same refusal would follow a damaged version byte, so the reader also weighs
/// who wrote the file (ckpt writes the 1.8 format only).
enum HDF5ErrorStack {
    /// The descriptions on the calling thread's error stack, innermost first. Call it right
    /// after the failing call, inside the HDF5 section. The corresponding C function is `H5Ewalk2`.
    static func descriptions() -> [String] {
        final class Collector { var items: [String] = [] }
        let c = Collector()
        withExtendedLifetime(c) {
            _ = H5Ewalk2(
                ckpt_H5E_DEFAULT(), H5E_WALK_UPWARD,
                { _, err, data in
                    if let d = err?.pointee.desc, let data {
                        Unmanaged<Collector>.fromOpaque(data).takeUnretainedValue().items.append(String(cString: d))
                    }
                    return 0
                }, Unmanaged.passUnretained(c).toOpaque())
        }
        return c.items
    }

    /// Kinds of header structure whose versions newer HDF5 releases raised.
    private static let versionedStructures = ["layout", "datatype", "dataspace", "filter pipeline", "superblock", "fill value", "object header"]

    /// The structure (for example "layout message") that the current error stack says has a
    /// version this library does not know, when it is one newer releases changed.
    static func unknownVersion(in stack: [String] = descriptions()) -> String? {
        for d in stack {
            let lower = d.lowercased()
            guard lower.contains("version") else { continue }
            if let kind = versionedStructures.first(where: { lower.contains($0) }) {
                return kind == "superblock" || kind == "object header" ? kind : kind + " message"
            }
        }
        return nil
    }

    /// The first release after the linked one that can hold newer format versions ("1.12" for
    /// 1.10.x; HDF5 numbers releases 1.8, 1.10, 1.12, 1.14, then 2.0).
    static func nextRelease(after version: String) -> String {
        let parts = version.split(separator: ".").compactMap { Int($0) }
        guard parts.count >= 2 else { return "a newer release" }
        if parts[0] == 1 { return parts[1] >= 14 ? "2.0" : "1.\(parts[1] + 2 - parts[1] % 2)" }
        return "\(parts[0]).\(parts[1] + 1)"
    }

    /// The message for a file whose `structure` this library cannot read. `writer` is the
    /// file's root `writer` attribute; when it names the HDF5 that wrote the file (h5py-based
    /// writers often do), the message repeats it, since a file written with `libver='latest'`
    /// may need that very release.
    static func newerFormatDetail(_ structure: String, where place: String, writer: String? = nil) -> String {
        let next = nextRelease(after: HDF5Library.version)
        var written = ""
        if let w = writer, let r = w.range(of: #"HDF5 [0-9]+\.[0-9]+(\.[0-9]+)?"#, options: .regularExpression) {
            written = "; the file was written by \(w[r])"
        }
        return "needs HDF5 >= \(next) (this build has \(HDF5Library.version)\(written)): \(place) has a \(structure) in a newer "
            + "file-format version; with h5py write libver='earliest' or libver=('earliest', 'v110')"
    }
}
