/*
 * checkpoint.c: reading and writing model files and training checkpoints; see checkpoint.h.
 * Every problem with a file is reported on one line with a HINT and a non-zero exit, before
 * anything in memory or on disk has been changed.
 */
#include <unistd.h>
#include <sys/stat.h>
#include <fcntl.h>
#include "../util/common.h"
#include "checkpoint.h"
#include "../util/tokenizer_kind.h"
#include "safetensors.h"

static float int_as_float(int32_t i) { float f; memcpy(&f, &i, 4); return f; }
static int32_t float_as_int(float f) { int32_t i; memcpy(&i, &f, 4); return i; }

static void read_header(const char *path, int32_t *h, long *file_size) {
    regular_file_check(path, "checkpoint");
    FILE *f = fopen(path, "rb");
    if (!f) die("cannot open checkpoint '%s'\nHINT: check the path; checkpoints are written as DIR/ckpt_<step>.bin", path);
    fseek(f, 0, SEEK_END);
    *file_size = ftell(f);
    fseek(f, 0, SEEK_SET);
    if (*file_size < 256 * 4) {
        fclose(f);
        die("'%s' is %ld bytes, shorter than a checkpoint header\nHINT: the file is truncated or not a checkpoint", path, *file_size);
    }
    fread_check(h, sizeof(int32_t), 256, f, "checkpoint header");
    fclose(f);
}

GPTConfig checkpoint_read_config(const char *path, int *has_optimizer, TrainState *state) {
    int32_t h[256];
    long size;
    regular_file_check(path, "checkpoint");
    if (safetensors_sniff(path)) { // model.safetensors with its config.json: weights only
        if (has_optimizer) *has_optimizer = 0;
        if (state) memset(state, 0, sizeof(*state));
        return safetensors_read_config(path);
    }
    read_header(path, h, &size);
    GPTConfig c = {0};
    if (h[0] == LLMC_MAGIC) {
        if (h[1] != LLMC_VERSION)
            die("'%s' is an llm.c model file of version %d; only version %d (fp32) is supported\nHINT: export it with llm.c's train_gpt2.py in fp32",
                path, h[1], LLMC_VERSION);
        // llm.c's GPT-2: learned positions, layernorm, gelu, tied embeddings, biases
        c.max_seq_len = h[2]; c.vocab_size = h[3]; c.num_layers = h[4]; c.num_heads = h[5];
        c.channels = h[6]; c.padded_vocab_size = h[7];
        c.ffn = h[6] > 0 && h[6] <= (1 << 20) ? 4 * h[6] : 1 << 30; // a width past any cap fails the config check below
        c.attn = ATTN_SOFTMAX; c.pos = POS_LEARNED; c.norm = NORM_LAYERNORM; c.mlp = MLP_GELU;
        c.tie = 1; c.bias = 1; c.tokenizer = TOKENIZER_GPT2; c.rope_theta = 10000.0f; c.ssmax_s0 = 1.0f;
        if (has_optimizer) *has_optimizer = 0;
        if (state) memset(state, 0, sizeof(*state));
    } else if (h[0] == CKPT_MAGIC) {
        if (h[1] < 1 || h[1] > CKPT_VERSION)
            die("'%s' is checkpoint version %d, this build reads versions 1 to %d\nHINT: use the train_gpt that wrote it", path, h[1], CKPT_VERSION);
        c.max_seq_len = h[2]; c.vocab_size = h[3]; c.num_layers = h[4]; c.num_heads = h[5];
        c.channels = h[6]; c.padded_vocab_size = h[7]; c.ffn = h[8]; c.attn = h[9]; c.pos = h[10];
        c.norm = h[11]; c.mlp = h[12]; c.tie = h[13]; c.bias = h[14]; c.tokenizer = h[15];
        c.rope_theta = int_as_float(h[16]); c.ssmax_s0 = int_as_float(h[17]); c.train_len = h[21];
        c.doc_mask = h[22]; c.eot = h[23]; c.qk_norm = h[24];
        if (h[20] != 0 && h[20] != 1)
            die("'%s' has optimizer flag %d in its header, expected 0 or 1\nHINT: the file is corrupt; use an earlier checkpoint", path, h[20]);
        if (has_optimizer) *has_optimizer = h[20];
        if (state) {
            state->step = h[32];
            state->rng = (uint32_t)h[33] | ((uint64_t)(uint32_t)h[34] << 32);
            state->data_epoch = (uint32_t)h[35] | ((uint64_t)(uint32_t)h[36] << 32);
            state->data_pos = (uint32_t)h[37] | ((uint64_t)(uint32_t)h[38] << 32);
            state->seed = h[39]; state->B = h[40]; state->T = h[41]; state->grad_accum = h[42];
        }
    } else {
        die("'%s' has magic %d, not a checkpoint (%d) or llm.c model file (%d)\nHINT: pass a file written by train_gpt or llm.c",
            path, h[0], CKPT_MAGIC, LLMC_MAGIC);
    }
    char why[256];
    if (gpt_config_check(&c, why, sizeof(why))) die("'%s' holds an invalid model config: %s\nHINT: the file is corrupt", path, why);
    // the sizes the header implies, against the file, before anything is allocated for it
    size_t sizes[NUM_PARAM_TENSORS], count = 0;
    gpt_param_sizes(sizes, &c);
    for (int i = 0; i < NUM_PARAM_TENSORS; i++) count += sizes[i];
    int opt = h[0] == CKPT_MAGIC ? h[20] : 0;
    if (h[0] == CKPT_MAGIC) {
        uint64_t stored = (uint32_t)h[18] | ((uint64_t)(uint32_t)h[19] << 32);
        if (stored != count)
            die("'%s' says it holds %llu parameters, its config has %zu\nHINT: the file is corrupt; use an earlier checkpoint",
                path, (unsigned long long)stored, count);
    }
    long double expect = 256.0L * 4 + (long double)count * 4 * (opt ? 3 : 1);
    if ((long double)size != expect)
        die("'%s' is %ld bytes but its header implies %.0Lf\nHINT: the file is truncated or corrupt; use an earlier checkpoint",
            path, size, expect);
    return c;
}

