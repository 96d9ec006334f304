import CFuzzerDriver

/// The executable's entry point under SwiftPM's name for it: runs libFuzzer on `fuzzCerebrasSpec`.
@_cdecl("fuzz_cerebras_spec_main")
public func fuzzCerebrasSpecMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    var argc = argc
    var argv = argv
    return LLVMFuzzerRunDriver(&argc, &argv) { data, size in fuzzCerebrasSpec(data, size) }
}
