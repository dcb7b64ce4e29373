/*
 * test_gradcheck.c: finite-difference checks of every layer's backward pass.
 * Built with -DREAL=double, so the layers run in double precision and central differences are
 * accurate to ~1e-9: a wrong gradient term cannot hide behind float rounding.
 * For a layer y = f(x, w) we take the scalar loss L = sum(y * r) with random r; backward gives
 * dL/dx and dL/dw, which must equal (L(x+h) - L(x-h)) / 2h entry by entry.
 */
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include "../model/layers.h"
#include "../model/attention.h"
#include "../util/common.h"
#include "test.h"

static uint64_t rng = 42;

static real *randn(size_t n, double scale) {
    real *x = malloc_check(n * sizeof(real));
    for (size_t i = 0; i < n; i++) x[i] = scale * random_normal(&rng);
    return x;
}
static real *zeros(size_t n) { return malloc_check(n * sizeof(real)); }

// the layer under test, as a closure over its buffers: forward writes out from the current inputs
typedef struct {
    void (*forward)(void *ctx);
    void (*backward)(void *ctx); // writes its input's gradient, adds to its parameters' (norms: to both)
    void *ctx;
    real *out, *dout; size_t nout;
} Layer;

static double loss_of(Layer *ly) {
    ly->forward(ly->ctx);
    double L = 0;
    for (size_t i = 0; i < ly->nout; i++) L += ly->out[i] * ly->dout[i];
    return L;
}

// compares the analytic gradient grad of input x (n values) with central differences
static void gradcheck(const char *name, Layer *ly, real *x, real *grad, size_t n) {
    double h = 1e-5, worst = 0;
    size_t stride = n > 400 ? n / 200 : 1; // sample large tensors
    for (size_t i = 0; i < n; i += stride) {
        real keep = x[i];
        x[i] = keep + h; double lp = loss_of(ly);
        x[i] = keep - h; double lm = loss_of(ly);
        x[i] = keep;
        double num = (lp - lm) / (2 * h);
        double err = fabs(num - grad[i]) / fmax(1.0, fabs(num));
        if (err > worst) worst = err;
    }
    check(worst < 1e-6, "%s: finite-difference mismatch, worst relative error %.3g", name, worst);
}

// the first nw buffers are gradients the backward pass must write (=): they start as junk, which a pass
// that added to them would leave in; the others are added to (+=), so they start at 0
static void run_backward(Layer *ly, real **grads, size_t *sizes, int ng, int nw) {
    for (int i = 0; i < ng; i++)
        for (size_t j = 0; j < sizes[i]; j++) grads[i][j] = i < nw ? 1e3 + (real)j : 0;
    ly->forward(ly->ctx);
    ly->backward(ly->ctx);
}

// ----------------------------------------------------------------------------
// matmul

typedef struct { real *out, *dout, *inp, *w, *bias, *dinp, *dw, *dbias; int N, C, OC; } MatmulCtx;
static void mm_f(void *p) { MatmulCtx *c = p; matmul_forward_ref(c->out, c->inp, c->w, c->bias, c->N, c->C, c->OC); }
static void mm_b(void *p) { MatmulCtx *c = p; matmul_backward_ref(c->dinp, c->dw, c->dbias, c->dout, c->inp, c->w, c->N, c->C, c->OC); }

static void test_matmul(int N, int C, int OC, int with_bias) {
    MatmulCtx c = {zeros((size_t)N * OC), randn((size_t)N * OC, 1), randn((size_t)N * C, 1), randn((size_t)OC * C, 1),
                   with_bias ? randn(OC, 1) : NULL, zeros((size_t)N * C), zeros((size_t)OC * C), with_bias ? zeros(OC) : NULL, N, C, OC};
    Layer ly = {mm_f, mm_b, &c, c.out, c.dout, (size_t)N * OC};
    real *g[3] = {c.dinp, c.dw, c.dbias};
    size_t s[3] = {(size_t)N * C, (size_t)OC * C, (size_t)OC};
    run_backward(&ly, g, s, with_bias ? 3 : 2, 1);
    gradcheck("matmul dinp", &ly, c.inp, c.dinp, s[0]);
    gradcheck("matmul dweight", &ly, c.w, c.dw, s[1]);
    if (with_bias) gradcheck("matmul dbias", &ly, c.bias, c.dbias, s[2]);
    // the forward value against a direct sum (gradcheck left out from a perturbed input: recompute)
    ly.forward(ly.ctx);
    double maxerr = 0;
    for (int n = 0; n < N; n++) for (int o = 0; o < OC; o++) {
        double acc = with_bias ? c.bias[o] : 0;
        for (int k = 0; k < C; k++) acc += c.inp[(size_t)n * C + k] * c.w[(size_t)o * C + k];
        maxerr = fmax(maxerr, fabs(acc - c.out[(size_t)n * OC + o]));
    }
    check(maxerr < 1e-9, "matmul forward differs from the direct sum by %g", maxerr);
}

