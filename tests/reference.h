/*
 * reference.h: the reference files of scripts/reference.py (tests/ref/NAME.ref), for the C suites that
 * compare against them: tokens, probabilities, loss, gradients and the losses of 10 AdamW steps.
 */
#ifndef REFERENCE_H
#define REFERENCE_H
#include "../util/common.h"
#include "test.h"

typedef struct {
    int B, T, steps, V, Vp;
    size_t count;
    float lr, beta1, beta2, eps, wd, clip;
    int *tokens;   // (steps, B, T+1)
    float *probs;  // (B, T, Vp)
    float loss;
    float *grads;  // (count)
    float *losses; // (steps)
} Reference;

static float bits_float(int32_t i) { float f; memcpy(&f, &i, 4); return f; }

static int load_reference(Reference *r, const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) { check(0, "missing reference file %s (run `make reference`)", path); return 0; }
    int32_t h[256];
    fread_check(h, 4, 256, f, "reference header");
    check(h[0] == 20261124 && h[1] == 1, "%s: bad reference magic/version", path);
    r->B = h[2]; r->T = h[3]; r->steps = h[4]; r->count = (size_t)h[5]; r->V = h[6]; r->Vp = h[7];
    r->lr = bits_float(h[8]); r->beta1 = bits_float(h[9]); r->beta2 = bits_float(h[10]);
    r->eps = bits_float(h[11]); r->wd = bits_float(h[12]); r->clip = bits_float(h[13]);
    size_t ntok = (size_t)r->steps * r->B * (r->T + 1), nprob = (size_t)r->B * r->T * r->Vp;
    r->tokens = malloc_check(ntok * sizeof(int));
    r->probs = malloc_check(nprob * sizeof(float));
    r->grads = malloc_check(r->count * sizeof(float));
    r->losses = malloc_check(r->steps * sizeof(float));
    fread_check(r->tokens, 4, ntok, f, "tokens");
    fread_check(r->probs, 4, nprob, f, "probs");
    fread_check(&r->loss, 4, 1, f, "loss");
    fread_check(r->grads, 4, r->count, f, "grads");
    fread_check(r->losses, 4, r->steps, f, "losses");
    fclose(f);
    return 1;
}

static void free_reference(Reference *r) { free(r->tokens); free(r->probs); free(r->grads); free(r->losses); }

// the inputs and targets of step s
static void split_tokens(const Reference *r, int s, int *inp, int *tgt) {
    for (int b = 0; b < r->B; b++)
        for (int t = 0; t < r->T; t++) {
            const int *row = r->tokens + ((size_t)s * r->B + b) * (r->T + 1);
            inp[b * r->T + t] = row[t];
            tgt[b * r->T + t] = row[t + 1];
        }
}

#endif
