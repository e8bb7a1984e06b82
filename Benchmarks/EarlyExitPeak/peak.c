// Peak multiply-accumulate loops (see include/earlyexit_peak.h). Twelve named accumulators per
// loop; the asm barrier keeps the compiler from merging or hoisting the chains.
#include "earlyexit_peak.h"

#define TWELVE(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11)

#if defined(__x86_64__)
#include <immintrin.h>

#define LOOP(TYPE, INIT, STEP, FINISH)                                                  \
    TYPE b = INIT(B_VALUE), c = INIT(C_VALUE);                                          \
    _Pragma("clang diagnostic push")                                                    \
    TWELVE(DECLARE)                                                                     \
    for (int64_t i = 0; i < iterations; i++) {                                          \
        TWELVE(STEP)                                                                    \
        __asm__ volatile("" ::: "memory");                                              \
    }                                                                                   \
    _Pragma("clang diagnostic pop")                                                     \
    return FINISH;

// Multipliers that neither strength-reduce (×2 would become an add) nor overflow quickly.
#define B_VALUE 1.0001f
#define C_VALUE 0.9999f
__attribute__((target("avx512f"))) float ee_peak_fma_zmm(int64_t iterations) {
#define DECLARE(n) __m512 a##n = _mm512_set1_ps((float)(n) * 1e-3f);
#define STEP(n) a##n = _mm512_fmadd_ps(a##n, b, c);
    LOOP(__m512, _mm512_set1_ps, STEP, _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)), _mm512_add_ps(_mm512_add_ps(a4, a5), _mm512_add_ps(a6, a7))), _mm512_add_ps(_mm512_add_ps(a8, a9), _mm512_add_ps(a10, a11)))))
#undef DECLARE
#undef STEP
}

__attribute__((target("avx2,fma"))) float ee_peak_fma_ymm(int64_t iterations) {
#define DECLARE(n) __m256 a##n = _mm256_set1_ps((float)(n) * 1e-3f);
#define STEP(n) a##n = _mm256_fmadd_ps(a##n, b, c);
    LOOP(__m256, _mm256_set1_ps, STEP, _mm_cvtss_f32(_mm256_castps256_ps128(_mm256_add_ps(_mm256_add_ps(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)), _mm256_add_ps(_mm256_add_ps(a4, a5), _mm256_add_ps(a6, a7))), _mm256_add_ps(_mm256_add_ps(a8, a9), _mm256_add_ps(a10, a11))))))
#undef DECLARE
#undef STEP
}

float ee_peak_mul_add_xmm(int64_t iterations) {
#define DECLARE(n) __m128 a##n = _mm_set1_ps((float)(n) * 1e-3f);
#define STEP(n) a##n = _mm_add_ps(_mm_mul_ps(a##n, b), c);
    LOOP(__m128, _mm_set1_ps, STEP, _mm_cvtss_f32(_mm_add_ps(_mm_add_ps(_mm_add_ps(_mm_add_ps(a0, a1), _mm_add_ps(a2, a3)), _mm_add_ps(_mm_add_ps(a4, a5), _mm_add_ps(a6, a7))), _mm_add_ps(_mm_add_ps(a8, a9), _mm_add_ps(a10, a11)))))
#undef DECLARE
#undef STEP
}

#undef B_VALUE
#undef C_VALUE
#define B_VALUE 3
#define C_VALUE 5
__attribute__((target("avx512f,avx512vnni"))) int32_t ee_peak_vnni_zmm(int64_t iterations) {
#define DECLARE(n) __m512i a##n = _mm512_set1_epi32(n);
#define STEP(n) a##n = _mm512_dpbusd_epi32(a##n, b, c);
    LOOP(__m512i, _mm512_set1_epi8, STEP, _mm512_reduce_add_epi32(_mm512_add_epi32(_mm512_add_epi32(_mm512_add_epi32(_mm512_add_epi32(a0, a1), _mm512_add_epi32(a2, a3)), _mm512_add_epi32(_mm512_add_epi32(a4, a5), _mm512_add_epi32(a6, a7))), _mm512_add_epi32(_mm512_add_epi32(a8, a9), _mm512_add_epi32(a10, a11)))))
#undef DECLARE
#undef STEP
}

__attribute__((target("avx2,avxvnni"))) int32_t ee_peak_vnni_ymm(int64_t iterations) {
#define DECLARE(n) __m256i a##n = _mm256_set1_epi32(n);
#define STEP(n) a##n = _mm256_dpbusd_avx_epi32(a##n, b, c);
    LOOP(__m256i, _mm256_set1_epi8, STEP, _mm256_extract_epi32(_mm256_add_epi32(_mm256_add_epi32(_mm256_add_epi32(_mm256_add_epi32(a0, a1), _mm256_add_epi32(a2, a3)), _mm256_add_epi32(_mm256_add_epi32(a4, a5), _mm256_add_epi32(a6, a7))), _mm256_add_epi32(_mm256_add_epi32(a8, a9), _mm256_add_epi32(a10, a11))), 0))
#undef DECLARE
#undef STEP
}

