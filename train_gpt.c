/*
 * train_gpt.c: the training loop. No kernels here: the network is in model/, the data in data/, the
 * flags in cli/train_options.c, the run folder's files in cli/runfolder.c. One process, OpenMP
 * threads. See README.md for every flag and file format.
 */
#include <errno.h>
#include <unistd.h>
#include <sys/resource.h>
#include "util/common.h"
#include "model/gpt.h"
#include "cli/train_options.h"
#include "cli/runfolder.h"
#include "cli/generate.h"
#include "model/optim.h"
#include "model/checkpoint.h"
#include "model/kernels/matmul.h"
#include "model/kernels/tier.h"
#include "data/dataloader.h"
#include "data/tokenizer.h"
#include "data/needle.h"
#include "data/retrieval.h"
#include "parallel/mpi.h"

const char *source_rev(void); // the git revision of the build: the Makefile writes build/source_rev.c

// ----------------------------------------------------------------------------
// the model config: preset, then checkpoint, then explicit flags

static const Preset *find_preset(const char *name) {
    const Preset *p = gpt_preset(name);
    if (p) return p;
    const char *names[64];
    for (int i = 0; i < num_presets && i < 64; i++) names[i] = presets[i].name;
    die("unknown model preset '%s'\nHINT: use one of %s", name, join_names(names, num_presets));
}

// an explicit flag that disagrees with a checkpoint's architecture is an error, not a silent choice
static void check_same(const char *what, int given, int have, const char *path) {
    if (given >= 0 && given != have)
        die("--%s %d disagrees with '%s', which has %d\nHINT: drop --%s to use the checkpoint's value", what, given, path, have, what);
}
static void check_same_name(const char *what, const char *given, const char *const *names, int n, int have, const char *path) {
    if (given && parse_choice(given, names, n) != have)
        die("--%s %s disagrees with '%s', which has %s\nHINT: drop --%s to use the checkpoint's value", what, given, path, names[have], what);
}

// --doc-mask: the end-of-text token of the data's tokenizer starts each document
static void set_doc_mask(GPTConfig *c, const char *source) {
    c->doc_mask = 1;
    c->eot = tokenizer_eot(c->tokenizer);
    if (c->eot < 0 || c->eot >= c->vocab_size)
        die("--doc-mask needs to know the end-of-text token, and '%s' does not say which tokenizer made it\nHINT: make the shards "
            "with prepare_data (byte or gpt2 tokenizer)", source);
}

// from_file: the header of the checkpoint ckpt (read once, by main), or NULL for a new model
static GPTConfig resolve_config(const Options *o, const char *ckpt, const GPTConfig *from_file, int data_vocab, int data_tokenizer, int T) {
    GPTConfig c;
    memset(&c, 0, sizeof(c));
    if (ckpt) {
        c = *from_file;
        check_same("layers", o->layers, c.num_layers, ckpt); check_same("heads", o->heads, c.num_heads, ckpt);
        check_same("width", o->width, c.channels, ckpt); check_same("ffn", o->ffn, c.ffn, ckpt);
        check_same("tie", o->tie, c.tie, ckpt); check_same("bias", o->bias, c.bias, ckpt);
        check_same("qk-norm", o->qk_norm, c.qk_norm, ckpt);
        check_same_name("pos", o->pos, pos_names, POS_COUNT, c.pos, ckpt);
        check_same_name("norm", o->norm, norm_names, NORM_COUNT, c.norm, ckpt);
        check_same_name("mlp", o->mlp, mlp_names, MLP_COUNT, c.mlp, ckpt);
        if (c.pos == POS_LEARNED) check_same("max-seq", o->max_seq, c.max_seq_len, ckpt);
        if (o->resume && !o->attn_switch_step) {
            if (o->sh.attn && parse_normalizer(o->sh.attn, "--attn", "train_gpt") != c.attn)
                die("--attn %s disagrees with '%s', which has %s\nHINT: drop --attn to use the checkpoint's value", o->sh.attn,
                    ckpt, normalizers[c.attn].name);
        } else if (o->sh.attn) { // e.g. Softmax -> SSMax
            config_convert_normalizer(&c, parse_normalizer(o->sh.attn, "--attn", "train_gpt"), NAN, T);
        }
        if (o->sh.rope_theta > 0) c.rope_theta = o->sh.rope_theta;
        if (!isnan(o->sh.ssmax_s0)) c.ssmax_s0 = o->sh.ssmax_s0;
        if (!o->resume || !c.train_len) c.train_len = T; // a resumed run keeps its own
        if (o->doc_mask > 0 && o->resume && !c.doc_mask)
            die("--doc-mask disagrees with '%s', which was trained without it\nHINT: drop --doc-mask to resume, or start from its weights with --init-from", ckpt);
        if (o->doc_mask > 0) set_doc_mask(&c, ckpt);
        return c;
    }
    const Preset *p = find_preset(o->model);
    int attn = parse_normalizer(o->sh.attn ? o->sh.attn : ATTN_DEFAULT, o->sh.attn ? "--attn" : "make ATTN=", "train_gpt");
    c = gpt_preset_config(p, data_vocab ? data_vocab : 50257, T, attn); // llm.c shards do not say: GPT-2
    if (!p->V) c.tokenizer = data_tokenizer ? data_tokenizer : TOKENIZER_GPT2;
    if (o->layers > 0) c.num_layers = o->layers;
    if (o->heads > 0) c.num_heads = o->heads;
    if (o->width > 0) c.channels = o->width;
    if (o->ffn > 0) c.ffn = o->ffn;
    if (o->pos) c.pos = parse_choice(o->pos, pos_names, POS_COUNT);
    if (o->norm) c.norm = parse_choice(o->norm, norm_names, NORM_COUNT);
    if (o->mlp) c.mlp = parse_choice(o->mlp, mlp_names, MLP_COUNT);
    if (o->tie >= 0) c.tie = o->tie;
    if (o->bias >= 0) c.bias = o->bias;
    if (o->max_seq > 0) c.max_seq_len = o->max_seq;
    if (o->sh.rope_theta > 0) c.rope_theta = o->sh.rope_theta;
    if (!isnan(o->sh.ssmax_s0)) c.ssmax_s0 = o->sh.ssmax_s0;
    c.train_len = T;
    if (o->doc_mask > 0) set_doc_mask(&c, o->train);
    if (o->qk_norm > 0) c.qk_norm = 1;
    char why[256];
    if (gpt_config_check(&c, why, sizeof(why))) die("invalid model: %s\nHINT: see train_gpt --help", why);
    return c;
}

