/*
 * bench_gpt.c: times whole training steps (forward, backward, gradient norm, AdamW) on random tokens
 * after warm-up, and prints a table: ms/step (median), tok/s, achieved GFLOP/s, % of this machine's
 * FMA peak measured in the same run, SSMax overhead, and peak RSS.
 *
 *   bench_gpt [--steps N] [--warmup N] [--threads N] [--only NAME]
 * Each config runs in a child process that holds a Softmax and an SSMax model and alternates their
 * steps, at least N timed steps and at least 3 s of each; the table shows the medians. On a shared
 * machine a slow spell then falls on both alike, which keeps the SSMax overhead fair. Peak RSS comes
 * from a separate process per model.
 *
 * FLOPs per step = 3 x forward FLOPs (backward = 2 x forward), with forward FLOPs =
 *   2 x B*T x (matmul weights: L*(3C*C + C*C + Fin*C + F*C) + Vp*C)  +  4 x L*B*NH*hs*T*(T+1)/2
 * (the attention term counts q.k and p.v over the causal half). Fin = F, or 2F for SwiGLU.
 */
#include <getopt.h>
#include <dlfcn.h>
#include <unistd.h>
#include <sys/wait.h>
#include <sys/resource.h>
#if defined(__AVX512F__) || defined(__AVX2__)
#include <immintrin.h>
#endif
#include "../util/common.h"
#include "../model/gpt.h"
#include "../model/kernels/matmul.h"
#include "../model/kernels/tier.h"
#include "bench_common.h"

static double step_flops(const GPTConfig *c, int B, int T) {
    double C = c->channels, F = c->ffn, Fin = c->mlp == MLP_SWIGLU ? 2 * F : F, hs = C / c->num_heads;
    double weights = c->num_layers * (3 * C * C + C * C + Fin * C + F * C) + (double)c->padded_vocab_size * C;
    double fwd = 2.0 * B * T * weights + 4.0 * c->num_layers * B * c->num_heads * hs * T * (T + 1) / 2.0;
    return 3 * fwd;
}

// ms per step (medians) of a config with Softmax (ms[0]) and SSMax (ms[1]), and the median and quartiles
// of the ratios of neighbouring SSMax/Softmax steps, less 1 (ms[2], ms[3], ms[4]): both models live in one process and their
// steps alternate, so a slow spell of the shared machine falls on both alike. At least `steps` timed
// steps of each and at least 3 s of each (short steps are noisy); runs in a child
static void time_pair(const BenchConfig *b, int attn0, int attn1, int warmup, int steps, double ms[5]) {
    Trainer x[2];
    trainer_init(&x[0], b, attn0);
    trainer_init(&x[1], b, attn1);
    int cap = steps > 400 ? steps : 400, done = 0;
    double *t[2] = {malloc_check(cap * sizeof(double)), malloc_check(cap * sizeof(double))}, spent[2] = {0, 0};
    for (int s = 0; s < warmup; s++) for (int a = 0; a < 2; a++) trainer_step(&x[a]);
    while (done < cap && (done < steps || spent[0] < 3.0 || spent[1] < 3.0)) {
        for (int k = 0; k < 2; k++) { // which goes first alternates too
            int a = done % 2 ? 1 - k : k;
            t[a][done] = trainer_step(&x[a]);
            spent[a] += t[a][done] / 1000;
        }
        done++;
    }
    double *ratio = malloc_check(done * sizeof(double));
    for (int i = 0; i < done; i++) ratio[i] = t[1][i] / t[0][i];
    ms[2] = median(ratio, done) - 1; // sorted now
    ms[3] = ratio[done / 4] - 1;
    ms[4] = ratio[(3 * done) / 4] - 1;
    for (int a = 0; a < 2; a++) ms[a] = median(t[a], done);
}

// the peak RSS of a process that holds one model and has run one step (for the memory column)
static double one_model_rss(const BenchConfig *b, int attn) {
    Trainer x;
    trainer_init(&x, b, attn);
    trainer_step(&x);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_maxrss;
}

