/*
 * tokenizer_kind.c: the tokenizer kinds' names and end-of-text ids (util/tokenizer_kind.h).
 */
#include "tokenizer_kind.h"

const char *tokenizer_names[TOKENIZER_COUNT] = {"unknown", "byte", "gpt2"};

const char *tokenizer_kind_name(int kind) {
    return kind >= 0 && kind < TOKENIZER_COUNT ? tokenizer_names[kind] : "unknown";
}

int tokenizer_eot(int kind) { return kind == TOKENIZER_BYTE ? 256 : kind == TOKENIZER_GPT2 ? 50256 : -1; }
