/*
 * fuzz_safetensors.c: model.safetensors + config.json from arbitrary bytes. The first input byte picks
 * which of the two the rest of the input is (even: the safetensors file, odd: config.json); the other
 * is a valid file from build/fuzz/st (run.sh copies an export there). Then as a checkpoint: read the
 * config, build the model, load it, evaluate a few tokens.
 */
#include "../../util/common.h"
#include "../../model/gpt.h"
#include "../../model/checkpoint.h"
#include "fuzz_common.h"

static void copy_file(const char *from, const char *to) {
    FILE *a = fopen(from, "rb"), *b = fopen(to, "wb");
    char buf[1 << 16];
    size_t k;
    while (a && b && (k = fread(buf, 1, sizeof(buf), a)) > 0) fwrite(buf, 1, k, b);
    if (a) fclose(a);
    if (b) fclose(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n) {
    if (n < 1) return 0;
    static char dir[256], st[300], cfg[300];
    if (!dir[0]) {
        snprintf(dir, sizeof(dir), "/tmp/ssmax-fuzz-st-%d", (int)getpid());
        mkdir(dir, 0755);
        snprintf(st, sizeof(st), "%s/model.safetensors", dir);
        snprintf(cfg, sizeof(cfg), "%s/config.json", dir);
    }
    int config_input = data[0] & 1;
    copy_file(config_input ? "build/fuzz/st/model.safetensors" : "build/fuzz/st/config.json", config_input ? st : cfg);
    FILE *f = fopen(config_input ? cfg : st, "wb");
    if (!f) return 0;
    if (n > 1) fwrite(data + 1, 1, n - 1, f);
    fclose(f);
    fuzz_model(st);
    return 0;
}