// the training state of a checkpoint to resume: every field in the range a run can have written
static void check_train_state(const TrainState *st, const GPTConfig *c, const char *path) {
    const char *bad = st->step < 0 ? "step" : st->B < 1 || st->B > (1 << 20) ? "batch" : st->T < 1 || st->T > c->max_seq_len ? "sequence length"
                    : st->grad_accum < 1 || st->grad_accum > (1 << 20) ? "gradient accumulation" : st->seed < 0 ? "seed" : NULL;
    if (bad)
        die("'%s' holds an impossible training state (%s: step %d, B %d, T %d of at most %d, accumulation %d, seed %d)\n"
            "HINT: the file is corrupt; resume from an earlier checkpoint", path, bad, st->step, st->B, st->T, c->max_seq_len,
            st->grad_accum, st->seed);
}

// ----------------------------------------------------------------------------
// the normalizer's parameters over training

// ssmax.csv: every per-head parameter of the normalizer over training, one row per (step, layer, head).
// The SSMax family keeps its columns s,b (b empty where there is none); other normalizers have one
// column per parameter, named as in the table
static int param_columns(const Normalizer *nz) { return !strcmp(nz->param_names[0], "s") ? 2 : nz->nparams; }

static const char *param_csv_header(const Normalizer *nz) {
    static char h[256];
    snprintf(h, sizeof(h), "step,layer,head");
    for (int k = 0; k < param_columns(nz); k++) {
        strcat(h, ",");
        strcat(h, k < nz->nparams ? nz->param_names[k] : "b");
    }
    return h;
}

static void log_ssmax(FILE *f, const char *dir, const GPT *m, int step) {
    if (!f || !m->params.attn[0]) return; // none yet before --attn-switch-step
    const GPTConfig *c = &m->config;
    int ncol = param_columns(&normalizers[c->attn]);
    for (int l = 0; l < c->num_layers; l++)
        for (int h = 0; h < c->num_heads; h++) {
            int i = l * c->num_heads + h;
            fprintf(f, "%d,%d,%d", step, l, h);
            for (int k = 0; k < ncol; k++) {
                fprintf(f, ",");
                if (m->params.attn[k]) fprintf(f, "%.6f", m->params.attn[k][i]);
            }
            fprintf(f, "\n");
        }
    csv_flush(f, dir, "ssmax.csv");
}

// ----------------------------------------------------------------------------
// evaluation and sampling

// mean validation loss over the first `batches` global batches; each rank evaluates its rows. The
// evaluation pass holds no (B,T,Vp) logits, so validation allocates nothing beside the training buffers
// but its own O(B*T*C) ones (the same losses as gpt_forward)
// the mean loss over the positions of a batch that have a target, summed in order as gpt_forward does
static double batch_loss(GPT *model, const int *inputs, const int *targets, int B, int T, float *losses) {
    EvalOutputs out = {.losses = losses};
    gpt_evaluate(model, inputs, targets, B, T, &out);
    double batch = 0;
    size_t count = 0;
    for (size_t j = 0; j < (size_t)B * T; j++) if (targets[j] >= 0) { batch += losses[j]; count++; }
    return count ? (float)(batch / count) : -1.0f;
}

// spread: batch i starts at window i * avail / batches of the avail whole batches, so the batches cover
// all the validation data; else they are the first ones
static float evaluate(GPT *model, DataLoader *val, int batches, int spread, const Dist *dist) {
    dataloader_reset(val);
    size_t avail = val->nwindows / ((size_t)val->B * val->world);
    if (avail < 1) avail = 1;
    if ((size_t)batches > avail) batches = (int)avail;
    float *losses = malloc_check((size_t)val->B * val->T * sizeof(float));
    double sum = 0;
    for (int i = 0; i < batches; i++) {
        if (spread) dataloader_seek(val, 0, (size_t)i * avail / batches * val->B * val->world);
        dataloader_next_batch(val);
        sum += batch_loss(model, val->inputs, val->targets, val->B, val->T, losses);
    }
    free(losses);
    return (float)(dist_sum_double(dist, sum, "the validation loss") / dist->world / batches);
}

// a sample from the end-of-text token, through the KV cache as eval_gpt generate draws (context T)
typedef struct { int *ids, n; } Collected;
static void collect(int token, void *arg) { Collected *c = arg; c->ids[c->n++] = token; }

static void sample(GPT *model, const Tokenizer *tok, int len, int T, float temperature, uint64_t *rng) {
    Collected got = {malloc_check((size_t)len * sizeof(int)), 0};
    Sampling s = {temperature, 0, 1.0f};
    generate(model, &tok->eot, 1, len, T, &s, rng, collect, &got);
    printf("---- sample ----\n");
    tokenizer_decode(tok, got.ids, got.n, stdout);
    printf("\n----------------\n");
    free(got.ids);
}

