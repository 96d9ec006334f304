/// DCP's `StorageMeta` (torch >= 2.4): the writer's `checkpoint_id` (a path or string) and the
/// save's UUID; informational.
public struct DCPStorageMeta: Sendable, Hashable {
    /// `checkpoint_id`: a `pathlib.PosixPath` joined back into a string, or the string saved.
    public var checkpointID: String?
    /// `save_id`.
    public var saveID: String?
    /// `load_id` (None in a saved file).
    public var loadID: String?
    /// `modules`.
    public var modules: [String]

    /// Creates a record.
    public init(checkpointID: String? = nil, saveID: String? = nil, loadID: String? = nil, modules: [String] = []) {
        self.checkpointID = checkpointID
        self.saveID = saveID
        self.loadID = loadID
        self.modules = modules
    }
}
