/*
 * gpt.h: the GPT model: its configuration, the table of parameter tensors (one allocation, named
 * pointers; gradients and AdamW moments reuse the layout), the activations, and the passes.
 */
#ifndef GPT_H
#define GPT_H

#include <stddef.h>
#include <stdint.h>
#include "attention.h"

enum { POS_LEARNED, POS_ROPE, POS_NONE, POS_COUNT }; // none: NoPE, causal attention alone orders the tokens
enum { NORM_LAYERNORM, NORM_RMSNORM, NORM_COUNT };
enum { MLP_GELU, MLP_SWIGLU, MLP_COUNT };

extern const char *pos_names[POS_COUNT];
extern const char *norm_names[NORM_COUNT];
extern const char *mlp_names[MLP_COUNT];

typedef struct {
    int max_seq_len;       // maxT: longest training context (size of the learned position table)
    int vocab_size;        // V: real tokens
    int padded_vocab_size; // Vp: V rounded up to a multiple of 64; padded logits are never used
    int num_layers;        // L
    int num_heads;         // NH
    int channels;          // C
    int ffn;               // F: hidden width of the MLP (SwiGLU has two F-wide input projections)
    int attn;              // ATTN_*: the attention normalizer, an index into normalizers[] (attention.h)
    int pos, norm, mlp;
    int tie;               // 1: the lm head reuses wte
    int bias;              // 1: linear layers have biases (GPT-2); 0: none (llama-style)
    int tokenizer;         // which tokenizer made the token ids; checked against the data
    float rope_theta;
    float ssmax_s0;        // s0: initial value of the normalizer's parameters marked ATTN_INIT_S0 (SSMax s)
    int train_len;         // the training context length (LogN's T_train); 0: unknown, max_seq_len stands in
    int doc_mask;          // 1: attention does not cross end-of-text tokens (eot) inside a window
    int eot;               // the end-of-text token id that starts each document (doc_mask)
    int qk_norm;           // 1: RMSNorm of each head's q and k (learnable gains) before RoPE
} GPTConfig;

// ----------------------------------------------------------------------------
// parameters: tensors that a config does not use have size 0

enum {
    PARAM_WTE, PARAM_WPE, PARAM_LN1W, PARAM_LN1B, PARAM_QKVW, PARAM_QKVB, PARAM_ATTPROJW, PARAM_ATTPROJB,
    PARAM_LN2W, PARAM_LN2B, PARAM_FCW, PARAM_FCB, PARAM_FCPROJW, PARAM_FCPROJB, PARAM_LNFW, PARAM_LNFB, PARAM_LMW,
    PARAM_ATTN0, PARAM_ATTN1, // attn0, attn1: the normalizer's per-head parameters, slot by slot
    PARAM_QNORMW, PARAM_KNORMW, NUM_PARAM_TENSORS
};
typedef union {
    struct {
        float *wte;      // (Vp, C)
        float *wpe;      // (maxT, C), learned positions only
        float *ln1w;     // (L, C)
        float *ln1b;     // (L, C), layernorm only
        float *qkvw;     // (L, 3C, C)
        float *qkvb;     // (L, 3C)
        float *attprojw; // (L, C, C)
        float *attprojb; // (L, C)
        float *ln2w;     // (L, C)
        float *ln2b;     // (L, C)
        float *fcw;      // (L, F, C) for gelu, (L, 2F, C) for swiglu: [gate; up]
        float *fcb;      // (L, F) or (L, 2F)
        float *fcprojw;  // (L, C, F)
        float *fcprojb;  // (L, C)
        float *lnfw;     // (C)
        float *lnfb;     // (C)
        float *lmw;      // (Vp, C), untied only
        float *attn[ATTN_MAX_PARAMS]; // (L, NH) each: the normalizer's parameters (SSMax s, b), where it has them
        float *qnormw;   // (L, hs): QK-norm gain of q, qk_norm only
        float *knormw;   // (L, hs): QK-norm gain of k
    };
    float *t[NUM_PARAM_TENSORS]; // the same pointers by PARAM_* index
} ParameterTensors;
_Static_assert(sizeof(ParameterTensors) == NUM_PARAM_TENSORS * sizeof(float *), "every tensor has a name and an index");
_Static_assert(PARAM_ATTN1 == PARAM_ATTN0 + ATTN_MAX_PARAMS - 1, "one slot per normalizer parameter");

extern const char *param_names[NUM_PARAM_TENSORS];

// ----------------------------------------------------------------------------
// activations saved by the forward pass for the backward pass

