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
