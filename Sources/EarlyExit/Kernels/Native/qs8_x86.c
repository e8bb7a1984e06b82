// int8 implicit-GEMM tile kernels for x86-64: AVX-512 VNNI (vpdpbusd on zmm), AVX-VNNI
// (vpdpbusd on ymm) and AVX2 (vpmaddwd on ymm), each with the vectorized TFLite
// requantization in its epilogue. Compiled for baseline x86-64; each function carries its own
// target attribute, and the Swift driver calls one only when KernelSet found the instructions.
#if defined(__x86_64__)
#include "earlyexit_native.h"
#include <immintrin.h>
#include <string.h>

#define AVX512_VNNI __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni")))
#define AVX_VNNI __attribute__((target("avx2,fma,avxvnni")))
#define AVX2_ONLY __attribute__((target("avx2,fma")))
#define INLINE static inline __attribute__((always_inline))
// Every loop over tile rows and column vectors has a constant trip count after inlining;
// unrolling them fully lets the compiler keep each accumulator in its own register (without it,
// clang kept the accumulator array in memory and stored every vector on every step: 3× slower).
#define UNROLL _Pragma("clang loop unroll(full)")

static inline int32_t load32(const void *p) { int32_t v; memcpy(&v, p, 4); return v; }

/// Stores 16 bytes narrowed from 16 int32 lanes. The narrowing stays in a register: clang would
/// otherwise fold it into vpmovdb with a memory destination, which AMD cores run several times
/// slower than vpmovdb to a register and a store (measured: the int8 add 5.0 -> 2.x µs).
INLINE __attribute__((target("avx512f"))) void store_narrowed16(void *p, __m512i lanes) {
    __m128i bytes = _mm512_cvtepi32_epi8(lanes);
    __asm__("" : "+x"(bytes));
    _mm_storeu_si128((__m128i *)p, bytes);
}

/// The input row of tile row r for tap t (rows past row_count repeat the last one).
INLINE const uint8_t *row_pointer(const ee_qs8_tile *t, size_t r, size_t tap) {
    const size_t row = t->first_row + (r < t->row_count ? r : t->row_count - 1);
    if (!t->indirection) return t->input + row * t->k * t->element_bytes;
    const int32_t offset = t->indirection[row * t->taps + tap];
    return offset < 0 ? (const uint8_t *)t->zero_row : t->input + (size_t)offset * t->element_bytes;
}

// MARK: AVX-512

/// The parameters of 16 lanes' double-rounding rescale, with what derives from them: a tile
/// prepares them once per column vector, the element-wise kernels once per call.
typedef struct { __m512i multiplier, odd_multiplier, left, right, mask, half_mask; } requantization16;

INLINE AVX512_VNNI requantization16 requantization16_make(__m512i multiplier, __m512i left, __m512i right) {
    requantization16 p;
    p.multiplier = multiplier;
    p.odd_multiplier = _mm512_srli_epi64(multiplier, 32);
    p.left = left;
    p.right = right;
    const __m512i ones = _mm512_set1_epi32(1);
    p.mask = _mm512_sub_epi32(_mm512_sllv_epi32(ones, right), ones);
    p.half_mask = _mm512_srli_epi32(p.mask, 1);
    return p;
}

/// The parameters of columns c…c+15.
INLINE AVX512_VNNI requantization16 requantization16_load(const ee_requantization *q, size_t c) {
    return requantization16_make(_mm512_loadu_si512(q->multipliers + c), _mm512_loadu_si512(q->left_shifts + c),
                                 _mm512_loadu_si512(q->right_shifts + c));
}

/// gemmlowp's RoundingDivideByPOT of 16 lanes (exponents 0…31), masks prepared.
INLINE AVX512_VNNI __m512i divide_by_pot16p(__m512i high, const requantization16 *p) {
    const __m512i remainder = _mm512_and_si512(high, p->mask);
    const __m512i threshold = _mm512_sub_epi32(p->half_mask, _mm512_srai_epi32(high, 31));
    const __m512i shifted = _mm512_srav_epi32(high, p->right);
    return _mm512_mask_add_epi32(shifted, _mm512_cmpgt_epi32_mask(remainder, threshold), shifted, _mm512_set1_epi32(1));
}

/// gemmlowp's RoundingDivideByPOT of 16 lanes (exponents 0…31).
INLINE AVX512_VNNI __m512i divide_by_pot16(__m512i high, __m512i right) {
    const requantization16 p = requantization16_make(_mm512_setzero_si512(), _mm512_setzero_si512(), right);
    return divide_by_pot16p(high, &p);
}

/// TFLite's MultiplyByQuantizedMultiplier (double rounding, see requantize.c) of 16 lanes,
/// without the zero point: 64-bit products with vpmuldq, parameters prepared.
INLINE AVX512_VNNI __m512i rescale16p(__m512i acc, const requantization16 *p) {
    const __m512i x = _mm512_sllv_epi32(acc, p->left);
    const __m512i nudge = _mm512_set1_epi64(INT64_C(1) << 30);
    // Even lanes: bits 31…62 of a·m + 2^30 in the low dword; odd lanes: in the high dword.
    const __m512i even = _mm512_srli_epi64(_mm512_add_epi64(_mm512_mul_epi32(x, p->multiplier), nudge), 31);
    const __m512i odd = _mm512_slli_epi64(_mm512_add_epi64(_mm512_mul_epi32(_mm512_srli_epi64(x, 32), p->odd_multiplier), nudge), 1);
    // (The saturating case a == m == INT32_MIN cannot occur: multipliers are ≥ 0.)
    const __m512i high = _mm512_mask_blend_epi32(0xAAAA, even, odd);
    return divide_by_pot16p(high, p);
}

/// `rescale16p` with the parameters as vectors.
INLINE AVX512_VNNI __m512i rescale16v(__m512i acc, __m512i multiplier, __m512i left, __m512i right) {
    const requantization16 p = requantization16_make(multiplier, left, right);
    return rescale16p(acc, &p);
}

INLINE AVX512_VNNI __m512i requantize16v(__m512i acc, __m512i multiplier, __m512i left, __m512i right, int32_t zero_point,
                                          int32_t minimum, int32_t maximum) {
    __m512i scaled = rescale16v(acc, multiplier, left, right);
    // Clamping to ±1024 first cannot change the final clamp (zero points are in −128…127).
    scaled = _mm512_min_epi32(_mm512_max_epi32(scaled, _mm512_set1_epi32(-1024)), _mm512_set1_epi32(1024));
    scaled = _mm512_add_epi32(scaled, _mm512_set1_epi32(zero_point));
    return _mm512_min_epi32(_mm512_max_epi32(scaled, _mm512_set1_epi32(minimum)), _mm512_set1_epi32(maximum));
}

/// `requantize16v` with the per-column parameters of columns c…c+15.
INLINE AVX512_VNNI __m512i requantize16(__m512i acc, const ee_requantization *q, size_t c) {
    return requantize16v(acc, _mm512_loadu_si512(q->multipliers + c), _mm512_loadu_si512(q->left_shifts + c),
                         _mm512_loadu_si512(q->right_shifts + c), q->output_zero_point, q->minimum, q->maximum);
}