static void print_config(const Options *o, const GPTConfig *c, const char *ckpt, int B, int T, const DataLoader *train,
                         const DataLoader *val, int threads, int start_step, const char *out, int world) {
    size_t sizes[NUM_PARAM_TENSORS], nparams = 0;
    gpt_param_sizes(sizes, c);
    for (int i = 0; i < NUM_PARAM_TENSORS; i++) nparams += sizes[i];
    size_t act_bytes = gpt_activation_bytes(c, B, T, 1);
    printf("+------------------------+------------------------------------------------+\n");
#define ROW(k, ...) do { char v_[512]; snprintf(v_, sizeof(v_), __VA_ARGS__); printf("| %-22s | %-46s |\n", k, v_); } while (0)
    ROW("model", "%s", ckpt ? ckpt : o->model);
    if (o->attn_switch_step > 0) ROW("attention", "softmax, then %s from step %d", o->sh.attn, o->attn_switch_step);
    else ROW("attention", "%s", normalizers[c->attn].name);
    if (normalizer_uses_s0(c->attn) || o->attn_switch_step > 0) ROW("ssmax s0", "%.6f%s", c->ssmax_s0, normalizers[c->attn].learnable ? "" : " (fixed)");
    ROW("layers / heads / width", "%d / %d / %d (head size %d)", c->num_layers, c->num_heads, c->channels, c->channels / c->num_heads);
    ROW("mlp", "%s, hidden %d", mlp_names[c->mlp], c->ffn);
    ROW("norm / positions", "%s / %s", norm_names[c->norm], pos_names[c->pos]);
    if (c->qk_norm) ROW("qk-norm", "on: per-head RMSNorm of q, k; learned gains");
    if (c->doc_mask) ROW("document mask", "on: attention stops at token %d (end of text)", c->eot);
    if (c->pos == POS_ROPE) ROW("rope theta", "%g", c->rope_theta);
    ROW("embeddings", "%s, biases %s", c->tie ? "tied" : "untied", c->bias ? "on" : "off");
    ROW("vocab (padded)", "%d (%d), %s tokenizer", c->vocab_size, c->padded_vocab_size, tokenizer_names[c->tokenizer]);
    ROW("parameters", "%zu (%.2fM)", nparams, nparams / 1e6);
    ROW("memory", "params+grads+adam %.1f MiB, acts %.1f MiB", 16.0 * nparams / 1048576.0, act_bytes / 1048576.0);
    if (train) ROW("train data", "%s (%zu windows)", o->train, train->nwindows);
    if (val) ROW("val data", "%s (%zu windows)", o->val, val->nwindows);
    ROW("batch", "B=%d T=%d accum=%d: %zu tok/step", B, T, o->grad_accum, (size_t)B * T * o->grad_accum * world);
    if (!strcmp(o->task, "needle"))
        ROW("task", "%s: loss on %s", o->task, !strcmp(o->needle_loss, "answer") ? "the answer tokens only" :
            !strcmp(o->needle_loss, "question") ? "the question and the answer" : "every token");
    else if (!strcmp(o->task, "passkey"))
        ROW("task", "passkey: a 7-digit key in training text, loss on the answer only");
    else if (!strcmp(o->task, "mqar") || !strcmp(o->task, "recall"))
        ROW("task", "%s: %d key-value pairs, %d queries, random filler; loss on the answers only", o->task, o->pairs, o->queries);
    else if (o->needle_frac > 0)
        ROW("task", "lm, %.3g of the windows carry a needle (loss on every token)", o->needle_frac);
    ROW("steps", "%d%s", o->steps, o->resume ? " (resumed)" : "");
    if (o->resume) ROW("resume from", "step %d", start_step);
    ROW("lr schedule", "%s, peak %g, warmup %d", o->schedule, o->lr, o->warmup);
    ROW("adamw", "betas %g/%g eps %g wd %g", o->beta1, o->beta2, o->eps, o->wd);
    ROW("grad clip", "%g", o->clip);
    ROW("seed / threads", "%d / %d", o->sh.seed, threads);
    ROW("kernels", "%s tier (matmul %s) on %s", kernel_tier(), gemm_kernel_name(), cpu_model_name());
    ROW("source", "%s", source_rev());
    if (world > 1) ROW("data parallel", "%d MPI ranks x %d threads: global batch %d", world, threads, B * world);
    ROW("output", "%s", out);
#undef ROW
    printf("+------------------------+------------------------------------------------+\n");
    fflush(stdout);
}

static void format_eta(char *buf, size_t n, double seconds) {
    int s = (int)(seconds + 0.5);
    if (s >= 3600) snprintf(buf, n, "%dh%02dm", s / 3600, s / 60 % 60);
    else snprintf(buf, n, "%dm%02ds", s / 60, s % 60);
}

// retrieval examples of context T at random depths: this rank's B rows of a global batch of world*B
// examples drawn in order from rng. Targets from the answer on (loss 0), the question on (1), or all (2)
static void needle_batch(const Tokenizer *tok, const Shard *hay, int B, int T, int loss, uint64_t *rng, int *inputs,
                         int *targets, const Dist *dist) {
    for (int g = 0; g < B * dist->world; g++) {
        NeedleExample ex;
        needle_make(&ex, tok, hay->tokens, hay->ntok, T, random_f32(rng), rng);
        int b = g - dist->rank * B;
        if (b < 0 || b >= B) { needle_free(&ex); continue; }
        for (int t = 0; t < T; t++) {
            inputs[b * T + t] = ex.tokens[t];
            int from = loss == 0 ? ex.answer_start : loss == 1 ? ex.question_start : 0;
            targets[b * T + t] = t + 1 >= from ? ex.tokens[t + 1] : -1;
        }
        needle_free(&ex);
    }
}

