/*
 * gpt.c: the GPT assembled from the layers: parameter and activation tables, random init,
 * one transformer block, the forward pass (with loss), the backward pass and evaluation.
 */
#include <math.h>
#include <string.h>
#include "../util/common.h"
#include "layers.h"
#include "gpt.h"
#include "../util/tokenizer_kind.h"
#include "kernels/matmul.h"

const char *pos_names[POS_COUNT] = {"learned", "rope", "none"};
const char *norm_names[NORM_COUNT] = {"layernorm", "rmsnorm"};
const char *mlp_names[MLP_COUNT] = {"gelu", "swiglu"};

const char *param_names[NUM_PARAM_TENSORS] = {
    "wte", "wpe", "ln1w", "ln1b", "qkvw", "qkvb", "attprojw", "attprojb", "ln2w", "ln2b",
    "fcw", "fcb", "fcprojw", "fcprojb", "lnfw", "lnfb", "lmw", "attn0", "attn1", "qnormw", "knormw"};

const Preset presets[] = {
    {"tiny", "tests and smoke runs", 2, 2, 64, 176, 64, 0, POS_ROPE, NORM_RMSNORM, MLP_SWIGLU, 0, 0},
    {"small", "the default CPU experiment", 4, 4, 128, 352, 128, 0, POS_ROPE, NORM_RMSNORM, MLP_SWIGLU, 0, 0},
    {"medium", "longer CPU experiments", 6, 4, 256, 704, 256, 0, POS_ROPE, NORM_RMSNORM, MLP_SWIGLU, 0, 0},
    {"geometry", "head size 64 at T=1024: the paper's attention geometry at CPU cost", 4, 4, 256, 704, 1024, 0, POS_ROPE,
     NORM_RMSNORM, MLP_SWIGLU, 0, 0},
    {"gpt2-124m", "llm.c's GPT-2 small", 12, 12, 768, 3072, 1024, 50257, POS_LEARNED, NORM_LAYERNORM, MLP_GELU, 1, 1},
    {"paper-162m", "the SSMax paper's model", 12, 12, 768, 2048, 1024, 50257, POS_ROPE, NORM_RMSNORM, MLP_SWIGLU, 0, 0},
};
const int num_presets = sizeof(presets) / sizeof(presets[0]);

const Preset *gpt_preset(const char *name) {
    for (int i = 0; i < num_presets; i++) if (strcmp(presets[i].name, name) == 0) return &presets[i];
    return NULL;
}

int gpt_padded_vocab(int V) { return (V + 63) / 64 * 64; }

GPTConfig gpt_preset_config(const Preset *p, int V, int T, int attn) {
    GPTConfig c;
    memset(&c, 0, sizeof(c));
    c.num_layers = p->L; c.num_heads = p->NH; c.channels = p->C; c.ffn = p->F;
    c.pos = p->pos; c.norm = p->norm; c.mlp = p->mlp; c.tie = p->tie; c.bias = p->bias;
    c.vocab_size = p->V ? p->V : V;
    c.padded_vocab_size = gpt_padded_vocab(c.vocab_size);
    c.tokenizer = p->V ? TOKENIZER_GPT2 : TOKENIZER_UNKNOWN;
    c.max_seq_len = T > p->T ? T : p->T;
    c.attn = attn;
    c.rope_theta = 10000.0f;
    c.ssmax_s0 = normalizer_default_s0(attn, T);
    return c;
}

const Normalizer *gpt_normalizer(const GPTConfig *c) { return &normalizers[c->attn]; }

// caps far above any model this CPU trainer can hold, low enough that every size product below fits
// size_t with room to spare (the largest tensor is then < 2^48 floats), so a corrupt or hostile header
// is refused before any allocation instead of wrapping a product
#define CAP_LAYERS 1024
#define CAP_HEADS 4096
#define CAP_CHANNELS 65536
#define CAP_FFN (1 << 20)
#define CAP_SEQ (1 << 24)
#define CAP_PADDED_VOCAB (1 << 17)

int gpt_config_check(const GPTConfig *c, char *why, size_t n) {
    if (c->num_layers > CAP_LAYERS || c->num_heads > CAP_HEADS || c->channels > CAP_CHANNELS || c->ffn > CAP_FFN ||
        c->max_seq_len > CAP_SEQ || c->padded_vocab_size > CAP_PADDED_VOCAB)
        return snprintf(why, n, "sizes beyond the caps (L=%d of %d, NH=%d of %d, C=%d of %d, F=%d of %d, T=%d of %d, Vp=%d of %d)",
                        c->num_layers, CAP_LAYERS, c->num_heads, CAP_HEADS, c->channels, CAP_CHANNELS, c->ffn, CAP_FFN,
                        c->max_seq_len, CAP_SEQ, c->padded_vocab_size, CAP_PADDED_VOCAB), 1;
    if (c->num_layers < 1 || c->num_heads < 1 || c->channels < 1 || c->ffn < 1 || c->max_seq_len < 1 || c->vocab_size < 2)
        return snprintf(why, n, "sizes must be positive (L=%d NH=%d C=%d F=%d T=%d V=%d)", c->num_layers,
                        c->num_heads, c->channels, c->ffn, c->max_seq_len, c->vocab_size), 1;
    if (c->channels % c->num_heads != 0)
        return snprintf(why, n, "width %d is not divisible by heads %d", c->channels, c->num_heads), 1;
    if (c->pos == POS_ROPE && (c->channels / c->num_heads) % 2 != 0)
        return snprintf(why, n, "RoPE needs an even head size, got %d", c->channels / c->num_heads), 1;
    if (c->vocab_size > 65536)
        return snprintf(why, n, "vocab %d does not fit the uint16 token shards", c->vocab_size), 1;
    if (c->padded_vocab_size < c->vocab_size)
        return snprintf(why, n, "padded vocab %d < vocab %d", c->padded_vocab_size, c->vocab_size), 1;
    if (c->attn < 0 || c->attn >= ATTN_COUNT || c->pos < 0 || c->pos >= POS_COUNT || c->norm < 0 ||
        c->norm >= NORM_COUNT || c->mlp < 0 || c->mlp >= MLP_COUNT || c->tokenizer < 0 || c->tokenizer >= TOKENIZER_COUNT)
        return snprintf(why, n, "unknown attention/position/norm/mlp/tokenizer code"), 1;
    if (!(c->rope_theta > 0) || !isfinite(c->rope_theta))
        return snprintf(why, n, "rope theta must be positive, got %g", c->rope_theta), 1;
    if (c->qk_norm != 0 && c->qk_norm != 1)
        return snprintf(why, n, "QK-norm flag %d, expected 0 or 1", c->qk_norm), 1;
    if (c->doc_mask != 0 && c->doc_mask != 1)
        return snprintf(why, n, "document mask flag %d, expected 0 or 1", c->doc_mask), 1;
    if (c->doc_mask && (c->eot < 0 || c->eot >= c->vocab_size))
        return snprintf(why, n, "end-of-text token %d outside the vocabulary of %d", c->eot, c->vocab_size), 1;
    if (c->train_len < 0 || c->train_len > CAP_SEQ)
        return snprintf(why, n, "training length %d out of range", c->train_len), 1;
    if (!isfinite(c->ssmax_s0))
        return snprintf(why, n, "ssmax s0 must be finite"), 1;
    return 0;
}