// ----------------------------------------------------------------------------
// norms

typedef struct { real *out, *dout, *mean, *rstd, *inp, *w, *b, *dinp, *dw, *db; int N, C, rms; } NormCtx;
static void norm_f(void *p) {
    NormCtx *c = p;
    if (c->rms) rmsnorm_forward(c->out, c->rstd, c->inp, c->w, c->N, c->C);
    else layernorm_forward(c->out, c->mean, c->rstd, c->inp, c->w, c->b, c->N, c->C);
}
static void norm_b(void *p) {
    NormCtx *c = p;
    if (c->rms) rmsnorm_backward(c->dinp, c->dw, c->dout, c->inp, c->w, c->rstd, c->N, c->C);
    else layernorm_backward(c->dinp, c->dw, c->db, c->dout, c->inp, c->w, c->mean, c->rstd, c->N, c->C);
}

// QK-norm: each head's q and k to unit RMS times a gain per channel; v passes through
typedef struct { real *out, *dout, *rstd, *inp, *gq, *gk, *dinp, *dgq, *dgk; int N, C, NH; } QKNormCtx;
static void qkn_f(void *p) { QKNormCtx *c = p; qknorm_forward(c->out, c->rstd, c->inp, c->gq, c->gk, c->N, c->C, c->NH); }
static void qkn_b(void *p) {
    QKNormCtx *c = p;
    qknorm_backward(c->dinp, c->dgq, c->dgk, c->dout, c->inp, c->gq, c->gk, c->rstd, c->N, c->C, c->NH);
}
static void test_qknorm(void) {
    int N = 5, C = 12, NH = 3, hs = C / NH;
    QKNormCtx c = {zeros((size_t)N * 3 * C), randn((size_t)N * 3 * C, 1), zeros((size_t)N * 2 * NH), randn((size_t)N * 3 * C, 1),
                   randn(hs, 1), randn(hs, 1), zeros((size_t)N * 3 * C), zeros(hs), zeros(hs), N, C, NH};
    Layer ly = {qkn_f, qkn_b, &c, c.out, c.dout, (size_t)N * 3 * C};
    real *g[3] = {c.dinp, c.dgq, c.dgk};
    size_t s[3] = {(size_t)N * 3 * C, (size_t)hs, (size_t)hs};
    run_backward(&ly, g, s, 3, 1);
    gradcheck("qk-norm dinp", &ly, c.inp, c.dinp, s[0]);
    gradcheck("qk-norm dgain q", &ly, c.gq, c.dgq, hs);
    gradcheck("qk-norm dgain k", &ly, c.gk, c.dgk, hs);
}

static void test_norm(int rms) {
    int N = 6, C = 24;
    NormCtx c = {zeros((size_t)N * C), randn((size_t)N * C, 1), zeros(N), zeros(N), randn((size_t)N * C, 2),
                 randn(C, 1), randn(C, 1), zeros((size_t)N * C), zeros(C), zeros(C), N, C, rms};
    Layer ly = {norm_f, norm_b, &c, c.out, c.dout, (size_t)N * C};
    real *g[3] = {c.dinp, c.dw, c.db};
    size_t s[3] = {(size_t)N * C, (size_t)C, (size_t)C};
    run_backward(&ly, g, s, 3, 0); // a norm adds to its input's gradient: the residual stream's
    gradcheck(rms ? "rmsnorm dinp" : "layernorm dinp", &ly, c.inp, c.dinp, s[0]);
    gradcheck(rms ? "rmsnorm dweight" : "layernorm dweight", &ly, c.w, c.dw, s[1]);
    if (!rms) gradcheck("layernorm dbias", &ly, c.b, c.db, s[2]);
}

