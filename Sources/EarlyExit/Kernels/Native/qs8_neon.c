// int8 implicit-GEMM tile kernel for AArch64 with the Armv8.2 dot product (sdot: signed bytes,
// so the input is the plain int8 copy and the bias folds only the zero point), and the NEON
// form of TFLite's requantization: vqrdmulh is gemmlowp's SaturatingRoundingDoublingHighMul,
// and a rounding shift after the negative-value fixup is its RoundingDivideByPOT (TFLite's own
// NEON idiom). The driver calls it only when the CPU reports the dot product (KernelSet).
#if defined(__aarch64__)
#include "earlyexit_native.h"
#include <arm_neon.h>


#define DOTPROD __attribute__((target("dotprod")))
#define INLINE static inline __attribute__((always_inline))
#define UNROLL _Pragma("clang loop unroll(full)")

INLINE const int8_t *row_pointer(const ee_qs8_tile *t, size_t r, size_t tap) {
    const size_t row = t->first_row + (r < t->row_count ? r : t->row_count - 1);
    if (!t->indirection) return (const int8_t *)(t->input + row * t->k);
    const int32_t offset = t->indirection[row * t->taps + tap];
    return offset < 0 ? (const int8_t *)t->zero_row : (const int8_t *)(t->input + (size_t)offset);
}

/// Four accumulators of columns c…c+3 requantized (double rounding), clamped, as int32.
INLINE int32x4_t requantize4(int32x4_t acc, const ee_requantization *q, size_t c) {
    const int32x4_t left = vld1q_s32(q->left_shifts + c);
    const int32x4_t right = vnegq_s32(vld1q_s32(q->right_shifts + c));
    int32x4_t x = vshlq_s32(acc, left);
    x = vqrdmulhq_s32(x, vld1q_s32(q->multipliers + c));
    const int32x4_t fixup = vshrq_n_s32(vandq_s32(x, right), 31);
    x = vrshlq_s32(vqaddq_s32(x, fixup), right);
    x = vminq_s32(vmaxq_s32(x, vdupq_n_s32(-1024)), vdupq_n_s32(1024));
    x = vaddq_s32(x, vdupq_n_s32(q->output_zero_point));
    return vminq_s32(vmaxq_s32(x, vdupq_n_s32(q->minimum)), vdupq_n_s32(q->maximum));
}

INLINE void store4(int32x4_t acc, const ee_qs8_tile *t, size_t row, size_t column) {
    const size_t left = t->column_count > column ? t->column_count - column : 0;
    if (left == 0) return;
    const size_t n = left < 4 ? left : 4;
    acc = vaddq_s32(acc, vld1q_s32(t->bias + column));
    int8_t *out = t->output + row * t->output_row_stride + column * t->output_column_stride;
    int32_t lanes[4];
    if (t->requantization.single_rounding) {
        vst1q_s32(lanes, acc);
        for (size_t i = 0; i < n; i++) out[i * t->output_column_stride] = ee_qs8_requantize_scalar(lanes[i], &t->requantization, column + i);
        return;
    }
    vst1q_s32(lanes, requantize4(acc, &t->requantization, column));
    for (size_t i = 0; i < n; i++) out[i * t->output_column_stride] = (int8_t)lanes[i];
}

/// R rows × V column vectors (4 channels each); k in steps of 16 bytes: per row one 16-byte
/// load, then for each of its four 4-byte groups, sdot by element against V weight vectors.
INLINE DOTPROD void tile_dot(const ee_qs8_tile *t, const int V, const int R) {
    int32x4_t acc[4][12];
    UNROLL for (int v = 0; v < V; v++) UNROLL for (int r = 0; r < R; r++) acc[v][r] = vdupq_n_s32(0);
    const int8_t *w = t->weights;
    for (size_t tap = 0; tap < t->taps; tap++) {
        const int8_t *p[12];
        UNROLL for (int r = 0; r < R; r++) p[r] = row_pointer(t, (size_t)r, tap);
        for (size_t g = 0; g < t->k; g += 16) {
            int8x16_t x[12];
            UNROLL for (int r = 0; r < R; r++) x[r] = vld1q_s8(p[r] + g);
            int8x16_t b[4];
#define EE_DOT_LANE(L)                                                                        \
            UNROLL for (int v = 0; v < V; v++) b[v] = vld1q_s8(w + 16 * (V * (L) + v));        \
            UNROLL for (int r = 0; r < R; r++)                                                 \
                UNROLL for (int v = 0; v < V; v++) acc[v][r] = vdotq_laneq_s32(acc[v][r], b[v], x[r], L);
            EE_DOT_LANE(0)
            EE_DOT_LANE(1)
            EE_DOT_LANE(2)
            EE_DOT_LANE(3)
#undef EE_DOT_LANE
            w += 64 * V;
        }
    }
    UNROLL for (int r = 0; r < R; r++) {
        if ((size_t)r < t->row_count) {
            UNROLL for (int v = 0; v < V; v++) store4(acc[v][r], t, (size_t)r, (size_t)v * 4);
        }
    }
}

DOTPROD void ee_qs8_tile_neondot(const ee_qs8_tile *t) {
    if (t->vectors >= 4) tile_dot(t, 4, 6);
    else if (t->vectors == 2) { if (t->row_tile == 6) tile_dot(t, 2, 6); else tile_dot(t, 2, 12); }
    else { if (t->row_tile == 6) tile_dot(t, 1, 6); else tile_dot(t, 1, 12); }
}

void ee_qs8_batch_norm_channels_last_neon(const int8_t *x, const int32_t *scale, const int32_t *offset,
                                          const ee_requantization *q, int8_t *y, size_t channels, size_t pixels) {
    for (size_t p = 0; p < pixels; p++) {
        const int8_t *in = x + p * channels;
        int8_t *out = y + p * channels;
        size_t c = 0;
        if (!q->single_rounding) {
            for (; c + 4 <= channels; c += 4) {
                int32_t four;
                __builtin_memcpy(&four, in + c, 4); // exactly the 4 channels' bytes
                const int32x4_t v = vmovl_s16(vget_low_s16(vmovl_s8(vreinterpret_s8_s32(vdup_n_s32(four)))));
                const int32x4_t acc = vmlaq_s32(vld1q_s32(offset + c), v, vld1q_s32(scale + c));
                int32_t lanes[4];
                vst1q_s32(lanes, requantize4(acc, q, c));
                for (int i = 0; i < 4; i++) out[c + i] = (int8_t)lanes[i];
            }
        }
        for (; c < channels; c++) {
            out[c] = ee_qs8_requantize_scalar((int32_t)((uint32_t)in[c] * (uint32_t)scale[c] + (uint32_t)offset[c]), q, c);
        }
    }
}
#endif
