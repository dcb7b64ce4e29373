/*
 * test_model.c: the whole GPT in C against the PyTorch reference (scripts/reference.py, float64):
 * probabilities, loss, every parameter gradient and the losses of 10 AdamW steps, for each config
 * in tests/ref. Also: llm.c model files, checkpoint round-trip, Softmax -> SSMax conversion, and
 * bit-for-bit determinism across runs and thread counts.
 */
#include <math.h>
#include "../util/common.h"
#include "../model/gpt.h"
#include "../model/optim.h"
#include "../model/checkpoint.h"
#include "../data/tokenizer.h"
#include "test.h"

#include "reference.h"

static void load_model(GPT *m, const char *path) {
    GPTConfig c = checkpoint_read_config(path, NULL, NULL);
    gpt_build(m, &c);
    checkpoint_load(m, path, NULL, 0);
}

static double max_abs(const float *a, size_t n) {
    double m = 0;
    for (size_t i = 0; i < n; i++) m = fmax(m, fabs(a[i]));
    return m;
}

static void train_steps(GPT *m, const Reference *r, float *losses, int *inp, int *tgt) {
    for (int s = 0; s < r->steps; s++) {
        split_tokens(r, s, inp, tgt);
        gpt_zero_grad(m);
        gpt_forward_backward(m, inp, tgt, r->B, r->T); // as train_gpt does
        losses[s] = m->mean_loss;
        double norm = gpt_grad_norm(m, NULL);
        float scale = norm > r->clip ? (float)(r->clip / (norm + 1e-6)) : 1.0f;
        adamw_update(m, r->lr, r->beta1, r->beta2, r->eps, r->wd, scale, s + 1);
    }
}

// tests/ref/NAME.ref and the model of tests/ref/NAME.ckpt; 0 (a failed check) if the files are missing
static int open_reference(const char *name, Reference *r, GPT *m, char *ckpt, size_t n) {
    char path[512];
    snprintf(path, sizeof(path), "tests/ref/%s.ref", name);
    if (!load_reference(r, path)) return 0;
    snprintf(ckpt, n, "tests/ref/%s.ckpt", name);
    load_model(m, ckpt);
    return 1;
}

static void test_against_reference(const char *name) {
    char path[512];
    Reference r;
    GPT m;
    if (!open_reference(name, &r, &m, path, sizeof(path))) return;
    check(m.num_parameters == r.count, "%s: %zu parameters in C, %zu in the reference", name, m.num_parameters, r.count);
    int *inp = malloc_check((size_t)r.B * r.T * sizeof(int)), *tgt = malloc_check((size_t)r.B * r.T * sizeof(int));
    split_tokens(&r, 0, inp, tgt);
    gpt_zero_grad(&m);
    gpt_forward(&m, inp, tgt, r.B, r.T);

    double perr = 0;
    for (size_t i = 0; i < (size_t)r.B * r.T * r.Vp; i++) perr = fmax(perr, fabs(m.acts.logits[i] - r.probs[i]));
    check(perr < 1e-6, "%s: probabilities differ from PyTorch by %.3g", name, perr);
    check(fabs(m.mean_loss - r.loss) < 2e-6 * fabs(r.loss), "%s: loss %.7f vs PyTorch %.7f", name, m.mean_loss, r.loss);

    gpt_backward(&m);
    const float *ref = r.grads;
    double worst = 0;
    const char *worst_name = "";
    for (int i = 0; i < NUM_PARAM_TENSORS; i++) {
        size_t n = m.param_sizes[i];
        if (!n) continue;
        const float *g = m.grads_memory + m.param_offsets[i];
        double scale = max_abs(ref, n), err = 0;
        for (size_t k = 0; k < n; k++) err = fmax(err, fabs(g[k] - ref[k]));
        double rel = scale > 0 ? err / scale : err;
        if (rel > worst) { worst = rel; worst_name = param_names[i]; }
        check(rel < 2e-5, "%s: gradient of %s differs from PyTorch by %.3g of its largest entry", name, param_names[i], rel);
        ref += n;
    }
    printf("  %-18s probs %.1e, loss %.1e, worst gradient %.1e (%s)", name, perr, fabs(m.mean_loss - r.loss), worst, worst_name);
    gpt_free(&m);

    load_model(&m, path);
    float *losses = malloc_check(r.steps * sizeof(float));
    train_steps(&m, &r, losses, inp, tgt);
    double lerr = 0;
    for (int s = 0; s < r.steps; s++) lerr = fmax(lerr, fabs(losses[s] - r.losses[s]));
    check(lerr < 1e-5, "%s: losses of %d AdamW steps differ from PyTorch by up to %.3g", name, r.steps, lerr);
    printf(", 10 AdamW steps %.1e\n", lerr);
    free(losses); free(inp); free(tgt);
    gpt_free(&m);
    free_reference(&r);
}

