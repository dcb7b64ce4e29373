/*
 * tier.c: which kernel tier this build was compiled for (make ISA=avx512|avx2|portable), and a check,
 * before main, that the CPU can execute it: a build for a wider instruction set than the CPU has
 * would otherwise die of an illegal instruction somewhere in the first kernel.
 */
#include <stdio.h>
#include <stdlib.h>
#include "tier.h"

const char *kernel_tier(void) { return KERNEL_TIER; }

const char *cpu_model_name(void) {
    static char name[128] = "";
    if (name[0]) return name;
    snprintf(name, sizeof(name), "unknown CPU");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f) return name;
    char line[512];
    while (fgets(line, sizeof(line), f)) {
        char *colon = strchr(line, ':');
        if (strncmp(line, "model name", 10) != 0 || !colon) continue;
        colon++;
        while (*colon == ' ' || *colon == '\t') colon++;
        colon[strcspn(colon, "\n")] = 0;
        snprintf(name, sizeof(name), "%s", colon);
        break;
    }
    fclose(f);
    return name;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
// compiled for the baseline x86-64, so the check itself runs on any CPU
__attribute__((constructor, target("arch=x86-64"))) static void tier_check(void) {
    __builtin_cpu_init();
    const char *missing = NULL;
#if defined(__AVX512F__)
    if (!__builtin_cpu_supports("avx512f")) missing = "AVX-512";
#endif
#if defined(__AVX2__) && defined(__FMA__)
    if (!missing && !(__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))) missing = "AVX2 and FMA";
#endif
    if (missing) {
        fprintf(stderr, "error: this build uses %s instructions (kernel tier %s), which this CPU does not have\n"
                "HINT: rebuild for this machine: make clean && make (or make ISA=avx2 / ISA=portable)\n", missing, KERNEL_TIER);
        exit(1);
    }
}
#endif