// ----------------------------------------------------------------------------
// attention, every normalizer of the table, with and without RoPE in front

typedef struct {
    real *out, *dout, *lse, *scratch, *qkv, *qkvr, *dqkv, *dqkvr, *cos_t, *sin_t;
    real *p[ATTN_MAX_PARAMS], *dp[ATTN_MAX_PARAMS]; // the normalizer's per-head parameters, their gradients
    AttnArgs a;
    int B, T, C, NH, rope;
} AttCtx;
static void att_f(void *p) {
    AttCtx *c = p;
    const real *x = c->qkv;
    if (c->rope) { rope_forward(c->qkvr, c->qkv, c->cos_t, c->sin_t, c->B, c->T, c->C, c->NH); x = c->qkvr; }
    attention_forward(c->out, c->lse, c->scratch, x, &c->a, c->B, c->T, c->C, c->NH);
}
static void att_b(void *p) {
    AttCtx *c = p;
    size_t n = (size_t)c->B * c->T * 3 * c->C;
    real *dp[ATTN_MAX_PARAMS]; // as the model asks: fixed parameters get no gradient
    for (int k = 0; k < ATTN_MAX_PARAMS; k++) dp[k] = c->a.norm->learnable ? c->dp[k] : NULL;
    if (c->rope) {
        for (size_t i = 0; i < n; i++) c->dqkvr[i] = 1e3; // junk: the attention's backward pass writes dqkvr
        attention_backward(c->dqkvr, dp, c->scratch, c->dout, c->qkvr, c->out, c->lse, &c->a, c->B, c->T, c->C, c->NH);
        rope_backward(c->dqkv, c->dqkvr, c->cos_t, c->sin_t, c->B, c->T, c->C, c->NH);
    } else {
        attention_backward(c->dqkv, dp, c->scratch, c->dout, c->qkv, c->out, c->lse, &c->a, c->B, c->T, c->C, c->NH);
    }
}

static double max_diff(const real *a, const real *b, size_t n) {
    double worst = 0;
    for (size_t i = 0; i < n; i++) worst = fmax(worst, fabs(a[i] - b[i]));
    return worst;
}