// retrieval examples (passkey, mqar) of context T: this rank's B rows of a global batch of world*B
// examples drawn in order from rng; targets on the answers only
static void retrieval_batch(const RetrievalTask *task, const Tokenizer *tok, const Shard *hay, int B, int T, uint64_t *rng,
                            int *inputs, int *targets, const Dist *dist) {
    for (int g = 0; g < B * dist->world; g++) {
        RetrievalExample ex;
        retrieval_make(&ex, task, tok, hay ? hay->tokens : NULL, hay ? hay->ntok : 0, T, rng);
        int b = g - dist->rank * B;
        if (b >= 0 && b < B) {
            memcpy(inputs + (size_t)b * T, ex.tokens, (size_t)T * sizeof(int));
            retrieval_targets(&ex, targets + (size_t)b * T);
        }
        retrieval_free(&ex);
    }
}

// --task passkey, mqar: the loss on the answers of examples of one fixed draw (not the run's seed), so
// every run of a task at a length sees the same validation examples; passkey haystacks from held-out text
static float evaluate_retrieval(GPT *model, const RetrievalTask *task, const Tokenizer *tok, const Shard *hay, DataLoader *val,
                                int batches, const Dist *dist) {
    float *losses = malloc_check((size_t)val->B * val->T * sizeof(float));
    double sum = 0;
    for (int i = 0; i < batches; i++) {
        uint64_t rng = random_seed(0x76616cULL, (uint64_t)i);
        retrieval_batch(task, tok, hay, val->B, val->T, &rng, val->inputs, val->targets, dist);
        sum += batch_loss(model, val->inputs, val->targets, val->B, val->T, losses);
    }
    free(losses);
    return (float)(dist_sum_double(dist, sum, "the validation loss") / dist->world / batches);
}

// --needle-frac: each row of a language-model batch, with probability frac, becomes a needle example cut
// from its own text (needle at a uniform depth, question and answer at the end; loss on every token).
// Each row draws from its own stream (seed, step, micro, global row), so ranks need not agree on anything
static void mix_needles(const Tokenizer *tok, float frac, int seed, int step, int micro, int B, int T, int *inputs,
                        int *targets, const Dist *dist) {
    uint16_t *hay = malloc_check((size_t)(T + 1) * sizeof(uint16_t));
    for (int b = 0; b < B; b++) {
        uint64_t g = (uint64_t)dist->rank * B + b;
        uint64_t rng = random_seed((uint64_t)seed, ((uint64_t)step << 36) ^ ((uint64_t)micro << 24) ^ g ^ 0x6e65656cULL);
        if (random_f32(&rng) >= frac) continue;
        int *in = inputs + (size_t)b * T, *tg = targets + (size_t)b * T;
        for (int t = 0; t < T; t++) hay[t] = (uint16_t)in[t];
        hay[T] = (uint16_t)tg[T - 1];
        NeedleExample ex;
        needle_make(&ex, tok, hay, (size_t)T + 1, T, random_f32(&rng), &rng);
        for (int t = 0; t < T; t++) { in[t] = ex.tokens[t]; tg[t] = ex.tokens[t + 1]; }
        needle_free(&ex);
    }
    free(hay);
}

static long peak_rss_mb(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss / 1024;
}

// ----------------------------------------------------------------------------

// everything a run holds between its steps
typedef struct {
    Options o;
    Dist dist;
    int threads, B, T;
    char ckpt_path[4096];
    const char *ckpt;       // the checkpoint the model comes from (resume or --init-from), or NULL
    GPTConfig from_file;    // its header, read once
    int has_opt;            // it holds AdamW moments
    TrainState st;          // its training state (resume)
    GPTConfig config;
    GPT model;
    DataLoader train, val;
    int have_val;
    Tokenizer tok;
    int can_sample, task, needle_loss;
    int synthetic;          // --task passkey, mqar, recall: retrieval examples made here
    RetrievalTask retrieval;
    const Shard *hay;       // --task needle, passkey: haystacks from the largest training shard
    const Shard *val_hay;   // --task passkey: validation haystacks from the largest validation shard
    int target_attn;        // the normalizer after --attn-switch-step (or from the start)
    float target_s0;
    int start_step;
    uint64_t rng;           // sampling
    char out_default[256];
    const char *out;
    LRSchedule sched;
    size_t tokens_per_step;
    FILE *logf, *ssf;
    int made_folder;        // this run created its output folder
    char last_ckpt[4096];
    double time_in_steps;
} Run;

// the checkpoint to start from, its header read once; a resumed run takes its own shape from it
static void setup_source(Run *r) {
    Options *o = &r->o;
    if (o->resume) {
        if (newest_checkpoint(o->resume, r->ckpt_path, sizeof(r->ckpt_path), NULL, 0) < 0)
            die("no checkpoint (ckpt_<step>.bin) in '%s' to resume from\nHINT: check the run folder, or start a new run without --resume", o->resume);
        if (!o->out) o->out = o->resume;
    } else if (o->init_from) {
        snprintf(r->ckpt_path, sizeof(r->ckpt_path), "%s", o->init_from);
    }
    r->ckpt = r->ckpt_path[0] ? r->ckpt_path : NULL;
    if (r->ckpt) r->from_file = checkpoint_read_config(r->ckpt, &r->has_opt, &r->st);
    if (o->resume && !r->has_opt) die("'%s' has no optimizer state to resume from\nHINT: use --init-from to start a new run from its weights", r->ckpt);
    if (o->resume) { // the run's own shape, unless the user asks otherwise
        TrainState *st = &r->st;
        check_train_state(st, &r->from_file, r->ckpt);
        if (o->seq < 0) o->seq = st->T;
        if (!o->batch_given) { // the checkpoint's global batch, over this run's ranks
            if (st->B % r->dist.world)
                die("the run's global batch of %d sequences does not divide over %d ranks\nHINT: use a rank count that divides %d, or give -b",
                    st->B, r->dist.world, st->B);
            o->batch = st->B / r->dist.world;
        }
        if (!o->accum_given) o->grad_accum = st->grad_accum;
        if (!o->sh.seed_given) o->sh.seed = st->seed;
    }
    r->T = o->seq > 0 ? o->seq : r->ckpt ? r->from_file.max_seq_len : find_preset(o->model)->T;
    r->B = o->batch;
}

