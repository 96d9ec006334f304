#include "CChunkKernels.h"
#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>
#define CKPT_HAVE_X86 1
#endif

/* Folds a sum as HDF5 does after each block. */
static inline uint32_t fold(uint32_t x) { return (x & 0xffff) + (x >> 16); }

/* One block of n <= 360 words, word by word: (S, T) with S = sum w_i, T = sum (n - i) w_i. */
static inline void block_scalar(const uint8_t *p, size_t n, uint32_t *s, uint32_t *t) {
    uint32_t a = 0, b = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t w = ((uint32_t)p[2 * i] << 8) | p[2 * i + 1];
        a += w;
        b += w * (uint32_t)(n - i);
    }
    *s = a;
    *t = b;
}

/* The checksum with a block function for full 360-word blocks. */
#define DEFINE_FLETCHER(NAME, ATTR, FULL_BLOCK) \
    ATTR static uint32_t NAME(const void *data, size_t length) { \
        const uint8_t *p = (const uint8_t *)data; \
        uint32_t sum1 = 0, sum2 = 0; \
        size_t words = length / 2; \
        while (words > 0) { \
            size_t n = words < 360 ? words : 360; \
            uint32_t s, t; \
            if (n == 360) FULL_BLOCK(p, &s, &t); else block_scalar(p, n, &s, &t); \
            sum2 = sum2 + (uint32_t)n * sum1 + t; \
            sum1 = fold(sum1 + s); \
            sum2 = fold(sum2); \
            p += 2 * n; \
            words -= n; \
        } \
        if (length % 2 == 1) { \
            sum1 += (uint32_t)(*p) << 8; \
            sum2 += sum1; \
            sum1 = fold(sum1); \
            sum2 = fold(sum2); \
        } \
        sum1 = fold(sum1); \
        sum2 = fold(sum2); \
        return (sum2 << 16) | sum1; \
    }

static inline void full_block_scalar(const uint8_t *p, uint32_t *s, uint32_t *t) { block_scalar(p, 360, s, t); }
DEFINE_FLETCHER(fletcher32_base, , full_block_scalar)

#if CKPT_HAVE_X86
/* A full block: 22 vectors of 16 words and a tail of 8. For word i = 16k + j the weight is
   360 - i = (16 - j) + 16 (21 - k) + 8; on w' = w - 32768 (the word with its top bit flipped,
   read as int16) madd gives the (16 - j)-weighted sum L_k and the plain sum S_k of each vector;
   Q = sum (21 - k) S_k accumulates as a running prefix. Then T' = L + 16 Q + 8 P + L_tail and
   S' = P + S_tail, and T = T' + 32768 * 64980, S = S' + 32768 * 360. */
__attribute__((target("avx2"))) static inline void full_block_avx2(const uint8_t *p, uint32_t *s, uint32_t *t) {
    const __m256i swap = _mm256_setr_epi8(1, 0, 3, 2, 5, 4, 7, 6, 9, 8, 11, 10, 13, 12, 15, 14,
                                          1, 0, 3, 2, 5, 4, 7, 6, 9, 8, 11, 10, 13, 12, 15, 14);
    const __m256i flip = _mm256_set1_epi16((short)0x8000);
    const __m256i weights = _mm256_setr_epi16(16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1);
    const __m256i ones = _mm256_set1_epi16(1);
    __m256i vl = _mm256_setzero_si256(), vp = _mm256_setzero_si256(), vq = _mm256_setzero_si256();
    for (int k = 0; k < 22; k++) {
        __m256i w = _mm256_loadu_si256((const __m256i *)(p + 32 * k));
        w = _mm256_xor_si256(_mm256_shuffle_epi8(w, swap), flip);
        vq = _mm256_add_epi32(vq, vp);
        vp = _mm256_add_epi32(vp, _mm256_madd_epi16(w, ones));
        vl = _mm256_add_epi32(vl, _mm256_madd_epi16(w, weights));
    }
    const __m128i swap4 = _mm_setr_epi8(1, 0, 3, 2, 5, 4, 7, 6, 9, 8, 11, 10, 13, 12, 15, 14);
    __m128i tail = _mm_loadu_si128((const __m128i *)(p + 704));
    tail = _mm_xor_si128(_mm_shuffle_epi8(tail, swap4), _mm_set1_epi16((short)0x8000));
    __m128i tl = _mm_madd_epi16(tail, _mm_setr_epi16(8, 7, 6, 5, 4, 3, 2, 1));
    __m128i ts = _mm_madd_epi16(tail, _mm_set1_epi16(1));
    /* Lane sums in wrapping 32-bit arithmetic. */
    __m256i tv = _mm256_add_epi32(_mm256_add_epi32(vl, _mm256_slli_epi32(vq, 4)), _mm256_slli_epi32(vp, 3));
    __m128i t4 = _mm_add_epi32(_mm_add_epi32(_mm256_castsi256_si128(tv), _mm256_extracti128_si256(tv, 1)), tl);
    __m128i s4 = _mm_add_epi32(_mm_add_epi32(_mm256_castsi256_si128(vp), _mm256_extracti128_si256(vp, 1)), ts);
    uint32_t tw[4], sw[4];
    _mm_storeu_si128((__m128i *)tw, t4);
    _mm_storeu_si128((__m128i *)sw, s4);
    *t = tw[0] + tw[1] + tw[2] + tw[3] + 32768u * 64980u;
    *s = sw[0] + sw[1] + sw[2] + sw[3] + 32768u * 360u;
}
DEFINE_FLETCHER(fletcher32_avx2, __attribute__((target("avx2"))), full_block_avx2)

