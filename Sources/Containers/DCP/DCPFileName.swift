/// Names of DCP data files: `__<rank>_<k>.distcp` as `FileSystemWriter` writes them, and the
/// check that a name from `.metadata` stays inside the checkpoint directory.
public enum DCPFileName {
    /// DCP's data file suffix.
    public static let suffix = ".distcp"
    /// The metadata file.
    public static let metadata = ".metadata"

    /// `__<rank>_<index>.distcp`, the name `FileSystemWriter` gives the `index`-th file of
    /// writer rank `rank`.
    public static func data(rank: Int, index: Int) -> String { "__\(rank)_\(index)\(suffix)" }

    /// Whether `name` is a plain file name (no `/`, not `.` or `..`, no NUL or control
    /// characters, at most 255 bytes) other than `.metadata`.
    public static func isSafe(_ name: String) -> Bool {
        guard !name.isEmpty, name.utf8.count <= 255, name != ".", name != "..", name != metadata else { return false }
        return !name.unicodeScalars.contains { $0 == "/" || $0.value < 0x20 || $0.value == 0x7F }
    }
}
