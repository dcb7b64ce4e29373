/*
 * safetensors.c: model.safetensors + config.json in and out (see safetensors.h).
 */
#include <stdarg.h>
#include <unistd.h>
#include "../util/common.h"
#include "../util/json.h"
#include "../util/tokenizer_kind.h"
#include "safetensors.h"

#define MAX_HEADER (100u << 20) // bytes of JSON header accepted
#define PER_LAYER 32               // at most this many tensors per layer, and as many more for the rest

// one tensor of the file and where it lives in ours: rows x cols floats from `offset` of tensor
// `param` (cols = 1 for vectors); transposed in the file (Conv1D), or with RoPE's rows reordered
typedef struct {
    char name[96];
    int param;
    size_t offset, rows, cols;
    int transpose, rope_perm, ndim;
} Entry;

typedef struct { Entry *e; int n, cap; } Layout;

static void add(Layout *L, int param, size_t offset, size_t rows, size_t cols, int transpose, int perm, const char *fmt, ...) {
    if (L->n == L->cap) die("more tensors than the layout has room for (%d)", L->cap); // a bug, not an input
    Entry *x = &L->e[L->n++];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(x->name, sizeof(x->name), fmt, ap);
    va_end(ap);
    x->param = param; x->offset = offset; x->rows = rows; x->cols = cols;
    x->transpose = transpose; x->rope_perm = perm; x->ndim = cols > 1 ? 2 : 1;
}

// layer l's tensors beyond either family, under the layer's attention prefix: QK-norm gains (rows
// reordered with RoPE's where the family needs it) and the normalizer's per-head parameters
static void add_attention_extras(Layout *L, const GPTConfig *c, int l, const char *attn, int perm) {
    size_t NH = c->num_heads, hs = c->channels / NH;
    if (c->qk_norm) {
        add(L, PARAM_QNORMW, l * hs, hs, 1, 0, perm, "%s.q_norm.weight", attn);
        add(L, PARAM_KNORMW, l * hs, hs, 1, 0, perm, "%s.k_norm.weight", attn);
    }
    const Normalizer *nz = &normalizers[c->attn];
    for (int k = 0; k < nz->nparams; k++) add(L, PARAM_ATTN0 + k, l * NH, NH, 1, 0, 0, "%s.normalizer.%s", attn, nz->param_names[k]);
}