static int has_avx2(void) {
    static int cached = -1;
    if (cached < 0) cached = __builtin_cpu_supports("avx2") ? 1 : 0;
    return cached;
}
#endif

uint32_t ckpt_fletcher32(const void *data, size_t length) {
#if CKPT_HAVE_X86
    if (has_avx2()) return fletcher32_avx2(data, length);
#endif
    return fletcher32_base(data, length);
}

int ckpt_fletcher32_variant(int which, const void *data, size_t length, uint32_t *result) {
    if (which == 0) {
        *result = fletcher32_base(data, length);
        return 1;
    }
#if CKPT_HAVE_X86
    if (which == 1 && has_avx2()) {
        *result = fletcher32_avx2(data, length);
        return 1;
    }
#endif
    return 0;
}

/* Masked counts: plain loops the compiler vectorises, built for the baseline and for AVX2. */
#define DEFINE_COUNT(NAME, T, ATTR) \
    ATTR static size_t NAME(const T *data, size_t count, T mask) { \
        size_t n = 0; \
        for (size_t i = 0; i < count; i++) { \
            T x; \
            memcpy(&x, data + i, sizeof x); \
            n += (x & mask) == mask; \
        } \
        return n; \
    }
DEFINE_COUNT(count16_base, uint16_t, )
DEFINE_COUNT(count32_base, uint32_t, )
DEFINE_COUNT(count64_base, uint64_t, )
#if CKPT_HAVE_X86
DEFINE_COUNT(count16_avx2, uint16_t, __attribute__((target("avx2"))))
DEFINE_COUNT(count32_avx2, uint32_t, __attribute__((target("avx2"))))
DEFINE_COUNT(count64_avx2, uint64_t, __attribute__((target("avx2"))))
#define DISPATCH(B) if (has_avx2()) return B##_avx2(data, count, mask); return B##_base(data, count, mask)
#else
#define DISPATCH(B) return B##_base(data, count, mask)
#endif

size_t ckpt_count_masked16(const uint16_t *data, size_t count, uint16_t mask) { DISPATCH(count16); }
size_t ckpt_count_masked32(const uint32_t *data, size_t count, uint32_t mask) { DISPATCH(count32); }
size_t ckpt_count_masked64(const uint64_t *data, size_t count, uint64_t mask) { DISPATCH(count64); }

/* Shuffles, element by element: the baseline build and every build's tail. */
static void shuffle2_base(const uint8_t *s, uint8_t *d, size_t n, size_t from) {
    for (size_t i = from; i < n; i++) { d[i] = s[2 * i]; d[n + i] = s[2 * i + 1]; }
}
static void shuffle4_base(const uint8_t *s, uint8_t *d, size_t n, size_t from) {
    for (size_t i = from; i < n; i++) {
        d[i] = s[4 * i]; d[n + i] = s[4 * i + 1]; d[2 * n + i] = s[4 * i + 2]; d[3 * n + i] = s[4 * i + 3];
    }
}
static void unshuffle2_base(const uint8_t *s, uint8_t *d, size_t n, size_t from) {
    for (size_t i = from; i < n; i++) { d[2 * i] = s[i]; d[2 * i + 1] = s[n + i]; }
}
static void unshuffle4_base(const uint8_t *s, uint8_t *d, size_t n, size_t from) {
    for (size_t i = from; i < n; i++) {
        d[4 * i] = s[i]; d[4 * i + 1] = s[n + i]; d[4 * i + 2] = s[2 * n + i]; d[4 * i + 3] = s[3 * n + i];
    }
}

