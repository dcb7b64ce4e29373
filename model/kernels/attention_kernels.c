/*
 * attention_kernels.c: the tiled attention kernels the model runs (the definition they compute is
 * attention_forward_ref/attention_backward_ref in attention.c; see attention.h). Streaming: no (T,T)
 * matrix is kept. The forward pass saves only the log-sum-exp of each row; the backward pass
 * recomputes the scores from q and k. The normalizer enters once per row, as the coefficient c_t
 * (attn_coef) and its gradient (coef_grad).
 */
#include <tgmath.h>
#include <string.h>
#include "../attention.h"

// Tiles: QB query rows at a time against all the keys they see, so every K and V vector loaded
// serves QB rows. Scores q.k_j come from a register tile of QB rows x KV vectors of keys (K held
// transposed, KB keys at a time: each tile of keys is hs x KB contiguous floats); the weighted sums
// over keys (P.V, dS.K) keep QB rows x (up to CVMAX vectors of hs) in registers while the keys stream
// by, from a contiguous copy of the head's V or K; dK and dV take QB rows' contributions per load and
// store. Every operand a tile streams is contiguous: read in place, K^T's rows (Tp floats apart) and
// V's rows (3C apart) each cost a cache line per vector and stalled the tiles on L2, so each head's
// operands are copied once and the next key tile prefetched. AVX-512's 32 vector registers hold 8
// rows x 2 vectors (each K or V vector loaded then serves 8 rows; 12 rows spill). AVX2's 16 hold 6
// rows x 2 vectors, 12 accumulators. The portable build's 16 SSE registers gain nothing from 6 rows
// and keep 4 rows x 2-4 vectors. (The measurements behind these choices: docs/performance.md, kernel comments.)
// Vectors are vreal (vmath.h), so one source serves AVX-512, AVX2 and plain builds (and double
// precision in the gradient checks).
#if defined(__AVX512F__)
#define QB 8    // query rows per tile
#define KV 2    // vectors of keys per score tile
#define CVMAX 2 // vectors of head channels per weighted-sum chunk
#elif defined(__AVX2__) || defined(__AVX__)
#define QB 6
#define KV 2
#define CVMAX 2
#else
#define QB 4
#define KV 2
#define CVMAX 4
#endif
#define KB (KV * VL)                  // keys per score tile
_Static_assert(CVMAX == 2 || CVMAX == 4, "tile_mix and tile_outer take chunks of CVMAX, then 2, then 1 vectors");

// whole tiles for every build (a multiple of 64), and 16 more so that rows are not a power-of-two
// stride apart (rows 4 KiB apart share cache sets)
static inline int padded_T(int T) { return (T + 63) / 64 * 64 + 16; }

// one (b, h)'s slot of the scratch: K and V transposed in tiles (hs x Tp each), K and V as contiguous
// rows (Tp x hs each; the forward pass uses V's only), dK and dV (Tp x hs each), QB rows of scores and
// of their gradients (QB x Tp each)
static inline size_t head_slot(int hs, int Tp) { return (size_t)Tp * (6 * hs + 2 * QB); }

size_t attention_scratch_size(int B, int T, int C, int NH) {
    // a slot per (b, h), then the per-(b, h) partial sums of the parameter gradients
    return (size_t)B * NH * head_slot(C / NH, padded_T(T)) + ATTN_MAX_PARAMS * (size_t)B * NH;
}

// part (1: k, 2: v) of head h of a batch row (at base) as contiguous rows (rows != NULL), rows[j*hs + i]
// = x_j[i], and (tiles != NULL) transposed in tiles of KB keys, tiles[(j/KB)*hs*KB + i*KB + j%KB] =
// x_j[i], zero past T to the end of the last tile so that whole tiles read finite values. The tiles
// take 8 keys x 8 channels per register transpose where AVX2 allows (with one scalar store per value
// this copy took ~8% of the small preset's attention time, now ~2%), from the rows' copy where there is
// one (contiguous and just read) and from qkv otherwise (a prefetch of the next 8 rows made no
// difference there)
static void copy_head(real *rows, real *tiles, const real *base, int part, int h, int T, int C, int hs) {
    const real *src = base + part * C + h * hs; // x_j = src + j*3C
    for (int j = 0; rows && j < T; j++) {
        const real *x = src + (size_t)j * 3 * C;
        if (j + 8 < T) // rows 3C apart: fetched 8 rows ahead, the hardware's stride prefetch does not keep up
            for (int i = 0; i < hs; i += 64 / (int)sizeof(real)) __builtin_prefetch(x + (size_t)8 * 3 * C + i);
        memcpy(rows + (size_t)j * hs, x, hs * sizeof(real));
    }
    if (!tiles) return;
    const real *from = rows ? rows : src;
    size_t stride = rows ? (size_t)hs : (size_t)3 * C;
    int j = 0;
#if defined(__AVX2__) && !defined(REAL_IS_DOUBLE)
    if (hs % 8 == 0) // KB is a multiple of 8 too: each 8 keys lie in one tile
        for (; j + 8 <= T; j += 8) {
            real *t = tiles + (size_t)(j / KB) * hs * KB + j % KB;
            for (int i = 0; i < hs; i += 8) transpose8x8(t + (size_t)i * KB, KB, from + (size_t)j * stride + i, stride);
        }
#endif
    for (; j < T; j++) {
        const real *x = from + (size_t)j * stride;
        real *t = tiles + (size_t)(j / KB) * hs * KB + j % KB;
        for (int i = 0; i < hs; i++) t[(size_t)i * KB] = x[i];
    }
    for (; j % KB; j++)
        for (int i = 0; i < hs; i++) tiles[(size_t)(j / KB) * hs * KB + (size_t)i * KB + j % KB] = 0;
}

