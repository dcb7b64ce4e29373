/*
 * eval_gpt.c: evaluations of a trained checkpoint, beyond the training length.
 *
 *   eval_gpt lengths -c CKPT [options]   per-position test loss on held-out text (the paper's Fig. 5)
 *   eval_gpt needle  -c CKPT [options]   needle-in-a-haystack retrieval over context x depth (Fig. 6),
 *                                        and the attention the answer puts on the needle (Figs. 7, 8)
 * Both run the evaluation pass (gpt_evaluate): no T x T buffers, memory linear in the context.
 * See README.md for the CSV files each writes.
 */
#include <getopt.h>
#include "util/common.h"
#include "model/gpt.h"
#include "cli/flags.h"
#include "cli/generate.h"
#include "model/checkpoint.h"
#include "model/safetensors.h"
#include "data/dataloader.h"
#include "data/tokenizer.h"
#include "data/needle.h"
#include "data/retrieval.h"

#define MAX_LIST 64

typedef struct {
    SharedFlags sh; // --attn, --ssmax-s0, --rope-theta, --threads, --gpt2-dir, --seed
    const char *mode, *ckpt, *data, *out, *scores, *window_out;
    int context, windows, buckets, trials, score_context, score_trials;
    const char *prompt, *prompt_file; // generate
    int gen_tokens, top_k, num_samples;
    float temperature, top_p;
    int contexts[MAX_LIST], ncontexts;
    int edges[MAX_LIST], nedges; // lengths: bucket ends given
    int spread;                  // lengths: windows evenly over the data, not the first ones
    double depths[MAX_LIST];
    int ndepths;
    const char *task; // retrieval
    int pairs, queries;
} Options;

static void usage(void) {
    printf("usage: eval_gpt lengths|needle|retrieval|generate|export -c CKPT [options]\n\n"
           "  lengths:  per-position loss of CKPT on held-out text, at one long context\n"
           "  needle:   retrieval accuracy over context lengths x needle depths, and needle attention scores\n"
           "  retrieval: accuracy of a model trained with train_gpt --task passkey|mqar|recall, over context lengths x\n"
           "            the distance from the information to the question\n"
           "  generate: text from a prompt, streamed as it is drawn (KV cache: one position's pass per token)\n"
           "  export:   CKPT as DIR/model.safetensors + DIR/config.json (-o DIR, default: export), in the Hugging\n"
           "            Face GPT-2 (learned positions) or Llama (RoPE, NoPE) names and layouts\n\n"
           "Every mode reads a checkpoint, an llm.c model file or a model.safetensors with its config.json.\n\n"
           "common:\n"
           "  -c, --ckpt FILE         checkpoint to evaluate (required)\n"
           "  -d, --data GLOB         held-out token shards (default: data/books-byte/val_*.bin)\n"
           "      --rope-theta X      RoPE base at evaluation (default: the checkpoint's; the paper uses 50x)\n"
           "      --attn NAME         evaluate a Softmax checkpoint converted to %s\n"
           "                          (config (e)); s = --ssmax-s0 (default: as train_gpt for the training length)\n"
           "      --ssmax-s0 S        s of every head after --attn conversion\n"
           "  -o, --out FILE          CSV to write (default: lengths.csv, needle.csv or retrieval.csv)\n"
           "      --threads N         OpenMP threads (default: all cores)\n"
           "      --gpt2-dir DIR      encoder.json and vocab.bpe, for gpt2 models in needle mode\n"
           "  -h, --help              this help\n\n"
           "lengths:\n"
           "  -t, --context N         context length (default: 32 x the checkpoint's training length)\n"
           "      --windows N         held-out windows of N+1 tokens averaged (default: 8)\n"
           "      --buckets N         log-spaced position buckets in the CSV (default: 24)\n"
           "      --edges LIST        the buckets' last positions instead, ascending, the last one the context\n"
           "                          (e.g. 64,128,1024,16384; default: log-spaced)\n"
           "      --window-out FILE   also each window's loss per bucket, for intervals over windows (default: none)\n"
           "      --spread            windows evenly spaced over all the held-out data (default: the first ones)\n\n"
           "needle:\n"
           "      --contexts LIST     context lengths, comma-separated (default: 1,2,4,8,12 x the training length)\n"
           "      --depths LIST       needle depths in [0,1] (default: 0,0.25,0.5,0.75,1)\n"
           "      --trials N          examples per cell (default: 10)\n"
           "      --seed N            example draw; the same seed gives every model the same examples (default: 1)\n"
           "      --scores FILE       also write needle attention scores per trial to FILE and per head to\n"
           "                          FILE with _heads before .csv (default: none)\n"
           "      --score-context N   context of the score trials (default: 8 x the training length)\n"
           "      --score-trials N    score trials at random depths (default: 100)\n\n"
           "retrieval (--contexts, --trials and --seed as above; default contexts 1,2,4,8,16 x the training length,\n"
           "default trials 100; -d gives passkey's haystack):\n"
           "      --task NAME         passkey | mqar | recall: the task the model was trained on (default: recall)\n"
           "      --pairs N, --queries N  mqar's or recall's key-value pairs and queries, as trained (default: 8, 4)\n\n"
           "generate (the seed above draws the text; -t sets the context the model sees, default its training length):\n"
           "      --prompt TEXT       the text to continue (default: none, the text starts after end-of-text)\n"
           "      --prompt-file FILE  the prompt from a file\n"
           "  -n, --tokens N          tokens to generate per sample (default: 200)\n"
           "      --temperature X     sampling temperature (default: 1)\n"
           "      --top-k K           sample from the K most likely tokens, 0 = all (default: 0)\n"
           "      --top-p P           sample from the smallest set of tokens with probability >= P (default: 1)\n"
           "      --num-samples N     samples, each from the prompt (default: 1)\n", normalizer_list(1));
}

