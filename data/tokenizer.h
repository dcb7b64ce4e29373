/*
 * tokenizer.h: turning text into token ids and back. One interface, chosen by name with
 * --tokenizer; the model and shards record which one made their ids.
 *   byte: the 256 byte values are tokens 0..255, end-of-text is 256 (V = 257).
 *   gpt2: GPT-2 byte-level BPE from encoder.json and vocab.bpe (V = 50257, end-of-text 50256),
 *         the same ids as tiktoken's `gpt2` encoding (data/bpe.c).
 */
#ifndef TOKENIZER_H
#define TOKENIZER_H

#include <stdio.h>
#include <stddef.h>
#include <stdint.h>
#include "bpe.h"
// which tokenizer made a shard's or a model's token ids (recorded in both, checked against each other)
#include "../util/tokenizer_kind.h"

typedef struct {
    int kind;        // TOKENIZER_*
    int vocab_size;
    int eot;         // end-of-text token: separates documents
    BPE *bpe;        // gpt2 only
} Tokenizer;

// a growable array of token ids
typedef struct { uint16_t *tok; size_t n, cap; } TokenBuf;
void tokenbuf_reserve(TokenBuf *b, size_t extra);
void tokenbuf_push(TokenBuf *b, uint16_t t);

// the default folder of encoder.json and vocab.bpe: ../shared/data/gpt2 if present, else data/gpt2
const char *gpt2_default_dir(void);
// by name or kind; gpt2_dir may be NULL for the default; dies with a hint on a bad name or files
void tokenizer_init(Tokenizer *tok, const char *name, const char *gpt2_dir);
void tokenizer_init_kind(Tokenizer *tok, int kind, const char *gpt2_dir);
// appends the tokens of len bytes of text (no end-of-text is added); thread-safe
void tokenizer_encode(const Tokenizer *tok, const unsigned char *text, size_t len, TokenBuf *out);
// writes the text of the ids to f; end-of-text is shown as <|endoftext|>
void tokenizer_decode(const Tokenizer *tok, const int *ids, size_t n, FILE *f);

#endif
