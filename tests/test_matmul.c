/*
 * test_matmul.c: the fast float kernels against plain references. The packed SGEMM and the linear
 * layer against the reference loops, for every transpose combination, beta 0 and 1, and shapes that
 * exercise every edge (sizes that are not multiples of the micro-tile, of the cache blocks, and K
 * larger than one block). The tiled attention (forward and backward, SSMax with bias) against the
 * model's plain definition (attention_forward_ref / attention_backward_ref) at training-size shapes.
 */
#include <math.h>
#include "../util/common.h"
#include "../model/layers.h"
#include "../model/attention.h"
#include "../model/kernels/matmul.h"
#include <stdlib.h>
#include "test.h"

static uint64_t rng = 7;
static float *randn(size_t n) {
    float *x = malloc_check(n * sizeof(float));
    for (size_t i = 0; i < n; i++) x[i] = random_normal(&rng);
    return x;
}

// C = beta*C + op(A) op(B) in double, the obvious way; mag = beta*|C| + sum of |products|, the scale of
// float rounding in each element
static void gemm_naive(int ta, int tb, size_t M, size_t N, size_t K, const float *A, size_t lda, const float *B, size_t ldb,
                       float beta, double *C, double *mag, size_t ldc) {
    for (size_t i = 0; i < M; i++)
        for (size_t j = 0; j < N; j++) {
            double acc = 0, abs_acc = 0;
            for (size_t k = 0; k < K; k++) {
                double p = (double)(ta ? A[k * lda + i] : A[i * lda + k]) * (tb ? B[j * ldb + k] : B[k * ldb + j]);
                acc += p; abs_acc += fabs(p);
            }
            mag[i * ldc + j] = fabs(beta * C[i * ldc + j]) + abs_acc;
            C[i * ldc + j] = beta * C[i * ldc + j] + acc;
        }
}

static void test_sgemm(int ta, int tb, size_t M, size_t N, size_t K, float beta) {
    size_t lda = ta ? M + 3 : K + 5, ldb = tb ? K + 1 : N + 2, ldc = N + 7; // padded strides
    float *A = randn((ta ? K : M) * lda), *B = randn((tb ? N : K) * ldb), *C = randn(M * ldc);
    double *ref = malloc_check(M * ldc * sizeof(double)), *mag = malloc_check(M * ldc * sizeof(double));
    for (size_t i = 0; i < M * ldc; i++) ref[i] = C[i];
    if (beta == 0) for (size_t i = 0; i < M; i++) for (size_t j = 0; j < N; j++) C[i * ldc + j] = NAN; // must not be read
    sgemm(ta, tb, M, N, K, A, lda, B, ldb, beta, C, ldc);
    gemm_naive(ta, tb, M, N, K, A, lda, B, ldb, beta, ref, mag, ldc);
    // float sums of K terms: errors grow like sqrt(K) rounding steps of the magnitude (4 sigma allowed); a
    // lost or doubled term would be of the order of mag / sqrt(K), far above this
    double worst = 0;
    int outside = 1;
    for (size_t i = 0; i < M; i++) {
        for (size_t j = 0; j < N; j++) {
            double tol = 4 * sqrt((double)K + 1) * 0x1p-24 * mag[i * ldc + j] + 1e-30;
            worst = fmax(worst, fabs(C[i * ldc + j] - ref[i * ldc + j]) / tol);
        }
        for (size_t j = N; j < ldc; j++) outside &= C[i * ldc + j] == (float)ref[i * ldc + j]; // padding untouched
    }
    check(worst <= 1 && !isnan(worst), "sgemm ta=%d tb=%d M=%zu N=%zu K=%zu beta=%g: error %.3g of the rounding tolerance",
          ta, tb, M, N, K, beta, worst);
    check(outside, "sgemm ta=%d tb=%d M=%zu N=%zu K=%zu wrote outside its columns", ta, tb, M, N, K);
    free(A); free(B); free(C); free(ref); free(mag);
}