#define parse_int(s, flag, lo, hi) arg_int(s, flag, lo, hi, "eval_gpt")
#define parse_num(s, flag, lo, hi) arg_num(s, flag, lo, hi, "eval_gpt")

// "a,b,c" into values; each checked as a number in [lo, hi]
static int parse_list(const char *s, const char *flag, double *out, double lo, double hi) {
    char buf[1024];
    snprintf(buf, sizeof(buf), "%s", s);
    int n = 0;
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (n == MAX_LIST) die("%s takes at most %d values\nHINT: give fewer, comma-separated", flag, MAX_LIST);
        out[n++] = parse_num(tok, flag, lo, hi);
    }
    if (n == 0) die("%s needs at least one value\nHINT: e.g. %s 0,0.5,1", flag, flag);
    return n;
}

static Options parse_args(int argc, char **argv) {
    Options o;
    memset(&o, 0, sizeof(o));
    o.sh = shared_flags_default(1);
    o.data = "data/books-byte/val_*.bin"; o.windows = 8; o.buckets = 24; o.trials = 10; o.score_trials = 100;
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) { usage(); exit(argc < 2); }
    o.mode = argv[1];
    if (strcmp(o.mode, "lengths") && strcmp(o.mode, "needle") && strcmp(o.mode, "retrieval") && strcmp(o.mode, "generate") &&
        strcmp(o.mode, "export"))
        die("unknown mode '%s'\nHINT: eval_gpt lengths, needle, retrieval, generate or export ... (see eval_gpt --help)", o.mode);
    o.task = "recall"; o.pairs = 8; o.queries = 4;
    if (!strcmp(o.mode, "retrieval")) o.trials = 100;
    o.gen_tokens = 200; o.temperature = 1.0f; o.top_p = 1.0f; o.num_samples = 1;
    enum { O_WINDOWS = 256, O_BUCKETS, O_CONTEXTS, O_DEPTHS, O_TRIALS, O_SCORES, O_SCTX, O_STRIALS, O_PROMPT, O_PROMPTF,
           O_TEMP, O_TOPK, O_TOPP, O_NSAMP, O_TASK, O_PAIRS, O_QUERIES, O_WINDOWOUT, O_EDGES, O_SPREAD };
    static struct option opts[] = {
        {"help", no_argument, 0, 'h'}, {"ckpt", required_argument, 0, 'c'}, {"data", required_argument, 0, 'd'},
        {"out", required_argument, 0, 'o'}, {"context", required_argument, 0, 't'},
        SHARED_LONG_OPTIONS, {"windows", required_argument, 0, O_WINDOWS},
        {"buckets", required_argument, 0, O_BUCKETS}, {"contexts", required_argument, 0, O_CONTEXTS},
        {"depths", required_argument, 0, O_DEPTHS}, {"trials", required_argument, 0, O_TRIALS},
        {"scores", required_argument, 0, O_SCORES},
        {"score-context", required_argument, 0, O_SCTX}, {"score-trials", required_argument, 0, O_STRIALS},
        {"prompt", required_argument, 0, O_PROMPT}, {"prompt-file", required_argument, 0, O_PROMPTF},
        {"tokens", required_argument, 0, 'n'}, {"temperature", required_argument, 0, O_TEMP},
        {"top-k", required_argument, 0, O_TOPK}, {"top-p", required_argument, 0, O_TOPP},
        {"num-samples", required_argument, 0, O_NSAMP}, {"task", required_argument, 0, O_TASK},
        {"pairs", required_argument, 0, O_PAIRS}, {"queries", required_argument, 0, O_QUERIES},
        {"window-out", required_argument, 0, O_WINDOWOUT}, {"edges", required_argument, 0, O_EDGES},
        {"spread", no_argument, 0, O_SPREAD}, {0, 0, 0, 0}};
    double vals[MAX_LIST];
    int c;
    opterr = 0;
    optind = 2;
    while ((c = getopt_long(argc, argv, "hc:d:o:t:n:", opts, NULL)) != -1) {
        if (shared_flag(&o.sh, c, optarg, "eval_gpt")) continue;
        switch (c) {
        case 'h': usage(); exit(0);
        case 'c': o.ckpt = optarg; break;
        case 'd': o.data = optarg; break;
        case 'o': o.out = optarg; break;
        case 't': o.context = (int)parse_int(optarg, "--context", 2, 1 << 22); break;
        case O_WINDOWS: o.windows = (int)parse_int(optarg, "--windows", 1, 1 << 20); break;
        case O_BUCKETS: o.buckets = (int)parse_int(optarg, "--buckets", 1, 4096); break;
        case O_CONTEXTS:
            o.ncontexts = parse_list(optarg, "--contexts", vals, 2, 1 << 22);
            for (int i = 0; i < o.ncontexts; i++) {
                if (vals[i] != floor(vals[i])) die("--contexts takes whole token counts, got %g\nHINT: e.g. --contexts 256,512,1024", vals[i]);
                o.contexts[i] = (int)vals[i];
            }
            break;
        case O_DEPTHS: o.ndepths = parse_list(optarg, "--depths", o.depths, 0, 1); break;
        case O_TRIALS: o.trials = (int)parse_int(optarg, "--trials", 1, 1 << 20); break;
        case O_SCORES: o.scores = optarg; break;
        case O_SCTX: o.score_context = (int)parse_int(optarg, "--score-context", 2, 1 << 22); break;
        case O_STRIALS: o.score_trials = (int)parse_int(optarg, "--score-trials", 1, 1 << 20); break;
        case O_PROMPT: o.prompt = optarg; break;
        case O_PROMPTF: o.prompt_file = optarg; break;
        case 'n': o.gen_tokens = (int)parse_int(optarg, "--tokens", 1, 1 << 24); break;
        case O_TEMP: o.temperature = (float)parse_num(optarg, "--temperature", 1e-4, 100); break;
        case O_TOPK: o.top_k = (int)parse_int(optarg, "--top-k", 0, 1 << 20); break;
        case O_TOPP: o.top_p = (float)parse_num(optarg, "--top-p", 1e-6, 1); break;
        case O_NSAMP: o.num_samples = (int)parse_int(optarg, "--num-samples", 1, 1 << 20); break;
        case O_WINDOWOUT: o.window_out = optarg; break;
        case O_SPREAD: o.spread = 1; break;
        case O_EDGES:
            o.nedges = parse_list(optarg, "--edges", vals, 1, 1 << 22);
            for (int i = 0; i < o.nedges; i++) {
                if (vals[i] != floor(vals[i]) || (i && vals[i] <= vals[i - 1]))
                    die("--edges takes ascending whole positions, got %s\nHINT: e.g. --edges 64,128,1024,16384", optarg);
                o.edges[i] = (int)vals[i];
            }
            break;
        case O_TASK: o.task = optarg; parse_named(optarg, "--task", retrieval_names, RETRIEVAL_COUNT, "eval_gpt"); break;
        case O_PAIRS: o.pairs = (int)parse_int(optarg, "--pairs", 1, RETRIEVAL_MAX_PAIRS); break;
        case O_QUERIES: o.queries = (int)parse_int(optarg, "--queries", 1, RETRIEVAL_MAX_PAIRS); break;
        case '?':
            if (optopt) die("option -%c needs a value or is unknown\nHINT: see eval_gpt --help", optopt);
            die("unknown option '%s'\nHINT: see eval_gpt --help", argv[optind - 1]);
        default: die("unknown option\nHINT: see eval_gpt --help");
        }
    }
    if (optind < argc) die("unexpected argument '%s'\nHINT: options start with -- (see eval_gpt --help)", argv[optind]);
    if (!o.ckpt) die("eval_gpt %s needs a checkpoint\nHINT: eval_gpt %s -c runs/ssmax/ckpt_00001000.bin", o.mode, o.mode);
    if (o.queries > o.pairs)
        die("--queries %d is more than --pairs %d\nHINT: use the --pairs and --queries the model was trained with", o.queries, o.pairs);
    if (!o.out) o.out = !strcmp(o.mode, "lengths") ? "lengths.csv" : !strcmp(o.mode, "retrieval") ? "retrieval.csv" :
                        !strcmp(o.mode, "export") ? "export" : "needle.csv";
    return o;
}

