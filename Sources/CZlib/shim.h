#ifndef CKPT_CZLIB_SHIM_H
#define CKPT_CZLIB_SHIM_H
// zlib, for `crc32_combine` only: joining the CRC-32s of parts computed on several cores (the
// CRC-32 itself comes from libdeflate, CDeflate).
#include <zlib.h>
#endif
