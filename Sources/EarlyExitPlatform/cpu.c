// CPU feature detection: cpuid and xgetbv on x86-64, the auxiliary vector on AArch64 Linux.
#include "earlyexit_cpu.h"

#if defined(__x86_64__) || defined(_M_X64)
#include <cpuid.h>

static uint64_t read_xcr0(void) {
    uint32_t low, high;
    __asm__ volatile("xgetbv" : "=a"(low), "=d"(high) : "c"(0));
    return ((uint64_t)high << 32) | low;
}

static uint32_t detect(void) {
    uint32_t features = EE_CPU_X86_SSE2;
    unsigned int a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return features;
    const int osxsave = (c >> 27) & 1, fma = (c >> 12) & 1, avx = (c >> 28) & 1;
    if (!osxsave || !avx) return features;
    const uint64_t xcr0 = read_xcr0();
    const int ymm_state = (xcr0 & 0x6) == 0x6;       // XMM and YMM saved by the OS
    const int zmm_state = (xcr0 & 0xE6) == 0xE6;     // and opmask, ZMM_Hi256, Hi16_ZMM
    if (__get_cpuid_max(0, 0) < 7) return features;
    __cpuid_count(7, 0, a, b, c, d);
    const int avx2 = (b >> 5) & 1;
    const int avx512f = (b >> 16) & 1, avx512dq = (b >> 17) & 1, avx512bw = (b >> 30) & 1, avx512vl = (b >> 31) & 1;
    const int avx512vnni = (c >> 11) & 1;
    if (ymm_state && avx2 && fma) features |= EE_CPU_X86_AVX2_FMA;
    if (zmm_state && (features & EE_CPU_X86_AVX2_FMA) && avx512f && avx512dq && avx512bw && avx512vl) {
        features |= EE_CPU_X86_AVX512;
        if (avx512vnni) features |= EE_CPU_X86_AVX512_VNNI;
    }
    unsigned int max_subleaf = a;
    if (max_subleaf >= 1) {
        __cpuid_count(7, 1, a, b, c, d);
        if (ymm_state && (features & EE_CPU_X86_AVX2_FMA) && ((a >> 4) & 1)) features |= EE_CPU_X86_AVX_VNNI;
    }
    return features;
}

#elif defined(__aarch64__)
#if defined(__linux__)
#include <sys/auxv.h>
#ifndef HWCAP_ASIMDDP
#define HWCAP_ASIMDDP (1UL << 20)
#endif
static uint32_t detect(void) {
    uint32_t features = EE_CPU_ARM_NEON;
    if (getauxval(AT_HWCAP) & HWCAP_ASIMDDP) features |= EE_CPU_ARM_DOTPROD;
    return features;
}
#else
static uint32_t detect(void) {
#if defined(__ARM_FEATURE_DOTPROD)
    return EE_CPU_ARM_NEON | EE_CPU_ARM_DOTPROD;
#else
    return EE_CPU_ARM_NEON;
#endif
}
#endif

#else
static uint32_t detect(void) { return 0; }
#endif

uint32_t ee_cpu_features(void) {
    // Racing threads compute the same value; the relaxed atomics only make the cache well defined.
    static uint32_t cached = 0;
    uint32_t value = __atomic_load_n(&cached, __ATOMIC_RELAXED);
    if (value == 0) {
        value = detect() | 0x80000000u;
        __atomic_store_n(&cached, value, __ATOMIC_RELAXED);
    }
    return value & 0x7FFFFFFFu;
}

#if defined(__linux__) || defined(__APPLE__)
#include <stdlib.h>
const char *ee_cpu_kernel_override(void) { return getenv("EARLYEXIT_KERNELS"); }
#else
const char *ee_cpu_kernel_override(void) { return 0; }
#endif