// the model, with --rope-theta applied; T_train is the training length it was made for
static void load(GPT *m, const Options *o, int *T_train) {
    TrainState st = {0};
    GPTConfig file_config = checkpoint_read_config(o->ckpt, NULL, &st), c = file_config; // the header, read once
    if (o->sh.rope_theta > 0) {
        if (c.pos != POS_ROPE) die("--rope-theta: '%s' has %s positions, not RoPE\nHINT: drop --rope-theta", o->ckpt, pos_names[c.pos]);
        c.rope_theta = o->sh.rope_theta;
    }
    *T_train = c.train_len > 0 ? c.train_len : st.T > 0 ? st.T : c.max_seq_len;
    c.train_len = *T_train;
    // config (e): the checkpoint's other tensors, the new normalizer's parameters at their initial values
    if (o->sh.attn) config_convert_normalizer(&c, parse_normalizer(o->sh.attn, "--attn", "eval_gpt"), o->sh.ssmax_s0, *T_train);
    gpt_build(m, &c);
    checkpoint_load_read(m, o->ckpt, &file_config, 0, 0); // refuses non-finite weights before any output
}

static int max_context(const GPT *m, int want) {
    char why[256];
    if (gpt_length_check(&m->config, want, why, sizeof(why)))
        die("%s\nHINT: length generalisation needs a RoPE model (--pos rope); or lower the context", why);
    return want;
}