#if CKPT_HAVE_X86
#define LOADU(P) _mm256_loadu_si256((const __m256i *)(P))
#define STOREU(P, V) _mm256_storeu_si256((__m256i *)(P), (V))

/* 32 elements per step: within each 128-bit lane pshufb groups the bytes by plane, then the
   lanes are put in element order. */
__attribute__((target("avx2"))) static void shuffle2_avx2(const uint8_t *s, uint8_t *d, size_t n) {
    const __m256i g = _mm256_setr_epi8(0, 2, 4, 6, 8, 10, 12, 14, 1, 3, 5, 7, 9, 11, 13, 15,
                                       0, 2, 4, 6, 8, 10, 12, 14, 1, 3, 5, 7, 9, 11, 13, 15);
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        /* a = [lo 0-7, hi 0-7 | lo 8-15, hi 8-15] -> [lo 0-15 | hi 0-15] */
        __m256i a = _mm256_permute4x64_epi64(_mm256_shuffle_epi8(LOADU(s + 2 * i), g), 0xd8);
        __m256i b = _mm256_permute4x64_epi64(_mm256_shuffle_epi8(LOADU(s + 2 * i + 32), g), 0xd8);
        STOREU(d + i, _mm256_permute2x128_si256(a, b, 0x20));
        STOREU(d + n + i, _mm256_permute2x128_si256(a, b, 0x31));
    }
    shuffle2_base(s, d, n, i);
}

__attribute__((target("avx2"))) static void shuffle4_avx2(const uint8_t *s, uint8_t *d, size_t n) {
    const __m256i g = _mm256_setr_epi8(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15,
                                       0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
    const __m256i q = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        /* Each v: the 8 bytes of plane 0 of its 8 elements, then planes 1, 2, 3 (64-bit quads). */
        __m256i v0 = _mm256_permutevar8x32_epi32(_mm256_shuffle_epi8(LOADU(s + 4 * i), g), q);
        __m256i v1 = _mm256_permutevar8x32_epi32(_mm256_shuffle_epi8(LOADU(s + 4 * i + 32), g), q);
        __m256i v2 = _mm256_permutevar8x32_epi32(_mm256_shuffle_epi8(LOADU(s + 4 * i + 64), g), q);
        __m256i v3 = _mm256_permutevar8x32_epi32(_mm256_shuffle_epi8(LOADU(s + 4 * i + 96), g), q);
        /* A 4 x 4 transpose of quads. */
        __m256i l01 = _mm256_unpacklo_epi64(v0, v1), h01 = _mm256_unpackhi_epi64(v0, v1);
        __m256i l23 = _mm256_unpacklo_epi64(v2, v3), h23 = _mm256_unpackhi_epi64(v2, v3);
        STOREU(d + i, _mm256_permute2x128_si256(l01, l23, 0x20));
        STOREU(d + n + i, _mm256_permute2x128_si256(h01, h23, 0x20));
        STOREU(d + 2 * n + i, _mm256_permute2x128_si256(l01, l23, 0x31));
        STOREU(d + 3 * n + i, _mm256_permute2x128_si256(h01, h23, 0x31));
    }
    shuffle4_base(s, d, n, i);
}

__attribute__((target("avx2"))) static void unshuffle2_avx2(const uint8_t *s, uint8_t *d, size_t n) {
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        __m256i lo = LOADU(s + i), hi = LOADU(s + n + i);
        __m256i a = _mm256_unpacklo_epi8(lo, hi); /* elements 0-7 | 16-23 */
        __m256i b = _mm256_unpackhi_epi8(lo, hi); /* elements 8-15 | 24-31 */
        STOREU(d + 2 * i, _mm256_permute2x128_si256(a, b, 0x20));
        STOREU(d + 2 * i + 32, _mm256_permute2x128_si256(a, b, 0x31));
    }
    unshuffle2_base(s, d, n, i);
}