/// Requantizes and stores one row's column vector: 16 int8 (or the first `n`).
INLINE AVX512_VNNI void store16(__m512i acc, const ee_qs8_tile *t, size_t row, size_t column) {
    const size_t left = t->column_count > column ? t->column_count - column : 0;
    if (left == 0) return;
    const size_t n = left < 16 ? left : 16;
    acc = _mm512_add_epi32(acc, _mm512_loadu_si512(t->bias + column));
    int8_t *out = t->output + row * t->output_row_stride + column * t->output_column_stride;
    if (t->requantization.single_rounding) {
        int32_t lanes[16];
        _mm512_storeu_si512(lanes, acc);
        for (size_t i = 0; i < n; i++) out[i * t->output_column_stride] = ee_qs8_requantize_scalar(lanes[i], &t->requantization, column + i);
        return;
    }
    const __m128i bytes = _mm512_cvtepi32_epi8(requantize16(acc, &t->requantization, column));
    if (t->output_column_stride == 1) {
        _mm_mask_storeu_epi8(out, (__mmask16)(n == 16 ? 0xFFFF : ((1u << n) - 1u)), bytes);
    } else {
        int8_t lanes[16];
        _mm_storeu_si128((__m128i *)lanes, bytes);
        for (size_t i = 0; i < n; i++) out[i * t->output_column_stride] = lanes[i];
    }
}

/// `requantize16` with prepared parameters.
INLINE AVX512_VNNI __m512i requantize16p(__m512i acc, const requantization16 *p, int32_t zero_point, int32_t minimum, int32_t maximum) {
    const __m512i scaled = rescale16p(acc, p);
    // clamp(scaled + zp, minimum, maximum) = clamp(scaled, minimum − zp, maximum − zp) + zp, without overflow.
    const __m512i clamped = _mm512_min_epi32(_mm512_max_epi32(scaled, _mm512_set1_epi32(minimum - zero_point)),
                                             _mm512_set1_epi32(maximum - zero_point));
    return _mm512_add_epi32(clamped, _mm512_set1_epi32(zero_point));
}

INLINE AVX512_VNNI void tile512(const ee_qs8_tile *t, const int V, const int R) {
    __m512i acc[4][12];
    UNROLL for (int v = 0; v < V; v++) UNROLL for (int r = 0; r < R; r++) acc[v][r] = _mm512_setzero_si512();
    const int8_t *w = t->weights;
    for (size_t tap = 0; tap < t->taps; tap++) {
        const uint8_t *p[12];
        UNROLL for (int r = 0; r < R; r++) p[r] = row_pointer(t, (size_t)r, tap);
        for (size_t g = 0; g < t->k; g += 4) {
            __m512i b[4];
            UNROLL for (int v = 0; v < V; v++) b[v] = _mm512_loadu_si512(w + 64 * v);
            UNROLL for (int r = 0; r < R; r++) {
                const __m512i a = _mm512_set1_epi32(load32(p[r] + g));
                UNROLL for (int v = 0; v < V; v++) acc[v][r] = _mm512_dpbusd_epi32(acc[v][r], a, b[v]);
            }
            w += 64 * V;
        }
    }
    if (t->requantization.single_rounding || t->output_column_stride != 1) {
        UNROLL for (int r = 0; r < R; r++) {
            if ((size_t)r < t->row_count) {
                UNROLL for (int v = 0; v < V; v++) store16(acc[v][r], t, (size_t)r, (size_t)v * 16);
            }
        }
        return;
    }
    // Channels-last, double rounding: each column vector's parameters once for all rows.
    const ee_requantization *q = &t->requantization;
    UNROLL for (int v = 0; v < V; v++) {
        const size_t column = (size_t)v * 16;
        if (t->column_count <= column) break;
        const size_t n = t->column_count - column < 16 ? t->column_count - column : 16;
        const __mmask16 mask = (__mmask16)(n == 16 ? 0xFFFF : ((1u << n) - 1u));
        const requantization16 p = requantization16_load(q, column);
        const __m512i bias = _mm512_loadu_si512(t->bias + column);
        int8_t *out = t->output + column;
        UNROLL for (int r = 0; r < R; r++) {
            if ((size_t)r < t->row_count) {
                const __m512i y = requantize16p(_mm512_add_epi32(acc[v][r], bias), &p, q->output_zero_point, q->minimum, q->maximum);
                __m128i bytes = _mm512_cvtepi32_epi8(y);
                __asm__("" : "+x"(bytes)); // vpmovdb to a register (see store_narrowed16)
                _mm_mask_storeu_epi8(out + (size_t)r * t->output_row_stride, mask, bytes);
            }
        }
    }
}

AVX512_VNNI void ee_qs8_tile_avx512vnni(const ee_qs8_tile *t) {
    if (t->vectors >= 4) {
        // A last tile of fewer rows runs only those (a 7×7 map is 8 tiles of 6 and one of 1).
        switch (t->row_count) {
        case 1: tile512(t, 4, 1); break;
        case 2: tile512(t, 4, 2); break;
        case 3: tile512(t, 4, 3); break;
        case 4: tile512(t, 4, 4); break;
        case 5: tile512(t, 4, 5); break;
        default: tile512(t, 4, 6); break;
        }
    }
    else if (t->vectors == 2) { if (t->row_tile == 6) tile512(t, 2, 6); else tile512(t, 2, 12); }
    else { if (t->row_tile == 6) tile512(t, 1, 6); else tile512(t, 1, 12); }
}

AVX512_VNNI void ee_qs8_requantize_avx512(const int32_t *accumulators, size_t count, const ee_requantization *q, int8_t *output) {
    size_t c = 0;
    if (!q->single_rounding) {
        for (; c + 16 <= count; c += 16) {
            store_narrowed16(output + c, requantize16(_mm512_loadu_si512(accumulators + c), q, c));
        }
    }
    for (; c < count; c++) output[c] = ee_qs8_requantize_scalar(accumulators[c], q, c);
}

// MARK: AVX-512 pixel lanes (few output channels)

/// One output channel's 16 pixels requantized (double rounding) with the channel's scalar
/// parameters, clamped to ±1024 and offset by the zero point: int32 lanes for a saturating narrow.
INLINE AVX512_VNNI __m512i pixel_rescale16(__m512i acc, const ee_requantization *q, size_t c) {
    const __m512i scaled = rescale16v(acc, _mm512_set1_epi32(q->multipliers[c]), _mm512_set1_epi32(q->left_shifts[c]),
                                      _mm512_set1_epi32(q->right_shifts[c]));
    const __m512i clamped = _mm512_min_epi32(_mm512_max_epi32(scaled, _mm512_set1_epi32(-1024)), _mm512_set1_epi32(1024));
    return _mm512_add_epi32(clamped, _mm512_set1_epi32(q->output_zero_point));
}

/// Stores `n` pixels (≤ 16) of NC accumulators (bias included), single rounding: scalar.
INLINE AVX512_VNNI void pixel_store_scalar(const ee_qs8_pixel_conv *t, __m512i *acc, const int NC, size_t pixel, size_t n) {
    const size_t pixels = t->out_height * t->out_width;
    UNROLL for (int c = 0; c < NC; c++) {
        if ((size_t)c >= t->channels) break;
        int32_t lanes[16];
        _mm512_storeu_si512(lanes, acc[c]);
        for (size_t i = 0; i < n; i++) {
            const int8_t v = ee_qs8_requantize_scalar(lanes[i], &t->requantization, (size_t)c);
            if (t->channels_last) t->output[(pixel + i) * 16 + (size_t)c] = v; else t->output[(size_t)c * pixels + pixel + i] = v;
        }
    }
}