// ----------------------------------------------------------------------------
// parameter table

void gpt_param_sizes(size_t *s, const GPTConfig *c) {
    size_t Vp = c->padded_vocab_size, C = c->channels, L = c->num_layers, NH = c->num_heads;
    size_t F = c->ffn, Fin = c->mlp == MLP_SWIGLU ? 2 * F : F; // rows of the MLP's input projection
    int ln = c->norm == NORM_LAYERNORM, bias = c->bias;
    s[PARAM_WTE] = Vp * C;
    s[PARAM_WPE] = c->pos == POS_LEARNED ? (size_t)c->max_seq_len * C : 0;
    s[PARAM_LN1W] = L * C;
    s[PARAM_LN1B] = ln ? L * C : 0;
    s[PARAM_QKVW] = L * 3 * C * C;
    s[PARAM_QKVB] = bias ? L * 3 * C : 0;
    s[PARAM_ATTPROJW] = L * C * C;
    s[PARAM_ATTPROJB] = bias ? L * C : 0;
    s[PARAM_LN2W] = L * C;
    s[PARAM_LN2B] = ln ? L * C : 0;
    s[PARAM_FCW] = L * Fin * C;
    s[PARAM_FCB] = bias ? L * Fin : 0;
    s[PARAM_FCPROJW] = L * C * F;
    s[PARAM_FCPROJB] = bias ? L * C : 0;
    s[PARAM_LNFW] = C;
    s[PARAM_LNFB] = ln ? C : 0;
    s[PARAM_LMW] = c->tie ? 0 : Vp * C;
    for (int k = 0; k < ATTN_MAX_PARAMS; k++) s[PARAM_ATTN0 + k] = k < gpt_normalizer(c)->nparams ? L * NH : 0;
    s[PARAM_QNORMW] = s[PARAM_KNORMW] = c->qk_norm ? L * (C / NH) : 0;
}

int gpt_param_decays(int i) {
    // weight decay on matrices only; never on norms, biases or the normalizer's parameters
    return i == PARAM_WTE || i == PARAM_WPE || i == PARAM_QKVW || i == PARAM_ATTPROJW || i == PARAM_FCW ||
           i == PARAM_FCPROJW || i == PARAM_LMW;
}

// tensors of size 0 (not in this config) get NULL, so a stray use fails loudly instead of reading a neighbour
static void point_tensors(float **ptrs, const size_t *offsets, const size_t *sizes, float *memory, int n) {
    for (int i = 0; i < n; i++) ptrs[i] = sizes[i] ? memory + offsets[i] : NULL;
}

// lays tensors out at 64-byte aligned offsets; returns the total length in floats
static size_t layout(size_t *offsets, const size_t *sizes, int n) {
    size_t off = 0;
    for (int i = 0; i < n; i++) {
        offsets[i] = off;
        off += (sizes[i] + 15) / 16 * 16;
    }
    return off;
}

void gpt_build(GPT *model, const GPTConfig *config) {
    memset(model, 0, sizeof(*model));
    model->config = *config;
    gpt_param_sizes(model->param_sizes, config);
    model->num_parameters = 0;
    for (int i = 0; i < NUM_PARAM_TENSORS; i++) model->num_parameters += model->param_sizes[i];
    model->params_floats = layout(model->param_offsets, model->param_sizes, NUM_PARAM_TENSORS);
    size_t bytes = model->params_floats * sizeof(float);
    model->params_memory = malloc_check(bytes);
    model->grads_memory = malloc_check(bytes);
    model->m_memory = malloc_check(bytes);
    model->v_memory = malloc_check(bytes);
    point_tensors(model->params.t, model->param_offsets, model->param_sizes, model->params_memory, NUM_PARAM_TENSORS);
    point_tensors(model->grads.t, model->param_offsets, model->param_sizes, model->grads_memory, NUM_PARAM_TENSORS);
    model->mean_loss = -1.0f;
}

void gpt_init_normalizer_slot(GPT *model, int k) {
    float v = gpt_normalizer(&model->config)->init[k], *w = model->params.attn[k];
    if (isnan(v)) v = model->config.ssmax_s0; // ATTN_INIT_S0
    for (size_t i = 0; i < model->param_sizes[PARAM_ATTN0 + k]; i++) w[i] = v;
}

void gpt_init_random(GPT *model, uint64_t seed) {
    // GPT-2 init: N(0, 0.02) matrices, residual projections scaled by 1/sqrt(2L), zero biases, unit norms;
    // the normalizer's parameters as its table entry says
    GPTConfig *c = &model->config;
    ParameterTensors *p = &model->params;
    uint64_t rng = random_seed(seed, 1);
    memset(model->params_memory, 0, model->params_floats * sizeof(float));
    float resid_std = 0.02f / sqrtf(2.0f * c->num_layers);
    for (int i = 0; i < NUM_PARAM_TENSORS; i++) {
        float *w = p->t[i];
        size_t n = model->param_sizes[i];
        if (i == PARAM_WTE) n = (size_t)c->vocab_size * c->channels; // padded rows stay 0 and get no gradient
        if (gpt_param_decays(i)) {
            float std = (i == PARAM_ATTPROJW || i == PARAM_FCPROJW) ? resid_std : 0.02f;
            for (size_t k = 0; k < n; k++) w[k] = std * random_normal(&rng);
        }
    }
    for (size_t k = 0; k < model->param_sizes[PARAM_LN1W]; k++) p->ln1w[k] = 1.0f;
    for (size_t k = 0; k < model->param_sizes[PARAM_LN2W]; k++) p->ln2w[k] = 1.0f;
    for (size_t k = 0; k < model->param_sizes[PARAM_LNFW]; k++) p->lnfw[k] = 1.0f;
    for (size_t k = 0; k < model->param_sizes[PARAM_QNORMW]; k++) p->qnormw[k] = p->knormw[k] = 1.0f;
    for (int k = 0; k < ATTN_MAX_PARAMS; k++) gpt_init_normalizer_slot(model, k);
}

