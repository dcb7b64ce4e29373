/*
 * generate.h: sampling text from a model through its KV cache, for train_gpt's samples and
 * eval_gpt generate: temperature, top-k, top-p; a context window that restarts from the newest half
 * of the text when it is full.
 */
#ifndef CLI_GENERATE_H
#define CLI_GENERATE_H

#include <stdint.h>
#include "../model/gpt.h"

typedef struct {
    float temperature; // > 0: logits / temperature
    int top_k;         // 0: all tokens
    float top_p;       // 1: all tokens; else the smallest set of most likely tokens with mass >= top_p
} Sampling;

// one token drawn from logits (the first V are real) as s says
int sample_token(const float *logits, int V, const Sampling *s, uint64_t *rng);

// n tokens after the prompt's np ids (np >= 1), each passed to emit as it is drawn; the model sees at most
// `window` positions (when the cache is full it restarts from the newest window/2 tokens). Returns the
// seconds spent drawing the n tokens (the prompt's prefill excluded)
typedef void (*EmitFn)(int token, void *arg);
double generate(GPT *m, const int *prompt, int np, int n, int window, const Sampling *s, uint64_t *rng, EmitFn emit, void *arg);

#endif
