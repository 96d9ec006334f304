#ifndef CKPT_CZSTD_SHIM_H
#define CKPT_CZSTD_SHIM_H
/* The static-linking-only part of zstd.h (ZSTD_compressSequences, ZSTD_c_blockDelimiters,
 * ZSTD_getFrameHeader): Debian's libzstd.so exports it, and the parameter numbers come from the
 * same system header the library was built with. ckpt uses it only to encode literal-only
 * frames, falling back to ZSTD_compressCCtx on any error; decoding needs none of it. */
#define ZSTD_STATIC_LINKING_ONLY
#include <zstd.h>
#include <zstd_errors.h>

/* ZSTD_c_blockDelimiters is a macro naming an experimental enum value: it does not import. */
static inline ZSTD_cParameter ckpt_ZSTD_c_blockDelimiters(void) { return ZSTD_c_blockDelimiters; }
#endif
