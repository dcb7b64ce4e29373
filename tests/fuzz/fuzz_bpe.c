/*
 * fuzz_bpe.c: the GPT-2 tokenizer on arbitrary bytes: decode(encode(x)) is x with invalid UTF-8
 * replaced by U+FFFD (utf8_sanitize), and every id is in the vocabulary. Needs GPT-2's encoder.json and
 * vocab.bpe in $SHARED_DATA/gpt2 (default ../shared/data/gpt2).
 */
#include "../../util/common.h"
#include "../../data/bpe.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n) {
    static BPE *bpe = NULL;
    if (!bpe) {
        char dir[4096];
        snprintf(dir, sizeof(dir), "%s/gpt2", getenv("SHARED_DATA") ? getenv("SHARED_DATA") : "../shared/data");
        if (setjmp(fuzz_escape) != 0) { fprintf(stderr, "fuzz_bpe: no GPT-2 files in %s\n", dir); _exit(1); }
        bpe = bpe_load(dir);
    }
    uint16_t *ids = malloc(3 * n + 1);
    unsigned char *clean = malloc(3 * n + 1);
    size_t k = bpe_encode(bpe, data, n, ids), cn = utf8_sanitize(data, n, clean);
    int *ints = malloc((k + 1) * sizeof(int));
    for (size_t i = 0; i < k; i++) {
        if (ids[i] >= bpe_vocab_size(bpe)) __builtin_trap();
        ints[i] = ids[i];
    }
    char *back = NULL;
    size_t blen = 0;
    FILE *f = open_memstream(&back, &blen);
    bpe_decode(bpe, ints, k, f);
    fclose(f);
    if (blen != cn || memcmp(back, clean, cn) != 0) __builtin_trap(); // the round trip lost or changed text
    free(ids); free(clean); free(ints); free(back);
    return 0;
}