// z[r*Tp + j] = q_r . k_j for r < QB, j < n rounded up to whole tiles; xt holds the keys transposed in
// tiles (copy_head)
static void tile_dots(real *z, const real *const q[QB], const real *xt, int n, int Tp, int hs) {
    for (int j0 = 0; j0 < n; j0 += KB) {
        vreal acc[QB][KV];
        for (int r = 0; r < QB; r++) for (int v = 0; v < KV; v++) acc[r][v] = (vreal){0};
        const real *tile = xt + (size_t)j0 * hs; // tile j0/KB: hs x KB
        for (int i = 0; i < hs; i++) {
            const vreal *k = (const vreal *)(tile + (size_t)i * KB);
            for (int c = 0; c < KB * (int)sizeof(real); c += 64) __builtin_prefetch((const char *)(k + (size_t)hs * KB / VL) + c);
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

// o_r[i0 .. i0+CV*VL) = scale_r * sum_{j<n} w[r*Tp + j] x_j[...], x_j = x + j*stride: CV vectors per row
static inline __attribute__((always_inline)) void mix_chunk(real *const o[QB], int nr, const real *w, int Tp,
                                                             const real *x, size_t stride, int n, int i0, int CV,
                                                             const real scale[QB]) {
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
        for (int v = 0; v < CV; v++) *(vreal *)(o[r] + i0 + v * VL) = scale[r] * acc[r][v];
}

// o_r[i] = scale_r * sum_{j<n} w[r*Tp + j] x_j[i] for i < hs, r < nr: weighted sums of keys or values
static void tile_mix(real *const o[QB], int nr, const real *w, int Tp, const real *x, size_t stride, int n, int hs,
                     const real scale[QB]) {
    int i0 = 0;
    for (; i0 + CVMAX * VL <= hs; i0 += CVMAX * VL) mix_chunk(o, nr, w, Tp, x, stride, n, i0, CVMAX, scale);
    if (i0 + 2 * VL <= hs) { mix_chunk(o, nr, w, Tp, x, stride, n, i0, 2, scale); i0 += 2 * VL; }
    if (i0 + VL <= hs) { mix_chunk(o, nr, w, Tp, x, stride, n, i0, 1, scale); i0 += VL; }
    for (int r = 0; r < nr; r++) // what is left of hs, one lane at a time
        for (int i = i0; i < hs; i++) {
            real acc = 0;
            for (int j = 0; j < n; j++) acc += w[(size_t)r * Tp + j] * x[(size_t)j * stride + i];
            o[r][i] = scale[r] * acc;
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

// The row passes run over whole vectors: keys 0..t and the lanes past t to the next multiple of VL,
// which are masked (they hold scores of later keys or what an earlier tile left, and end as 0). A loop
// to t + 1 leaves up to VL - 1 keys to a scalar remainder, and a row of the small preset (T = 128)
// averages 4 vectors.
static inline int row_len(int t) { return (t + VL) / VL * VL; }

// one row of the forward pass: zr[0..t] holds q.k_j on entry and the row's unnormalised weights on
// return (0 past t to row_len(t)), *inv their normaliser; returns the row's statistic (attention.h).
// cs = c_t / sqrt(hs)
static inline real row_forward(real *zr, real *inv, int t, real cs, int row, real sigma) {
    real maxu = -INFINITY, sum = 0;
    int len = row_len(t);
    if (row == ROW_SIGMOID) { // p_j = sigmoid(u_j - ln n), no normalisation
        real bias = -(real)log((double)(t + 1));
        #pragma omp simd
        for (int j = 0; j < len; j++) { real p = 1 / (1 + vexp(-(zr[j] * cs + bias))); zr[j] = j <= t ? p : 0; }
        *inv = 1;
        return 0;
    }
    if (row == ROW_SOFTPICK) { // relu(e^u - 1) / (sum |e^u - 1| + eps), everything scaled by e^-m, m = max(u, 0)
        real m = 0;
        #pragma omp simd reduction(max:m)
        for (int j = 0; j < len; j++) { real u = j <= t ? zr[j] * cs : 0; zr[j] = u; m = u > m ? u : m; }
        real em = vexp(-m);
        #pragma omp simd reduction(+:sum)
        for (int j = 0; j < len; j++) {
            real e = vexp(zr[j] - m) - em; // 0 past t: u = 0 there
            sum += e < 0 ? -e : e;
            zr[j] = e > 0 ? e : 0;
        }
        sum += (real)SOFTPICK_EPS * em;
        *inv = 1 / sum;
        return m + log(sum);
    }
    #pragma omp simd reduction(max:maxu)
    for (int j = 0; j < len; j++) { // u_j = c_t z_j
        real u = j <= t ? zr[j] * cs : -INFINITY;
        zr[j] = u;
        maxu = u > maxu ? u : maxu;
    }
    if (row == ROW_SINK && sigma > maxu) maxu = sigma;
    #pragma omp simd reduction(+:sum)
    for (int j = 0; j < len; j++) { real e = j <= t ? vexp(zr[j] - maxu) : 0; zr[j] = e; sum += e; }
    if (row == ROW_SINK) sum += vexp(sigma - maxu); // the sink's term in the denominator
    *inv = 1 / sum;
    return maxu + log(sum);
}

void attention_forward(real *out, real *lse, real *scratch, const real *qkv, const AttnArgs *a, int B, int T, int C, int NH) {
    int hs = C / NH, Tp = padded_T(T), row = a->norm->row;
    real scale = 1 / sqrt((real)hs);
    #pragma omp parallel for collapse(2) schedule(static)
    for (int bb = 0; bb < B; bb++) {
        for (int h = 0; h < NH; h++) {
            real *kt = scratch + ((size_t)bb * NH + h) * head_slot(hs, Tp), *vr = kt + (size_t)3 * hs * Tp;
            real *z = kt + (size_t)6 * hs * Tp; // QB score rows
            const real *base = qkv + (size_t)bb * T * 3 * C;
            copy_head(NULL, kt, base, 1, h, T, C, hs);
            copy_head(vr, NULL, base, 2, h, T, C, hs);
            for (int t0 = 0; t0 < T; t0 += QB) {
                int nr = T - t0 < QB ? T - t0 : QB, n = t0 + nr; // rows t0.., and the keys the last one sees
                const real *q[QB];
                real *o[QB], inv[QB];
                for (int r = 0; r < QB; r++) {
                    int t = t0 + (r < nr ? r : nr - 1); // rows past T repeat the last one, unused
                    q[r] = base + (size_t)t * 3 * C + h * hs;
                    o[r] = out + ((size_t)bb * T + t) * C + h * hs;
                }
                tile_dots(z, q, kt, n, Tp, hs); // zr[j] = q.k_j, raw: z_j times sqrt(hs)
                for (int r = 0; r < QB; r++) {
                    real *zr = z + (size_t)r * Tp;
                    if (r >= nr) { for (int j = 0; j < n; j++) zr[j] = 0; inv[r] = 0; continue; }
                    int t = t0 + r, j0 = attn_first_key(a, bb, T, t); // keys j0..t are visible
                    real cs = attn_coef(a, h, t + 1 - j0) * scale;
                    lse[((size_t)bb * NH + h) * T + t] = row_forward(zr + j0, &inv[r], t - j0, cs, row, attn_sink(a, h));
                    for (int j = 0; j < j0; j++) zr[j] = 0; // another document's keys get nothing
                    for (int j = j0 + row_len(t - j0); j < n; j++) zr[j] = 0; // causal: later keys get nothing
                }
                tile_mix(o, nr, z, Tp, vr, hs, n, hs, inv); // sum_j p_j v_j
            }
        }
    }
}

// sum_{j=k0}^{k1-1} exp(c_t z_j - lse)
void attention_row_mass(real *mass, const real *qkv, const real *lse, const AttnArgs *a, int B, int T, int C,
                        int NH, int bb, int t, int k0, int k1) {
    int hs = C / NH;
    real scale = 1 / sqrt((real)hs);
    const real *base = qkv + (size_t)bb * T * 3 * C;
    if (k1 > t + 1) k1 = t + 1; // causal: later keys get nothing
    int j0 = attn_first_key(a, bb, T, t), nk = t + 1 - j0;
    if (k0 < j0) k0 = j0; // nor the keys of an earlier document
    for (int h = 0; h < NH; h++) {
        const real *q = base + (size_t)t * 3 * C + h * hs;
        real cs = attn_coef(a, h, nk) * scale, l = lse[((size_t)bb * NH + h) * T + t], m = 0;
        for (int j = k0; j < k1; j++) {
            const real *k = base + (size_t)j * 3 * C + C + h * hs;
            real z = 0;
            for (int i = 0; i < hs; i++) z += q[i] * k[i];
            real u = z * cs;
            if (a->norm->row == ROW_SIGMOID) m += 1 / (1 + exp(-(u - (real)log((double)nk))));
            else if (a->norm->row == ROW_SOFTPICK) m += u > 0 ? exp(u - l) - exp(-l) : 0;
            else m += exp(u - l);
        }
        mass[h] = m;
    }
}

// one row of the backward pass: zr[0..t] holds q.k_j on entry and dL/d(q.k_j) on return, dpr[0..t] holds
// g_j = go . v_j on entry and the weights p_j on return (both 0 past t to row_len(t)); returns dL/dc_t =
// sum_j du_j z_j. l is the row's statistic, D = sum_j p_j g_j = go . out
static inline real row_backward_softmax(real *zr, real *dpr, int t, real cs, real scale, real l, real D) {
    real dc = 0;
    int len = row_len(t);
    #pragma omp simd reduction(+:dc)
    for (int j = 0; j < len; j++) {
        real p = vexp(zr[j] * cs - l);
        real du = j <= t ? p * (dpr[j] - D) : 0;
        dc += j <= t ? du * zr[j] * scale : 0;
        zr[j] = du * cs; // gradient w.r.t. the raw dot product q.k_j
        dpr[j] = j <= t ? p : 0;
    }
    return dc;
}
static inline real row_backward_sigmoid(real *zr, real *dpr, int t, real cs, real scale) {
    real dc = 0, bias = -(real)log((double)(t + 1));
    int len = row_len(t);
    #pragma omp simd reduction(+:dc)
    for (int j = 0; j < len; j++) {
        real p = 1 / (1 + vexp(-(zr[j] * cs + bias)));
        real du = j <= t ? dpr[j] * p * (1 - p) : 0;
        dc += j <= t ? du * zr[j] * scale : 0;
        zr[j] = du * cs;
        dpr[j] = j <= t ? p : 0;
    }
    return dc;
}
static inline real row_backward_softpick(real *zr, real *dpr, int t, real cs, real scale, real l, real D) {
    real dc = 0, el = vexp(-l);
    int len = row_len(t);
    #pragma omp simd reduction(+:dc)
    for (int j = 0; j < len; j++) {
        real u = j <= t ? zr[j] * cs : 0, e = vexp(u - l); // e^u / denominator
        real p = u > 0 ? e - el : 0;
        real du = j <= t ? e * ((u > 0 ? dpr[j] : 0) - D * (u > 0 ? 1 : u < 0 ? -1 : 0)) : 0;
        dc += j <= t ? du * zr[j] * scale : 0;
        zr[j] = du * cs;
        dpr[j] = p;
    }
    return dc;
}

void attention_backward(real *dqkv, real *const dparams[ATTN_MAX_PARAMS], real *scratch, const real *dout, const real *qkv,
                        const real *out, const real *lse, const AttnArgs *a, int B, int T, int C, int NH) {
    int hs = C / NH, Tp = padded_T(T), row = a->norm->row;
    real scale = 1 / sqrt((real)hs);
    real *partial = scratch + (size_t)B * NH * head_slot(hs, Tp); // (B,NH,ATTN_MAX_PARAMS): each (b,h)'s share of dp
    #pragma omp parallel for collapse(2) schedule(static)
    for (int bb = 0; bb < B; bb++) {
        for (int h = 0; h < NH; h++) {
            real *kt = scratch + ((size_t)bb * NH + h) * head_slot(hs, Tp), *vt = kt + (size_t)hs * Tp;
            real *kr = vt + (size_t)hs * Tp, *vr = kr + (size_t)Tp * hs;  // K's and V's rows
            real *dk = vr + (size_t)Tp * hs, *dv = dk + (size_t)Tp * hs; // (Tp, hs): summed over query tiles
            real *z = dv + (size_t)Tp * hs, *dp = z + (size_t)QB * Tp;   // QB rows each
            const real *base = qkv + (size_t)bb * T * 3 * C;
            real *dbase = dqkv + (size_t)bb * T * 3 * C;
            copy_head(kr, kt, base, 1, h, T, C, hs);
            copy_head(vr, vt, base, 2, h, T, C, hs);
            memset(dk, 0, (size_t)2 * Tp * hs * sizeof(real));
            real ph[ATTN_MAX_PARAMS], dph[ATTN_MAX_PARAMS] = {0}; // this head's parameters, their gradient
            attn_head_params(ph, a, h);
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
                for (int r = 0; r < QB && t0 + QB + r < T; r++) // the next tile's rows of out, read once
                    for (int i = 0; i < hs; i += 64 / (int)sizeof(real)) // per row below: fetch them early
                        __builtin_prefetch(out + ((size_t)bb * T + t0 + QB + r) * C + h * hs + i);
                tile_dots(z, q, kt, n, Tp, hs);   // raw q.k_j, as in the forward pass
                tile_dots(dp, go, vt, n, Tp, hs); // go.v_j
                for (int r = 0; r < QB; r++) {
                    real *zr = z + (size_t)r * Tp, *dpr = dp + (size_t)r * Tp;
                    if (r >= nr) { for (int j = 0; j < n; j++) zr[j] = dpr[j] = 0; continue; }
                    int t = t0 + r, j0 = attn_first_key(a, bb, T, t), nk = t + 1 - j0; // keys j0..t
                    const real *o = out + ((size_t)bb * T + t) * C + h * hs;
                    real c = attn_coef(a, h, nk), cs = c * scale;
                    real l = lse[((size_t)bb * NH + h) * T + t];
                    const real *g = go[r];
                    real D = 0; // sum_j p_j (go . v_j) = go . out
                    #pragma omp simd reduction(+:D)
                    for (int i = 0; i < hs; i++) D += g[i] * o[i];
                    real *zv = zr + j0, *dpv = dpr + j0; // the visible keys
                    real dc = row == ROW_SIGMOID ? row_backward_sigmoid(zv, dpv, t - j0, cs, scale)
                            : row == ROW_SOFTPICK ? row_backward_softpick(zv, dpv, t - j0, cs, scale, l, D)
                            : row_backward_softmax(zv, dpv, t - j0, cs, scale, l, D); // softmax, sink
                    for (int j = 0; j < j0; j++) zr[j] = dpr[j] = 0;
                    for (int j = j0 + row_len(t - j0); j < n; j++) zr[j] = dpr[j] = 0;
                    if (a->norm->coef_grad) a->norm->coef_grad(dph, ph, nk, a->T_train, dc);
                    if (row == ROW_SINK && a->norm->row_param >= 0) // dL/dsigma = -p_sink D, p_sink = e^(sigma - lse)
                        dph[a->norm->row_param] += -vexp(ph[a->norm->row_param] - l) * D;
                }
                tile_mix(dq, nr, z, Tp, kr, hs, n, hs, one); // dq = sum_j dz_j k_j
                tile_outer(dk, hs, z, Tp, q, nr, n);   // dk_j += sum_r dz_rj q_r
                tile_outer(dv, hs, dp, Tp, go, nr, n); // dv_j += sum_r p_rj go_r
            }
            for (int j = 0; j < T; j++) { // dK, dV into dqkv
                real *dkj = dbase + (size_t)j * 3 * C + C + h * hs, *dvj = dkj + C;
                if (j + 8 < T) // rows 3C apart, rarely in cache: fetched for writing 8 rows ahead
                    for (int i = 0; i < hs; i += 64 / (int)sizeof(real)) {
                        __builtin_prefetch(dkj + (size_t)8 * 3 * C + i, 1);
                        __builtin_prefetch(dvj + (size_t)8 * 3 * C + i, 1);
                    }
                for (int i = 0; i < hs; i++) { dkj[i] = dk[(size_t)j * hs + i]; dvj[i] = dv[(size_t)j * hs + i]; }
            }
            for (int k = 0; k < ATTN_MAX_PARAMS; k++) partial[((size_t)bb * NH + h) * ATTN_MAX_PARAMS + k] = dph[k];
        }
    }
    // fixed-order sum over the batch keeps the parameter gradients bit-for-bit repeatable
    for (int bb = 0; bb < B; bb++)
        for (int h = 0; h < NH; h++)
            for (int k = 0; k < ATTN_MAX_PARAMS; k++)
                if (dparams[k]) dparams[k][h] += partial[((size_t)bb * NH + h) * ATTN_MAX_PARAMS + k];
}
