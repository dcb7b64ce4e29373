/*
 * layers.c: forward and backward passes of every layer in the GPT, in plain C with OpenMP.
 * These loops are also the reference that faster kernels are tested against. Reductions
 * run in a fixed order (no `omp reduction`), so a run is bit-for-bit repeatable.
 * The whole Softmax/SSMax difference lives in attention_forward/attention_backward.
 */
#include <tgmath.h>
#include <string.h>
#include "layers.h"

// ----------------------------------------------------------------------------
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
    uint32_t bits = (uint32_t)((int32_t)n + 127) << 23; // unsigned: no signed shift for any input
    float scale;
    memcpy(&scale, &bits, 4);
    return p * scale;
}
#endif
// tanh from exp: 1 - 2 / (exp(2u) + 1), exact at the limits
#define vtanh(u) (1 - 2 / (vexp(2 * (u)) + 1))

// ----------------------------------------------------------------------------
// token + position embedding

void encoder_forward(real *out, const int *inp, const real *wte, const real *wpe, int B, int T, int C) {
    // out is (B,T,C), inp is (B,T) token ids, wte is (Vp,C), wpe is (maxT,C) or NULL (RoPE models)
    #pragma omp parallel for collapse(2)
    for (int b = 0; b < B; b++) {
        for (int t = 0; t < T; t++) {
            real *o = out + ((size_t)b * T + t) * C;
            const real *te = wte + (size_t)inp[b * T + t] * C;
            const real *pe = wpe ? wpe + (size_t)t * C : NULL;
            for (int c = 0; c < C; c++) o[c] = te[c] + (pe ? pe[c] : 0);
        }
    }
}

void encoder_backward(real *dwte, real *dwpe, const real *dout, const int *inp, int B, int T, int C) {
    // serial over tokens: two positions may hold the same token, and the order stays fixed
    for (int b = 0; b < B; b++) {
        for (int t = 0; t < T; t++) {
            const real *d = dout + ((size_t)b * T + t) * C;
            real *dte = dwte + (size_t)inp[b * T + t] * C;
            real *dpe = dwpe ? dwpe + (size_t)t * C : NULL;
            for (int c = 0; c < C; c++) {
                dte[c] += d[c];
                if (dpe) dpe[c] += d[c];
            }
        }
    }
}

// ----------------------------------------------------------------------------
// normalisation: LayerNorm (GPT-2) and RMSNorm (the paper's llama-style model), eps 1e-5

#define NORM_CB 16 // channels per block of the weight-gradient sums

void layernorm_forward(real *out, real *mean, real *rstd, const real *inp, const real *weight, const real *bias, size_t N, int C) {
    // out, inp are (N,C); mean, rstd are (N); weight, bias are (C)
    #pragma omp parallel for
    for (size_t i = 0; i < N; i++) {
        const real *x = inp + i * C;
        real m = 0;
        for (int c = 0; c < C; c++) m += x[c];
        m /= C;
        real v = 0;
        for (int c = 0; c < C; c++) v += (x[c] - m) * (x[c] - m);
        v /= C;
        real r = 1 / sqrt(v + (real)1e-5);
        real *o = out + i * C;
        for (int c = 0; c < C; c++) o[c] = (x[c] - m) * r * weight[c] + bias[c];
        mean[i] = m;
        rstd[i] = r;
    }
}

void layernorm_backward(real *dinp, real *dweight, real *dbias, const real *dout, const real *inp,
                        const real *weight, const real *mean, const real *rstd, size_t N, int C) {
    #pragma omp parallel for
    for (size_t i = 0; i < N; i++) {
        const real *x = inp + i * C, *d = dout + i * C;
        real *dx = dinp + i * C;
        real m = mean[i], r = rstd[i];
        real dnorm_mean = 0, dnorm_norm_mean = 0;
        for (int c = 0; c < C; c++) {
            real dn = weight[c] * d[c];
            dnorm_mean += dn;
            dnorm_norm_mean += dn * (x[c] - m) * r;
        }
        dnorm_mean /= C;
        dnorm_norm_mean /= C;
        for (int c = 0; c < C; c++) {
            real xhat = (x[c] - m) * r;
            dx[c] += (weight[c] * d[c] - dnorm_mean - xhat * dnorm_norm_mean) * r;
        }
    }
    // weight/bias gradients sum over rows: parallel over blocks of channels keeps them race-free, and
    // a block of NORM_CB channels reads each row's cache line once
    #pragma omp parallel for schedule(static)
    for (int c0 = 0; c0 < C; c0 += NORM_CB) {
        int nc = C - c0 < NORM_CB ? C - c0 : NORM_CB;
        real dw[NORM_CB] = {0}, db[NORM_CB] = {0};
        for (size_t i = 0; i < N; i++) {
            const real *x = inp + i * C + c0, *d = dout + i * C + c0;
            real m = mean[i], r = rstd[i];
            #pragma omp simd
            for (int c = 0; c < nc; c++) { dw[c] += (x[c] - m) * r * d[c]; db[c] += d[c]; }
        }
        for (int c = 0; c < nc; c++) { dweight[c0 + c] += dw[c]; dbias[c0 + c] += db[c]; }
    }
}

