// swift-tools-version: 6.0
// libFuzzer targets for ckpt's parsers of untrusted bytes, kept out of the main package so a
// normal `swift build` never needs the fuzzer runtime. One executable per target:
// Sources/fuzz-<target>/main.swift hands its one-input function to libFuzzer's driver
// (`LLVMFuzzerRunDriver`, declared by CLibFuzzer); corpus/<target>/ seeds it. Build and run with
// tools/fuzz.sh <target> <seconds>.
import PackageDescription

let package = Package(
    name: "ckpt-fuzz",
    dependencies: [.package(name: "ckpt", path: "../..")],
    targets: [
        .target(name: "CLibFuzzer"),
        // The restricted pickle VM, and the zip + torch.save archive reader (inputs starting "PK").
        .executableTarget(name: "fuzz-pickle", dependencies: ["CLibFuzzer", .product(name: "Containers", package: "ckpt")]),
    ]
)
