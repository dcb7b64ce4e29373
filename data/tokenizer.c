/*
 * tokenizer.c: the byte tokenizer, and the dispatch by name that the GPT-2 BPE will join.
 */
#include <string.h>
#include "../model/common.h"
#include "../model/gpt.h"
#include "tokenizer.h"

void tokenizer_init_kind(Tokenizer *tok, int kind) {
    memset(tok, 0, sizeof(*tok));
    tok->kind = kind;
    if (kind == TOKENIZER_BYTE) { tok->vocab_size = 257; tok->eot = 256; return; }
    if (kind == TOKENIZER_GPT2) die("the gpt2 tokenizer is not built yet\nHINT: use --tokenizer byte for now");
    die("unknown tokenizer code %d\nHINT: the file was written by a newer version", kind);
}

void tokenizer_init(Tokenizer *tok, const char *name) {
    int kind = parse_choice(name, tokenizer_names, TOKENIZER_COUNT);
    if (kind <= TOKENIZER_UNKNOWN) die("unknown tokenizer '%s'\nHINT: use --tokenizer byte (or gpt2)", name);
    tokenizer_init_kind(tok, kind);
}

size_t tokenizer_encode(const Tokenizer *tok, const unsigned char *text, size_t len, uint16_t *out) {
    (void)tok;
    for (size_t i = 0; i < len; i++) out[i] = text[i];
    return len;
}

void tokenizer_decode(const Tokenizer *tok, const int *ids, size_t n, FILE *f) {
    for (size_t i = 0; i < n; i++) {
        if (ids[i] == tok->eot) fputs("<|endoftext|>", f);
        else if (ids[i] >= 0 && ids[i] < 256) fputc(ids[i], f);
    }
}
