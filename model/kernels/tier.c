/*
 * tier.c: which kernel tier this build was compiled for (make ISA=avx512|avx2|portable), and a check,
 * before main, that the CPU can execute it: a build for a wider instruction set than the CPU has
 * would otherwise die of an illegal instruction somewhere in the first kernel.
 */
#include <stdio.h>
#include <stdlib.h>
#include "tier.h"

const char *kernel_tier(void) { return KERNEL_TIER; }

// AMD's core generation from the family and model numbers (the model name of a cloud EPYC is often
// just "AMD EPYC"): Zen 3 and Zen 4 share family 25
static const char *amd_generation(int family, int model) {
    if (family == 23) return model >= 0x30 ? "Zen 2" : "Zen";
    if (family == 25) return model < 0x10 || (model >= 0x20 && model < 0x60) ? "Zen 3" : "Zen 4";
    if (family == 26) return "Zen 5";
    return NULL;
}

const char *cpu_model_name(void) {
    static char name[192] = "";
    if (name[0]) return name;
    char model_name[128] = "unknown CPU", vendor[32] = "", line[512];
    int family = -1, model = -1;
    FILE *f = fopen("/proc/cpuinfo", "r");
    while (f && fgets(line, sizeof(line), f)) {
        char *v = strchr(line, ':');
        if (!v) continue;
        v++;
        while (*v == ' ' || *v == '\t') v++;
        v[strcspn(v, "\n")] = 0;
        if (!strncmp(line, "model name", 10)) snprintf(model_name, sizeof(model_name), "%s", v);
        else if (!strncmp(line, "vendor_id", 9)) snprintf(vendor, sizeof(vendor), "%s", v);
        else if (!strncmp(line, "cpu family", 10)) family = atoi(v);
        else if (!strncmp(line, "model", 5) && (line[5] == ' ' || line[5] == '\t')) model = atoi(v);
        else if (line[0] == '\n' || !strncmp(line, "processor", 9)) { if (family >= 0 && model >= 0) break; }
    }
    if (f) fclose(f);
    const char *gen = !strcmp(vendor, "AuthenticAMD") ? amd_generation(family, model) : NULL;
    if (family >= 0 && model >= 0)
        snprintf(name, sizeof(name), "%s (family %d model %d%s%s)", model_name, family, model, gen ? ", " : "", gen ? gen : "");
    else
        snprintf(name, sizeof(name), "%s", model_name);
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
