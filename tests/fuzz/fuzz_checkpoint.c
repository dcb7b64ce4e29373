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
    fuzz_model(path);
    return 0;
}