// every tensor of config c in the file's names, in the order the file stores them
static Layout layout(const GPTConfig *c) {
    int cap = PER_LAYER * (c->num_layers + 1);
    Layout L = {malloc_check((size_t)cap * sizeof(Entry)), 0, cap};
    size_t C = c->channels, F = c->ffn, Fin = c->mlp == MLP_SWIGLU ? 2 * F : F;
    size_t V = c->vocab_size;
    int ln = c->norm == NORM_LAYERNORM, rope = c->pos == POS_ROPE;
    char attn[48];
    if (c->pos == POS_LEARNED) { // the GPT-2 family
        add(&L, PARAM_WTE, 0, V, C, 0, 0, "wte.weight");
        add(&L, PARAM_WPE, 0, c->max_seq_len, C, 0, 0, "wpe.weight");
        for (int l = 0; l < c->num_layers; l++) {
            add(&L, PARAM_LN1W, l * C, C, 1, 0, 0, "h.%d.ln_1.weight", l);
            if (ln) add(&L, PARAM_LN1B, l * C, C, 1, 0, 0, "h.%d.ln_1.bias", l);
            add(&L, PARAM_QKVW, l * 3 * C * C, 3 * C, C, 1, 0, "h.%d.attn.c_attn.weight", l);
            if (c->bias) add(&L, PARAM_QKVB, l * 3 * C, 3 * C, 1, 0, 0, "h.%d.attn.c_attn.bias", l);
            add(&L, PARAM_ATTPROJW, l * C * C, C, C, 1, 0, "h.%d.attn.c_proj.weight", l);
            if (c->bias) add(&L, PARAM_ATTPROJB, l * C, C, 1, 0, 0, "h.%d.attn.c_proj.bias", l);
            snprintf(attn, sizeof(attn), "h.%d.attn", l);
            add_attention_extras(&L, c, l, attn, 0);
            add(&L, PARAM_LN2W, l * C, C, 1, 0, 0, "h.%d.ln_2.weight", l);
            if (ln) add(&L, PARAM_LN2B, l * C, C, 1, 0, 0, "h.%d.ln_2.bias", l);
            add(&L, PARAM_FCW, l * Fin * C, Fin, C, 1, 0, "h.%d.mlp.c_fc.weight", l);
            if (c->bias) add(&L, PARAM_FCB, l * Fin, Fin, 1, 0, 0, "h.%d.mlp.c_fc.bias", l);
            add(&L, PARAM_FCPROJW, l * C * F, C, F, 1, 0, "h.%d.mlp.c_proj.weight", l);
            if (c->bias) add(&L, PARAM_FCPROJB, l * C, C, 1, 0, 0, "h.%d.mlp.c_proj.bias", l);
        }
        add(&L, PARAM_LNFW, 0, C, 1, 0, 0, "ln_f.weight");
        if (ln) add(&L, PARAM_LNFB, 0, C, 1, 0, 0, "ln_f.bias");
    } else { // the Llama family
        add(&L, PARAM_WTE, 0, V, C, 0, 0, "model.embed_tokens.weight");
        for (int l = 0; l < c->num_layers; l++) {
            add(&L, PARAM_LN1W, l * C, C, 1, 0, 0, "model.layers.%d.input_layernorm.weight", l);
            if (ln) add(&L, PARAM_LN1B, l * C, C, 1, 0, 0, "model.layers.%d.input_layernorm.bias", l);
            const char *qkv[3] = {"q", "k", "v"};
            for (int j = 0; j < 3; j++) {
                add(&L, PARAM_QKVW, (l * 3 + j) * C * C, C, C, 0, rope && j < 2, "model.layers.%d.self_attn.%s_proj.weight", l, qkv[j]);
                if (c->bias) add(&L, PARAM_QKVB, (l * 3 + j) * C, C, 1, 0, rope && j < 2, "model.layers.%d.self_attn.%s_proj.bias", l, qkv[j]);
            }
            add(&L, PARAM_ATTPROJW, l * C * C, C, C, 0, 0, "model.layers.%d.self_attn.o_proj.weight", l);
            if (c->bias) add(&L, PARAM_ATTPROJB, l * C, C, 1, 0, 0, "model.layers.%d.self_attn.o_proj.bias", l);
            snprintf(attn, sizeof(attn), "model.layers.%d.self_attn", l);
            add_attention_extras(&L, c, l, attn, rope);
            add(&L, PARAM_LN2W, l * C, C, 1, 0, 0, "model.layers.%d.post_attention_layernorm.weight", l);
            if (ln) add(&L, PARAM_LN2B, l * C, C, 1, 0, 0, "model.layers.%d.post_attention_layernorm.bias", l);
            if (c->mlp == MLP_SWIGLU) {
                add(&L, PARAM_FCW, l * Fin * C, F, C, 0, 0, "model.layers.%d.mlp.gate_proj.weight", l);
                add(&L, PARAM_FCW, l * Fin * C + F * C, F, C, 0, 0, "model.layers.%d.mlp.up_proj.weight", l);
                if (c->bias) {
                    add(&L, PARAM_FCB, l * Fin, F, 1, 0, 0, "model.layers.%d.mlp.gate_proj.bias", l);
                    add(&L, PARAM_FCB, l * Fin + F, F, 1, 0, 0, "model.layers.%d.mlp.up_proj.bias", l);
                }
            } else {
                add(&L, PARAM_FCW, l * F * C, F, C, 0, 0, "model.layers.%d.mlp.up_proj.weight", l);
                if (c->bias) add(&L, PARAM_FCB, l * F, F, 1, 0, 0, "model.layers.%d.mlp.up_proj.bias", l);
            }
            add(&L, PARAM_FCPROJW, l * C * F, C, F, 0, 0, "model.layers.%d.mlp.down_proj.weight", l);
            if (c->bias) add(&L, PARAM_FCPROJB, l * C, C, 1, 0, 0, "model.layers.%d.mlp.down_proj.bias", l);
        }
        add(&L, PARAM_LNFW, 0, C, 1, 0, 0, "model.norm.weight");
        if (ln) add(&L, PARAM_LNFB, 0, C, 1, 0, 0, "model.norm.bias");
    }
    if (!c->tie) add(&L, PARAM_LMW, 0, V, C, 0, 0, "lm_head.weight");
    return L;
}

// the file's shape of an entry
static void file_shape(const Entry *x, size_t *shape) {
    shape[0] = x->transpose ? x->cols : x->rows;
    shape[1] = x->transpose ? x->rows : x->cols;
}

// file row j of a RoPE-reordered tensor holds our row src_row(j): per head, our even channels, then odd
static size_t src_row(const Entry *x, size_t j, size_t hs) {
    if (!x->rope_perm) return j;
    size_t h = j / hs, i = j % hs, half = hs / 2;
    return h * hs + (i < half ? 2 * i : 2 * (i - half) + 1);
}

static size_t head_size(const GPTConfig *c) { return (size_t)c->channels / c->num_heads; }

// ----------------------------------------------------------------------------
// writing

