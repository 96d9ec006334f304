import CFuzzerDriver

/// The executable's entry point under SwiftPM's name for it: runs libFuzzer on `fuzzHFJSON`.
@_cdecl("fuzz_hf_json_main")
public func fuzzHFJSONMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    var argc = argc
    var argv = argv
    return LLVMFuzzerRunDriver(&argc, &argv) { data, size in fuzzHFJSON(data, size) }
}
