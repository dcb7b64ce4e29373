/*
 * vmath.h: the number type and the small math that the layers and the attention kernels share.
 * `real` is float in the trainer; the gradient-check test compiles the same sources with
 * -DREAL=double -DREAL_IS_DOUBLE so finite differences run on the exact code that trains.
 * `vreal` is one SIMD vector of reals: a GCC/Clang vector extension of the widest width -march allows,
 * so one source serves AVX-512, AVX2 and plain builds. Where AVX2 is on, also the 8 x 8 float
 * transpose that the GEMM's packing (matmul.c) and the attention's key tiles share.
 */
#ifndef VMATH_H
#define VMATH_H

#include <stdint.h>
#include <string.h>
#include <math.h>

#ifndef REAL
#define REAL float
#endif
typedef REAL real;

#if defined(__AVX512F__)
#define VBYTES 64
#elif defined(__AVX2__) || defined(__AVX__)
#define VBYTES 32
#else
#define VBYTES 16
#endif
#define VL (int)(VBYTES / sizeof(real)) // lanes per vector
typedef real vreal __attribute__((vector_size(VBYTES), aligned(sizeof(real)), may_alias));

// exp that vectorises: glibc's expf/tanhf are scalar calls, and GELU alone makes ~20M of them per
// GPT-2 step. 2^(x log2 e) by range reduction and a degree-6 polynomial: relative error < 2e-7 on the
// float range. The double build (gradient checks) uses libm's exp.
#ifdef REAL_IS_DOUBLE
#define vexp(x) exp(x)
#else
#pragma omp declare simd
static inline float vexp(float x) {
    x = x < -87.3f ? -87.3f : x; // two plain selects (a nested one defeats GCC's AVX2 vectoriser); NaN
    x = x > 88.7f ? 88.7f : x;   // stays NaN
    float t = x * 1.44269504088896341f; // x / ln 2
    float n = (t + 12582912.0f) - 12582912.0f; // round to nearest: 1.5 * 2^23 pushes the fraction out
    float f = x - n * 0.693145751953125f - n * 1.42860682030941723e-6f; // x - n ln 2, in two parts
    float p = 1.0f + f * (1.0f + f * (0.5f + f * (0.166666672f + f * (0.0416666418f + f * (0.00833345205f + f * 0.00138888310f)))));
    n = n == n ? n : 0.0f; // NaN in, NaN out (through f), but no float-to-int conversion of a NaN
    uint32_t bits = (uint32_t)((int32_t)n + 127) << 23; // unsigned: no signed shift for any input
    float scale;
    memcpy(&scale, &bits, 4);
    return p * scale;
}
#endif
// tanh from exp: 1 - 2 / (exp(2u) + 1), exact at the limits
#define vtanh(u) (1 - 2 / (vexp(2 * (u)) + 1))

#if defined(__AVX2__)
#include <immintrin.h>
// the 8 x 8 float transpose that the GEMM's weight packing and attention's key tiles share:
// dst[q*ldd + r] = src[r*lds + q] for an 8 x 8 block: unpack pairs, shuffle quads, swap 128-bit halves
static inline void transpose8x8(float *dst, size_t ldd, const float *src, size_t lds) {
    __m256 r[8], t[8], s[8];
    for (int q = 0; q < 8; q++) r[q] = _mm256_loadu_ps(src + q * lds);
    for (int q = 0; q < 8; q += 2) { t[q] = _mm256_unpacklo_ps(r[q], r[q + 1]); t[q + 1] = _mm256_unpackhi_ps(r[q], r[q + 1]); }
    for (int q = 0; q < 8; q += 4) {
        s[q] = _mm256_shuffle_ps(t[q], t[q + 2], 0x44);     // elements (0,1) of each pair of pairs
        s[q + 1] = _mm256_shuffle_ps(t[q], t[q + 2], 0xEE); // elements (2,3)
        s[q + 2] = _mm256_shuffle_ps(t[q + 1], t[q + 3], 0x44);
        s[q + 3] = _mm256_shuffle_ps(t[q + 1], t[q + 3], 0xEE);
    }
    for (int q = 0; q < 4; q++) {
        _mm256_storeu_ps(dst + q * ldd, _mm256_permute2f128_ps(s[q], s[q + 4], 0x20));
        _mm256_storeu_ps(dst + (q + 4) * ldd, _mm256_permute2f128_ps(s[q], s[q + 4], 0x31));
    }
}
#endif

#endif