INLINE AVX512_VNNI void pixel_conv512(const ee_qs8_pixel_conv *t, const int NC) {
    const ee_requantization *q = &t->requantization;
    const size_t pixels = t->out_height * t->out_width;
    const size_t group_bytes = t->plane_pixels * 4;
    const __m512i minimum = _mm512_set1_epi8((char)q->minimum), maximum = _mm512_set1_epi8((char)q->maximum);
    for (size_t oy = 0; oy < t->out_height; oy++) {
        for (size_t ox = 0; ox < t->out_width; ox += 16) {
            const size_t n = t->out_width - ox < 16 ? t->out_width - ox : 16;
            const size_t pixel = oy * t->out_width + ox;
            __m512i acc[16];
            UNROLL for (int c = 0; c < NC; c++) acc[c] = _mm512_set1_epi32(t->bias[c]);
            const int32_t *w = t->weights;
            for (size_t ky = 0; ky < t->kernel_height; ky++) {
                for (size_t kx = 0; kx < t->kernel_width; kx++) {
                    const uint8_t *p = t->planes + ((oy + ky) * t->plane_width + ox + kx) * 4;
                    for (size_t g = 0; g < t->groups; g++) {
                        const __m512i x = _mm512_loadu_si512(p + g * group_bytes);
                        UNROLL for (int c = 0; c < NC; c++) acc[c] = _mm512_dpbusd_epi32(acc[c], x, _mm512_set1_epi32(w[c]));
                        w += NC;
                    }
                }
            }
            if (q->single_rounding) { pixel_store_scalar(t, acc, NC, pixel, n); continue; }
            if (t->channels_last && NC == 16) {
                // Narrow 16 channels × 16 pixels to bytes: after the packs, b[j]'s 128-bit lane L
                // holds channels 4j…4j+3 (4 bytes each) of pixels 4L…4L+3.
                __m512i r[16], h[8], b[4];
                UNROLL for (int c = 0; c < 16; c++) r[c] = pixel_rescale16(acc[c], q, (size_t)c);
                UNROLL for (int i = 0; i < 8; i++) h[i] = _mm512_packs_epi32(r[2 * i], r[2 * i + 1]);
                UNROLL for (int j = 0; j < 4; j++) {
                    b[j] = _mm512_packs_epi16(h[2 * j], h[2 * j + 1]);
                    b[j] = _mm512_min_epi8(_mm512_max_epi8(b[j], minimum), maximum);
                }
                // Lane L of every b[j] into o[L] (a 4×4 transpose of 128-bit lanes), then each
                // 64-byte block (4 pixels) from [channel group][channel][pixel] to [pixel][channel].
                const __m512i t0 = _mm512_shuffle_i32x4(b[0], b[1], 0x44), t1 = _mm512_shuffle_i32x4(b[2], b[3], 0x44);
                const __m512i t2 = _mm512_shuffle_i32x4(b[0], b[1], 0xEE), t3 = _mm512_shuffle_i32x4(b[2], b[3], 0xEE);
                __m512i o[4] = {_mm512_shuffle_i32x4(t0, t1, 0x88), _mm512_shuffle_i32x4(t0, t1, 0xDD),
                                _mm512_shuffle_i32x4(t2, t3, 0x88), _mm512_shuffle_i32x4(t2, t3, 0xDD)};
                // Within each 128-bit lane j, bytes from [channel c'][pixel p] to [p][c'] (vpshufb),
                // then dword 4j + p to 4p + j (vpermd): out byte 16p + 4j + c' = in byte 16j + 4c' + p.
                const __m512i in_lane = _mm512_broadcast_i32x4(_mm_setr_epi8(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15));
                const __m512i across = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
                int8_t *out = t->output + pixel * 16;
                UNROLL for (int m = 0; m < 4; m++) {
                    const __m512i v = _mm512_permutexvar_epi32(across, _mm512_shuffle_epi8(o[m], in_lane));
                    const size_t first = (size_t)m * 4;
                    if (n >= first + 4) _mm512_storeu_si512(out + first * 16, v);
                    else if (n > first) _mm512_mask_storeu_epi8(out + first * 16, (__mmask64)((UINT64_C(1) << ((n - first) * 16)) - 1), v);
                }
            } else {
                const __mmask16 mask = (__mmask16)((1u << n) - 1u);
                UNROLL for (int c = 0; c < NC; c++) {
                    if ((size_t)c >= t->channels) break;
                    __m128i v = _mm512_cvtsepi32_epi8(pixel_rescale16(acc[c], q, (size_t)c));
                    v = _mm_min_epi8(_mm_max_epi8(v, _mm512_castsi512_si128(minimum)), _mm512_castsi512_si128(maximum));
                    _mm_mask_storeu_epi8(t->output + (size_t)c * pixels + pixel, mask, v);
                }
            }
        }
    }
}

AVX512_VNNI void ee_qs8_pixel_conv_avx512vnni(const ee_qs8_pixel_conv *t) {
    if (t->channels > 8) pixel_conv512(t, 16);
    else if (t->channels > 4) pixel_conv512(t, 8);
    else if (t->channels > 2) pixel_conv512(t, 4);
    else pixel_conv512(t, 2);
}

AVX512_VNNI void ee_qs8_convert_planes_u8_avx512(const int8_t *x, size_t height, size_t width, size_t channels, int channels_last,
                                                 size_t pad_top, size_t pad_left, size_t plane_height, size_t plane_width,
                                                 size_t plane_pixels, int8_t zero_point, uint8_t *planes) {
    const size_t groups = (channels + 3) / 4;
    const uint32_t padding = 0x01010101u * (uint8_t)((uint8_t)zero_point ^ 0x80u);
    // The border rows, border columns and slack: the zero point.
    const __m512i fill = _mm512_set1_epi32((int32_t)padding);
    for (size_t g = 0; g < groups; g++) {
        uint32_t *plane = (uint32_t *)(void *)(planes + g * plane_pixels * 4);
        const size_t top = pad_top * plane_width, bottom = (pad_top + height) * plane_width;
        size_t i = 0;
        for (; i + 16 <= top; i += 16) _mm512_storeu_si512(plane + i, fill);
        for (; i < top; i++) plane[i] = padding;
        for (i = bottom; i + 16 <= plane_pixels; i += 16) _mm512_storeu_si512(plane + i, fill);
        for (; i < plane_pixels; i++) plane[i] = padding;
        const size_t right = plane_width - pad_left - width;
        for (size_t y = 0; y < height; y++) {
            uint32_t *row = plane + (pad_top + y) * plane_width;
            for (size_t x0 = 0; x0 < pad_left; x0++) row[x0] = padding;
            for (size_t x0 = 0; x0 < right; x0++) row[pad_left + width + x0] = padding;
        }
    }
    if (channels_last && channels % 16 == 0) {
        // Per 16 channels (4 groups) and 16 pixels: 4 zmm of 4 pixels × 4 groups to 4 groups × 16 pixels.
        const __m512i flip = _mm512_set1_epi8((char)0x80);
        // Group g of pixel p sits at dword 16·(p / 4) + 4·(p % 4) + g of the 4 loaded vectors.
        __m512i low[4], high[4];
        for (int g = 0; g < 4; g++) {
            int32_t l[16], h[16];
            for (int p = 0; p < 16; p++) {
                l[p] = (p < 8) ? 4 * p + g : 0;                 // from the first two vectors (32 dwords)
                h[p] = (p >= 8) ? 4 * (p - 8) + g : 0;          // from the last two
            }
            low[g] = _mm512_loadu_si512(l);
            high[g] = _mm512_loadu_si512(h);
        }
        for (size_t y = 0; y < height; y++) {
            for (size_t x0 = 0; x0 < width; x0 += 16) {
                const size_t n = width - x0 < 16 ? width - x0 : 16;
                const __mmask16 store = (__mmask16)((1u << n) - 1u);
                for (size_t chunk = 0; chunk < channels / 16; chunk++) {
                    const int8_t *first_pixel = x + ((y * width + x0) * channels + chunk * 16);
                    __m512i v[4];
                    for (int i = 0; i < 4; i++) {
                        const size_t first = (size_t)i * 4;
                        const size_t count = n > first ? (n - first < 4 ? n - first : 4) : 0;
                        if (channels == 16) {
                            const __mmask64 mask = count == 4 ? ~(__mmask64)0 : (__mmask64)((UINT64_C(1) << (count * 16)) - 1);
                            v[i] = _mm512_maskz_loadu_epi8(mask, first_pixel + first * 16);
                        } else {
                            v[i] = _mm512_setzero_si512();
                            for (size_t e = 0; e < count; e++) {
                                const __m128i piece = _mm_loadu_si128((const __m128i *)(const void *)(first_pixel + (first + e) * channels));
                                v[i] = _mm512_mask_broadcast_i32x4(v[i], (__mmask16)(0xFu << (4 * e)), piece);
                            }
                        }
                        v[i] = _mm512_xor_si512(v[i], flip);
                    }
                    for (int g = 0; g < 4; g++) {
                        const __m512i a = _mm512_permutex2var_epi32(v[0], low[g], v[1]);
                        const __m512i b = _mm512_permutex2var_epi32(v[2], high[g], v[3]);
                        const __m512i out = _mm512_mask_blend_epi32(0xFF00, a, b);
                        _mm512_mask_storeu_epi32(planes + ((chunk * 4 + (size_t)g) * plane_pixels + (y + pad_top) * plane_width + pad_left + x0) * 4,
                                                 store, out);
                    }
                }
            }
        }
        return;
    }
    for (size_t g = 0; g < groups; g++) {
        uint8_t *plane = planes + g * plane_pixels * 4;
        for (size_t y = 0; y < height; y++) {
            for (size_t x0 = 0; x0 < width; x0++) {
                uint8_t *out = plane + ((y + pad_top) * plane_width + pad_left + x0) * 4;
                for (size_t e = 0; e < 4; e++) {
                    const size_t c = g * 4 + e;
                    if (c >= channels) { out[e] = 0x80u; continue; }
                    const int8_t value = channels_last ? x[(y * width + x0) * channels + c] : x[(c * height + y) * width + x0];
                    out[e] = (uint8_t)value ^ 0x80u;
                }
            }
        }
    }
}

