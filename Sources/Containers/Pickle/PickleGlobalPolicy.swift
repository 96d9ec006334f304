/// Which globals a pickle may name and call. The reader never imports or executes anything;
/// this policy only decides what is read as data, what stays an opaque record and what is
/// refused (see formats/torch-save.md).
enum PickleGlobalPolicy {
    /// Modules refused outright, even when only named: they hold process, file, network or code
    /// execution functions (`os.system`, `subprocess.Popen`, `builtins.eval`'s relatives).
    static let refusedModules: Set<String> = [
        "os", "posix", "nt", "sys", "subprocess", "shutil", "socket", "importlib", "pickle", "_pickle", "cPickle",
        "marshal", "runpy", "code", "codeop", "ctypes", "pty", "commands", "webbrowser", "platform", "multiprocessing",
        "_posixsubprocess", "posixpath", "ntpath", "tempfile", "glob", "urllib", "http", "ftplib", "smtplib", "telnetlib",
        "pdb", "bdb", "timeit", "trace", "profile", "cProfile", "asyncio", "threading", "_thread", "select", "mmap",
        "winreg", "_winreg", "nturl2path", "zipimport", "pkgutil", "imp", "site", "sysconfig", "distutils", "setuptools",
        "pip",
    ]

    /// The only `builtins` names a pickle may mention.
    static let safeBuiltins: Set<String> = [
        "set", "frozenset", "bytearray", "bytes", "complex", "slice", "range", "int", "float", "str", "bool", "list",
        "tuple", "dict", "object", "Ellipsis", "NotImplemented",
    ]

    /// Module prefixes whose classes may be instantiated as opaque records.
    static let opaqueModulePrefixes = ["megatron.", "transformer_engine.", "numpy.", "deepspeed."]

    /// The classes of PyTorch DCP's `.metadata` pickle (torch 2.4 to 2.13), and of the save
    /// plans Megatron keeps in it (`all_local_plans`), kept as opaque records; nothing else of
    /// `torch.distributed.checkpoint` may be called.
    static let dcpGlobals: Set<String> = [
        "torch.distributed.checkpoint.metadata.Metadata", "torch.distributed.checkpoint.metadata.TensorStorageMetadata",
        "torch.distributed.checkpoint.metadata.BytesStorageMetadata", "torch.distributed.checkpoint.metadata.ChunkStorageMetadata",
        "torch.distributed.checkpoint.metadata.TensorProperties", "torch.distributed.checkpoint.metadata.MetadataIndex",
        "torch.distributed.checkpoint.metadata.StorageMeta", "torch.distributed.checkpoint.metadata._MEM_FORMAT_ENCODING",
        "torch.distributed.checkpoint.filesystem._StorageInfo", "torch.distributed.checkpoint.filesystem._StoragePrefix",
        "torch.distributed.checkpoint.planner.SavePlan", "torch.distributed.checkpoint.planner.WriteItem",
        "torch.distributed.checkpoint.planner.WriteItemType", "torch.distributed.checkpoint.planner.TensorWriteData",
        "torch.distributed.checkpoint.planner.BytesIOWriteData",
    ]

    /// Individual classes and functions kept as opaque records when called.
    static let opaqueGlobals: Set<String> = [
        "argparse.Namespace", "types.SimpleNamespace",
        "pathlib.PosixPath", "pathlib.Path", "pathlib.WindowsPath", "pathlib.PurePath", "pathlib.PurePosixPath", "pathlib.PureWindowsPath",
        "pathlib._local.PosixPath", "pathlib._local.WindowsPath", "pathlib._local.Path",
        "_io.BytesIO", "io.BytesIO",
        "torch.device", "torch._C.Generator", "torch.Generator", "torch.Tensor", "torch._tensor.Tensor",
        "signal.Signals", "builtins.complex", "builtins.slice", "builtins.range",
        "collections.defaultdict", "collections.deque", "datetime.datetime", "datetime.date",
        "datetime.timedelta", "datetime.timezone", "decimal.Decimal", "uuid.UUID", "fractions.Fraction",
    ]

