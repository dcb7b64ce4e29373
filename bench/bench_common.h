/*
 * bench_common.h: what the two benchmarks share: the GEMM shapes that take a training step's time, and
 * the median of a set of timings.
 */
#ifndef BENCH_COMMON_H
#define BENCH_COMMON_H

#include <stdlib.h>

// a linear layer's GEMM: rows x C -> OC (its three products: forward x W^T, dinp = dout W, dW += dout^T x).
// The lm head of the large configs as the fused head runs it (its first block of rows against V = 50304),
// every linear layer of the small preset (B=16 T=128) and of gpt2-124m at B=4 T=64
typedef struct { const char *name; int rows, C, OC; } GemmShape;
static const GemmShape gemm_shapes[] = {
    {"lm head 6x384", 1280, 384, 50304}, {"lm head gpt2-124m", 256, 768, 50304}, {"lm head paper-162m", 1024, 768, 50304},
    {"small qkv", 2048, 128, 384},       {"small attproj", 2048, 128, 128},      {"small fc (swiglu)", 2048, 128, 704},
    {"small fcproj", 2048, 352, 128},    {"small lm head", 2048, 128, 320},
    {"gpt2-124m qkv", 256, 768, 2304},   {"gpt2-124m attproj", 256, 768, 768},   {"gpt2-124m fc", 256, 768, 3072},
    {"gpt2-124m fcproj", 256, 3072, 768},
};
#define NUM_GEMM_SHAPES (int)(sizeof(gemm_shapes) / sizeof(gemm_shapes[0]))

static int cmp_double(const void *a, const void *b) { double x = *(const double *)a, y = *(const double *)b; return (x > y) - (x < y); }

// the median of v[0..n-1] (the upper one for even n); sorts v
static inline double median(double *v, int n) {
    qsort(v, n, sizeof(double), cmp_double);
    return v[n / 2];
}

#endif
