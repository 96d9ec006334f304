// swift-tools-version: 6.0
// libFuzzer targets for ckpt's parsers of untrusted bytes. Not part of the main package, so
// `swift test` never builds it. Build and run (see README.md here):
//   tools/fuzz.sh TARGET SECONDS   (from the repository root; TARGET pickle, safetensors, hf-json, dcp-metadata, lz4-filter, cerebras-spec)
// SwiftPM links each executable with its own `main` (`<target>_main`), so each target defines
// that symbol and runs libFuzzer's driver from it (`LLVMFuzzerRunDriver`).
import Foundation
import PackageDescription

// The main package, by path; its identity is the name of its directory (`main`, a worktree's
// name ...), so it is computed rather than spelled.
let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
let ckpt = root.lastPathComponent.lowercased()

let package = Package(
    name: "ckpt-fuzz",
    platforms: [.macOS(.v13)],
    dependencies: [.package(path: root.path)],
    targets: [
        // libFuzzer's driver entry point, which each target's `main` calls.
        .target(name: "CFuzzerDriver"),
        // The safetensors header validator and the reads it makes safe.
        .executableTarget(name: "fuzz-safetensors", dependencies: ["CFuzzerDriver", .product(name: "Containers", package: ckpt)]),
        // The bounded JSON parser and the Hugging Face config.json / index mappings.
        .executableTarget(name: "fuzz-hf-json", dependencies: ["CFuzzerDriver", .product(name: "Containers", package: ckpt)]),
        // The restricted pickle VM, and the zip + torch.save archive reader (inputs starting "PK").
        .target(name: "CLibFuzzer"),
        .executableTarget(name: "fuzz-pickle", dependencies: ["CLibFuzzer", .product(name: "Containers", package: ckpt)]),
        // PyTorch DCP `.metadata` (and, with a `DCP1` prefix, a whole one-file DCP checkpoint).
        .executableTarget(name: "fuzz-dcp-metadata", dependencies: ["CFuzzerDriver", .product(name: "Containers", package: ckpt)]),
        // Megatron torch_dist's metadata.json and common state (args, content_metadata).
        .executableTarget(
            name: "fuzz-megatron-dist",
            dependencies: ["CFuzzerDriver", .product(name: "Containers", package: ckpt), .product(name: "Sharding", package: ckpt)]),
        // torchtitan's job config (`ckpt convert --model-config`), mapped to a model.
        .executableTarget(
            name: "fuzz-torchtitan-config",
            dependencies: ["CFuzzerDriver", .product(name: "Containers", package: ckpt), .product(name: "Sharding", package: ckpt)]),
        // hdf5plugin's LZ4 chunk format (HDF5 filter 32004) as the Cerebras .mdl reader decodes it.
        .executableTarget(name: "fuzz-lz4-filter", dependencies: ["CFuzzerDriver", .product(name: "CheckpointStore", package: ckpt)]),
        // cstorch's `.mdl` root attribute `__spec__` ([structure, torch pytree treespec_dumps]).
        .executableTarget(name: "fuzz-cerebras-spec", dependencies: ["CFuzzerDriver", .product(name: "Containers", package: ckpt)]),
    ]
)