void rmsnorm_forward(real *out, real *rstd, const real *inp, const real *weight, size_t N, int C) {
    // out, inp are (N,C); rstd is (N); weight is (C)
    #pragma omp parallel for
    for (size_t i = 0; i < N; i++) {
        const real *x = inp + i * C;
        real ss = 0;
        for (int c = 0; c < C; c++) ss += x[c] * x[c];
        real r = 1 / sqrt(ss / C + (real)1e-5);
        real *o = out + i * C;
        for (int c = 0; c < C; c++) o[c] = x[c] * r * weight[c];
        rstd[i] = r;
    }
}

void rmsnorm_backward(real *dinp, real *dweight, const real *dout, const real *inp, const real *weight,
                      const real *rstd, size_t N, int C) {
    #pragma omp parallel for
    for (size_t i = 0; i < N; i++) {
        const real *x = inp + i * C, *d = dout + i * C;
        real *dx = dinp + i * C;
        real r = rstd[i];
        real dot = 0; // sum_c weight*dout*xhat
        for (int c = 0; c < C; c++) dot += weight[c] * d[c] * x[c] * r;
        dot /= C;
        for (int c = 0; c < C; c++) dx[c] += (weight[c] * d[c] - x[c] * r * dot) * r;
    }
    #pragma omp parallel for schedule(static)
    for (int c0 = 0; c0 < C; c0 += NORM_CB) {
        int nc = C - c0 < NORM_CB ? C - c0 : NORM_CB;
        real dw[NORM_CB] = {0};
        for (size_t i = 0; i < N; i++) {
            const real *x = inp + i * C + c0, *d = dout + i * C + c0;
            real r = rstd[i];
            #pragma omp simd
            for (int c = 0; c < nc; c++) dw[c] += x[c] * r * d[c];
        }
        for (int c = 0; c < nc; c++) dweight[c0 + c] += dw[c];
    }
}

// ----------------------------------------------------------------------------
// matmul reference: out = inp @ weight^T + bias in plain loops (4-row tiles so each weight row is read once
// per four outputs). The trainer uses the packed kernels of matmul.c; tests compare them with these.

void matmul_forward_ref(real *out, const real *inp, const real *weight, const real *bias, size_t N, int C, int OC) {
    // out is (N,OC), inp is (N,C), weight is (OC,C), bias is (OC) or NULL
    size_t tiles = (N + 3) / 4;
    #pragma omp parallel for schedule(static)
    for (size_t tile = 0; tile < tiles; tile++) {
        size_t n0 = tile * 4, rows = N - n0 < 4 ? N - n0 : 4;
        const real *x0 = inp + n0 * C;
        const real *x1 = rows > 1 ? x0 + C : x0, *x2 = rows > 2 ? x0 + 2 * C : x0, *x3 = rows > 3 ? x0 + 3 * C : x0;
        for (int o = 0; o < OC; o++) {
            const real *w = weight + (size_t)o * C;
            real a0 = 0, a1 = 0, a2 = 0, a3 = 0;
            #pragma omp simd reduction(+:a0, a1, a2, a3)
            for (int c = 0; c < C; c++) {
                a0 += x0[c] * w[c]; a1 += x1[c] * w[c]; a2 += x2[c] * w[c]; a3 += x3[c] * w[c];
            }
            real bo = bias ? bias[o] : 0;
            real acc[4] = {a0, a1, a2, a3};
            for (size_t r = 0; r < rows; r++) out[(n0 + r) * OC + o] = acc[r] + bo;
        }
    }
}

void matmul_backward_ref(real *dinp, real *dweight, real *dbias, const real *dout, const real *inp,
                     const real *weight, size_t N, int C, int OC) {
    // dinp += dout @ weight: each row of dinp is owned by one thread
    #pragma omp parallel for schedule(static)
    for (size_t n = 0; n < N; n++) {
        real *dx = dinp + n * C;
        const real *d = dout + n * OC;
        for (int o = 0; o < OC; o++) {
            const real *w = weight + (size_t)o * C;
            real g = d[o];
            #pragma omp simd
            for (int c = 0; c < C; c++) dx[c] += g * w[c];
        }
    }
    // dweight += dout^T @ inp, dbias += column sums of dout: each output row o is owned by one thread
    #pragma omp parallel for schedule(static)
    for (int o = 0; o < OC; o++) {
        real *dw = dweight + (size_t)o * C;
        real db = 0;
        for (size_t n = 0; n < N; n++) {
            real g = dout[n * OC + o];
            const real *x = inp + n * C;
            #pragma omp simd
            for (int c = 0; c < C; c++) dw[c] += g * x[c];
            db += g;
        }
        if (dbias) dbias[o] += db;
    }
}