static void write_config(FILE *f, const GPTConfig *c) {
    int gpt2 = c->pos == POS_LEARNED;
    fprintf(f, "{\n");
    if (gpt2) {
        fprintf(f, "  \"architectures\": [\"GPT2LMHeadModel\"],\n  \"model_type\": \"gpt2\",\n");
        fprintf(f, "  \"n_layer\": %d,\n  \"n_head\": %d,\n  \"n_embd\": %d,\n  \"n_inner\": %d,\n  \"n_positions\": %d,\n  \"n_ctx\": %d,\n",
                c->num_layers, c->num_heads, c->channels, c->ffn, c->max_seq_len, c->max_seq_len);
        fprintf(f, "  \"vocab_size\": %d,\n  \"layer_norm_epsilon\": 1e-05,\n  \"activation_function\": \"%s\",\n", c->vocab_size,
                c->mlp == MLP_GELU ? "gelu_new" : "silu");
    } else {
        fprintf(f, "  \"architectures\": [\"LlamaForCausalLM\"],\n  \"model_type\": \"llama\",\n");
        fprintf(f, "  \"num_hidden_layers\": %d,\n  \"num_attention_heads\": %d,\n  \"num_key_value_heads\": %d,\n  \"hidden_size\": %d,\n",
                c->num_layers, c->num_heads, c->num_heads, c->channels);
        fprintf(f, "  \"intermediate_size\": %d,\n  \"max_position_embeddings\": %d,\n  \"vocab_size\": %d,\n  \"rms_norm_eps\": 1e-05,\n",
                c->ffn, c->max_seq_len, c->vocab_size);
        fprintf(f, "  \"rope_theta\": %.9g,\n  \"hidden_act\": \"%s\",\n  \"attention_bias\": %s,\n  \"mlp_bias\": %s,\n", c->rope_theta,
                c->mlp == MLP_SWIGLU ? "silu" : "gelu_pytorch_tanh", c->bias ? "true" : "false", c->bias ? "true" : "false");
    }
    fprintf(f, "  \"tie_word_embeddings\": %s,\n  \"torch_dtype\": \"float32\",\n", c->tie ? "true" : "false");
    fprintf(f, "  \"ssmax_train\": {\n");
    fprintf(f, "    \"attn\": \"%s\",\n    \"pos\": \"%s\",\n    \"norm\": \"%s\",\n    \"mlp\": \"%s\",\n", normalizers[c->attn].name,
            pos_names[c->pos], norm_names[c->norm], mlp_names[c->mlp]);
    fprintf(f, "    \"layers\": %d,\n    \"heads\": %d,\n    \"width\": %d,\n    \"ffn\": %d,\n    \"vocab\": %d,\n    \"max_seq\": %d,\n",
            c->num_layers, c->num_heads, c->channels, c->ffn, c->vocab_size, c->max_seq_len);
    fprintf(f, "    \"tie\": %d,\n    \"bias\": %d,\n    \"qk_norm\": %d,\n    \"doc_mask\": %d,\n    \"eot\": %d,\n    \"train_len\": %d,\n",
            c->tie, c->bias, c->qk_norm, c->doc_mask, c->eot, c->train_len);
    fprintf(f, "    \"rope_theta\": %.9g,\n    \"ssmax_s0\": %.9g,\n    \"tokenizer\": \"%s\",\n", c->rope_theta, c->ssmax_s0,
            tokenizer_kind_name(c->tokenizer));
    fprintf(f, "    \"norm_eps\": 1e-05,\n    \"rope_pairs\": \"%s\"\n  }\n}\n", c->pos == POS_ROPE ? "rotate_half" : "none");
}

static FILE *open_tmp(const char *dir, const char *name, char *tmp, char *final, size_t n) {
    snprintf(final, n, "%s/%s", dir, name);
    snprintf(tmp, n, "%s/%s.tmp", dir, name);
    return fopen_check(tmp, "wb");
}

static void finish_tmp(FILE *f, const char *tmp, const char *final) {
    int ok = fflush(f) == 0 && !ferror(f) && fsync(fileno(f)) == 0;
    int err = errno;
    if (fclose(f) != 0 && ok) { ok = 0; err = errno; }
    if (!ok) { remove(tmp); die("could not write '%s' (%s)\nHINT: is the disk full? free space and export again", final, strerror(err)); }
    if (rename(tmp, final) != 0) { remove(tmp); die("could not rename '%s' to '%s' (%s)\nHINT: check the output folder's permissions and export again", tmp, final, strerror(errno)); }
}

