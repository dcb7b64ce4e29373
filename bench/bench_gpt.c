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
#include <unistd.h>
#include <sys/wait.h>
#include <sys/resource.h>
#if defined(__AVX512F__) || defined(__AVX2__)
#include <immintrin.h>
#endif
#include "../model/common.h"
#include "../model/gpt.h"
#include "../model/optim.h"
#include "../model/matmul.h"

typedef struct { const char *name, *preset; int B, T, V; } BenchConfig;

// the 6-layer GPT-2-style config, which is not a preset
static const Preset gpt2_6x384 = {"6x384", "", 6, 6, 384, 1536, 256, 50304, POS_LEARNED, NORM_LAYERNORM, MLP_GELU, 1, 1};

static const BenchConfig configs[] = {
    // name, preset (NULL: gpt2_6x384), B, T, V (where the preset takes it from the data)
    {"gpt2-124m B=4 T=64", "gpt2-124m", 4, 64, 0},
    {"6x384 V=50304 B=8 T=256", NULL, 8, 256, 0},
    {"paper-162m B=1 T=1024", "paper-162m", 1, 1024, 0},
    {"small B=16 T=128 V=257", "small", 16, 128, 257},
};
#define NUM_CONFIGS (int)(sizeof(configs) / sizeof(configs[0]))

static GPTConfig make_config(const BenchConfig *b, int attn) {
    return gpt_preset_config(b->preset ? gpt_preset(b->preset) : &gpt2_6x384, b->V, b->T, attn);
}

static double step_flops(const GPTConfig *c, int B, int T) {
    double C = c->channels, F = c->ffn, Fin = c->mlp == MLP_SWIGLU ? 2 * F : F, hs = C / c->num_heads;
    double weights = c->num_layers * (3 * C * C + C * C + Fin * C + F * C) + (double)c->padded_vocab_size * C;
    double fwd = 2.0 * B * T * weights + 4.0 * c->num_layers * B * c->num_heads * hs * T * (T + 1) / 2.0;
    return 3 * fwd;
}

static int cmp_double(const void *a, const void *b) { double x = *(const double *)a, y = *(const double *)b; return (x > y) - (x < y); }

// a model of one config with random weights and tokens, ready to time training steps
typedef struct { GPT m; int *inp, *tgt, B, T, steps_done; } Trainer;

static void trainer_init(Trainer *x, const BenchConfig *b, int attn) {
    GPTConfig c = make_config(b, attn);
    gpt_build(&x->m, &c);
    gpt_init_random(&x->m, 1);
    size_t n = (size_t)b->B * b->T;
    x->inp = malloc_check(n * sizeof(int));
    x->tgt = malloc_check(n * sizeof(int));
    uint64_t rng = 5;
    for (size_t i = 0; i < n; i++) { x->inp[i] = random_u32(&rng) % c.vocab_size; x->tgt[i] = random_u32(&rng) % c.vocab_size; }
    x->B = b->B; x->T = b->T; x->steps_done = 0;
}

// one whole training step (forward, backward, gradient norm, AdamW); returns its milliseconds
static double trainer_step(Trainer *x) {
    double t0 = now_seconds();
    gpt_zero_grad(&x->m);
    gpt_forward_backward(&x->m, x->inp, x->tgt, x->B, x->T);
    double norm = gpt_grad_norm(&x->m, NULL);
    adamw_update(&x->m, 1e-4f, 0.9f, 0.95f, 1e-8f, 0.1f, norm > 1 ? (float)(1 / norm) : 1.0f, ++x->steps_done);
    return (now_seconds() - t0) * 1000;
}

static double median(double *v, int n) {
    qsort(v, n, sizeof(double), cmp_double);
    return v[n / 2];
}

