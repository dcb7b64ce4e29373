/*
 * retrieval.h: retrieval tasks learned from scratch, one example format for training and evaluation.
 *
 *   passkey: a 7-digit key hidden in haystack text at a uniform depth, asked for at the end
 *            (needle.h's layout with a short needle: " pass key 5821391. " ... "\npass key 5821391").
 *   mqar:    multi-query associative recall. Random filler tokens with `pairs` key-value pairs
 *            (key k, then its value v) at uniform random places, then `queries` of those keys again,
 *            each followed by its value:   f f k1 v1 f f f k2 v2 f ... f  k2 v2 k1 v1
 *            keys are ids 128..191 (distinct within an example), values 192..255, filler 32..126.
 *            Answering takes two hops (an induction head: a previous-token head, then a match).
 *   recall:  associative recall in one hop: each of `pairs` items is one token that carries a key and
 *            a value (id 128 + 16 key + value: 8 keys, 16 values), at uniform random places among
 *            filler ids 32..95; then `queries` questions, each a query id 96 + key followed by that
 *            key's item:               f f [k1,v1] f f [k2,v2] f ... f  q2 [k2,v2] q1 [k1,v1]
 *            Attention must single out the one item with the asked key among all the filler: the
 *            mechanism whose fading with context length the SSMax paper describes.
 * Ids are token ids below 256, so any vocabulary of at least 256 ids holds them (the byte tokenizer's).
 * An example of context n is n+1 tokens; the model reads tokens[0..n-1] and answer i is
 * tokens[start[i] .. end[i]-1], predicted from the positions just before them, with the information
 * it needs at position source[i]. Its distance is the query position (start[i]-1) minus source[i].
 */
#ifndef RETRIEVAL_H
#define RETRIEVAL_H
#include <stdint.h>
#include <stddef.h>
#include "tokenizer.h"

enum { RETRIEVAL_PASSKEY, RETRIEVAL_MQAR, RETRIEVAL_RECALL, RETRIEVAL_COUNT };
extern const char *retrieval_names[RETRIEVAL_COUNT];

#define RETRIEVAL_MAX_PAIRS 64 // mqar's keys 128..191; recall has 8 keys

typedef struct {
    int kind;          // RETRIEVAL_*
    int pairs, queries; // mqar, recall
} RetrievalTask;

typedef struct {
    int *tokens;       // (n+1)
    int n;
    int answers;
    int start[RETRIEVAL_MAX_PAIRS], end[RETRIEVAL_MAX_PAIRS], source[RETRIEVAL_MAX_PAIRS];
} RetrievalExample;

// the smallest context an example of the task fits in
int retrieval_min_context(const RetrievalTask *task, const Tokenizer *tok);
// "" if the task's numbers are usable with a vocabulary of V ids, else what is wrong (for a flag's message)
const char *retrieval_check(const RetrievalTask *task, int V);
// one example of context n drawn from rng; passkey takes its haystack from hay[0..hay_n-1] and tok
// (the byte or gpt2 tokenizer), mqar and recall need neither. Dies with a hint where n is too short.
void retrieval_make(RetrievalExample *ex, const RetrievalTask *task, const Tokenizer *tok, const uint16_t *hay, size_t hay_n,
                    int n, uint64_t *rng);
// targets for training: tokens[t+1] where it is an answer token, else -1 (n of them)
void retrieval_targets(const RetrievalExample *ex, int *targets);
void retrieval_free(RetrievalExample *ex);

#endif
