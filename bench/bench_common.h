/*
 * bench_common.h: what the two benchmarks share: the model configs whose training steps they time and a
 * trainer of random tokens for them, the GEMM shapes that take a training step's time, and the median
 * of a set of timings.
 */
#ifndef BENCH_COMMON_H
#define BENCH_COMMON_H

#include <stdlib.h>
#include "../util/common.h"
#include "../model/gpt.h"
#include "../model/optim.h"

typedef struct { const char *name, *preset; int B, T, V; } BenchConfig;

// the 6-layer GPT-2-style config, which is not a preset
static const Preset gpt2_6x384 = {"6x384", "", 6, 6, 384, 1536, 256, 50304, POS_LEARNED, NORM_LAYERNORM, MLP_GELU, 1, 1};

static const BenchConfig configs[] = {
    // name, preset (NULL: gpt2_6x384), B, T, V (where the preset takes it from the data)
    {"gpt2-124m B=4 T=64", "gpt2-124m", 4, 64, 0},
    {"6x384 V=50304 B=8 T=256", NULL, 8, 256, 0},
    {"paper-162m B=1 T=1024", "paper-162m", 1, 1024, 0},
    {"small B=16 T=128 V=257", "small", 16, 128, 257},
    {"geometry B=4 T=1024 V=257", "geometry", 4, 1024, 257},
};
#define NUM_CONFIGS (int)(sizeof(configs) / sizeof(configs[0]))

static GPTConfig make_config(const BenchConfig *b, int attn) {
    return gpt_preset_config(b->preset ? gpt_preset(b->preset) : &gpt2_6x384, b->V, b->T, attn);
}

// a model of one config with random weights and tokens, ready to time training steps
typedef struct { GPT m; int *inp, *tgt, B, T, steps_done; } Trainer;

static void trainer_init(Trainer *x, const BenchConfig *b, int attn) {
    GPTConfig c = make_config(b, attn);
    gpt_build(&x->m, &c);
    gpt_init_random(&x->m, 1);
    size_t n = (size_t)b->B * b->T;
    x->inp = malloc_check(n * sizeof(int));
    x->tgt = malloc_check(n * sizeof(int));
    uint64_t rng = 5;
    for (size_t i = 0; i < n; i++) { x->inp[i] = random_u32(&rng) % c.vocab_size; x->tgt[i] = random_u32(&rng) % c.vocab_size; }
    x->B = b->B; x->T = b->T; x->steps_done = 0;
}

// one whole training step (forward, backward, gradient norm, AdamW); returns its milliseconds
static double trainer_step(Trainer *x) {
    double t0 = now_seconds();
    gpt_zero_grad(&x->m);
    gpt_forward_backward(&x->m, x->inp, x->tgt, x->B, x->T);
    double norm = gpt_grad_norm(&x->m, NULL);
    adamw_update(&x->m, 1e-4f, 0.9f, 0.95f, 1e-8f, 0.1f, norm > 1 ? (float)(1 / norm) : 1.0f, ++x->steps_done);
    return (now_seconds() - t0) * 1000;
}

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