// ----------------------------------------------------------------------------
// RoPE: rotate each (even, odd) channel pair of q and k in every head by angle t * theta^(-2i/hs)

void rope_table(real *cos_t, real *sin_t, int T, int hs, float theta) {
    // cos_t, sin_t are (T, hs/2)
    for (int t = 0; t < T; t++) {
        for (int i = 0; i < hs / 2; i++) {
            double freq = pow((double)theta, -2.0 * i / hs);
            cos_t[(size_t)t * (hs / 2) + i] = (real)cos(t * freq);
            sin_t[(size_t)t * (hs / 2) + i] = (real)sin(t * freq);
        }
    }
}

void rope_forward(real *out, const real *inp, const real *cos_t, const real *sin_t, int B, int T, int C, int NH) {
    // out, inp are (B,T,3C) = [q | k | v]; q and k are rotated, v is copied
    int hs = C / NH;
    #pragma omp parallel for collapse(2)
    for (int b = 0; b < B; b++) {
        for (int t = 0; t < T; t++) {
            const real *x = inp + ((size_t)b * T + t) * 3 * C;
            real *o = out + ((size_t)b * T + t) * 3 * C;
            const real *ct = cos_t + (size_t)t * (hs / 2), *st = sin_t + (size_t)t * (hs / 2);
            for (int part = 0; part < 2; part++) {
                for (int h = 0; h < NH; h++) {
                    const real *xh = x + part * C + h * hs;
                    real *oh = o + part * C + h * hs;
                    for (int i = 0; i < hs / 2; i++) {
                        real x0 = xh[2 * i], x1 = xh[2 * i + 1];
                        oh[2 * i] = x0 * ct[i] - x1 * st[i];
                        oh[2 * i + 1] = x0 * st[i] + x1 * ct[i];
                    }
                }
            }
            memcpy(o + 2 * C, x + 2 * C, C * sizeof(real));
        }
    }
}

void rope_backward(real *dinp, const real *dout, const real *cos_t, const real *sin_t, int B, int T, int C, int NH) {
    // the transpose of a rotation is the rotation by minus the angle
    int hs = C / NH;
    #pragma omp parallel for collapse(2)
    for (int b = 0; b < B; b++) {
        for (int t = 0; t < T; t++) {
            const real *d = dout + ((size_t)b * T + t) * 3 * C;
            real *dx = dinp + ((size_t)b * T + t) * 3 * C;
            const real *ct = cos_t + (size_t)t * (hs / 2), *st = sin_t + (size_t)t * (hs / 2);
            for (int part = 0; part < 2; part++) {
                for (int h = 0; h < NH; h++) {
                    const real *dh = d + part * C + h * hs;
                    real *dxh = dx + part * C + h * hs;
                    for (int i = 0; i < hs / 2; i++) {
                        real d0 = dh[2 * i], d1 = dh[2 * i + 1];
                        dxh[2 * i] += d0 * ct[i] + d1 * st[i];
                        dxh[2 * i + 1] += -d0 * st[i] + d1 * ct[i];
                    }
                }
            }
            for (int c = 0; c < C; c++) dx[2 * C + c] += d[2 * C + c];
        }
    }
}

// ----------------------------------------------------------------------------
// causal self-attention, Softmax or SSMax, streaming: no (T,T) matrix is kept. The forward pass saves
// only the log-sum-exp of each row; the backward pass recomputes the scores from q and k.
//
// For the query at position t, n = t+1 keys are visible and the scores are z_j = q.k_j / sqrt(hs).
// The row is normalised as p = softmax(c_t * z) with
//     Softmax:        c_t = 1                          (s == NULL, b == NULL)
//     SSMax:          c_t = s_h * ln(t+1)              (s != NULL)
//     SSMax + bias:   c_t = s_h * ln(t+1) + b_h        (s != NULL, b != NULL)
// i.e. p_j = n^(s z_j) / sum_i n^(s z_i). "ssmax-fixed" passes s but asks for no ds.