// a register-resident FMA loop on all threads: the machine's practical fp32 peak. The best of 10 runs
// of ~40 ms: on a shared machine a run that loses a thread for a moment reads low (3 runs of 20 ms
// have read half the peak, and steps "at 120% of it")
static double fma_peak_gflops(void) {
    double best = 0;
    for (int rep = 0; rep < 10; rep++) {
        long iters = 40000000;
        double t0 = now_seconds();
        float sink = 0;
        #pragma omp parallel reduction(+:sink)
        {
#if defined(__AVX512F__)
            __m512 a[10], x = _mm512_set1_ps(0.999999f), y = _mm512_set1_ps(1e-7f);
            for (int i = 0; i < 10; i++) a[i] = _mm512_set1_ps((float)i);
            for (long k = 0; k < iters; k++)
                for (int i = 0; i < 10; i++) a[i] = _mm512_fmadd_ps(a[i], x, y);
            for (int i = 0; i < 10; i++) sink += _mm512_reduce_add_ps(a[i]);
#define FLOPS_PER_ITER (10 * 32)
#elif defined(__AVX2__) && defined(__FMA__)
            __m256 a[10], x = _mm256_set1_ps(0.999999f), y = _mm256_set1_ps(1e-7f);
            for (int i = 0; i < 10; i++) a[i] = _mm256_set1_ps((float)i);
            for (long k = 0; k < iters; k++)
                for (int i = 0; i < 10; i++) a[i] = _mm256_fmadd_ps(a[i], x, y);
            float t[8];
            for (int i = 0; i < 10; i++) { _mm256_storeu_ps(t, a[i]); sink += t[0]; }
#define FLOPS_PER_ITER (10 * 16)
#else
            float a[16] = {0};
            for (long k = 0; k < iters / 8; k++)
                for (int i = 0; i < 16; i++) a[i] = a[i] * 0.999999f + 1e-7f;
            for (int i = 0; i < 16; i++) sink += a[i];
#define FLOPS_PER_ITER (2 * 16 / 8)
#endif
        }
        double dt = now_seconds() - t0;
        double g = (double)iters * FLOPS_PER_ITER * omp_get_max_threads() / dt / 1e9;
        if (g > best && sink != 12345.0f) best = g;
    }
    return best;
}

// runs fn(arg) in a child process and returns its five result numbers (zero where fn sets none; OpenMP's
// threads do not survive a fork, so the parent never starts them)
static void in_child(void (*fn)(const void *, double *), const void *arg, double out[5], const char *what) {
    int fd[2];
    if (pipe(fd) != 0) die("pipe failed");
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        close(fd[0]);
        double res[5] = {0, 0, 0, 0, 0};
        fn(arg, res);
        if (write(fd[1], res, sizeof(res)) != sizeof(res)) _exit(1);
        _exit(0);
    }
    close(fd[1]);
    ssize_t r = read(fd[0], out, 5 * sizeof(double));
    close(fd[0]);
    int status;
    waitpid(pid, &status, 0);
    if (r != 5 * sizeof(double) || !WIFEXITED(status) || WEXITSTATUS(status)) die("benchmark of %s failed", what);
}

typedef struct { const BenchConfig *cfg; int attn, warmup, steps, against; } Job; // job_pair: softmax (or `against`) vs attn
static int nthreads_wanted = 0;

static void job_peak(const void *arg, double *res) {
    (void)arg;
    if (nthreads_wanted) omp_set_num_threads(nthreads_wanted);
    res[0] = fma_peak_gflops();
    res[1] = omp_get_max_threads();
}

// the peak again, in a child as before: a shared machine can lose a thread for longer than one
// measurement, so every table uses the highest of the measurements taken so far (one before each config)
static double peak_again(double so_far) {
    double pk[5];
    in_child(job_peak, NULL, pk, "the FMA peak");
    return pk[0] > so_far ? pk[0] : so_far;
}

static void job_pair(const void *arg, double *res) {
    const Job *j = arg;
    if (nthreads_wanted) omp_set_num_threads(nthreads_wanted);
    time_pair(j->cfg, j->against, j->attn, j->warmup, j->steps, res);
}

static void job_rss(const void *arg, double *res) {
    const Job *j = arg;
    if (nthreads_wanted) omp_set_num_threads(nthreads_wanted);
    res[0] = one_model_rss(j->cfg, j->attn);
}

// ----------------------------------------------------------------------------
// the GEMM alone, on the shapes that take the time: the lm head of the big configs as the fused head
// runs it (its first block of rows against V = 50304: 1280 of 6x384's 2048, paper-162m's 1024 and
// gpt2-124m's 256 whole), every linear layer of the small preset
// (B*T = 2048 rows) and of gpt2-124m at B=4 T=64 (256 rows), each as the three products of a linear
// layer as the model calls them: forward out = x W^T, dinp = dout W, dW += dout^T x. Against OpenBLAS
// where libopenblas is installed (loaded at run time, so the benchmark does not depend on it). The shapes:
// gemm_shapes in bench_common.h, which make bench-ab (bench_ab.c) times too

typedef void (*cblas_sgemm_fn)(int, int, int, int, int, int, float, const float *, int, const float *, int, float, float *, int);
static cblas_sgemm_fn openblas_sgemm = NULL;
static const char *openblas_status = "";