void gpt_free(GPT *model) {
    free(model->params_memory); free(model->grads_memory); free(model->m_memory); free(model->v_memory);
    free(model->acts_memory); free(model->grads_acts_memory);
    free(model->inputs); free(model->targets);
    free(model->rope.cos); free(model->rope.sin); free(model->eval.memory); free(model->docs.start);
    memset(model, 0, sizeof(*model));
}

// Softmax -> SSMax (or between normalizers) in place: every tensor the new normalizer shares with the old
// keeps its value and AdamW moments; its new parameter slots start at their initial values with zero
// moments; activations are re-made on the next pass
void gpt_switch_attention(GPT *model, int attn, float s0) {
    GPT n;
    GPTConfig c = model->config;
    c.attn = attn; c.ssmax_s0 = s0;
    gpt_build(&n, &c);
    float *from[3] = {model->params_memory, model->m_memory, model->v_memory}, *to[3] = {n.params_memory, n.m_memory, n.v_memory};
    for (int i = 0; i < NUM_PARAM_TENSORS; i++) {
        size_t size = n.param_sizes[i];
        if (size == model->param_sizes[i]) {
            for (int k = 0; k < 3; k++) memcpy(to[k] + n.param_offsets[i], from[k] + model->param_offsets[i], size * sizeof(float));
        } else if (i == PARAM_ATTN0 || i == PARAM_ATTN1) {
            gpt_init_normalizer_slot(&n, i - PARAM_ATTN0);
        }
    }
    gpt_free(model);
    *model = n;
}

int gpt_length_check(const GPTConfig *c, int T, char *why, size_t n) {
    if (c->pos == POS_LEARNED && T > c->max_seq_len)
        return snprintf(why, n, "a context of %d positions exceeds the model's %d learned positions", T, c->max_seq_len), 1;
    return 0;
}

// ----------------------------------------------------------------------------
// activation table

// rows of logits the fused head holds at once (gpt_forward_backward): about 256 MiB of them, whole
// micro-tiles, at least 256 rows so that its matmuls stay efficient. Every block reads the head's
// weights three times and its gradient twice, from memory: at 64 MiB (320 rows of 50304) 6x384's
// B=8 x T=256 took 7 blocks and ~4% longer per step than at 256 MiB (2 blocks; AVX2, Zen 3)
static size_t head_rows(const GPTConfig *c, size_t BT) {
    size_t r = ((size_t)256 << 20) / ((size_t)c->padded_vocab_size * sizeof(float)) / 64 * 64;
    if (r < 256) r = 256;
    return r < BT ? r : BT;
}

// logit_rows: rows of the logits buffer, B*T, or head_rows for the fused head. The gradients need one
// layer's buffers (a layer's activation gradients are used up within its backward pass, so every layer
// reuses them) and one for the residual stream (residual3: each block updates it in place, and it is
// also the gradient of the branch outputs attproj and fcproj, and at the end of encoded)
static void act_sizes(size_t *s, const GPTConfig *c, size_t B, size_t T, size_t logit_rows, int for_grads) {
    size_t C = c->channels, NH = c->num_heads, Vp = c->padded_vocab_size;
    size_t F = c->ffn, Fin = c->mlp == MLP_SWIGLU ? 2 * F : F;
    size_t BT = B * T, L = for_grads ? 1 : (size_t)c->num_layers;
    int g = !for_grads; // statistics and probabilities have no gradient buffer
    s[ACT_ENCODED] = g ? BT * C : 0;
    s[ACT_LN1] = L * BT * C;
    s[ACT_LN1_MEAN] = g ? L * BT : 0;
    s[ACT_LN1_RSTD] = g ? L * BT : 0;
    s[ACT_QKV] = L * BT * 3 * C;
    s[ACT_QKVR] = c->pos == POS_ROPE ? L * BT * 3 * C : 0;
    s[ACT_ATTY] = L * BT * C;
    s[ACT_ATT_LSE] = g ? L * B * NH * T : 0;
    s[ACT_ATTPROJ] = g ? L * BT * C : 0;
    s[ACT_RESIDUAL2] = g ? L * BT * C : 0;
    s[ACT_LN2] = L * BT * C;
    s[ACT_LN2_MEAN] = g ? L * BT : 0;
    s[ACT_LN2_RSTD] = g ? L * BT : 0;
    s[ACT_FCH] = L * BT * Fin;
    s[ACT_FCH_ACT] = L * BT * F;
    s[ACT_FCPROJ] = g ? L * BT * C : 0;
    s[ACT_RESIDUAL3] = L * BT * C;
    s[ACT_LNF] = BT * C;
    s[ACT_LNF_MEAN] = g ? BT : 0;
    s[ACT_LNF_RSTD] = g ? BT : 0;
    s[ACT_LOGITS] = g ? logit_rows * Vp : 0; // dlogits are written in place
    s[ACT_LOSSES] = g ? BT : 0;
    s[ACT_SCRATCH] = g ? attention_scratch_size((int)B, (int)T, (int)C, (int)NH) : 0;
    s[ACT_QKVN] = c->qk_norm ? L * BT * 3 * C : 0;
    s[ACT_QK_RSTD] = c->qk_norm && g ? L * BT * 2 * NH : 0;
}

size_t gpt_activation_bytes(const GPTConfig *c, int B, int T, int fused) {
    size_t s[NUM_ACTIVATION_TENSORS], off[NUM_ACTIVATION_TENSORS], total = 0, BT = (size_t)B * T;
    size_t rows = fused ? head_rows(c, BT) : BT;
    act_sizes(s, c, B, T, rows, 0);
    total += layout(off, s, NUM_ACTIVATION_TENSORS);
    act_sizes(s, c, B, T, rows, 1);
    total += layout(off, s, NUM_ACTIVATION_TENSORS);
    return total * sizeof(float) + 2 * (size_t)B * T * sizeof(int);
}

