/*
 * generate.c: sampling through the KV cache; see generate.h.
 */
#include "../util/common.h"
#include "generate.h"

typedef struct { float logit; int id; } Cand;
static int by_logit_desc(const void *a, const void *b) {
    float x = ((const Cand *)a)->logit, y = ((const Cand *)b)->logit;
    return (x < y) - (x > y);
}

int sample_token(const float *logits, int V, const Sampling *s, uint64_t *rng) {
    Cand *c = malloc_check((size_t)V * sizeof(Cand));
    for (int i = 0; i < V; i++) { c[i].logit = logits[i]; c[i].id = i; }
    int n = V;
    int sorted = s->top_k > 0 || s->top_p < 1;
    if (sorted) qsort(c, V, sizeof(Cand), by_logit_desc); // most likely first (ties: the sort's order)
    if (s->top_k > 0 && s->top_k < n) n = s->top_k;
    float mx = -INFINITY;
    for (int i = 0; i < n; i++) if (c[i].logit > mx) mx = c[i].logit;
    double *w = malloc_check((size_t)n * sizeof(double)), total = 0;
    for (int i = 0; i < n; i++) total += (w[i] = exp((c[i].logit - mx) / s->temperature));
    if (s->top_p < 1) { // the smallest prefix of the sorted tokens whose probability reaches top_p
        double acc = 0;
        int keep = n;
        for (int i = 0; i < n; i++) { acc += w[i] / total; if (acc >= s->top_p) { keep = i + 1; break; } }
        n = keep;
        total = 0;
        for (int i = 0; i < n; i++) total += w[i];
    }
    double r = random_f32(rng) * total, acc = 0;
    int next = c[n - 1].id;
    for (int i = 0; i < n; i++) { acc += w[i]; if (acc > r) { next = c[i].id; break; } }
    free(w); free(c);
    return next;
}

double generate(GPT *m, const int *prompt, int np, int n, int window, const Sampling *s, uint64_t *rng, EmitFn emit, void *arg) {
    if (window < 2) window = 2;
    int *text = malloc_check((size_t)(np + n + 1) * sizeof(int)), len = 0;
    for (int i = 0; i < np; i++) text[len++] = prompt[i];
    KVCache kv;
    gpt_cache_init(m, &kv, window);
    int V = m->config.vocab_size;
    // the prompt's last window tokens fill the cache; the logits after them give the first token
    const float *logits = NULL;
    for (int i = len > window ? len - window : 0; i < len; i++) logits = gpt_step(m, &kv, text[i]);
    double t0 = now_seconds();
    for (int k = 0; k < n; k++) {
        int next = sample_token(logits, V, s, rng);
        text[len++] = next;
        if (emit) emit(next, arg);
        if (k + 1 == n) break;
        if (kv.len == kv.cap) { // full: start again from the newest half of the text
            gpt_cache_reset(&kv);
            for (int i = len - window / 2; i < len - 1; i++) gpt_step(m, &kv, text[i]);
        }
        logits = gpt_step(m, &kv, next);
    }
    double secs = now_seconds() - t0;
    gpt_cache_free(&kv);
    free(text);
    return secs;
}