void safetensors_export(const GPT *model, const char *dir) {
    const GPTConfig *c = &model->config;
    if (mkdir(dir, 0755) != 0 && errno != EEXIST)
        die("cannot create the export folder '%s' (%s)\nHINT: check that its parent exists and is writable", dir, strerror(errno));
    Layout L = layout(c);
    // the header: names, shapes and offsets in layout order, padded with spaces to a multiple of 8
    size_t cap = 256 + (size_t)L.n * 192, len = 0, at = 0;
    char *hdr = malloc_check(cap);
    len += (size_t)snprintf(hdr + len, cap - len, "{\"__metadata__\":{\"format\":\"pt\",\"producer\":\"ssmax-train\"}");
    for (int i = 0; i < L.n; i++) {
        size_t sh[2], bytes = L.e[i].rows * L.e[i].cols * 4;
        file_shape(&L.e[i], sh);
        if (L.e[i].ndim == 2)
            len += (size_t)snprintf(hdr + len, cap - len, ",\"%s\":{\"dtype\":\"F32\",\"shape\":[%zu,%zu],\"data_offsets\":[%zu,%zu]}",
                                    L.e[i].name, sh[0], sh[1], at, at + bytes);
        else
            len += (size_t)snprintf(hdr + len, cap - len, ",\"%s\":{\"dtype\":\"F32\",\"shape\":[%zu],\"data_offsets\":[%zu,%zu]}",
                                    L.e[i].name, sh[0], at, at + bytes);
        at += bytes;
    }
    len += (size_t)snprintf(hdr + len, cap - len, "}");
    while (len % 8) hdr[len++] = ' ';
    char tmp[4200], final[4200];
    FILE *f = open_tmp(dir, "model.safetensors", tmp, final, sizeof(tmp));
    uint64_t n = len;
    unsigned char le[8];
    for (int k = 0; k < 8; k++) le[k] = (unsigned char)(n >> (8 * k));
    fwrite(le, 1, 8, f);
    fwrite(hdr, 1, len, f);
    size_t hs = head_size(c), most = 0;
    for (int i = 0; i < L.n; i++) if (L.e[i].rows * L.e[i].cols > most) most = L.e[i].rows * L.e[i].cols;
    float *buf = malloc_check(most * sizeof(float));
    for (int i = 0; i < L.n; i++) {
        const Entry *x = &L.e[i];
        const float *src = model->params.t[x->param] + x->offset;
        for (size_t r = 0; r < x->rows; r++) {
            const float *row = src + src_row(x, r, hs) * x->cols;
            for (size_t k = 0; k < x->cols; k++) buf[x->transpose ? k * x->rows + r : r * x->cols + k] = row[k];
        }
        fwrite(buf, sizeof(float), x->rows * x->cols, f); // little-endian hosts only (x86-64)
    }
    finish_tmp(f, tmp, final);
    f = open_tmp(dir, "config.json", tmp, final, sizeof(tmp));
    write_config(f, c);
    finish_tmp(f, tmp, final);
    free(buf); free(hdr); free(L.e);
}

// ----------------------------------------------------------------------------
// reading

typedef struct {
    char *name;
    int dtype;          // 4: F32, 2: F16 (DT_F16) or BF16 (DT_BF16)
    int bf16;
    int ndim;
    uint64_t shape[8];
    uint64_t begin, end;
} FileTensor;

typedef struct {
    FileTensor *t;
    int n;
    uint64_t data_start; // 8 + header length
    JsonValue root;
} Header;

static int cmp_begin(const void *a, const void *b) {
    const FileTensor *x = a, *y = b;
    return x->begin < y->begin ? -1 : x->begin > y->begin;
}

static uint64_t whole(const JsonValue *v, const char *path, const char *what, const char *name) {
    if (!v || v->type != JSON_NUMBER || v->number < 0 || v->number > 9007199254740992.0 || v->number != (double)(uint64_t)v->number)
        die("'%s': tensor '%s' has a bad %s in its header\nHINT: the file is corrupt or not a safetensors file", path, name, what);
    return (uint64_t)v->number;
}

