/*
 * prepare_data.c: text in, token shards out (and shards back to text).
 *
 *   prepare_data --input FILE|DIR --tokenizer byte --out DIR [--val-frac 0.1] [--shard-size N]
 *   prepare_data --decode SHARD [--offset N] [--count N]
 *
 * Every document starts with the end-of-text token. A single file is one document whose last
 * val-frac of tokens becomes the validation split. A folder's *.txt files are documents, taken in
 * sorted order; the last round(val-frac * documents) of them (at least one when there are two or
 * more) are held out whole for validation.
 */
#include <dirent.h>
#include <getopt.h>
#include <sys/stat.h>
#include <errno.h>
#include "../model/common.h"
#include "../model/gpt.h"
#include "dataloader.h"
#include "tokenizer.h"

static unsigned char *read_file(const char *path, size_t *len) {
    FILE *f = fopen_check(path, "rb");
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *buf = malloc_check(n > 0 ? (size_t)n : 1);
    if (n > 0) fread_check(buf, 1, (size_t)n, f, path);
    fclose(f);
    *len = (size_t)n;
    return buf;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

// the documents of the input: the file itself, or the folder's *.txt files, sorted
static char **list_documents(const char *input, int *count) {
    struct stat st;
    if (stat(input, &st) != 0) die("input '%s' does not exist\nHINT: pass a text file or a folder of .txt files with --input", input);
    char **docs = NULL;
    int n = 0;
    if (S_ISDIR(st.st_mode)) {
        DIR *d = opendir(input);
        if (!d) die("cannot read folder '%s'", input);
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            size_t len = strlen(e->d_name);
            if (len < 5 || strcmp(e->d_name + len - 4, ".txt") != 0) continue;
            docs = realloc(docs, (n + 1) * sizeof(char *));
            size_t plen = strlen(input) + len + 2;
            docs[n] = malloc_check(plen);
            snprintf(docs[n], plen, "%s/%s", input, e->d_name);
            n++;
        }
        closedir(d);
        if (n == 0) die("folder '%s' has no .txt files\nHINT: documents must end in .txt", input);
        qsort(docs, n, sizeof(char *), cmp_str);
    } else {
        docs = malloc_check(sizeof(char *));
        docs[0] = strdup(input);
        n = 1;
    }
    *count = n;
    return docs;
}

typedef struct { uint16_t *tok; size_t n, cap; } TokenBuf;

static void buf_reserve(TokenBuf *b, size_t extra) {
    if (b->n + extra <= b->cap) return;
    size_t cap = (b->n + extra) * 2;
    b->tok = realloc(b->tok, cap * sizeof(uint16_t));
    if (!b->tok) die("out of memory holding %zu tokens", cap);
    b->cap = cap;
}

static void write_split(const char *out, const char *split, const TokenBuf *b, size_t shard_size, const Tokenizer *tok) {
    int nshards = 0;
    for (size_t start = 0; start < b->n || nshards == 0; start += shard_size, nshards++) {
        size_t n = b->n - start < shard_size ? b->n - start : shard_size;
        char path[4096];
        snprintf(path, sizeof(path), "%s/%s_%06d.bin", out, split, nshards);
        shard_write(path, b->tok + start, n, tok->kind, tok->vocab_size);
        // read it back through the loader's own checks
        Shard s;
        shard_open(&s, path);
        if (s.ntok != n || memcmp(s.tokens, b->tok + start, n * sizeof(uint16_t)) != 0)
            die("shard '%s' did not read back as written\nHINT: check the disk", path);
        shard_close(&s);
        printf("wrote %s: %zu tokens\n", path, n);
        if (n == 0) break;
    }
}

static void decode_shard(const char *path, size_t offset, size_t count) {
    Shard s;
    shard_open(&s, path);
    Tokenizer tok;
    if (s.tokenizer == 0) die("shard '%s' does not say which tokenizer made it\nHINT: llm.c shards are GPT-2 tokens; decoding them needs the gpt2 tokenizer", path);
    tokenizer_init_kind(&tok, s.tokenizer);
    if (offset > s.ntok) offset = s.ntok;
    if (count > s.ntok - offset) count = s.ntok - offset;
    int *ids = malloc_check((count + 1) * sizeof(int));
    for (size_t i = 0; i < count; i++) ids[i] = s.tokens[offset + i];
    tokenizer_decode(&tok, ids, count, stdout);
    printf("\n");
    free(ids);
    shard_close(&s);
}