__attribute__((target("avx2"))) int32_t ee_peak_madd_ymm(int64_t iterations) {
#define DECLARE(n) __m256i a##n = _mm256_set1_epi32(n);
    // Each chain multiplies its own accumulator (as int16 pairs), so no product is invariant.
#define STEP(n) a##n = _mm256_add_epi32(a##n, _mm256_madd_epi16(a##n, _mm256_xor_si256(c, b)));
    LOOP(__m256i, _mm256_set1_epi16, STEP, _mm256_extract_epi32(_mm256_add_epi32(_mm256_add_epi32(_mm256_add_epi32(_mm256_add_epi32(a0, a1), _mm256_add_epi32(a2, a3)), _mm256_add_epi32(_mm256_add_epi32(a4, a5), _mm256_add_epi32(a6, a7))), _mm256_add_epi32(_mm256_add_epi32(a8, a9), _mm256_add_epi32(a10, a11))), 0))
#undef DECLARE
#undef STEP
}

float ee_peak_fmla_neon(int64_t iterations) { (void)iterations; return 0; }
int32_t ee_peak_sdot_neon(int64_t iterations) { (void)iterations; return 0; }

#elif defined(__aarch64__)
#include <arm_neon.h>

float ee_peak_fma_zmm(int64_t iterations) { (void)iterations; return 0; }
float ee_peak_fma_ymm(int64_t iterations) { (void)iterations; return 0; }
float ee_peak_mul_add_xmm(int64_t iterations) { (void)iterations; return 0; }
int32_t ee_peak_vnni_zmm(int64_t iterations) { (void)iterations; return 0; }
int32_t ee_peak_vnni_ymm(int64_t iterations) { (void)iterations; return 0; }
int32_t ee_peak_madd_ymm(int64_t iterations) { (void)iterations; return 0; }

float ee_peak_fmla_neon(int64_t iterations) {
    float32x4_t b = vdupq_n_f32(1.0001f), c = vdupq_n_f32(0.9999f);
#define DECLARE(n) float32x4_t a##n = vdupq_n_f32((float)(n) * 1e-3f);
#define STEP(n) a##n = vfmaq_f32(a##n, b, c);
    TWELVE(DECLARE)
    for (int64_t i = 0; i < iterations; i++) { TWELVE(STEP) __asm__ volatile("" ::: "memory"); }
    return vgetq_lane_f32(vaddq_f32(vaddq_f32(vaddq_f32(vaddq_f32(a0, a1), vaddq_f32(a2, a3)), vaddq_f32(vaddq_f32(a4, a5), vaddq_f32(a6, a7))), vaddq_f32(vaddq_f32(a8, a9), vaddq_f32(a10, a11))), 0);
#undef DECLARE
#undef STEP
}

__attribute__((target("dotprod"))) int32_t ee_peak_sdot_neon(int64_t iterations) {
    int8x16_t b = vdupq_n_s8(2), c = vdupq_n_s8(1);
#define DECLARE(n) int32x4_t a##n = vdupq_n_s32(n);
#define STEP(n) a##n = vdotq_s32(a##n, b, c);
    TWELVE(DECLARE)
    for (int64_t i = 0; i < iterations; i++) { TWELVE(STEP) __asm__ volatile("" ::: "memory"); }
    return vgetq_lane_s32(vaddq_s32(vaddq_s32(vaddq_s32(vaddq_s32(a0, a1), vaddq_s32(a2, a3)), vaddq_s32(vaddq_s32(a4, a5), vaddq_s32(a6, a7))), vaddq_s32(vaddq_s32(a8, a9), vaddq_s32(a10, a11))), 0);
#undef DECLARE
#undef STEP
}
#else
float ee_peak_fma_zmm(int64_t iterations) { (void)iterations; return 0; }
float ee_peak_fma_ymm(int64_t iterations) { (void)iterations; return 0; }
float ee_peak_mul_add_xmm(int64_t iterations) { (void)iterations; return 0; }
int32_t ee_peak_vnni_zmm(int64_t iterations) { (void)iterations; return 0; }
int32_t ee_peak_vnni_ymm(int64_t iterations) { (void)iterations; return 0; }
int32_t ee_peak_madd_ymm(int64_t iterations) { (void)iterations; return 0; }
float ee_peak_fmla_neon(int64_t iterations) { (void)iterations; return 0; }
int32_t ee_peak_sdot_neon(int64_t iterations) { (void)iterations; return 0; }
#endif