// doc: document masking, with documents starting at positions 3 and 5 of batch row 0 and at 2 of the others
static void test_attention_shape_doc(const char *name, int attn, int rope, int B, int T, int C, int NH, int doc) {
    const Normalizer *nz = &normalizers[attn];
    size_t nqkv = (size_t)B * T * 3 * C;
    AttCtx c = {0};
    c.B = B; c.T = T; c.C = C; c.NH = NH; c.rope = rope;
    c.out = zeros((size_t)B * T * C); c.dout = randn((size_t)B * T * C, 1); c.lse = zeros((size_t)B * NH * T);
    c.scratch = zeros(attention_scratch_size(B, T, C, NH));
    c.qkv = randn(nqkv, 1); c.qkvr = zeros(nqkv); c.dqkv = zeros(nqkv); c.dqkvr = zeros(nqkv);
    c.a.norm = nz;
    c.a.T_train = T / 2 > 1 ? T / 2 : 2; // logn: rows past T_train get c > 1
    int *starts = malloc_check((size_t)B * T * sizeof(int));
    for (int b = 0; b < B; b++)
        for (int t = 0, st = 0; t < T; t++) {
            if (b == 0 ? t == 3 || t == 5 : t == 2) st = t;
            starts[(size_t)b * T + t] = st;
        }
    if (doc) c.a.doc_start = starts;
    for (int k = 0; k < nz->nparams; k++) { // near the initial value, but every head different
        double v0 = isnan(nz->init[k]) ? 0.8 : nz->init[k];
        c.p[k] = randn(NH, k == 0 ? 0.5 : 0.3);
        for (int h = 0; h < NH; h++) c.p[k][h] += v0;
        c.dp[k] = zeros(NH);
        c.a.p[k] = c.p[k];
    }
    c.cos_t = zeros((size_t)T * C / NH / 2); c.sin_t = zeros((size_t)T * C / NH / 2);
    rope_table(c.cos_t, c.sin_t, T, C / NH, 10000.0f);
    Layer ly = {att_f, att_b, &c, c.out, c.dout, (size_t)B * T * C};
    real *g[1 + ATTN_MAX_PARAMS] = {c.dqkv, c.dp[0], c.dp[1]};
    size_t s[1 + ATTN_MAX_PARAMS] = {nqkv, (size_t)NH, (size_t)NH};
    run_backward(&ly, g, s, 1 + nz->nparams, 1);
    char label[128];
    snprintf(label, sizeof(label), "%s dqkv", name);
    gradcheck(label, &ly, c.qkv, c.dqkv, nqkv);
    for (int k = 0; k < nz->nparams; k++) {
        if (nz->learnable) {
            snprintf(label, sizeof(label), "%s d%s", name, nz->param_names[k]);
            gradcheck(label, &ly, c.p[k], c.dp[k], NH);
        } else {
            double m = 0; for (int h = 0; h < NH; h++) m = fmax(m, fabs(c.dp[k][h]));
            check(m == 0, "%s: fixed %s must get no gradient, got %g", name, nz->param_names[k], m);
        }
    }
    // the tiled kernels against the definition in attention.c, both passes
    ly.forward(ly.ctx);
    const real *x = rope ? c.qkvr : c.qkv;
    real *rout = zeros((size_t)B * T * C), *rlse = zeros((size_t)B * NH * T), *rdqkv = zeros(nqkv), *dq = zeros(nqkv);
    real *rdp[ATTN_MAX_PARAMS] = {zeros(NH), zeros(NH)}, *kdp[ATTN_MAX_PARAMS] = {zeros(NH), zeros(NH)};
    for (size_t i = 0; i < nqkv; i++) rdqkv[i] = dq[i] = 1e3; // junk: both passes write dqkv
    for (int k = 0; k < ATTN_MAX_PARAMS; k++) { memset(rdp[k], 0, NH * sizeof(real)); memset(kdp[k], 0, NH * sizeof(real)); }
    attention_forward_ref(rout, rlse, x, &c.a, B, T, C, NH);
    attention_backward_ref(rdqkv, rdp, c.dout, x, rlse, &c.a, B, T, C, NH);
    attention_backward(dq, kdp, c.scratch, c.dout, x, c.out, c.lse, &c.a, B, T, C, NH);
    double ef = fmax(max_diff(rout, c.out, (size_t)B * T * C), max_diff(rlse, c.lse, (size_t)B * NH * T));
    double eb = max_diff(rdqkv, dq, nqkv);
    for (int k = 0; k < ATTN_MAX_PARAMS; k++) eb = fmax(eb, max_diff(rdp[k], kdp[k], NH));
    check(ef < 1e-12 && eb < 1e-11, "%s: tiled kernels differ from the reference pair by %g (forward) and %g (backward)", name, ef, eb);
    free(rout); free(rlse); free(rdqkv); free(dq);
    if (doc) { // a masked key has no influence: moving it changes no output
        double before = c.out[3 * C]; // batch row 0, position 3: its document starts at 3
        c.qkv[(size_t)1 * 3 * C + C] += 1.0; // key 1 of batch row 0 (an earlier document)
        ly.forward(ly.ctx);
        check(c.out[3 * C] == before, "%s: a key of another document changed the output (%.17g -> %.17g)", name, before, c.out[3 * C]);
    }
    for (int k = 0; k < ATTN_MAX_PARAMS; k++) { free(rdp[k]); free(kdp[k]); free(c.p[k]); free(c.dp[k]); }
    free(starts);
}

static void test_attention_shape(const char *name, int attn, int rope, int B, int T, int C, int NH) {
    test_attention_shape_doc(name, attn, rope, B, T, C, NH, 0);
}

static void test_attention(const char *name, int attn, int rope) { test_attention_shape(name, attn, rope, 2, 7, 12, 3); }

