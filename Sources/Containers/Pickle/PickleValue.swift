/// A value decoded by ckpt's restricted pickle reader.
///
/// The reader builds data only: it never imports or calls anything. Calls of allow-listed
/// globals it understands become plain values (`collections.OrderedDict` → `dict`,
/// `_codecs.encode` → `bytes`, `torch._utils._rebuild_tensor_v2` → `tensor`); instances of
/// other allow-listed classes become `object` records holding the class name, constructor
/// arguments and state, which the caller may interpret (`argparse.Namespace`) or ignore.
public indirect enum PickleValue: Sendable, Hashable {
    /// `None`.
    case none
    /// `True` / `False`.
    case bool(Bool)
    /// An integer that fits 64 bits.
    case int(Int64)
    /// A larger integer: little-endian two's complement bytes (pickle's LONG1/LONG4 form).
    case bigInt([UInt8])
    /// A float.
    case float(Double)
    /// A `str`.
    case string(String)
    /// `bytes` or `bytearray`.
    case bytes([UInt8])
    /// A `list`.
    case list([PickleValue])
    /// A `tuple`.
    case tuple([PickleValue])
    /// A `dict` or `collections.OrderedDict`, in insertion order.
    case dict([PickleDictEntry])
    /// A `set` or `frozenset`.
    case set([PickleValue])
    /// A class or function named but not called (`torch.bfloat16`, `numpy.ndarray`).
    case global(PickleGlobal)
    /// An instance of a class the reader does not turn into a plain value.
    case object(PickleObject)
    /// A tensor of a `torch.save` archive (`_rebuild_tensor_v2/v3`, `_rebuild_parameter`).
    case tensor(TorchTensorRef)
    /// A storage of a `torch.save` archive (a persistent id).
    case storage(TorchStorageRef)
}

/// A `module.name` global reference.
public struct PickleGlobal: Sendable, Hashable, CustomStringConvertible {
    /// The module (`argparse`, `torch._utils`).
    public var module: String
    /// The qualified name inside it (`Namespace`, `_rebuild_tensor_v2`).
    public var name: String

    /// Creates a reference.
    public init(module: String, name: String) {
        self.module = module
        self.name = name
    }

    /// `module.name`.
    public var description: String { module + "." + name }
}

/// An instance of a class: what the pickle said to construct and how it set its state.
public struct PickleObject: Sendable, Hashable {
    /// The class (or the callable of a REDUCE).
    public var type: PickleGlobal
    /// The constructor / call arguments.
    public var args: [PickleValue]
    /// The state given by BUILD (often a dict of attributes), or nil.
    public var state: PickleValue?
    /// Items added with APPEND(S).
    public var listItems: [PickleValue]
    /// Items added with SETITEM(S).
    public var dictItems: [PickleDictEntry]
    /// Whether it was called (`REDUCE`) or made with `NEWOBJ`; the writer emits the same form.
    /// An `OrderedDict` written by the writer is `.object` of `collections.OrderedDict` with
    /// `.reduce`, no args and its entries in `dictItems` (the reader returns `.dict`).
    public var construction: PickleConstruction

    /// Creates a record.
    public init(
        type: PickleGlobal, args: [PickleValue] = [], state: PickleValue? = nil, listItems: [PickleValue] = [], dictItems: [PickleDictEntry] = [],
        construction: PickleConstruction = .reduce
    ) {
        self.type = type
        self.args = args
        self.state = state
        self.listItems = listItems
        self.dictItems = dictItems
        self.construction = construction
    }
}

/// One key/value pair of a pickled dict.
public struct PickleDictEntry: Sendable, Hashable {
    /// The key.
    public var key: PickleValue
    /// The value.
    public var value: PickleValue

    /// Creates an entry.
    public init(key: PickleValue, value: PickleValue) {
        self.key = key
        self.value = value
    }
}

/// A storage of a `torch.save` archive: the persistent id `('storage', type, key, location, n)`.
public struct TorchStorageRef: Sendable, Hashable {
    /// The record name under `<prefix>/data/`.
    public var key: String
    /// The storage's element type as torch names it (`float32`, `bfloat16`, `uint8`, ...);
    /// `uint8` with `isUntyped` for `torch.UntypedStorage`.
    public var dtypeName: String
    /// Whether it is an `UntypedStorage` (counted in bytes; the tensor carries the dtype).
    public var isUntyped: Bool
    /// `cpu`, `cuda:0`, ... (informational: ckpt reads every location from the file).
    public var location: String
    /// Elements (typed) or bytes (untyped), as recorded.
    public var count: Int

    /// Creates a reference.
    public init(key: String, dtypeName: String, isUntyped: Bool, location: String, count: Int) {
        self.key = key
        self.dtypeName = dtypeName
        self.isUntyped = isUntyped
        self.location = location
        self.count = count
    }
}

/// A tensor of a `torch.save` archive: a strided view of a storage.
public struct TorchTensorRef: Sendable, Hashable {
    /// The storage it views.
    public var storage: TorchStorageRef
    /// Element type as torch names it (`float32`, `bfloat16`, ...).
    public var dtypeName: String
    /// Offset into the storage, in elements.
    public var storageOffset: Int
    /// Shape.
    public var shape: [Int]
    /// Strides, in elements.
    public var strides: [Int]
    /// `requires_grad`.
    public var requiresGrad: Bool
    /// Whether it was saved as an `nn.Parameter`.
    public var isParameter: Bool

    /// Creates a reference.
    public init(storage: TorchStorageRef, dtypeName: String, storageOffset: Int, shape: [Int], strides: [Int], requiresGrad: Bool, isParameter: Bool) {
        self.storage = storage
        self.dtypeName = dtypeName
        self.storageOffset = storageOffset
        self.shape = shape
        self.strides = strides
        self.requiresGrad = requiresGrad
        self.isParameter = isParameter
    }
}
