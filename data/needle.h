/*
 * needle.h: key-information retrieval examples ("needle in a haystack", the SSMax paper's Fig. 6).
 *
 * An example of context length n is n+1 tokens: haystack text cut from held-out token data with a
 * needle sentence inserted at a chosen depth, then the question, then the answer:
 *   ...haystack... The special magic {city} number is: {7 digits}. ...haystack...
 *   What is the special magic {city} number? The special magic {city} number is: {7 digits}
 * The model reads tokens[0..n-1]; the answer tokens are the last ones, tokens[answer_start..n].
 * Greedy decoding returns the whole number exactly when the most likely token at every answer
 * position is the right one, so one teacher-forced forward pass scores an example.
 */
#ifndef NEEDLE_H
#define NEEDLE_H
#include <stdint.h>
#include "tokenizer.h"

#define NEEDLE_DIGITS 7

typedef struct {
    int *tokens;          // (n+1)
    int n;                // context length: the model reads tokens[0..n-1]
    int needle_start, needle_end; // the needle sentence: tokens[needle_start..needle_end-1]
    int question_start;   // first token of the question
    int answer_start;     // first answer token; the answer runs to tokens[n]
    char city[32], digits[NEEDLE_DIGITS + 1];
} NeedleExample;

// text of every piece for a city and number (for the README and tests)
void needle_texts(const char *city, const char *digits, char *needle, char *question, char *answer, size_t len);
// the smallest context length that still leaves room for the needle, question and answer
int needle_min_context(const Tokenizer *tok);
// builds an example of context length n with the needle at depth (0 = start of the haystack, 1 = end),
// haystack from hay[0..hay_n-1] at a random place; city and number drawn from rng. Dies with a hint if
// the haystack or the context is too short. ex->tokens is allocated here (needle_free).
void needle_make(NeedleExample *ex, const Tokenizer *tok, const uint16_t *hay, size_t hay_n, int n, double depth, uint64_t *rng);
void needle_free(NeedleExample *ex);
// tokens between the needle and the question that asks for it (the haystack the answer reaches back over)
static inline int needle_distance(const NeedleExample *ex) { return ex->question_start - ex->needle_end; }

// the passkey task (retrieval learned from scratch): the same layout with a short needle
//   ...haystack... pass key {7 digits}. ...haystack...\npass key {7 digits}
void passkey_texts(const char *digits, char *needle, char *question, char *answer, size_t len);
void passkey_make(NeedleExample *ex, const Tokenizer *tok, const uint16_t *hay, size_t hay_n, int n, double depth, uint64_t *rng);
int passkey_min_context(const Tokenizer *tok);

#endif
