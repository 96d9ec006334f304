// swift-tools-version: 6.0
import Foundation
import PackageDescription

// HDF5 through pkg-config `hdf5-serial` where it exists (Debian and Ubuntu): there `hdf5` is an
// alternative that installing libhdf5-openmpi-dev (or -mpich-dev) re-points at an MPI build,
// which is not thread-safe. Elsewhere (no hdf5-serial.pc) plain `hdf5`; ckpt checks
// `H5is_library_threadsafe` at start-up and serialises its HDF5 calls when the library is not.
let hdf5PkgConfig: String = {
    let dirs =
        (ProcessInfo.processInfo.environment["PKG_CONFIG_PATH"] ?? "").split(separator: ":").map(String.init)
        + ["/usr/lib/pkgconfig", "/usr/share/pkgconfig", "/usr/local/lib/pkgconfig", "/usr/lib64/pkgconfig"]
        + ((try? FileManager.default.contentsOfDirectory(atPath: "/usr/lib")) ?? []).map { "/usr/lib/\($0)/pkgconfig" }
    return dirs.contains { FileManager.default.fileExists(atPath: $0 + "/hdf5-serial.pc") } ? "hdf5-serial" : "hdf5"
}()

let package = Package(
    name: "ckpt",
    platforms: [.macOS(.v13)],
    products: [
        .library(name: "CheckpointStore", targets: ["CheckpointStore"]),
        .library(name: "Containers", targets: ["Containers"]),
        .library(name: "Sharding", targets: ["Sharding"]),
        .library(name: "ReferenceCore", targets: ["ReferenceCore"]),
        .executable(name: "ckpt", targets: ["ckpt"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0")
    ],
    targets: [
        // C libraries, found through pkg-config. Each header also holds small static-inline
        // accessors for the C macros that do not import into Swift.
        .systemLibrary(name: "CHDF5", pkgConfig: hdf5PkgConfig, providers: [.apt(["libhdf5-dev"])]),
        .systemLibrary(name: "CZstd", pkgConfig: "libzstd", providers: [.apt(["libzstd-dev"])]),
        .systemLibrary(name: "CXXHash", pkgConfig: "libxxhash", providers: [.apt(["libxxhash-dev"])]),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(name: "CDeflate", pkgConfig: "libdeflate", providers: [.apt(["libdeflate-dev"])]),
        .systemLibrary(name: "CLZ4", pkgConfig: "liblz4", providers: [.apt(["liblz4-dev"])]),
        .systemLibrary(name: "COpenBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),

        // Vector instructions Swift's SIMD types do not reach by themselves (header-only).
        .target(name: "CVectorMath"),
        // Kernels over chunk bytes (Fletcher32, NaN/Inf counts, byte shuffle), built for AVX2 too.
        .target(name: "CChunkKernels"),
        // HDF5 file driver that writes large chunks with O_DIRECT (the rest as the POSIX driver).
        .target(name: "CDirectIO", dependencies: ["CHDF5"]),

        // Model/presets.json (byte-identical to formats/presets.json) is compiled in: the one
        // source of `ckpt synth --preset` shapes and the families' conventions.
        .target(
            name: "CheckpointStore", dependencies: ["CHDF5", "CDirectIO", "CZstd", "CXXHash", "CLZ4", "CChunkKernels"],
            resources: [.embedInCode("Model/presets.json")]),
        // Every tensor file format behind one protocol (`TensorContainer`): ckpt's HDF5,
        // safetensors, `torch.save` zip archives with a restricted pickle reader.
        .target(name: "Containers", dependencies: ["CheckpointStore", "CZlib", "CDeflate", "CZstd"]),
        // Layout rules are data: Layouts/*.json (byte-identical to formats/layouts/) are compiled
        // in, so the executable needs no resource bundle at run time.
        .target(
            name: "Sharding", dependencies: ["CheckpointStore", "Containers"],
            resources: [
                .embedInCode("Layouts/megatron-gpt.json"), .embedInCode("Layouts/hf-gpt2.json"), .embedInCode("Layouts/hf-llama.json"),
                .embedInCode("Layouts/cerebras-gpt2.json"), .embedInCode("Layouts/cerebras-llama.json"),
                .embedInCode("Layouts/hf-neox.json"),
                .embedInCode("Layouts/torchtitan-llama.json"),
            ]),
        .target(name: "ReferenceCore", dependencies: ["CheckpointStore", "Containers", "COpenBLAS", "CHDF5", "CVectorMath"]),
        .executableTarget(
            name: "ckpt",
            dependencies: [
                "CheckpointStore", "Containers", "Sharding", "ReferenceCore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),
        // The README's library example: a Swift program that writes and reads a checkpoint.
        .executableTarget(name: "ckpt-example", dependencies: ["CheckpointStore"]),

        .testTarget(name: "CheckpointStoreTests", dependencies: ["CheckpointStore", "CHDF5", "CChunkKernels", "CDirectIO"], exclude: ["Fixtures"]),
        .testTarget(name: "ContainersTests", dependencies: ["Containers", "CheckpointStore"]),
        .testTarget(name: "ShardingTests", dependencies: ["Sharding", "CheckpointStore", "Containers"]),
        .testTarget(name: "ReferenceCoreTests", dependencies: ["ReferenceCore", "CheckpointStore"], exclude: ["Fixtures"]),
        .testTarget(name: "CLITests", dependencies: ["CheckpointStore", "ckpt", "ckpt-example"]),
    ]
)
