/*
 * test_safetensors.c: models out as model.safetensors + config.json and back in.
 *
 *   test_safetensors            for every reference config: export, import, the same probabilities bit
 *                               for bit and the reference's within 1e-6, an export of the import equal
 *                               byte for byte, a Softmax file loaded as SSMax (config (e)); writes each
 *                               export and its C probabilities to build/export/NAME for the Python loader
 *   test_safetensors --probs MODEL REF OUT
 *                               the probabilities of any model file on REF's first batch, to OUT (float32
 *                               (B, T, Vp)), and their largest difference to REF's on stdout
 */
#include <math.h>
#include "../util/common.h"
#include "../model/gpt.h"
#include "../model/checkpoint.h"
#include "../model/safetensors.h"
#include "reference.h"

static const char *configs[] = {"gpt2-softmax", "gpt2-ssmax", "llama-softmax", "llama-ssmax", "llama-ssmax-bias", "llama-temp",
                                "llama-logn", "llama-sink", "llama-ssmax-sink", "llama-sigmoid", "llama-softpick", "gpt2-sink",
                                "nope-ssmax", "llama-ssmax-docmask", "llama-ssmax-qknorm", "gpt2-softmax-qknorm", "llama-ssmax-fixed"};
#define NUM_CONFIGS (int)(sizeof(configs) / sizeof(configs[0]))

static void load_model(GPT *m, const char *path) {
    GPTConfig c = checkpoint_read_config(path, NULL, NULL);
    gpt_build(m, &c);
    checkpoint_load(m, path, NULL, 0);
}

// the probabilities of the reference's first batch, (B, T, Vp)
static float *probs_of(GPT *m, const Reference *r) {
    size_t BT = (size_t)r->B * r->T, n = BT * m->config.padded_vocab_size;
    int *inp = malloc_check(BT * sizeof(int)), *tgt = malloc_check(BT * sizeof(int));
    split_tokens(r, 0, inp, tgt);
    gpt_forward(m, inp, tgt, r->B, r->T);
    float *p = malloc_check(n * sizeof(float));
    memcpy(p, m->acts.logits, n * sizeof(float));
    free(inp); free(tgt);
    return p;
}

static double max_diff(const float *a, const float *b, size_t n) {
    double d = 0;
    for (size_t i = 0; i < n; i++) d = fmax(d, fabs((double)a[i] - b[i]));
    return d;
}

static int same_file(const char *a, const char *b) {
    FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
    int same = fa && fb;
    while (same) {
        int x = fgetc(fa), y = fgetc(fb);
        if (x != y) same = 0;
        if (x == EOF || y == EOF) break;
    }
    if (fa) fclose(fa);
    if (fb) fclose(fb);
    return same;
}

static void write_floats(const char *path, const float *x, size_t n) {
    FILE *f = fopen_check(path, "wb");
    fwrite_check(x, sizeof(float), n, f);
    fclose_check(f);
}

static void test_config(const char *name) {
    char ckpt[256], ref[256], dir[256], st[300], dir2[256], st2[300], path[300];
    snprintf(ckpt, sizeof(ckpt), "tests/ref/%s.ckpt", name);
    snprintf(ref, sizeof(ref), "tests/ref/%s.ref", name);
    snprintf(dir, sizeof(dir), "build/export/%s", name);
    snprintf(dir2, sizeof(dir2), "build/export/%s-again", name);
    snprintf(st, sizeof(st), "%s/model.safetensors", dir);
    snprintf(st2, sizeof(st2), "%s/model.safetensors", dir2);
    Reference r;
    if (!load_reference(&r, ref)) return;
    GPT a, b, c;
    load_model(&a, ckpt);
    float *pa = probs_of(&a, &r);
    safetensors_export(&a, dir);
    check(safetensors_sniff(st), "%s: the export is not recognised as safetensors", name);
    load_model(&b, st);
    check(b.num_parameters == a.num_parameters && b.config.attn == a.config.attn && b.config.pos == a.config.pos &&
          b.config.qk_norm == a.config.qk_norm && b.config.doc_mask == a.config.doc_mask && b.config.train_len == a.config.train_len &&
          b.config.tokenizer == a.config.tokenizer && b.config.eot == a.config.eot,
          "%s: the imported config differs from the checkpoint's", name);
    check(!memcmp(a.params_memory, b.params_memory, a.num_parameters * sizeof(float)), "%s: imported weights differ from the checkpoint's", name);
    size_t n = (size_t)r.B * r.T * r.Vp;
    float *pb = probs_of(&b, &r);
    check(!memcmp(pa, pb, n * sizeof(float)), "%s: probabilities of the imported model differ (%.3g)", name, max_diff(pa, pb, n));
    check(max_diff(pb, r.probs, n) < 1e-6, "%s: imported model's probabilities differ from PyTorch by %.3g", name, max_diff(pb, r.probs, n));
    safetensors_export(&b, dir2);
    snprintf(path, sizeof(path), "%s/config.json", dir2);
    char cfg[300];
    snprintf(cfg, sizeof(cfg), "%s/config.json", dir);
    check(same_file(st, st2) && same_file(cfg, path), "%s: exporting the imported model gives other files", name);
    snprintf(path, sizeof(path), "%s/probs_c.bin", dir);
    write_floats(path, pa, n);
    // a Softmax file loaded as SSMax: the other tensors from the file, s at its initial value
    if (!strcmp(name, "llama-softmax")) {
        GPTConfig cc = checkpoint_read_config(st, NULL, NULL);
        cc.attn = ATTN_SSMAX;
        cc.ssmax_s0 = 0.5f;
        gpt_build(&c, &cc);
        checkpoint_load(&c, st, NULL, 0);
        int s_ok = 1;
        for (size_t i = 0; i < (size_t)cc.num_layers * cc.num_heads; i++) s_ok &= c.params.attn[0][i] == 0.5f;
        check(s_ok && !memcmp(c.params.wte, a.params.wte, c.param_sizes[PARAM_WTE] * sizeof(float)),
              "%s as SSMax: s should start at s0 and the rest come from the file", name);
        gpt_free(&c);
    }
    free(pa); free(pb);
    gpt_free(&a); gpt_free(&b);
    free_reference(&r);
}

int main(int argc, char **argv) {
    if (argc == 5 && !strcmp(argv[1], "--probs")) {
        Reference r;
        if (!load_reference(&r, argv[3])) return 1;
        GPT m;
        load_model(&m, argv[2]);
        float *p = probs_of(&m, &r);
        write_floats(argv[4], p, (size_t)r.B * r.T * r.Vp);
        printf("%.3g\n", max_diff(p, r.probs, (size_t)r.B * r.T * r.Vp));
        return 0;
    }
    printf("safetensors export and import\n");
    mkdir("build/export", 0755);
    for (int i = 0; i < NUM_CONFIGS; i++) test_config(configs[i]);
    return test_summary();
}