// ----------------------------------------------------------------------------

static void run_lengths(const Options *o) {
    GPT m;
    int T_train;
    load(&m, o, &T_train);
    int n = max_context(&m, o->context > 0 ? o->context : 32 * T_train);
    if (o->nedges && o->edges[o->nedges - 1] != n)
        die("--edges ends at %d, but the context is %d\nHINT: the last edge is the context length (-t)", o->edges[o->nedges - 1], n);
    DataLoader dl;
    dataloader_init(&dl, o->data, 1, n, 0, 0);
    dataloader_check_vocab(&dl, m.config.vocab_size, m.config.tokenizer);
    int windows = (size_t)o->windows < dl.nwindows ? o->windows : (int)dl.nwindows;
    printf("eval_gpt lengths: %s (%s, trained at T=%d), context %d (%.1fx), %d held-out window%s, rope theta %g, %.0f MiB\n",
           o->ckpt, normalizers[m.config.attn].name, T_train, n, (double)n / T_train, windows, windows == 1 ? "" : "s",
           m.config.pos == POS_ROPE ? m.config.rope_theta : 0.0, gpt_eval_bytes(&m.config, 1, n) / 1048576.0);
    double *sum = malloc_check((size_t)n * sizeof(double)); // zeroed
    float *losses = malloc_check((size_t)n * sizeof(float));
    float *per_window = o->window_out ? malloc_check((size_t)windows * n * sizeof(float)) : NULL;
    double t0 = now_seconds();
    for (int w = 0; w < windows; w++) {
        if (o->spread) dataloader_seek(&dl, 0, (size_t)w * dl.nwindows / windows); // evenly over all the data
        dataloader_next_batch(&dl);
        EvalOutputs out = {.losses = losses};
        gpt_evaluate(&m, dl.inputs, dl.targets, 1, n, &out);
        for (int t = 0; t < n; t++) {
            if (!isfinite(losses[t])) die("the loss at position %d is %f\nHINT: the checkpoint holds non-finite weights", t, losses[t]);
            sum[t] += losses[t];
        }
        if (per_window) memcpy(per_window + (size_t)w * n, losses, (size_t)n * sizeof(float));
    }
    // buckets with log-spaced edges over positions 1..n (position = number of tokens seen, t+1)
    int *edges = malloc_check((size_t)(o->buckets + MAX_LIST + 1) * sizeof(int)), nb = 0;
    edges[0] = 0;
    if (o->nedges) { // given: they must end at the context
        for (int k = 0; k < o->nedges; k++) edges[++nb] = o->edges[k];
    } else {
        for (int k = 1; k <= o->buckets; k++) {
            int edge = k == o->buckets ? n : (int)ceil(pow((double)n, (double)k / o->buckets));
            if (edge > edges[nb]) edges[++nb] = edge;
        }
    }
    FILE *f = fopen_check(o->out, "w"), *g = per_window ? fopen_check(o->window_out, "w") : NULL;
    fprintf(f, "position_start,position_end,loss,count\n");
    printf("%14s %10s\n", "positions", "loss");
    for (int k = 0; k < nb; k++) {
        int lo = edges[k], hi = edges[k + 1];
        double s = 0;
        for (int t = lo; t < hi; t++) s += sum[t];
        double loss = s / ((double)(hi - lo) * windows);
        fprintf(f, "%d,%d,%.6f,%d\n", lo + 1, hi, loss, (hi - lo) * windows);
        printf("%6d-%-7d %10.4f\n", lo + 1, hi, loss);
    }
    close_output(f, o->out);
    if (per_window) { // window,position_start,position_end,loss: the mean loss of one window over one bucket
        fprintf(g, "window,position_start,position_end,loss\n");
        for (int w = 0; w < windows; w++)
            for (int k = 0; k < nb; k++) {
                double s = 0;
                for (int t = edges[k]; t < edges[k + 1]; t++) s += per_window[(size_t)w * n + t];
                fprintf(g, "%d,%d,%d,%.6f\n", w, edges[k] + 1, edges[k + 1], s / (edges[k + 1] - edges[k]));
            }
        close_output(g, o->window_out);
        free(per_window);
    }
    free(edges);
    double all = 0, inside = 0;
    for (int t = 0; t < n; t++) { all += sum[t]; if (t < T_train) inside += sum[t]; }
    printf("mean loss: positions 1-%d %.4f, all %d positions %.4f; %.1fs; wrote %s\n", T_train < n ? T_train : n,
           inside / ((T_train < n ? T_train : n) * (double)windows), n, all / ((double)n * windows), now_seconds() - t0, o->out);
    free(sum); free(losses);
    dataloader_free(&dl);
    gpt_free(&m);
}