// the header, every field checked against the file: dtypes, shapes, offsets in range, sizes, overlaps
static Header read_st_header(const char *path) {
    regular_file_check(path, "safetensors file");
    FILE *f = fopen(path, "rb");
    if (!f) die("cannot open '%s' (%s)\nHINT: check the path", path, strerror(errno));
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char le[8];
    if (size < 8 || fread(le, 1, 8, f) != 8) { fclose(f); die("'%s' is %ld bytes, shorter than a safetensors header\nHINT: the file is truncated", path, size); }
    uint64_t n = 0;
    for (int k = 0; k < 8; k++) n |= (uint64_t)le[k] << (8 * k);
    if (n > (uint64_t)size - 8) { fclose(f); die("'%s' says its header is %llu bytes, past the end of the %ld-byte file\nHINT: the file is truncated or corrupt", path, (unsigned long long)n, size); }
    if (n > MAX_HEADER || n < 2) { fclose(f); die("'%s' has a header of %llu bytes, outside 2..%u\nHINT: the file is corrupt or not a safetensors file", path, (unsigned long long)n, MAX_HEADER); }
    char *text = malloc_check(n + 1);
    fread_check(text, 1, n, f, "safetensors header");
    fclose(f);
    text[n] = 0;
    Header H = {0};
    H.data_start = 8 + n;
    char err[160];
    if (json_parse(text, n, &H.root, err, sizeof(err)) || H.root.type != JSON_OBJECT)
        die("'%s': its header is not a JSON object (%s)\nHINT: the file is corrupt or not a safetensors file", path,
            H.root.type != JSON_OBJECT && !err[0] ? "another value" : err);
    free(text);
    uint64_t data_size = (uint64_t)size - H.data_start;
    H.t = malloc_check(((size_t)H.root.count + 1) * sizeof(FileTensor));
    for (int i = 0; i < H.root.count; i++) {
        const char *name = H.root.keys[i];
        const JsonValue *v = &H.root.items[i];
        if (!strcmp(name, "__metadata__")) continue;
        if (v->type != JSON_OBJECT) die("'%s': tensor '%s' is not described by an object\nHINT: the file is corrupt", path, name);
        FileTensor *t = &H.t[H.n];
        memset(t, 0, sizeof(*t));
        t->name = H.root.keys[i];
        const char *dt = json_string(v, "dtype", NULL);
        if (!dt) die("'%s': tensor '%s' has no dtype\nHINT: the file is corrupt", path, name);
        if (!strcmp(dt, "F32")) t->dtype = 4;
        else if (!strcmp(dt, "F16")) t->dtype = 2;
        else if (!strcmp(dt, "BF16")) { t->dtype = 2; t->bf16 = 1; }
        else die("'%s': tensor '%s' has dtype %s; weights must be F32, F16 or BF16\nHINT: convert the file to float32", path, name, dt);
        const JsonValue *sh = json_get(v, "shape"), *off = json_get(v, "data_offsets");
        if (!sh || sh->type != JSON_ARRAY || sh->count > 8)
            die("'%s': tensor '%s' has no shape of up to 8 dimensions\nHINT: the file is corrupt", path, name);
        t->ndim = sh->count;
        long double numel = 1;
        for (int d = 0; d < sh->count; d++) { t->shape[d] = whole(&sh->items[d], path, "shape", name); numel *= t->shape[d]; }
        if (!off || off->type != JSON_ARRAY || off->count != 2)
            die("'%s': tensor '%s' has no data_offsets [begin, end]\nHINT: the file is corrupt", path, name);
        t->begin = whole(&off->items[0], path, "data_offsets", name);
        t->end = whole(&off->items[1], path, "data_offsets", name);
        if (t->begin > t->end || t->end > data_size)
            die("'%s': tensor '%s' lies at bytes %llu..%llu of a data section of %llu bytes\nHINT: the file is truncated or corrupt",
                path, name, (unsigned long long)t->begin, (unsigned long long)t->end, (unsigned long long)data_size);
        if ((long double)(t->end - t->begin) != numel * t->dtype)
            die("'%s': tensor '%s' takes %llu bytes, its shape and dtype need %.0Lf\nHINT: the file is corrupt", path, name,
                (unsigned long long)(t->end - t->begin), numel * t->dtype);
        H.n++;
    }
    qsort(H.t, (size_t)H.n, sizeof(FileTensor), cmp_begin);
    int last = -1; // the non-empty tensor that ends furthest so far
    for (int i = 0; i < H.n; i++) {
        if (H.t[i].end == H.t[i].begin) continue;
        if (last >= 0 && H.t[i].begin < H.t[last].end)
            die("'%s': tensors '%s' and '%s' overlap in the data section\nHINT: the file is corrupt", path, H.t[last].name, H.t[i].name);
        if (last < 0 || H.t[i].end > H.t[last].end) last = i;
    }
    return H;
}

static void free_header(Header *H) { free(H->t); json_free(&H->root); }

static const FileTensor *find(const Header *H, const char *name, int prefixed) {
    char full[128];
    snprintf(full, sizeof(full), "transformer.%s", name);
    for (int i = 0; i < H->n; i++)
        if (!strcmp(H->t[i].name, name) || (prefixed && !strcmp(H->t[i].name, full))) return &H->t[i];
    return NULL;
}

