/*
 * fuzz_shard.c: token shards from arbitrary bytes: open, check against a vocabulary, draw batches.
 */
#include "../../util/common.h"
#include "../../data/dataloader.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n) {
    const char *path = fuzz_file(data, n, ".bin");
    if (!path) return 0;
    static DataLoader dl;
    static int open_ = 0;
    if (setjmp(fuzz_escape) == 0) {
        if (open_) { dataloader_free(&dl); open_ = 0; }
        dataloader_init(&dl, path, 2, 4, 1, 1);
        open_ = 1;
        dataloader_check_vocab(&dl, 257, 1);
        for (int i = 0; i < 3; i++) dataloader_next_batch(&dl);
    }
    return 0;
}