// ----------------------------------------------------------------------------

// exact: every answer token right; first: the first one; tokens: the fraction of answer tokens right
// (digits, for the byte tokenizer). score_example also writes the attention on the needle to mass (L, NH)
typedef struct { int exact, first; double tokens; } NeedleResult;

static NeedleResult score_example(GPT *m, const NeedleExample *ex, int *argmax, float *mass) {
    int q = ex->answer_start - 1, k0 = ex->needle_start, k1 = ex->needle_end;
    EvalOutputs out = {.argmax = argmax, .probe_t = &q, .probe_k0 = &k0, .probe_k1 = &k1, .probe_mass = mass};
    gpt_evaluate(m, ex->tokens, NULL, 1, ex->n, &out);
    NeedleResult r = {0, argmax[q] == ex->tokens[q + 1], 0};
    int right = 0;
    for (int t = q; t < ex->n; t++) right += argmax[t] == ex->tokens[t + 1];
    r.exact = right == ex->n - q;
    r.tokens = (double)right / (ex->n - q);
    return r;
}

static uint64_t example_seed(int seed, int context, int depth_index, int trial) {
    return random_seed((uint64_t)seed, ((uint64_t)context << 32) ^ ((uint64_t)depth_index << 20) ^ (uint64_t)trial);
}

