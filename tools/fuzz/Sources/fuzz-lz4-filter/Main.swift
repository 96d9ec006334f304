import CFuzzerDriver

/// The executable's entry point under SwiftPM's name for it: runs libFuzzer on `fuzzLZ4Filter`.
@_cdecl("fuzz_lz4_filter_main")
public func fuzzLZ4FilterMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    var argc = argc
    var argv = argv
    return LLVMFuzzerRunDriver(&argc, &argv) { data, size in fuzzLZ4Filter(data, size) }
}