// the data and the model config; returns 0 after --dry-run's table
static int setup_data(Run *r) {
    Options *o = &r->o;
    int B = r->B, T = r->T;
    int preset_fixes_vocab = r->ckpt || find_preset(o->model)->V > 0;
    if (o->dry_run && preset_fixes_vocab) { // the table needs no data
        GPTConfig config = resolve_config(o, r->ckpt, &r->from_file, 0, 0, T);
        print_config(o, &config, r->ckpt, B, T, NULL, NULL, r->threads, 0, "-", r->dist.world);
        return 0;
    }
    dataloader_init(&r->train, o->train, B, T, 1, (uint64_t)o->sh.seed);
    dataloader_set_rank(&r->train, r->dist.rank, r->dist.world);
    r->config = resolve_config(o, r->ckpt, &r->from_file, dataloader_vocab_size(&r->train), r->train.tokenizer, T);
    dataloader_check_vocab(&r->train, r->config.vocab_size, r->config.tokenizer);
    if (o->dry_run) {
        print_config(o, &r->config, r->ckpt, B, T, &r->train, NULL, r->threads, 0, "-", r->dist.world);
        return 0;
    }
    r->have_val = o->val_every > 0;
    if (r->have_val) {
        dataloader_init(&r->val, o->val, B, T, 0, 0);
        dataloader_set_rank(&r->val, r->dist.rank, r->dist.world);
        dataloader_check_vocab(&r->val, r->config.vocab_size, r->config.tokenizer);
    }
    if (o->sh.rope_theta > 0 && r->config.pos != POS_ROPE)
        fprintf(stderr, "note: --rope-theta has no effect: the model has %s positions, not RoPE\n", pos_names[r->config.pos]);
    if (!isnan(o->sh.ssmax_s0) && !normalizer_uses_s0(r->config.attn) && !(o->attn_switch_step > 0))
        fprintf(stderr, "note: --ssmax-s0 has no effect: %s has no parameter that starts at s0\n", normalizers[r->config.attn].name);
    char why[256];
    if (gpt_length_check(&r->config, T, why, sizeof(why))) die("-t %d: %s\nHINT: use -t <= %d, or a RoPE model (--pos rope)", T, why, r->config.max_seq_len);
    int known_tok = r->config.tokenizer == TOKENIZER_BYTE || r->config.tokenizer == TOKENIZER_GPT2;
    r->can_sample = o->sample_every > 0 && known_tok;
    r->task = parse_choice(o->task, task_names, TASK_COUNT);
    r->needle_loss = parse_choice(o->needle_loss, needle_loss_names, 3);
    int needles = r->task == TASK_NEEDLE || r->task == TASK_PASSKEY || o->needle_frac > 0; // text templates to tokenize
    if (needles && !known_tok)
        die("--task %s%s needs data made by the byte or gpt2 tokenizer; '%s' does not say which made it\nHINT: make the shards "
            "with prepare_data", o->task, o->needle_frac > 0 ? " --needle-frac" : "", o->train);
    if (r->can_sample || needles) tokenizer_init_kind(&r->tok, r->config.tokenizer, o->sh.gpt2_dir);
    r->hay = dataloader_largest_shard(&r->train);
    r->val_hay = r->have_val ? dataloader_largest_shard(&r->val) : NULL;
    for (int k = 0; k < RETRIEVAL_COUNT; k++) // passkey, mqar, recall: data/retrieval.h's tasks, by the same names
        if (!strcmp(o->task, retrieval_names[k])) { r->synthetic = 1; r->retrieval = (RetrievalTask){k, o->pairs, o->queries}; }
    int need = r->synthetic ? 0 : needle_min_context(&r->tok);
    if (r->synthetic) {
        const char *bad = retrieval_check(&r->retrieval, r->config.vocab_size);
        if (*bad) die("--task %s: %s\nHINT: use the byte tokenizer's data (make data), or see train_gpt --help", o->task, bad);
        need = retrieval_min_context(&r->retrieval, &r->tok);
    }
    if ((r->task != TASK_LM || o->needle_frac > 0) && T < need)
        die("--task %s%s at -t %d: an example needs at least %d tokens\nHINT: use -t %d or more", o->task,
            o->needle_frac > 0 ? " --needle-frac" : "", T, need, need);
    return 1;
}

// the model: random weights for a new run, the checkpoint's (and its optimizer state on resume) otherwise
static void setup_model(Run *r) {
    Options *o = &r->o;
    // --attn-switch-step: softmax first; config (f). A resumed run continues with its checkpoint's normalizer.
    r->target_attn = r->config.attn;
    r->target_s0 = r->config.ssmax_s0;
    if (o->attn_switch_step > 0 && (o->resume ? r->from_file.attn == ATTN_SOFTMAX : o->attn_switch_step > 1)) r->config.attn = ATTN_SOFTMAX;
    gpt_build(&r->model, &r->config);
    gpt_reserve(&r->model, r->B, r->T, r->have_val); // out of memory stops the run before its folder exists
    r->rng = random_seed((uint64_t)o->sh.seed, 7);
    if (!r->ckpt) {
        gpt_init_random(&r->model, (uint64_t)o->sh.seed);
        return;
    }
    int loaded_opt = checkpoint_load_read(&r->model, r->ckpt, &r->from_file, r->has_opt, o->resume != NULL);
    if (o->resume) {
        if (!loaded_opt) die("could not restore the optimizer state from '%s'", r->ckpt);
        r->start_step = r->st.step;
        r->rng = r->st.rng;
        if (r->st.data_pos > r->train.nwindows)
            die("'%s' resumes at training window %llu, but the training data has %zu windows\nHINT: resume with the "
                "data and -t the run was made with", r->ckpt, (unsigned long long)r->st.data_pos, r->train.nwindows);
        dataloader_seek(&r->train, r->st.data_epoch, r->st.data_pos);
    }
}