static void openblas_load(int threads) {
    // OpenBLAS's kernels for the same instruction set as this build's tier (its DYNAMIC_ARCH builds read
    // OPENBLAS_CORETYPE when loaded). AVX-512 is named too: OpenBLAS 0.3.21 does not know every AVX-512
    // CPU and falls back to SSE3 (Prescott) on an Intel Emerald Rapids, a sixth of its AVX-512 speed
    if (!strcmp(kernel_tier(), "avx512")) setenv("OPENBLAS_CORETYPE", "SkylakeX", 1);
    else if (!strcmp(kernel_tier(), "avx2")) setenv("OPENBLAS_CORETYPE", "Haswell", 1);
    else setenv("OPENBLAS_CORETYPE", "Nehalem", 1);
    const char *libs[] = {"libopenblas.so.0", "libopenblasp.so.0", "libopenblaso.so.0"};
    for (int i = 0; i < 3 && !openblas_sgemm; i++) {
        void *h = dlopen(libs[i], RTLD_NOW | RTLD_LOCAL);
        if (!h) continue;
        openblas_sgemm = (cblas_sgemm_fn)dlsym(h, "cblas_sgemm");
        void (*set_threads)(int) = (void (*)(int))dlsym(h, "openblas_set_num_threads");
        char *(*config)(void) = (char *(*)(void))dlsym(h, "openblas_get_config");
        if (set_threads) set_threads(threads);
        static char status[160];
        snprintf(status, sizeof(status), "%s, %s", libs[i], config ? config() : "?");
        openblas_status = status;
    }
    if (!openblas_sgemm) openblas_status = "not installed: the OpenBLAS columns are skipped (apt-get install libopenblas0-openmp)";
}

// one call of a product: op 0 forward, 1 dinp, 2 dweight; who 0 ours, 1 OpenBLAS
static void gemm_call(const GemmShape *g, int op, int who, float *x, float *w, float *y) {
    size_t N = g->rows, C = g->C, OC = g->OC;
    if (who == 0) {
        if (op == 0) sgemm(0, 1, N, OC, C, x, C, w, C, 0.0f, y, OC);       // y (N,OC) = x (N,C) W^T
        else if (op == 1) sgemm(0, 0, N, C, OC, y, OC, w, C, 0.0f, x, C); // x (N,C) = y (N,OC) W (OC,C)
        else sgemm(1, 0, OC, C, N, y, OC, x, C, 1.0f, w, C);              // W (OC,C) += y^T x
    } else { // CblasRowMajor 101, NoTrans 111, Trans 112
        if (op == 0) openblas_sgemm(101, 111, 112, (int)N, (int)OC, (int)C, 1.0f, x, (int)C, w, (int)C, 0.0f, y, (int)OC);
        else if (op == 1) openblas_sgemm(101, 111, 111, (int)N, (int)C, (int)OC, 1.0f, y, (int)OC, w, (int)C, 0.0f, x, (int)C);
        else openblas_sgemm(101, 112, 111, (int)OC, (int)C, (int)N, 1.0f, y, (int)OC, x, (int)C, 1.0f, w, (int)C);
    }
}

// median GFLOP/s of ours (res[0]) and OpenBLAS (res[1]), their calls alternating so that a slow spell
// of the shared machine falls on both alike, and the median of the paired ratios (res[2])
static void gemm_time(const GemmShape *g, int op, float *x, float *w, float *y, double *res) {
    double flops = 2.0 * g->rows * g->C * g->OC, t[2][31], ratio[31], spent = 0;
    int who_n = openblas_sgemm ? 2 : 1, reps = 0;
    for (int who = 0; who < who_n; who++) gemm_call(g, op, who, x, w, y); // warm-up
    while (reps < 31 && (reps < 7 || spent < 1.0)) {
        for (int who = 0; who < who_n; who++) {
            double t0 = now_seconds();
            gemm_call(g, op, who, x, w, y);
            t[who][reps] = now_seconds() - t0;
            spent += t[who][reps];
        }
        ratio[reps] = who_n == 2 ? t[1][reps] / t[0][reps] : 0;
        reps++;
    }
    for (int who = 0; who < who_n; who++) res[who] = flops / median(t[who], reps) / 1e9;
    res[2] = median(ratio, reps);
}

typedef struct { const GemmShape *shape; int op; } GemmJob;

