/*
 * tier.h: the kernel tier of this build (make ISA=...), named from what the compiler was allowed to
 * emit: avx512 (512-bit vectors, 32 registers), avx2 (256-bit with FMA, 16 registers) or portable
 * (whatever the compiler vectorises plain loops into).
 */
#ifndef TIER_H
#define TIER_H

#include <string.h>

#if defined(__AVX512F__)
#define KERNEL_TIER "avx512"
#elif defined(__AVX2__) && defined(__FMA__)
#define KERNEL_TIER "avx2"
#else
#define KERNEL_TIER "portable"
#endif

const char *kernel_tier(void);
const char *cpu_model_name(void); // from /proc/cpuinfo, "unknown CPU" where it is not there

#endif