// config.json beside the file
static JsonValue read_config_json(const char *path, char *cfg_path, size_t n) {
    snprintf(cfg_path, n, "%s", path);
    char *slash = strrchr(cfg_path, '/');
    if (slash) snprintf(slash + 1, n - (size_t)(slash + 1 - cfg_path), "config.json");
    else snprintf(cfg_path, n, "config.json");
    if (access(cfg_path, F_OK) != 0)
        die("'%s' has no config.json beside it (looked for '%s')\nHINT: keep the config.json that came with the model in the same folder",
            path, cfg_path);
    regular_file_check(cfg_path, "config.json");
    FILE *f = fopen_check(cfg_path, "rb");
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    if (size < 2 || size > (1 << 24)) die("'%s' is %ld bytes, not a model config\nHINT: use the config.json that came with the model", cfg_path, size);
    char *text = malloc_check((size_t)size + 1);
    fread_check(text, 1, (size_t)size, f, "config.json");
    fclose(f);
    JsonValue root;
    char err[160];
    if (json_parse(text, (size_t)size, &root, err, sizeof(err)) || root.type != JSON_OBJECT)
        die("'%s' is not a JSON object (%s)\nHINT: use the config.json that came with the model", cfg_path, root.type == JSON_OBJECT ? "" : err);
    free(text);
    return root;
}

static int need_int(const JsonValue *o, const char *key, const char *cfg_path, double lo, double hi) {
    double v = json_number(o, key, NAN);
    if (!(v >= lo && v <= hi) || v != floor(v))
        die("'%s': \"%s\" is %s, expected a whole number in %g..%g\nHINT: use the config.json that came with the model", cfg_path, key,
            json_get(o, key) ? "out of range or not a number" : "missing", lo, hi);
    return (int)v;
}

static int named(const char *v, const char **names, int count, const char *key, const char *cfg_path) {
    for (int i = 0; i < count; i++) if (v && !strcmp(v, names[i])) return i;
    die("'%s': \"%s\" is '%s', not a known value\nHINT: use the config.json that came with the model", cfg_path, key, v ? v : "missing");
}

