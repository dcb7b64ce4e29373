/*
 * dataloader.h: token shards and the batches cut from them.
 *
 * Shard format (llm.c's, so its shards work unchanged): a header of 256 int32, then uint16 tokens.
 *   header[0] magic 20240520, [1] version 1, [2] token count;
 *   ours also write [3] tokenizer code and [4] vocabulary size (llm.c leaves them 0: unknown).
 * A shard of n tokens holds (n-1)/T windows of T+1 tokens, starting at multiples of T.
 * A training loader visits every window once per epoch in an order shuffled by (seed, epoch);
 * a validation loader visits them in file order.
 */
#ifndef DATALOADER_H
#define DATALOADER_H

#include <stddef.h>
#include <stdint.h>

#define SHARD_MAGIC 20240520
#define SHARD_VERSION 1

typedef struct {
    char *path;
    const uint16_t *tokens; // mmapped, after the header
    void *map;
    size_t map_bytes;
    size_t ntok;
    int tokenizer, vocab_size; // 0 when the shard does not say
} Shard;

typedef struct {
    Shard *shards;
    int nshards;
    size_t *first_window; // (nshards+1): prefix sums of windows per shard
    size_t nwindows;
    int B, T, shuffle, vocab_size;
    uint64_t seed, epoch, pos; // pos: next window of this epoch
    uint32_t *order;           // this epoch's window order (shuffle only)
    int *inputs, *targets;     // (B,T)
    int tokenizer;             // what the shards say (0: unknown)
    int rank, world;           // data parallel: a batch is this rank's B rows of world*B windows
} DataLoader;

// opens every shard matching pattern
void dataloader_init(DataLoader *dl, const char *pattern, int B, int T, int shuffle, uint64_t seed);
// the vocabulary the shards declare (0: they do not say, as llm.c's)
int dataloader_vocab_size(const DataLoader *dl);
// checks the shards against the model's vocabulary and tokenizer; ids are checked batch by batch too
void dataloader_check_vocab(DataLoader *dl, int vocab_size, int tokenizer);
// this rank's part of a global batch of world*B windows; pos counts global windows
void dataloader_set_rank(DataLoader *dl, int rank, int world);
void dataloader_next_batch(DataLoader *dl);
void dataloader_reset(DataLoader *dl);
void dataloader_seek(DataLoader *dl, uint64_t epoch, uint64_t pos); // for resume
void dataloader_free(DataLoader *dl);
const Shard *dataloader_largest_shard(const DataLoader *dl); // needle haystacks come from it
// reads a shard's header and checks it against its size; dies with a hint if anything is off
void shard_open(Shard *s, const char *path);
void shard_close(Shard *s);
// writes tokens as a shard, atomically
void shard_write(const char *path, const uint16_t *tokens, size_t n, int tokenizer, int vocab_size);

#endif
