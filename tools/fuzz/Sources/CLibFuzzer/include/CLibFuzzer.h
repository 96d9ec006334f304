#ifndef CKPT_CLIBFUZZER_H
#define CKPT_CLIBFUZZER_H
#include <stddef.h>
#include <stdint.h>

/// libFuzzer's driver (compiler-rt FuzzerDriver.cpp), run from the executable's own main:
/// SwiftPM links Linux executables with `--defsym main=<module>_main`, so libFuzzer's `main` is
/// never used and each target's top-level code calls this instead.
int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));
#endif
