/*
 * test_data.c: the byte tokenizer, shard writing and reading, and the data loader's windows,
 * shuffling, determinism and resume position. (Bad files end the process, so the shell tests
 * in tests/test_cli.sh cover those.)
 */
#include "../util/common.h"
#include "../model/gpt.h"
#include "../data/tokenizer.h"
#include "../data/dataloader.h"
#include "../data/needle.h"
#include "../data/retrieval.h"
#include "test.h"

static void test_byte_roundtrip(void) {
    Tokenizer tok;
    tokenizer_init(&tok, "byte", NULL);
    check(tok.vocab_size == 257 && tok.eot == 256, "byte tokenizer: vocab %d eot %d", tok.vocab_size, tok.eot);
    unsigned char text[512];
    for (int i = 0; i < 256; i++) { text[i] = (unsigned char)i; text[256 + i] = (unsigned char)(255 - i); }
    TokenBuf ids = {0};
    tokenizer_encode(&tok, text, 512, &ids);
    size_t n = ids.n;
    check(n == 512, "byte tokenizer: %zu tokens for 512 bytes", n);
    int ints[512];
    for (size_t i = 0; i < n && i < 512; i++) ints[i] = ids.tok[i];
    free(ids.tok);
    FILE *f = tmpfile();
    tokenizer_decode(&tok, ints, n, f);
    rewind(f);
    unsigned char back[600];
    size_t got = fread(back, 1, sizeof(back), f);
    fclose(f);
    check(got == 512 && memcmp(back, text, 512) == 0, "byte tokenizer: decode(encode(x)) != x for all 256 byte values");
}

// a shard of tokens 0,1,2,...: each window's content tells where it came from
static void write_counting_shard(const char *path, size_t n, size_t start) {
    uint16_t *t = malloc_check(n * sizeof(uint16_t));
    for (size_t i = 0; i < n; i++) t[i] = (uint16_t)((start + i) % 250);
    shard_write(path, t, n, TOKENIZER_BYTE, 257);
    free(t);
}

static void test_loader(void) {
    // two shards: 101 tokens -> 10 windows of T=10 (+1), 51 tokens -> 5 windows
    write_counting_shard("build/dl_train_000000.bin", 101, 0);
    write_counting_shard("build/dl_train_000001.bin", 51, 5);
    DataLoader dl;
    dataloader_init(&dl, "build/dl_train_*.bin", 3, 10, 1, 5);
    dataloader_check_vocab(&dl, 257, TOKENIZER_BYTE);
    check(dl.nshards == 2 && dl.nwindows == 15, "loader: %d shards, %zu windows (expected 2, 15)", dl.nshards, dl.nwindows);
    // one epoch = 5 batches of 3: every window exactly once, targets shifted by one
    int seen[15] = {0}, shifted = 1;
    for (int k = 0; k < 5; k++) {
        dataloader_next_batch(&dl);
        for (int b = 0; b < 3; b++) {
            int first = dl.inputs[b * 10];
            for (int t = 0; t < 10; t++) shifted &= dl.targets[b * 10 + t] == (dl.inputs[b * 10 + t] + 1) % 250;
            // identify the window by its first token: shard 0 windows start at 0,10,..,90; shard 1 at 5,15,..,45
            int id = -1;
            for (int i = 0; i < 10; i++) if (first == i * 10) id = i;
            for (int i = 0; i < 5; i++) if (first == 5 + i * 10) id = 10 + i;
            if (id >= 0) seen[id]++;
        }
    }
    int once = 1;
    for (int i = 0; i < 15; i++) once &= seen[i] == 1;
    check(once, "loader: an epoch does not visit every window exactly once");
    check(shifted, "loader: targets are not the inputs shifted by one token");
    check(dl.epoch == 0 && dl.pos == 15, "loader: after one epoch epoch=%lu pos=%lu", (unsigned long)dl.epoch, (unsigned long)dl.pos);

    // same seed: same order; resume position: the same next batch
    DataLoader a, b;
    dataloader_init(&a, "build/dl_train_*.bin", 3, 10, 1, 5);
    dataloader_init(&b, "build/dl_train_*.bin", 3, 10, 1, 5);
    dataloader_check_vocab(&a, 257, TOKENIZER_BYTE); dataloader_check_vocab(&b, 257, TOKENIZER_BYTE);
    for (int k = 0; k < 7; k++) dataloader_next_batch(&a); // crosses into epoch 1
    dataloader_seek(&b, a.epoch, a.pos);
    dataloader_next_batch(&a); dataloader_next_batch(&b);
    check(a.epoch == 1 && memcmp(a.inputs, b.inputs, 30 * sizeof(int)) == 0, "loader: seek to a saved position does not give the same batch");
    // a different epoch uses a different order
    DataLoader c;
    dataloader_init(&c, "build/dl_train_*.bin", 15, 10, 1, 5);
    dataloader_check_vocab(&c, 257, TOKENIZER_BYTE);
    dataloader_next_batch(&c);
    int *e0 = malloc_check(150 * sizeof(int));
    memcpy(e0, c.inputs, 150 * sizeof(int));
    dataloader_next_batch(&c);
    check(memcmp(e0, c.inputs, 150 * sizeof(int)) != 0, "loader: epochs 0 and 1 have the same order");
    free(e0);
    // validation loaders go in file order
    DataLoader v;
    dataloader_init(&v, "build/dl_train_*.bin", 2, 10, 0, 0);
    dataloader_check_vocab(&v, 257, TOKENIZER_BYTE);
    dataloader_next_batch(&v);
    check(v.inputs[0] == 0 && v.inputs[10] == 10, "validation loader is not in file order");
    dataloader_free(&dl); dataloader_free(&a); dataloader_free(&b); dataloader_free(&c); dataloader_free(&v);
}