// Tiles: QB query rows at a time against all the keys they see, so every K and V vector loaded
// serves QB rows. Scores q.k_j come from a register tile of QB rows x KV vectors of keys (K held
// transposed, hs x Tp); the weighted sums over keys (P.V, dS.K) keep QB rows x (up to CVMAX vectors
// of hs) in registers while the keys stream by; dK and dV take QB rows' contributions per load and
// store. AVX-512's 32 vector registers hold 8 rows x 2 vectors (each K or V vector loaded then serves
// 8 rows: 1.4-1.8x the attention speed of 4 rows x 4 vectors); AVX2's 16 hold 4 rows x 2-4 vectors.
// Vectors are GCC/Clang vector extensions of the widest width -march allows, so one source serves
// AVX-512, AVX2 and plain builds (and double precision in the gradient checks).
#if defined(__AVX512F__)
#define VBYTES 64
#define QB 8    // query rows per tile
#define KV 2    // vectors of keys per score tile
#define CVMAX 2 // vectors of head channels per weighted-sum chunk
#elif defined(__AVX2__) || defined(__AVX__)
#define VBYTES 32
#define QB 4
#define KV 2
#define CVMAX 4
#else
#define VBYTES 16
#define QB 4
#define KV 2
#define CVMAX 4
#endif
#define VL (int)(VBYTES / sizeof(real)) // lanes per vector
#define KB (KV * VL)                  // keys per score tile
_Static_assert(CVMAX == 2 || CVMAX == 4, "tile_mix and tile_outer take chunks of CVMAX, then 2, then 1 vectors");
typedef real vreal __attribute__((vector_size(VBYTES), aligned(sizeof(real)), may_alias));

// whole tiles for every build (a multiple of 64), and 16 more so that rows are not a power-of-two
// stride apart (rows 4 KiB apart share cache sets)
static inline int padded_T(int T) { return (T + 63) / 64 * 64 + 16; }

size_t attention_scratch_size(int B, int T, int C, int NH) {
    // per (b, h): K and V transposed (hs x Tp each), dK and dV (Tp x hs each), QB rows of scores and
    // of their gradients (QB x Tp each); then the per-(b, h) partial sums of ds and db
    size_t hs = (size_t)C / NH, Tp = padded_T(T);
    return (size_t)B * NH * Tp * (4 * hs + 2 * QB) + 2 * (size_t)B * NH;
}

static inline real attention_coef(const real *s, const real *b, int h, int t) {
    if (s == NULL) return 1;
    real c = s[h] * (real)log((double)(t + 1));
    return b ? c + b[h] : c;
}

// the transposed copy of part (1: k, 2: v) of head h in batch row bb: dst[i*Tp + j] = x_j[i], zero
// past T so that whole tiles read finite values
static void transpose_head(real *dst, const real *base, int part, int h, int T, int Tp, int C, int hs) {
    for (int j = 0; j < T; j++) {
        const real *x = base + (size_t)j * 3 * C + part * C + h * hs;
        for (int i = 0; i < hs; i++) dst[(size_t)i * Tp + j] = x[i];
    }
    for (int i = 0; i < hs; i++) for (int j = T; j < Tp; j++) dst[(size_t)i * Tp + j] = 0;
}

// z[r*Tp + j] = q_r . k_j for r < QB, j < n rounded up to whole tiles; xt is (hs, Tp) transposed keys
static void tile_dots(real *z, const real *const q[QB], const real *xt, int n, int Tp, int hs) {
    for (int j0 = 0; j0 < n; j0 += KB) {
        vreal acc[QB][KV];
        for (int r = 0; r < QB; r++) for (int v = 0; v < KV; v++) acc[r][v] = (vreal){0};
        for (int i = 0; i < hs; i++) {
            const vreal *k = (const vreal *)(xt + (size_t)i * Tp + j0);
            vreal kv[KV];
            for (int v = 0; v < KV; v++) kv[v] = k[v];
            for (int r = 0; r < QB; r++) {
                real qi = q[r][i];
                for (int v = 0; v < KV; v++) acc[r][v] += qi * kv[v];
            }
        }
        for (int r = 0; r < QB; r++)
            for (int v = 0; v < KV; v++) *(vreal *)(z + (size_t)r * Tp + j0 + v * VL) = acc[r][v];
    }
}

// o_r[i0 .. i0+CV*VL) (+)= scale_r * sum_{j<n} w[r*Tp + j] x_j[...], x_j = x + j*stride: CV vectors per row
static inline __attribute__((always_inline)) void mix_chunk(real *const o[QB], int nr, const real *w, int Tp,
                                                             const real *x, size_t stride, int n, int i0, int CV,
                                                             const real scale[QB], int add) {
    vreal acc[QB][CVMAX];
    for (int r = 0; r < QB; r++) for (int v = 0; v < CV; v++) acc[r][v] = (vreal){0};
    for (int j = 0; j < n; j++) {
        const vreal *xj = (const vreal *)(x + (size_t)j * stride + i0);
        vreal xv[CVMAX];
        for (int v = 0; v < CV; v++) xv[v] = xj[v];
        for (int r = 0; r < QB; r++) {
            real wr = w[(size_t)r * Tp + j];
            for (int v = 0; v < CV; v++) acc[r][v] += wr * xv[v];
        }
    }
    for (int r = 0; r < nr; r++)
        for (int v = 0; v < CV; v++) {
            vreal *dst = (vreal *)(o[r] + i0 + v * VL);
            *dst = (add ? *dst : (vreal){0}) + scale[r] * acc[r][v];
        }
}