int checkpoint_load(GPT *model, const char *path, TrainState *state, int want_optimizer) {
    int has_opt = 0;
    GPTConfig fc = checkpoint_read_config(path, &has_opt, state);
    return checkpoint_load_read(model, path, &fc, has_opt, want_optimizer);
}

int checkpoint_load_read(GPT *model, const char *path, const GPTConfig *file_config, int has_opt, int want_optimizer) {
    GPTConfig fc = *file_config;
    GPTConfig *mc = &model->config;
    if (fc.num_layers != mc->num_layers || fc.num_heads != mc->num_heads || fc.channels != mc->channels ||
        fc.ffn != mc->ffn || fc.padded_vocab_size != mc->padded_vocab_size || fc.vocab_size != mc->vocab_size ||
        fc.pos != mc->pos || fc.norm != mc->norm || fc.mlp != mc->mlp || fc.tie != mc->tie || fc.bias != mc->bias || fc.qk_norm != mc->qk_norm ||
        (fc.pos == POS_LEARNED && fc.max_seq_len != mc->max_seq_len))
        die("'%s' holds another model (L=%d NH=%d C=%d F=%d V=%d) than the one asked for (L=%d NH=%d C=%d F=%d V=%d)\n"
            "HINT: drop the architecture flags to use the checkpoint's own", path, fc.num_layers, fc.num_heads,
            fc.channels, fc.ffn, fc.vocab_size, mc->num_layers, mc->num_heads, mc->channels, mc->ffn, mc->vocab_size);
    size_t fsizes[NUM_PARAM_TENSORS]; // the file's size was checked against them by checkpoint_read_config
    gpt_param_sizes(fsizes, &fc);
    // the normalizer's parameters may differ (a Softmax model converted to SSMax); every other tensor must match
    int same_attn = 1;
    for (int i = 0; i < NUM_PARAM_TENSORS; i++) {
        if (fsizes[i] == model->param_sizes[i]) continue;
        if (i == PARAM_ATTN0 || i == PARAM_ATTN1) { same_attn = 0; continue; }
        die("tensor %s of '%s' has %zu values, the model wants %zu\nHINT: the checkpoint was made for another config",
            param_names[i], path, fsizes[i], model->param_sizes[i]);
    }
    int parts = has_opt && want_optimizer && same_attn ? 3 : 1;
    if (safetensors_sniff(path)) {
        safetensors_load(model, path, &fc);
    } else {
        FILE *f = fopen_check(path, "rb");
        fseek(f, 256 * 4, SEEK_SET);
        float *bufs[3] = {model->params_memory, model->m_memory, model->v_memory};
        for (int part = 0; part < parts; part++) {
            for (int i = 0; i < NUM_PARAM_TENSORS; i++) {
                float *dst = bufs[part] + model->param_offsets[i];
                if (fsizes[i] == model->param_sizes[i]) fread_check(dst, sizeof(float), fsizes[i], f, param_names[i]);
                else fseek(f, (long)fsizes[i] * 4, SEEK_CUR); // in the file only: dropped
            }
        }
        fclose(f);
    }
    for (int i = 0; i < NUM_PARAM_TENSORS; i++) // a diverged or corrupt file: refused before anything runs on it
        for (size_t k = 0; k < model->param_sizes[i] && fsizes[i] == model->param_sizes[i]; k++)
            if (!isfinite(model->params.t[i][k]))
                die("'%s' holds a non-finite weight (tensor %s, entry %zu)\nHINT: the run diverged or the file is corrupt; "
                    "use an earlier checkpoint", path, param_names[i], k);
    for (int k = 0; k < ATTN_MAX_PARAMS; k++) // slots the file lacks start where the normalizer's table says
        if (fsizes[PARAM_ATTN0 + k] != model->param_sizes[PARAM_ATTN0 + k]) gpt_init_normalizer_slot(model, k);
    return parts == 3;
}