AVX512_VNNI void ee_qs8_tap_planes_u8_avx512(const int8_t *x, const ee_qs8_plane_geometry *g, int8_t zero_point, size_t plane_pixels,
                                             uint8_t *plane, uint8_t *planes) {
    ee_qs8_padded_plane_u8(x, g, zero_point, 0, plane);
    const size_t pw = g->plane_width;
    const size_t taps = g->kernel_height * g->kernel_width, groups = (taps + 3) / 4;
    const size_t pixels = g->out_height * g->out_width;
    for (size_t group = 0; group < groups; group++) {
        uint32_t *out = (uint32_t *)(void *)(planes + group * plane_pixels * 4);
        for (size_t oy = 0; oy < g->out_height; oy++) {
            for (size_t ox = 0; ox < g->out_width; ox += 16) {
                const size_t n = g->out_width - ox < 16 ? g->out_width - ox : 16;
                const __mmask16 mask = (__mmask16)((1u << n) - 1u);
                __m512i v = _mm512_setzero_si512();
                for (size_t e = 0; e < 4; e++) {
                    const size_t tap = group * 4 + e;
                    __m512i bytes = _mm512_set1_epi32(0x80);
                    if (tap < taps) {
                        const uint8_t *run = plane + (oy + tap / g->kernel_width) * pw + ox + tap % g->kernel_width;
                        bytes = _mm512_cvtepu8_epi32(_mm_maskz_loadu_epi8(mask, run));
                    }
                    v = _mm512_or_si512(v, _mm512_slli_epi32(bytes, (unsigned)(8 * e)));
                }
                _mm512_mask_storeu_epi32(out + oy * g->out_width + ox, mask, v);
            }
        }
        for (size_t i = pixels; i < plane_pixels; i++) out[i] = 0x80808080u;
    }
}

// MARK: AVX2 (with or without AVX-VNNI)

/// 8 accumulators of one column vector requantized (as `requantize16`, 8 lanes: AVX2 has no
/// 64-bit arithmetic shift, but only the low dword of each shifted product is kept, where
/// arithmetic and logical shifts agree).
#define REQUANTIZE8_BODY                                                                              \
    const __m256i x = _mm256_sllv_epi32(acc, left);                                                   \
    const __m256i nudge = _mm256_set1_epi64x(INT64_C(1) << 30);                                       \
    const __m256i even = _mm256_srli_epi64(_mm256_add_epi64(_mm256_mul_epi32(x, multiplier), nudge), 31); \
    const __m256i odd = _mm256_slli_epi64(_mm256_add_epi64(                                           \
        _mm256_mul_epi32(_mm256_srli_epi64(x, 32), _mm256_srli_epi64(multiplier, 32)), nudge), 1);    \
    const __m256i high = _mm256_blend_epi32(even, odd, 0xAA);                                         \
    const __m256i ones = _mm256_set1_epi32(1);                                                        \
    const __m256i mask = _mm256_sub_epi32(_mm256_sllv_epi32(ones, right), ones);                      \
    const __m256i remainder = _mm256_and_si256(high, mask);                                           \
    const __m256i threshold = _mm256_sub_epi32(_mm256_srli_epi32(mask, 1), _mm256_srai_epi32(high, 31)); \
    return _mm256_sub_epi32(_mm256_srav_epi32(high, right), _mm256_cmpgt_epi32(remainder, threshold));

#define FINISH8_BODY                                                                                  \
    scaled = _mm256_min_epi32(_mm256_max_epi32(scaled, _mm256_set1_epi32(-1024)), _mm256_set1_epi32(1024)); \
    scaled = _mm256_add_epi32(scaled, _mm256_set1_epi32(zero_point));                                 \
    return _mm256_min_epi32(_mm256_max_epi32(scaled, _mm256_set1_epi32(minimum)), _mm256_set1_epi32(maximum));

INLINE AVX2_ONLY __m256i rescale8v(__m256i acc, __m256i multiplier, __m256i left, __m256i right) { REQUANTIZE8_BODY }
INLINE AVX_VNNI __m256i rescale8v_vnni(__m256i acc, __m256i multiplier, __m256i left, __m256i right) { REQUANTIZE8_BODY }
#define REQUANTIZE8_ARGUMENTS __m256i acc, __m256i multiplier, __m256i left, __m256i right, int32_t zero_point, int32_t minimum, int32_t maximum
INLINE AVX2_ONLY __m256i requantize8v(REQUANTIZE8_ARGUMENTS) { __m256i scaled = rescale8v(acc, multiplier, left, right); FINISH8_BODY }
INLINE AVX_VNNI __m256i requantize8v_vnni(REQUANTIZE8_ARGUMENTS) { __m256i scaled = rescale8v_vnni(acc, multiplier, left, right); FINISH8_BODY }
#define LOAD8(p) _mm256_loadu_si256((const __m256i *)(p))
INLINE AVX2_ONLY __m256i requantize8(__m256i acc, const ee_requantization *q, size_t c) {
    return requantize8v(acc, LOAD8(q->multipliers + c), LOAD8(q->left_shifts + c), LOAD8(q->right_shifts + c),
                        q->output_zero_point, q->minimum, q->maximum);
}
INLINE AVX_VNNI __m256i requantize8_vnni(__m256i acc, const ee_requantization *q, size_t c) {
    return requantize8v_vnni(acc, LOAD8(q->multipliers + c), LOAD8(q->left_shifts + c), LOAD8(q->right_shifts + c),
                             q->output_zero_point, q->minimum, q->maximum);
}

/// 8 int32 lanes (already in −128…127) to 8 int8.
#define PACK8(v) _mm_packs_epi16(_mm_packs_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1)), _mm_setzero_si128())