static void alloc_activations(GPT *model, int B, int T, size_t logit_rows) {
    free(model->acts_memory); free(model->grads_acts_memory); free(model->inputs); free(model->targets);
    size_t off[NUM_ACTIVATION_TENSORS], gsizes[NUM_ACTIVATION_TENSORS];
    act_sizes(model->act_sizes, &model->config, B, T, logit_rows, 0);
    size_t n = layout(off, model->act_sizes, NUM_ACTIVATION_TENSORS);
    model->acts_memory = malloc_check(n * sizeof(float));
    model->num_activations = n;
    point_tensors(model->acts.t, off, model->act_sizes, model->acts_memory, NUM_ACTIVATION_TENSORS);
    act_sizes(gsizes, &model->config, B, T, logit_rows, 1);
    size_t gn = layout(off, gsizes, NUM_ACTIVATION_TENSORS);
    model->grads_acts_memory = malloc_check(gn * sizeof(float));
    point_tensors(model->grads_acts.t, off, gsizes, model->grads_acts_memory, NUM_ACTIVATION_TENSORS);
    model->grads_acts.encoded = model->grads_acts.residual3; // the residual stream's gradient, in the end
    if (!model->config.qk_norm) { // without QK-norm RoPE (or attention) reads qkv directly
        model->acts.qkvn = model->acts.qkv;
        model->grads_acts.qkvn = model->grads_acts.qkv;
    }
    if (model->config.pos != POS_ROPE) { // without RoPE attention reads qkvn directly
        model->acts.qkvr = model->acts.qkvn;
        model->grads_acts.qkvr = model->grads_acts.qkvn;
    }
    model->inputs = malloc_check((size_t)B * T * sizeof(int));
    model->targets = malloc_check((size_t)B * T * sizeof(int));
    model->acts_BT = (size_t)B * T;
    model->acts_logit_rows = logit_rows;
}

// ----------------------------------------------------------------------------
// forward and backward

typedef struct { // one layer's slices of the parameters and activations
    float *ln1w, *ln1b, *qkvw, *qkvb, *attprojw, *attprojb, *ln2w, *ln2b, *fcw, *fcb, *fcprojw, *fcprojb;
    float *attn[ATTN_MAX_PARAMS], *qnormw, *knormw;
    float *ln1, *ln1_mean, *ln1_rstd, *qkv, *qkvn, *qk_rstd, *qkvr, *atty, *att_lse, *attproj, *residual2, *ln2, *ln2_mean,
          *ln2_rstd, *fch, *fch_act, *fcproj, *residual3;
} LayerView;

static float *at(float *base, size_t offset) { return base ? base + offset : NULL; } // absent tensors stay NULL

// layer l's parameter slices (from p: weights or gradients) and layer al's activation slices (from a,
// B*T rows; al = 0 for the activation gradients, whose one layer of buffers every layer reuses)
static LayerView layer_view(const GPT *m, const ParameterTensors *p, const ActivationTensors *a, int l, int al, size_t BT) {
    const GPTConfig *c = &m->config;
    size_t L = c->num_layers, C = c->channels, F = c->ffn, Fin = c->mlp == MLP_SWIGLU ? 2 * F : F;
    #define SLICE(i) at(p->t[i], m->param_sizes[i] / L * l)
    LayerView v;
    v.ln1w = SLICE(PARAM_LN1W);         v.ln1b = SLICE(PARAM_LN1B);
    v.qkvw = SLICE(PARAM_QKVW);         v.qkvb = SLICE(PARAM_QKVB);
    v.attprojw = SLICE(PARAM_ATTPROJW); v.attprojb = SLICE(PARAM_ATTPROJB);
    v.ln2w = SLICE(PARAM_LN2W);         v.ln2b = SLICE(PARAM_LN2B);
    v.fcw = SLICE(PARAM_FCW);           v.fcb = SLICE(PARAM_FCB);
    v.fcprojw = SLICE(PARAM_FCPROJW);   v.fcprojb = SLICE(PARAM_FCPROJB);
    for (int k = 0; k < ATTN_MAX_PARAMS; k++) v.attn[k] = SLICE(PARAM_ATTN0 + k);
    v.qnormw = SLICE(PARAM_QNORMW);     v.knormw = SLICE(PARAM_KNORMW);
    #undef SLICE
    v.ln1 = at(a->ln1, al * BT * C);     v.ln1_mean = at(a->ln1_mean, al * BT); v.ln1_rstd = at(a->ln1_rstd, al * BT);
    v.qkv = at(a->qkv, al * BT * 3 * C); v.qkvr = at(a->qkvr, al * BT * 3 * C); v.qkvn = at(a->qkvn, al * BT * 3 * C);
    v.qk_rstd = at(a->qk_rstd, al * BT * 2 * c->num_heads);
    v.atty = at(a->atty, al * BT * C);   v.att_lse = at(a->att_lse, al * BT * c->num_heads);
    v.attproj = at(a->attproj, al * BT * C); v.residual2 = at(a->residual2, al * BT * C);
    v.ln2 = at(a->ln2, al * BT * C);     v.ln2_mean = at(a->ln2_mean, al * BT); v.ln2_rstd = at(a->ln2_rstd, al * BT);
    v.fch = at(a->fch, al * BT * Fin);   v.fch_act = at(a->fch_act, al * BT * F);
    v.fcproj = at(a->fcproj, al * BT * C); v.residual3 = at(a->residual3, al * BT * C);
    return v;
}

static AttnArgs attn_args(const GPT *m, const LayerView *v) {
    const GPTConfig *c = &m->config;
    AttnArgs a = {gpt_normalizer(c), {0}, c->train_len > 0 ? c->train_len : c->max_seq_len, c->doc_mask ? m->docs.start : NULL};
    for (int k = 0; k < ATTN_MAX_PARAMS; k++) a.p[k] = v->attn[k];
    return a;
}

static void norm_forward(const GPTConfig *c, float *out, float *mean, float *rstd, const float *inp,
                         const float *w, const float *b, size_t N) {
    if (c->norm == NORM_LAYERNORM) layernorm_forward(out, mean, rstd, inp, w, b, N, c->channels);
    else rmsnorm_forward(out, rstd, inp, w, N, c->channels);
}

