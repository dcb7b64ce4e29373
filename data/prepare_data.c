/*
 * prepare_data.c: text in, token shards out (and shards back to text).
 *
 *   prepare_data --input FILE|DIR --tokenizer byte|gpt2 --out DIR [--val-frac 0.1] [--shard-size N]
 *   prepare_data --decode SHARD [--offset N] [--count N]
 *
 * Documents are cut into ~1 MB chunks at points where the GPT-2 pattern splits anyway (after a
 * newline that follows a non-space and precedes a letter or digit), and the chunks are tokenized
 * on all cores; the result is the same as tokenizing each document whole.
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
#include <ctype.h>
#include "../util/common.h"
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
        if (!d) die("cannot read folder '%s' (%s)\nHINT: check its permissions", input, strerror(errno));
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            size_t len = strlen(e->d_name);
            if (len < 5 || strcmp(e->d_name + len - 4, ".txt") != 0) continue;
            docs = realloc_check(docs, (n + 1) * sizeof(char *));
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

// ----------------------------------------------------------------------------
// chunks that tokenize independently

typedef struct { int doc; size_t start, len; TokenBuf out; } Chunk;

static int is_space(unsigned char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }

// cuts [0, len) into pieces of about `target` bytes at safe points
static Chunk *make_chunks(Chunk *chunks, int *n, int doc, const unsigned char *text, size_t len, size_t target) {
    size_t start = 0;
    while (start < len) {
        size_t cut = len;
        if (len - start > 2 * target) {
            for (size_t i = start + target; i + 1 < len && i < start + 2 * target; i++)
                if (text[i - 1] == '\n' && i >= 2 && !is_space(text[i - 2]) && text[i] < 0x80 && isalnum(text[i])) { cut = i; break; }
        }
        chunks = realloc_check(chunks, (*n + 1) * sizeof(Chunk));
        chunks[*n] = (Chunk){doc, start, cut - start, {0}};
        (*n)++;
        start = cut;
    }
    return chunks;
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

static void decode_shard(const char *path, size_t offset, size_t count, const char *gpt2_dir) {
    Shard s;
    shard_open(&s, path);
    Tokenizer tok;
    tokenizer_init_kind(&tok, s.tokenizer ? s.tokenizer : TOKENIZER_GPT2, gpt2_dir); // llm.c shards do not say: GPT-2
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
           "  -g, --gpt2-dir DIR     folder of encoder.json and vocab.bpe (default: ../shared/data/gpt2 if present, else data/gpt2)\n"
           "  -v, --val-frac F       fraction held out for validation, 0 < F < 1 (default: 0.1)\n"
           "  -s, --shard-size N     tokens per shard (default: 100000000)\n"
           "  -d, --decode SHARD     print the text of a shard\n"
           "      --offset N         first token to decode (default: 0)\n"
           "      --count N          tokens to decode (default: 1000)\n"
           "  -h, --help             this help\n");
}

#define parse_double(s, flag) arg_num(s, flag, -1e300, 1e300, "prepare_data")

int main(int argc, char **argv) {
    const char *input = NULL, *out = "data/out", *tokname = "byte", *decode = NULL, *gpt2_dir = NULL;
    double val_frac = 0.1, shard_size = 1e8, offset = 0, count = 1000;
    static struct option opts[] = {
        {"input", required_argument, 0, 'i'}, {"out", required_argument, 0, 'o'},
        {"tokenizer", required_argument, 0, 'k'}, {"val-frac", required_argument, 0, 'v'},
        {"shard-size", required_argument, 0, 's'}, {"decode", required_argument, 0, 'd'},
        {"offset", required_argument, 0, 1}, {"count", required_argument, 0, 2}, {"gpt2-dir", required_argument, 0, 'g'},
        {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    int c;
    opterr = 0; // getopt's own message would be a second error line
    while ((c = getopt_long(argc, argv, ":i:o:k:v:s:d:g:h", opts, NULL)) != -1) {
        switch (c) {
        case 'i': input = optarg; break;
        case 'o': out = optarg; break;
        case 'k': tokname = optarg; break;
        case 'v': val_frac = parse_double(optarg, "--val-frac"); break;
        case 's': shard_size = (double)arg_int(optarg, "--shard-size", 1, INT32_MAX, "prepare_data"); break;
        case 'd': decode = optarg; break;
        case 'g': gpt2_dir = optarg; break;
        case 1: offset = (double)arg_int(optarg, "--offset", 0, (long)1 << 40, "prepare_data"); break; // whole tokens
        case 2: count = (double)arg_int(optarg, "--count", 0, (long)1 << 40, "prepare_data"); break;
        case 'h': usage(); return 0;
        case ':': die("option %s needs a value\nHINT: see prepare_data --help", argv[optind - 1]);
        default: die("unknown option '%s'\nHINT: see prepare_data --help", argv[optind - 1]);
        }
    }
    if (optind < argc) die("unexpected argument '%s'\nHINT: see prepare_data --help", argv[optind]);
    if (decode) {
        if (offset < 0 || count < 0) die("--offset and --count must be >= 0\nHINT: see prepare_data --help");
        decode_shard(decode, (size_t)offset, (size_t)count, gpt2_dir);
        return 0;
    }
    if (!input) die("no input given\nHINT: prepare_data --input FILE|DIR --out DIR (see --help)");
    if (!(val_frac > 0 && val_frac < 1)) die("--val-frac must be between 0 and 1, got %g\nHINT: e.g. --val-frac 0.1 holds out a tenth of the documents", val_frac);
    if (!(shard_size >= 1 && shard_size <= INT32_MAX)) die("--shard-size must be between 1 and %d, got %g\nHINT: see prepare_data --help", INT32_MAX, shard_size);
    Tokenizer tok;
    tokenizer_init(&tok, tokname, gpt2_dir);
    int ndocs;
    char **docs = list_documents(input, &ndocs);
    int nval_docs = ndocs >= 2 ? (int)(val_frac * ndocs + 0.5) : 0;
    if (ndocs >= 2 && nval_docs < 1) nval_docs = 1;
    if (nval_docs >= ndocs) nval_docs = ndocs - 1;
    // read every document, cut it into chunks, tokenize the chunks in parallel
    unsigned char **texts = malloc_check(ndocs * sizeof(unsigned char *));
    size_t bytes = 0;
    Chunk *chunks = NULL;
    int nchunks = 0;
    for (int i = 0; i < ndocs; i++) {
        size_t len;
        texts[i] = read_file(docs[i], &len);
        chunks = make_chunks(chunks, &nchunks, i, texts[i], len, 1 << 20);
        if (len == 0) { chunks = realloc_check(chunks, (nchunks + 1) * sizeof(Chunk)); chunks[nchunks++] = (Chunk){i, 0, 0, {0}}; }
        bytes += len;
    }
    if (bytes == 0)
        die("the input '%s' holds no text (%d empty document%s)\nHINT: give a text file or a folder of non-empty .txt files",
            input, ndocs, ndocs == 1 ? "" : "s");
    // the output folder only once every input has been read: a refused input leaves nothing behind
    if (mkdir(out, 0755) != 0 && errno != EEXIST)
        die("cannot create output folder '%s' (%s)\nHINT: check that its parent exists and is writable, or pass another --out", out, strerror(errno));
    double t0 = now_seconds();
    int done = 0;
    #pragma omp parallel for schedule(dynamic, 1)
    for (int c = 0; c < nchunks; c++) {
        tokenizer_encode(&tok, texts[chunks[c].doc] + chunks[c].start, chunks[c].len, &chunks[c].out);
        int d;
        #pragma omp atomic capture
        d = ++done;
        if (d % 8 == 0 || d == nchunks) {
            #pragma omp critical
            fprintf(stderr, "\rtokenizing (%s, %d threads): %d/%d chunks, %.1f MB/s   ", tokname, omp_get_max_threads(), d, nchunks,
                    bytes * ((double)d / nchunks) / 1e6 / (now_seconds() - t0 + 1e-9));
        }
    }
    fprintf(stderr, "\n");
    // assemble in document order; each document starts with end-of-text
    TokenBuf train = {0}, val = {0};
    for (int c = 0; c < nchunks; c++) {
        TokenBuf *dst = chunks[c].doc >= ndocs - nval_docs ? &val : &train;
        if (c == 0 || chunks[c - 1].doc != chunks[c].doc) tokenbuf_push(dst, (uint16_t)tok.eot);
        tokenbuf_reserve(dst, chunks[c].out.n);
        memcpy(dst->tok + dst->n, chunks[c].out.tok, chunks[c].out.n * sizeof(uint16_t));
        dst->n += chunks[c].out.n;
        free(chunks[c].out.tok);
    }
    for (int i = 0; i < ndocs; i++) free(texts[i]);
    free(texts); free(chunks);
    if (ndocs == 1) { // one document: its tail is the validation split
        size_t nv = (size_t)(train.n * val_frac);
        tokenbuf_reserve(&val, nv);
        memcpy(val.tok, train.tok + train.n - nv, nv * sizeof(uint16_t));
        val.n = nv;
        train.n -= nv;
    }
    write_split(out, "train", &train, (size_t)shard_size, &tok);
    write_split(out, "val", &val, (size_t)shard_size, &tok);
    printf("%s: %d documents (%d held out), %.1f MB -> %zu train + %zu val tokens (%s tokenizer, vocab %d) in %.1fs\n",
           input, ndocs, nval_docs, bytes / 1e6, train.n, val.n, tokname, tok.vocab_size, now_seconds() - t0);
    if (nval_docs > 0) {
        printf("held out for validation:");
        for (int i = ndocs - nval_docs; i < ndocs; i++) printf(" %s", strrchr(docs[i], '/') ? strrchr(docs[i], '/') + 1 : docs[i]);
        printf("\n");
    }
    for (int i = 0; i < ndocs; i++) free(docs[i]);
    free(docs); free(train.tok); free(val.tok);
    return 0;
}