static void run_needle(Options *o) {
    GPT m;
    int T_train;
    load(&m, o, &T_train);
    if (m.config.tokenizer != TOKENIZER_BYTE && m.config.tokenizer != TOKENIZER_GPT2)
        die("'%s' does not say which tokenizer made its ids\nHINT: needle examples need the byte or gpt2 tokenizer", o->ckpt);
    Tokenizer tok;
    tokenizer_init_kind(&tok, m.config.tokenizer, o->sh.gpt2_dir);
    if (!o->ncontexts) {
        int mult[] = {1, 2, 4, 8, 12};
        for (int i = 0; i < 5; i++) o->contexts[o->ncontexts++] = mult[i] * T_train;
    }
    if (!o->ndepths) { for (int i = 0; i <= 4; i++) o->depths[i] = i / 4.0; o->ndepths = 5; }
    int longest = o->score_context > 0 ? o->score_context : 8 * T_train;
    for (int i = 0; i < o->ncontexts; i++) {
        max_context(&m, o->contexts[i]);
        if (o->contexts[i] > longest) longest = o->contexts[i];
    }
    if (!o->score_context) o->score_context = 8 * T_train;
    for (int i = 0; i <= o->ncontexts; i++) { // before any file is written
        int n = i < o->ncontexts ? o->contexts[i] : o->score_context;
        if ((i < o->ncontexts || o->scores) && n < needle_min_context(&tok))
            die("a context of %d tokens is too short for a needle example\nHINT: use contexts of at least %d tokens", n, needle_min_context(&tok));
    }
    if (o->scores) max_context(&m, o->score_context);
    DataLoader dl; // the haystack: the largest held-out shard
    dataloader_init(&dl, o->data, 1, 1, 0, 0);
    dataloader_check_vocab(&dl, m.config.vocab_size, m.config.tokenizer);
    const Shard *hay = dataloader_largest_shard(&dl);
    int L = m.config.num_layers, NH = m.config.num_heads;
    int *argmax = malloc_check((size_t)(longest + 1) * sizeof(int));
    float *mass = malloc_check((size_t)L * NH * sizeof(float));
    printf("eval_gpt needle: %s (%s, trained at T=%d), rope theta %g, %d trials per cell, haystack %s (%zu tokens)\n",
           o->ckpt, normalizers[m.config.attn].name, T_train, m.config.pos == POS_ROPE ? m.config.rope_theta : 0.0, o->trials,
           hay->path, hay->ntok);
    FILE *f = fopen_check(o->out, "w");
    fprintf(f, "context,depth,trials,exact,first_digit,answer_tokens,distance\n");
    printf("%8s", "context");
    for (int d = 0; d < o->ndepths; d++) printf("  d=%-5.2f", o->depths[d]);
    printf("  (exact-match accuracy)\n");
    double t0 = now_seconds();
    for (int ci = 0; ci < o->ncontexts; ci++) {
        printf("%8d", o->contexts[ci]);
        for (int d = 0; d < o->ndepths; d++) {
            int exact = 0, first = 0;
            double tokens = 0, distance = 0;
            for (int trial = 0; trial < o->trials; trial++) {
                uint64_t rng = example_seed(o->sh.seed, o->contexts[ci], d, trial);
                NeedleExample ex;
                needle_make(&ex, &tok, hay->tokens, hay->ntok, o->contexts[ci], o->depths[d], &rng);
                NeedleResult r = score_example(&m, &ex, argmax, mass);
                exact += r.exact; first += r.first; tokens += r.tokens;
                distance += needle_distance(&ex);
                needle_free(&ex);
            }
            fprintf(f, "%d,%.4f,%d,%.4f,%.4f,%.4f,%.1f\n", o->contexts[ci], o->depths[d], o->trials, (double)exact / o->trials,
                    (double)first / o->trials, tokens / o->trials, distance / o->trials);
            printf("  %7.2f", (double)exact / o->trials);
            fflush(stdout);
        }
        printf("\n");
    }
    close_output(f, o->out);
    printf("wrote %s (%.1fs)\n", o->out, now_seconds() - t0);

    if (o->scores) { // Figs. 7 and 8: attention on the needle at one context, random depths
        char heads_path[4096];
        snprintf(heads_path, sizeof(heads_path), "%s", o->scores);
        char *dot = strrchr(heads_path, '.');
        if (dot && !strcmp(dot, ".csv")) *dot = 0;
        strncat(heads_path, "_heads.csv", sizeof(heads_path) - strlen(heads_path) - 1);
        double *head_sum = malloc_check((size_t)L * NH * sizeof(double)); // zeroed
        FILE *g = fopen_check(o->scores, "w");
        fprintf(g, "trial,context,depth,result,best_score,best_layer,best_head,distance\n");
        int counts[3] = {0, 0, 0};
        for (int trial = 0; trial < o->score_trials; trial++) {
            uint64_t rng = example_seed(o->sh.seed + 1, o->score_context, 0, trial);
            double depth = random_f32(&rng);
            NeedleExample ex;
            needle_make(&ex, &tok, hay->tokens, hay->ntok, o->score_context, depth, &rng);
            NeedleResult r = score_example(&m, &ex, argmax, mass);
            int best = 0;
            for (int k = 0; k < L * NH; k++) { head_sum[k] += mass[k]; if (mass[k] > mass[best]) best = k; }
            const char *result = r.exact ? "exact" : r.first ? "first_digit" : "wrong";
            counts[r.exact ? 0 : r.first ? 1 : 2]++;
            fprintf(g, "%d,%d,%.4f,%s,%.6f,%d,%d,%d\n", trial, o->score_context, depth, result, mass[best], best / NH, best % NH,
                    needle_distance(&ex));
            needle_free(&ex);
        }
        close_output(g, o->scores);
        FILE *hf = fopen_check(heads_path, "w");
        fprintf(hf, "layer,head,mean_score\n");
        for (int k = 0; k < L * NH; k++) fprintf(hf, "%d,%d,%.6f\n", k / NH, k % NH, head_sum[k] / o->score_trials);
        close_output(hf, heads_path);
        printf("needle scores at context %d: %d exact, %d first digit only, %d wrong of %d; wrote %s and %s\n",
               o->score_context, counts[0], counts[1], counts[2], o->score_trials, o->scores, heads_path);
        free(head_sum);
    }
    free(argmax); free(mass);
    dataloader_free(&dl);
    gpt_free(&m);
}