// generation with the KV cache: one position at a time, the next-token distribution at every position
// equals the full forward pass's (every normalizer, document masks, QK-norm, each kind of positions)
static void test_kv_cache(const char *name) {
    char path[512];
    Reference r;
    GPT m;
    if (!open_reference(name, &r, &m, path, sizeof(path))) return;
    int B = r.B, T = r.T, V = m.config.vocab_size, Vp = m.config.padded_vocab_size;
    int *inp = malloc_check((size_t)B * T * sizeof(int)), *tgt = malloc_check((size_t)B * T * sizeof(int));
    split_tokens(&r, 0, inp, tgt);
    gpt_forward(&m, inp, NULL, B, T);
    KVCache kv;
    gpt_cache_init(&m, &kv, T);
    double worst = 0;
    for (int b = 0; b < B; b++) {
        gpt_cache_reset(&kv);
        for (int t = 0; t < T; t++) {
            const float *lg = gpt_step(&m, &kv, inp[(size_t)b * T + t]);
            double mx = -INFINITY, sum = 0;
            for (int v = 0; v < V; v++) mx = fmax(mx, lg[v]);
            for (int v = 0; v < V; v++) sum += exp(lg[v] - mx);
            const float *pr = m.acts.logits + ((size_t)b * T + t) * Vp;
            for (int v = 0; v < V; v++) worst = fmax(worst, fabs(exp(lg[v] - mx) / sum - pr[v]));
        }
    }
    check(worst < 1e-5, "%s: cached generation's next-token probabilities differ from the full pass by %.3g", name, worst);
    printf("  %-18s KV cache: probabilities %.1e\n", name, worst);
    gpt_cache_free(&kv);
    free(inp); free(tgt);
    gpt_free(&m);
    free_reference(&r);
}

