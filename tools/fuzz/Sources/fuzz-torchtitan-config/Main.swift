import CFuzzerDriver

/// The executable's entry point under SwiftPM's name for it: runs libFuzzer on `fuzzTorchtitanConfig`.
@_cdecl("fuzz_torchtitan_config_main")
public func fuzzTorchtitanConfigMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    var argc = argc
    var argv = argv
    return LLVMFuzzerRunDriver(&argc, &argv) { data, size in fuzzTorchtitanConfig(data, size) }
}
