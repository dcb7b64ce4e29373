/*
 * attention.c: the table of attention normalizers, and attention itself as a plain forward/backward
 * pair: the definition that the tiled kernels (attention_kernels.c) and every test are checked against.
 * See attention.h for the formulas.
 */
#include <tgmath.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "attention.h"

// ----------------------------------------------------------------------------
// the normalizers: c_t and its gradient for each kind of per-row coefficient

static real coef_slogn(const real *p, int n, int Tt) { (void)Tt; return p[0] * (real)log((double)n); }
static void coef_slogn_grad(real *dp, const real *p, int n, int Tt, real dc) { (void)p; (void)Tt; dp[0] += (real)log((double)n) * dc; }

static real coef_slogn_bias(const real *p, int n, int Tt) { (void)Tt; return p[0] * (real)log((double)n) + p[1]; }
static void coef_slogn_bias_grad(real *dp, const real *p, int n, int Tt, real dc) {
    (void)p; (void)Tt;
    dp[0] += (real)log((double)n) * dc;
    dp[1] += dc;
}

static real coef_tau(const real *p, int n, int Tt) { (void)n; (void)Tt; return p[0]; }
static void coef_tau_grad(real *dp, const real *p, int n, int Tt, real dc) { (void)p; (void)n; (void)Tt; dp[0] += dc; }

// LogN: 1 inside the training length, ln n / ln T_train beyond it (no parameter, no gradient)
static real coef_logn(const real *p, int n, int Tt) {
    (void)p;
    if (Tt < 2 || n <= Tt) return 1;
    return (real)(log((double)n) / log((double)Tt));
}

#define S0 ATTN_INIT_S0
const Normalizer normalizers[ATTN_COUNT] = {
    // name, about, row kind, row parameter slot, parameters, their names, initial values, learnable, c_t, dc_t
    [ATTN_SOFTMAX] = {"softmax", "softmax(z)", ROW_SOFTMAX, -1, 0, {0}, {0}, 0, NULL, NULL},
    [ATTN_SSMAX] = {"ssmax", "softmax(s ln(n) z), s learnable per head", ROW_SOFTMAX, -1, 1, {"s"}, {S0}, 1,
                    coef_slogn, coef_slogn_grad},
    [ATTN_SSMAX_FIXED] = {"ssmax-fixed", "softmax(s ln(n) z), s fixed at s0", ROW_SOFTMAX, -1, 1, {"s"}, {S0}, 0,
                          coef_slogn, coef_slogn_grad},
    [ATTN_SSMAX_BIAS] = {"ssmax-bias", "softmax((s ln(n) + b) z), s and b learnable per head", ROW_SOFTMAX, -1, 2,
                         {"s", "b"}, {S0, 0}, 1, coef_slogn_bias, coef_slogn_bias_grad},
    [ATTN_TEMP] = {"temp", "softmax(tau z), tau learnable per head: SSMax's control, a scale without ln n", ROW_SOFTMAX,
                   -1, 1, {"tau"}, {1}, 1, coef_tau, coef_tau_grad},
    [ATTN_LOGN] = {"logn", "softmax(max(1, ln n / ln T_train) z) (Qwen's LogN)", ROW_SOFTMAX, -1, 0, {0}, {0}, 0,
                   coef_logn, NULL},
    [ATTN_SOFTMAX1] = {"softmax1", "e^z_j / (1 + sum_i e^z_i) (softmax plus one)", ROW_SINK, -1, 0, {0}, {0}, 0, NULL, NULL},
    [ATTN_SINK] = {"sink", "e^z_j / (e^sigma + sum_i e^z_i), sigma learnable per head (learned sink)", ROW_SINK, 0, 1,
                   {"sigma"}, {0}, 1, NULL, NULL},
    [ATTN_SSMAX_SINK] = {"ssmax-sink", "SSMax's scale s ln(n) with the learned sink sigma", ROW_SINK, 1, 2,
                         {"s", "sigma"}, {S0, 0}, 1, coef_slogn, coef_slogn_grad},
    [ATTN_SIGMOID] = {"sigmoid", "sigmoid(z_j - ln n), no row normalisation (sigmoid attention)", ROW_SIGMOID, -1, 0, {0},
                      {0}, 0, NULL, NULL},
    [ATTN_SOFTPICK] = {"softpick", "relu(e^z_j - 1) / (sum_i |e^z_i - 1| + eps)", ROW_SOFTPICK, -1, 0, {0}, {0}, 0,
                       NULL, NULL},
};
#undef S0

int normalizer_uses_s0(int attn) {
    for (int k = 0; k < normalizers[attn].nparams; k++) if (isnan(normalizers[attn].init[k])) return 1;
    return 0;
}

