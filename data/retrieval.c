/*
 * retrieval.c: passkey and multi-query associative recall examples (see retrieval.h).
 */
#include <string.h>
#include "../util/common.h"
#include "needle.h"
#include "retrieval.h"

const char *retrieval_names[RETRIEVAL_COUNT] = {"passkey", "mqar", "recall"};

enum { KEY0 = 128, VALUE0 = 192, NSYM = 64, FILL0 = 32, NFILL = 95 };        // mqar
enum { ITEM0 = 128, RKEYS = 8, RVALUES = 16, QUERY0 = 96, RNFILL = 64 };     // recall

int retrieval_min_context(const RetrievalTask *task, const Tokenizer *tok) {
    if (task->kind == RETRIEVAL_PASSKEY) return passkey_min_context(tok);
    return (task->kind == RETRIEVAL_MQAR ? 2 : 1) * task->pairs + 2 * task->queries + 16; // and some filler
}

const char *retrieval_check(const RetrievalTask *task, int V) {
    if (task->kind == RETRIEVAL_PASSKEY) return "";
    if (V < 256) return "the task's ids go up to 255, which needs a vocabulary of at least 256";
    if (task->kind == RETRIEVAL_RECALL && (task->pairs < 1 || task->pairs > RKEYS)) return "recall has 8 keys: --pairs must be 1..8";
    if (task->pairs < 1 || task->pairs > RETRIEVAL_MAX_PAIRS) return "the number of key-value pairs must be 1..64";
    if (task->queries < 1 || task->queries > task->pairs) return "the number of queries must be 1..pairs";
    return "";
}

// P items of `width` tokens each at uniform random places among filler, then Q questions of `width`
// tokens (the last one the answer) asking for distinct items; mqar: item = (key, value), question =
// the same; recall: item = one fused token, question = (query id, the item)
static void make_recall(RetrievalExample *ex, const RetrievalTask *task, int n, uint64_t *rng) {
    int P = task->pairs, Q = task->queries, mqar = task->kind == RETRIEVAL_MQAR;
    int width = mqar ? 2 : 1;
    int len = n + 1 - 2 * Q; // the items and the filler; the questions take the end
    if (len < width * P + 16)
        die("a context of %d tokens is too short for %d items and %d queries\nHINT: use a context of at least %d tokens",
            n, P, Q, retrieval_min_context(task, NULL));
    int *t = ex->tokens;
    for (int i = 0; i < len; i++) t[i] = mqar ? FILL0 + (int)(random_u32(rng) % NFILL) : FILL0 + (int)(random_u32(rng) % RNFILL);
    // distinct keys: a partial Fisher-Yates shuffle of the key ids; a value for each
    int nkeys = mqar ? NSYM : RKEYS, keys[NSYM], value[NSYM];
    for (int i = 0; i < nkeys; i++) keys[i] = i;
    for (int i = 0; i < P; i++) {
        int j = i + (int)(random_u32(rng) % (uint32_t)(nkeys - i));
        int k = keys[i]; keys[i] = keys[j]; keys[j] = k;
        value[i] = (int)(random_u32(rng) % (mqar ? NSYM : RVALUES));
    }
    // places, uniform over the layouts: P sorted draws from 0..len-width*P, item i then starts at draw i + width*i
    int free_spots = len - width * P, at[RETRIEVAL_MAX_PAIRS];
    for (int i = 0; i < P; i++) at[i] = (int)(random_u32(rng) % (uint32_t)(free_spots + 1));
    for (int i = 1; i < P; i++) { // insertion sort
        int x = at[i], j = i - 1;
        while (j >= 0 && at[j] > x) { at[j + 1] = at[j]; j--; }
        at[j + 1] = x;
    }
    int pos[RETRIEVAL_MAX_PAIRS]; // the keys came shuffled, so slot i holds a random key
    for (int i = 0; i < P; i++) {
        int p = at[i] + width * i;
        pos[i] = p;
        if (mqar) { t[p] = KEY0 + keys[i]; t[p + 1] = VALUE0 + value[i]; }
        else t[p] = ITEM0 + RVALUES * keys[i] + value[i];
    }
    // questions: Q distinct items in a random order
    int pick[RETRIEVAL_MAX_PAIRS];
    for (int i = 0; i < P; i++) pick[i] = i;
    for (int i = 0; i < Q; i++) {
        int j = i + (int)(random_u32(rng) % (uint32_t)(P - i));
        int k = pick[i]; pick[i] = pick[j]; pick[j] = k;
        int q = len + 2 * i, p = pick[i];
        t[q] = mqar ? KEY0 + keys[p] : QUERY0 + keys[p];
        t[q + 1] = mqar ? VALUE0 + value[p] : ITEM0 + RVALUES * keys[p] + value[p];
        ex->start[i] = q + 1;
        ex->end[i] = q + 2;
        ex->source[i] = pos[p] + width - 1; // the token that holds the answer
    }
    ex->answers = Q;
}

void retrieval_make(RetrievalExample *ex, const RetrievalTask *task, const Tokenizer *tok, const uint16_t *hay, size_t hay_n,
                    int n, uint64_t *rng) {
    memset(ex, 0, sizeof(*ex));
    ex->n = n;
    if (task->kind == RETRIEVAL_PASSKEY) {
        NeedleExample ne;
        passkey_make(&ne, tok, hay, hay_n, n, random_f32(rng), rng);
        ex->tokens = ne.tokens; // handed over
        ex->answers = 1;
        ex->start[0] = ne.answer_start;
        ex->end[0] = n + 1;
        ex->source[0] = ne.needle_start;
        return;
    }
    ex->tokens = malloc_check((size_t)(n + 1) * sizeof(int));
    make_recall(ex, task, n, rng);
}

void retrieval_targets(const RetrievalExample *ex, int *targets) {
    for (int t = 0; t < ex->n; t++) targets[t] = -1;
    for (int i = 0; i < ex->answers; i++)
        for (int a = ex->start[i]; a < ex->end[i]; a++) targets[a - 1] = ex->tokens[a];
}

void retrieval_free(RetrievalExample *ex) {
    free(ex->tokens);
    ex->tokens = NULL;
}
