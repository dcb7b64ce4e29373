/*
 * attention.h: causal self-attention and its normalizers.
 *
 * For the query at position t of a sequence, n = t + 1 keys are visible (with document masking, the
 * keys from the start of the query's document: n = t + 1 - start) and the scores are
 * z_j = q.k_j / sqrt(hs). A normalizer turns the row of scores into weights p_j, and the output is
 * sum_j p_j v_j. Every normalizer here is a row kind applied to u_j = c_t z_j, where the per-row
 * coefficient c_t comes from n and the head's own parameters. The row kinds:
 *     softmax    p_j = e^{u_j} / sum_i e^{u_i}
 *     sink       p_j = e^{u_j} / (e^{sigma} + sum_i e^{u_i}), sigma a parameter or 0 (softmax+1)
 *     sigmoid    p_j = sigmoid(u_j - ln n), no row normalisation
 *     softpick   p_j = relu(e^{u_j} - 1) / (sum_i |e^{u_i} - 1| + eps)
 * and the normalizers:
 *     softmax       softmax row, c = 1
 *     ssmax         softmax row, c = s_h ln n: p_j = n^(s z_j) / sum_i n^(s z_i), s learnable
 *     ssmax-fixed   softmax row, c = s_h ln n, s fixed at s0 (1: logits x ln n)
 *     ssmax-bias    softmax row, c = s_h ln n + b_h, s and b learnable
 *     temp          softmax row, c = tau_h, tau learnable (init 1): a learnable scale without ln n
 *     logn          softmax row, c = max(1, ln n / ln T_train) (Qwen's LogN)
 *     softmax1      sink row with sigma = 0, c = 1 ("off by one")
 *     sink          sink row, sigma_h learnable (init 0), c = 1 (gpt-oss)
 *     ssmax-sink    sink row, sigma_h learnable, c = s_h ln n
 *     sigmoid       sigmoid row, c = 1 (Ramapuram et al.: bias -ln n)
 *     softpick      softpick row, c = 1 (Zuhri et al.)
 * One table (normalizers[], attention.c) names them, sizes and initialises their per-head
 * parameters, and gives c and its gradient; everything else (flags, --help, checkpoints, conversion
 * of a Softmax model, the kernels) reads it. A new per-row-scalar normalizer is one table entry.
 *
 * Two implementations of the same pair: attention_forward_ref/attention_backward_ref (attention.c),
 * the definition in plain loops, which every test compares against; attention_forward/backward
 * (attention_kernels.c), the tiled kernels the model runs, memory linear in T.
 */
#ifndef ATTENTION_H
#define ATTENTION_H

#include <stddef.h>
#include "kernels/vmath.h"

enum { ATTN_SOFTMAX, ATTN_SSMAX, ATTN_SSMAX_FIXED, ATTN_SSMAX_BIAS, ATTN_TEMP, ATTN_LOGN, ATTN_SOFTMAX1, ATTN_SINK,
       ATTN_SSMAX_SINK, ATTN_SIGMOID, ATTN_SOFTPICK, ATTN_COUNT };
enum { ROW_SOFTMAX, ROW_SINK, ROW_SIGMOID, ROW_SOFTPICK, ROW_KIND_COUNT }; // how a row of u_j = c_t z_j becomes weights
#define SOFTPICK_EPS 1e-6f            // softpick's eps in the denominator
#define ATTN_MAX_PARAMS 2             // per-head parameter slots: the tensors attn0, attn1 of the model
#define ATTN_INIT_S0 NAN              // an init value meaning "the config's s0" (--ssmax-s0)

typedef struct {
    const char *name, *about;
    int row;                                    // ROW_*
    int row_param;                              // the slot of the row's own parameter (sink: sigma), -1: none
    int nparams;                                // per-head parameters, in slots 0 .. nparams-1
    const char *param_names[ATTN_MAX_PARAMS];   // "s", "b": ssmax.csv columns, the config table
    float init[ATTN_MAX_PARAMS];                // initial value of each slot, or ATTN_INIT_S0
    int learnable;                              // 0: the parameters keep their initial values
    // c_t for a row that sees n keys, from the head's parameters p[0..nparams-1] and the training
    // length; NULL: c = 1
    real (*coef)(const real *p, int n, int T_train);
    // dp[k] += dc * dc_t/dp_k (dc = dL/dc_t); NULL when coef is, or when c has no parameter
    void (*coef_grad)(real *dp, const real *p, int n, int T_train, real dc);
} Normalizer;