// the evaluation pass against the training forward pass: the same per-position losses and argmax; the
// attention probe against the attention weights computed here in double from the saved q, k
static void test_evaluate(const char *name) {
    char path[512];
    Reference r;
    GPT m;
    if (!open_reference(name, &r, &m, path, sizeof(path))) return;
    int B = r.B, T = r.T, L = m.config.num_layers, NH = m.config.num_heads, C = m.config.channels, hs = C / NH;
    size_t BT = (size_t)B * T;
    int *inp = malloc_check(BT * sizeof(int)), *tgt = malloc_check(BT * sizeof(int)), *argmax = malloc_check(BT * sizeof(int));
    split_tokens(&r, 0, inp, tgt);
    tgt[1] = -1; // a position without a target
    float *losses = malloc_check(BT * sizeof(float)), *mass = malloc_check((size_t)B * L * NH * sizeof(float));
    int *pt = malloc_check(B * sizeof(int)), *pk0 = malloc_check(B * sizeof(int)), *pk1 = malloc_check(B * sizeof(int));
    for (int b = 0; b < B; b++) { pt[b] = T - 1 - b; pk0[b] = b; pk1[b] = T / 2 + b; }
    int Vp = m.config.padded_vocab_size;
    float *next = malloc_check((size_t)B * Vp * sizeof(float));
    EvalOutputs out = {.losses = losses, .argmax = argmax, .probe_t = pt, .probe_k0 = pk0, .probe_k1 = pk1, .probe_mass = mass, .next_probs = next};
    gpt_evaluate(&m, inp, tgt, B, T, &out);
    gpt_forward(&m, inp, tgt, B, T);
    int next_same = 1; // the sampling distribution: bit for bit gpt_forward's probabilities at the last position
    for (int b = 0; b < B; b++) next_same &= memcmp(next + (size_t)b * Vp, m.acts.logits + ((size_t)b * T + T - 1) * Vp, Vp * sizeof(float)) == 0;
    check(next_same, "%s: evaluation next-token probabilities differ from the training forward pass", name);
    free(next);
    double lerr = 0;
    int argmax_ok = 1;
    for (size_t i = 0; i < BT; i++) {
        lerr = fmax(lerr, fabs(losses[i] - m.acts.losses[i]));
        const float *p = m.acts.logits + i * m.config.padded_vocab_size;
        for (int v = 0; v < m.config.vocab_size; v++) argmax_ok &= p[v] <= p[argmax[i]];
    }
    check(lerr < 1e-5 && losses[1] == 0, "%s: evaluation losses differ from the training forward pass by %.3g", name, lerr);
    check(argmax_ok, "%s: evaluation argmax is not the most likely token", name);
    double merr = 0, *u = malloc_check(T * sizeof(double));
    for (int b = 0; b < B; b++)
        for (int l = 0; l < L; l++)
            for (int h = 0; h < NH; h++) {
                const float *qkv = m.acts.qkvr + (size_t)l * BT * 3 * C + (size_t)b * T * 3 * C;
                AttnArgs a = {&normalizers[m.config.attn], {0}, m.config.train_len > 0 ? m.config.train_len : m.config.max_seq_len,
                              m.config.doc_mask ? m.docs.start : NULL}; // the same batch as the evaluation's
                for (int k = 0; k < ATTN_MAX_PARAMS; k++) a.p[k] = m.params.attn[k] ? m.params.attn[k] + l * NH : NULL;
                int t = pt[b], j0 = attn_first_key(&a, b, T, t); // keys j0..t
                double c = attn_coef(&a, h, t + 1 - j0), mx = -INFINITY, sum = 0, part = 0;
                for (int j = j0; j <= t; j++) {
                    double z = 0;
                    for (int i = 0; i < hs; i++) z += (double)qkv[(size_t)t * 3 * C + h * hs + i] * qkv[(size_t)j * 3 * C + C + h * hs + i];
                    u[j] = c * z / sqrt(hs);
                    mx = fmax(mx, u[j]);
                }
                int row = a.norm->row;
                if (row == ROW_SIGMOID || row == ROW_SOFTPICK) { // weights of their own, then the same sum over k0..k1
                    double den = SOFTPICK_EPS;
                    for (int j = j0; j <= t; j++) den += fabs(exp(u[j]) - 1);
                    for (int j = pk0[b] > j0 ? pk0[b] : j0; j < pk1[b] && j <= t; j++)
                        part += row == ROW_SIGMOID ? 1 / (1 + exp(-(u[j] - log(t + 1.0 - j0)))) : fmax(exp(u[j]) - 1, 0) / den;
                    sum = 1;
                } else {
                    double sigma = attn_sink(&a, h);
                    if (row == ROW_SINK) { mx = fmax(mx, sigma); sum += exp(sigma - mx); } // the sink's share
                    for (int j = j0; j <= t; j++) { sum += exp(u[j] - mx); if (j >= pk0[b] && j < pk1[b]) part += exp(u[j] - mx); }
                }
                merr = fmax(merr, fabs(mass[((size_t)b * L + l) * NH + h] - part / sum));
            }
    check(merr < 1e-5, "%s: attention probe differs from the attention weights by %.3g", name, merr);
    printf("  %-18s evaluation pass: losses %.1e, probe %.1e\n", name, lerr, merr);
    free(inp); free(tgt); free(argmax); free(losses); free(mass); free(pt); free(pk0); free(pk1); free(u);
    gpt_free(&m);
    free_reference(&r);
}

// the llm.c file holds the same weights as gpt2-softmax.ckpt: the outputs must match the reference
static void test_llmc_file(void) {
    Reference r;
    if (!load_reference(&r, "tests/ref/gpt2-softmax.ref")) return;
    int has_opt = 1;
    GPTConfig c = checkpoint_read_config("tests/ref/gpt2-softmax.llmc.bin", &has_opt, NULL);
    check(c.pos == POS_LEARNED && c.norm == NORM_LAYERNORM && c.mlp == MLP_GELU && c.tie == 1 && c.bias == 1 &&
          c.ffn == 4 * c.channels && c.tokenizer == TOKENIZER_GPT2 && has_opt == 0, "llm.c file read as the wrong architecture");
    GPT m;
    load_model(&m, "tests/ref/gpt2-softmax.llmc.bin");
    int *inp = malloc_check((size_t)r.B * r.T * sizeof(int)), *tgt = malloc_check((size_t)r.B * r.T * sizeof(int));
    split_tokens(&r, 0, inp, tgt);
    gpt_forward(&m, inp, tgt, r.B, r.T);
    check(fabs(m.mean_loss - r.loss) < 2e-6 * r.loss, "llm.c file: loss %.7f vs reference %.7f", m.mean_loss, r.loss);
    free(inp); free(tgt);
    gpt_free(&m);
    free_reference(&r);
}

