/*
 * fuzz_checkpoint.c: checkpoints and llm.c model files from arbitrary bytes: read the header, build the
 * model it describes, load it, and evaluate a few tokens (every size product checked before allocation).
 */
#include "../../util/common.h"
#include "../../model/gpt.h"
#include "../../model/checkpoint.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n) {
    const char *path = fuzz_file(data, n, ".bin");
    if (!path) return 0;
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
    return 0;
}
