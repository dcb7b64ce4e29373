/*
 * dataloader.c: opening and validating token shards, and cutting deterministic batches from them.
 */
#include <glob.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <unistd.h>
#include "../util/common.h"
#include "dataloader.h"
#include "tokenizer.h"

void shard_open(Shard *s, const char *path) {
    memset(s, 0, sizeof(*s));
    regular_file_check(path, "shard");
    int fd = open(path, O_RDONLY);
    if (fd < 0) die("cannot open shard '%s'\nHINT: run `make data` or ./prepare_data to make shards", path);
    struct stat st;
    if (fstat(fd, &st) != 0) die("cannot stat shard '%s' (%s)\nHINT: check the file's permissions, or prepare the data again", path, strerror(errno));
    size_t size = (size_t)st.st_size;
    if (size < 1024) { close(fd); die("shard '%s' is %zu bytes, shorter than its 1024-byte header\nHINT: the file is truncated; prepare the data again", path, size); }
    void *map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (map == MAP_FAILED) die("cannot map shard '%s' (%s)\nHINT: check the file's permissions and free memory, or prepare the data again", path, strerror(errno));
    int32_t h[5]; // a copy: the error paths unmap the file before they report
    memcpy(h, map, sizeof(h));
    munmap(map, size);
    if (h[0] != SHARD_MAGIC) die("shard '%s' has magic %d, expected %d\nHINT: not a token shard; make shards with prepare_data", path, h[0], SHARD_MAGIC);
    if (h[1] != SHARD_VERSION) die("shard '%s' has version %d, expected %d\nHINT: make the shards again with prepare_data", path, h[1], SHARD_VERSION);
    if (h[2] < 0 || size != 1024 + 2 * (size_t)h[2])
        die("shard '%s' is %zu bytes but its header promises %d tokens (%zu bytes)\nHINT: the file is truncated; prepare the data again",
            path, size, h[2], 1024 + 2 * (size_t)(h[2] < 0 ? 0 : h[2]));
    fd = open(path, O_RDONLY);
    map = fd >= 0 ? mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0) : MAP_FAILED;
    if (fd >= 0) close(fd);
    if (map == MAP_FAILED) die("cannot map shard '%s' (%s)\nHINT: check the file's permissions and free memory, or prepare the data again", path, strerror(errno));
    s->path = strdup(path);
    s->map = map;
    s->map_bytes = size;
    s->tokens = (const uint16_t *)((const char *)map + 1024);
    s->ntok = (size_t)h[2];
    s->tokenizer = h[3];
    s->vocab_size = h[4];
}

void shard_close(Shard *s) {
    if (s->map) munmap(s->map, s->map_bytes);
    free(s->path);
    memset(s, 0, sizeof(*s));
}

void shard_write(const char *path, const uint16_t *tokens, size_t n, int tokenizer, int vocab_size) {
    if (n > INT32_MAX) die("shard '%s' would hold %zu tokens, more than a header can count\nHINT: use a smaller --shard-size", path, n);
    int32_t h[256] = {0};
    h[0] = SHARD_MAGIC; h[1] = SHARD_VERSION; h[2] = (int32_t)n; h[3] = tokenizer; h[4] = vocab_size;
    char tmp[4096];
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    FILE *f = fopen_check(tmp, "wb");
    fwrite_check(h, sizeof(int32_t), 256, f);
    fwrite_check(tokens, sizeof(uint16_t), n, f);
    fclose_check(f);
    if (rename(tmp, path) != 0) die("could not rename '%s' to '%s' (%s)\nHINT: check the output folder's permissions", tmp, path, strerror(errno));
}

// ----------------------------------------------------------------------------

static void make_order(DataLoader *dl) {
    if (!dl->shuffle) return;
    uint64_t rng = random_seed(dl->seed, 1000 + dl->epoch);
    for (size_t i = 0; i < dl->nwindows; i++) dl->order[i] = (uint32_t)i;
    for (size_t i = dl->nwindows - 1; i > 0; i--) { // Fisher-Yates
        size_t j = ((uint64_t)random_u32(&rng) << 32 | random_u32(&rng)) % (i + 1);
        uint32_t tmp = dl->order[i]; dl->order[i] = dl->order[j]; dl->order[j] = tmp;
    }
}