static int same_floats(const float *a, const float *b, size_t n) { return memcmp(a, b, n * sizeof(float)) == 0; }

static void test_checkpoint_roundtrip(void) {
    GPT a, b;
    load_model(&a, "tests/ref/llama-ssmax-bias.ckpt");
    for (size_t i = 0; i < a.params_floats; i++) { a.m_memory[i] = 0.001f * i; a.v_memory[i] = 0.002f * i; }
    TrainState s = {123, 0xdeadbeefcafeull, 7, 99, 42, 4, 8, 2}, s2;
    checkpoint_save(&a, "build/roundtrip.bin", &s, 1);
    load_model(&b, "build/roundtrip.bin"); // builds from the file's own header
    int opt = checkpoint_load(&b, "build/roundtrip.bin", &s2, 1);
    check(opt == 1, "optimizer state not restored");
    int same = 1;
    for (int i = 0; i < NUM_PARAM_TENSORS; i++) {
        size_t o = a.param_offsets[i], n = a.param_sizes[i];
        same &= same_floats(a.params_memory + o, b.params_memory + o, n) && same_floats(a.m_memory + o, b.m_memory + o, n) &&
                same_floats(a.v_memory + o, b.v_memory + o, n);
    }
    check(same, "checkpoint round-trip changed parameters or moments");
    check(memcmp(&a.config, &b.config, sizeof(GPTConfig)) == 0, "checkpoint round-trip changed the config");
    check(s2.step == 123 && s2.rng == 0xdeadbeefcafeull && s2.data_epoch == 7 && s2.data_pos == 99 && s2.seed == 42 &&
          s2.B == 4 && s2.T == 8 && s2.grad_accum == 2, "checkpoint round-trip changed the training state");
    FILE *f = fopen("build/roundtrip.bin.tmp", "rb");
    check(f == NULL, "a temporary file was left behind");
    if (f) fclose(f);
    gpt_free(&a); gpt_free(&b);
}

// a Softmax checkpoint loaded as SSMax (as eval_gpt --attn does: no random init first): every shared
// tensor equal, s starts at s0
static void test_softmax_to_ssmax(void) {
    GPT soft, ss;
    load_model(&soft, "tests/ref/llama-softmax.ckpt");
    GPTConfig c = soft.config;
    c.attn = ATTN_SSMAX;
    c.ssmax_s0 = 0.25f;
    gpt_build(&ss, &c);
    checkpoint_load(&ss, "tests/ref/llama-softmax.ckpt", NULL, 0);
    int same = 1;
    for (int i = 0; i < PARAM_ATTN0; i++)
        same &= same_floats(soft.params_memory + soft.param_offsets[i], ss.params_memory + ss.param_offsets[i], soft.param_sizes[i]);
    check(same, "converted model's shared tensors differ from the Softmax checkpoint");
    int s_ok = 1;
    for (size_t k = 0; k < ss.param_sizes[PARAM_ATTN0]; k++) s_ok &= ss.params.attn[0][k] == 0.25f;
    check(s_ok && ss.param_sizes[PARAM_ATTN0] == (size_t)c.num_layers * c.num_heads, "converted model's s is not s0 everywhere");
    gpt_free(&soft); gpt_free(&ss);
}