// ----------------------------------------------------------------------------
// generate: text from a prompt, each token written as it is drawn

// ----------------------------------------------------------------------------

// retrieval: per context, the answers right (every answer token the argmax) in distance bins [2^k, 2^(k+1))
static void run_retrieval(Options *o) {
    GPT m;
    int T_train;
    load(&m, o, &T_train);
    RetrievalTask task = {parse_choice(o->task, retrieval_names, RETRIEVAL_COUNT), o->pairs, o->queries};
    const char *bad = retrieval_check(&task, m.config.vocab_size);
    if (*bad) die("--task %s: %s\nHINT: evaluate a model trained with train_gpt --task %s", o->task, bad, o->task);
    Tokenizer tok = {0};
    DataLoader dl = {0};
    const Shard *hay = NULL;
    if (task.kind == RETRIEVAL_PASSKEY) {
        if (m.config.tokenizer != TOKENIZER_BYTE && m.config.tokenizer != TOKENIZER_GPT2)
            die("'%s' does not say which tokenizer made its ids\nHINT: passkey examples need the byte or gpt2 tokenizer", o->ckpt);
        tokenizer_init_kind(&tok, m.config.tokenizer, o->sh.gpt2_dir);
        dataloader_init(&dl, o->data, 1, 1, 0, 0);
        dataloader_check_vocab(&dl, m.config.vocab_size, m.config.tokenizer);
        hay = dataloader_largest_shard(&dl);
    }
    if (!o->ncontexts) {
        int mult[] = {1, 2, 4, 8, 16};
        for (int i = 0; i < 5; i++) o->contexts[o->ncontexts++] = mult[i] * T_train;
    }
    int longest = 0, need = retrieval_min_context(&task, &tok);
    for (int i = 0; i < o->ncontexts; i++) { // before any file is written
        max_context(&m, o->contexts[i]);
        if (o->contexts[i] < need)
            die("a context of %d tokens is too short for a %s example\nHINT: use contexts of at least %d tokens", o->contexts[i], o->task, need);
        if (o->contexts[i] > longest) longest = o->contexts[i];
    }
    int *argmax = malloc_check((size_t)(longest + 1) * sizeof(int));
    enum { BINS = 24 };
    printf("eval_gpt retrieval: %s (%s, trained at T=%d), task %s", o->ckpt, normalizers[m.config.attn].name, T_train, o->task);
    if (task.kind == RETRIEVAL_MQAR) printf(" (%d pairs, %d queries)", task.pairs, task.queries);
    printf(", rope theta %g, %d trials per context\n", m.config.pos == POS_ROPE ? m.config.rope_theta : 0.0, o->trials);
    FILE *f = fopen_check(o->out, "w");
    fprintf(f, "context,distance_start,distance_end,answers,correct\n");
    printf("%8s %10s %9s\n", "context", "accuracy", "answers");
    double t0 = now_seconds();
    for (int ci = 0; ci < o->ncontexts; ci++) {
        int n = o->contexts[ci];
        long total[BINS] = {0}, right[BINS] = {0};
        for (int trial = 0; trial < o->trials; trial++) {
            uint64_t rng = random_seed((uint64_t)o->sh.seed, ((uint64_t)n << 32) ^ 0x72657472ULL ^ (uint64_t)trial);
            RetrievalExample ex;
            retrieval_make(&ex, &task, &tok, hay ? hay->tokens : NULL, hay ? hay->ntok : 0, n, &rng);
            EvalOutputs out = {.argmax = argmax};
            gpt_evaluate(&m, ex.tokens, NULL, 1, n, &out);
            for (int a = 0; a < ex.answers; a++) {
                int ok = 1;
                for (int t = ex.start[a]; t < ex.end[a]; t++) ok &= argmax[t - 1] == ex.tokens[t];
                int d = ex.start[a] - 1 - ex.source[a], bin = 0;
                while (bin < BINS - 1 && (2L << bin) <= d) bin++;
                total[bin]++;
                right[bin] += ok;
            }
            retrieval_free(&ex);
        }
        long all = 0, all_right = 0;
        for (int b = 0; b < BINS; b++) {
            if (!total[b]) continue;
            fprintf(f, "%d,%ld,%ld,%ld,%ld\n", n, b ? 1L << b : 1L, (2L << b) - 1, total[b], right[b]);
            all += total[b];
            all_right += right[b];
        }
        printf("%8d %10.3f %9ld\n", n, (double)all_right / all, all);
        fflush(stdout);
    }
    close_output(f, o->out);
    printf("wrote %s (%.1fs)\n", o->out, now_seconds() - t0);
    free(argmax);
    if (hay) dataloader_free(&dl);
    gpt_free(&m);
}

