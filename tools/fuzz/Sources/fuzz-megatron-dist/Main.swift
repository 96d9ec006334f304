import CFuzzerDriver

/// The executable's entry point under SwiftPM's name for it: runs libFuzzer on `fuzzMegatronDist`.
@_cdecl("fuzz_megatron_dist_main")
public func fuzzMegatronDistMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    var argc = argc
    var argv = argv
    return LLVMFuzzerRunDriver(&argc, &argv) { data, size in fuzzMegatronDist(data, size) }
}