// same seed and data: the same bits, on 1 and on 2 threads
// switching during training (--attn-switch-step): the same weights as converting a checkpoint (e), the
// AdamW moments of every other tensor kept, zero moments for s and b, and then a gradient for s (b)
static void test_switch_attention(void) {
    Reference r;
    if (!load_reference(&r, "tests/ref/llama-softmax.ref")) return;
    int *inp = malloc_check((size_t)r.B * r.T * sizeof(int)), *tgt = malloc_check((size_t)r.B * r.T * sizeof(int));
    float losses[16];
    for (int attn = 0; attn < ATTN_COUNT; attn++) {
        if (normalizers[attn].nparams == 0) continue; // every normalizer with parameters of its own
        GPT m, conv;
        load_model(&m, "tests/ref/llama-softmax.ckpt");
        r.steps = 3;
        train_steps(&m, &r, losses, inp, tgt);
        checkpoint_save(&m, "build/test_switch.ckpt", NULL, 1);
        float *mom = malloc_check(m.params_floats * sizeof(float));
        memcpy(mom, m.m_memory, m.params_floats * sizeof(float));
        size_t wte_off = m.param_offsets[PARAM_WTE], wte_n = m.param_sizes[PARAM_WTE];
        gpt_switch_attention(&m, attn, 0.3f);
        GPTConfig c = m.config;
        gpt_build(&conv, &c);
        gpt_init_random(&conv, 1); // as train_gpt --init-from does: s = s0, then the checkpoint's tensors
        checkpoint_load(&conv, "build/test_switch.ckpt", NULL, 0);
        check(m.config.attn == attn && same_floats(m.params_memory, conv.params_memory, m.params_floats),
              "switch to %s: weights differ from converting the checkpoint", normalizers[attn].name);
        int moments_ok = same_floats(m.m_memory + m.param_offsets[PARAM_WTE], mom + wte_off, wte_n) && max_abs(m.m_memory + m.param_offsets[PARAM_WTE], wte_n) > 0;
        for (int i = PARAM_ATTN0; i <= PARAM_ATTN1; i++) moments_ok &= max_abs(m.m_memory + m.param_offsets[i], m.param_sizes[i]) == 0 &&
                                                   max_abs(m.v_memory + m.param_offsets[i], m.param_sizes[i]) == 0;
        check(moments_ok, "switch to %s: AdamW moments not kept (or s, b not zero)", normalizers[attn].name);
        split_tokens(&r, 0, inp, tgt);
        gpt_zero_grad(&m);
        gpt_forward(&m, inp, tgt, r.B, r.T);
        gpt_forward(&conv, inp, tgt, r.B, r.T);
        check(m.mean_loss == conv.mean_loss, "switch to %s: loss %.7f, converted checkpoint %.7f", normalizers[attn].name, m.mean_loss, conv.mean_loss);
        gpt_backward(&m);
        double gs = max_abs(m.grads.attn[0], m.param_sizes[PARAM_ATTN0]);
        check(!normalizers[attn].learnable ? gs == 0 : gs > 0, "switch to %s: gradient of s is %g", normalizers[attn].name, gs);
        free(mom);
        gpt_free(&m); gpt_free(&conv);
    }
    remove("build/test_switch.ckpt");
    free(inp); free(tgt);
    free_reference(&r);
}

// the trainer's fused head (gpt_forward_backward) against the two passes: the same loss and gradients up
// to float summation order, also with several blocks of rows (GPT-2 vocabulary, 1400 positions) and
// positions without a target; and no (B,T,Vp) buffer
static void test_fused_head(void) {
    const Preset *p = gpt_preset("tiny");
    GPTConfig c = gpt_preset_config(p, 50257, 200, ATTN_SSMAX);
    GPT a, b;
    gpt_build(&a, &c); gpt_init_random(&a, 3);
    gpt_build(&b, &c); gpt_init_random(&b, 3);
    int B = 7, T = 200; // 1400 positions: a block of 1280 rows and one of 120
    int *inp = malloc_check(B * T * sizeof(int)), *tgt = malloc_check(B * T * sizeof(int));
    uint64_t rng = 11;
    for (int i = 0; i < B * T; i++) { inp[i] = random_u32(&rng) % 50257; tgt[i] = i % 7 == 3 ? -1 : (int)(random_u32(&rng) % 50257); }
    for (int round = 0; round < 2; round++) { // the second round accumulates onto the first
        if (round == 0) { gpt_zero_grad(&a); gpt_zero_grad(&b); }
        gpt_forward(&a, inp, tgt, B, T);
        gpt_backward(&a);
        gpt_forward_backward(&b, inp, tgt, B, T);
    }
    double worst = 0;
    for (int i = 0; i < NUM_PARAM_TENSORS; i++) {
        size_t n = a.param_sizes[i];
        if (!n) continue;
        const float *ga = a.grads_memory + a.param_offsets[i], *gb = b.grads_memory + b.param_offsets[i];
        double scale = max_abs(ga, n), err = 0;
        for (size_t k = 0; k < n; k++) err = fmax(err, fabs(ga[k] - gb[k]));
        worst = fmax(worst, err / (scale + 1e-30));
    }
    check(fabs(a.mean_loss - b.mean_loss) < 1e-6 && worst < 1e-5, "fused head: loss %.7f vs %.7f, gradients differ by %.3g",
          b.mean_loss, a.mean_loss, worst);
    check(b.acts_logit_rows < (size_t)B * T, "fused head holds %zu rows of logits for %d positions", b.acts_logit_rows, B * T);
    printf("  fused lm head: loss %.1e, gradients %.1e, %zu of %d rows of logits held\n", fabs(a.mean_loss - b.mean_loss), worst,
           b.acts_logit_rows, B * T);
    free(inp); free(tgt);
    gpt_free(&a); gpt_free(&b);
}

