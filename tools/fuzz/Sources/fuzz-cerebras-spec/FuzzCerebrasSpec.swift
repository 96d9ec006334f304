import Containers

/// libFuzzer entry: parses the input as a cstorch `.mdl` root attribute `__spec__`
/// (`[structure, treespec_dumps text]`). An accepted spec must survive `dumps()` + `parse`
/// unchanged, with the same distinct leaf keys; a bare treespec text is also parsed on its own.
/// Every refusal must be one line.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzCerebrasSpec(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    guard let data else { return 0 }
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    do {
        let a = try CerebrasSpecAttribute.parse(text, path: "fuzz.mdl")
        guard Set(a.leafKeys).count == a.leafKeys.count else { fatalError("leaf keys not distinct") }
        guard case .success(let again) = PyTreeSpec.parse(a.spec.dumps()), again == a.spec else {
            fatalError("parse(dumps(spec)) != spec")
        }
        guard case .success(let keys) = again.leafKeys(), keys == a.leafKeys else { fatalError("leaf keys changed after dumps") }
    } catch {
        guard !error.description.contains("\n") else { fatalError("multi-line error: \(error.description)") }
    }
    switch PyTreeSpec.parse(text) {
    case .success(let s):
        guard case .success(let again) = PyTreeSpec.parse(s.dumps()), again == s else { fatalError("bare: parse(dumps(spec)) != spec") }
        if case .failure(let e) = s.leafKeys(), e.description.contains("\n") { fatalError("multi-line error: \(e.description)") }
    case .failure(let e):
        guard !e.description.contains("\n") else { fatalError("multi-line error: \(e.description)") }
    }
    return 0
}