#define STORE8_BODY(REQUANTIZE)                                                                       \
    const size_t left = t->column_count > column ? t->column_count - column : 0;                      \
    if (left == 0) return;                                                                            \
    const size_t n = left < 8 ? left : 8;                                                             \
    acc = _mm256_add_epi32(acc, _mm256_loadu_si256((const __m256i *)(t->bias + column)));            \
    int8_t *out = t->output + row * t->output_row_stride + column * t->output_column_stride;          \
    int8_t lanes[16];                                                                                 \
    if (t->requantization.single_rounding) {                                                          \
        int32_t values[8];                                                                            \
        _mm256_storeu_si256((__m256i *)values, acc);                                                  \
        for (size_t i = 0; i < n; i++) lanes[i] = ee_qs8_requantize_scalar(values[i], &t->requantization, column + i); \
    } else {                                                                                          \
        const __m256i q8 = REQUANTIZE(acc, &t->requantization, column);                              \
        _mm_storeu_si128((__m128i *)lanes, PACK8(q8));                                                \
    }                                                                                                 \
    if (t->output_column_stride == 1 && n == 8) { memcpy(out, lanes, 8); return; }                    \
    for (size_t i = 0; i < n; i++) out[i * t->output_column_stride] = lanes[i];

INLINE AVX2_ONLY void store8(__m256i acc, const ee_qs8_tile *t, size_t row, size_t column) { STORE8_BODY(requantize8) }
INLINE AVX_VNNI void store8_vnni(__m256i acc, const ee_qs8_tile *t, size_t row, size_t column) { STORE8_BODY(requantize8_vnni) }

INLINE AVX_VNNI void tile256vnni(const ee_qs8_tile *t, const int V, const int R) {
    __m256i acc[2][12];
    UNROLL for (int v = 0; v < V; v++) UNROLL for (int r = 0; r < R; r++) acc[v][r] = _mm256_setzero_si256();
    const int8_t *w = t->weights;
    for (size_t tap = 0; tap < t->taps; tap++) {
        const uint8_t *p[12];
        UNROLL for (int r = 0; r < R; r++) p[r] = row_pointer(t, (size_t)r, tap);
        for (size_t g = 0; g < t->k; g += 4) {
            __m256i b[2];
            UNROLL for (int v = 0; v < V; v++) b[v] = _mm256_loadu_si256((const __m256i *)(w + 32 * v));
            UNROLL for (int r = 0; r < R; r++) {
                const __m256i a = _mm256_set1_epi32(load32(p[r] + g));
                UNROLL for (int v = 0; v < V; v++) acc[v][r] = _mm256_dpbusd_avx_epi32(acc[v][r], a, b[v]);
            }
            w += 32 * V;
        }
    }
    UNROLL for (int r = 0; r < R; r++) {
        if ((size_t)r < t->row_count) {
            UNROLL for (int v = 0; v < V; v++) store8_vnni(acc[v][r], t, (size_t)r, (size_t)v * 8);
        }
    }
}

INLINE AVX2_ONLY void tile256madd(const ee_qs8_tile *t, const int V, const int R) {
    __m256i acc[2][12];
    UNROLL for (int v = 0; v < V; v++) UNROLL for (int r = 0; r < R; r++) acc[v][r] = _mm256_setzero_si256();
    const int8_t *w = t->weights;
    for (size_t tap = 0; tap < t->taps; tap++) {
        const int16_t *p[12];
        UNROLL for (int r = 0; r < R; r++) p[r] = (const int16_t *)(const void *)row_pointer(t, (size_t)r, tap);
        for (size_t g = 0; g < t->k; g += 2) {
            __m256i b[2];
            UNROLL for (int v = 0; v < V; v++) b[v] = _mm256_loadu_si256((const __m256i *)(w + 32 * v));
            UNROLL for (int r = 0; r < R; r++) {
                const __m256i a = _mm256_set1_epi32(load32(p[r] + g));
                UNROLL for (int v = 0; v < V; v++) acc[v][r] = _mm256_add_epi32(acc[v][r], _mm256_madd_epi16(a, b[v]));
            }
            w += 32 * V;
        }
    }
    UNROLL for (int r = 0; r < R; r++) {
        if ((size_t)r < t->row_count) {
            UNROLL for (int v = 0; v < V; v++) store8(acc[v][r], t, (size_t)r, (size_t)v * 8);
        }
    }
}

AVX_VNNI void ee_qs8_tile_avxvnni(const ee_qs8_tile *t) {
    if (t->vectors >= 2) tile256vnni(t, 2, 6);
    else if (t->row_tile == 6) tile256vnni(t, 1, 6); else tile256vnni(t, 1, 12);
}

AVX2_ONLY void ee_qs8_tile_avx2(const ee_qs8_tile *t) {
    if (t->vectors >= 2) tile256madd(t, 2, 6);
    else if (t->row_tile == 6) tile256madd(t, 1, 6); else tile256madd(t, 1, 12);
}

AVX2_ONLY void ee_qs8_requantize_avx2(const int32_t *accumulators, size_t count, const ee_requantization *q, int8_t *output) {
    size_t c = 0;
    if (!q->single_rounding) {
        for (; c + 8 <= count; c += 8) {
            const __m256i v = requantize8(_mm256_loadu_si256((const __m256i *)(accumulators + c)), q, c);
            _mm_storel_epi64((__m128i *)(output + c), PACK8(v));
        }
    }
    for (; c < count; c++) output[c] = ee_qs8_requantize_scalar(accumulators[c], q, c);
}
#endif

// MARK: Element-wise int8 kernels

#if defined(__x86_64__)
static inline int32_t clamp_shift(int32_t shift, int32_t lo, int32_t hi) { return shift < lo ? lo : shift > hi ? hi : shift; }

AVX512_VNNI void ee_qs8_batch_norm_channels_last_avx512(const int8_t *x, const int32_t *scale, const int32_t *offset,
                                                         const ee_requantization *q, int8_t *y, size_t channels, size_t pixels) {
    if (!q->single_rounding && channels % 16 == 0) {
        // Per block of 16 channels, its parameters once, then every pixel.
        for (size_t c = 0; c < channels; c += 16) {
            const requantization16 p = requantization16_load(q, c);
            const __m512i s = _mm512_loadu_si512(scale + c), o = _mm512_loadu_si512(offset + c);
            const int8_t *in = x + c;
            int8_t *out = y + c;
            for (size_t i = 0; i < pixels; i++, in += channels, out += channels) {
                const __m512i v = _mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(const void *)in));
                const __m512i acc = _mm512_add_epi32(_mm512_mullo_epi32(v, s), o);
                store_narrowed16(out, requantize16p(acc, &p, q->output_zero_point, q->minimum, q->maximum));
            }
        }
        return;
    }
    for (size_t p = 0; p < pixels; p++) {
        const int8_t *in = x + p * channels;
        int8_t *out = y + p * channels;
        size_t c = 0;
        if (!q->single_rounding) {
            for (; c + 16 <= channels; c += 16) {
                const __m512i v = _mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(in + c)));
                const __m512i acc = _mm512_add_epi32(_mm512_mullo_epi32(v, _mm512_loadu_si512(scale + c)), _mm512_loadu_si512(offset + c));
                store_narrowed16(out + c, requantize16(acc, q, c));
            }
        }
        for (; c < channels; c++) {
            out[c] = ee_qs8_requantize_scalar((int32_t)((uint32_t)in[c] * (uint32_t)scale[c] + (uint32_t)offset[c]), q, c);
        }
    }
}

AVX2_ONLY void ee_qs8_batch_norm_channels_last_avx2(const int8_t *x, const int32_t *scale, const int32_t *offset,
                                                     const ee_requantization *q, int8_t *y, size_t channels, size_t pixels) {
    for (size_t p = 0; p < pixels; p++) {
        const int8_t *in = x + p * channels;
        int8_t *out = y + p * channels;
        size_t c = 0;
        if (!q->single_rounding) {
            for (; c + 8 <= channels; c += 8) {
                const __m256i v = _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(in + c)));
                const __m256i acc = _mm256_add_epi32(_mm256_mullo_epi32(v, LOAD8(scale + c)), LOAD8(offset + c));
                _mm_storel_epi64((__m128i *)(out + c), PACK8(requantize8(acc, q, c)));
            }
        }
        for (; c < channels; c++) {
            out[c] = ee_qs8_requantize_scalar((int32_t)((uint32_t)in[c] * (uint32_t)scale[c] + (uint32_t)offset[c]), q, c);
        }
    }
}

