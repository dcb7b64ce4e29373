/*
 * test_bpe.c: the GPT-2 tokenizer against js-tiktoken's ids (tests/ref/gpt2_vectors.tsv, made by
 * `make gpt2-vectors`): every vector must give exactly the reference ids, and decoding must give
 * back the input (invalid UTF-8: the input with U+FFFD in place of each invalid subpart).
 * Whole files come from ../shared/data (SHARED_DATA overrides); missing ones are skipped, loudly.
 */
#include <ctype.h>
#include "../util/common.h"
#include "../model/gpt.h"
#include "../data/tokenizer.h"
#include "test.h"

static int hexval(char c) { return isdigit((unsigned char)c) ? c - '0' : c - 'a' + 10; }

static uint32_t fnv1a(const uint16_t *ids, size_t n) {
    uint32_t h = 0x811c9dc5u;
    for (size_t i = 0; i < n; i++)
        for (int b = 0; b < 4; b++) { h ^= ((uint32_t)ids[i] >> (8 * b)) & 0xff; h *= 0x01000193u; }
    return h;
}

static unsigned char *read_all(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *buf = malloc_check((size_t)n + 1);
    fread_check(buf, 1, (size_t)n, f, path);
    fclose(f);
    *len = (size_t)n;
    return buf;
}

