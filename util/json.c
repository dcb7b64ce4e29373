/*
 * json.c: a recursive-descent JSON reader (see json.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include "json.h"

enum { MAX_DEPTH = 64, MAX_ELEMENTS = 1 << 22 };

typedef struct {
    const char *s;
    size_t n, i;
    char *err;
    size_t errlen;
    int failed;
} Parser;

static int fail(Parser *p, const char *what) {
    if (!p->failed) snprintf(p->err, p->errlen, "%s at byte %zu", what, p->i);
    p->failed = 1;
    return -1;
}

static void skip_space(Parser *p) {
    while (p->i < p->n && (p->s[p->i] == ' ' || p->s[p->i] == '\t' || p->s[p->i] == '\n' || p->s[p->i] == '\r')) p->i++;
}

static int literal(Parser *p, const char *word) {
    size_t k = strlen(word);
    if (p->n - p->i < k || memcmp(p->s + p->i, word, k)) return fail(p, "unexpected text");
    p->i += k;
    return 0;
}

static int hex4(Parser *p, unsigned *out) {
    if (p->n - p->i < 4) return fail(p, "short \\u escape");
    unsigned v = 0;
    for (int k = 0; k < 4; k++) {
        char c = p->s[p->i++];
        v <<= 4;
        if (c >= '0' && c <= '9') v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f') v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F') v |= (unsigned)(c - 'A' + 10);
        else return fail(p, "bad \\u escape");
    }
    *out = v;
    return 0;
}

static size_t put_utf8(char *o, unsigned cp) {
    if (cp < 0x80) { o[0] = (char)cp; return 1; }
    if (cp < 0x800) { o[0] = (char)(0xc0 | cp >> 6); o[1] = (char)(0x80 | (cp & 0x3f)); return 2; }
    if (cp < 0x10000) { o[0] = (char)(0xe0 | cp >> 12); o[1] = (char)(0x80 | (cp >> 6 & 0x3f)); o[2] = (char)(0x80 | (cp & 0x3f)); return 3; }
    o[0] = (char)(0xf0 | cp >> 18); o[1] = (char)(0x80 | (cp >> 12 & 0x3f));
    o[2] = (char)(0x80 | (cp >> 6 & 0x3f)); o[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

// a string at p->i (which is '"'); the decoded text is never longer than the encoded one
static int parse_string(Parser *p, char **out) {
    size_t start = ++p->i, end = start;
    while (end < p->n && p->s[end] != '"') end += p->s[end] == '\\' ? 2 : 1;
    if (end >= p->n) return fail(p, "unterminated string");
    char *o = malloc(end - start + 1);
    if (!o) return fail(p, "out of memory");
    size_t k = 0;
    while (p->i < end) {
        unsigned char c = (unsigned char)p->s[p->i++];
        if (c < 0x20) { free(o); return fail(p, "control character in a string"); }
        if (c != '\\') { o[k++] = (char)c; continue; }
        char e = p->s[p->i++];
        switch (e) {
        case '"': o[k++] = '"'; break;
        case '\\': o[k++] = '\\'; break;
        case '/': o[k++] = '/'; break;
        case 'b': o[k++] = '\b'; break;
        case 'f': o[k++] = '\f'; break;
        case 'n': o[k++] = '\n'; break;
        case 'r': o[k++] = '\r'; break;
        case 't': o[k++] = '\t'; break;
        case 'u': {
            unsigned cp;
            if (end - p->i < 4 || hex4(p, &cp)) { free(o); return fail(p, "bad \\u escape"); }
            if (cp >= 0xd800 && cp < 0xdc00 && end - p->i >= 6 && p->s[p->i] == '\\' && p->s[p->i + 1] == 'u') {
                unsigned lo;
                p->i += 2;
                if (hex4(p, &lo) || lo < 0xdc00 || lo > 0xdfff) { free(o); return fail(p, "bad surrogate pair"); }
                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
            }
            k += put_utf8(o + k, cp); // at most 4 bytes out of at least 6 in
            break;
        }
        default: free(o); return fail(p, "bad escape in a string");
        }
    }
    p->i = end + 1;
    o[k] = 0;
    *out = o;
    return 0;
}

static int parse_number(Parser *p, double *out) {
    size_t start = p->i;
    if (p->i < p->n && p->s[p->i] == '-') p->i++;
    if (p->i >= p->n || p->s[p->i] < '0' || p->s[p->i] > '9') return fail(p, "bad number");
    while (p->i < p->n && ((p->s[p->i] >= '0' && p->s[p->i] <= '9') || p->s[p->i] == '.' || p->s[p->i] == 'e' ||
                           p->s[p->i] == 'E' || p->s[p->i] == '+' || p->s[p->i] == '-'))
        p->i++;
    char buf[64];
    if (p->i - start >= sizeof(buf)) return fail(p, "number too long");
    memcpy(buf, p->s + start, p->i - start);
    buf[p->i - start] = 0;
    char *end;
    *out = strtod(buf, &end);
    if (*end) return fail(p, "bad number");
    return 0;
}

static int parse_value(Parser *p, JsonValue *v, int depth);

// the members of an array or object, grown by doubling
static int parse_container(Parser *p, JsonValue *v, int depth, int object) {
    char close = object ? '}' : ']';
    int cap = 0;
    v->type = object ? JSON_OBJECT : JSON_ARRAY;
    p->i++;
    skip_space(p);
    if (p->i < p->n && p->s[p->i] == close) { p->i++; return 0; }
    for (;;) {
        if (v->count == cap) {
            if (cap >= MAX_ELEMENTS) return fail(p, "too many elements");
            cap = cap ? 2 * cap : 8;
            JsonValue *items = realloc(v->items, (size_t)cap * sizeof(JsonValue));
            if (!items) return fail(p, "out of memory");
            v->items = items;
            if (object) {
                char **keys = realloc(v->keys, (size_t)cap * sizeof(char *));
                if (!keys) return fail(p, "out of memory");
                v->keys = keys;
            }
        }
        skip_space(p);
        if (object) {
            if (p->i >= p->n || p->s[p->i] != '"') return fail(p, "expected a key");
            if (parse_string(p, &v->keys[v->count])) return -1;
            skip_space(p);
            if (p->i >= p->n || p->s[p->i] != ':') { free(v->keys[v->count]); return fail(p, "expected ':'"); }
            p->i++;
        }
        memset(&v->items[v->count], 0, sizeof(JsonValue));
        int bad = parse_value(p, &v->items[v->count], depth + 1);
        v->count++; // counted either way, so json_free releases what was built
        if (bad) return -1;
        skip_space(p);
        if (p->i < p->n && p->s[p->i] == ',') { p->i++; continue; }
        if (p->i < p->n && p->s[p->i] == close) { p->i++; return 0; }
        return fail(p, object ? "expected ',' or '}'" : "expected ',' or ']'");
    }
}

static int parse_value(Parser *p, JsonValue *v, int depth) {
    if (depth > MAX_DEPTH) return fail(p, "nested too deep");
    skip_space(p);
    if (p->i >= p->n) return fail(p, "unexpected end");
    char c = p->s[p->i];
    if (c == '{' || c == '[') return parse_container(p, v, depth, c == '{');
    if (c == '"') { v->type = JSON_STRING; return parse_string(p, &v->string); }
    if (c == 't') { v->type = JSON_BOOL; v->number = 1; return literal(p, "true"); }
    if (c == 'f') { v->type = JSON_BOOL; v->number = 0; return literal(p, "false"); }
    if (c == 'n') { v->type = JSON_NULL; return literal(p, "null"); }
    v->type = JSON_NUMBER;
    return parse_number(p, &v->number);
}

int json_parse(const char *text, size_t len, JsonValue *out, char *err, size_t errlen) {
    Parser p = {text, len, 0, err, errlen, 0};
    memset(out, 0, sizeof(*out));
    if (parse_value(&p, out, 0) == 0) {
        skip_space(&p);
        if (p.i == p.n || (p.i < p.n && p.s[p.i] == 0)) return 0;
        fail(&p, "text after the value");
    }
    json_free(out);
    return -1;
}

void json_free(JsonValue *v) {
    if (v->type == JSON_STRING) free(v->string);
    for (int i = 0; i < v->count; i++) {
        json_free(&v->items[i]);
        if (v->keys) free(v->keys[i]);
    }
    free(v->items);
    free(v->keys);
    memset(v, 0, sizeof(*v));
}

const JsonValue *json_get(const JsonValue *v, const char *key) {
    if (!v || v->type != JSON_OBJECT) return NULL;
    for (int i = 0; i < v->count; i++) if (!strcmp(v->keys[i], key)) return &v->items[i];
    return NULL;
}

double json_number(const JsonValue *obj, const char *key, double otherwise) {
    const JsonValue *v = json_get(obj, key);
    return v && (v->type == JSON_NUMBER || v->type == JSON_BOOL) ? v->number : otherwise;
}

const char *json_string(const JsonValue *obj, const char *key, const char *otherwise) {
    const JsonValue *v = json_get(obj, key);
    return v && v->type == JSON_STRING ? v->string : otherwise;
}