static double rel_err(const float *a, const float *b, size_t n) {
    double worst = 0, scale = 0;
    for (size_t i = 0; i < n; i++) { worst = fmax(worst, fabs(a[i] - b[i])); scale = fmax(scale, fabs(b[i])); }
    return worst / (scale + 1e-30);
}

// dw_beta 1: dw is added to; 0: dw is overwritten (it holds NaN, which must not be read)
static void test_linear(size_t N, int C, int OC, float dw_beta) {
    float *inp = randn(N * C), *w = randn((size_t)OC * C), *bias = randn(OC), *dout = randn(N * OC);
    float *out = malloc_check(N * OC * 4), *out_ref = malloc_check(N * OC * 4);
    float *dinp = randn(N * C), *dw = randn((size_t)OC * C), *db = randn(OC); // dinp is written, db added to
    float *dinp_ref = malloc_check(N * C * 4), *dw_ref = malloc_check((size_t)OC * C * 4), *db_ref = malloc_check(OC * 4);
    memcpy(dinp_ref, dinp, N * C * 4); memcpy(dw_ref, dw, (size_t)OC * C * 4); memcpy(db_ref, db, OC * 4);
    if (dw_beta == 0) for (size_t i = 0; i < (size_t)OC * C; i++) { dw[i] = NAN; dw_ref[i] = 0; }
    matmul_forward(out, inp, w, bias, N, C, OC);
    matmul_forward_ref(out_ref, inp, w, bias, N, C, OC);
    matmul_backward(dinp, dw, db, dout, inp, w, N, C, OC, dw_beta);
    matmul_backward_ref(dinp_ref, dw_ref, db_ref, dout, inp, w, N, C, OC);
    double e1 = rel_err(out, out_ref, N * OC), e2 = rel_err(dinp, dinp_ref, N * C), e3 = rel_err(dw, dw_ref, (size_t)OC * C),
           e4 = rel_err(db, db_ref, OC);
    for (size_t i = 0; i < (size_t)OC * C; i++) if (!isfinite(dw[i])) e3 = INFINITY; // rel_err's fmax skips NaN
    check(e1 < 1e-5 && e2 < 1e-5 && e3 < 1e-5 && e4 < 1e-5,
          "linear N=%zu C=%d OC=%d dw_beta=%g: out %.2g dinp %.2g dweight %.2g dbias %.2g", N, C, OC, dw_beta, e1, e2, e3, e4);
    free(inp); free(w); free(bias); free(dout); free(out); free(out_ref); free(dinp); free(dw); free(db);
    free(dinp_ref); free(dw_ref); free(db_ref);
}

static double rel_err_f(const float *a, const float *b, size_t n) {
    double worst = 0, scale = 0;
    for (size_t i = 0; i < n; i++) { worst = fmax(worst, fabs((double)a[i] - b[i])); scale = fmax(scale, fabs((double)b[i])); }
    return worst / (scale + 1e-30);
}

