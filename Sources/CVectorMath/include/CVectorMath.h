#ifndef CKPT_CVECTORMATH_H
#define CKPT_CVECTORMATH_H

/* Eight-lane float vectors, imported into Swift as SIMD8<Float>. */
typedef float ckpt_float8 __attribute__((ext_vector_type(8)));

/* Correctly rounded square root of each lane as one vector instruction per register
   (sqrtps). Swift's SIMD8<Float>.squareRoot() lowers to eight scalar libm calls with errno
   checks, which made the AdamW pass compute-bound. */
static inline __attribute__((always_inline)) ckpt_float8 ckpt_sqrt8(ckpt_float8 x) {
    return __builtin_elementwise_sqrt(x);
}

#endif