// o_r[i] (+)= scale_r * sum_{j<n} w[r*Tp + j] x_j[i] for i < hs, r < nr: weighted sums of keys or values
static void tile_mix(real *const o[QB], int nr, const real *w, int Tp, const real *x, size_t stride, int n, int hs,
                     const real scale[QB], int add) {
    int i0 = 0;
    for (; i0 + CVMAX * VL <= hs; i0 += CVMAX * VL) mix_chunk(o, nr, w, Tp, x, stride, n, i0, CVMAX, scale, add);
    if (i0 + 2 * VL <= hs) { mix_chunk(o, nr, w, Tp, x, stride, n, i0, 2, scale, add); i0 += 2 * VL; }
    if (i0 + VL <= hs) { mix_chunk(o, nr, w, Tp, x, stride, n, i0, 1, scale, add); i0 += VL; }
    for (int r = 0; r < nr; r++) // what is left of hs, one lane at a time
        for (int i = i0; i < hs; i++) {
            real acc = 0;
            for (int j = 0; j < n; j++) acc += w[(size_t)r * Tp + j] * x[(size_t)j * stride + i];
            o[r][i] = (add ? o[r][i] : 0) + scale[r] * acc;
        }
}

// d_j[i0 ..] += sum_r w[r*Tp + j] x_r[i0 ..] for j < n: the rows' contributions to dK or dV (d is (Tp, hs))
static inline __attribute__((always_inline)) void outer_chunk(real *d, int hs, const real *w, int Tp,
                                                               const real *const x[QB], int nr, int n, int i0, int CV) {
    vreal xr[QB][CVMAX];
    for (int r = 0; r < QB; r++)
        for (int v = 0; v < CV; v++) xr[r][v] = r < nr ? *(const vreal *)(x[r] + i0 + v * VL) : (vreal){0};
    for (int j = 0; j < n; j++) {
        vreal *dj = (vreal *)(d + (size_t)j * hs + i0);
        vreal acc[CVMAX];
        for (int v = 0; v < CV; v++) acc[v] = dj[v];
        for (int r = 0; r < QB; r++) {
            real wr = w[(size_t)r * Tp + j];
            for (int v = 0; v < CV; v++) acc[v] += wr * xr[r][v];
        }
        for (int v = 0; v < CV; v++) dj[v] = acc[v];
    }
}

static void tile_outer(real *d, int hs, const real *w, int Tp, const real *const x[QB], int nr, int n) {
    int i0 = 0;
    for (; i0 + CVMAX * VL <= hs; i0 += CVMAX * VL) outer_chunk(d, hs, w, Tp, x, nr, n, i0, CVMAX);
    if (i0 + 2 * VL <= hs) { outer_chunk(d, hs, w, Tp, x, nr, n, i0, 2); i0 += 2 * VL; }
    if (i0 + VL <= hs) { outer_chunk(d, hs, w, Tp, x, nr, n, i0, 1); i0 += VL; }
    for (int j = 0; j < n; j++)
        for (int i = i0; i < hs; i++) {
            real acc = d[(size_t)j * hs + i];
            for (int r = 0; r < nr; r++) acc += w[(size_t)r * Tp + j] * x[r][i];
            d[(size_t)j * hs + i] = acc;
        }
}