static void norm_backward(const GPTConfig *c, float *dinp, float *dw, float *db, const float *dout, const float *inp,
                          const float *w, const float *mean, const float *rstd, size_t N) {
    if (c->norm == NORM_LAYERNORM) layernorm_backward(dinp, dw, db, dout, inp, w, mean, rstd, N, c->channels);
    else rmsnorm_backward(dinp, dw, dout, inp, w, rstd, N, c->channels);
}

static void check_tokens(const GPTConfig *c, const int *inputs, const int *targets, size_t n) {
    int V = c->vocab_size;
    for (size_t i = 0; i < n; i++) {
        if (inputs[i] < 0 || inputs[i] >= V)
            die("token id %d at position %zu is outside the model's vocabulary of %d\nHINT: the data was made with another tokenizer than the model's (%s)",
                inputs[i], i, V, tokenizer_kind_name(c->tokenizer));
        if (targets && targets[i] >= V)
            die("target id %d at position %zu is outside the model's vocabulary of %d\nHINT: the data was made with another tokenizer than the model's",
                targets[i], i, V);
    }
}

// RoPE's cos/sin table covers T positions at the config's theta (which evaluation may change)
static void ensure_rope_table(GPT *model, int T) {
    const GPTConfig *c = &model->config;
    if (c->pos != POS_ROPE || (T <= model->rope.T && model->rope.theta == c->rope_theta)) return;
    int hs = c->channels / c->num_heads;
    free(model->rope.cos); free(model->rope.sin);
    model->rope.cos = malloc_check((size_t)T * hs / 2 * sizeof(float));
    model->rope.sin = malloc_check((size_t)T * hs / 2 * sizeof(float));
    rope_table(model->rope.cos, model->rope.sin, T, hs, c->rope_theta);
    model->rope.T = T; model->rope.theta = c->rope_theta;
}

// the model's own checks of a batch, before any work: lengths and token ids
static void ensure_activations(GPT *model, int B, int T, size_t rows) {
    if ((size_t)B * T > model->acts_BT || rows > model->acts_logit_rows ||
        attention_scratch_size(B, T, model->config.channels, model->config.num_heads) > model->act_sizes[ACT_SCRATCH])
        alloc_activations(model, B, T, rows); // a shorter, wider batch may need more scratch
}

static void ensure_eval_buffers(GPT *model, int B, int T) {
    if (gpt_eval_bytes(&model->config, B, T) > model->eval.bytes) {
        free(model->eval.memory);
        model->eval.bytes = gpt_eval_bytes(&model->config, B, T);
        model->eval.memory = malloc_check(model->eval.bytes);
    }
}

void gpt_reserve(GPT *model, int B, int T, int eval) {
    ensure_activations(model, B, T, head_rows(&model->config, (size_t)B * T));
    ensure_rope_table(model, T);
    if (eval) ensure_eval_buffers(model, B, T);
}

static void check_batch(GPT *model, const int *inputs, const int *targets, int B, int T) {
    char why[160];
    if (B < 1 || T < 1) die("a batch of %d sequences of %d tokens: the model needs at least one token\nHINT: use B >= 1 and T >= 1", B, T);
    if (gpt_length_check(&model->config, T, why, sizeof(why)))
        die("%s\nHINT: learned positions end where training ended: shorten the context, or use a RoPE model", why);
    check_tokens(&model->config, inputs, targets, (size_t)B * T);
    if (!model->config.doc_mask) return;
    // document masking: each position sees the keys from the last end-of-text token at or before it
    size_t BT = (size_t)B * T;
    if (BT > model->docs.cap) {
        free(model->docs.start);
        model->docs.start = malloc_check(BT * sizeof(int));
        model->docs.cap = BT;
    }
    for (int b = 0; b < B; b++)
        for (int t = 0, start = 0; t < T; t++) {
            if (inputs[(size_t)b * T + t] == model->config.eot) start = t;
            model->docs.start[(size_t)b * T + t] = start;
        }
}

// one transformer block: x + attention(norm(x)), then + mlp(norm(.)). v says where each result goes: the
// training pass keeps every layer's (its backward pass reads them), evaluation reuses one set of buffers
// (its residual stream updated in place: residual, v->residual2 and v->residual3 may be the same)
static void block_forward(GPT *model, const LayerView *v, const float *residual, float *scratch, int B, int T) {
    const GPTConfig *c = &model->config;
    int NH = c->num_heads, C = c->channels, F = c->ffn, Fin = c->mlp == MLP_SWIGLU ? 2 * F : F;
    size_t BT = (size_t)B * T;
    AttnArgs a = attn_args(model, v);
    norm_forward(c, v->ln1, v->ln1_mean, v->ln1_rstd, residual, v->ln1w, v->ln1b, BT);
    matmul_forward(v->qkv, v->ln1, v->qkvw, v->qkvb, BT, C, 3 * C);
    if (c->qk_norm) qknorm_forward(v->qkvn, v->qk_rstd, v->qkv, v->qnormw, v->knormw, BT, C, NH);
    if (c->pos == POS_ROPE) rope_forward(v->qkvr, v->qkvn, model->rope.cos, model->rope.sin, B, T, C, NH);
    attention_forward(v->atty, v->att_lse, scratch, v->qkvr, &a, B, T, C, NH);
    matmul_forward(v->attproj, v->atty, v->attprojw, v->attprojb, BT, C, C);
    residual_forward(v->residual2, residual, v->attproj, BT * C);
    norm_forward(c, v->ln2, v->ln2_mean, v->ln2_rstd, v->residual2, v->ln2w, v->ln2b, BT);
    matmul_forward(v->fch, v->ln2, v->fcw, v->fcb, BT, C, Fin);
    if (c->mlp == MLP_SWIGLU) swiglu_forward(v->fch_act, v->fch, BT, F);
    else gelu_forward(v->fch_act, v->fch, BT * F);
    matmul_forward(v->fcproj, v->fch_act, v->fcprojw, v->fcprojb, BT, F, C);
    residual_forward(v->residual3, v->residual2, v->fcproj, BT * C);
}

// the gradients gpt_zero_grad leaves stale: those of the matmul weights, which the backward pass
// writes first (with beta 0) and whole. wte's is one only when tied: the lm head writes it before the
// embedding's backward adds its rows; untied, only the embedding's scattered rows touch it
static int lazy_grad(const GPT *model, int k) {
    return k == PARAM_QKVW || k == PARAM_ATTPROJW || k == PARAM_FCW || k == PARAM_FCPROJW || k == PARAM_LMW ||
           (k == PARAM_WTE && model->config.tie);
}

