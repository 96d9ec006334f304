#ifndef CKPT_CCHUNKKERNELS_H
#define CKPT_CCHUNKKERNELS_H

#include <stddef.h>
#include <stdint.h>

#pragma clang assume_nonnull begin

/* Kernels over chunk bytes while they are in cache, written in C so that they can be built for AVX2
   as well as the baseline x86-64 set (Swift has no per-function targets); the AVX2 build runs
   when the CPU has it. Each function gives the same result in every build. */

/* HDF5's Fletcher32 (filter 3, H5_checksum_fletcher32) of data[0..<length]: big-endian 16-bit
   words, both sums folded after every block of 360 words, an odd last byte as the high byte of
   a final word. The AVX2 build sums a block's words with madd over the signed words w - 32768
   (the weights 360 - i split into 16 - j, a running prefix of vector sums and a constant) and
   adds the offsets back, which is exact modulo 2^32 as HDF5's own wrapping arithmetic is. */
uint32_t ckpt_fletcher32(const void *data, size_t length);

/* The number of elements x of data[0..<count] with (x & mask) == mask: for a float dtype and
   its exponent mask, the NaN and infinite values. */
size_t ckpt_count_masked16(const uint16_t *data, size_t count, uint16_t mask);
size_t ckpt_count_masked32(const uint32_t *data, size_t count, uint32_t mask);
size_t ckpt_count_masked64(const uint64_t *data, size_t count, uint64_t mask);

/* HDF5's shuffle filter (id 2) for 2- and 4-byte elements over n elements: shuffle moves byte b
   of element i to dst[b * n + i], unshuffle reverses it (src and dst must not overlap). Bytes
   past n * size are the caller's (ByteShuffle copies them). */
void ckpt_shuffle2(const void *src, void *dst, size_t n);
void ckpt_shuffle4(const void *src, void *dst, size_t n);
void ckpt_unshuffle2(const void *src, void *dst, size_t n);
void ckpt_unshuffle4(const void *src, void *dst, size_t n);

/* One build of a shuffle, for tests: which 0 the baseline, 1 AVX2; size 2 or 4; forward 1 to
   shuffle, 0 to unshuffle. Returns 0 (doing nothing) when the CPU lacks AVX2. */
int ckpt_shuffle_variant(int which, int size, int forward, const void *src, void *dst, size_t n);

/* One build, for tests: 0 the baseline, 1 AVX2 (returns 0 and leaves *result alone when the CPU
   lacks AVX2). */
int ckpt_fletcher32_variant(int which, const void *data, size_t length, uint32_t *result);

#pragma clang assume_nonnull end

#endif