static void job_gemm(const void *arg, double *res) {
    const GemmJob *j = arg;
    const GemmShape *g = j->shape;
    if (nthreads_wanted) omp_set_num_threads(nthreads_wanted);
    openblas_load(omp_get_max_threads());
    size_t N = g->rows, C = g->C, OC = g->OC;
    float *x = malloc_check(N * C * sizeof(float)), *w = malloc_check(OC * C * sizeof(float)), *y = malloc_check(N * OC * sizeof(float));
    uint64_t rng = 7;
    for (size_t i = 0; i < N * C; i++) x[i] = random_f32(&rng) - 0.5f;
    for (size_t i = 0; i < OC * C; i++) w[i] = random_f32(&rng) - 0.5f;
    for (size_t i = 0; i < N * OC; i++) y[i] = random_f32(&rng) - 0.5f;
    gemm_time(g, j->op, x, w, y, res);
}

// prints which OpenBLAS the GEMM children load (in a child too: OpenBLAS starts OpenMP threads, which
// do not survive a fork)
static void job_blas_info(const void *arg, double *res) {
    (void)arg;
    openblas_load(1);
    printf("\nGEMM alone (ours and OpenBLAS alternate; median GFLOP/s of >= 7 calls and >= 1 s of both; ours / OpenBLAS\n"
           "= median of the paired time ratios; OpenBLAS: %s)\n\n", openblas_status);
    fflush(stdout);
    res[0] = openblas_sgemm != NULL;
}

static void gemm_table(double peak, const char *only) {
    static const char *ops[3] = {"forward x W^T", "dinp = dout W", "dW += dout^T x"};
    double info[5];
    in_child(job_blas_info, NULL, info, "the OpenBLAS probe");
    printf("| shape | rows x C -> OC | product | ours GFLOP/s | %% of FMA peak | OpenBLAS GFLOP/s | ours / OpenBLAS |\n");
    printf("|---|---|---|---|---|---|---|\n");
    for (int i = 0; i < NUM_GEMM_SHAPES; i++)
        for (int op = 0; op < 3 && (!only || strstr(gemm_shapes[i].name, only)); op++) {
            double r[5];
            GemmJob job = {&gemm_shapes[i], op};
            in_child(job_gemm, &job, r, gemm_shapes[i].name);
            char blas[32] = "-", ratio[32] = "-";
            if (r[1] > 0) { snprintf(blas, sizeof(blas), "%.0f", r[1]); snprintf(ratio, sizeof(ratio), "%.2fx", r[2]); }
            printf("| %s | %d x %d -> %d | %s | %.0f | %.0f%% | %s | %s |\n", gemm_shapes[i].name, gemm_shapes[i].rows,
                   gemm_shapes[i].C, gemm_shapes[i].OC, ops[op], r[0], 100 * r[0] / peak, blas, ratio);
            fflush(stdout);
        }
}

// ----------------------------------------------------------------------------
// every normalizer's step-time overhead over Softmax, each paired with Softmax in one process as above,
// on the default experiment's model and on a long context where attention takes most of the step

static const BenchConfig norm_configs[] = {
    {"small B=16 T=128 V=257", "small", 16, 128, 257},
    {"small B=2 T=1024 V=257", "small", 2, 1024, 257},
};

static void normalizer_table(double peak, int warmup, int steps, const char *only) {
    (void)peak;
    printf("\nEvery normalizer against Softmax (each pair alternates in one process, as above): overhead = its median /\n"
           "Softmax's median - 1, paired = median and interquartile range of neighbouring-step ratios\n\n");
    printf("| config | attn | row kind | Softmax ms/step | ms/step | overhead (paired) |\n|---|---|---|---|---|---|\n");
    static const char *rows[ROW_KIND_COUNT] = {"softmax", "sink", "sigmoid", "softpick"};
    for (int i = 0; i < (int)(sizeof(norm_configs) / sizeof(norm_configs[0])); i++)
        for (int attn = 1; attn < ATTN_COUNT; attn++) {
            if (only && !strstr(norm_configs[i].name, only) && !strstr(normalizers[attn].name, only)) continue;
            double ms[5];
            Job job = {&norm_configs[i], attn, warmup, steps, ATTN_SOFTMAX};
            in_child(job_pair, &job, ms, normalizers[attn].name);
            printf("| %s | %s | %s | %.1f | %.1f | %+.1f%% (%+.1f%%, %+.1f..%+.1f) |\n", norm_configs[i].name, normalizers[attn].name,
                   rows[normalizers[attn].row], ms[0], ms[1], 100 * (ms[1] / ms[0] - 1), 100 * ms[2], 100 * ms[3], 100 * ms[4]);
            fflush(stdout);
        }
}

