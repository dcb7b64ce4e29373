/*
 * needle.c: retrieval examples for fine-tuning and evaluation (see needle.h).
 */
#include <string.h>
#include "../util/common.h"
#include "needle.h"

static const char *cities[] = {
    "Tokyo", "Paris", "Lagos", "Lima", "Oslo", "Cairo", "Dublin", "Madrid", "Seoul", "Berlin", "Quito", "Hanoi",
    "Nairobi", "Lisbon", "Prague", "Vienna", "Athens", "Havana", "Manila", "Bogota", "Santiago", "Warsaw", "Helsinki",
    "Montreal", "Sydney", "Denver", "Chicago", "Mumbai", "Dakar", "Tunis", "Riga", "Kyoto", "Boston", "Toronto",
    "Jakarta", "Ankara", "Zurich", "Porto", "Naples", "Geneva"};
#define NUM_CITIES (int)(sizeof(cities) / sizeof(cities[0]))

void needle_texts(const char *city, const char *digits, char *needle, char *question, char *answer, size_t len) {
    snprintf(needle, len, " The special magic %s number is: %s. ", city, digits);
    snprintf(question, len, "\nWhat is the special magic %s number? The special magic %s number is:", city, city);
    snprintf(answer, len, " %s", digits);
}

static void encode(const Tokenizer *tok, const char *text, TokenBuf *out) {
    out->n = 0;
    tokenizer_encode(tok, (const unsigned char *)text, strlen(text), out);
}

// tokens of the three texts, and some haystack
static int texts_context(const Tokenizer *tok, const char *needle, const char *question, const char *answer) {
    TokenBuf b = {0};
    size_t n = 0;
    encode(tok, needle, &b); n += b.n;
    encode(tok, question, &b); n += b.n;
    encode(tok, answer, &b); n += b.n;
    free(b.tok);
    return (int)n + 16;
}

int needle_min_context(const Tokenizer *tok) {
    char needle[256], question[256], answer[64];
    needle_texts("Santiago", "8888888", needle, question, answer, sizeof(needle)); // the longest city
    return texts_context(tok, needle, question, answer);
}

int passkey_min_context(const Tokenizer *tok) {
    char needle[64], question[64], answer[64];
    passkey_texts("8888888", needle, question, answer, sizeof(needle));
    return texts_context(tok, needle, question, answer);
}

// the needle, question and answer texts inserted into haystack text: the body of needle_make and passkey_make
static void insert_needle(NeedleExample *ex, const Tokenizer *tok, const uint16_t *hay, size_t hay_n, int n, double depth,
                          uint64_t *rng, const char *needle, const char *question, const char *answer, int min_context) {
    TokenBuf nb = {0}, qb = {0}, ab = {0};
    encode(tok, needle, &nb); encode(tok, question, &qb); encode(tok, answer, &ab);
    long fill = (long)n + 1 - (long)(nb.n + qb.n + ab.n);
    if (fill < 16)
        die("a context of %d tokens is too short for a needle example (needle, question and answer take %zu)\nHINT: use a context of at least %d tokens",
            n, nb.n + qb.n + ab.n, min_context);
    if ((size_t)fill >= hay_n)
        die("the haystack data holds %zu tokens, a context of %d needs more\nHINT: give larger held-out data or shorter contexts", hay_n, n);
    size_t start = random_u32(rng) % (hay_n - (size_t)fill);
    long at = (long)(depth * fill + 0.5);
    if (at < 0) at = 0;
    if (at > fill) at = fill;
    ex->tokens = malloc_check((size_t)(n + 1) * sizeof(int));
    ex->n = n;
    int k = 0;
    for (long i = 0; i < at; i++) ex->tokens[k++] = hay[start + i];
    ex->needle_start = k;
    for (size_t i = 0; i < nb.n; i++) ex->tokens[k++] = nb.tok[i];
    ex->needle_end = k;
    for (long i = at; i < fill; i++) ex->tokens[k++] = hay[start + i];
    ex->question_start = k;
    for (size_t i = 0; i < qb.n; i++) ex->tokens[k++] = qb.tok[i];
    ex->answer_start = k;
    for (size_t i = 0; i < ab.n; i++) ex->tokens[k++] = ab.tok[i];
    // the byte tokenizer spells the answer's leading space as its own token: part of the prompt
    if (tok->kind == TOKENIZER_BYTE) ex->answer_start++;
    free(nb.tok); free(qb.tok); free(ab.tok);
}

static void draw_digits(NeedleExample *ex, uint64_t *rng) {
    ex->digits[0] = (char)('1' + random_u32(rng) % 9);
    for (int i = 1; i < NEEDLE_DIGITS; i++) ex->digits[i] = (char)('0' + random_u32(rng) % 10);
}

void needle_make(NeedleExample *ex, const Tokenizer *tok, const uint16_t *hay, size_t hay_n, int n, double depth, uint64_t *rng) {
    memset(ex, 0, sizeof(*ex));
    snprintf(ex->city, sizeof(ex->city), "%s", cities[random_u32(rng) % NUM_CITIES]);
    draw_digits(ex, rng);
    char needle[256], question[256], answer[64];
    needle_texts(ex->city, ex->digits, needle, question, answer, sizeof(needle));
    insert_needle(ex, tok, hay, hay_n, n, depth, rng, needle, question, answer, needle_min_context(tok));
}

void passkey_texts(const char *digits, char *needle, char *question, char *answer, size_t len) {
    snprintf(needle, len, " pass key %s. ", digits);
    snprintf(question, len, "\npass key");
    snprintf(answer, len, " %s", digits);
}

void passkey_make(NeedleExample *ex, const Tokenizer *tok, const uint16_t *hay, size_t hay_n, int n, double depth, uint64_t *rng) {
    memset(ex, 0, sizeof(*ex));
    draw_digits(ex, rng);
    char needle[64], question[64], answer[64];
    passkey_texts(ex->digits, needle, question, answer, sizeof(needle));
    insert_needle(ex, tok, hay, hay_n, n, depth, rng, needle, question, answer, passkey_min_context(tok));
}

void needle_free(NeedleExample *ex) {
    free(ex->tokens);
    ex->tokens = NULL;
}
