/*
 * fuzz_common.h: what the libFuzzer harnesses share (make fuzz). An input is written to a regular file,
 * as the readers only take paths; an error line from a reader returns here through fuzz_escape (see
 * util/common.h), which counts as a handled input. Crashes, hangs, sanitizer reports and outputs left
 * behind are the findings.
 */
#include <setjmp.h>
#include <stdio.h>
#include <stdint.h>
#include <unistd.h>
#include <sys/types.h>

jmp_buf fuzz_escape;

// the input as a file of this process's own, rewritten for each input
static const char *fuzz_file(const uint8_t *data, size_t n, const char *suffix) {
    static char path[256];
    snprintf(path, sizeof(path), "/tmp/ssmax-fuzz-%d%s", (int)getpid(), suffix);
    FILE *f = fopen(path, "wb");
    if (!f) return NULL;
    if (n) fwrite(data, 1, n, f);
    fclose(f);
    return path;
}

#ifdef GPT_H
// the model a checkpoint-like file describes: read its config, build it, load it, evaluate a few tokens
// (an error returns through fuzz_escape; the model is freed on the next input)
static void fuzz_model(const char *path) {
    static GPT m;
    static int built = 0;
    if (setjmp(fuzz_escape) == 0) {
        if (built) { gpt_free(&m); built = 0; }
        GPTConfig c = checkpoint_read_config(path, NULL, NULL);
        gpt_build(&m, &c);
        built = 1;
        checkpoint_load(&m, path, NULL, 0);
        int T = c.max_seq_len < 8 ? c.max_seq_len : 8, tokens[8];
        for (int i = 0; i < T; i++) tokens[i] = i % c.vocab_size;
        float losses[8];
        EvalOutputs out = {.losses = losses};
        gpt_evaluate(&m, tokens, tokens, 1, T, &out);
    }
}
#endif
