#include "CVectorMath.h"

typedef float f8 __attribute__((ext_vector_type(8)));
typedef int i8 __attribute__((ext_vector_type(8)));
typedef float f4 __attribute__((ext_vector_type(4)));
typedef double d4 __attribute__((ext_vector_type(4)));

/* The helpers are macros, not functions: 8-lane vectors cannot cross a function boundary in the
   baseline build without changing the ABI. */

/* e^X on 8 lanes (the scheme in CVectorMath.h). */
#define EXP8(X) ({ \
    f8 x_ = __builtin_elementwise_min(__builtin_elementwise_max((X), (f8)(-87.3f)), (f8)(88.3f)); \
    f8 s_ = x_ * 1.44269504f + 12582912.0f; \
    f8 n_ = s_ - 12582912.0f; \
    f8 r_ = x_ - n_ * 0.693359375f + n_ * 2.1219444e-4f; \
    f8 p_ = (f8)(1.98756915e-4f); \
    p_ = p_ * r_ + 1.3981999507e-3f; \
    p_ = p_ * r_ + 8.3334519073e-3f; \
    p_ = p_ * r_ + 4.1665795894e-2f; \
    p_ = p_ * r_ + 1.6666665459e-1f; \
    p_ = p_ * r_ + 5.0000001201e-1f; \
    f8 e_ = p_ * (r_ * r_) + r_ + 1.0f; \
    i8 b_ = ((__builtin_bit_cast(i8, s_) - 0x4B400000) + 127) << 23; \
    e_ * __builtin_bit_cast(f8, b_); })

/* tanh(X) on 8 lanes. */
#define TANH8(X) ({ \
    f8 c_ = __builtin_elementwise_min(__builtin_elementwise_max((X), (f8)(-10.0f)), (f8)(10.0f)); \
    1.0f - 2.0f / (EXP8(c_ + c_) + 1.0f); })

/* Up to 8 lanes from P (N of them, the rest zero). */
#define LOAD8(P, N) ({ \
    f8 v_ = 0; \
    if ((N) >= 8) __builtin_memcpy(&v_, (P), sizeof v_); \
    else for (long j_ = 0; j_ < (N); j_++) v_[j_] = (P)[j_]; \
    v_; })

/* The first N (up to 8) lanes of V to P. */
#define STORE8(V, P, N) do { \
    f8 w_ = (V); \
    if ((N) >= 8) __builtin_memcpy((P), &w_, sizeof w_); \
    else for (long j_ = 0; j_ < (N); j_++) (P)[j_] = w_[j_]; \
} while (0)

#define K0 0.79788456f
#define K1 0.044715f

