/*
 * layers.c: forward and backward passes of every layer in the GPT, in plain C with OpenMP.
 * These loops are also the reference that faster kernels are tested against. Reductions
 * run in a fixed order (no `omp reduction`), so a run is bit-for-bit repeatable.
 * Attention, where the normalizers differ, has its own files: attention.c and attention_kernels.c.
 */
#include <tgmath.h>
#include <string.h>
#include "layers.h"

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
        #pragma omp simd reduction(+:m)
        for (int c = 0; c < C; c++) m += x[c];
        m /= C;
        real v = 0;
        #pragma omp simd reduction(+:v)
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
        #pragma omp simd reduction(+:dnorm_mean, dnorm_norm_mean)
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
        #pragma omp simd reduction(+:ss)
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
        #pragma omp simd reduction(+:dot)
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
    // dinp = dout @ weight: each row of dinp is owned by one thread
    #pragma omp parallel for schedule(static)
    for (size_t n = 0; n < N; n++) {
        real *dx = dinp + n * C;
        const real *d = dout + n * OC;
        for (int c = 0; c < C; c++) dx[c] = 0;
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
// QK-norm: each head's q and k scaled to unit RMS, times a learnable gain per channel of the head

void qknorm_forward(real *out, real *rstd, const real *inp, const real *gq, const real *gk, size_t N, int C, int NH) {
    int hs = C / NH;
    #pragma omp parallel for
    for (size_t n = 0; n < N; n++) {
        for (int part = 0; part < 2; part++) {
            const real *g = part ? gk : gq;
            for (int h = 0; h < NH; h++) {
                const real *x = inp + n * 3 * C + part * C + h * hs;
                real *o = out + n * 3 * C + part * C + h * hs;
                real ss = 0;
                #pragma omp simd reduction(+:ss)
                for (int i = 0; i < hs; i++) ss += x[i] * x[i];
                real r = 1 / sqrt(ss / hs + (real)1e-5);
                for (int i = 0; i < hs; i++) o[i] = x[i] * r * g[i];
                rstd[n * 2 * NH + part * NH + h] = r;
            }
        }
        memcpy(out + n * 3 * C + 2 * C, inp + n * 3 * C + 2 * C, C * sizeof(real));
    }
}

void qknorm_backward(real *dinp, real *dgq, real *dgk, const real *dout, const real *inp, const real *gq, const real *gk,
                     const real *rstd, size_t N, int C, int NH) {
    int hs = C / NH;
    #pragma omp parallel for
    for (size_t n = 0; n < N; n++) {
        for (int part = 0; part < 2; part++) {
            const real *g = part ? gk : gq;
            for (int h = 0; h < NH; h++) {
                const real *x = inp + n * 3 * C + part * C + h * hs, *d = dout + n * 3 * C + part * C + h * hs;
                real *dx = dinp + n * 3 * C + part * C + h * hs;
                real r = rstd[n * 2 * NH + part * NH + h], dot = 0; // sum_i g d xhat
                #pragma omp simd reduction(+:dot)
                for (int i = 0; i < hs; i++) dot += g[i] * d[i] * x[i] * r;
                dot /= hs;
                for (int i = 0; i < hs; i++) dx[i] = (g[i] * d[i] - x[i] * r * dot) * r;
            }
        }
        for (int c = 0; c < C; c++) dinp[n * 3 * C + 2 * C + c] = dout[n * 3 * C + 2 * C + c];
    }
    // the gains sum over rows and heads: each channel owned by one thread, in a fixed order
    #pragma omp parallel for
    for (int k = 0; k < 2 * hs; k++) {
        int part = k / hs, i = k % hs;
        real acc = 0;
        for (size_t n = 0; n < N; n++)
            for (int h = 0; h < NH; h++) {
                size_t at = n * 3 * C + part * C + h * hs + i;
                acc += dout[at] * inp[at] * rstd[n * 2 * NH + part * NH + h];
            }
        (part ? dgk : dgq)[i] += acc;
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

// out = inp with q and k rotated by sign * the angle (sign is +1 or -1); v is copied
static void rope_rotate(real *out, const real *inp, const real *cos_t, const real *sin_t, real sign,
                        int B, int T, int C, int NH) {
    // out, inp are (B,T,3C) = [q | k | v]
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
                        real x0 = xh[2 * i], x1 = xh[2 * i + 1], s = sign * st[i];
                        oh[2 * i] = x0 * ct[i] - x1 * s;
                        oh[2 * i + 1] = x0 * s + x1 * ct[i];
                    }
                }
            }
            memcpy(o + 2 * C, x + 2 * C, C * sizeof(real));
        }
    }
}

void rope_forward(real *out, const real *inp, const real *cos_t, const real *sin_t, int B, int T, int C, int NH) {
    rope_rotate(out, inp, cos_t, sin_t, 1, B, T, C, NH);
}

void rope_backward(real *dinp, const real *dout, const real *cos_t, const real *sin_t, int B, int T, int C, int NH) {
    // the transpose of a rotation is the rotation by minus the angle
    rope_rotate(dinp, dout, cos_t, sin_t, -1, B, T, C, NH);
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
        dinp[i] = ((real)0.5f * (1 + th) + (real)0.5f * x * sech2 * du) * dout[i];
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
            dg[i] = d[i] * u[i] * sig * (1 + g[i] * (1 - sig));
            du[i] = d[i] * silu;
        }
    }
}

// ----------------------------------------------------------------------------
// residual connection. It has no backward function: out's gradient is both a's and b's, and the model
// keeps the residual stream's gradient in one buffer that each block updates in place (gpt.c)

void residual_forward(real *out, const real *a, const real *b, size_t N) {
    #pragma omp parallel for simd
    for (size_t i = 0; i < N; i++) out[i] = a[i] + b[i];
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