static inline int8_t batch_norm_affine_scalar(int8_t x, int32_t slope, int32_t offset, int32_t shift, int32_t minimum, int32_t maximum) {
    const int32_t v = (int32_t)x * slope + offset;
    const int32_t s = v >> shift; // arithmetic (clang, gcc): floor division by 2^shift
    return (int8_t)(s < minimum ? minimum : s > maximum ? maximum : s);
}

/* 16 channels of one pixel: clamp((x * slope + offset) >> shift), stored as int8. */
INLINE AVX512_VNNI void batch_norm_affine16(const int8_t *in, __m512i slope, __m512i offset, __m512i shift,
                                            __m512i lo, __m512i hi, int8_t *out) {
    const __m512i v = _mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(const void *)in));
    const __m512i s = _mm512_srav_epi32(_mm512_add_epi32(_mm512_mullo_epi32(v, slope), offset), shift);
    store_narrowed16(out, _mm512_min_epi32(_mm512_max_epi32(s, lo), hi));
}

AVX512_VNNI void ee_qs8_batch_norm_affine_avx512(const int8_t *x, const int32_t *slope, const int32_t *offset, const int32_t *shift,
                                                  int32_t minimum, int32_t maximum, int8_t *y, size_t channels, size_t pixels) {
    const __m512i lo = _mm512_set1_epi32(minimum), hi = _mm512_set1_epi32(maximum);
    if (channels % 16 == 0) {
        // Per block of 16 channels, its parameters once, then every pixel: 7 operations per 16 values.
        for (size_t c = 0; c < channels; c += 16) {
            const __m512i p = _mm512_loadu_si512(slope + c), o = _mm512_loadu_si512(offset + c), t = _mm512_loadu_si512(shift + c);
            const int8_t *in = x + c;
            int8_t *out = y + c;
            for (size_t i = 0; i < pixels; i++, in += channels, out += channels) batch_norm_affine16(in, p, o, t, lo, hi, out);
        }
        return;
    }
    for (size_t i = 0; i < pixels; i++) {
        const int8_t *in = x + i * channels;
        int8_t *out = y + i * channels;
        size_t c = 0;
        for (; c + 16 <= channels; c += 16) {
            batch_norm_affine16(in + c, _mm512_loadu_si512(slope + c), _mm512_loadu_si512(offset + c), _mm512_loadu_si512(shift + c),
                                lo, hi, out + c);
        }
        for (; c < channels; c++) out[c] = batch_norm_affine_scalar(in[c], slope[c], offset[c], shift[c], minimum, maximum);
    }
}

AVX2_ONLY void ee_qs8_batch_norm_affine_avx2(const int8_t *x, const int32_t *slope, const int32_t *offset, const int32_t *shift,
                                             int32_t minimum, int32_t maximum, int8_t *y, size_t channels, size_t pixels) {
    const __m256i lo = _mm256_set1_epi32(minimum), hi = _mm256_set1_epi32(maximum);
    for (size_t i = 0; i < pixels; i++) {
        const int8_t *in = x + i * channels;
        int8_t *out = y + i * channels;
        size_t c = 0;
        for (; c + 8 <= channels; c += 8) {
            const __m256i v = _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(const void *)(in + c)));
            const __m256i s = _mm256_srav_epi32(_mm256_add_epi32(_mm256_mullo_epi32(v, LOAD8(slope + c)), LOAD8(offset + c)),
                                                LOAD8(shift + c));
            _mm_storel_epi64((__m128i *)(void *)(out + c), PACK8(_mm256_min_epi32(_mm256_max_epi32(s, lo), hi)));
        }
        for (; c < channels; c++) out[c] = batch_norm_affine_scalar(in[c], slope[c], offset[c], shift[c], minimum, maximum);
    }
}

/// An add input's rescale without 64-bit products. With d = x − zp (|d| ≤ 255) and the total
/// left shift S (left_shift plus a positive input shift), the high multiply of d·2^S by m is
/// ⌊(d·m·2^S + 2^30) / 2^31⌋ = ⌊(d·m + 2^(k−1)) / 2^k⌋ with k = 31 − S; splitting m = mh·2^k + ml
/// (0 ≤ ml < 2^k) gives d·mh + ⌊(d·ml + 2^(k−1)) / 2^k⌋, both products within int32 when
/// 9 ≤ S ≤ 22 (|d·mh| < 2^(S+8), |d·ml| < 2^(k+8)). Exact: the same integer as the reference.
typedef struct { int32_t high, low, k, right; } split_rescale;

static inline int split_rescale_make(int32_t left_shift, int32_t multiplier, int32_t shift, split_rescale *r) {
    const int32_t s = left_shift + clamp_shift(shift, 0, 31);
    if (s < 9 || s > 22) return 0;
    r->k = 31 - s;
    r->high = multiplier >> r->k;
    r->low = multiplier & ((1 << r->k) - 1);
    r->right = -clamp_shift(shift, -31, 0);
    return 1;
}

INLINE AVX512_VNNI __m512i split_rescale16(__m512i d, const split_rescale *r) {
    const __m512i low = _mm512_srai_epi32(_mm512_add_epi32(_mm512_mullo_epi32(d, _mm512_set1_epi32(r->low)),
                                                           _mm512_set1_epi32(1 << (r->k - 1))), (unsigned)r->k);
    const __m512i high = _mm512_add_epi32(_mm512_mullo_epi32(d, _mm512_set1_epi32(r->high)), low);
    return divide_by_pot16(high, _mm512_set1_epi32(r->right));
}

/// The split add when input a's rescale is a plain product (its multiplier's low part 0 and no
/// right shift, as TFLite's 2^30 for the input of the larger scale): (x − zp)·high, computed as
/// x·high + (−zp·high) in wrapping int32 (the same value, within int32 as the split requires).
INLINE AVX512_VNNI void add_one_product_avx512(const int8_t *a, int32_t zero_point_a, const split_rescale *sa, const int8_t *b,
                                               int32_t zero_point_b, const split_rescale *sb, const ee_qs8_add_parameters *p,
                                               int8_t *y, size_t count) {
    const __m512i ha = _mm512_set1_epi32(sa->high);
    const __m512i ca = _mm512_set1_epi32((int32_t)(0u - (uint32_t)zero_point_a * (uint32_t)sa->high)), zpb = _mm512_set1_epi32(zero_point_b);
    const __m512i mo = _mm512_set1_epi32(p->multiplier_out);
    const __m512i lo = _mm512_set1_epi32(clamp_shift(p->shift_out, 0, 31)), ro = _mm512_set1_epi32(-clamp_shift(p->shift_out, -31, 0));
    size_t i = 0;
    for (; i + 16 <= count; i += 16) {
        const __m512i xa = _mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(const void *)(a + i)));
        const __m512i xb = _mm512_sub_epi32(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(const void *)(b + i))), zpb);
        const __m512i sum = _mm512_add_epi32(_mm512_add_epi32(_mm512_mullo_epi32(xa, ha), ca), split_rescale16(xb, sb));
        store_narrowed16(y + i, requantize16v(sum, mo, lo, ro, p->zero_point_out, p->minimum, p->maximum));
    }
    for (; i < count; i++) y[i] = ee_qs8_add_scalar(a[i], b[i], p);
}