static void test_shard_header(void) {
    write_counting_shard("build/dl_hdr.bin", 77, 0);
    Shard s;
    shard_open(&s, "build/dl_hdr.bin");
    check(s.ntok == 77 && s.tokenizer == TOKENIZER_BYTE && s.vocab_size == 257 && s.tokens[76] == 76,
          "shard header: ntok %zu tokenizer %d vocab %d", s.ntok, s.tokenizer, s.vocab_size);
    shard_close(&s);
    // the llm.c layout: 256 int32 with magic, version, count in the first three
    FILE *f = fopen_check("build/dl_hdr.bin", "rb");
    int32_t h[3];
    fread_check(h, 4, 3, f, "header");
    fclose(f);
    check(h[0] == 20240520 && h[1] == 1 && h[2] == 77, "shard is not in llm.c's format");
}

// needle examples: n+1 tokens, the needle sentence where depth says, haystack around it unchanged,
// the answer = the needle's digits at the end, the same example from the same rng state
static void test_needle(void) {
    Tokenizer tok;
    tokenizer_init(&tok, "byte", NULL);
    size_t hay_n = 5000;
    uint16_t *hay = malloc_check(hay_n * sizeof(uint16_t));
    for (size_t i = 0; i < hay_n; i++) hay[i] = (uint16_t)('a' + i % 26);
    double depths[] = {0, 0.5, 1};
    for (int d = 0; d < 3; d++) {
        uint64_t rng = 42, rng2 = 42;
        NeedleExample ex, ex2;
        int n = 300;
        needle_make(&ex, &tok, hay, hay_n, n, depths[d], &rng);
        needle_make(&ex2, &tok, hay, hay_n, n, depths[d], &rng2);
        check(ex.n == n && !memcmp(ex.tokens, ex2.tokens, (n + 1) * sizeof(int)), "needle: same rng, different example");
        char text[512], needle[256], question[256], answer[64];
        for (int i = 0; i <= n; i++) text[i] = (char)ex.tokens[i];
        text[n + 1] = 0;
        needle_texts(ex.city, ex.digits, needle, question, answer, sizeof(needle));
        int nl = (int)strlen(needle);
        check(ex.needle_end - ex.needle_start == nl && !memcmp(text + ex.needle_start, needle, nl),
              "needle: the needle sentence is not at tokens %d..%d", ex.needle_start, ex.needle_end);
        check(!strcmp(text + ex.answer_start, ex.digits) && strlen(ex.digits) == NEEDLE_DIGITS && ex.digits[0] != '0',
              "needle: the answer tokens are '%s', expected the digits %s", text + ex.answer_start, ex.digits);
        int qlen = (int)strlen(question), fill = n + 1 - nl - qlen - (int)strlen(answer);
        check(!memcmp(text + ex.answer_start - 1 - qlen, question, qlen), "needle: the question is not before the answer");
        check(ex.question_start == ex.answer_start - 1 - qlen, "needle: question_start %d, the question starts at %d",
              ex.question_start, ex.answer_start - 1 - qlen);
        check(ex.needle_start == (int)(depths[d] * fill + 0.5), "needle: depth %g put the needle at %d of %d", depths[d], ex.needle_start, fill);
        int hay_ok = 1; // the haystack around the needle is one contiguous slice
        for (int i = 1; i < fill; i++) {
            int a = i - 1 < ex.needle_start ? i - 1 : i - 1 + nl, b = i < ex.needle_start ? i : i + nl;
            hay_ok &= (text[b] - 'a' + 26) % 26 == (text[a] - 'a' + 1) % 26;
        }
        check(hay_ok, "needle: the haystack is not a contiguous slice at depth %g", depths[d]);
        needle_free(&ex); needle_free(&ex2);
    }
    check(needle_min_context(&tok) > 100 && needle_min_context(&tok) < 200, "needle: minimum context %d", needle_min_context(&tok));
    free(hay);
}