enum {
    ACT_ENCODED, ACT_LN1, ACT_LN1_MEAN, ACT_LN1_RSTD, ACT_QKV, ACT_QKVR, ACT_ATTY, ACT_ATT_LSE, ACT_ATTPROJ,
    ACT_RESIDUAL2, ACT_LN2, ACT_LN2_MEAN, ACT_LN2_RSTD, ACT_FCH, ACT_FCH_ACT, ACT_FCPROJ, ACT_RESIDUAL3, ACT_LNF,
    ACT_LNF_MEAN, ACT_LNF_RSTD, ACT_LOGITS, ACT_LOSSES, ACT_SCRATCH, ACT_QKVN, ACT_QK_RSTD, NUM_ACTIVATION_TENSORS
};
typedef union {
    struct {
        float *encoded;   // (B, T, C)
        float *ln1;       // (L, B, T, C)
        float *ln1_mean;  // (L, B, T)
        float *ln1_rstd;  // (L, B, T)
        float *qkv;       // (L, B, T, 3C)
        float *qkvr;      // (L, B, T, 3C): qkv after RoPE (aliases qkv for learned positions)
        float *atty;      // (L, B, T, C)
        float *att_lse;   // (L, B, NH, T): log-sum-exp of each attention row
        float *attproj;   // (L, B, T, C)
        float *residual2; // (L, B, T, C)
        float *ln2;       // (L, B, T, C)
        float *ln2_mean;  // (L, B, T)
        float *ln2_rstd;  // (L, B, T)
        float *fch;       // (L, B, T, F) or (L, B, T, 2F)
        float *fch_act;   // (L, B, T, F)
        float *fcproj;    // (L, B, T, C)
        float *residual3; // (L, B, T, C)
        float *lnf;       // (B, T, C)
        float *lnf_mean;  // (B, T)
        float *lnf_rstd;  // (B, T)
        float *logits;    // (B, T, Vp): probabilities after the forward pass, dlogits after backward; fused
                          // head: (rows, Vp), one block of rows at a time
        float *losses;    // (B, T)
        float *scratch;   // attention work space, see attention_scratch_size
        float *qkvn;      // (L, B, T, 3C): qkv after QK-norm (aliases qkv without it)
        float *qk_rstd;   // (L, B, T, 2NH): QK-norm's 1/rms of each head's q and k
    };
    float *t[NUM_ACTIVATION_TENSORS]; // by ACT_* index
} ActivationTensors;
_Static_assert(sizeof(ActivationTensors) == NUM_ACTIVATION_TENSORS * sizeof(float *), "every activation has a name and an index");

typedef struct {
    GPTConfig config;
    // parameters: one flat buffer each for the weights, their gradients and the AdamW moments
    ParameterTensors params, grads;
    size_t param_sizes[NUM_PARAM_TENSORS];
    size_t param_offsets[NUM_PARAM_TENSORS]; // 64-byte aligned offsets into the flat buffers
    size_t num_parameters;  // real parameter count
    size_t params_floats;   // flat buffer length including alignment gaps
    float *params_memory, *grads_memory, *m_memory, *v_memory;
    // activations, sized on the first forward pass and grown when a larger B*T comes
    ActivationTensors acts, grads_acts;
    size_t act_sizes[NUM_ACTIVATION_TENSORS];
    size_t acts_BT;         // B*T the activations hold
    size_t acts_logit_rows; // rows of the logits buffer: B*T, fewer for the fused head
    float *acts_memory, *grads_acts_memory;
    size_t num_activations;
    // the last forward pass: its batch, and what its backward pass needs
    int *inputs, *targets;
    int B, T;
    float mean_loss;        // of the last forward pass with targets; -1 without
    size_t loss_count;      // positions that carried a loss
    struct {
        int backward_ready; // 1 between a forward pass with targets and its backward pass
        int head_done;      // the forward pass did the lm head's backward part (gpt_forward_backward)
    } pass;
    int grads_lazy;         // set by gpt_zero_grad: the matmul weights' gradients were not zeroed, so
                            // their first write of the step overwrites them (gpt_settle_grads)
    // caches, made when first needed
    struct { float *cos, *sin; int T; float theta; } rope; // RoPE's table: T positions at theta
    struct { float *memory; size_t bytes; } eval;           // gpt_evaluate's buffers
    struct { int *start; size_t cap; } docs;                // doc_mask: each position's first visible key (B, T)
} GPT;

// what gpt_evaluate fills; NULL pointers are skipped
typedef struct {
    float *losses;    // (B*T): loss of each position whose target is >= 0, else 0
    int *argmax;      // (B*T): the most likely next token at each position
    // attention probe, per batch row b: the weight that query probe_t[b] puts on keys probe_k0[b] .. probe_k1[b]-1,
    // per layer and head, into probe_mass (B, L, NH)
    const int *probe_t, *probe_k0, *probe_k1;
    float *probe_mass;
    float *next_probs; // (B, Vp): the next-token distribution after the last position of each row (sampling)
} EvalOutputs;