// the run folder and its logs; a resumed run drops log rows after its checkpoint, so its files equal an
// uninterrupted run's
// config.json in the run folder: the resolved model, the run's settings, the build and the machine,
// for scripts that compare runs (written at every start; a resumed run's reflects its latest start)
static void json_str(FILE *f, const char *key, const char *v) {
    fprintf(f, "    \"%s\": ", key);
    if (!v) { fprintf(f, "null,\n"); return; }
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
        if (*p == '"' || *p == '\\') fprintf(f, "\\%c", *p);
        else if (*p < 0x20) fprintf(f, "\\u%04x", *p);
        else fputc(*p, f);
    }
    fprintf(f, "\",\n");
}
static void json_num(FILE *f, const char *key, double v, int last) { // whole numbers whole, floats to their 7 digits
    fprintf(f, v == floor(v) && fabs(v) < 1e15 ? "    \"%s\": %.0f%s\n" : "    \"%s\": %.7g%s\n", key, v, last ? "" : ",");
}

static void write_config_json(const Run *r) {
    const Options *o = &r->o;
    const GPTConfig *c = &r->config;
    char path[4200];
    snprintf(path, sizeof(path), "%s/config.json", r->out);
    FILE *f = fopen_check(path, "w");
    fprintf(f, "{\n  \"model\": {\n");
    json_str(f, "preset", r->ckpt ? NULL : o->model);
    json_str(f, "attn", normalizers[r->target_attn].name);
    json_str(f, "pos", pos_names[c->pos]); json_str(f, "norm", norm_names[c->norm]); json_str(f, "mlp", mlp_names[c->mlp]);
    json_str(f, "tokenizer", c->tokenizer >= 0 && c->tokenizer < TOKENIZER_COUNT ? tokenizer_names[c->tokenizer] : "unknown");
    json_num(f, "layers", c->num_layers, 0); json_num(f, "heads", c->num_heads, 0); json_num(f, "width", c->channels, 0);
    json_num(f, "ffn", c->ffn, 0); json_num(f, "vocab", c->vocab_size, 0); json_num(f, "padded_vocab", c->padded_vocab_size, 0);
    json_num(f, "max_seq", c->max_seq_len, 0); json_num(f, "tie", c->tie, 0); json_num(f, "bias", c->bias, 0);
    json_num(f, "rope_theta", c->rope_theta, 0); json_num(f, "ssmax_s0", r->target_s0, 0);
    json_num(f, "train_len", c->train_len, 0); json_num(f, "doc_mask", c->doc_mask, 0); json_num(f, "qk_norm", c->qk_norm, 0);
    json_num(f, "parameters", (double)r->model.num_parameters, 1);
    fprintf(f, "  },\n  \"run\": {\n");
    json_str(f, "out", r->out); json_str(f, "train", o->train); json_str(f, "val", r->have_val ? o->val : NULL);
    json_str(f, "init_from", o->init_from); json_str(f, "resume", o->resume); json_str(f, "task", o->task);
    json_str(f, "needle_loss", o->needle_loss); json_num(f, "pairs", o->pairs, 0); json_num(f, "queries", o->queries, 0);
    json_num(f, "needle_frac", o->needle_frac, 0); json_num(f, "val_spread", o->val_spread, 0); json_str(f, "schedule", o->schedule);
    json_num(f, "seed", o->sh.seed, 0); json_num(f, "batch", r->B, 0); json_num(f, "seq", r->T, 0);
    json_num(f, "grad_accum", o->grad_accum, 0); json_num(f, "ranks", r->dist.world, 0);
    json_num(f, "tokens_per_step", (double)r->tokens_per_step, 0); json_num(f, "steps", o->steps, 0);
    json_num(f, "start_step", r->start_step, 0); json_num(f, "attn_switch_step", o->attn_switch_step, 0);
    json_num(f, "lr", o->lr, 0); json_num(f, "warmup", o->warmup, 0); json_num(f, "min_lr_frac", o->min_lr_frac, 0);
    json_num(f, "decay_frac", o->decay_frac, 0); json_num(f, "beta1", o->beta1, 0); json_num(f, "beta2", o->beta2, 0);
    json_num(f, "eps", o->eps, 0); json_num(f, "wd", o->wd, 0); json_num(f, "clip", o->clip, 0);
    json_num(f, "val_every", o->val_every, 0); json_num(f, "val_batches", o->val_batches, 1);
    fprintf(f, "  },\n  \"build\": {\n");
    json_str(f, "kernel_tier", kernel_tier()); json_str(f, "matmul_kernel", gemm_kernel_name());
    json_str(f, "compiler", __VERSION__); json_str(f, "cpu", cpu_model_name()); json_str(f, "source", source_rev());
    json_num(f, "threads", r->threads, 0); json_num(f, "checkpoint_version", c->qk_norm || c->doc_mask ? CKPT_VERSION : 1, 1);
    fprintf(f, "  }\n}\n");
    close_output(f, path);
}

