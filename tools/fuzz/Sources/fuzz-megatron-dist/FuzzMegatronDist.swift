import Containers
import Foundation
import Sharding

// The torch_dist-specific readers of untrusted bytes: `metadata.json` (inputs starting "{",
// MegatronDistBackend; an accepted one must survive its own text) and the common state
// (inputs starting "PK": a torch.save archive whose root dict is read as megatron-core's
// common.pt: args -> MegatronArgs, model_config, optimizer config, buffer settings,
// content_metadata -> the optimizer form). Errors are the expected outcome; crashes, sanitizer
// reports, hangs and unbounded memory are the bugs.

let limits = PickleLimits(maxPickleBytes: 1 << 20, maxDepth: 200, maxMemoEntries: 1 << 16, maxNodes: 1 << 18, maxStringBytes: 1 << 20)
let scratch =
    (FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm" : ProcessInfo.processInfo.environment["TMPDIR"] ?? "/tmp")
    + "/ckpt-fuzz-mdist-\(getpid()).pt"

/// The archive's root read as a common state.
func common(_ bytes: [UInt8]) {
    guard FileManager.default.createFile(atPath: scratch, contents: Data(bytes)) else { return }
    defer { unlink(scratch) }
    guard let a = try? TorchArchive(path: scratch, limits: limits) else { return }
    let root = a.root
    if let args = root["args"], let m = try? MegatronArgs(args, path: "fuzz") {
        _ = try? m.modelConfig(vocab: nil)
        _ = try? m.optimizerConfig(paramGroups: root["optimizer"]?["optimizer"]?["param_groups"]?.elements)
        _ = try? m.bufferSettings
    }
    var sharding: String?
    if case .string(let s)? = root["content_metadata"]?["distrib_optim_sharding_type"] { sharding = s }
    var names: [String] = []
    for e in (root.entries ?? []).prefix(256) { if case .string(let k) = e.key { names.append(k) } }
    _ = try? MegatronDistOptimizerForm.detect(sharding: sharding, commonOptimizer: root["optimizer"], names: names, path: "fuzz")
}

/// libFuzzer entry: the input as metadata.json text or as a common-state archive.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzMegatronDist(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    if bytes.starts(with: [0x50, 0x4B, 0x03, 0x04]) {
        common(bytes)
    } else if let b = try? MegatronDistBackend(bytes: bytes, path: "fuzz") {
        guard let again = try? MegatronDistBackend(bytes: Array(b.text.utf8), path: "fuzz"), again == b else {
            fatalError("metadata.json text round trip changed \(b)")
        }
    }
    return 0
}
