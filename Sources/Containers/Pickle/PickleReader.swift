/// ckpt's restricted pickle reader: decodes a pickle (protocols 0-5) into a `PickleValue`
/// without importing or executing anything.
///
/// Globals only become names; calls of the allow-listed ones (`collections.OrderedDict`,
/// `_codecs.encode`, `torch._utils._rebuild_tensor_v2` ...) are constructions ckpt performs
/// itself; classes of the "opaque" list (`argparse.Namespace`, numpy's `_reconstruct`, enums of
/// `megatron.*` ...) become `.object` records; modules like `os`, `posix`, `subprocess` and
/// builtins like `eval` are refused with `ContainerError.refused` naming the global. The policy
/// and the limits are documented in formats/torch-save.md.
public enum PickleReader {
    /// Decodes `bytes`. `path` and `entry` (the record inside an archive) name the input in
    /// errors.
    public static func decode(_ bytes: [UInt8], path: String, entry: String, limits: PickleLimits = PickleLimits()) throws(ContainerError)
        -> PickleValue
    {
        guard bytes.count <= limits.maxPickleBytes else {
            throw .malformed(path: path, detail: "pickle \(entry) of \(bytes.count) bytes exceeds the limit of \(limits.maxPickleBytes)")
        }
        return try PickleMachine(bytes: bytes, path: path, entry: entry, limits: limits).run()
    }
}
