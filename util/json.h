/*
 * json.h: a small JSON reader for the headers of model files (safetensors, config.json).
 *
 * json_parse builds a tree from text that may be hostile: nesting, string lengths and element counts
 * are capped, every byte is checked, and an error says where the text stopped making sense.
 * Numbers are doubles (integers are exact up to 2^53); strings are decoded, \u escapes included.
 */
#ifndef JSON_H
#define JSON_H
#include <stddef.h>

enum { JSON_NULL, JSON_BOOL, JSON_NUMBER, JSON_STRING, JSON_ARRAY, JSON_OBJECT };

typedef struct JsonValue {
    int type;
    double number;              // JSON_NUMBER, JSON_BOOL (0 or 1)
    char *string;               // JSON_STRING
    int count;                  // JSON_ARRAY, JSON_OBJECT: elements
    char **keys;                // JSON_OBJECT: keys[i] names items[i]
    struct JsonValue *items;
} JsonValue;

// 0 on success; else -1 with a one-line reason in err (the tree is then empty)
int json_parse(const char *text, size_t len, JsonValue *out, char *err, size_t errlen);
void json_free(JsonValue *v);
// the member key of an object, NULL if absent (or v is not an object)
const JsonValue *json_get(const JsonValue *v, const char *key);
// a member's value when it has the type, else the default
double json_number(const JsonValue *obj, const char *key, double otherwise);
const char *json_string(const JsonValue *obj, const char *key, const char *otherwise);

#endif