// ms per step (medians) of a config with Softmax (ms[0]) and SSMax (ms[1]), and the SSMax overhead as
// the median of the ratios of neighbouring steps (ms[2]): both models live in one process and their
// steps alternate, so a slow spell of the shared machine falls on both alike. At least `steps` timed
// steps of each and at least 3 s of each (short steps are noisy); runs in a child
static void time_pair(const BenchConfig *b, int warmup, int steps, double ms[3]) {
    Trainer x[2];
    trainer_init(&x[0], b, ATTN_SOFTMAX);
    trainer_init(&x[1], b, ATTN_SSMAX);
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
    ms[2] = median(ratio, done) - 1;
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

// a register-resident FMA loop on all threads: the machine's practical fp32 peak
static double fma_peak_gflops(void) {
    double best = 0;
    for (int rep = 0; rep < 3; rep++) {
        long iters = 20000000;
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

// runs fn(arg) in a child process and returns its three result numbers (zero where fn sets none; OpenMP's
// threads do not survive a fork, so the parent never starts them)
static void in_child(void (*fn)(const void *, double *), const void *arg, double out[3], const char *what) {
    int fd[2];
    if (pipe(fd) != 0) die("pipe failed");
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        close(fd[0]);
        double res[3] = {0, 0, 0};
        fn(arg, res);
        if (write(fd[1], res, sizeof(res)) != sizeof(res)) _exit(1);
        _exit(0);
    }
    close(fd[1]);
    ssize_t r = read(fd[0], out, 3 * sizeof(double));
    close(fd[0]);
    int status;
    waitpid(pid, &status, 0);
    if (r != 3 * sizeof(double) || !WIFEXITED(status) || WEXITSTATUS(status)) die("benchmark of %s failed", what);
}

typedef struct { const BenchConfig *cfg; int attn, warmup, steps; } Job; // attn: for job_rss (job_pair runs both)
static int nthreads_wanted = 0;

static void job_peak(const void *arg, double *res) {
    (void)arg;
    if (nthreads_wanted) omp_set_num_threads(nthreads_wanted);
    res[0] = fma_peak_gflops();
    res[1] = omp_get_max_threads();
}

static void job_pair(const void *arg, double *res) {
    const Job *j = arg;
    if (nthreads_wanted) omp_set_num_threads(nthreads_wanted);
    time_pair(j->cfg, j->warmup, j->steps, res);
}

static void job_rss(const void *arg, double *res) {
    const Job *j = arg;
    if (nthreads_wanted) omp_set_num_threads(nthreads_wanted);
    res[0] = one_model_rss(j->cfg, j->attn);
}

int main(int argc, char **argv) {
    int steps = 10, warmup = 2;
    const char *only = NULL;
    static struct option opts[] = {{"steps", required_argument, 0, 's'}, {"warmup", required_argument, 0, 'w'},
                                   {"threads", required_argument, 0, 't'}, {"only", required_argument, 0, 'o'},
                                   {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "s:w:t:o:h", opts, NULL)) != -1) {
        if (c == 's') steps = (int)arg_int(optarg, "--steps", 1, 100000, "bench_gpt");
        else if (c == 'w') warmup = (int)arg_int(optarg, "--warmup", 0, 100000, "bench_gpt");
        else if (c == 't') nthreads_wanted = (int)arg_int(optarg, "--threads", 1, 4096, "bench_gpt");
        else if (c == 'o') only = optarg;
        else {
            printf("usage: bench_gpt [--steps N (10)] [--warmup N (2)] [--threads N (all)] [--only SUBSTRING]\n");
            return c == 'h' ? 0 : 1;
        }
    }
    double pk[3];
    in_child(job_peak, NULL, pk, "the FMA peak");
    double peak = pk[0];
    printf("threads %d, matmul kernel %s, FMA peak measured now: %.0f GFLOP/s; Softmax and SSMax steps alternate in one\n"
           "process per config, median of >= %d steps (and >= 3 s) of each after %d warm-up; peak RSS of a one-model process\n",
           (int)pk[1], gemm_kernel_name(), peak, steps, warmup);
    printf("| config | attn | ms/step | tok/s | GFLOP/s | %% of FMA peak | SSMax overhead | peak RSS MiB |\n");
    printf("|---|---|---|---|---|---|---|---|\n");
    fflush(stdout);
    for (int i = 0; i < NUM_CONFIGS; i++) {
        if (only && !strstr(configs[i].name, only)) continue;
        double ms[3], got[3];
        Job job = {&configs[i], 0, warmup, steps};
        in_child(job_pair, &job, ms, configs[i].name);
        for (int a = 0; a < 2; a++) {
            int attn = a ? ATTN_SSMAX : ATTN_SOFTMAX;
            Job one = {&configs[i], attn, 0, 1};
            in_child(job_rss, &one, got, configs[i].name);
            GPTConfig cfg = make_config(&configs[i], attn);
            double gflops = step_flops(&cfg, configs[i].B, configs[i].T) / (ms[a] / 1000) / 1e9;
            char over[32] = "";
            if (a) snprintf(over, sizeof(over), "%+.1f%%", 100 * ms[2]);
            printf("| %s | %s | %.0f | %.0f | %.0f | %.0f%% | %s | %ld |\n", configs[i].name, attn_names[attn], ms[a],
                   configs[i].B * configs[i].T / (ms[a] / 1000), gflops, 100 * gflops / peak, over, (long)(got[0] / 1024));
            fflush(stdout);
        }
    }
    return 0;
}