// SSMax definition: p_j = n^(s z_j) / sum_i n^(s z_i) with n = t+1, computed literally with pow()
static void test_ssmax_definition(void) {
    int B = 1, T = 9, C = 8, NH = 2, hs = C / NH;
    real *qkv = randn((size_t)B * T * 3 * C, 1), *out = zeros((size_t)T * C), *lse = zeros((size_t)NH * T);
    real *scratch = zeros(attention_scratch_size(B, T, C, NH)), s[2] = {0.7, 1.3};
    AttnArgs a = {&normalizers[ATTN_SSMAX], {s}, T, NULL};
    attention_forward(out, lse, scratch, qkv, &a, B, T, C, NH);
    double worst = 0;
    for (int h = 0; h < NH; h++) for (int t = 0; t < T; t++) {
        double n = t + 1, w[16], sum = 0;
        for (int j = 0; j <= t; j++) {
            double z = 0;
            for (int i = 0; i < hs; i++) z += qkv[t * 3 * C + h * hs + i] * qkv[j * 3 * C + C + h * hs + i];
            z /= sqrt(hs);
            w[j] = pow(n, s[h] * z);
            sum += w[j];
        }
        for (int i = 0; i < hs; i++) {
            double o = 0;
            for (int j = 0; j <= t; j++) o += w[j] / sum * qkv[j * 3 * C + 2 * C + h * hs + i];
            worst = fmax(worst, fabs(o - out[t * C + h * hs + i]));
        }
    }
    check(worst < 1e-12, "SSMax is not n^(s z) / sum n^(s z): max error %g", worst);
    // position 0 sees one key: its output is exactly v_0 whatever s is
    double e0 = 0;
    for (int i = 0; i < C; i++) e0 = fmax(e0, fabs(out[i] - qkv[2 * C + i]));
    check(e0 < 1e-15, "SSMax at n=1 must copy v_0, error %g", e0);
}

// ----------------------------------------------------------------------------
// elementwise layers, encoder, cross-entropy

typedef struct { real *out, *dout, *inp, *dinp; size_t N; int F, kind; } ActCtx;
static void act_f(void *p) { ActCtx *c = p; if (c->kind) swiglu_forward(c->out, c->inp, c->N, c->F); else gelu_forward(c->out, c->inp, c->N); }
static void act_b(void *p) { ActCtx *c = p; if (c->kind) swiglu_backward(c->dinp, c->dout, c->inp, c->N, c->F); else gelu_backward(c->dinp, c->inp, c->dout, c->N); }

static void test_activation(int swiglu) {
    size_t N = 5; int F = 16;
    size_t nin = swiglu ? N * 2 * F : N * F, nout = N * F;
    ActCtx c = {zeros(nout), randn(nout, 1), randn(nin, 2), zeros(nin), swiglu ? N : nout, F, swiglu};
    Layer ly = {act_f, act_b, &c, c.out, c.dout, nout};
    real *g[1] = {c.dinp};
    run_backward(&ly, g, &nin, 1, 1);
    gradcheck(swiglu ? "swiglu dinp" : "gelu dinp", &ly, c.inp, c.dinp, nin);
}

typedef struct { real *out, *dout, *wte, *wpe, *dwte, *dwpe; int *inp; int B, T, C; } EncCtx;
static void enc_f(void *p) { EncCtx *c = p; encoder_forward(c->out, c->inp, c->wte, c->wpe, c->B, c->T, c->C); }
static void enc_b(void *p) { EncCtx *c = p; encoder_backward(c->dwte, c->dwpe, c->dout, c->inp, c->B, c->T, c->C); }

static void test_encoder(void) {
    int B = 2, T = 5, C = 8, V = 7;
    int inp[10] = {1, 3, 3, 0, 6, 2, 1, 1, 5, 3}; // repeated tokens exercise the accumulation
    EncCtx c = {zeros((size_t)B * T * C), randn((size_t)B * T * C, 1), randn((size_t)V * C, 1), randn((size_t)T * C, 1),
                zeros((size_t)V * C), zeros((size_t)T * C), inp, B, T, C};
    Layer ly = {enc_f, enc_b, &c, c.out, c.dout, (size_t)B * T * C};
    real *g[2] = {c.dwte, c.dwpe};
    size_t s[2] = {(size_t)V * C, (size_t)T * C};
    run_backward(&ly, g, s, 2, 0);
    gradcheck("encoder dwte", &ly, c.wte, c.dwte, s[0]);
    gradcheck("encoder dwpe", &ly, c.wpe, c.dwpe, s[1]);
}

// cross-entropy: the loss is the mean over positions with a target; its forward pass is in place
typedef struct { real *logits, *work, *losses, *dloss_out; int *targets; size_t N; int V, Vp; size_t count; } CECtx;
static void ce_f(void *p) {
    CECtx *c = p;
    memcpy(c->work, c->logits, c->N * c->Vp * sizeof(real));
    crossentropy_forward(c->losses, c->work, c->targets, c->N, c->V, c->Vp);
    double L = 0;
    for (size_t i = 0; i < c->N; i++) L += c->losses[i];
    c->dloss_out[0] = L / c->count;
}

