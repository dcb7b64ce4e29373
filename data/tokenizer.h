/*
 * tokenizer.h: turning text into token ids and back. One interface, chosen by name with
 * --tokenizer; the model and shards record which one made their ids.
 *   byte: the 256 byte values are tokens 0..255, end-of-text is 256 (V = 257).
 *   gpt2: GPT-2 byte-level BPE (V = 50257, end-of-text 50256): not built yet (its own issue).
 */
#ifndef TOKENIZER_H
#define TOKENIZER_H

#include <stdio.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    int kind;        // TOKENIZER_* from model/gpt.h
    int vocab_size;
    int eot;         // end-of-text token: separates documents
} Tokenizer;

// kind from a name; dies with a hint on an unknown or unavailable tokenizer
void tokenizer_init(Tokenizer *tok, const char *name);
void tokenizer_init_kind(Tokenizer *tok, int kind);
// encodes len bytes into out (capacity >= len: every token covers at least one byte); returns the count
size_t tokenizer_encode(const Tokenizer *tok, const unsigned char *text, size_t len, uint16_t *out);
// writes the text of the ids to f; end-of-text is shown as <|endoftext|>
void tokenizer_decode(const Tokenizer *tok, const int *ids, size_t n, FILE *f);

#endif
