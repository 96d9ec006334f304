#ifndef CKPT_CVECTORMATH_H
#define CKPT_CVECTORMATH_H

#pragma clang assume_nonnull begin

/* The constants of one AdamW pass (the formulas in formats/optimizer.md). */
typedef struct {
    /* Multiplies each gradient (the clipping coefficient, 1 when not clipping). */
    float grad_scale;
    /* beta1, 1 - beta1, beta2, 1 - beta2, epsilon. */
    float beta1, one_minus_beta1, beta2, one_minus_beta2, eps;
    /* torch: theta *= decay_factor (1 - lr * lambda, or 1 without decay) first; the step is
       step_size * m / (sqrt(v) / bc2_sqrt + eps), step_size = lr / bc1. */
    float decay_factor, step_size, bc2_sqrt;
    /* decoupled: theta -= lr * (m * inv_bc1 / (sqrt(v * inv_bc2) + eps) + weight_decay * theta). */
    float lr, weight_decay, inv_bc1, inv_bc2;
} ckpt_adamw_constants;

/* Elementwise fp32 kernels of the reference step over [0, count), eight lanes at a time. Swift
   compiles for the baseline x86-64 instruction set only (no per-function targets), so these are
   written in C and built twice: for the baseline and for AVX2 + FMA (x86-64-v3). e^x is the
   Cephes expf scheme (n = round(x log2 e) by the 1.5 * 2^23 shift, r = x - n ln2 in two parts,
   a degree-6 polynomial, 2^n in the exponent bits; inputs clamped to [-87.3, 88.3]; relative
   error below 2e-7); tanh(x) = 1 - 2 / (e^{2x} + 1) with |x| clamped to 10, where it rounds to
   exactly +-1. */
typedef struct {
    /* out[i] = gelu_tanh(u[i]) = 0.5 u (1 + tanh(sqrt(2/pi) (u + 0.044715 u^3))). */
    void (*gelu_tanh_forward)(const float *u, float *out, long count);
    /* grad[i] *= gelu_tanh'(u[i]). */
    void (*gelu_tanh_backward)(const float *u, float *grad, long count);
    /* The largest of row[0..<count] (count >= 1; NaN elements are passed over). */
    float (*row_max)(const float *row, long count);
    /* Sum of e^(row[i] - shift) in Float64: each 8-lane vector's two halves added to four
       Float64 lanes, the lanes summed in order, the tail (count mod 8) last. With write != 0
       each row[i] becomes e^(row[i] - shift). */
    double (*exp_sum)(float *row, long count, float shift, int write);
    /* x[i] *= scale. */
    void (*scale)(float *x, long count, float scale);
    /* Sum of x[i]^2 in Float64: sixteen interleaved lanes (x[i] in lane i mod 16), the lanes
       then added in order, the tail (count mod 16) last; no fused multiply-add, so every build
       gives the same bits. */
    double (*sum_of_squares)(const float *x, long count);
    /* AdamW, PyTorch's rule, over [0, count): reads theta from source, m, v, grad; writes
       theta (may equal source), m, v. The operations of the scalar loop in AdamW.swift in the
       same order, without fused multiply-add, so every build gives its bits. */
    void (*adamw_torch)(float *theta, const float *source, const float *grad, float *m, float *v, long count,
                        const ckpt_adamw_constants *c);
    /* AdamW, the decoupled rule (Apex / Megatron / llm.c), likewise. */
    void (*adamw_decoupled)(float *theta, const float *source, const float *grad, float *m, float *v, long count,
                            const ckpt_adamw_constants *c);
} ckpt_vector_kernels;

/* The kernels for this CPU: AVX2 + FMA when it has them, else the baseline build. */
const ckpt_vector_kernels *ckpt_vector_kernels_best(void);

/* One build: 0 the baseline, 1 AVX2 + FMA (NULL when this CPU lacks them). For tests. */
const ckpt_vector_kernels *_Nullable ckpt_vector_kernels_variant(int which);

#pragma clang assume_nonnull end

#endif