static void setup_output(Run *r) {
    Options *o = &r->o;
    if (r->start_step >= o->steps) die("the run in '%s' already finished %d steps\nHINT: pass a larger --steps to train on", o->resume, r->start_step);
    snprintf(r->out_default, sizeof(r->out_default), "runs/%s", normalizers[r->target_attn].name);
    const char *out = r->out = o->out ? o->out : r->out_default;
    char parent[4096];
    snprintf(parent, sizeof(parent), "%s", out);
    for (char *p = parent + 1; *p; p++) if (*p == '/') { *p = 0; mkdir(parent, 0755); *p = '/'; }
    r->made_folder = mkdir(out, 0755) == 0;
    if (!r->made_folder && errno != EEXIST)
        die("cannot create run folder '%s' (%s)\nHINT: check that its parent is writable, or pick another -o", out, strerror(errno));
    if (!(o->resume && !strcmp(out, o->resume))) claim_run_folder(out, o->overwrite, r->dist.rank);

    LRSchedule sched = {parse_choice(o->schedule, schedule_names, SCHED_COUNT), o->lr, o->warmup, o->steps, o->min_lr_frac, o->decay_frac};
    r->sched = sched;
    r->tokens_per_step = (size_t)r->B * r->T * o->grad_accum * r->dist.world;
    print_config(o, &r->config, r->ckpt, r->B, r->T, &r->train, r->have_val ? &r->val : NULL, r->threads, r->start_step, out, r->dist.world);
    if (r->dist.rank == 0) write_config_json(r);

    char path[4096];
    if (o->resume && r->dist.rank == 0) {
        snprintf(path, sizeof(path), "%s/log.csv", out); truncate_csv(path, r->start_step);
        snprintf(path, sizeof(path), "%s/ssmax.csv", out); truncate_csv(path, r->start_step);
    }
    r->logf = r->dist.rank ? NULL : open_csv(out, "log.csv", "step,tokens,train_loss,val_loss,lr,grad_norm,step_ms,tok_per_s", o->resume != NULL);
    const Normalizer *nz = &normalizers[r->target_attn];
    r->ssf = nz->nparams > 0 && r->dist.rank == 0 ? open_csv(out, "ssmax.csv", param_csv_header(nz), o->resume != NULL) : NULL;
    if (!o->resume) log_ssmax(r->ssf, out, &r->model, 0);
}

// what is left after a non-finite value stops the run: the newest checkpoint, if any. A new run stopped
// at its first step has written nothing worth keeping (a log header, its config), so its files go, and
// its folder too where the run made it
static void stopped_run(Run *r, int step, char *msg, size_t n) {
    checkpoint_left(msg, n, r->out);
    if (r->o.resume || step != r->start_step + 1 || r->dist.rank || newest_checkpoint(r->out, NULL, 0, NULL, 0) >= 0) return;
    if (r->logf) { fclose(r->logf); r->logf = NULL; }
    if (r->ssf) { fclose(r->ssf); r->ssf = NULL; }
    const char *files[] = {"log.csv", "ssmax.csv", "config.json"};
    char path[4200];
    for (int i = 0; i < 3; i++) { snprintf(path, sizeof(path), "%s/%s", r->out, files[i]); remove(path); }
    if (r->made_folder) rmdir(r->out);
    snprintf(msg, n, "no checkpoint was written yet, and the run's files are removed");
}

typedef struct { double loss, norm, ms; float lr; } StepResult;

// one optimizer step: the micro-batches' gradients, summed over ranks, clipped, AdamW
static StepResult train_step(Run *r, int step) {
    Options *o = &r->o;
    GPT *model = &r->model;
    double t0 = now_seconds();
    gpt_zero_grad(model);
    double loss = 0;
    for (int micro = 0; micro < o->grad_accum; micro++) {
        // examples drawn from (seed, step, micro): the same after a resume
        uint64_t nrng = random_seed((uint64_t)o->sh.seed, ((uint64_t)step << 16) + micro + 99);
        if (r->task == TASK_NEEDLE) {
            needle_batch(&r->tok, r->hay, r->B, r->T, r->needle_loss, &nrng, r->train.inputs, r->train.targets, &r->dist);
        } else if (r->synthetic) {
            retrieval_batch(&r->retrieval, &r->tok, r->hay, r->B, r->T, &nrng, r->train.inputs, r->train.targets, &r->dist);
        } else {
            dataloader_next_batch(&r->train);
            if (o->needle_frac > 0)
                mix_needles(&r->tok, o->needle_frac, o->sh.seed, step, micro, r->B, r->T, r->train.inputs, r->train.targets, &r->dist);
        }
        gpt_forward_backward(model, r->train.inputs, r->train.targets, r->B, r->T);
        loss += model->mean_loss;
    }
    char what[64];
    snprintf(what, sizeof(what), "the gradient sum of step %d", step);
    int n = o->grad_accum * r->dist.world;
    loss = dist_sum_double(&r->dist, loss, what) / n; // every rank: the global mean
    char kept[4200]; // what is left to resume from: the newest checkpoint, if the run has written one
    if (!isfinite(loss)) {
        stopped_run(r, step, kept, sizeof(kept));
        die("step %d: the loss is %f (tensor: loss); training stopped, %s\nHINT: lower --lr or raise --warmup", step, loss, kept);
    }
    gpt_settle_grads(model); // zero what no backward pass wrote (a micro-batch without targets)
    dist_sum_floats(&r->dist, model->grads_memory, model->params_floats, what); // one flat buffer, in place
    if (n > 1) { // gradients summed over micro-batches and ranks: make them the mean
        float inv = 1.0f / n;
        for (size_t i = 0; i < model->params_floats; i++) model->grads_memory[i] *= inv;
    }
    const char *bad = NULL;
    double norm = gpt_grad_norm(model, &bad);
    if (!isfinite(norm)) {
        stopped_run(r, step, kept, sizeof(kept));
        die("step %d: gradient of tensor %s is not finite; training stopped, %s\nHINT: lower --lr or raise --warmup", step,
            bad ? bad : "?", kept);
    }
    float scale = o->clip > 0 && norm > o->clip ? (float)(o->clip / (norm + 1e-6)) : 1.0f;
    float lr = lr_at(&r->sched, step - 1);
    adamw_update(model, lr, o->beta1, o->beta2, o->eps, o->wd, scale, step);
    StepResult res = {loss, norm, (now_seconds() - t0) * 1000, lr};
    return res;
}