const Normalizer *normalizer_find(const char *name) {
    for (int i = 0; i < ATTN_COUNT; i++) if (strcmp(normalizers[i].name, name) == 0) return &normalizers[i];
    return NULL;
}

const char *normalizer_list(int with_params) {
    static char lists[2][512];
    char *s = lists[with_params != 0];
    if (s[0]) return s;
    for (int i = 0; i < ATTN_COUNT; i++) {
        if (with_params && normalizers[i].nparams == 0) continue;
        if (s[0]) strcat(s, " | ");
        strcat(s, normalizers[i].name);
    }
    return s;
}

float normalizer_default_s0(int attn, int T) {
    const Normalizer *n = &normalizers[attn];
    if ((n->nparams > 0 && !n->learnable) || T < 2) return 1.0f; // fixed s: logits x ln n
    return (float)(T / lgamma(T + 1.0)); // sum_{n=1..T} ln n = ln T!
}

// ----------------------------------------------------------------------------
// the definition, one query row at a time: scores u_j = c_t z_j, the row's weights, the weighted sum of
// values

// the weights p[0..t] of one row from its scores u[0..t]; returns the row's statistic (attention.h)
static real row_weights(real *p, const real *u, int t, int row, real sigma) {
    real m = -INFINITY, sum = 0;
    switch (row) {
    case ROW_SOFTMAX:
    case ROW_SINK:
        for (int j = 0; j <= t; j++) if (u[j] > m) m = u[j];
        if (row == ROW_SINK && sigma > m) m = sigma;
        for (int j = 0; j <= t; j++) sum += exp(u[j] - m);
        if (row == ROW_SINK) sum += exp(sigma - m);
        for (int j = 0; j <= t; j++) p[j] = exp(u[j] - m) / sum;
        return m + log(sum);
    case ROW_SIGMOID: {
        real bias = -(real)log((double)(t + 1));
        for (int j = 0; j <= t; j++) p[j] = 1 / (1 + exp(-(u[j] + bias)));
        return 0;
    }
    default: { // ROW_SOFTPICK, scaled by e^-m so that no exp overflows: e^u - 1 = e^m (e^(u-m) - e^-m)
        m = 0;
        for (int j = 0; j <= t; j++) if (u[j] > m) m = u[j];
        for (int j = 0; j <= t; j++) sum += fabs(exp(u[j] - m) - exp(-m));
        sum += (real)SOFTPICK_EPS * exp(-m);
        for (int j = 0; j <= t; j++) p[j] = fmax(exp(u[j] - m) - exp(-m), (real)0) / sum;
        return m + log(sum);
    }
    }
}

void attention_forward_ref(real *out, real *lse, const real *qkv, const AttnArgs *a, int B, int T, int C, int NH) {
    int hs = C / NH;
    real scale = 1 / sqrt((real)hs);
    real *u = malloc((size_t)T * sizeof(real)), *p = malloc((size_t)T * sizeof(real));
    for (int b = 0; b < B; b++) {
        for (int t = 0; t < T; t++) {
            for (int h = 0; h < NH; h++) {
                const real *q = qkv + ((size_t)b * T + t) * 3 * C + h * hs;
                int j0 = attn_first_key(a, b, T, t); // the row sees keys j0..t: n = t + 1 - j0
                real c = attn_coef(a, h, t + 1 - j0);
                for (int j = j0; j <= t; j++) {
                    const real *k = qkv + ((size_t)b * T + j) * 3 * C + C + h * hs;
                    real z = 0;
                    for (int i = 0; i < hs; i++) z += q[i] * k[i];
                    u[j] = c * z * scale;
                }
                lse[((size_t)b * NH + h) * T + t] = row_weights(p + j0, u + j0, t - j0, a->norm->row, attn_sink(a, h));
                real *o = out + ((size_t)b * T + t) * C + h * hs;
                for (int i = 0; i < hs; i++) o[i] = 0;
                for (int j = j0; j <= t; j++) {
                    const real *v = qkv + ((size_t)b * T + j) * 3 * C + 2 * C + h * hs;
                    for (int i = 0; i < hs; i++) o[i] += p[j] * v[i];
                }
            }
        }
    }
    free(u); free(p);
}

