// Peak throughput of the multiply-accumulate instructions the kernels use: each function runs
// `iterations` rounds of 12 independent accumulator chains (enough to cover the latency) and
// returns a value that depends on every result. MACs per round: 12 × lanes (× 4 for int8 dot
// products). Call only on a CPU that has the instructions.
#ifndef EARLYEXIT_PEAK_H
#define EARLYEXIT_PEAK_H
#include <stdint.h>
#ifdef __cplusplus
extern "C" {
#endif
float ee_peak_fma_zmm(int64_t iterations);      // vfmadd231ps zmm: 16 MACs each
float ee_peak_fma_ymm(int64_t iterations);      // vfmadd231ps ymm: 8
float ee_peak_mul_add_xmm(int64_t iterations);  // mulps + addps xmm (SSE2, no FMA): 4
int32_t ee_peak_vnni_zmm(int64_t iterations);   // vpdpbusd zmm: 64
int32_t ee_peak_vnni_ymm(int64_t iterations);   // vpdpbusd ymm (AVX-VNNI): 32
int32_t ee_peak_madd_ymm(int64_t iterations);   // vpmaddwd + vpaddd ymm: 16
float ee_peak_fmla_neon(int64_t iterations);    // fmla v.4s: 4
int32_t ee_peak_sdot_neon(int64_t iterations);  // sdot v.4s: 16
#ifdef __cplusplus
}
#endif
#endif