void attention_forward(real *out, real *lse, real *scratch, const real *qkv, const real *s, const real *b,
                       int B, int T, int C, int NH) {
    // out is (B,T,C), lse is (B,NH,T), qkv is (B,T,3C), s and b are (NH) or NULL
    int hs = C / NH, Tp = padded_T(T);
    real scale = 1 / sqrt((real)hs);
    #pragma omp parallel for collapse(2) schedule(static)
    for (int bb = 0; bb < B; bb++) {
        for (int h = 0; h < NH; h++) {
            real *kt = scratch + ((size_t)bb * NH + h) * Tp * (4 * hs + 2 * QB);
            real *z = kt + (size_t)4 * hs * Tp; // QB score rows
            const real *base = qkv + (size_t)bb * T * 3 * C;
            transpose_head(kt, base, 1, h, T, Tp, C, hs);
            for (int t0 = 0; t0 < T; t0 += QB) {
                int nr = T - t0 < QB ? T - t0 : QB, n = t0 + nr; // rows t0.., and the keys the last one sees
                const real *q[QB];
                real *o[QB], inv[QB];
                for (int r = 0; r < QB; r++) {
                    int t = t0 + (r < nr ? r : nr - 1); // rows past T repeat the last one, unused
                    q[r] = base + (size_t)t * 3 * C + h * hs;
                    o[r] = out + ((size_t)bb * T + t) * C + h * hs;
                }
                tile_dots(z, q, kt, n, Tp, hs); // raw q.k_j
                for (int r = 0; r < QB; r++) {
                    real *zr = z + (size_t)r * Tp;
                    if (r >= nr) { for (int j = 0; j < n; j++) zr[j] = 0; inv[r] = 0; continue; }
                    int t = t0 + r;
                    real cs = attention_coef(s, b, h, t) * scale, maxu = -INFINITY;
                    #pragma omp simd reduction(max:maxu)
                    for (int j = 0; j <= t; j++) { zr[j] *= cs; maxu = zr[j] > maxu ? zr[j] : maxu; } // u_j = c_t z_j
                    real sum = 0;
                    #pragma omp simd reduction(+:sum)
                    for (int j = 0; j <= t; j++) { zr[j] = vexp(zr[j] - maxu); sum += zr[j]; }
                    for (int j = t + 1; j < n; j++) zr[j] = 0; // causal: later keys get nothing
                    inv[r] = 1 / sum;
                    lse[((size_t)bb * NH + h) * T + t] = maxu + log(sum);
                }
                tile_mix(o, nr, z, Tp, base + 2 * C + h * hs, (size_t)3 * C, n, hs, inv, 0); // sum_j p_j v_j
            }
        }
    }
}

// the attention weight that query t of batch row bb puts on keys k0..k1-1, per head (mass is (NH)):
// sum_j exp(c_t z_j / sqrt(hs) - lse), recomputed from the forward pass's qkv and row statistics
void attention_row_mass(real *mass, const real *qkv, const real *lse, const real *s, const real *b, int B, int T, int C,
                        int NH, int bb, int t, int k0, int k1) {
    int hs = C / NH;
    real scale = 1 / sqrt((real)hs);
    const real *base = qkv + (size_t)bb * T * 3 * C;
    if (k1 > t + 1) k1 = t + 1; // causal: later keys get nothing
    for (int h = 0; h < NH; h++) {
        const real *q = base + (size_t)t * 3 * C + h * hs;
        real cs = attention_coef(s, b, h, t) * scale, l = lse[((size_t)bb * NH + h) * T + t], m = 0;
        for (int j = k0; j < k1; j++) {
            const real *k = base + (size_t)j * 3 * C + C + h * hs;
            real z = 0;
            for (int i = 0; i < hs; i++) z += q[i] * k[i];
            m += exp(z * cs - l);
        }
        mass[h] = m;
    }
}