/* The kernels, defined once per build: SUFFIX names the build, ATTR its target. */
#define DEFINE_KERNELS(SUFFIX, ATTR) \
    ATTR static void gelu_tanh_forward_##SUFFIX(const float *u, float *out, long count) { \
        for (long i = 0; i < count; i += 8) { \
            f8 x = LOAD8(u + i, count - i); \
            f8 t = TANH8(K0 * (x + K1 * x * x * x)); \
            STORE8(0.5f * x * (1.0f + t), out + i, count - i); \
        } \
    } \
    ATTR static void gelu_tanh_backward_##SUFFIX(const float *u, float *grad, long count) { \
        for (long i = 0; i < count; i += 8) { \
            f8 x = LOAD8(u + i, count - i); \
            f8 x2 = x * x; \
            f8 t = TANH8(K0 * (x + K1 * x2 * x)); \
            f8 inner = (1.0f + (3.0f * K1) * x2) * K0; \
            f8 d = 0.5f * (1.0f + t) + (0.5f * x) * (1.0f - t * t) * inner; \
            STORE8(LOAD8(grad + i, count - i) * d, grad + i, count - i); \
        } \
    } \
    ATTR static float row_max_##SUFFIX(const float *row, long count) { \
        f8 m = (f8)(-__builtin_inff()); \
        long full = count - count % 8; \
        for (long i = 0; i < full; i += 8) m = __builtin_elementwise_max(m, LOAD8(row + i, 8)); \
        float best = m[0]; \
        for (int j = 1; j < 8; j++) best = m[j] > best ? m[j] : best; \
        for (long i = full; i < count; i++) best = row[i] > best ? row[i] : best; \
        return best; \
    } \
    ATTR static double exp_sum_##SUFFIX(float *row, long count, float shift, int write) { \
        d4 acc = 0; \
        long full = count - count % 8; \
        for (long i = 0; i < full; i += 8) { \
            f8 e = EXP8(LOAD8(row + i, 8) - shift); \
            f4 lo = e.lo, hi = e.hi; \
            acc += __builtin_convertvector(lo, d4) + __builtin_convertvector(hi, d4); \
            if (write) STORE8(e, row + i, 8); \
        } \
        double s = acc[0] + acc[1] + acc[2] + acc[3]; \
        if (full < count) { \
            long n = count - full; \
            f8 e = EXP8(LOAD8(row + full, n) - shift); \
            for (long j = 0; j < n; j++) s += (double)e[j]; \
            if (write) STORE8(e, row + full, n); \
        } \
        return s; \
    } \
    ATTR static void scale_##SUFFIX(float *x, long count, float scale) { \
        for (long i = 0; i < count; i += 8) STORE8(LOAD8(x + i, count - i) * scale, x + i, count - i); \
    } \
    ATTR static double sum_of_squares_##SUFFIX(const float *x, long count) { \
        _Pragma("clang fp contract(off)") \
        d4 a0 = 0, a1 = 0, a2 = 0, a3 = 0; \
        long i = 0; \
        for (; i + 16 <= count; i += 16) { \
            f8 v0 = LOAD8(x + i, 8), v1 = LOAD8(x + i + 8, 8); \
            f4 v0l = v0.lo, v0h = v0.hi, v1l = v1.lo, v1h = v1.hi; \
            d4 w0 = __builtin_convertvector(v0l, d4), w1 = __builtin_convertvector(v0h, d4); \
            d4 w2 = __builtin_convertvector(v1l, d4), w3 = __builtin_convertvector(v1h, d4); \
            d4 s0 = w0 * w0, s1 = w1 * w1, s2 = w2 * w2, s3 = w3 * w3; \
            a0 += s0; a1 += s1; a2 += s2; a3 += s3; \
        } \
        double s = 0; \
        for (int j = 0; j < 4; j++) s += a0[j]; \
        for (int j = 0; j < 4; j++) s += a1[j]; \
        for (int j = 0; j < 4; j++) s += a2[j]; \
        for (int j = 0; j < 4; j++) s += a3[j]; \
        for (; i < count; i++) { double v = (double)x[i]; double sq = v * v; s += sq; } \
        return s; \
    } \
    ATTR static void adamw_torch_##SUFFIX(float *theta, const float *source, const float *grad, float *m, float *v, \
                                          long count, const ckpt_adamw_constants *c) { \
        _Pragma("clang fp contract(off)") \
        for (long i = 0; i < count; i += 8) { \
            long n = count - i; \
            f8 g = LOAD8(grad + i, n) * c->grad_scale; \
            f8 th = LOAD8(source + i, n) * c->decay_factor; \
            f8 m0 = LOAD8(m + i, n); \
            f8 mn = m0 + (g - m0) * c->one_minus_beta1; \
            f8 vn = LOAD8(v + i, n) * c->beta2 + c->one_minus_beta2 * g * g; \
            f8 denom = __builtin_elementwise_sqrt(vn) / c->bc2_sqrt + c->eps; \
            STORE8(mn, m + i, n); \
            STORE8(vn, v + i, n); \
            STORE8(th + -c->step_size * (mn / denom), theta + i, n); \
        } \
    } \
    ATTR static void adamw_decoupled_##SUFFIX(float *theta, const float *source, const float *grad, float *m, float *v, \
                                              long count, const ckpt_adamw_constants *c) { \
        _Pragma("clang fp contract(off)") \
        for (long i = 0; i < count; i += 8) { \
            long n = count - i; \
            f8 g = LOAD8(grad + i, n) * c->grad_scale; \
            f8 th = LOAD8(source + i, n); \
            f8 mn = c->beta1 * LOAD8(m + i, n) + c->one_minus_beta1 * g; \
            f8 vn = c->beta2 * LOAD8(v + i, n) + c->one_minus_beta2 * g * g; \
            f8 step = (mn * c->inv_bc1) / (__builtin_elementwise_sqrt(vn * c->inv_bc2) + c->eps) + c->weight_decay * th; \
            STORE8(mn, m + i, n); \
            STORE8(vn, v + i, n); \
            STORE8(th - c->lr * step, theta + i, n); \
        } \
    } \
    static const ckpt_vector_kernels kernels_##SUFFIX = { \
        gelu_tanh_forward_##SUFFIX, gelu_tanh_backward_##SUFFIX, row_max_##SUFFIX, exp_sum_##SUFFIX, scale_##SUFFIX, \
        sum_of_squares_##SUFFIX, adamw_torch_##SUFFIX, adamw_decoupled_##SUFFIX};

DEFINE_KERNELS(base, )

#if defined(__x86_64__)
DEFINE_KERNELS(avx2, __attribute__((target("avx2,fma"))))

static int has_avx2_fma(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}
#else
static int has_avx2_fma(void) { return 0; }
#endif

const ckpt_vector_kernels *ckpt_vector_kernels_variant(int which) {
    if (which == 0) return &kernels_base;
#if defined(__x86_64__)
    if (which == 1 && has_avx2_fma()) return &kernels_avx2;
#endif
    return 0;
}

/* The build for this CPU, chosen once when the library is loaded. */
static const ckpt_vector_kernels *best_kernels = &kernels_base;

__attribute__((constructor)) static void choose_kernels(void) {
    const ckpt_vector_kernels *k = ckpt_vector_kernels_variant(1);
    if (k) best_kernels = k;
}

const ckpt_vector_kernels *ckpt_vector_kernels_best(void) { return best_kernels; }