static GPTConfig config_from_json(const JsonValue *root, const char *cfg_path) {
    GPTConfig c = {0};
    const JsonValue *own = json_get(root, "ssmax_train");
    if (own) { // written by this project: the whole config
        const char *attn = json_string(own, "attn", NULL);
        const Normalizer *nz = attn ? normalizer_find(attn) : NULL;
        if (!nz) die("'%s': ssmax_train.attn is '%s', not a normalizer of this build\nHINT: one of %s", cfg_path, attn ? attn : "missing", normalizer_list(0));
        c.attn = (int)(nz - normalizers);
        c.pos = named(json_string(own, "pos", NULL), pos_names, POS_COUNT, "ssmax_train.pos", cfg_path);
        c.norm = named(json_string(own, "norm", NULL), norm_names, NORM_COUNT, "ssmax_train.norm", cfg_path);
        c.mlp = named(json_string(own, "mlp", NULL), mlp_names, MLP_COUNT, "ssmax_train.mlp", cfg_path);
        c.num_layers = need_int(own, "layers", cfg_path, 1, 1024); c.num_heads = need_int(own, "heads", cfg_path, 1, 1024);
        c.channels = need_int(own, "width", cfg_path, 1, 1 << 16); c.ffn = need_int(own, "ffn", cfg_path, 1, 1 << 20);
        c.vocab_size = need_int(own, "vocab", cfg_path, 1, 1 << 24); c.max_seq_len = need_int(own, "max_seq", cfg_path, 1, 1 << 24);
        c.tie = need_int(own, "tie", cfg_path, 0, 1); c.bias = need_int(own, "bias", cfg_path, 0, 1);
        c.qk_norm = need_int(own, "qk_norm", cfg_path, 0, 1); c.doc_mask = need_int(own, "doc_mask", cfg_path, 0, 1);
        c.eot = need_int(own, "eot", cfg_path, 0, 1 << 24); c.train_len = need_int(own, "train_len", cfg_path, 0, 1 << 24);
        c.rope_theta = (float)json_number(own, "rope_theta", 10000.0);
        c.ssmax_s0 = (float)json_number(own, "ssmax_s0", 1.0);
        const char *tok = json_string(own, "tokenizer", "unknown");
        for (int i = 1; i < TOKENIZER_COUNT; i++) if (!strcmp(tok, tokenizer_names[i])) c.tokenizer = i;
    } else { // a Hugging Face file: the family's own architecture, Softmax attention
        const char *type = json_string(root, "model_type", NULL);
        if (type && !strcmp(type, "gpt2")) {
            c.num_layers = need_int(root, "n_layer", cfg_path, 1, 1024); c.num_heads = need_int(root, "n_head", cfg_path, 1, 1024);
            c.channels = need_int(root, "n_embd", cfg_path, 1, 1 << 16);
            c.ffn = json_get(root, "n_inner") && json_get(root, "n_inner")->type == JSON_NUMBER ? need_int(root, "n_inner", cfg_path, 1, 1 << 20) : 4 * c.channels;
            c.max_seq_len = need_int(root, "n_positions", cfg_path, 1, 1 << 24); c.vocab_size = need_int(root, "vocab_size", cfg_path, 1, 1 << 24);
            const char *act = json_string(root, "activation_function", "gelu_new");
            if (strcmp(act, "gelu_new") && strcmp(act, "gelu_pytorch_tanh"))
                die("'%s': activation_function '%s'; this model's GELU is the tanh form (gelu_new)\nHINT: such a model cannot be loaded exactly", cfg_path, act);
            c.pos = POS_LEARNED; c.norm = NORM_LAYERNORM; c.mlp = MLP_GELU; c.bias = 1;
            c.tie = json_number(root, "tie_word_embeddings", 1) != 0;
        } else if (type && !strcmp(type, "llama")) {
            c.num_layers = need_int(root, "num_hidden_layers", cfg_path, 1, 1024);
            c.num_heads = need_int(root, "num_attention_heads", cfg_path, 1, 1024);
            c.channels = need_int(root, "hidden_size", cfg_path, 1, 1 << 16); c.ffn = need_int(root, "intermediate_size", cfg_path, 1, 1 << 20);
            c.max_seq_len = need_int(root, "max_position_embeddings", cfg_path, 1, 1 << 24);
            c.vocab_size = need_int(root, "vocab_size", cfg_path, 1, 1 << 24);
            if (json_number(root, "num_key_value_heads", c.num_heads) != c.num_heads)
                die("'%s': %g key-value heads for %d query heads (grouped-query attention)\nHINT: this model has one key-value head per query head",
                    cfg_path, json_number(root, "num_key_value_heads", 0), c.num_heads);
            const JsonValue *scaling = json_get(root, "rope_scaling");
            if (scaling && scaling->type != JSON_NULL) die("'%s' asks for RoPE scaling\nHINT: only plain RoPE is supported", cfg_path);
            if (strcmp(json_string(root, "hidden_act", "silu"), "silu"))
                die("'%s': hidden_act '%s', expected silu (SwiGLU)\nHINT: such a model cannot be loaded exactly", cfg_path, json_string(root, "hidden_act", ""));
            int ab = json_number(root, "attention_bias", 0) != 0, mb = json_number(root, "mlp_bias", 0) != 0;
            if (ab != mb) die("'%s': attention_bias %d but mlp_bias %d\nHINT: this model has biases on every linear layer or on none", cfg_path, ab, mb);
            c.pos = POS_ROPE; c.norm = NORM_RMSNORM; c.mlp = MLP_SWIGLU; c.bias = ab;
            c.tie = json_number(root, "tie_word_embeddings", 0) != 0;
            c.rope_theta = (float)json_number(root, "rope_theta", 10000.0);
            double eps = json_number(root, "rms_norm_eps", 1e-5);
            if (eps != 1e-5) fprintf(stderr, "note: '%s' has rms_norm_eps %g; this build's RMSNorm uses 1e-05\n", cfg_path, eps);
        } else {
            die("'%s': model_type '%s' and no ssmax_train section\nHINT: this build reads gpt2 and llama models, and the files it exports",
                cfg_path, type ? type : "missing");
        }
        c.attn = ATTN_SOFTMAX;
        if (c.rope_theta == 0) c.rope_theta = 10000.0f;
        c.ssmax_s0 = 1.0f;
        c.tokenizer = c.vocab_size == 50257 ? TOKENIZER_GPT2 : TOKENIZER_UNKNOWN;
    }
    c.padded_vocab_size = gpt_padded_vocab(c.vocab_size);
    return c;
}

static int skipped_buffer(const char *name) {
    size_t n = strlen(name);
    const char *ends[] = {".attn.bias", ".attn.masked_bias", "rotary_emb.inv_freq"};
    for (int i = 0; i < 3; i++) {
        size_t k = strlen(ends[i]);
        if (n >= k && !strcmp(name + n - k, ends[i])) return 1;
    }
    return 0;
}

// every tensor the config needs is in the file with its shape, and the file holds nothing else
static void check_tensors(const Header *H, const GPTConfig *c, const char *path) {
    Layout L = layout(c);
    int prefixed = c->pos == POS_LEARNED;
    char *used = malloc_check((size_t)H->n + 1); // zeroed
    for (int i = 0; i < L.n; i++) {
        const FileTensor *t = find(H, L.e[i].name, prefixed);
        if (!t) die("'%s' lacks tensor '%s', which its config needs\nHINT: the file is incomplete, or its config.json belongs to another model", path, L.e[i].name);
        size_t sh[2];
        file_shape(&L.e[i], sh);
        int ok = t->ndim == L.e[i].ndim && t->shape[0] == sh[0] && (L.e[i].ndim == 1 || t->shape[1] == sh[1]);
        if (!ok) {
            char have[96] = "", want[64];
            for (int d = 0; d < t->ndim && strlen(have) < 70; d++)
                snprintf(have + strlen(have), sizeof(have) - strlen(have), "%s%llu", d ? ", " : "", (unsigned long long)t->shape[d]);
            if (L.e[i].ndim == 2) snprintf(want, sizeof(want), "%zu, %zu", sh[0], sh[1]);
            else snprintf(want, sizeof(want), "%zu", sh[0]);
            die("'%s': tensor '%s' has shape [%s], the config needs [%s]\nHINT: its config.json belongs to another model", path, t->name, have, want);
        }
        used[t - H->t] = 1;
    }
    for (int i = 0; i < H->n; i++) {
        if (used[i] || skipped_buffer(H->t[i].name)) continue;
        if (c->tie && (!strcmp(H->t[i].name, "lm_head.weight"))) continue; // tied: the same values as the embedding
        die("'%s' holds tensor '%s', which the config does not use\nHINT: its config.json belongs to another model, or the architecture "
            "is not one this build runs", path, H->t[i].name);
    }
    free(used);
    free(L.e);
}

