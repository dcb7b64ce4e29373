/*
 * bpe.h: GPT-2 byte-level BPE (see bpe.c).
 */
#ifndef BPE_H
#define BPE_H

#include <stdio.h>
#include <stddef.h>
#include <stdint.h>

typedef struct BPE BPE;

// reads DIR/encoder.json and DIR/vocab.bpe; dies with a hint if they are missing or malformed
BPE *bpe_load(const char *dir);
int bpe_vocab_size(const BPE *bpe);
int bpe_eot(const BPE *bpe);
// encodes text as ordinary text (a literal "<|endoftext|>" is not special); out must hold 3*len
// tokens (invalid bytes become U+FFFD, 3 bytes each); returns the count. Thread-safe.
size_t bpe_encode(const BPE *bpe, const unsigned char *text, size_t len, uint16_t *out);
void bpe_decode(const BPE *bpe, const int *ids, size_t n, FILE *f);
// the merges of one pre-tokenized piece of n bytes into ids (n of room); returns the count. method 0:
// rescan for the lowest-ranked pair (O(n^2), the definition), 1: a heap of candidate pairs (O(n log n)),
// -1: the first up to BPE_HEAP_MIN bytes, the second beyond (the same ids either way)
#define BPE_HEAP_MIN 48
int bpe_merge(const BPE *bpe, const unsigned char *p, int n, int *ids, int method);
// WHATWG UTF-8 decoding with replacement, re-encoded: out must hold 3*n bytes; returns its length
size_t utf8_sanitize(const unsigned char *s, size_t n, unsigned char *out);

#endif
