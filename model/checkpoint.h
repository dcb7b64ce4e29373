/*
 * checkpoint.h: model files and training checkpoints (one format), and llm.c GPT-2 model files.
 *
 * Layout: a header of 256 int32, then the parameters as fp32 in the order of the parameter table
 * (tensors of size 0 are absent), then, when the header says so, the AdamW m and v in the same order.
 *   header[0] magic 20261123, [1] version 1 or 2 (see CKPT_VERSION),
 *   [2] maxT, [3] V, [4] L, [5] NH, [6] C, [7] Vp   (the same slots as llm.c's GPT-2 files)
 *   [8] F, [9] attn, [10] pos, [11] norm, [12] mlp, [13] tie, [14] bias, [15] tokenizer,
 *   [16] rope_theta (float bits), [17] ssmax_s0 (float bits), [18..19] parameter count (lo, hi),
 *   [20] 1 if optimizer state follows, [21] training length (LogN's T_train; 0 in older files: unknown),
 *   [22] 1 if attention is masked at documents, [23] the end-of-text token id that starts them,
 *   [24] 1 if q and k are RMS-normalised per head (QK-norm),
 *   [32] steps completed, [33..34] sampling RNG state, [35..36] data loader epoch, [37..38] data
 *   loader position, [39] seed, [40] B, [41] T, [42] grad_accum
 */
#ifndef CHECKPOINT_H
#define CHECKPOINT_H

#include <stdint.h>
#include "gpt.h"

#define CKPT_MAGIC 20261123
#define CKPT_VERSION 2 // 2: document masking and QK-norm (slots 22-24, tensors qnormw, knormw); a file that
                       // uses neither is written as version 1, which every earlier build reads
#define LLMC_MAGIC 20240326
#define LLMC_VERSION 3

typedef struct {
    int step;             // optimizer steps completed
    uint64_t rng;         // sampling RNG
    uint64_t data_epoch, data_pos;
    int seed, B, T, grad_accum;
} TrainState;

// reads only the header: the model config, and whether optimizer state is present
GPTConfig checkpoint_read_config(const char *path, int *has_optimizer, TrainState *state);
// fills an already built model; normalizer parameters that the file lacks (a Softmax checkpoint loaded
// as SSMax) start at their initial values (gpt_init_normalizer_slot); a non-finite weight is an error;
// returns 1 if the optimizer state was loaded
int checkpoint_load(GPT *model, const char *path, TrainState *state, int want_optimizer);
// the same with the header already read by checkpoint_read_config (file_config, has_optimizer)
int checkpoint_load_read(GPT *model, const char *path, const GPTConfig *file_config, int has_optimizer, int want_optimizer);
// writes path.tmp, fsyncs, renames: a crash never leaves a half-written checkpoint under path
void checkpoint_save(const GPT *model, const char *path, const TrainState *state, int with_optimizer);

#endif
