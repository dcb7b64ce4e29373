/*
 * tokenizer_kind.h: which tokenizer made a sequence of token ids, as shards and models record it.
 * Only the kinds and their facts that need no files (names, end-of-text ids): the tokenizers
 * themselves are data/tokenizer.h. model/ and data/ both read these, so they live below both.
 */
#ifndef TOKENIZER_KIND_H
#define TOKENIZER_KIND_H

enum { TOKENIZER_UNKNOWN, TOKENIZER_BYTE, TOKENIZER_GPT2, TOKENIZER_COUNT };
extern const char *tokenizer_names[TOKENIZER_COUNT];

// the name of a recorded kind, "unknown" for one out of range
const char *tokenizer_kind_name(int kind);
// the end-of-text id of a tokenizer kind (no files needed), -1 if unknown
int tokenizer_eot(int kind);

#endif