// the tiled kernels against the definition (attention_forward_ref / attention_backward_ref), with every
// parameter of SSMax + bias in play: out, lse and the gradients dqkv, ds, db
static void test_attention(int B, int T, int C, int NH, int doc) {
    size_t nq = (size_t)B * T * 3 * C, no = (size_t)B * T * C, nl = (size_t)B * NH * T;
    float *qkv = randn(nq), *dout = randn(no), *s = randn(NH), *b = randn(NH);
    for (int h = 0; h < NH; h++) { s[h] = 0.3f + 0.1f * fabsf(s[h]); b[h] *= 0.2f; }
    for (size_t i = 0; i < nq; i++) qkv[i] *= 0.5f;
    int *starts = malloc_check((size_t)B * T * sizeof(int)); // documents starting at T/3 and 2T/3 of every row
    for (int bb = 0; bb < B; bb++) for (int t = 0; t < T; t++) starts[(size_t)bb * T + t] = t < T / 3 ? 0 : t < 2 * T / 3 ? T / 3 : 2 * T / 3;
    AttnArgs a = {&normalizers[ATTN_SSMAX_BIAS], {s, b}, T, doc ? starts : NULL};
    float *out = malloc_check(no * 4), *lse = malloc_check(nl * 4), *dqkv = calloc(nq, 4), ds[64] = {0}, db[64] = {0};
    float *scratch = malloc_check(attention_scratch_size(B, T, C, NH) * 4);
    float *rout = calloc(no, 4), *rlse = calloc(nl, 4), *rdqkv = calloc(nq, 4), rds[64] = {0}, rdb[64] = {0};
    float *dp[ATTN_MAX_PARAMS] = {ds, db}, *rdp[ATTN_MAX_PARAMS] = {rds, rdb};
    for (size_t i = 0; i < nq; i++) dqkv[i] = rdqkv[i] = 1e3f; // junk: both backward passes write dqkv
    attention_forward(out, lse, scratch, qkv, &a, B, T, C, NH);
    attention_backward(dqkv, dp, scratch, dout, qkv, out, lse, &a, B, T, C, NH);
    attention_forward_ref(rout, rlse, qkv, &a, B, T, C, NH);
    attention_backward_ref(rdqkv, rdp, dout, qkv, rlse, &a, B, T, C, NH);
    double e1 = rel_err_f(out, rout, no), e2 = rel_err_f(lse, rlse, nl), e3 = rel_err_f(dqkv, rdqkv, nq);
    double e4 = rel_err_f(ds, rds, NH), e5 = rel_err_f(db, rdb, NH);
    check(e1 < 1e-5 && e2 < 1e-5 && e3 < 1e-4 && e4 < 1e-4 && e5 < 1e-4,
          "attention B=%d T=%d C=%d NH=%d%s: out %.2g lse %.2g dqkv %.2g ds %.2g db %.2g", B, T, C, NH,
          doc ? " (document mask)" : "", e1, e2, e3, e4, e5);
    free(starts);
    free(qkv); free(dout); free(s); free(b); free(out); free(lse); free(dqkv); free(scratch);
    free(rout); free(rlse); free(rdqkv);
}

int main(void) {
    printf("SGEMM (%s kernel) against the reference loops\n", gemm_kernel_name());
    // A is read in place except a transposed A against C wider than 512 columns or larger than 2^21
    // floats, which is packed: both ways with partial micro-tiles and with K past one KC block (384)
    size_t shapes[][3] = {{1, 1, 1}, {3, 5, 7}, {8, 32, 16}, {9, 33, 17}, {64, 96, 128}, {130, 70, 300},
                          {257, 31, 513}, {17, 4100, 40}, {200, 129, 1}, {70, 600, 400},
                          {300, 520, 70}, {260, 300, 390},  // these two: wide C over several row blocks of A
                          {70, 4300, 400}}; // a wide C whose last NC block (4096) has fewer panels
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++)
            for (size_t s = 0; s < sizeof(shapes) / sizeof(shapes[0]); s++)
                for (int beta = 0; beta < 2; beta++) test_sgemm(ta, tb, shapes[s][0], shapes[s][1], shapes[s][2], (float)beta);
    test_sgemm(1, 0, 4100, 40, 520, 1.0f); // a transposed A of 4100 x 520 floats: packed although C is narrow
    test_sgemm(1, 1, 4100, 40, 520, 0.0f);
    for (int beta = 0; beta <= 1; beta++) {
        test_linear(64, 128, 384, beta);
        test_linear(37, 72, 50, beta);
        test_linear(256, 768, 2304, beta);
        test_linear(5, 300, 4100, beta);
    }
    for (int doc = 0; doc < 2; doc++) {
        test_attention(2, 130, 256, 4, doc);  // hs 64: four-vector chunks, a partial last query tile
        test_attention(1, 257, 128, 4, doc);  // hs 32, as the small preset
        test_attention(2, 45, 120, 3, doc);   // hs 40: two vectors and a remainder
        test_attention(1, 9, 12, 3, doc);     // hs 4: remainders only
    }
    return test_summary();
}