// beta of a matmul weight gradient's write: 0 for the first of the step after gpt_zero_grad
static float dw_beta(const GPT *model) { return model->grads_lazy ? 0.0f : 1.0f; }

// the block's backward pass: dv holds the gradients of v's parameters and activations. dres, the residual
// stream's gradient, is updated in place: it holds the gradient of the block's output (residual3) on entry,
// which is also that of the MLP's output (fcproj); of residual2 (and the attention's output, attproj) once
// the MLP's norm has added its share; and of the block's input (residual) on return
static void block_backward(GPT *model, const LayerView *v, const LayerView *dv, const float *residual, float *dres,
                           float *scratch, int B, int T) {
    const GPTConfig *c = &model->config;
    int NH = c->num_heads, C = c->channels, F = c->ffn, Fin = c->mlp == MLP_SWIGLU ? 2 * F : F;
    size_t BT = (size_t)B * T;
    AttnArgs a = attn_args(model, v);
    float *dp[ATTN_MAX_PARAMS]; // fixed parameters (ssmax-fixed) get no gradient
    for (int k = 0; k < ATTN_MAX_PARAMS; k++) dp[k] = a.norm->learnable ? dv->attn[k] : NULL;
    matmul_backward(dv->fch_act, dv->fcprojw, dv->fcprojb, dres, v->fch_act, v->fcprojw, BT, F, C, dw_beta(model));
    if (c->mlp == MLP_SWIGLU) swiglu_backward(dv->fch, dv->fch_act, v->fch, BT, F);
    else gelu_backward(dv->fch, v->fch, dv->fch_act, BT * F);
    matmul_backward(dv->ln2, dv->fcw, dv->fcb, dv->fch, v->ln2, v->fcw, BT, C, Fin, dw_beta(model));
    norm_backward(c, dres, dv->ln2w, dv->ln2b, dv->ln2, v->residual2, v->ln2w, v->ln2_mean, v->ln2_rstd, BT);
    matmul_backward(dv->atty, dv->attprojw, dv->attprojb, dres, v->atty, v->attprojw, BT, C, C, dw_beta(model));
    attention_backward(dv->qkvr, dp, scratch, dv->atty, v->qkvr, v->atty, v->att_lse, &a, B, T, C, NH);
    if (c->pos == POS_ROPE) rope_backward(dv->qkvn, dv->qkvr, model->rope.cos, model->rope.sin, B, T, C, NH);
    if (c->qk_norm) qknorm_backward(dv->qkv, dv->qnormw, dv->knormw, dv->qkvn, v->qkv, v->qnormw, v->knormw, v->qk_rstd, BT, C, NH);
    matmul_backward(dv->ln1, dv->qkvw, dv->qkvb, dv->qkv, v->ln1, v->qkvw, BT, C, 3 * C, dw_beta(model));
    norm_backward(c, dres, dv->ln1w, dv->ln1b, dv->ln1, residual, v->ln1w, v->ln1_mean, v->ln1_rstd, BT);
}

// fused: the lm head runs head_rows rows at a time, each block's softmax, loss and gradient taken at
// once and its share of dlnf and dW added right away, so no (B,T,Vp) buffer exists
static void forward(GPT *model, const int *inputs, const int *targets, int B, int T, int fused) {
    GPTConfig *c = &model->config;
    int L = c->num_layers, C = c->channels, V = c->vocab_size, Vp = c->padded_vocab_size;
    check_batch(model, inputs, targets, B, T);
    size_t rows = fused ? head_rows(c, (size_t)B * T) : (size_t)B * T;
    ensure_activations(model, B, T, rows);
    model->B = B; model->T = T;
    memcpy(model->inputs, inputs, (size_t)B * T * sizeof(int));
    if (targets) memcpy(model->targets, targets, (size_t)B * T * sizeof(int));
    else for (size_t i = 0; i < (size_t)B * T; i++) model->targets[i] = -1;
    ensure_rope_table(model, T);

    ParameterTensors *p = &model->params;
    ActivationTensors *a = &model->acts;
    size_t BT = (size_t)B * T;
    encoder_forward(a->encoded, inputs, p->wte, c->pos == POS_LEARNED ? p->wpe : NULL, B, T, C);
    for (int l = 0; l < L; l++) {
        LayerView v = layer_view(model, p, a, l, l, BT);
        block_forward(model, &v, l == 0 ? a->encoded : a->residual3 + (l - 1) * BT * C, a->scratch, B, T);
    }
    const float *last = a->residual3 + (L - 1) * BT * C;
    norm_forward(c, a->lnf, a->lnf_mean, a->lnf_rstd, last, p->lnfw, p->lnfb, BT);
    size_t count = 0;
    for (size_t i = 0; i < BT; i++) count += model->targets[i] >= 0;
    const float *W = c->tie ? p->wte : p->lmw;
    model->pass.head_done = fused && count > 0;
    if (model->pass.head_done) {
        ActivationTensors *ga = &model->grads_acts;
        float *dW = c->tie ? model->grads.wte : model->grads.lmw;
        for (size_t r0 = 0; r0 < BT; r0 += rows) {
            size_t n = BT - r0 < rows ? BT - r0 : rows;
            matmul_forward(a->logits, a->lnf + r0 * C, W, NULL, n, C, Vp);
            crossentropy_forward_backward(a->losses + r0, a->logits, model->targets + r0, 1.0f / count, n, V, Vp);
            matmul_backward(ga->lnf + r0 * C, dW, NULL, a->logits, a->lnf + r0 * C, W, n, C, Vp, r0 ? 1.0f : dw_beta(model));
        }
    } else {
        matmul_forward(a->logits, a->lnf, W, NULL, BT, C, Vp);
        crossentropy_forward(a->losses, a->logits, model->targets, BT, V, Vp);
    }

    // mean over the positions that carry a loss, summed in a fixed order
    double sum = 0;
    for (size_t i = 0; i < BT; i++) if (model->targets[i] >= 0) sum += a->losses[i];
    model->loss_count = count;
    model->mean_loss = count ? (float)(sum / count) : -1.0f;
    model->pass.backward_ready = count > 0;
}

void gpt_forward(GPT *model, const int *inputs, const int *targets, int B, int T) { forward(model, inputs, targets, B, T, 0); }