/// TFLite's int8 add computed lane by lane: each input (x − zp) << left_shift is rescaled with
/// its multiplier and shift, the two are summed, and the sum requantized with the output's.
AVX512_VNNI void ee_qs8_add_avx512(const int8_t *a, const int8_t *b, const ee_qs8_add_parameters *p, int8_t *y, size_t count) {
    split_rescale sa, sb;
    if (split_rescale_make(p->left_shift, p->multiplier_a, p->shift_a, &sa) && split_rescale_make(p->left_shift, p->multiplier_b, p->shift_b, &sb)) {
        // The sum is the same in either order: the input whose rescale is a plain product goes first.
        if (sa.low == 0 && sa.right == 0) { add_one_product_avx512(a, p->zero_point_a, &sa, b, p->zero_point_b, &sb, p, y, count); return; }
        if (sb.low == 0 && sb.right == 0) { add_one_product_avx512(b, p->zero_point_b, &sb, a, p->zero_point_a, &sa, p, y, count); return; }
        const __m512i zpa = _mm512_set1_epi32(p->zero_point_a), zpb = _mm512_set1_epi32(p->zero_point_b);
        const __m512i mo = _mm512_set1_epi32(p->multiplier_out);
        const __m512i lo = _mm512_set1_epi32(clamp_shift(p->shift_out, 0, 31)), ro = _mm512_set1_epi32(-clamp_shift(p->shift_out, -31, 0));
        size_t i = 0;
        for (; i + 16 <= count; i += 16) {
            const __m512i xa = _mm512_sub_epi32(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(a + i))), zpa);
            const __m512i xb = _mm512_sub_epi32(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(b + i))), zpb);
            const __m512i sum = _mm512_add_epi32(split_rescale16(xa, &sa), split_rescale16(xb, &sb));
            store_narrowed16(y + i, requantize16v(sum, mo, lo, ro, p->zero_point_out, p->minimum, p->maximum));
        }
        for (; i < count; i++) y[i] = ee_qs8_add_scalar(a[i], b[i], p);
        return;
    }
    const __m512i zpa = _mm512_set1_epi32(p->zero_point_a), zpb = _mm512_set1_epi32(p->zero_point_b);
    const __m512i ma = _mm512_set1_epi32(p->multiplier_a), mb = _mm512_set1_epi32(p->multiplier_b), mo = _mm512_set1_epi32(p->multiplier_out);
    const __m512i la = _mm512_set1_epi32(clamp_shift(p->shift_a, 0, 31)), ra = _mm512_set1_epi32(-clamp_shift(p->shift_a, -31, 0));
    const __m512i lb = _mm512_set1_epi32(clamp_shift(p->shift_b, 0, 31)), rb = _mm512_set1_epi32(-clamp_shift(p->shift_b, -31, 0));
    const __m512i lo = _mm512_set1_epi32(clamp_shift(p->shift_out, 0, 31)), ro = _mm512_set1_epi32(-clamp_shift(p->shift_out, -31, 0));
    size_t i = 0;
    for (; i + 16 <= count; i += 16) {
        const __m512i xa = _mm512_sub_epi32(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(a + i))), zpa);
        const __m512i xb = _mm512_sub_epi32(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(b + i))), zpb);
        const __m512i shift = _mm512_set1_epi32(p->left_shift);
        const __m512i sum = _mm512_add_epi32(rescale16v(_mm512_sllv_epi32(xa, shift), ma, la, ra),
                                             rescale16v(_mm512_sllv_epi32(xb, shift), mb, lb, rb));
        store_narrowed16(y + i, requantize16v(sum, mo, lo, ro, p->zero_point_out, p->minimum, p->maximum));
    }
    for (; i < count; i++) y[i] = ee_qs8_add_scalar(a[i], b[i], p);
}

INLINE AVX2_ONLY __m256i split_rescale8(__m256i d, const split_rescale *r) {
    const __m256i low = _mm256_srai_epi32(_mm256_add_epi32(_mm256_mullo_epi32(d, _mm256_set1_epi32(r->low)),
                                                           _mm256_set1_epi32(1 << (r->k - 1))), r->k);
    const __m256i high = _mm256_add_epi32(_mm256_mullo_epi32(d, _mm256_set1_epi32(r->high)), low);
    // RoundingDivideByPOT (as REQUANTIZE8_BODY's tail).
    const __m256i right = _mm256_set1_epi32(r->right), ones = _mm256_set1_epi32(1);
    const __m256i mask = _mm256_sub_epi32(_mm256_sllv_epi32(ones, right), ones);
    const __m256i remainder = _mm256_and_si256(high, mask);
    const __m256i threshold = _mm256_sub_epi32(_mm256_srli_epi32(mask, 1), _mm256_srai_epi32(high, 31));
    return _mm256_sub_epi32(_mm256_srav_epi32(high, right), _mm256_cmpgt_epi32(remainder, threshold));
}

AVX2_ONLY void ee_qs8_add_avx2(const int8_t *a, const int8_t *b, const ee_qs8_add_parameters *p, int8_t *y, size_t count) {
    split_rescale sa, sb;
    if (split_rescale_make(p->left_shift, p->multiplier_a, p->shift_a, &sa) && split_rescale_make(p->left_shift, p->multiplier_b, p->shift_b, &sb)) {
        const __m256i zpa = _mm256_set1_epi32(p->zero_point_a), zpb = _mm256_set1_epi32(p->zero_point_b);
        const __m256i mo = _mm256_set1_epi32(p->multiplier_out);
        const __m256i lo = _mm256_set1_epi32(clamp_shift(p->shift_out, 0, 31)), ro = _mm256_set1_epi32(-clamp_shift(p->shift_out, -31, 0));
        size_t i = 0;
        for (; i + 8 <= count; i += 8) {
            const __m256i xa = _mm256_sub_epi32(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(a + i))), zpa);
            const __m256i xb = _mm256_sub_epi32(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(b + i))), zpb);
            const __m256i sum = _mm256_add_epi32(split_rescale8(xa, &sa), split_rescale8(xb, &sb));
            _mm_storel_epi64((__m128i *)(y + i), PACK8(requantize8v(sum, mo, lo, ro, p->zero_point_out, p->minimum, p->maximum)));
        }
        for (; i < count; i++) y[i] = ee_qs8_add_scalar(a[i], b[i], p);
        return;
    }
    const __m256i zpa = _mm256_set1_epi32(p->zero_point_a), zpb = _mm256_set1_epi32(p->zero_point_b);
    const __m256i ma = _mm256_set1_epi32(p->multiplier_a), mb = _mm256_set1_epi32(p->multiplier_b), mo = _mm256_set1_epi32(p->multiplier_out);
    const __m256i la = _mm256_set1_epi32(clamp_shift(p->shift_a, 0, 31)), ra = _mm256_set1_epi32(-clamp_shift(p->shift_a, -31, 0));
    const __m256i lb = _mm256_set1_epi32(clamp_shift(p->shift_b, 0, 31)), rb = _mm256_set1_epi32(-clamp_shift(p->shift_b, -31, 0));
    const __m256i lo = _mm256_set1_epi32(clamp_shift(p->shift_out, 0, 31)), ro = _mm256_set1_epi32(-clamp_shift(p->shift_out, -31, 0));
    const __m256i shift = _mm256_set1_epi32(p->left_shift);
    size_t i = 0;
    for (; i + 8 <= count; i += 8) {
        const __m256i xa = _mm256_sub_epi32(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(a + i))), zpa);
        const __m256i xb = _mm256_sub_epi32(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(b + i))), zpb);
        const __m256i sum = _mm256_add_epi32(rescale8v(_mm256_sllv_epi32(xa, shift), ma, la, ra),
                                             rescale8v(_mm256_sllv_epi32(xb, shift), mb, lb, rb));
        _mm_storel_epi64((__m128i *)(y + i), PACK8(requantize8v(sum, mo, lo, ro, p->zero_point_out, p->minimum, p->maximum)));
    }
    for (; i < count; i++) y[i] = ee_qs8_add_scalar(a[i], b[i], p);
}