void dataloader_init(DataLoader *dl, const char *pattern, int B, int T, int shuffle, uint64_t seed) {
    memset(dl, 0, sizeof(*dl));
    glob_t g;
    if (glob(pattern, 0, NULL, &g) != 0 || g.gl_pathc == 0)
        die("no shards match '%s'\nHINT: run `make data` (tinyshakespeare) or ./prepare_data, or fix the path", pattern);
    dl->nshards = (int)g.gl_pathc;
    dl->shards = malloc_check(dl->nshards * sizeof(Shard));
    dl->first_window = malloc_check((dl->nshards + 1) * sizeof(size_t));
    for (int i = 0; i < dl->nshards; i++) {
        Shard *s = &dl->shards[i];
        shard_open(s, g.gl_pathv[i]);
        if (i > 0 && s->vocab_size != dl->shards[0].vocab_size)
            die("shards matching '%s' declare different vocabularies\nHINT: keep one tokenizer's shards per pattern", pattern);
        if (i > 0 && s->tokenizer != dl->tokenizer)
            die("shards matching '%s' were made by different tokenizers\nHINT: keep one tokenizer's shards per pattern", pattern);
        dl->tokenizer = s->tokenizer;
        dl->first_window[i + 1] = dl->first_window[i] + (s->ntok > 0 ? (s->ntok - 1) / T : 0);
    }
    globfree(&g);
    dl->nwindows = dl->first_window[dl->nshards];
    if (dl->nwindows == 0)
        die("shards matching '%s' hold no window of %d tokens\nHINT: use a shorter sequence length (-t)", pattern, T + 1);
    if (dl->nwindows > UINT32_MAX) die("more than 2^32 windows in '%s'\nHINT: use a longer -t", pattern);
    dl->B = B; dl->T = T; dl->shuffle = shuffle; dl->seed = seed; dl->vocab_size = 65536;
    dl->rank = 0; dl->world = 1;
    dl->inputs = malloc_check((size_t)B * T * sizeof(int));
    dl->targets = malloc_check((size_t)B * T * sizeof(int));
    if (shuffle) dl->order = malloc_check(dl->nwindows * sizeof(uint32_t));
    dataloader_seek(dl, 0, 0);
}

void dataloader_set_rank(DataLoader *dl, int rank, int world) {
    dl->rank = rank;
    dl->world = world;
}

int dataloader_vocab_size(const DataLoader *dl) { return dl->shards[0].vocab_size; }

void dataloader_check_vocab(DataLoader *dl, int vocab_size, int tokenizer) {
    const Shard *s = &dl->shards[0];
    int known = s->tokenizer >= 0 && s->tokenizer < TOKENIZER_COUNT;
    if ((s->vocab_size && s->vocab_size != vocab_size) || (s->tokenizer && tokenizer && s->tokenizer != tokenizer))
        die("shard '%s' holds %s tokens (vocab %d) but the model expects %s tokens (vocab %d)\n"
            "HINT: prepare the data with the model's tokenizer, or train a model for this data",
            s->path, known ? tokenizer_names[s->tokenizer] : "unknown", s->vocab_size,
            tokenizer >= 0 && tokenizer < TOKENIZER_COUNT ? tokenizer_names[tokenizer] : "unknown", vocab_size);
    // every id of every shard, once, so that a bad id stops the run before it writes anything
    for (int i = 0; i < dl->nshards; i++) {
        const Shard *sh = &dl->shards[i];
        uint16_t top = 0;
        for (size_t j = 0; j < sh->ntok; j++) top = sh->tokens[j] > top ? sh->tokens[j] : top;
        if (top >= vocab_size) {
            size_t j = 0;
            while (sh->tokens[j] < vocab_size) j++;
            die("token id %d at position %zu of shard '%s' is outside the model's vocabulary of %d\nHINT: the shard was made "
                "with another tokenizer than the model's, or is damaged: prepare it again", sh->tokens[j], j, sh->path, vocab_size);
        }
    }
    dl->vocab_size = vocab_size;
}

void dataloader_seek(DataLoader *dl, uint64_t epoch, uint64_t pos) {
    dl->epoch = epoch;
    dl->pos = pos < dl->nwindows ? pos : 0;
    make_order(dl);
}

void dataloader_reset(DataLoader *dl) { dataloader_seek(dl, 0, 0); }

void dataloader_next_batch(DataLoader *dl) {
    int T = dl->T;
    // the global batch is world x B windows; this rank fills its rows from its own slice of them
    for (int g = 0; g < dl->B * dl->world; g++) {
        if (dl->pos == dl->nwindows) { dl->epoch++; dl->pos = 0; make_order(dl); }
        size_t w = dl->shuffle ? dl->order[dl->pos] : dl->pos;
        dl->pos++;
        int b = g - dl->rank * dl->B;
        if (b < 0 || b >= dl->B) continue;
        int lo = 0, hi = dl->nshards - 1; // the shard holding window w
        while (lo < hi) {
            int mid = (lo + hi + 1) / 2;
            if (dl->first_window[mid] <= w) lo = mid; else hi = mid - 1;
        }
        const Shard *s = &dl->shards[lo];
        const uint16_t *tok = s->tokens + (w - dl->first_window[lo]) * T;
        for (int t = 0; t < T; t++) {
            dl->inputs[b * T + t] = tok[t];
            dl->targets[b * T + t] = tok[t + 1];
        }
    }
}

void dataloader_free(DataLoader *dl) {
    for (int i = 0; i < dl->nshards; i++) shard_close(&dl->shards[i]);
    free(dl->shards); free(dl->first_window); free(dl->order); free(dl->inputs); free(dl->targets);
    memset(dl, 0, sizeof(*dl));
}

const Shard *dataloader_largest_shard(const DataLoader *dl) {
    const Shard *best = &dl->shards[0];
    for (int i = 1; i < dl->nshards; i++) if (dl->shards[i].ntok > best->ntok) best = &dl->shards[i];
    return best;
}