// export: the checkpoint's weights (with --attn conversion, if asked) as model.safetensors + config.json
static void run_export(const Options *o) {
    GPT m;
    int T_train;
    load(&m, o, &T_train);
    safetensors_export(&m, o->out);
    printf("eval_gpt export: %s (%s, %s positions, %zu parameters) -> %s/model.safetensors, %s/config.json\n", o->ckpt,
           normalizers[m.config.attn].name, pos_names[m.config.pos], m.num_parameters, o->out, o->out);
    gpt_free(&m);
}

static void emit_token(int token, void *arg) {
    const Tokenizer *tok = arg;
    tokenizer_decode(tok, &token, 1, stdout);
    fflush(stdout);
}

static void run_generate(const Options *o) {
    if (o->prompt && o->prompt_file) die("--prompt and --prompt-file exclude each other\nHINT: give one of them");
    GPT m;
    int T_train;
    load(&m, o, &T_train);
    if (m.config.tokenizer != TOKENIZER_BYTE && m.config.tokenizer != TOKENIZER_GPT2)
        die("'%s' does not say which tokenizer made its data, so a prompt cannot be tokenized\nHINT: generate from a model "
            "trained on shards made by prepare_data", o->ckpt);
    Tokenizer tok;
    tokenizer_init_kind(&tok, m.config.tokenizer, o->sh.gpt2_dir);
    TokenBuf ids = {0};
    tokenbuf_push(&ids, (uint16_t)tok.eot); // the text starts a document, as in training
    size_t plen = 0;
    unsigned char *text = NULL;
    if (o->prompt_file) {
        FILE *f = fopen_check(o->prompt_file, "rb");
        fseek(f, 0, SEEK_END);
        long n = ftell(f);
        fseek(f, 0, SEEK_SET);
        if (n < 0) die("cannot read '%s'\nHINT: give a regular file", o->prompt_file);
        text = malloc_check((size_t)n + 1);
        fread_check(text, 1, (size_t)n, f, "the prompt");
        fclose(f);
        plen = (size_t)n;
    } else if (o->prompt) {
        plen = strlen(o->prompt);
        text = malloc_check(plen + 1);
        memcpy(text, o->prompt, plen);
    }
    if (plen) tokenizer_encode(&tok, text, plen, &ids);
    int window = o->context > 0 ? o->context : T_train;
    window = max_context(&m, window);
    int *prompt = malloc_check(ids.n * sizeof(int));
    for (size_t i = 0; i < ids.n; i++) prompt[i] = ids.tok[i];
    Sampling s = {o->temperature, o->top_k, o->top_p};
    uint64_t rng = random_seed((uint64_t)o->sh.seed, 17);
    fprintf(stderr, "%s: %s, prompt %zu tokens, context %d (trained at %d), temperature %g, top-k %d, top-p %g, seed %d\n",
            o->ckpt, normalizers[m.config.attn].name, ids.n - 1, window, T_train, o->temperature, o->top_k, o->top_p, o->sh.seed);
    for (int k = 0; k < o->num_samples; k++) {
        if (o->num_samples > 1) printf("---- sample %d ----\n", k + 1);
        if (plen) fwrite(text, 1, plen, stdout);
        double secs = generate(&m, prompt, (int)ids.n, o->gen_tokens, window, &s, &rng, emit_token, &tok);
        printf("\n");
        fflush(stdout);
        fprintf(stderr, "%d tokens in %.2f s: %.0f tok/s\n", o->gen_tokens, secs, o->gen_tokens / (secs > 0 ? secs : 1e-9));
    }
    free(prompt); free(text); free(ids.tok);
    gpt_free(&m);
}

int main(int argc, char **argv) {
    Options o = parse_args(argc, argv);
    use_threads(o.sh.threads);
    if (!strcmp(o.mode, "lengths")) run_lengths(&o);
    else if (!strcmp(o.mode, "generate")) run_generate(&o);
    else if (!strcmp(o.mode, "retrieval")) run_retrieval(&o);
    else if (!strcmp(o.mode, "export")) run_export(&o);
    else run_needle(&o);
    return 0;
}
