/*
 * tokenizer.c: the byte tokenizer, and the dispatch by name to the GPT-2 BPE.
 */
#include <string.h>
#include <sys/stat.h>
#include "../util/common.h"
#include "tokenizer.h"

void tokenbuf_reserve(TokenBuf *b, size_t extra) {
    if (b->n + extra <= b->cap) return;
    size_t cap = (b->n + extra) * 3 / 2 + 1024;
    b->tok = realloc_check(b->tok, cap * sizeof(uint16_t));
    b->cap = cap;
}

void tokenbuf_push(TokenBuf *b, uint16_t t) {
    tokenbuf_reserve(b, 1);
    b->tok[b->n++] = t;
}

const char *gpt2_default_dir(void) {
    struct stat st;
    return stat("../shared/data/gpt2/encoder.json", &st) == 0 ? "../shared/data/gpt2" : "data/gpt2";
}

void tokenizer_init_kind(Tokenizer *tok, int kind, const char *gpt2_dir) {
    memset(tok, 0, sizeof(*tok));
    tok->kind = kind;
    if (kind == TOKENIZER_BYTE) { tok->vocab_size = 257; tok->eot = 256; return; }
    if (kind == TOKENIZER_GPT2) {
        tok->bpe = bpe_load(gpt2_dir ? gpt2_dir : gpt2_default_dir());
        tok->vocab_size = bpe_vocab_size(tok->bpe);
        tok->eot = bpe_eot(tok->bpe);
        if (tok->vocab_size != 50257 || tok->eot != 50256)
            die("the GPT-2 files give vocab %d and end-of-text %d, expected 50257 and 50256\nHINT: use OpenAI's original encoder.json and vocab.bpe",
                tok->vocab_size, tok->eot);
        return;
    }
    die("unknown tokenizer code %d\nHINT: the file was written by a newer version", kind);
}

void tokenizer_init(Tokenizer *tok, const char *name, const char *gpt2_dir) {
    int kind = parse_choice(name, tokenizer_names, TOKENIZER_COUNT);
    if (kind <= TOKENIZER_UNKNOWN) die("unknown tokenizer '%s'\nHINT: use --tokenizer byte or gpt2", name);
    tokenizer_init_kind(tok, kind, gpt2_dir);
}

void tokenizer_encode(const Tokenizer *tok, const unsigned char *text, size_t len, TokenBuf *out) {
    if (tok->kind == TOKENIZER_GPT2) {
        tokenbuf_reserve(out, 3 * len + 1);
        out->n += bpe_encode(tok->bpe, text, len, out->tok + out->n);
        return;
    }
    tokenbuf_reserve(out, len);
    for (size_t i = 0; i < len; i++) out->tok[out->n++] = text[i];
}

void tokenizer_decode(const Tokenizer *tok, const int *ids, size_t n, FILE *f) {
    for (size_t i = 0; i < n; i++) {
        if (ids[i] == tok->eot) fputs("<|endoftext|>", f);
        else if (tok->kind == TOKENIZER_GPT2) bpe_decode(tok->bpe, ids + i, 1, f);
        else if (ids[i] >= 0 && ids[i] < 256) fputc(ids[i], f);
    }
}