void checkpoint_save(const GPT *model, const char *path, const TrainState *st, int with_optimizer) {
    const GPTConfig *c = &model->config;
    int32_t h[256] = {0};
    h[0] = CKPT_MAGIC; h[1] = c->qk_norm || c->doc_mask ? CKPT_VERSION : 1; // version 1 readers can read the rest
    h[2] = c->max_seq_len; h[3] = c->vocab_size; h[4] = c->num_layers; h[5] = c->num_heads; h[6] = c->channels;
    h[7] = c->padded_vocab_size; h[8] = c->ffn; h[9] = c->attn; h[10] = c->pos; h[11] = c->norm; h[12] = c->mlp;
    h[13] = c->tie; h[14] = c->bias; h[15] = c->tokenizer;
    h[16] = float_as_int(c->rope_theta); h[17] = float_as_int(c->ssmax_s0); h[21] = c->train_len; h[22] = c->doc_mask; h[23] = c->eot; h[24] = c->qk_norm;
    h[18] = (int32_t)(model->num_parameters & 0xffffffffu); h[19] = (int32_t)(model->num_parameters >> 32);
    h[20] = with_optimizer;
    if (st) {
        h[32] = st->step;
        h[33] = (int32_t)(st->rng & 0xffffffffu); h[34] = (int32_t)(st->rng >> 32);
        h[35] = (int32_t)(st->data_epoch & 0xffffffffu); h[36] = (int32_t)(st->data_epoch >> 32);
        h[37] = (int32_t)(st->data_pos & 0xffffffffu); h[38] = (int32_t)(st->data_pos >> 32);
        h[39] = st->seed; h[40] = st->B; h[41] = st->T; h[42] = st->grad_accum;
    }
    char tmp[4096];
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    FILE *f = fopen_check(tmp, "wb");
    // a write that fails (a full disk) removes the half-written temporary file: the previous
    // checkpoints stay as they were, and nothing half-written is left behind
    int ok = fwrite(h, sizeof(int32_t), 256, f) == 256;
    const float *bufs[3] = {model->params_memory, model->m_memory, model->v_memory};
    for (int part = 0; ok && part < (with_optimizer ? 3 : 1); part++)
        for (int i = 0; ok && i < NUM_PARAM_TENSORS; i++)
            ok = fwrite(bufs[part] + model->param_offsets[i], sizeof(float), model->param_sizes[i], f) == model->param_sizes[i];
    ok = ok && fflush(f) == 0 && fsync(fileno(f)) == 0;
    int err = errno;
    if (fclose(f) != 0 && ok) { ok = 0; err = errno; }
    if (!ok) {
        remove(tmp);
        die("could not write checkpoint '%s' (%s)\nHINT: is the disk full? the earlier checkpoints are intact; free space and "
            "resume", path, strerror(err));
    }
    if (rename(tmp, path) != 0) die("could not rename '%s' to '%s' (%s)\nHINT: check the run folder's permissions; the checkpoints already there are kept", tmp, path, strerror(errno));
}