void attention_backward(real *dqkv, real *ds, real *db, real *scratch, const real *dout, const real *qkv,
                        const real *out, const real *lse, const real *s, const real *b, int B, int T, int C, int NH) {
    // dqkv is (B,T,3C); ds, db are (NH) or NULL (no gradient wanted); the rest as in the forward pass
    int hs = C / NH, Tp = padded_T(T);
    real scale = 1 / sqrt((real)hs);
    real *partial = scratch + (size_t)B * NH * Tp * (4 * hs + 2 * QB); // (B,NH,2): this (b,h)'s share of ds and db
    #pragma omp parallel for collapse(2) schedule(static)
    for (int bb = 0; bb < B; bb++) {
        for (int h = 0; h < NH; h++) {
            real *kt = scratch + ((size_t)bb * NH + h) * Tp * (4 * hs + 2 * QB), *vt = kt + (size_t)hs * Tp;
            real *dk = vt + (size_t)hs * Tp, *dv = dk + (size_t)Tp * hs; // (Tp, hs): summed over query tiles
            real *z = dv + (size_t)Tp * hs, *dp = z + (size_t)QB * Tp;   // QB rows each
            const real *base = qkv + (size_t)bb * T * 3 * C;
            real *dbase = dqkv + (size_t)bb * T * 3 * C;
            transpose_head(kt, base, 1, h, T, Tp, C, hs);
            transpose_head(vt, base, 2, h, T, Tp, C, hs);
            memset(dk, 0, (size_t)2 * Tp * hs * sizeof(real));
            real dsum = 0, dbsum = 0;
            for (int t0 = 0; t0 < T; t0 += QB) {
                int nr = T - t0 < QB ? T - t0 : QB, n = t0 + nr;
                const real *q[QB], *go[QB];
                real *dq[QB], one[QB];
                for (int r = 0; r < QB; r++) {
                    int t = t0 + (r < nr ? r : nr - 1);
                    q[r] = base + (size_t)t * 3 * C + h * hs;
                    go[r] = dout + ((size_t)bb * T + t) * C + h * hs;
                    dq[r] = dbase + (size_t)t * 3 * C + h * hs;
                    one[r] = 1;
                }
                tile_dots(z, q, kt, n, Tp, hs);   // raw q.k_j, as in the forward pass
                tile_dots(dp, go, vt, n, Tp, hs); // go.v_j
                for (int r = 0; r < QB; r++) {
                    real *zr = z + (size_t)r * Tp, *dpr = dp + (size_t)r * Tp;
                    if (r >= nr) { for (int j = 0; j < n; j++) zr[j] = dpr[j] = 0; continue; }
                    int t = t0 + r;
                    const real *o = out + ((size_t)bb * T + t) * C + h * hs;
                    real c = attention_coef(s, b, h, t), cs = c * scale;
                    real l = lse[((size_t)bb * NH + h) * T + t];
                    real D = 0; // sum_j p_j (go . v_j) = go . out
                    for (int i = 0; i < hs; i++) D += go[r][i] * o[i];
                    real dc = 0; // dL/dc_t = sum_j du_j z_j
                    #pragma omp simd reduction(+:dc)
                    for (int j = 0; j <= t; j++) {
                        real p = vexp(zr[j] * cs - l);
                        real du = p * (dpr[j] - D);
                        dc += du * zr[j] * scale;
                        zr[j] = du * cs; // gradient w.r.t. the raw dot product q.k_j
                        dpr[j] = p;
                    }
                    for (int j = t + 1; j < n; j++) zr[j] = dpr[j] = 0;
                    dsum += (real)log((double)(t + 1)) * dc;
                    dbsum += dc;
                }
                tile_mix(dq, nr, z, Tp, base + C + h * hs, (size_t)3 * C, n, hs, one, 1); // dq += sum_j dz_j k_j
                tile_outer(dk, hs, z, Tp, q, nr, n);   // dk_j += sum_r dz_rj q_r
                tile_outer(dv, hs, dp, Tp, go, nr, n); // dv_j += sum_r p_rj go_r
            }
            for (int j = 0; j < T; j++) { // dK, dV into dqkv
                real *dkj = dbase + (size_t)j * 3 * C + C + h * hs, *dvj = dkj + C;
                for (int i = 0; i < hs; i++) { dkj[i] += dk[(size_t)j * hs + i]; dvj[i] += dv[(size_t)j * hs + i]; }
            }
            partial[((size_t)bb * NH + h) * 2] = dsum;
            partial[((size_t)bb * NH + h) * 2 + 1] = dbsum;
        }
    }
    // fixed-order sum over the batch keeps ds and db bit-for-bit repeatable
    for (int bb = 0; bb < B; bb++) {
        for (int h = 0; h < NH; h++) {
            if (ds) ds[h] += partial[((size_t)bb * NH + h) * 2];
            if (db) db[h] += partial[((size_t)bb * NH + h) * 2 + 1];
        }
    }
}

// ----------------------------------------------------------------------------
// feed-forward nonlinearities: GELU (tanh approximation, as GPT-2) and SwiGLU (silu(gate) * up)

#define GELU_SCALE 0.7978845608028654f // sqrt(2/pi)

void gelu_forward(real *out, const real *inp, size_t N) {
    #pragma omp parallel for simd
    for (size_t i = 0; i < N; i++) {
        real x = inp[i];
        out[i] = (real)0.5f * x * (1 + vtanh(GELU_SCALE * (x + (real)0.044715f * x * x * x)));
    }
}

void gelu_backward(real *dinp, const real *inp, const real *dout, size_t N) {
    #pragma omp parallel for simd
    for (size_t i = 0; i < N; i++) {
        real x = inp[i];
        real u = GELU_SCALE * (x + (real)0.044715f * x * x * x);
        real th = vtanh(u);
        real sech2 = 1 - th * th;
        real du = GELU_SCALE * (1 + 3 * (real)0.044715f * x * x);
        dinp[i] += ((real)0.5f * (1 + th) + (real)0.5f * x * sech2 * du) * dout[i];
    }
}

void swiglu_forward(real *out, const real *inp, size_t N, int F) {
    // out is (N,F), inp is (N,2F) holding [gate | up] per row
    #pragma omp parallel for
    for (size_t n = 0; n < N; n++) {
        const real *g = inp + n * 2 * F, *u = g + F;
        real *o = out + n * F;
        #pragma omp simd
        for (int i = 0; i < F; i++) o[i] = g[i] / (1 + vexp(-g[i])) * u[i];
    }
}

void swiglu_backward(real *dinp, const real *dout, const real *inp, size_t N, int F) {
    #pragma omp parallel for
    for (size_t n = 0; n < N; n++) {
        const real *g = inp + n * 2 * F, *u = g + F, *d = dout + n * F;
        real *dg = dinp + n * 2 * F, *du = dg + F;
        #pragma omp simd
        for (int i = 0; i < F; i++) {
            real sig = 1 / (1 + vexp(-g[i]));
            real silu = g[i] * sig;
            dg[i] += d[i] * u[i] * sig * (1 + g[i] * (1 - sig));
            du[i] += d[i] * silu;
        }
    }
}

