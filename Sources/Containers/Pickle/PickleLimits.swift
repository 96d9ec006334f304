/// Bounds the restricted pickle reader enforces; every one is checked before the memory it
/// guards is allocated. The defaults admit any real `torch.save` / Megatron / DCP metadata file
/// seen so far with a wide margin.
public struct PickleLimits: Sendable, Hashable {
    /// Largest pickle accepted, in bytes (checked before the pickle is read into memory).
    public var maxPickleBytes: Int
    /// Deepest nesting of containers (lists in dicts in tuples ...), and most open MARKs.
    public var maxDepth: Int
    /// Most memo entries.
    public var maxMemoEntries: Int
    /// Most values the pickle may describe: values pushed while running, and values of the
    /// result counted with multiplicity (a value shared through the memo counts once per use),
    /// which stops memo bombs that expand a few bytes into exponentially many values.
    public var maxNodes: Int
    /// Longest single string or bytes value (also always bounded by the input left).
    public var maxStringBytes: Int
    /// Longest text line of the protocol 0 opcodes that carry numbers or names (INT, LONG,
    /// FLOAT, GET, PUT, GLOBAL, INST, PERSID); STRING and UNICODE lines obey `maxStringBytes`.
    public var maxTextLineBytes: Int
    /// Most decimal digits of a text integer (Python's own default limit is 4300).
    public var maxIntDigits: Int

    /// Creates limits (the defaults: 256 MiB, depth 1000, 16 Mi memo entries and values).
    public init(
        maxPickleBytes: Int = 256 << 20, maxDepth: Int = 1000, maxMemoEntries: Int = 1 << 24, maxNodes: Int = 1 << 24,
        maxStringBytes: Int = 256 << 20, maxTextLineBytes: Int = 1 << 16, maxIntDigits: Int = 4300
    ) {
        self.maxPickleBytes = maxPickleBytes
        self.maxDepth = maxDepth
        self.maxMemoEntries = maxMemoEntries
        self.maxNodes = maxNodes
        self.maxStringBytes = maxStringBytes
        self.maxTextLineBytes = maxTextLineBytes
        self.maxIntDigits = maxIntDigits
    }
}
