/// What calling (REDUCE, NEWOBJ, INST, OBJ) an allow-listed global produces. Nothing is ever
/// executed: each kind is a data construction ckpt performs itself.
enum PickleCallKind: Equatable {
    /// `collections.OrderedDict`, `collections.Counter` → `dict`.
    case dict
    /// `builtins.set`, `builtins.frozenset` → `set`.
    case set
    /// `builtins.bytes`, `builtins.bytearray` → `bytes`.
    case bytes
    /// `_codecs.encode(str, encoding)` → `bytes`.
    case encode
    /// `torch.Size(tuple)` → a tuple of ints.
    case torchSize
    /// `torch.serialization._get_layout("torch.strided")` → the global `torch.strided`.
    case layout
    /// `torch._utils._rebuild_tensor(storage, offset, size, stride)`.
    case rebuildTensor
    /// `torch._utils._rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks[, metadata])`.
    case rebuildTensorV2
    /// `torch._utils._rebuild_tensor_v3(..., hooks, dtype[, metadata])` for untyped storages.
    case rebuildTensorV3
    /// `torch._utils._rebuild_parameter(data, requires_grad, hooks)` and `..._with_state`.
    case rebuildParameter
    /// `torch.nn.parameter.Parameter(data[, requires_grad])`.
    case parameter
    /// `torch._tensor._rebuild_from_type_v2(func, type, args, state)`.
    case rebuildFromType
    /// `copyreg._reconstructor(cls, base, state)`: the protocol 0/1 form of NEWOBJ.
    case reconstructor
    /// A class or function kept as an opaque `object` record with its arguments.
    case opaque
}