// the step's log.csv row and, every --log-every steps, its progress line
static void log_step(Run *r, int step, const StepResult *s, float val_loss) {
    Options *o = &r->o;
    double tps = r->tokens_per_step / (s->ms / 1000);
    if (r->logf) {
        fprintf(r->logf, "%d,%zu,%.6f,", step, (size_t)step * r->tokens_per_step, s->loss);
        if (!isnan(val_loss)) fprintf(r->logf, "%.6f", val_loss);
        fprintf(r->logf, ",%.6e,%.6f,%.3f,%.1f\n", s->lr, s->norm, s->ms, tps);
        csv_flush(r->logf, r->out, "log.csv");
    }
    if (step % o->log_every == 0 || step == o->steps || !isnan(val_loss)) {
        char eta[32];
        double per_step = r->time_in_steps / (step - r->start_step);
        format_eta(eta, sizeof(eta), per_step * (o->steps - step));
        printf("step %*d/%d | loss %.4f", (int)log10(o->steps) + 1, step, o->steps, s->loss);
        if (!isnan(val_loss)) printf(" | val %.4f", val_loss);
        printf(" | norm %.3f | lr %.2e | %.1f ms | %.0f tok/s | ETA %s\n", s->norm, s->lr, s->ms, tps, eta);
        fflush(stdout);
    }
}

// every --ckpt-every steps and at the end: the checkpoint (rank 0), and the oldest ones pruned
static void maybe_checkpoint(Run *r, int step) {
    Options *o = &r->o;
    if (!((o->ckpt_every > 0 && step % o->ckpt_every == 0) || step == o->steps)) return;
    TrainState s = {step, r->rng, r->train.epoch, r->train.pos, o->sh.seed, r->B * r->dist.world, r->T, o->grad_accum}; // global batch
    snprintf(r->last_ckpt, sizeof(r->last_ckpt), "%s/ckpt_%08d.bin", r->out, step);
    if (r->dist.rank == 0) {
        checkpoint_save(&r->model, r->last_ckpt, &s, 1);
        prune_checkpoints(r->out, o->keep_ckpts);
    }
}

static void finish(Run *r) {
    if (r->logf) { csv_flush(r->logf, r->out, "log.csv"); fclose(r->logf); }
    if (r->ssf) { csv_flush(r->ssf, r->out, "ssmax.csv"); fclose(r->ssf); }
    dist_barrier(&r->dist, "the end of the run"); // the final checkpoint is written before any rank leaves
}

static void free_run(Run *r) {
    gpt_free(&r->model);
    dataloader_free(&r->train);
    if (r->have_val) dataloader_free(&r->val);
}

int main(int argc, char **argv) {
    static Run run; // large (paths, loaders): not on the stack
    Run *r = &run;
    dist_init(&r->dist, &argc, &argv);
    if (r->dist.rank > 0 && !freopen("/dev/null", "w", stdout)) die("rank %d: cannot silence stdout", r->dist.rank); // rank 0 speaks
    r->o = parse_args(argc, argv);
    Options *o = &r->o;
    r->dist.timeout = o->mpi_timeout;
    r->threads = use_threads(o->sh.threads);
    setup_source(r);
    if (!setup_data(r)) { dist_finalize(); return 0; } // --dry-run
    setup_model(r);
    setup_output(r);

    double run_t0 = now_seconds(), last_loss = NAN;
    for (int step = r->start_step + 1; step <= o->steps; step++) {
        if (r->model.config.attn != r->target_attn && step >= o->attn_switch_step) {
            gpt_switch_attention(&r->model, r->target_attn, r->target_s0);
            if (normalizer_uses_s0(r->target_attn))
                printf("step %d: attention switched from softmax to %s (s0 %.6f)\n", step, normalizers[r->target_attn].name, r->target_s0);
            else printf("step %d: attention switched from softmax to %s\n", step, normalizers[r->target_attn].name);
            log_ssmax(r->ssf, r->out, &r->model, step - 1);
        }
        StepResult s = train_step(r, step);
        last_loss = s.loss;
        r->time_in_steps += s.ms / 1000;
        float val_loss = NAN;
        if (r->have_val && (step % o->val_every == 0 || step == o->steps)) {
            val_loss = r->synthetic
                ? evaluate_retrieval(&r->model, &r->retrieval, &r->tok, r->val_hay, &r->val, o->val_batches, &r->dist)
                : evaluate(&r->model, &r->val, o->val_batches, o->val_spread, &r->dist);
            log_ssmax(r->ssf, r->out, &r->model, step);
        }
        log_step(r, step, &s, val_loss);
        if (r->can_sample && step % o->sample_every == 0 && r->dist.rank == 0)
            sample(&r->model, &r->tok, o->sample_len, r->T, o->temperature, &r->rng);
        maybe_checkpoint(r, step);
    }
    finish(r);
    printf("done: %d steps in %.1fs, final train loss %.4f, peak RSS %ld MiB, checkpoint %s\n",
           o->steps - r->start_step, now_seconds() - run_t0, last_loss, peak_rss_mb(), r->last_ckpt);
    free_run(r);
    dist_finalize();
    return 0;
}