// mqar: the queries ask for keys of the pairs and carry their values, keys distinct, every id in its
// range, the targets on the answers only; passkey: the answer is the key's digits, asked after it
static void test_retrieval(void) {
    RetrievalTask task = {RETRIEVAL_MQAR, 8, 4};
    int n = 128, T = 0;
    double mean_source = 0;
    int ok_layout = 1, ok_ranges = 1, ok_distinct = 1, ok_targets = 1;
    for (int e = 0; e < 400; e++) {
        uint64_t rng = random_seed(5, (uint64_t)e), rng2 = rng;
        RetrievalExample ex, ex2;
        retrieval_make(&ex, &task, NULL, NULL, 0, n, &rng);
        retrieval_make(&ex2, &task, NULL, NULL, 0, n, &rng2);
        if (e == 0) check(!memcmp(ex.tokens, ex2.tokens, (n + 1) * sizeof(int)), "mqar: same rng, different example");
        check(ex.answers == 4 || e, "mqar: %d answers, expected 4", ex.answers);
        int nkeys = 0, seen[64] = {0};
        for (int i = 0; i <= n; i++) {
            int t = ex.tokens[i];
            ok_ranges &= t >= 32 && t <= 255 && t != 127;
            if (i < n + 1 - 8 && t >= 128 && t < 192) { nkeys++; ok_distinct &= !seen[t - 128]; seen[t - 128] = 1;
                                                        ok_layout &= ex.tokens[i + 1] >= 192; }
        }
        ok_distinct &= nkeys == 8;
        int targets[129];
        retrieval_targets(&ex, targets);
        int marked = 0;
        for (int t = 0; t < n; t++) marked += targets[t] >= 0;
        ok_targets &= marked == 4;
        for (int a = 0; a < ex.answers; a++) {
            int q = ex.start[a] - 1, src = ex.source[a];
            ok_layout &= ex.end[a] == ex.start[a] + 1 && ex.tokens[q] == ex.tokens[src - 1] && ex.tokens[q + 1] == ex.tokens[src];
            ok_layout &= q > src && targets[q] == ex.tokens[q + 1];
            for (int b = 0; b < a; b++) ok_layout &= ex.source[b] != src;
            mean_source += src;
            T++;
        }
        retrieval_free(&ex); retrieval_free(&ex2);
    }
    check(ok_layout, "mqar: a query does not repeat its pair, or the answer is not the pair's value");
    check(ok_ranges, "mqar: a token outside 32..255");
    check(ok_distinct, "mqar: the keys of an example are not 8 distinct ids");
    check(ok_targets, "mqar: the targets are not exactly the 4 answers");
    mean_source /= T;
    check(mean_source > 0.4 * (n - 8) && mean_source < 0.6 * (n - 8), "mqar: pairs not spread over the context (mean place %.1f of %d)",
          mean_source, n - 8);
    check(*retrieval_check(&task, 257) == 0 && *retrieval_check(&task, 200) && *retrieval_check(&(RetrievalTask){RETRIEVAL_MQAR, 8, 9}, 257),
          "mqar: retrieval_check accepts a bad task or refuses a good one");
    check(retrieval_min_context(&task, NULL) == 2 * 8 + 2 * 4 + 16, "mqar: minimum context %d", retrieval_min_context(&task, NULL));

    // recall: one token per item (key in its high bits), the question a query id then the item itself
    RetrievalTask rc = {RETRIEVAL_RECALL, 6, 3};
    int ok_recall = 1;
    for (int e = 0; e < 200; e++) {
        uint64_t rng = random_seed(6, (uint64_t)e);
        RetrievalExample ex;
        retrieval_make(&ex, &rc, NULL, NULL, 0, n, &rng);
        int items = 0, keys_seen = 0;
        for (int i = 0; i < n + 1 - 6; i++) {
            int t = ex.tokens[i];
            ok_recall &= (t >= 32 && t < 96) || t >= 128;
            if (t >= 128) { items++; ok_recall &= !(keys_seen >> ((t - 128) / 16) & 1); keys_seen |= 1 << (t - 128) / 16; }
        }
        ok_recall &= items == 6 && ex.answers == 3;
        for (int a = 0; a < 3; a++) {
            int q = ex.start[a] - 1, src = ex.source[a];
            ok_recall &= ex.tokens[q] == 96 + (ex.tokens[src] - 128) / 16 && ex.tokens[q + 1] == ex.tokens[src] && src < q;
        }
        retrieval_free(&ex);
    }
    check(ok_recall, "recall: items not 6 distinct keys, or a question not answered by its item");
    check(*retrieval_check(&(RetrievalTask){RETRIEVAL_RECALL, 9, 3}, 257) && !*retrieval_check(&rc, 257),
          "recall: retrieval_check should allow 8 keys at most");

    Tokenizer tok;
    tokenizer_init(&tok, "byte", NULL);
    size_t hay_n = 5000;
    uint16_t *hay = malloc_check(hay_n * sizeof(uint16_t));
    for (size_t i = 0; i < hay_n; i++) hay[i] = (uint16_t)('a' + i % 26);
    RetrievalTask pk = {RETRIEVAL_PASSKEY, 0, 0};
    int ok = 1;
    for (int e = 0; e < 50; e++) {
        uint64_t rng = random_seed(9, (uint64_t)e);
        RetrievalExample ex;
        retrieval_make(&ex, &pk, &tok, hay, hay_n, 200, &rng);
        ok &= ex.answers == 1 && ex.end[0] == 201 && ex.end[0] - ex.start[0] == NEEDLE_DIGITS && ex.start[0] - 1 > ex.source[0];
        // " pass key DDDDDDD. " at source; the answer repeats the digits
        const char *lead = " pass key ";
        for (int i = 0; lead[i]; i++) ok &= ex.tokens[ex.source[0] + i] == lead[i];
        for (int i = 0; i < NEEDLE_DIGITS; i++) ok &= ex.tokens[ex.start[0] + i] == ex.tokens[ex.source[0] + 10 + i];
        retrieval_free(&ex);
    }
    check(ok, "passkey: the answer is not the pass key's digits, or not after it");
    check(retrieval_min_context(&pk, &tok) == passkey_min_context(&tok) && passkey_min_context(&tok) < 64,
          "passkey: minimum context %d", passkey_min_context(&tok));
    free(hay);
}

int main(void) {
    printf("tokenizer and data loader\n");
    test_byte_roundtrip();
    test_shard_header();
    test_loader();
    test_needle();
    test_retrieval();
    return test_summary();
}