static void test_crossentropy(void) {
    size_t N = 4; int V = 11, Vp = 16;
    int targets[4] = {3, -1, 10, 0}; // one ignored position
    CECtx c = {randn(N * Vp, 2), zeros(N * Vp), zeros(N), zeros(1), targets, N, V, Vp, 3};
    real one = 1;
    Layer ly = {ce_f, NULL, &c, c.dloss_out, &one, 1};
    ce_f(&c);
    crossentropy_backward(c.work, targets, (real)1 / c.count, N, V, Vp);
    real *dlogits = zeros(N * Vp);
    memcpy(dlogits, c.work, N * Vp * sizeof(real));
    gradcheck("crossentropy dlogits", &ly, c.logits, dlogits, N * V); // checks the first rows' real columns
    double pad = 0;
    for (size_t n = 0; n < N; n++) for (int i = V; i < Vp; i++) pad = fmax(pad, fabs(dlogits[n * Vp + i]));
    check(pad == 0, "padded vocabulary columns must get zero gradient, got %g", pad);
    // both passes at once (the trainer's fused head): the same losses and dlogits, padding and ignored rows zero
    real *fused = zeros(N * Vp), *floss = zeros(N);
    memcpy(fused, c.logits, N * Vp * sizeof(real));
    for (size_t n = 0; n < N; n++) fused[n * Vp + V] = 7; // junk in a padded column must not survive
    crossentropy_forward_backward(floss, fused, targets, (real)1 / c.count, N, V, Vp);
    double dl = 0, dg = 0;
    for (size_t n = 0; n < N; n++) dl = fmax(dl, fabs(floss[n] - c.losses[n]));
    for (size_t i = 0; i < N * Vp; i++) dg = fmax(dg, fabs(fused[i] - dlogits[i]));
    check(dl < 1e-12 && dg < 1e-12, "fused cross-entropy differs from the two passes: losses %g, dlogits %g", dl, dg);
    free(fused); free(floss);
    // a confidently wrong prediction: the loss stays finite (no log(0))
    real big[16] = {0}; big[0] = 2000; int tgt = 1; real loss;
    crossentropy_forward(&loss, big, &tgt, 1, 2, 16);
    check(isfinite(loss) && fabs(loss - 2000) < 1e-9, "cross-entropy of logit gap 2000 should be 2000, got %g", (double)loss);
}

int main(void) {
    printf("gradient checks (double precision, central differences)\n");
    test_matmul(5, 12, 7, 1);
    test_matmul(9, 16, 5, 0);
    test_norm(0);
    test_norm(1);
    test_qknorm();
    test_activation(0);
    test_activation(1);
    test_encoder();
    test_crossentropy();
    char label[64];
    for (int rope = 0; rope < 2; rope++)
        for (int v = 0; v < ATTN_COUNT; v++) { // every entry of the normalizer table
            snprintf(label, sizeof(label), "attention %s%s", normalizers[v].name, rope ? " + rope" : "");
            test_attention(label, v, rope);
        }
    // shapes that fill whole tiles: several query tiles, partial key tiles, head sizes of 4, 2 and 1
    // vectors plus a remainder
    test_attention_shape("attention ssmax-bias T=37 hs=32", ATTN_SSMAX_BIAS, 0, 1, 37, 64, 2);
    test_attention_shape("attention ssmax T=70 hs=20", ATTN_SSMAX, 1, 1, 70, 40, 2);
    test_attention_shape("attention softmax T=19 hs=8", ATTN_SOFTMAX, 0, 2, 19, 16, 2);
    // document masking, every row kind
    int doc_attn[] = {ATTN_SSMAX, ATTN_SSMAX_BIAS, ATTN_LOGN, ATTN_SINK, ATTN_SIGMOID, ATTN_SOFTPICK};
    for (int i = 0; i < (int)(sizeof(doc_attn) / sizeof(doc_attn[0])); i++)
        for (int rope = 0; rope < 2; rope++) {
            snprintf(label, sizeof(label), "attention %s%s, document mask", normalizers[doc_attn[i]].name, rope ? " + rope" : "");
            test_attention_shape_doc(label, doc_attn[i], rope, 2, 7, 12, 3, 1);
        }
    test_ssmax_definition();
    return test_summary();
}
