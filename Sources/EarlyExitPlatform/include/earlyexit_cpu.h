// CPU feature detection and the kernel override: what the Swift core cannot ask the machine itself.
#ifndef EARLYEXIT_CPU_H
#define EARLYEXIT_CPU_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Feature bits returned by ee_cpu_features(). A bit is set only when the CPU has the
/// instructions AND the operating system saves the registers they use (XCR0 on x86-64).
#define EE_CPU_X86_SSE2 0x1u         // every x86-64
#define EE_CPU_X86_AVX2_FMA 0x2u      // AVX2 + FMA3 (+ OS YMM state)
#define EE_CPU_X86_AVX512 0x4u        // AVX-512 F, BW, DQ, VL (+ OS ZMM state)
#define EE_CPU_X86_AVX512_VNNI 0x8u   // AVX-512 VNNI (vpdpbusd on zmm)
#define EE_CPU_X86_AVX_VNNI 0x10u     // AVX-VNNI (VEX vpdpbusd on ymm)
#define EE_CPU_ARM_NEON 0x100u        // Advanced SIMD (every AArch64)
#define EE_CPU_ARM_DOTPROD 0x200u     // SDOT/UDOT (Armv8.2 dot product)

/// The features of the CPU this code runs on (queried once, then cached).
uint32_t ee_cpu_features(void);

/// The value of the environment variable EARLYEXIT_KERNELS, or NULL when it is unset or the
/// platform has no environment (bare metal).
const char *ee_cpu_kernel_override(void);

#ifdef __cplusplus
}
#endif

#endif
