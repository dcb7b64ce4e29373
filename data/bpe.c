/*
 * bpe.c: GPT-2 byte-level BPE from OpenAI's original files (encoder.json, vocab.bpe), giving the
 * same ids as tiktoken's `gpt2` encoding (checked against js-tiktoken in tests/test_bpe.c).
 *
 * 1. Invalid UTF-8 is replaced by U+FFFD exactly as a WHATWG/Python decoder does (one U+FFFD per
 *    maximal invalid subpart), since a reference tokenizer can only see decoded text.
 * 2. The text is split into pieces by GPT-2's pattern, run by PCRE2 (Unicode letter and number
 *    classes from PCRE2's tables). `\s` is spelled out as JavaScript's whitespace set, which
 *    js-tiktoken uses (it includes U+FEFF and excludes U+0085).
 * 3. Each piece's bytes start as one token each; the adjacent pair with the lowest merge rank is
 *    merged until no pair has a rank. Pieces seen before come from a per-thread cache.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#define STB_DS_IMPLEMENTATION
#ifndef typeof
#define typeof __typeof__ // stb_ds spells it the GNU way; strict C11 only has __typeof__
#endif
#include <stb/stb_ds.h>
#include "../util/common.h"
#include "bpe.h"

#define WS "\\t\\n\\x{0B}\\f\\r \\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}\\x{202F}\\x{205F}\\x{3000}\\x{FEFF}"
static const char *GPT2_PATTERN =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^" WS "\\p{L}\\p{N}]+|[" WS "]+(?![^" WS "])|[" WS "]+";

typedef struct { int rank, id; } Merge;
typedef struct { uint64_t key; Merge value; } MergeEntry;

struct BPE {
    int vocab_size, eot;
    unsigned char **bytes; // (vocab_size) raw bytes of each token
    int *len;
    int byte_id[256];      // the token of each single byte
    MergeEntry *merges;    // stb_ds hash map: (left << 32 | right) -> rank and merged token
    pcre2_code *re;
};

// ----------------------------------------------------------------------------
// GPT-2's reversible map from bytes to printable code points

static void byte_to_unicode(int map[256]) {
    int n = 0;
    for (int b = 0; b < 256; b++) {
        int printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
        map[b] = printable ? b : 256 + n++;
    }
}

static int utf8_put(unsigned char *out, int cp) {
    if (cp < 0x80) { out[0] = (unsigned char)cp; return 1; }
    if (cp < 0x800) { out[0] = 0xC0 | (cp >> 6); out[1] = 0x80 | (cp & 0x3F); return 2; }
    if (cp < 0x10000) { out[0] = 0xE0 | (cp >> 12); out[1] = 0x80 | ((cp >> 6) & 0x3F); out[2] = 0x80 | (cp & 0x3F); return 3; }
    out[0] = 0xF0 | (cp >> 18); out[1] = 0x80 | ((cp >> 12) & 0x3F); out[2] = 0x80 | ((cp >> 6) & 0x3F); out[3] = 0x80 | (cp & 0x3F);
    return 4;
}

// next code point of valid UTF-8 at *p (advancing it)
static int utf8_next(const unsigned char **p) {
    const unsigned char *s = *p;
    int cp, n;
    if (s[0] < 0x80) { cp = s[0]; n = 1; }
    else if (s[0] < 0xE0) { cp = s[0] & 0x1F; n = 2; }
    else if (s[0] < 0xF0) { cp = s[0] & 0x0F; n = 3; }
    else { cp = s[0] & 0x07; n = 4; }
    for (int i = 1; i < n; i++) cp = (cp << 6) | (s[i] & 0x3F);
    *p = s + n;
    return cp;
}

size_t utf8_sanitize(const unsigned char *s, size_t n, unsigned char *out) {
    // WHATWG UTF-8 decode with replacement: an invalid or truncated sequence becomes one U+FFFD and
    // the byte that broke it is looked at again
    size_t i = 0, o = 0;
    while (i < n) {
        unsigned char b = s[i];
        if (b < 0x80) { out[o++] = b; i++; continue; }
        int need = 0;
        unsigned char lo = 0x80, hi = 0xBF;
        if (b >= 0xC2 && b <= 0xDF) need = 1;
        else if (b == 0xE0) { need = 2; lo = 0xA0; }
        else if ((b >= 0xE1 && b <= 0xEC) || b == 0xEE || b == 0xEF) need = 2;
        else if (b == 0xED) { need = 2; hi = 0x9F; }
        else if (b == 0xF0) { need = 3; lo = 0x90; }
        else if (b >= 0xF1 && b <= 0xF3) need = 3;
        else if (b == 0xF4) { need = 3; hi = 0x8F; }
        size_t j = i + 1;
        int ok = need > 0;
        for (int k = 0; k < need; k++, j++) {
            if (j >= n || s[j] < lo || s[j] > hi) { ok = 0; break; }
            lo = 0x80; hi = 0xBF;
        }
        if (ok) { memcpy(out + o, s + i, j - i); o += j - i; }
        else { out[o++] = 0xEF; out[o++] = 0xBF; out[o++] = 0xBD; }
        i = ok ? j : (need > 0 ? j : i + 1);
    }
    return o;
}

// ----------------------------------------------------------------------------
// loading encoder.json and vocab.bpe

static char *slurp(const char *path, size_t *len, const char *what) {
    regular_file_check(path, what);
    FILE *f = fopen(path, "rb");
    if (!f) die("cannot open the GPT-2 %s '%s'\nHINT: pass --gpt2-dir DIR holding encoder.json and vocab.bpe (../shared/data/gpt2 here)", what, path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc_check((size_t)n + 1);
    fread_check(buf, 1, (size_t)n, f, path);
    fclose(f);
    buf[n] = 0;
    *len = (size_t)n;
    return buf;
}

// a JSON string at *p (after its opening quote) decoded to UTF-8 in out; returns the length
static int json_string(const char **p, unsigned char *out, int cap, const char *path) {
    const char *s = *p;
    int o = 0;
    while (*s && *s != '"') {
        if (o > cap - 8) die("'%s': a key is longer than %d bytes\nHINT: the file is not GPT-2's encoder.json", path, cap);
        if (*s != '\\') { out[o++] = (unsigned char)*s++; continue; }
        s++;
        switch (*s) {
        case 'u': {
            int cp = 0;
            for (int i = 1; i <= 4; i++) {
                char c = s[i];
                int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
                if (v < 0) die("'%s': bad \\u escape\nHINT: the file is not valid JSON", path);
                cp = cp * 16 + v;
            }
            s += 5;
            if (cp >= 0xD800 && cp <= 0xDBFF && s[0] == '\\' && s[1] == 'u') { // surrogate pair
                int lo = (int)strtol((char[]){s[2], s[3], s[4], s[5], 0}, NULL, 16);
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                s += 6;
            }
            o += utf8_put(out + o, cp);
            continue;
        }
        case 'n': out[o++] = '\n'; break;
        case 't': out[o++] = '\t'; break;
        case 'r': out[o++] = '\r'; break;
        case 'b': out[o++] = '\b'; break;
        case 'f': out[o++] = '\f'; break;
        default: out[o++] = (unsigned char)*s; break; // \" \\ \/
        }
        s++;
    }
    if (*s != '"') die("'%s': unterminated string\nHINT: the file is truncated", path);
    *p = s + 1;
    return o;
}

static void skip_ws(const char **p) { while (**p == ' ' || **p == '\n' || **p == '\r' || **p == '\t') (*p)++; }

BPE *bpe_load(const char *dir) {
    char path[4096], mpath[4096];
    snprintf(path, sizeof(path), "%s/encoder.json", dir);
    snprintf(mpath, sizeof(mpath), "%s/vocab.bpe", dir);
    BPE *bpe = malloc_check(sizeof(BPE));
    int map[256], inverse[512];
    byte_to_unicode(map);
    for (int i = 0; i < 512; i++) inverse[i] = -1;
    for (int b = 0; b < 256; b++) inverse[map[b]] = b;

    // encoder.json: {"token": id, ...}; keys are byte strings through the map above
    size_t len;
    char *json = slurp(path, &len, "encoder");
    struct { char *key; int value; } *ids = NULL; // mapped key -> id, only while loading merges
    sh_new_strdup(ids);
    int cap = 0, count = 0, max_id = -1;
    unsigned char key[1024];
    typedef struct { int id, len; unsigned char *bytes; } Entry;
    Entry *entries = NULL;
    const char *p = json;
    skip_ws(&p);
    if (*p++ != '{') die("'%s' is not a JSON object\nHINT: pass GPT-2's original encoder.json", path);
    for (;;) {
        skip_ws(&p);
        if (*p == '}') break;
        if (*p++ != '"') die("'%s': expected a string key near byte %ld\nHINT: the file is not GPT-2's encoder.json", path, (long)(p - json));
        int klen = json_string(&p, key, sizeof(key), path);
        skip_ws(&p);
        if (*p++ != ':') die("'%s': expected ':' near byte %ld\nHINT: the file is not GPT-2's encoder.json", path, (long)(p - json));
        char *end;
        long id = strtol(p, &end, 10);
        if (end == p || id < 0 || id > 1000000) die("'%s': bad token id near byte %ld\nHINT: the file is not GPT-2's encoder.json", path, (long)(p - json));
        p = end;
        key[klen] = 0;
        shput(ids, (char *)key, (int)id);
        // raw bytes: every code point back through the inverse map (special tokens are plain ASCII)
        unsigned char *raw = malloc_check((size_t)klen + 1);
        int rlen = 0;
        for (const unsigned char *q = key; q < key + klen;) {
            int cp = utf8_next(&q);
            raw[rlen++] = (unsigned char)(cp < 512 && inverse[cp] >= 0 ? inverse[cp] : cp);
        }
        if (count == cap) { cap = cap ? 2 * cap : 65536; entries = realloc_check(entries, cap * sizeof(Entry)); }
        entries[count++] = (Entry){(int)id, rlen, raw};
        if (id > max_id) max_id = (int)id;
        skip_ws(&p);
        if (*p == ',') p++;
    }
    free(json);
    bpe->vocab_size = max_id + 1;
    bpe->bytes = malloc_check(bpe->vocab_size * sizeof(unsigned char *));
    bpe->len = malloc_check(bpe->vocab_size * sizeof(int));
    for (int i = 0; i < count; i++) { bpe->bytes[entries[i].id] = entries[i].bytes; bpe->len[entries[i].id] = entries[i].len; }
    free(entries);
    for (int i = 0; i < bpe->vocab_size; i++)
        if (!bpe->bytes[i]) die("'%s' has no token %d\nHINT: the file is not GPT-2's encoder.json", path, i);
    int eot = shget(ids, "<|endoftext|>");
    if (shgeti(ids, "<|endoftext|>") < 0) die("'%s' has no <|endoftext|> token\nHINT: pass GPT-2's original encoder.json", path);
    bpe->eot = eot;
    for (int b = 0; b < 256; b++) {
        unsigned char s[8];
        s[utf8_put(s, map[b])] = 0;
        if (shgeti(ids, (char *)s) < 0) die("'%s' has no token for byte %d\nHINT: pass GPT-2's original encoder.json", path, b);
        bpe->byte_id[b] = shget(ids, (char *)s);
    }

    // vocab.bpe: "#version" line, then one merge "left right" per line, in rank order
    char *text = slurp(mpath, &len, "merges");
    bpe->merges = NULL;
    int rank = 0;
    char *line = text, *next;
    for (; line && *line; line = next) {
        next = strchr(line, '\n');
        if (next) *next++ = 0;
        size_t l = strlen(line);
        if (l && line[l - 1] == '\r') line[--l] = 0;
        if (l == 0 || (rank == 0 && strncmp(line, "#version", 8) == 0)) continue; // "# #" is a real merge
        char *space = strchr(line, ' ');
        if (!space) die("'%s': merge line %d has no space\nHINT: pass GPT-2's original vocab.bpe", mpath, rank + 1);
        *space = 0;
        char joined[1024];
        snprintf(joined, sizeof(joined), "%s%s", line, space + 1);
        int a = (int)shgeti(ids, line), b = (int)shgeti(ids, space + 1), m = (int)shgeti(ids, joined);
        if (a < 0 || b < 0 || m < 0)
            die("'%s': merge %d (%s %s) uses tokens missing from encoder.json\nHINT: encoder.json and vocab.bpe must come from the same release", mpath, rank + 1, line, space + 1);
        uint64_t k = (uint64_t)ids[a].value << 32 | (uint32_t)ids[b].value;
        Merge v = {rank++, ids[m].value};
        hmput(bpe->merges, k, v);
    }
    free(text);
    shfree(ids);
    if (rank == 0) die("'%s' holds no merges\nHINT: pass GPT-2's original vocab.bpe", mpath);

    int err;
    PCRE2_SIZE off;
    bpe->re = pcre2_compile((PCRE2_SPTR)GPT2_PATTERN, PCRE2_ZERO_TERMINATED, PCRE2_UTF | PCRE2_UCP | PCRE2_NO_UTF_CHECK, &err, &off, NULL);
    if (!bpe->re) die("internal: the GPT-2 pattern does not compile (PCRE2 error %d at %zu)", err, (size_t)off);
    pcre2_jit_compile(bpe->re, PCRE2_JIT_COMPLETE); // falls back to the interpreter where JIT is missing
    return bpe;
}

int bpe_vocab_size(const BPE *bpe) { return bpe->vocab_size; }
int bpe_eot(const BPE *bpe) { return bpe->eot; }

// ----------------------------------------------------------------------------
// encoding

// the merge of one piece, by definition: repeatedly the lowest-ranked adjacent pair, the leftmost of
// equals, rescanning the piece each time: O(n^2), the clearest statement and fastest for short pieces
static int merge_piece_scan(const BPE *bpe, const unsigned char *p, int n, int *ids) {
    for (int i = 0; i < n; i++) ids[i] = bpe->byte_id[p[i]];
    while (n > 1) {
        int best = INT32_MAX, at = -1, merged = 0;
        for (int i = 0; i + 1 < n; i++) {
            ptrdiff_t e = hmgeti(((BPE *)bpe)->merges, (uint64_t)ids[i] << 32 | (uint32_t)ids[i + 1]);
            if (e >= 0 && bpe->merges[e].value.rank < best) { best = bpe->merges[e].value.rank; at = i; merged = bpe->merges[e].value.id; }
        }
        if (at < 0) break;
        ids[at] = merged;
        memmove(ids + at + 1, ids + at + 2, (size_t)(n - at - 2) * sizeof(int));
        n--;
    }
    return n;
}

// the same merges in O(n log n), for long pieces (a 100 KB run of letters): the tokens in a linked list,
// the candidate pairs in a min-heap ordered by (rank, position of the left token), so the pop is the
// pair the scan would pick; a pair whose tokens changed since it was pushed is skipped when popped
typedef struct { int rank, pos, left_ver, right_ver; } PairCand;

static int cand_less(const PairCand *a, const PairCand *b) { return a->rank < b->rank || (a->rank == b->rank && a->pos < b->pos); }

static void heap_push(PairCand *h, int *n, PairCand c) {
    int i = (*n)++;
    h[i] = c;
    while (i > 0 && cand_less(&h[i], &h[(i - 1) / 2])) { PairCand t = h[i]; h[i] = h[(i - 1) / 2]; h[(i - 1) / 2] = t; i = (i - 1) / 2; }
}

static PairCand heap_pop(PairCand *h, int *n) {
    PairCand top = h[0];
    h[0] = h[--(*n)];
    for (int i = 0;;) {
        int l = 2 * i + 1, r = l + 1, m = i;
        if (l < *n && cand_less(&h[l], &h[m])) m = l;
        if (r < *n && cand_less(&h[r], &h[m])) m = r;
        if (m == i) break;
        PairCand t = h[i]; h[i] = h[m]; h[m] = t; i = m;
    }
    return top;
}

static int merge_piece_heap(const BPE *bpe, const unsigned char *p, int n, int *ids) {
    int *next = malloc_check((size_t)n * sizeof(int)), *prev = malloc_check((size_t)n * sizeof(int));
    int *ver = malloc_check((size_t)n * sizeof(int)); // bumped when a token changes or goes; -1: gone
    PairCand *heap = malloc_check((size_t)(2 * n + 1) * sizeof(PairCand)); // n pairs, then at most two per merge
    int hn = 0;
    for (int i = 0; i < n; i++) { ids[i] = bpe->byte_id[p[i]]; next[i] = i + 1 < n ? i + 1 : -1; prev[i] = i - 1; ver[i] = 0; }
    #define PUSH_PAIR(a, b) do { \
        ptrdiff_t e_ = hmgeti(((BPE *)bpe)->merges, (uint64_t)ids[a] << 32 | (uint32_t)ids[b]); \
        if (e_ >= 0) heap_push(heap, &hn, (PairCand){bpe->merges[e_].value.rank, a, ver[a], ver[b]}); \
    } while (0)
    for (int i = 0; i + 1 < n; i++) PUSH_PAIR(i, i + 1);
    while (hn > 0) {
        PairCand c = heap_pop(heap, &hn);
        int a = c.pos, b = next[a];
        if (ver[a] != c.left_ver || b < 0 || ver[b] != c.right_ver) continue; // stale: a token changed since
        ptrdiff_t e = hmgeti(((BPE *)bpe)->merges, (uint64_t)ids[a] << 32 | (uint32_t)ids[b]);
        ids[a] = bpe->merges[e].value.id;
        ver[a]++;
        ver[b] = -1;
        next[a] = next[b];
        if (next[b] >= 0) prev[next[b]] = a;
        if (prev[a] >= 0) PUSH_PAIR(prev[a], a);
        if (next[a] >= 0) PUSH_PAIR(a, next[a]);
        if (hn > 2 * n - 2) { // compact: drop the stale entries (each merge pushes at most two)
            int k = 0;
            for (int i = 0; i < hn; i++) {
                int l = heap[i].pos, r = next[l];
                if (ver[l] == heap[i].left_ver && r >= 0 && ver[r] == heap[i].right_ver) heap[k++] = heap[i];
            }
            hn = 0;
            for (int i = 0; i < k; i++) heap_push(heap, &hn, heap[i]);
        }
    }
    #undef PUSH_PAIR
    int k = 0;
    for (int i = 0; i >= 0; i = next[i]) ids[k++] = ids[i];
    free(next); free(prev); free(ver); free(heap);
    return k;
}

int bpe_merge(const BPE *bpe, const unsigned char *p, int n, int *ids, int method) {
    if (n <= 0) return 0;
    return method == 1 || (method < 0 && n > BPE_HEAP_MIN) ? merge_piece_heap(bpe, p, n, ids) : merge_piece_scan(bpe, p, n, ids);
}
#define merge_piece(bpe, p, n, ids) bpe_merge(bpe, p, n, ids, -1)

// per-thread cache of pieces already merged: the same words come back all the time
typedef struct { int offset, count; } Cached;
static _Thread_local struct { char *key; Cached value; } *cache = NULL;
static _Thread_local int *cache_ids = NULL; // stb_ds array holding every cached piece's ids

size_t bpe_encode(const BPE *bpe, const unsigned char *text, size_t len, uint16_t *out) {
    if (!cache) sh_new_strdup(cache);
    unsigned char *clean = malloc_check(3 * len + 1); // U+FFFD is 3 bytes for every invalid byte
    size_t n = utf8_sanitize(text, len, clean);
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(bpe->re, NULL);
    size_t start = 0, count = 0;
    int ids_buf[256];
    char key[257];
    while (start < n) {
        int rc = pcre2_match(bpe->re, clean, n, start, PCRE2_NO_UTF_CHECK, md, NULL);
        if (rc < 0) die("internal: GPT-2 pattern failed to match at byte %zu (PCRE2 %d)", start, rc);
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
        size_t a = ov[0], b = ov[1];
        if (b <= a) die("internal: empty GPT-2 piece at byte %zu", a);
        int plen = (int)(b - a);
        if (plen <= 256 && !memchr(clean + a, 0, plen)) { // cacheable: short and no NUL
            memcpy(key, clean + a, plen);
            key[plen] = 0;
            ptrdiff_t e = shgeti(cache, key);
            if (e < 0) {
                int k = merge_piece(bpe, clean + a, plen, ids_buf);
                Cached c = {(int)arrlen(cache_ids), k};
                for (int i = 0; i < k; i++) arrput(cache_ids, ids_buf[i]);
                shput(cache, key, c);
                e = shgeti(cache, key);
            }
            Cached c = cache[e].value;
            for (int i = 0; i < c.count; i++) out[count++] = (uint16_t)cache_ids[c.offset + i];
        } else {
            int *ids = malloc_check((size_t)plen * sizeof(int));
            int k = merge_piece(bpe, clean + a, plen, ids);
            for (int i = 0; i < k; i++) out[count++] = (uint16_t)ids[i];
            free(ids);
        }
        start = b;
    }
    pcre2_match_data_free(md);
    free(clean);
    return count;
}

void bpe_decode(const BPE *bpe, const int *ids, size_t n, FILE *f) {
    for (size_t i = 0; i < n; i++)
        if (ids[i] >= 0 && ids[i] < bpe->vocab_size) fwrite(bpe->bytes[ids[i]], 1, bpe->len[ids[i]], f);
}