void gpt_forward_backward(GPT *model, const int *inputs, const int *targets, int B, int T) {
    forward(model, inputs, targets, B, T, 1);
    if (model->pass.backward_ready) gpt_backward(model);
}

// parameter gradients accumulate over the micro-batches of a step: zeroed once per step (the matmul
// weights' lazily: see gpt.h)
static void zero_grads(GPT *model, int lazy) { // the gradients whose lazy_grad is `lazy`
    for (int k = 0; k < NUM_PARAM_TENSORS; k++)
        if (lazy_grad(model, k) == lazy) memset(model->grads.t[k], 0, model->param_sizes[k] * sizeof(float));
}

void gpt_zero_grad(GPT *model) {
    zero_grads(model, 0);
    model->grads_lazy = 1;
}

void gpt_settle_grads(GPT *model) {
    if (model->grads_lazy) zero_grads(model, 1);
    model->grads_lazy = 0;
}

void gpt_backward(GPT *model) {
    GPTConfig *c = &model->config;
    if (!model->pass.backward_ready) die("gpt_backward needs a forward pass with targets first\nHINT: call gpt_forward with targets before gpt_backward");
    int B = model->B, T = model->T, L = c->num_layers, C = c->channels, V = c->vocab_size, Vp = c->padded_vocab_size;
    size_t BT = (size_t)B * T;
    ParameterTensors *p = &model->params, *g = &model->grads;
    ActivationTensors *a = &model->acts, *ga = &model->grads_acts;
    if (!model->pass.head_done) { // else the fused forward pass did the head's part
        crossentropy_backward(a->logits, model->targets, 1.0f / model->loss_count, BT, V, Vp);
        float *dlogits = a->logits;
        matmul_backward(ga->lnf, c->tie ? g->wte : g->lmw, NULL, dlogits, a->lnf, c->tie ? p->wte : p->lmw, BT, C, Vp,
                        dw_beta(model));
    }
    const float *last = a->residual3 + (L - 1) * BT * C;
    float *dres = ga->residual3; // the residual stream's gradient, from the top down
    memset(dres, 0, BT * C * sizeof(float));
    norm_backward(c, dres, g->lnfw, g->lnfb, ga->lnf, last, p->lnfw, a->lnf_mean, a->lnf_rstd, BT);
    for (int l = L - 1; l >= 0; l--) {
        LayerView v = layer_view(model, p, a, l, l, BT);   // weights and saved activations
        LayerView dv = layer_view(model, g, ga, l, 0, BT); // their gradients
        block_backward(model, &v, &dv, l == 0 ? a->encoded : a->residual3 + (l - 1) * BT * C, dres, a->scratch, B, T);
    }
    encoder_backward(g->wte, c->pos == POS_LEARNED ? g->wpe : NULL, dres, model->inputs, B, T, C);
    model->grads_lazy = 0; // every matmul weight's gradient is written now
    model->pass.backward_ready = 0; // the probabilities are now gradients: a second backward would be wrong
    model->pass.head_done = 0;
}

// ----------------------------------------------------------------------------
// evaluation: no gradients, one layer's activations at a time, the lm head in blocks of rows

#define EVAL_ROWS 128 // rows of logits held at once: (EVAL_ROWS, Vp)

size_t gpt_eval_bytes(const GPTConfig *c, int B, int T) {
    size_t BT = (size_t)B * T, C = c->channels, F = c->ffn, Fin = c->mlp == MLP_SWIGLU ? 2 * F : F;
    size_t floats = BT * (4 * C + 3 * C * (1 + (c->pos == POS_ROPE)) + Fin + F + 2) + (size_t)B * c->num_heads * T +
                    attention_scratch_size(B, T, c->channels, c->num_heads) + (size_t)EVAL_ROWS * c->padded_vocab_size +
                    (c->qk_norm ? BT * (3 * C + 2 * (size_t)c->num_heads) : 0);
    return floats * sizeof(float);
}

void gpt_evaluate(GPT *model, const int *inputs, const int *targets, int B, int T, EvalOutputs *out) {
    GPTConfig *c = &model->config;
    int L = c->num_layers, NH = c->num_heads, C = c->channels, V = c->vocab_size, Vp = c->padded_vocab_size;
    int F = c->ffn, Fin = c->mlp == MLP_SWIGLU ? 2 * F : F;
    size_t BT = (size_t)B * T;
    check_batch(model, inputs, targets, B, T);
    ensure_rope_table(model, T);
    ensure_eval_buffers(model, B, T);
    // one set of block buffers for every layer; the residual stream res is updated in place
    float *res = model->eval.memory, *ln = res + BT * C, *atty = ln + BT * C, *tmp = atty + BT * C;
    float *qkv = tmp + BT * C, *qkvr = c->pos == POS_ROPE ? qkv + BT * 3 * C : qkv;
    float *fch = qkvr + BT * 3 * C, *fch_act = fch + BT * Fin, *mean = fch_act + BT * F, *rstd = mean + BT;
    float *lse = rstd + BT, *scratch = lse + (size_t)B * NH * T;
    float *logits = scratch + attention_scratch_size(B, T, C, NH);
    float *qkvn = c->qk_norm ? logits + (size_t)EVAL_ROWS * Vp : qkv, *qk_rstd = qkvn + BT * 3 * C;
    if (c->pos != POS_ROPE) qkvr = qkvn; // attention reads what comes before it

    ParameterTensors *p = &model->params;
    ActivationTensors none = {{0}}; // layer_view gives parameter slices only
    encoder_forward(res, inputs, p->wte, c->pos == POS_LEARNED ? p->wpe : NULL, B, T, C);
    for (int l = 0; l < L; l++) {
        LayerView v = layer_view(model, p, &none, l, 0, BT);
        v.ln1 = v.ln2 = ln; v.ln1_mean = v.ln2_mean = mean; v.ln1_rstd = v.ln2_rstd = rstd;
        v.qkv = qkv; v.qkvn = qkvn; v.qk_rstd = qk_rstd; v.qkvr = qkvr; v.atty = atty; v.att_lse = lse; v.attproj = v.fcproj = tmp;
        v.residual2 = v.residual3 = res; v.fch = fch; v.fch_act = fch_act;
        block_forward(model, &v, res, scratch, B, T);
        if (out->probe_t) { // qkvr and lse still hold this layer's
            AttnArgs a = attn_args(model, &v);
            for (int b = 0; b < B; b++)
                attention_row_mass(out->probe_mass + ((size_t)b * L + l) * NH, qkvr, lse, &a, B, T, C, NH, b,
                                   out->probe_t[b], out->probe_k0[b], out->probe_k1[b]);
        }
    }
    norm_forward(c, ln, mean, rstd, res, p->lnfw, p->lnfb, BT);
    for (size_t r0 = 0; r0 < BT; r0 += EVAL_ROWS) {
        size_t n = BT - r0 < EVAL_ROWS ? BT - r0 : EVAL_ROWS;
        matmul_forward(logits, ln + r0 * C, c->tie ? p->wte : p->lmw, NULL, n, C, Vp);
        crossentropy_eval(out->losses ? out->losses + r0 : NULL, out->argmax ? out->argmax + r0 : NULL, logits,
                          targets ? targets + r0 : NULL, n, V, Vp);
        for (int b = 0; out->next_probs && b < B; b++) { // the softmax of gpt_forward, on a copy of the last row
            size_t last = (size_t)b * T + T - 1;
            if (last < r0 || last >= r0 + n) continue;
            float *probs = out->next_probs + (size_t)b * Vp, loss;
            int no_target = -1;
            memcpy(probs, logits + (last - r0) * Vp, (size_t)Vp * sizeof(float));
            crossentropy_forward(&loss, probs, &no_target, 1, V, Vp);
        }
    }
}

