/*
 * safetensors.h: models in and out as model.safetensors + config.json, in the tensor names and layouts
 * of the Hugging Face GPT-2 family (learned positions) or the Llama family (RoPE or no positions).
 *
 * safetensors: an 8-byte little-endian header length N, N bytes of JSON {name: {"dtype", "shape",
 * "data_offsets": [begin, end]}, "__metadata__": {...}}, then the raw little-endian data, offsets
 * counted from the end of the header. Read: F32, F16 and BF16; written: F32.
 *
 * Layouts (layer i; our tensor -> the file's):
 *   GPT-2: wte.weight (V, C), wpe.weight, h.i.ln_1.weight/.bias, h.i.attn.c_attn.weight (C, 3C) and the
 *          other linear weights as Conv1D, (in, out): ours transposed; ln_f, lm_head.weight when untied.
 *          A "transformer." prefix is accepted on read; the causal-mask buffers h.i.attn.bias and
 *          h.i.attn.masked_bias are skipped.
 *   Llama: model.embed_tokens.weight, model.layers.i.input_layernorm.weight, self_attn.{q,k,v,o}_proj
 *          (out, in) as ours, mlp.gate_proj / up_proj (our [gate; up] halves), mlp.down_proj,
 *          post_attention_layernorm, model.norm, lm_head.weight. RoPE: Llama rotates the channel pairs
 *          (j, j + hs/2) where ours rotates (2j, 2j + 1), so q_proj's and k_proj's rows (and their biases
 *          and QK-norm gains) are reordered per head, evens then odds; q.k and the model are unchanged.
 *   Beyond either family, under clearly named extra keys: biases and LayerNorm biases where the family
 *   has none, QK-norm gains (...q_norm.weight, ...k_norm.weight, (hs)), and the normalizer's per-head
 *   parameters (...attn.normalizer.s, (NH), in self_attn for Llama). config.json holds the family's
 *   own keys and "ssmax_train", the whole config (normalizer, positions, norm, mlp, tokenizer, ...),
 *   from which a file this project wrote is read back exactly; without it (a Hugging Face file) the
 *   model is the family's plain architecture with Softmax attention.
 */
#ifndef SAFETENSORS_H
#define SAFETENSORS_H

#include "gpt.h"

// 1 if the file is named *.safetensors or starts like one (a plausible header length, then '{')
int safetensors_sniff(const char *path);
// the model config from DIR/config.json beside the file; every header field and tensor is checked
// against the file and the config before anything is allocated (one error line and exit 1 otherwise)
GPTConfig safetensors_read_config(const char *path);
// fills the tensors of an already built model that the file holds (a normalizer's parameters that
// the model lacks are dropped); the caller (checkpoint_load_read) initialises those the file lacks
// and checks that the weights are finite
void safetensors_load(GPT *model, const char *path, const GPTConfig *file_config);
// writes dir/model.safetensors and dir/config.json (each through a temporary file and a rename)
void safetensors_export(const GPT *model, const char *dir);

#endif