static void usage(void) {
    printf("usage: prepare_data --input FILE|DIR [options]     text -> train/val token shards\n"
           "       prepare_data --decode SHARD [options]       shard -> text\n\n"
           "  -i, --input PATH       text file, or folder of .txt documents (required to encode)\n"
           "  -o, --out DIR          output folder (default: data/out)\n"
           "  -k, --tokenizer NAME   byte | gpt2 (default: byte)\n"
           "  -v, --val-frac F       fraction held out for validation, 0 < F < 1 (default: 0.1)\n"
           "  -s, --shard-size N     tokens per shard (default: 100000000)\n"
           "  -d, --decode SHARD     print the text of a shard\n"
           "      --offset N         first token to decode (default: 0)\n"
           "      --count N          tokens to decode (default: 1000)\n"
           "  -h, --help             this help\n");
}

static double parse_double(const char *s, const char *flag) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end) die("%s expects a number, got '%s'\nHINT: see prepare_data --help", flag, s);
    return v;
}

int main(int argc, char **argv) {
    const char *input = NULL, *out = "data/out", *tokname = "byte", *decode = NULL;
    double val_frac = 0.1, shard_size = 1e8, offset = 0, count = 1000;
    static struct option opts[] = {
        {"input", required_argument, 0, 'i'}, {"out", required_argument, 0, 'o'},
        {"tokenizer", required_argument, 0, 'k'}, {"val-frac", required_argument, 0, 'v'},
        {"shard-size", required_argument, 0, 's'}, {"decode", required_argument, 0, 'd'},
        {"offset", required_argument, 0, 1}, {"count", required_argument, 0, 2},
        {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "i:o:k:v:s:d:h", opts, NULL)) != -1) {
        switch (c) {
        case 'i': input = optarg; break;
        case 'o': out = optarg; break;
        case 'k': tokname = optarg; break;
        case 'v': val_frac = parse_double(optarg, "--val-frac"); break;
        case 's': shard_size = parse_double(optarg, "--shard-size"); break;
        case 'd': decode = optarg; break;
        case 1: offset = parse_double(optarg, "--offset"); break;
        case 2: count = parse_double(optarg, "--count"); break;
        case 'h': usage(); return 0;
        default: fprintf(stderr, "error: unknown option\nHINT: see prepare_data --help\n"); return 1;
        }
    }
    if (optind < argc) die("unexpected argument '%s'\nHINT: see prepare_data --help", argv[optind]);
    if (decode) {
        if (offset < 0 || count < 0) die("--offset and --count must be >= 0");
        decode_shard(decode, (size_t)offset, (size_t)count);
        return 0;
    }
    if (!input) die("no input given\nHINT: prepare_data --input FILE|DIR --out DIR (see --help)");
    if (!(val_frac > 0 && val_frac < 1)) die("--val-frac must be between 0 and 1, got %g", val_frac);
    if (!(shard_size >= 1 && shard_size <= INT32_MAX)) die("--shard-size must be between 1 and %d, got %g", INT32_MAX, shard_size);
    Tokenizer tok;
    tokenizer_init(&tok, tokname);
    if (mkdir(out, 0755) != 0 && errno != EEXIST) die("cannot create output folder '%s'", out);

    int ndocs;
    char **docs = list_documents(input, &ndocs);
    int nval_docs = ndocs >= 2 ? (int)(val_frac * ndocs + 0.5) : 0;
    if (ndocs >= 2 && nval_docs < 1) nval_docs = 1;
    if (nval_docs >= ndocs) nval_docs = ndocs - 1;
    TokenBuf train = {0}, val = {0};
    size_t bytes = 0;
    double t0 = now_seconds();
    for (int i = 0; i < ndocs; i++) {
        size_t len;
        unsigned char *text = read_file(docs[i], &len);
        TokenBuf *dst = i >= ndocs - nval_docs ? &val : &train;
        buf_reserve(dst, len + 1);
        dst->tok[dst->n++] = (uint16_t)tok.eot;
        dst->n += tokenizer_encode(&tok, text, len, dst->tok + dst->n);
        bytes += len;
        free(text);
        fprintf(stderr, "\rtokenized %d/%d documents, %.1f MB", i + 1, ndocs, bytes / 1e6);
    }
    fprintf(stderr, "\n");
    if (ndocs == 1) { // one document: its tail is the validation split
        size_t nv = (size_t)(train.n * val_frac);
        buf_reserve(&val, nv);
        memcpy(val.tok, train.tok + train.n - nv, nv * sizeof(uint16_t));
        val.n = nv;
        train.n -= nv;
    }
    write_split(out, "train", &train, (size_t)shard_size, &tok);
    write_split(out, "val", &val, (size_t)shard_size, &tok);
    printf("%s: %d documents (%d held out), %.1f MB -> %zu train + %zu val tokens (%s tokenizer, vocab %d) in %.1fs\n",
           input, ndocs, nval_docs, bytes / 1e6, train.n, val.n, tokname, tok.vocab_size, now_seconds() - t0);
    for (int i = 0; i < ndocs; i++) free(docs[i]);
    free(docs); free(train.tok); free(val.tok);
    return 0;
}