int main(void) {
    printf("GPT-2 BPE against js-tiktoken (tests/ref/gpt2_vectors.tsv)\n");
    const char *shared = getenv("SHARED_DATA") ? getenv("SHARED_DATA") : "../shared/data";
    char dir[4096];
    snprintf(dir, sizeof(dir), "%s/gpt2", shared);
    FILE *probe = fopen("../shared/data/gpt2/encoder.json", "rb");
    if (!probe && !getenv("SHARED_DATA")) { printf("skipped: no GPT-2 files in %s\n", dir); printf("0 passed, 0 failed, 1 skipped\n"); return 0; }
    if (probe) fclose(probe);
    Tokenizer tok;
    tokenizer_init(&tok, "gpt2", dir);
    check(tok.vocab_size == 50257 && tok.eot == 50256, "vocab %d eot %d", tok.vocab_size, tok.eot);

    size_t flen;
    unsigned char *tsv = read_all("tests/ref/gpt2_vectors.tsv", &flen);
    check(tsv != NULL, "missing tests/ref/gpt2_vectors.tsv (run make gpt2-vectors)");
    if (!tsv) return test_summary();
    tsv[flen] = 0;
    int vectors = 0, files = 0, skipped = 0, bad_vectors = 0;
    char *save = NULL;
    for (char *line = strtok_r((char *)tsv, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *name = line, *hex = strchr(name, '\t');
        if (!hex) continue;
        *hex++ = 0;
        char *ids = strchr(hex, '\t');
        if (!ids) continue;
        *ids++ = 0;
        TokenBuf out = {0};
        if (strncmp(name, "file:", 5) == 0) {
            char path[4096];
            snprintf(path, sizeof(path), "%s/%s", shared, name + 5);
            size_t len;
            unsigned char *text = read_all(path, &len);
            if (!text) { printf("skipped %s: not found\n", path); skipped++; continue; }
            tokenizer_encode(&tok, text, len, &out);
            size_t count = 0;
            unsigned int fnv = 0;
            sscanf(ids, "count=%zu fnv=%x", &count, &fnv);
            check(out.n == count && fnv1a(out.tok, out.n) == fnv, "%s: %zu tokens (fnv %08x), js-tiktoken %zu (fnv %08x)",
                  name, out.n, fnv1a(out.tok, out.n), count, fnv);
            files++;
            free(text); free(out.tok);
            continue;
        }
        size_t n = strlen(hex) / 2;
        unsigned char *bytes = malloc_check(n + 1);
        for (size_t i = 0; i < n; i++) bytes[i] = (unsigned char)(hexval(hex[2 * i]) * 16 + hexval(hex[2 * i + 1]));
        tokenizer_encode(&tok, bytes, n, &out);
        int *want = malloc_check((strlen(ids) / 2 + 2) * sizeof(int));
        size_t nw = 0;
        for (char *p = ids; *p;) {
            char *end;
            long v = strtol(p, &end, 10);
            if (end == p) break;
            want[nw++] = (int)v;
            p = end;
        }
        int same = out.n == nw;
        for (size_t i = 0; same && i < nw; i++) same = out.tok[i] == want[i];
        if (!same) {
            bad_vectors++;
            printf("FAIL %s: got", name);
            for (size_t i = 0; i < out.n && i < 24; i++) printf(" %d", out.tok[i]);
            printf(" | js-tiktoken");
            for (size_t i = 0; i < nw && i < 24; i++) printf(" %d", want[i]);
            printf("\n");
        }
        check(same, "%s: ids differ from js-tiktoken", name);
        // decode round trip: the (sanitized) input comes back
        int *ints = malloc_check((out.n + 1) * sizeof(int));
        for (size_t i = 0; i < out.n; i++) ints[i] = out.tok[i];
        char *buf = NULL;
        size_t blen = 0;
        FILE *mf = open_memstream(&buf, &blen);
        bpe_decode(tok.bpe, ints, out.n, mf);
        fclose(mf);
        unsigned char *clean = malloc_check(3 * n + 1);
        size_t clen = utf8_sanitize(bytes, n, clean);
        check(blen == clen && memcmp(buf, clean, clen) == 0, "%s: decode(encode(x)) != x", name);
        vectors++;
        free(buf); free(clean); free(ints); free(want); free(bytes); free(out.tok);
    }
    free(tsv);
    printf("%d vectors (%d differ), %d whole files, %d skipped\n", vectors, bad_vectors, files, skipped);
    check(vectors > 300, "only %d vectors read", vectors);
    // the two merge procedures give the same ids: random pieces over small alphabets (many equal-rank
    // ties and re-merges), up to lengths where the scan is still quick; and a 200 KB run of letters,
    // which the scan would take minutes for, round-trips and splits like its 2 KB prefix repeated
    uint64_t rng = 11;
    const char *alphabets[] = {"ab", "abc", "aeiou", "abcdefghijklmnopqrstuvwxyz", "0123456789", "a b"};
    int same = 1, pieces = 0;
    for (int a = 0; a < 6; a++)
        for (int len = 1; len <= 3000; len = len < 64 ? len + 7 : len * 2) {
            unsigned char *piece = malloc_check(len);
            int na = (int)strlen(alphabets[a]);
            for (int i = 0; i < len; i++) piece[i] = alphabets[a][random_u32(&rng) % na];
            int *x = malloc_check(len * sizeof(int)), *y = malloc_check(len * sizeof(int));
            int nx = bpe_merge(tok.bpe, piece, len, x, 0), ny = bpe_merge(tok.bpe, piece, len, y, 1);
            same &= nx == ny && memcmp(x, y, nx * sizeof(int)) == 0;
            pieces++;
            free(piece); free(x); free(y);
        }
    check(same, "the heap merge differs from the scan on some of %d random pieces", pieces);
    size_t big = 200000;
    unsigned char *letters = malloc_check(big);
    for (size_t i = 0; i < big; i++) letters[i] = 'a' + (unsigned char)(i * 7 % 26);
    TokenBuf lb = {0};
    tokenizer_encode(&tok, letters, big, &lb);
    int *li = malloc_check(lb.n * sizeof(int));
    for (size_t i = 0; i < lb.n; i++) li[i] = lb.tok[i];
    char *back = NULL; size_t blen = 0;
    FILE *bf = open_memstream(&back, &blen);
    bpe_decode(tok.bpe, li, lb.n, bf);
    fclose(bf);
    check(blen == big && memcmp(back, letters, big) == 0 && lb.n > 0, "a 200 KB piece of letters: %zu tokens, round trip %s",
          lb.n, blen == big && memcmp(back, letters, big) == 0 ? "ok" : "broken");
    free(letters); free(li); free(back); free(lb.tok);
    return test_summary();
}