int safetensors_sniff(const char *path) {
    size_t len = strlen(path);
    if (len >= 12 && !strcmp(path + len - 12, ".safetensors")) return 1; // by name: its own errors, whatever it holds
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    unsigned char b[9];
    int ok = fread(b, 1, 9, f) == 9;
    fclose(f);
    if (!ok) return 0;
    uint64_t n = 0;
    for (int k = 0; k < 8; k++) n |= (uint64_t)b[k] << (8 * k);
    return n >= 2 && n <= MAX_HEADER && b[8] == '{';
}

GPTConfig safetensors_read_config(const char *path) {
    Header H = read_st_header(path);
    char cfg_path[4200];
    JsonValue root = read_config_json(path, cfg_path, sizeof(cfg_path));
    GPTConfig c = config_from_json(&root, cfg_path);
    json_free(&root);
    char why[256];
    if (gpt_config_check(&c, why, sizeof(why))) die("'%s' describes an invalid model: %s\nHINT: use the config.json that came with the model", cfg_path, why);
    check_tensors(&H, &c, path);
    free_header(&H);
    return c;
}

static float half_to_float(uint16_t h, int bf16) {
    uint32_t bits;
    if (bf16) bits = (uint32_t)h << 16;
    else {
        uint32_t sign = (uint32_t)(h >> 15) << 31, e = h >> 10 & 0x1f, m = h & 0x3ff;
        if (e == 0 && m == 0) bits = sign;
        else if (e == 0) { // subnormal: normalise
            int s = -1;
            do { m <<= 1; s++; } while (!(m & 0x400));
            bits = sign | (uint32_t)(127 - 15 - s) << 23 | (m & 0x3ff) << 13;
        } else if (e == 31) bits = sign | 0x7f800000u | m << 13;
        else bits = sign | (e + 127 - 15) << 23 | m << 13;
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

void safetensors_load(GPT *model, const char *path, const GPTConfig *fc) {
    Header H = read_st_header(path);
    Layout L = layout(fc);
    FILE *f = fopen_check(path, "rb");
    size_t hs = head_size(fc), most = 0;
    for (int i = 0; i < L.n; i++) if (L.e[i].rows * L.e[i].cols > most) most = L.e[i].rows * L.e[i].cols;
    float *buf = malloc_check(most * sizeof(float));
    unsigned char *raw = malloc_check(most * 4);
    for (int i = 0; i < L.n; i++) {
        const Entry *x = &L.e[i];
        // a normalizer's parameters that the model does not have (a model converted to another one) are dropped
        if ((x->param == PARAM_ATTN0 || x->param == PARAM_ATTN1) && model->param_sizes[x->param] != (size_t)fc->num_layers * fc->num_heads) continue;
        const FileTensor *t = find(&H, x->name, fc->pos == POS_LEARNED); // there: checked by safetensors_read_config
        size_t count = x->rows * x->cols;
        if (fseek(f, (long)(H.data_start + t->begin), SEEK_SET) != 0) die("cannot seek in '%s'\nHINT: the file is truncated or not a regular file; export it again", path);
        fread_check(raw, (size_t)t->dtype, count, f, x->name);
        for (size_t k = 0; k < count; k++) {
            if (t->dtype == 4) memcpy(&buf[k], raw + 4 * k, 4);
            else buf[k] = half_to_float((uint16_t)(raw[2 * k] | raw[2 * k + 1] << 8), t->bf16);
        }
        float *dst = model->params.t[x->param] + x->offset;
        for (size_t r = 0; r < x->rows; r++) {
            float *row = dst + src_row(x, r, hs) * x->cols;
            for (size_t k = 0; k < x->cols; k++) row[k] = buf[x->transpose ? k * x->rows + r : r * x->cols + k];
        }
    }
    fclose(f);
    free(buf); free(raw); free(L.e);
    free_header(&H);
}