int main(int argc, char **argv) {
    int steps = 10, warmup = 2, part = 0; // part: 0 both tables, 1 steps only, 2 GEMM only
    const char *only = NULL;
    static struct option opts[] = {{"steps", required_argument, 0, 's'}, {"warmup", required_argument, 0, 'w'},
                                   {"threads", required_argument, 0, 't'}, {"only", required_argument, 0, 'o'},
                                   {"part", required_argument, 0, 'p'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "s:w:t:o:p:h", opts, NULL)) != -1) {
        if (c == 's') steps = (int)arg_int(optarg, "--steps", 1, 100000, "bench_gpt");
        else if (c == 'w') warmup = (int)arg_int(optarg, "--warmup", 0, 100000, "bench_gpt");
        else if (c == 't') nthreads_wanted = (int)arg_int(optarg, "--threads", 1, 4096, "bench_gpt");
        else if (c == 'o') only = optarg;
        else if (c == 'p' && !strcmp(optarg, "all")) part = 0;
        else if (c == 'p' && !strcmp(optarg, "steps")) part = 1;
        else if (c == 'p' && !strcmp(optarg, "gemm")) part = 2;
        else if (c == 'p' && !strcmp(optarg, "normalizers")) part = 3;
        else if (c == 'p') die("--part takes all, steps, normalizers or gemm, got '%s'\nHINT: see bench_gpt --help", optarg);
        else {
            printf("usage: bench_gpt [--steps N (10)] [--warmup N (2)] [--threads N (all)] [--only SUBSTRING]\n"
                   "                 [--part all|steps|normalizers|gemm (all)]\n"
                   "  --only keeps the configs, normalizers and GEMM shapes whose name contains SUBSTRING\n");
            return c == 'h' ? 0 : 1;
        }
    }
    double pk[5];
    in_child(job_peak, NULL, pk, "the FMA peak");
    double peak = pk[0];
    printf("CPU %s, kernel tier %s (matmul kernel %s), %d threads, FMA peak of this tier measured now: %.0f GFLOP/s\n",
           cpu_model_name(), kernel_tier(), gemm_kernel_name(), (int)pk[1], peak);
    if (part == 0 || part == 1) {
        printf("\nWhole training steps: Softmax and SSMax alternate in one process per config, median of >= %d steps (and\n"
               ">= 3 s) of each after %d warm-up; overhead = SSMax median / Softmax median - 1, paired = median and\n"
               "interquartile range of the ratios of neighbouring steps; peak RSS of a one-model process\n\n", steps, warmup);
        printf("| config | attn | ms/step | tok/s | GFLOP/s | %% of FMA peak | SSMax overhead (paired) | peak RSS MiB |\n");
        printf("|---|---|---|---|---|---|---|---|\n");
        fflush(stdout);
    }
    for (int i = 0; i < NUM_CONFIGS && (part == 0 || part == 1); i++) {
        if (only && !strstr(configs[i].name, only)) continue;
        double ms[5], got[5];
        peak = peak_again(peak);
        Job job = {&configs[i], ATTN_SSMAX, warmup, steps, ATTN_SOFTMAX};
        in_child(job_pair, &job, ms, configs[i].name);
        for (int a = 0; a < 2; a++) {
            int attn = a ? ATTN_SSMAX : ATTN_SOFTMAX;
            Job one = {&configs[i], attn, 0, 1, 0};
            in_child(job_rss, &one, got, configs[i].name);
            GPTConfig cfg = make_config(&configs[i], attn);
            double gflops = step_flops(&cfg, configs[i].B, configs[i].T) / (ms[a] / 1000) / 1e9;
            char over[64] = "";
            if (a) snprintf(over, sizeof(over), "%+.1f%% (%+.1f%%, %+.1f..%+.1f)", 100 * (ms[1] / ms[0] - 1), 100 * ms[2],
                            100 * ms[3], 100 * ms[4]);
            printf("| %s | %s | %.0f | %.0f | %.0f | %.0f%% | %s | %ld |\n", configs[i].name, normalizers[attn].name, ms[a],
                   configs[i].B * configs[i].T / (ms[a] / 1000), gflops, 100 * gflops / peak, over, (long)(got[0] / 1024));
            fflush(stdout);
        }
    }
    if (part == 0 || part == 1)
        printf("\nFMA peak: the highest of the measurements before each config, %.0f GFLOP/s (each row's %% uses the highest so far)\n", peak);
    if (part == 0 || part == 3) normalizer_table(peak, warmup, steps, only);
    if (part == 0 || part == 2) {
        peak = peak_again(peak);
        printf("\nFMA peak for the GEMM table: the highest of the measurements so far, %.0f GFLOP/s\n", peak);
        gemm_table(peak, only);
    }
    return 0;
}
