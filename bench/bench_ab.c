/*
 * bench_ab.c: the matmuls and the attention kernels of two builds in one process, calls alternating,
 * so that a change of a few percent can be told from a shared machine's drift (whole-run A/B on such
 * a machine moves by 10-30% from one run to the next). `make bench-ab BASE=<commit>` compiles
 * model/matmul.c and model/attention_kernels.c twice, as they are at BASE ("a") and in the working
 * tree ("b"), with their entry points renamed (-Dsgemm=sgemm_a, ...), and links both here.
 *
 *   bench_ab [--part gemm|attention|steps|all] [--reps N] [--only SUBSTRING]
 *
 * For each GEMM shape of bench_gpt's table (three products each) and each attention shape (forward
 * and backward), a and b run alternately (which goes first alternates too) after one warm-up call of
 * each; the figure is the median over the pairs of time(a) / time(b): b's speed-up, > 1 when the
 * working tree is faster. The attention rows also print the largest difference between a's and b's
 * results (0 when a change keeps every sum's order).
 * The steps part times whole training steps of bench_gpt's configs: the model calls the entry points
 * defined here, which pass each call on to a's kernels or b's, and two models alternate steps, one on
 * a's and one on b's. A kernel's speed in a step can differ from its speed alone, where it finds its
 * operands in the caches that its own last call left: the order of the GEMM's kernel calls along C's
 * rows made the GEMM table 1.02x as fast and whole steps 1.03-1.06x (AVX-512 tier, Intel Xeon family
 * 6 model 167).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <getopt.h>
#include <omp.h>
#include "../util/common.h"
#include "../model/attention.h"
#include "../model/kernels/matmul.h"
#include "bench_common.h"

typedef void (*SgemmFn)(int, int, size_t, size_t, size_t, const float *, size_t, const float *, size_t, float, float *, size_t);
typedef void (*AttnFwdFn)(real *, real *, real *, const real *, const AttnArgs *, int, int, int, int);
typedef void (*AttnBwdFn)(real *, real *const[ATTN_MAX_PARAMS], real *, const real *, const real *, const real *,
                          const real *, const AttnArgs *, int, int, int, int);
typedef size_t (*AttnScratchFn)(int, int, int, int);

#define DECLARE(X) \
    void sgemm_##X(int, int, size_t, size_t, size_t, const float *, size_t, const float *, size_t, float, float *, size_t); \
    const char *gemm_kernel_name_##X(void); \
    void matmul_forward_##X(float *, const float *, const float *, const float *, size_t, int, int); \
    void matmul_backward_##X(float *, float *, float *, const float *, const float *, const float *, size_t, int, int, float); \
    size_t attention_scratch_size_##X(int, int, int, int); \
    void attention_forward_##X(real *, real *, real *, const real *, const AttnArgs *, int, int, int, int); \
    void attention_backward_##X(real *, real *const[ATTN_MAX_PARAMS], real *, const real *, const real *, const real *, \
                                const real *, const AttnArgs *, int, int, int, int); \
    void attention_row_mass_##X(real *, const real *, const real *, const AttnArgs *, int, int, int, int, int, int, int, int);
DECLARE(a)
DECLARE(b)
static const SgemmFn sgemm_ab[2] = {sgemm_a, sgemm_b};
static const AttnScratchFn scratch_ab[2] = {attention_scratch_size_a, attention_scratch_size_b};
static const AttnFwdFn forward_ab[2] = {attention_forward_a, attention_forward_b};
static const AttnBwdFn backward_ab[2] = {attention_backward_a, attention_backward_b};

// the entry points the model calls (gpt.c, eval): each passes the call on to a's kernels or b's, as
// `side` says
static int side = 1;
void sgemm(int transA, int transB, size_t M, size_t N, size_t K, const float *A, size_t lda, const float *B, size_t ldb,
           float beta, float *C, size_t ldc) {
    sgemm_ab[side](transA, transB, M, N, K, A, lda, B, ldb, beta, C, ldc);
}
const char *gemm_kernel_name(void) { return side ? gemm_kernel_name_b() : gemm_kernel_name_a(); }
void matmul_forward(float *out, const float *inp, const float *weight, const float *bias, size_t N, int C, int OC) {
    (side ? matmul_forward_b : matmul_forward_a)(out, inp, weight, bias, N, C, OC);
}
void matmul_backward(float *dinp, float *dweight, float *dbias, const float *dout, const float *inp, const float *weight,
                     size_t N, int C, int OC, float dw_beta) {
    (side ? matmul_backward_b : matmul_backward_a)(dinp, dweight, dbias, dout, inp, weight, N, C, OC, dw_beta);
}
size_t attention_scratch_size(int B, int T, int C, int NH) { // the model's one scratch serves both
    size_t a = attention_scratch_size_a(B, T, C, NH), b = attention_scratch_size_b(B, T, C, NH);
    return a > b ? a : b;
}
void attention_forward(real *out, real *lse, real *scratch, const real *qkv, const AttnArgs *a, int B, int T, int C, int NH) {
    forward_ab[side](out, lse, scratch, qkv, a, B, T, C, NH);
}
void attention_backward(real *dqkv, real *const dp[ATTN_MAX_PARAMS], real *scratch, const real *dout, const real *qkv,
                        const real *out, const real *lse, const AttnArgs *a, int B, int T, int C, int NH) {
    backward_ab[side](dqkv, dp, scratch, dout, qkv, out, lse, a, B, T, C, NH);
}
void attention_row_mass(real *mass, const real *qkv, const real *lse, const AttnArgs *a, int B, int T, int C, int NH,
                        int bb, int t, int k0, int k1) {
    (side ? attention_row_mass_b : attention_row_mass_a)(mass, qkv, lse, a, B, T, C, NH, bb, t, k0, k1);
}

static float *random_floats(size_t n, uint64_t *rng) {
    float *x = malloc_check(n * sizeof(float));
    for (size_t i = 0; i < n; i++) x[i] = random_f32(rng) - 0.5f;
    return x;
}


static void gemm_call(int who, int op, const GemmShape *g, const float *x, const float *w, const float *y, float *out) {
    size_t N = g->rows, C = g->C, OC = g->OC;
    if (op == 0) sgemm_ab[who](0, 1, N, OC, C, x, C, w, C, 0.0f, out, OC);      // forward x W^T
    else if (op == 1) sgemm_ab[who](0, 0, N, C, OC, y, OC, w, C, 0.0f, out, C); // dinp = dout W
    else sgemm_ab[who](1, 0, OC, C, N, y, OC, x, C, 1.0f, out, C);             // dW += dout^T x
}

static void gemm_part(int reps, const char *only, double *logsum, int *count) {
    static const char *ops[3] = {"forward x W^T", "dinp = dout W", "dW += dout^T x"};
    printf("| shape | rows x C -> OC | product | a GFLOP/s | b GFLOP/s | b speed-up (paired) |\n|---|---|---|---|---|---|\n");
    for (int i = 0; i < NUM_GEMM_SHAPES; i++) {
        const GemmShape *g = &gemm_shapes[i];
        if (only && !strstr(g->name, only)) continue;
        size_t N = g->rows, C = g->C, OC = g->OC;
        uint64_t rng = 7;
        float *x = random_floats(N * C, &rng), *w = random_floats(OC * C, &rng), *y = random_floats(N * OC, &rng);
        float *out = random_floats(N * OC + OC * C + N * C, &rng); // room for any of the three products
        for (int op = 0; op < 3; op++) {
            double t[2][reps], ratio[reps];
            for (int who = 0; who < 2; who++) gemm_call(who, op, g, x, w, y, out); // warm-up
            for (int k = 0; k < reps; k++) {
                for (int s = 0; s < 2; s++) {
                    int who = (k + s) % 2;
                    double t0 = now_seconds();
                    gemm_call(who, op, g, x, w, y, out);
                    t[who][k] = now_seconds() - t0;
                }
                ratio[k] = t[0][k] / t[1][k];
            }
            double flops = 2.0 * N * C * OC, r = median(ratio, reps);
            printf("| %s | %d x %d -> %d | %s | %.0f | %.0f | %.3fx |\n", g->name, g->rows, g->C, g->OC, ops[op],
                   flops / median(t[0], reps) / 1e9, flops / median(t[1], reps) / 1e9, r);
            fflush(stdout);
            *logsum += log(r);
            (*count)++;
        }
        free(x); free(w); free(y); free(out);
    }
}

// attention at the model presets' shapes: the geometry preset (head size 64, T = 1024) and small (32, 128)
typedef struct { const char *name; int B, T, C, NH; } AttnShape;
static const AttnShape attn_shapes[] = {
    {"geometry B=4 T=1024 hs=64", 4, 1024, 256, 4},
    {"small B=16 T=128 hs=32", 16, 128, 128, 4},
    {"odd B=3 T=77 hs=32", 3, 77, 96, 3},
};

static void attention_part(int reps, const char *only, double *logsum, int *count) {
    printf("\n| attention (ssmax) | pass | a GFLOP/s | b GFLOP/s | b speed-up (paired) | max abs difference |\n|---|---|---|---|---|---|\n");
    for (size_t i = 0; i < sizeof(attn_shapes) / sizeof(attn_shapes[0]); i++) {
        const AttnShape *s = &attn_shapes[i];
        if (only && !strstr(s->name, only)) continue;
        int B = s->B, T = s->T, C = s->C, NH = s->NH;
        size_t n = (size_t)B * T * C;
        uint64_t rng = 11;
        float *qkv = random_floats(3 * n, &rng), *dout = random_floats(n, &rng), *out[2], *lse[2], *dqkv[2], *scratch[2];
        float sh[64], ds[2][64];
        for (int h = 0; h < NH; h++) sh[h] = 0.4f;
        for (int w = 0; w < 2; w++) {
            out[w] = malloc_check(n * sizeof(float));
            lse[w] = malloc_check((size_t)B * NH * T * sizeof(float));
            dqkv[w] = malloc_check(3 * n * sizeof(float));
            scratch[w] = malloc_check(scratch_ab[w](B, T, C, NH) * sizeof(float));
        }
        AttnArgs args = {&normalizers[ATTN_SSMAX], {sh}, T, NULL};
        double tf[2][reps], tb[2][reps], rf[reps], rb[reps];
        for (int k = -1; k < reps; k++) // k = -1: one warm-up call of each
            for (int o = 0; o < 2; o++) {
                int w = ((k < 0 ? 0 : k) + o) % 2;
                real *dp[ATTN_MAX_PARAMS] = {ds[w], NULL};
                memset(ds[w], 0, sizeof(ds[w]));
                double t0 = now_seconds();
                forward_ab[w](out[w], lse[w], scratch[w], qkv, &args, B, T, C, NH);
                double t1 = now_seconds();
                backward_ab[w](dqkv[w], dp, scratch[w], dout, qkv, out[w], lse[w], &args, B, T, C, NH);
                double t2 = now_seconds();
                if (k >= 0) { tf[w][k] = t1 - t0; tb[w][k] = t2 - t1; }
            }
        for (int k = 0; k < reps; k++) { rf[k] = tf[0][k] / tf[1][k]; rb[k] = tb[0][k] / tb[1][k]; }
        double dout_max = 0, dqkv_max = 0, flops = 4.0 * B * C * (double)T * (T + 1) / 2; // q.k and p.v
        for (size_t j = 0; j < n; j++) dout_max = fmax(dout_max, fabs((double)out[0][j] - out[1][j]));
        for (size_t j = 0; j < 3 * n; j++) dqkv_max = fmax(dqkv_max, fabs((double)dqkv[0][j] - dqkv[1][j]));
        double mf = median(rf, reps), mb = median(rb, reps);
        printf("| %s | forward | %.0f | %.0f | %.3fx | %.2g |\n", s->name, flops / median(tf[0], reps) / 1e9,
               flops / median(tf[1], reps) / 1e9, mf, dout_max);
        printf("| %s | backward | %.0f | %.0f | %.3fx | %.2g |\n", s->name, 2 * flops / median(tb[0], reps) / 1e9,
               2 * flops / median(tb[1], reps) / 1e9, mb, dqkv_max);
        fflush(stdout);
        *logsum += log(mf) + log(mb);
        *count += 2;
        free(qkv); free(dout);
        for (int w = 0; w < 2; w++) { free(out[w]); free(lse[w]); free(dqkv[w]); free(scratch[w]); }
    }
}

// whole training steps of bench_gpt's configs with SSMax: two models of the same initialisation on the
// same tokens, one on a's kernels and one on b's, alternating step by step (which goes first alternates
// too) after two warm-up steps of each; at least 7 pairs, and at most --reps or 60 s of steps. The last
// column compares the two models' weights after the same steps (0 when b keeps every sum's order)
static void steps_part(int reps, const char *only, double *logsum, int *count) {
    printf("\n| training step (ssmax) | a ms | b ms | b speed-up (paired) | interquartile | max abs difference of the weights |\n"
           "|---|---|---|---|---|---|\n");
    for (int i = 0; i < NUM_CONFIGS; i++) {
        const BenchConfig *b = &configs[i];
        if (only && !strstr(b->name, only)) continue;
        Trainer x[2];
        for (int w = 0; w < 2; w++) { side = w; trainer_init(&x[w], b, ATTN_SSMAX); }
        double t[2][reps], ratio[reps], spent = 0;
        int done = 0;
        for (int k = -2; k < reps && !(done >= 7 && spent > 60); k++) {
            for (int o = 0; o < 2; o++) {
                int w = ((k < 0 ? 0 : k) + o) % 2;
                side = w;
                double ms = trainer_step(&x[w]);
                if (k >= 0) { t[w][k] = ms; spent += ms / 1000; }
            }
            if (k >= 0) { ratio[k] = t[0][k] / t[1][k]; done = k + 1; }
        }
        side = 1;
        double dmax = 0;
        for (size_t j = 0; j < x[0].m.num_parameters; j++)
            dmax = fmax(dmax, fabs((double)x[0].m.params_memory[j] - x[1].m.params_memory[j]));
        double r = median(ratio, done), q1 = ratio[done / 4], q3 = ratio[(3 * done) / 4]; // sorted by median
        printf("| %s | %.1f | %.1f | %.3fx | %.3f..%.3f | %.2g |\n", b->name, median(t[0], done), median(t[1], done), r, q1,
               q3, dmax);
        fflush(stdout);
        *logsum += log(r);
        (*count)++;
        for (int w = 0; w < 2; w++) { gpt_free(&x[w].m); free(x[w].inp); free(x[w].tgt); }
    }
}

int main(int argc, char **argv) {
    int reps = 21, part = 0; // part: 0 all, 1 gemm, 2 attention, 3 steps
    const char *only = NULL;
    static struct option opts[] = {{"part", required_argument, 0, 'p'}, {"reps", required_argument, 0, 'r'},
                                   {"only", required_argument, 0, 'o'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    int c;
    opterr = 0; // the error below names the flag
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 'p' && strcmp(optarg, "all") == 0) part = 0;
        else if (c == 'p' && strcmp(optarg, "gemm") == 0) part = 1;
        else if (c == 'p' && strcmp(optarg, "attention") == 0) part = 2;
        else if (c == 'p' && strcmp(optarg, "steps") == 0) part = 3;
        else if (c == 'r' && atoi(optarg) >= 3 && atoi(optarg) <= 1000) reps = atoi(optarg);
        else if (c == 'o') only = optarg;
        else if (c != 'h') {
            fprintf(stderr, "error: bad flag or value at '%s'\nHINT: bench_ab --help lists the flags: --part gemm|attention|steps|all, --reps 3..1000, --only SUBSTRING\n",
                    argv[optind - 1]);
            return 1;
        } else {
            printf("usage: bench_ab [--part gemm|attention|steps|all (all)] [--reps N (21, 3..1000)] [--only SUBSTRING]\n"
                   "  a = the kernels at BASE, b = the working tree's (make bench-ab BASE=<commit>); b speed-up =\n"
                   "  median over alternating pairs of time(a) / time(b); steps: whole training steps of the bench\n"
                   "  configs on a's kernels and on b's (at most N pairs or 60 s per config)\n");
            return 0;
        }
    }
    printf("bench_ab: a = BASE's kernels, b = the working tree's; %d threads, %d alternating pairs per row\n\n",
           omp_get_max_threads(), reps);
    double logsum = 0;
    int count = 0;
    if (part == 0 || part == 1) gemm_part(reps, only, &logsum, &count);
    if (part == 0 || part == 2) attention_part(reps, only, &logsum, &count);
    if (part == 0 || part == 3) steps_part(reps, only, &logsum, &count);
    if (count) printf("\ngeometric mean of b's speed-ups: %.3fx over %d rows\n", exp(logsum / count), count);
    return 0;
}
