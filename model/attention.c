/*
 * attention.c: the table of attention normalizers, and attention itself as a plain forward/backward
 * pair: the definition that the tiled kernels (attention_kernels.c) and every test are checked against.
 * See attention.h for the formulas.
 */
#include <tgmath.h>
#include <stdio.h>
#include <stdlib.h>
#include "attention.h"

// ----------------------------------------------------------------------------
// the normalizers: c_t and its gradient for each kind of per-row coefficient

static real coef_slogn(const real *p, int n) { return p[0] * (real)log((double)n); }
static void coef_slogn_grad(real *dp, const real *p, int n, real dc) { dp[0] += (real)log((double)n) * dc; }

static real coef_slogn_bias(const real *p, int n) { return p[0] * (real)log((double)n) + p[1]; }
static void coef_slogn_bias_grad(real *dp, const real *p, int n, real dc) {
    dp[0] += (real)log((double)n) * dc;
    dp[1] += dc;
}

static real coef_tau(const real *p, int n) { (void)n; return p[0]; }
static void coef_tau_grad(real *dp, const real *p, int n, real dc) { (void)p; (void)n; dp[0] += dc; }

const Normalizer normalizers[ATTN_COUNT] = {
    [ATTN_SOFTMAX] = {"softmax", "softmax(z)", ROW_SOFTMAX, 0, {0}, {0}, 0, NULL, NULL},
    [ATTN_SSMAX] = {"ssmax", "softmax(s ln(n) z), s learnable per head", ROW_SOFTMAX, 1, {"s"}, {ATTN_INIT_S0}, 1,
                    coef_slogn, coef_slogn_grad},
    [ATTN_SSMAX_FIXED] = {"ssmax-fixed", "softmax(s ln(n) z), s fixed at s0", ROW_SOFTMAX, 1, {"s"}, {ATTN_INIT_S0}, 0,
                          coef_slogn, coef_slogn_grad},
    [ATTN_SSMAX_BIAS] = {"ssmax-bias", "softmax((s ln(n) + b) z), s and b learnable per head", ROW_SOFTMAX, 2, {"s", "b"},
                         {ATTN_INIT_S0, 0}, 1, coef_slogn_bias, coef_slogn_bias_grad},
    [ATTN_TEMP] = {"temp", "softmax(tau z), tau learnable per head: SSMax's control, a scale without ln n", ROW_SOFTMAX, 1,
                   {"tau"}, {1}, 1, coef_tau, coef_tau_grad},
};

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
// the definition, one query row at a time: scores, the row's weights, the weighted sum of values

void attention_forward_ref(real *out, real *lse, const real *qkv, const AttnArgs *a, int B, int T, int C, int NH) {
    int hs = C / NH;
    real scale = 1 / sqrt((real)hs);
    real *w = malloc((size_t)T * sizeof(real)); // the row's weights
    for (int b = 0; b < B; b++) {
        for (int t = 0; t < T; t++) {
            for (int h = 0; h < NH; h++) {
                const real *q = qkv + ((size_t)b * T + t) * 3 * C + h * hs;
                real c = attn_coef(a, h, t + 1), maxu = -INFINITY;
                for (int j = 0; j <= t; j++) { // u_j = c_t z_j
                    const real *k = qkv + ((size_t)b * T + j) * 3 * C + C + h * hs;
                    real z = 0;
                    for (int i = 0; i < hs; i++) z += q[i] * k[i];
                    w[j] = c * z * scale;
                    if (w[j] > maxu) maxu = w[j];
                }
                real sum = 0;
                for (int j = 0; j <= t; j++) { w[j] = exp(w[j] - maxu); sum += w[j]; }
                real *o = out + ((size_t)b * T + t) * C + h * hs;
                for (int i = 0; i < hs; i++) o[i] = 0;
                for (int j = 0; j <= t; j++) {
                    const real *v = qkv + ((size_t)b * T + j) * 3 * C + 2 * C + h * hs;
                    for (int i = 0; i < hs; i++) o[i] += w[j] / sum * v[i];
                }
                lse[((size_t)b * NH + h) * T + t] = maxu + log(sum);
            }
        }
    }
    free(w);
}

void attention_backward_ref(real *dqkv, real *const dp[ATTN_MAX_PARAMS], const real *dout, const real *qkv,
                            const real *lse, const AttnArgs *a, int B, int T, int C, int NH) {
    int hs = C / NH;
    real scale = 1 / sqrt((real)hs);
    real *p = malloc((size_t)T * sizeof(real)), *dpre = malloc((size_t)T * sizeof(real));
    for (int b = 0; b < B; b++) {
        for (int t = 0; t < T; t++) {
            for (int h = 0; h < NH; h++) {
                const real *q = qkv + ((size_t)b * T + t) * 3 * C + h * hs;
                const real *go = dout + ((size_t)b * T + t) * C + h * hs; // dL/d out
                real *dq = dqkv + ((size_t)b * T + t) * 3 * C + h * hs;
                real c = attn_coef(a, h, t + 1), l = lse[((size_t)b * NH + h) * T + t];
                // the weights again, and dL/dp_j = go . v_j
                real D = 0; // sum_j p_j (go . v_j)
                for (int j = 0; j <= t; j++) {
                    const real *k = qkv + ((size_t)b * T + j) * 3 * C + C + h * hs, *v = k + C;
                    real z = 0, gv = 0;
                    for (int i = 0; i < hs; i++) { z += q[i] * k[i]; gv += go[i] * v[i]; }
                    p[j] = exp(c * z * scale - l);
                    dpre[j] = gv;
                    D += p[j] * gv;
                }
                // softmax backward: du_j = p_j (dp_j - D); u_j = c z_j, so dz_j = c du_j and dc = sum_j du_j z_j
                real dc = 0;
                for (int j = 0; j <= t; j++) {
                    real *dk = dqkv + ((size_t)b * T + j) * 3 * C + C + h * hs, *dv = dk + C;
                    const real *k = qkv + ((size_t)b * T + j) * 3 * C + C + h * hs;
                    real z = 0;
                    for (int i = 0; i < hs; i++) z += q[i] * k[i];
                    real du = p[j] * (dpre[j] - D), dz = c * du * scale; // w.r.t. the raw q.k_j
                    dc += du * z * scale;
                    for (int i = 0; i < hs; i++) { dq[i] += dz * k[i]; dk[i] += dz * q[i]; dv[i] += p[j] * go[i]; }
                }
                if (a->norm->coef_grad) {
                    real ph[ATTN_MAX_PARAMS], dph[ATTN_MAX_PARAMS] = {0};
                    for (int k = 0; k < ATTN_MAX_PARAMS; k++) ph[k] = a->p[k] ? a->p[k][h] : 0;
                    a->norm->coef_grad(dph, ph, t + 1, dc);
                    for (int k = 0; k < ATTN_MAX_PARAMS; k++) if (dp[k]) dp[k][h] += dph[k];
                }
            }
        }
    }
    free(p); free(dpre);
}
