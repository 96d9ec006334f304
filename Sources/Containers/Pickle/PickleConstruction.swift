/// How a pickled object was constructed, so a writer can emit the same form.
public enum PickleConstruction: String, Sendable, Hashable {
    /// `REDUCE`: the class (or function) was called with the arguments (`cls(*args)`); enums,
    /// `pathlib` paths, numpy's `_reconstruct`, `collections.OrderedDict`.
    case reduce
    /// `NEWOBJ`: `cls.__new__(cls, *args)` then usually BUILD with the state; what protocol 2
    /// emits for plain classes (`argparse.Namespace`, dataclasses).
    case newObject
}