static void run_for_determinism(float *out_params, size_t n, int threads) {
    omp_set_num_threads(threads);
    Reference r;
    load_reference(&r, "tests/ref/llama-ssmax-bias.ref");
    GPT m;
    load_model(&m, "tests/ref/llama-ssmax-bias.ckpt");
    int *inp = malloc_check((size_t)r.B * r.T * sizeof(int)), *tgt = malloc_check((size_t)r.B * r.T * sizeof(int));
    float losses[16];
    r.steps = 4;
    train_steps(&m, &r, losses, inp, tgt);
    memcpy(out_params, m.params_memory, n * sizeof(float));
    free(inp); free(tgt);
    gpt_free(&m);
    free_reference(&r);
}

static void test_determinism(void) {
    GPT probe;
    load_model(&probe, "tests/ref/llama-ssmax-bias.ckpt");
    size_t n = probe.params_floats;
    gpt_free(&probe);
    float *a = malloc_check(n * 4), *b = malloc_check(n * 4), *c = malloc_check(n * 4);
    int threads = omp_get_max_threads();
    run_for_determinism(a, n, threads);
    run_for_determinism(b, n, threads);
    run_for_determinism(c, n, 1);
    omp_set_num_threads(threads);
    check(same_floats(a, b, n), "two identical runs gave different parameters");
#ifdef USE_CBLAS
    printf("  (BLAS build: OpenBLAS may split sums by thread count; 1 vs %d threads not compared)\n", threads);
#else
    check(same_floats(a, c, n), "1 thread and %d threads gave different parameters", threads);
#endif
    free(a); free(b); free(c);
}

// lr schedules: warmup, then the shape of each
static void test_schedules(void) {
    LRSchedule s = {SCHED_COSINE, 1.0f, 10, 110, 0.1f, 0.2f};
    check(fabsf(lr_at(&s, 0) - 0.1f) < 1e-6f && fabsf(lr_at(&s, 9) - 1.0f) < 1e-6f, "warmup is not linear to the peak");
    check(fabsf(lr_at(&s, 60) - 0.55f) < 1e-3f && fabsf(lr_at(&s, 110) - 0.1f) < 1e-6f, "cosine midpoint/end wrong: %g %g", lr_at(&s, 60), lr_at(&s, 110));
    s.kind = SCHED_CONSTANT;
    check(lr_at(&s, 50) == 1.0f && lr_at(&s, 109) == 1.0f, "constant schedule is not constant");
    s.kind = SCHED_WSD;
    check(lr_at(&s, 80) == 1.0f && fabsf(lr_at(&s, 109) - 0.1f) < 1e-6f && lr_at(&s, 100) < 1.0f, "wsd schedule wrong");
    check(fabsf(normalizer_default_s0(ATTN_SSMAX, 1024) - 0.1684f) < 1e-3f, "s0(1024) = %g, expected ~0.168", normalizer_default_s0(ATTN_SSMAX, 1024));
}