// ----------------------------------------------------------------------------
// generation: one position at a time against the KV cache

static size_t step_floats(const GPTConfig *c) {
    size_t C = c->channels, F = c->ffn, Fin = c->mlp == MLP_SWIGLU ? 2 * F : F;
    return 4 * C + 3 * 3 * C + Fin + F + 2 * c->num_heads + 4;
}

void gpt_cache_init(GPT *model, KVCache *cache, int cap) {
    const GPTConfig *c = &model->config;
    memset(cache, 0, sizeof(*cache));
    if (cap < 1) cap = 1;
    cache->cap = cap;
    size_t kv = (size_t)c->num_layers * cap * c->channels;
    cache->k = malloc_check(kv * sizeof(float));
    cache->v = malloc_check(kv * sizeof(float));
    cache->work = malloc_check(step_floats(c) * sizeof(float));
    cache->logits = malloc_check((size_t)c->padded_vocab_size * sizeof(float));
    ensure_rope_table(model, cap);
}

void gpt_cache_reset(KVCache *cache) { cache->len = 0; cache->doc_first = 0; }

void gpt_cache_free(KVCache *cache) {
    free(cache->k); free(cache->v); free(cache->work); free(cache->logits);
    memset(cache, 0, sizeof(*cache));
}

const float *gpt_step(GPT *model, KVCache *cache, int token) {
    const GPTConfig *c = &model->config;
    int L = c->num_layers, NH = c->num_heads, C = c->channels, hs = C / NH, Vp = c->padded_vocab_size;
    int F = c->ffn, Fin = c->mlp == MLP_SWIGLU ? 2 * F : F, t = cache->len;
    char why[160];
    if (t >= cache->cap) die("the KV cache holds %d positions and is full\nHINT: make the cache as long as the text to generate", cache->cap);
    if (gpt_length_check(c, t + 1, why, sizeof(why)))
        die("%s\nHINT: learned positions end where training ended: generate fewer tokens, or use a RoPE model", why);
    check_tokens(c, &token, NULL, 1);
    ensure_rope_table(model, cache->cap);
    if (c->doc_mask && token == c->eot) cache->doc_first = t; // a new document starts here
    float *x = cache->work, *ln = x + C, *att = ln + C, *tmp = att + C, *qkv = tmp + C, *qkvn = qkv + 3 * C;
    float *qkvr = qkvn + 3 * C, *fch = qkvr + 3 * C, *fch_act = fch + Fin, *rs = fch_act + F, *mean = rs + 2 * NH, *rstd = mean + 1;
    const ParameterTensors *p = &model->params;
    for (int i = 0; i < C; i++) x[i] = p->wte[(size_t)token * C + i] + (c->pos == POS_LEARNED ? p->wpe[(size_t)t * C + i] : 0);
    ActivationTensors none = {{0}};
    for (int l = 0; l < L; l++) {
        LayerView v = layer_view(model, p, &none, l, 0, 1);
        norm_forward(c, ln, mean, rstd, x, v.ln1w, v.ln1b, 1);
        matmul_forward(qkv, ln, v.qkvw, v.qkvb, 1, C, 3 * C);
        const float *qn = qkv, *qr;
        if (c->qk_norm) { qknorm_forward(qkvn, rs, qkv, v.qnormw, v.knormw, 1, C, NH); qn = qkvn; }
        if (c->pos == POS_ROPE) {
            rope_forward(qkvr, qn, model->rope.cos + (size_t)t * (hs / 2), model->rope.sin + (size_t)t * (hs / 2), 1, 1, C, NH);
            qr = qkvr;
        } else {
            qr = qn;
        }
        float *kc = cache->k + (size_t)l * cache->cap * C, *vc = cache->v + (size_t)l * cache->cap * C;
        memcpy(kc + (size_t)t * C, qr + C, C * sizeof(float));
        memcpy(vc + (size_t)t * C, qr + 2 * C, C * sizeof(float));
        AttnArgs a = attn_args(model, &v);
        attention_query(att, qr, kc, vc, C, c->doc_mask ? cache->doc_first : 0, t, &a, NH, hs);
        matmul_forward(tmp, att, v.attprojw, v.attprojb, 1, C, C);
        for (int i = 0; i < C; i++) x[i] += tmp[i];
        norm_forward(c, ln, mean, rstd, x, v.ln2w, v.ln2b, 1);
        matmul_forward(fch, ln, v.fcw, v.fcb, 1, C, Fin);
        if (c->mlp == MLP_SWIGLU) swiglu_forward(fch_act, fch, 1, F);
        else gelu_forward(fch_act, fch, F);
        matmul_forward(tmp, fch_act, v.fcprojw, v.fcprojb, 1, F, C);
        for (int i = 0; i < C; i++) x[i] += tmp[i];
    }
    norm_forward(c, ln, mean, rstd, x, p->lnfw, p->lnfb, 1);
    matmul_forward(cache->logits, ln, c->tie ? p->wte : p->lmw, NULL, 1, C, Vp);
    cache->len++;
    return cache->logits;
}