__attribute__((target("avx2"))) static void unshuffle4_avx2(const uint8_t *s, uint8_t *d, size_t n) {
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        __m256i a0 = LOADU(s + i), a1 = LOADU(s + n + i), a2 = LOADU(s + 2 * n + i), a3 = LOADU(s + 3 * n + i);
        __m256i t0 = _mm256_unpacklo_epi8(a0, a1), t1 = _mm256_unpackhi_epi8(a0, a1);
        __m256i u0 = _mm256_unpacklo_epi8(a2, a3), u1 = _mm256_unpackhi_epi8(a2, a3);
        __m256i v0 = _mm256_unpacklo_epi16(t0, u0); /* elements 0-3 | 16-19 */
        __m256i v1 = _mm256_unpackhi_epi16(t0, u0); /* 4-7 | 20-23 */
        __m256i v2 = _mm256_unpacklo_epi16(t1, u1); /* 8-11 | 24-27 */
        __m256i v3 = _mm256_unpackhi_epi16(t1, u1); /* 12-15 | 28-31 */
        STOREU(d + 4 * i, _mm256_permute2x128_si256(v0, v1, 0x20));
        STOREU(d + 4 * i + 32, _mm256_permute2x128_si256(v2, v3, 0x20));
        STOREU(d + 4 * i + 64, _mm256_permute2x128_si256(v0, v1, 0x31));
        STOREU(d + 4 * i + 96, _mm256_permute2x128_si256(v2, v3, 0x31));
    }
    unshuffle4_base(s, d, n, i);
}
#endif

/* The baseline's inner loops: 8 or 16 elements per step through 64-bit words, so the scalar
   build is not byte by byte. */
static void shuffle2_word(const uint8_t *s, uint8_t *d, size_t n) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t a, b;
        memcpy(&a, s + 2 * i, 8);
        memcpy(&b, s + 2 * i + 8, 8);
        uint64_t lo = 0, hi = 0;
        for (int k = 0; k < 4; k++) {
            lo |= ((a >> (16 * k)) & 0xff) << (8 * k) | ((b >> (16 * k)) & 0xff) << (8 * (k + 4));
            hi |= ((a >> (16 * k + 8)) & 0xff) << (8 * k) | ((b >> (16 * k + 8)) & 0xff) << (8 * (k + 4));
        }
        memcpy(d + i, &lo, 8);
        memcpy(d + n + i, &hi, 8);
    }
    shuffle2_base(s, d, n, i);
}

#if CKPT_HAVE_X86
#define PICK(NAME, ...) do { if (has_avx2()) { NAME##_avx2(__VA_ARGS__); return; } } while (0)
#else
#define PICK(NAME, ...) do { } while (0)
#endif

void ckpt_shuffle2(const void *src, void *dst, size_t n) {
    PICK(shuffle2, src, dst, n);
    shuffle2_word(src, dst, n);
}
void ckpt_shuffle4(const void *src, void *dst, size_t n) {
    PICK(shuffle4, src, dst, n);
    shuffle4_base(src, dst, n, 0);
}
void ckpt_unshuffle2(const void *src, void *dst, size_t n) {
    PICK(unshuffle2, src, dst, n);
    unshuffle2_base(src, dst, n, 0);
}
void ckpt_unshuffle4(const void *src, void *dst, size_t n) {
    PICK(unshuffle4, src, dst, n);
    unshuffle4_base(src, dst, n, 0);
}

int ckpt_shuffle_variant(int which, int size, int forward, const void *src, void *dst, size_t n) {
    if (size != 2 && size != 4) return 0;
    if (which == 0) {
        if (size == 2 && forward) shuffle2_word(src, dst, n);
        else if (size == 2) unshuffle2_base(src, dst, n, 0);
        else if (forward) shuffle4_base(src, dst, n, 0);
        else unshuffle4_base(src, dst, n, 0);
        return 1;
    }
#if CKPT_HAVE_X86
    if (which == 1 && has_avx2()) {
        if (size == 2 && forward) shuffle2_avx2(src, dst, n);
        else if (size == 2) unshuffle2_avx2(src, dst, n);
        else if (forward) shuffle4_avx2(src, dst, n);
        else unshuffle4_avx2(src, dst, n);
        return 1;
    }
#endif
    return 0;
}