void attention_backward_ref(real *dqkv, real *const dparams[ATTN_MAX_PARAMS], const real *dout, const real *qkv,
                            const real *lse, const AttnArgs *a, int B, int T, int C, int NH) {
    (void)lse; // the reference recomputes each row from its scores
    int hs = C / NH, row = a->norm->row;
    real scale = 1 / sqrt((real)hs);
    real *u = malloc((size_t)T * sizeof(real)), *p = malloc((size_t)T * sizeof(real));
    real *g = malloc((size_t)T * sizeof(real)), *du = malloc((size_t)T * sizeof(real)), *z = malloc((size_t)T * sizeof(real));
    memset(dqkv, 0, (size_t)B * T * 3 * C * sizeof(real)); // dqkv is written: the sums below start from 0
    for (int b = 0; b < B; b++) {
        for (int t = 0; t < T; t++) {
            for (int h = 0; h < NH; h++) {
                const real *q = qkv + ((size_t)b * T + t) * 3 * C + h * hs;
                const real *go = dout + ((size_t)b * T + t) * C + h * hs; // dL/d out
                real *dq = dqkv + ((size_t)b * T + t) * 3 * C + h * hs;
                int j0 = attn_first_key(a, b, T, t);
                real c = attn_coef(a, h, t + 1 - j0), sigma = attn_sink(a, h);
                real D = 0; // sum_j p_j g_j, with g_j = dL/dp_j = go . v_j
                for (int j = j0; j <= t; j++) {
                    const real *k = qkv + ((size_t)b * T + j) * 3 * C + C + h * hs, *v = k + C;
                    real dot = 0, gv = 0;
                    for (int i = 0; i < hs; i++) { dot += q[i] * k[i]; gv += go[i] * v[i]; }
                    z[j] = dot * scale;
                    u[j] = c * dot * scale;
                    g[j] = gv;
                }
                real l = row_weights(p + j0, u + j0, t - j0, row, sigma);
                for (int j = j0; j <= t; j++) D += p[j] * g[j];
                // dL/du_j for each row kind
                for (int j = j0; j <= t; j++) {
                    if (row == ROW_SIGMOID) du[j] = g[j] * p[j] * (1 - p[j]);
                    else if (row == ROW_SOFTPICK) du[j] = exp(u[j] - l) * ((u[j] > 0 ? g[j] : 0) - D * (u[j] > 0 ? 1 : u[j] < 0 ? -1 : 0));
                    else du[j] = p[j] * (g[j] - D); // softmax, sink
                }
                real dc = 0; // u_j = c z_j: dz_j = c du_j, dc = sum_j du_j z_j
                for (int j = j0; j <= t; j++) {
                    real *dk = dqkv + ((size_t)b * T + j) * 3 * C + C + h * hs, *dv = dk + C;
                    const real *k = qkv + ((size_t)b * T + j) * 3 * C + C + h * hs;
                    real dz = c * du[j] * scale; // w.r.t. the raw q.k_j
                    dc += du[j] * z[j];
                    for (int i = 0; i < hs; i++) { dq[i] += dz * k[i]; dk[i] += dz * q[i]; dv[i] += p[j] * go[i]; }
                }
                real ph[ATTN_MAX_PARAMS], dph[ATTN_MAX_PARAMS] = {0};
                attn_head_params(ph, a, h);
                if (a->norm->coef_grad) a->norm->coef_grad(dph, ph, t + 1 - j0, a->T_train, dc);
                if (row == ROW_SINK && a->norm->row_param >= 0) // the sink's share of the row: e^{sigma - lse}
                    dph[a->norm->row_param] += -exp(sigma - l) * D;
                for (int k = 0; k < ATTN_MAX_PARAMS; k++) if (dparams[k]) dparams[k][h] += dph[k];
            }
        }
    }
    free(u); free(p); free(g); free(du); free(z);
}

// one query against cached keys and values (generation with a KV cache): keys[j*stride + h*hs] and
// values[...] for j = first..t, the query q (C) of position t; out (C). The same row as the pair above
void attention_query(real *out, const real *q, const real *keys, const real *values, size_t stride, int first, int t,
                     const AttnArgs *a, int NH, int hs) {
    real scale = 1 / sqrt((real)hs);
    real *u = malloc((size_t)(t + 1) * sizeof(real)), *p = malloc((size_t)(t + 1) * sizeof(real));
    for (int h = 0; h < NH; h++) {
        const real *qh = q + h * hs;
        real c = attn_coef(a, h, t + 1 - first);
        for (int j = first; j <= t; j++) {
            const real *k = keys + (size_t)j * stride + h * hs;
            real z = 0;
            for (int i = 0; i < hs; i++) z += qh[i] * k[i];
            u[j] = c * z * scale;
        }
        row_weights(p + first, u + first, t - first, a->norm->row, attn_sink(a, h));
        real *o = out + h * hs;
        for (int i = 0; i < hs; i++) o[i] = 0;
        for (int j = first; j <= t; j++) {
            const real *v = values + (size_t)j * stride + h * hs;
            for (int i = 0; i < hs; i++) o[i] += p[j] * v[i];
        }
    }
    free(u); free(p);
}