// ----------------------------------------------------------------------------
// residual connection

void residual_forward(real *out, const real *a, const real *b, size_t N) {
    #pragma omp parallel for simd
    for (size_t i = 0; i < N; i++) out[i] = a[i] + b[i];
}

void residual_backward(real *da, real *db, const real *dout, size_t N) {
    #pragma omp parallel for simd
    for (size_t i = 0; i < N; i++) { da[i] += dout[i]; db[i] += dout[i]; }
}

// ----------------------------------------------------------------------------
// softmax + cross-entropy, in place: the forward pass turns logits into probabilities (only the first V
// of Vp columns are real; padded columns become 0), the backward pass turns them into dlogits.
// A negative target marks a position that carries no loss.

void crossentropy_forward(real *losses, real *logits, const int *targets, size_t N, int V, int Vp) {
    // losses is (N), logits is (N,Vp), targets is (N)
    #pragma omp parallel for
    for (size_t n = 0; n < N; n++) {
        real *x = logits + n * Vp;
        real maxv = -INFINITY;
        for (int i = 0; i < V; i++) if (x[i] > maxv) maxv = x[i];
        real target_logit = targets[n] >= 0 ? x[targets[n]] : 0;
        real sum = 0;
        #pragma omp simd reduction(+:sum)
        for (int i = 0; i < V; i++) { x[i] = vexp(x[i] - maxv); sum += x[i]; }
        real inv = 1 / sum;
        for (int i = 0; i < V; i++) x[i] *= inv;
        for (int i = V; i < Vp; i++) x[i] = 0;
        // from the logits, not -log(p): p may underflow to 0 for a confident wrong prediction
        losses[n] = targets[n] >= 0 ? maxv + log(sum) - target_logit : 0;
    }
}

void crossentropy_eval(real *losses, int *argmax, const real *logits, const int *targets, size_t N, int V, int Vp) {
    // forward only, logits untouched: losses (N) as crossentropy_forward (0 where there is no target) and
    // argmax (N), the most likely token of each row; either may be NULL, so may targets
    #pragma omp parallel for schedule(static)
    for (size_t n = 0; n < N; n++) {
        const real *x = logits + n * Vp;
        int best = 0;
        for (int i = 1; i < V; i++) if (x[i] > x[best]) best = i;
        if (argmax) argmax[n] = best;
        if (!losses) continue;
        int target = targets ? targets[n] : -1;
        real maxv = x[best], sum = 0;
        #pragma omp simd reduction(+:sum)
        for (int i = 0; i < V; i++) sum += vexp(x[i] - maxv);
        losses[n] = target >= 0 ? maxv + log(sum) - x[target] : 0;
    }
}

// both passes at once, for the trainer's fused lm head: logits become dL/dlogits = dloss * (p - onehot)
// in three sweeps of each row instead of five; rows without a target are only zeroed
void crossentropy_forward_backward(real *losses, real *logits, const int *targets, real dloss, size_t N, int V, int Vp) {
    #pragma omp parallel for schedule(static)
    for (size_t n = 0; n < N; n++) {
        real *x = logits + n * Vp;
        int target = targets[n];
        if (target < 0) { memset(x, 0, (size_t)Vp * sizeof(real)); losses[n] = 0; continue; }
        real maxv = -INFINITY;
        #pragma omp simd reduction(max:maxv)
        for (int i = 0; i < V; i++) maxv = x[i] > maxv ? x[i] : maxv;
        real target_logit = x[target], sum = 0;
        #pragma omp simd reduction(+:sum)
        for (int i = 0; i < V; i++) { x[i] = vexp(x[i] - maxv); sum += x[i]; }
        real scale = dloss / sum;
        #pragma omp simd
        for (int i = 0; i < V; i++) x[i] *= scale;
        for (int i = V; i < Vp; i++) x[i] = 0;
        x[target] -= dloss;
        losses[n] = maxv + log(sum) - target_logit;
    }
}

void crossentropy_backward(real *logits, const int *targets, real dloss, size_t N, int V, int Vp) {
    // logits holds probabilities on entry and dL/dlogits on return; dloss is dL/dloss of each position
    #pragma omp parallel for
    for (size_t n = 0; n < N; n++) {
        real *x = logits + n * Vp;
        if (targets[n] < 0) { for (int i = 0; i < Vp; i++) x[i] = 0; continue; }
        for (int i = 0; i < V; i++) x[i] *= dloss;
        x[targets[n]] -= dloss;
    }
}