// gradient accumulation: two forward/backward passes of one batch without zeroing = twice the gradient.
// gpt_zero_grad leaves the matmul weights' gradients stale (they are overwritten by their first write):
// a step after NaN gradients, or after a step of its own, must give exactly the first step's gradient,
// and gpt_settle_grads without a backward pass must leave every gradient zero. name: a tied (gpt2) or
// untied (llama) model
static void test_accumulation(const char *name) {
    Reference r;
    char path[256];
    snprintf(path, sizeof(path), "tests/ref/%s.ref", name);
    if (!load_reference(&r, path)) return;
    GPT m;
    snprintf(path, sizeof(path), "tests/ref/%s.ckpt", name);
    load_model(&m, path);
    int *inp = malloc_check((size_t)r.B * r.T * sizeof(int)), *tgt = malloc_check((size_t)r.B * r.T * sizeof(int));
    split_tokens(&r, 0, inp, tgt);
    for (int k = 0; k < NUM_PARAM_TENSORS; k++) // an earlier step's, at worst (the alignment gaps stay zero)
        for (size_t i = 0; i < m.param_sizes[k]; i++) m.grads.t[k][i] = NAN;
    gpt_zero_grad(&m);
    gpt_forward_backward(&m, inp, tgt, r.B, r.T);
    float *once = malloc_check(m.params_floats * sizeof(float));
    memcpy(once, m.grads_memory, m.params_floats * sizeof(float));
    size_t bad = 0;
    for (size_t i = 0; i < m.params_floats; i++) bad += !isfinite(once[i]);
    check(bad == 0 && max_abs(once, m.params_floats) > 0, "%s: %zu gradients still NaN after zero_grad and a pass", name, bad);
    gpt_forward(&m, inp, tgt, r.B, r.T);
    gpt_backward(&m);
    double err = 0;
    for (size_t i = 0; i < m.params_floats; i++) err = fmax(err, fabs(m.grads_memory[i] - 2 * once[i]));
    check(err < 1e-6 * max_abs(once, m.params_floats), "%s: two accumulated passes are not twice one pass (error %.3g)", name, err);
    gpt_zero_grad(&m); // the next step: its first pass overwrites
    gpt_forward_backward(&m, inp, tgt, r.B, r.T);
    check(memcmp(once, m.grads_memory, m.params_floats * sizeof(float)) == 0, "%s: a second step's gradient differs from the first's", name);
    gpt_zero_grad(&m); // a step without a backward pass: nothing stale may reach the optimizer
    gpt_settle_grads(&m);
    check(max_abs(m.grads_memory, m.params_floats) == 0, "%s: gradients not zero after zero_grad and settle_grads", name);
    free(once); free(inp); free(tgt);
    gpt_free(&m);
    free_reference(&r);
}

// parameter counts of the named presets: llm.c's GPT-2 small and the paper's 162M model
static size_t preset_params(const char *name) {
    const Preset *p = gpt_preset(name);
    GPTConfig c = gpt_preset_config(p, 0, p->T, ATTN_SSMAX);
    size_t s[NUM_PARAM_TENSORS], n = 0;
    gpt_param_sizes(s, &c);
    for (int i = 0; i < NUM_PARAM_TENSORS; i++) n += s[i];
    return n - s[PARAM_ATTN0]; // without the 144 SSMax scales
}

static void test_presets(void) {
    check(preset_params("gpt2-124m") == 124475904, "gpt2-124m has %zu parameters, llm.c's has 124475904", preset_params("gpt2-124m"));
    size_t paper = preset_params("paper-162m");
    check(paper > 162000000 && paper < 162400000, "paper-162m has %zu parameters, the paper says 162M", paper);
    check(gpt_padded_vocab(50257) == 50304 && gpt_padded_vocab(257) == 320, "vocab padding wrong");
}

int main(void) {
    printf("model against the PyTorch reference (tests/ref)\n");
    const char *configs[] = {"gpt2-softmax", "gpt2-ssmax", "llama-softmax", "llama-ssmax", "llama-ssmax-fixed", "llama-ssmax-bias",
                             "llama-temp", "llama-logn", "llama-softmax1", "llama-sink", "llama-ssmax-sink", "llama-sigmoid",
                             "llama-softpick", "gpt2-sink", "gpt2-softpick", "nope-ssmax", "llama-ssmax-docmask", "llama-sink-docmask",
                             "gpt2-softpick-docmask", "llama-ssmax-qknorm", "gpt2-softmax-qknorm"};
    int nconfigs = sizeof(configs) / sizeof(configs[0]);
    for (int i = 0; i < nconfigs; i++) test_against_reference(configs[i]);
    for (int i = 0; i < nconfigs; i++) test_evaluate(configs[i]);
    for (int i = 0; i < nconfigs; i++) test_kv_cache(configs[i]);
    test_llmc_file();
    test_checkpoint_roundtrip();
    test_softmax_to_ssmax();
    test_switch_attention();
    test_fused_head();
    test_determinism();
    test_schedules();
    test_presets();
    test_accumulation("llama-ssmax-bias");
    test_accumulation("gpt2-softmax");
    return test_summary();
}