// presets: the architecture of a named model; V = 0 takes the vocabulary from the data
typedef struct {
    const char *name, *about;
    int L, NH, C, F, T, V, pos, norm, mlp, tie, bias;
} Preset;
extern const Preset presets[];
extern const int num_presets;
const Preset *gpt_preset(const char *name); // NULL if unknown
// a preset's model for training length T: its vocabulary, or V where the preset takes it from the data;
// the learned position table covers max(preset T, T); s0 is the default for the attention chosen
GPTConfig gpt_preset_config(const Preset *p, int V, int T, int attn);
int gpt_padded_vocab(int V);                // V rounded up to a multiple of 64

int gpt_config_check(const GPTConfig *c, char *why, size_t whylen); // 0 if valid, else fills why
void gpt_param_sizes(size_t *sizes, const GPTConfig *c);
int gpt_param_decays(int i); // 1 if tensor i gets weight decay (2-D matrices)
const Normalizer *gpt_normalizer(const GPTConfig *c); // the config's entry in normalizers[]

void gpt_build(GPT *model, const GPTConfig *config); // allocates parameters, does not initialise
void gpt_init_random(GPT *model, uint64_t seed);
void gpt_free(GPT *model);
// sets the normalizer's parameter slot k (PARAM_ATTN0 + k) to its initial value (normalizers[].init)
void gpt_init_normalizer_slot(GPT *model, int k);
// changes the attention normalizer of a built model (--attn-switch-step): see gpt.c
void gpt_switch_attention(GPT *model, int attn, float s0);
// 0 if the model can run T positions, else fills why (learned positions end at max_seq_len)
int gpt_length_check(const GPTConfig *c, int T, char *why, size_t whylen);
// allocates now what training at (B, T) will (the fused pass's activations, the RoPE table and, with
// eval, gpt_evaluate's buffers at the same shape), so a run that does not fit stops before its output
void gpt_reserve(GPT *model, int B, int T, int eval);
void gpt_forward(GPT *model, const int *inputs, const int *targets, int B, int T);
// parameter gradients, once per optimizer step. The matmul weights' gradients (most of the parameters)
// are not zeroed but overwritten by their first write of the step (the memset and a read of every
// weight gradient saved: 2 passes over 0.5 GB on gpt2-124m); gpt_settle_grads zeroes them if no backward
// pass came since (gpt_grad_norm and adamw_update call it; call it before reading grads_memory yourself)
void gpt_zero_grad(GPT *model);
void gpt_settle_grads(GPT *model);
void gpt_backward(GPT *model);
// both passes of a training micro-batch; the lm head and cross-entropy run fused in blocks of rows, so
// the (B,T,Vp) logits never exist (gradients as gpt_forward + gpt_backward, up to float summation order)
void gpt_forward_backward(GPT *model, const int *inputs, const int *targets, int B, int T);
size_t gpt_activation_bytes(const GPTConfig *c, int B, int T, int fused);
// the forward pass for evaluation: no gradients, no saved activations, logits EVAL_ROWS rows at a time,
// so memory is O(B*T*C) (gpt_eval_bytes) and contexts far beyond the training length fit; the same
// losses as gpt_forward. T may exceed the training length for RoPE models (config.rope_theta may change).
void gpt_evaluate(GPT *model, const int *inputs, const int *targets, int B, int T, EvalOutputs *out);
size_t gpt_eval_bytes(const GPTConfig *c, int B, int T);

// generation with a KV cache: every layer's keys (after QK-norm and RoPE) and values of the positions so
// far, so that each new token costs one position's pass; logits equal the full pass's
typedef struct {
    int cap, len;       // positions the cache holds, and has filled
    int doc_first;      // doc_mask: the first key of the current document
    float *k, *v;       // (L, cap, C)
    float *work;        // one position's activations
    float *logits;      // (Vp): after the last gpt_step, the next token's logits (not probabilities)
} KVCache;
void gpt_cache_init(GPT *model, KVCache *cache, int cap);
void gpt_cache_reset(KVCache *cache); // empty again, for a new sequence
void gpt_cache_free(KVCache *cache);
// appends token at position cache->len (position + 1 keys for every normalizer's n) and returns the logits
// of the token after it; positions past a learned table or the cache's capacity are an error
const float *gpt_step(GPT *model, KVCache *cache, int token);

#endif