extern const Normalizer normalizers[ATTN_COUNT];
const Normalizer *normalizer_find(const char *name); // NULL if unknown
// "softmax | ssmax | ..." for --help and errors (with_params: only those that have per-head parameters)
const char *normalizer_list(int with_params);
// the default s0 of a normalizer for training length T: 1 / mean_{n=1..T} ln n, so that s ln n
// averages 1 over the window; 1 where s is fixed (a Softmax config records the former, unused)
float normalizer_default_s0(int attn, int T);
int normalizer_uses_s0(int attn); // 1 if a parameter starts at s0 (ATTN_INIT_S0)

// what the kernels need of one layer's normalizer: its table entry, its per-head parameters, and the
// training length (logn)
typedef struct {
    const Normalizer *norm;
    const real *p[ATTN_MAX_PARAMS]; // (NH) each; NULL past nparams
    int T_train;
    const int *doc_start; // (B, T): the first key each query may see (document masking), or NULL: 0
} AttnArgs;

// the first key that query t of batch row b sees; n = t + 1 - that
static inline int attn_first_key(const AttnArgs *a, int b, int T, int t) { return a->doc_start ? a->doc_start[(size_t)b * T + t] : 0; }

// head h's parameters, slot by slot (0 past nparams)
static inline void attn_head_params(real *p, const AttnArgs *a, int h) {
    for (int k = 0; k < ATTN_MAX_PARAMS; k++) p[k] = a->p[k] ? a->p[k][h] : 0;
}
// the coefficient of head h for a row that sees n keys
static inline real attn_coef(const AttnArgs *a, int h, int n) {
    if (!a->norm->coef) return 1;
    real p[ATTN_MAX_PARAMS];
    attn_head_params(p, a, h);
    return a->norm->coef(p, n, a->T_train);
}
// the sink row's logit sigma of head h (0 for softmax+1)
static inline real attn_sink(const AttnArgs *a, int h) {
    int k = a->norm->row_param;
    return k >= 0 && a->p[k] ? a->p[k][h] : 0;
}

// shapes: qkv (B,T,3C) = [q | k | v] per position, out (B,T,C), lse (B,NH,T): each row's statistic
// (softmax: log sum_i e^{u_i}; sink: with e^sigma in the sum; softpick: log of its denominator; sigmoid: 0).
// dparams[k] (NH) receive the parameters' gradients (NULL: none wanted, e.g. fixed s). Backward passes
// write dqkv (=) and add (+=) to dparams, which sums over the micro-batches of a step.
void attention_forward_ref(real *out, real *lse, const real *qkv, const AttnArgs *a, int B, int T, int C, int NH);
void attention_backward_ref(real *dqkv, real *const dparams[ATTN_MAX_PARAMS], const real *dout, const real *qkv,
                            const real *lse, const AttnArgs *a, int B, int T, int C, int NH);

// one query (C) of position t against cached keys and values j = first..t (row j at j * stride): out (C)
void attention_query(real *out, const real *q, const real *keys, const real *values, size_t stride, int first, int t,
                     const AttnArgs *a, int NH, int hs);

size_t attention_scratch_size(int B, int T, int C, int NH); // reals of the kernels' work space
void attention_forward(real *out, real *lse, real *scratch, const real *qkv, const AttnArgs *a, int B, int T, int C, int NH);
void attention_backward(real *dqkv, real *const dparams[ATTN_MAX_PARAMS], real *scratch, const real *dout, const real *qkv,
                        const real *out, const real *lse, const AttnArgs *a, int B, int T, int C, int NH);
// the weight that query t of batch row bb puts on keys k0..k1-1, per head (mass is (NH)), recomputed
// from the forward pass's qkv and lse
void attention_row_mass(real *mass, const real *qkv, const real *lse, const AttnArgs *a, int B, int T, int C,
                        int NH, int bb, int t, int k0, int k1);

#endif