static inline int8_t add_affine_scalar(int8_t a, int8_t b, const ee_qs8_add_affine *f) {
    // Wrapping int32 products and sums, as the vector lanes (the fit keeps the value within int32).
    const int32_t v = (int32_t)((uint32_t)(int32_t)a * (uint32_t)f->p + (uint32_t)(int32_t)b * (uint32_t)f->q + (uint32_t)f->r);
    const int32_t s = v >> f->shift; // arithmetic: floor division by 2^shift
    return (int8_t)(s < f->minimum ? f->minimum : s > f->maximum ? f->maximum : s);
}

/// The fitted add: two products, two sums and a shift per 16 values; the clamp to −128…127 is
/// vpmovsdb's saturation (`saturate`), otherwise (ReLU) a max and min before vpmovdb.
INLINE AVX512_VNNI void add_affine_avx512(const int8_t *a, const int8_t *b, const ee_qs8_add_affine *f, int8_t *y, size_t count,
                                          const int saturate) {
    const __m512i p = _mm512_set1_epi32(f->p), q = _mm512_set1_epi32(f->q), r = _mm512_set1_epi32(f->r);
    const __m512i lo = _mm512_set1_epi32(f->minimum), hi = _mm512_set1_epi32(f->maximum);
    const unsigned shift = (unsigned)f->shift;
    size_t i = 0;
    for (; i + 16 <= count; i += 16) {
        const __m512i xa = _mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(const void *)(a + i)));
        const __m512i xb = _mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(const void *)(b + i)));
        const __m512i s = _mm512_srai_epi32(_mm512_add_epi32(_mm512_mullo_epi32(xa, p), _mm512_add_epi32(_mm512_mullo_epi32(xb, q), r)), shift);
        if (saturate) {
            __m128i bytes = _mm512_cvtsepi32_epi8(s);
            __asm__("" : "+x"(bytes)); // to a register, then a store (see store_narrowed16)
            _mm_storeu_si128((__m128i *)(void *)(y + i), bytes);
        } else {
            store_narrowed16(y + i, _mm512_min_epi32(_mm512_max_epi32(s, lo), hi));
        }
    }
    for (; i < count; i++) y[i] = add_affine_scalar(a[i], b[i], f);
}

AVX512_VNNI void ee_qs8_add_affine_avx512(const int8_t *a, const int8_t *b, const ee_qs8_add_affine *f, int8_t *y, size_t count) {
    if (f->minimum == -128 && f->maximum == 127) add_affine_avx512(a, b, f, y, count, 1);
    else add_affine_avx512(a, b, f, y, count, 0);
}

AVX2_ONLY void ee_qs8_add_affine_avx2(const int8_t *a, const int8_t *b, const ee_qs8_add_affine *f, int8_t *y, size_t count) {
    const __m256i p = _mm256_set1_epi32(f->p), q = _mm256_set1_epi32(f->q), r = _mm256_set1_epi32(f->r);
    const __m256i lo = _mm256_set1_epi32(f->minimum), hi = _mm256_set1_epi32(f->maximum);
    const int shift = f->shift;
    size_t i = 0;
    if (f->minimum == -128 && f->maximum == 127) {
        // 16 values at a time, the clamp left to the saturating packs (one lane-crossing permute).
        for (; i + 16 <= count; i += 16) {
            const __m256i a0 = _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(const void *)(a + i)));
            const __m256i a1 = _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(const void *)(a + i + 8)));
            const __m256i b0 = _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(const void *)(b + i)));
            const __m256i b1 = _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(const void *)(b + i + 8)));
            const __m256i s0 = _mm256_srai_epi32(_mm256_add_epi32(_mm256_mullo_epi32(a0, p), _mm256_add_epi32(_mm256_mullo_epi32(b0, q), r)), shift);
            const __m256i s1 = _mm256_srai_epi32(_mm256_add_epi32(_mm256_mullo_epi32(a1, p), _mm256_add_epi32(_mm256_mullo_epi32(b1, q), r)), shift);
            const __m256i words = _mm256_permute4x64_epi64(_mm256_packs_epi32(s0, s1), 0xD8); // values 0…15 in order
            _mm_storeu_si128((__m128i *)(void *)(y + i), _mm_packs_epi16(_mm256_castsi256_si128(words), _mm256_extracti128_si256(words, 1)));
        }
    }
    for (; i + 8 <= count; i += 8) {
        const __m256i xa = _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(const void *)(a + i)));
        const __m256i xb = _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(const void *)(b + i)));
        const __m256i s = _mm256_srai_epi32(_mm256_add_epi32(_mm256_mullo_epi32(xa, p), _mm256_add_epi32(_mm256_mullo_epi32(xb, q), r)), shift);
        // PACK8 saturates to −128…127; the max and min matter only for a narrower range (ReLU).
        _mm_storel_epi64((__m128i *)(void *)(y + i), PACK8(_mm256_min_epi32(_mm256_max_epi32(s, lo), hi)));
    }
    for (; i < count; i++) y[i] = add_affine_scalar(a[i], b[i], f);
}

/// Σ_p e[p]·(v[p][j] − zv) for 16 columns j, exact: e < 2^24+1 is split into 12-bit halves so
/// that both partial sums stay in int32 (the caller checks k·4096·255 < 2^31).
INLINE AVX512_VNNI void weighted_sums16(const int32_t *e, const int8_t *v, size_t k, size_t n, size_t j, int32_t zero_point,
                                        int64_t *out) {
    __m512i high = _mm512_setzero_si512(), low = _mm512_setzero_si512();
    const __m512i zv = _mm512_set1_epi32(zero_point), mask = _mm512_set1_epi32(4095);
    for (size_t p = 0; p < k; p++) {
        const __m512i d = _mm512_sub_epi32(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(v + p * n + j))), zv);
        const __m512i ep = _mm512_set1_epi32(e[p]);
        high = _mm512_add_epi32(high, _mm512_mullo_epi32(_mm512_srli_epi32(ep, 12), d));
        low = _mm512_add_epi32(low, _mm512_mullo_epi32(_mm512_and_si512(ep, mask), d));
    }
    int32_t h[16], l[16];
    _mm512_storeu_si512(h, high);
    _mm512_storeu_si512(l, low);
    for (int i = 0; i < 16; i++) out[i] = (int64_t)h[i] * 4096 + l[i];
}

INLINE AVX2_ONLY void weighted_sums8(const int32_t *e, const int8_t *v, size_t k, size_t n, size_t j, int32_t zero_point,
                                     int64_t *out) {
    __m256i high = _mm256_setzero_si256(), low = _mm256_setzero_si256();
    const __m256i zv = _mm256_set1_epi32(zero_point), mask = _mm256_set1_epi32(4095);
    for (size_t p = 0; p < k; p++) {
        const __m256i d = _mm256_sub_epi32(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(v + p * n + j))), zv);
        const __m256i ep = _mm256_set1_epi32(e[p]);
        high = _mm256_add_epi32(high, _mm256_mullo_epi32(_mm256_srli_epi32(ep, 12), d));
        low = _mm256_add_epi32(low, _mm256_mullo_epi32(_mm256_and_si256(ep, mask), d));
    }
    int32_t h[8], l[8];
    _mm256_storeu_si256((__m256i *)h, high);
    _mm256_storeu_si256((__m256i *)l, low);
    for (int i = 0; i < 8; i++) out[i] = (int64_t)h[i] * 4096 + l[i];
}
#endif

#if defined(__x86_64__)
AVX512_VNNI void ee_qs8_weighted_sums_avx512(const int32_t *e, const int8_t *v, size_t k, size_t n, size_t j, int32_t zero_point, int64_t *out) {
    weighted_sums16(e, v, k, n, j, zero_point, out);
}
AVX2_ONLY void ee_qs8_weighted_sums_avx2(const int32_t *e, const int8_t *v, size_t k, size_t n, size_t j, int32_t zero_point, int64_t *out) {
    weighted_sums8(e, v, k, n, j, zero_point, out);
}
#endif