    /// Python 2 names mapped to Python 3 ones, as the unpickler does for protocol < 3
    /// (`_compat_pickle`), restricted to the modules that matter here.
    static let importMapping: [String: String] = [
        "__builtin__": "builtins", "copy_reg": "copyreg", "cPickle": "pickle", "commands": "subprocess", "_winreg": "winreg",
        "UserDict": "collections", "UserList": "collections", "StringIO": "io", "cStringIO": "io",
    ]

    /// The Python 3 spelling of a global.
    static func normalized(module: String, name: String) -> PickleGlobal {
        switch (module, name) {
        case ("__builtin__", "xrange"): return PickleGlobal(module: "builtins", name: "range")
        case ("__builtin__", "unicode"), ("__builtin__", "basestring"): return PickleGlobal(module: "builtins", name: "str")
        case ("__builtin__", "long"): return PickleGlobal(module: "builtins", name: "int")
        case ("__builtin__", "reduce"): return PickleGlobal(module: "functools", name: "reduce")
        case ("__builtin__", "intern"): return PickleGlobal(module: "sys", name: "intern")
        default: return PickleGlobal(module: importMapping[module] ?? module, name: name)
        }
    }

    /// Why naming `g` is refused, or nil when it may be named.
    static func refusal(_ g: PickleGlobal) -> String? {
        let top = g.module.split(separator: ".", maxSplits: 1).first.map(String.init) ?? g.module
        if refusedModules.contains(g.module) || refusedModules.contains(top) {
            return "global \(g) names module \(g.module), which ckpt never reads"
        }
        if g.module == "builtins" && !safeBuiltins.contains(g.name) {
            return "global \(g) is not one of the builtins ckpt reads (\(safeBuiltins.sorted().joined(separator: ", ")))"
        }
        if g.module == "signal" && g.name != "Signals" { return "global \(g) is not on ckpt's allow-list" }
        if (g.module == "io" || g.module == "_io") && g.name != "BytesIO" { return "global \(g) is not on ckpt's allow-list" }
        if g.name.isEmpty || g.module.isEmpty { return "a global with an empty module or name" }
        return nil
    }

    /// What calling `g` produces, or nil when it may not be called.
    static func callKind(_ g: PickleGlobal) -> PickleCallKind? {
        switch (g.module, g.name) {
        case ("collections", "OrderedDict"), ("collections", "Counter"): return .dict
        case ("builtins", "set"), ("builtins", "frozenset"): return .set
        case ("builtins", "bytes"), ("builtins", "bytearray"): return .bytes
        case ("_codecs", "encode"), ("codecs", "encode"): return .encode
        case ("torch", "Size"): return .torchSize
        case ("torch.serialization", "_get_layout"): return .layout
        case ("torch._utils", "_rebuild_tensor"): return .rebuildTensor
        case ("torch._utils", "_rebuild_tensor_v2"): return .rebuildTensorV2
        case ("torch._utils", "_rebuild_tensor_v3"): return .rebuildTensorV3
        case ("torch._utils", "_rebuild_parameter"), ("torch._utils", "_rebuild_parameter_with_state"): return .rebuildParameter
        case ("torch.nn.parameter", "Parameter"), ("torch.nn", "Parameter"): return .parameter
        case ("torch._tensor", "_rebuild_from_type_v2"): return .rebuildFromType
        case ("copyreg", "_reconstructor"): return .reconstructor
        default: break
        }
        // torch's other rebuild functions (quantized, sparse, meta, nested ...) stay records.
        if g.module == "torch._utils" && g.name.hasPrefix("_rebuild_") { return .opaque }
        if opaqueGlobals.contains(g.description) || dcpGlobals.contains(g.description) { return .opaque }
        if opaqueModulePrefixes.contains(where: { g.module.hasPrefix($0) || g.module + "." == $0 }) { return .opaque }
        return nil
    }
}
