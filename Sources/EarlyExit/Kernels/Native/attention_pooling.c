// int8 attention pooling `softmax(a) · V` from the softmax's input (Int8Kernels.attentionPooling
// is the specification): the per-position exponentials once per row, then the column sums in
// vectors. Exact: the same 64-bit sums, divisions and requantization as the Swift reference.
#include "earlyexit_native.h"

static int64_t rounded_quotient(int64_t a, int64_t b) {
    return a >= 0 ? (a + b / 2) / b : -((b / 2 - a) / b);
}

static int leading_zeros64(uint64_t x) { return x == 0 ? 64 : __builtin_clzll(x); }

#if defined(__x86_64__)
void ee_qs8_weighted_sums_avx512(const int32_t *e, const int8_t *v, size_t k, size_t n, size_t j, int32_t zero_point, int64_t *out);
void ee_qs8_weighted_sums_avx2(const int32_t *e, const int8_t *v, size_t k, size_t n, size_t j, int32_t zero_point, int64_t *out);
#endif

void ee_qs8_attention_pooling(int isa, const int8_t *a, const int32_t *table, int32_t inverse_output_scale, const int8_t *v,
                              int32_t zero_point_v, size_t m, size_t k, size_t n, const ee_requantization *q, int8_t *c,
                              int32_t *exponentials, int64_t *sums) {
    for (size_t i = 0; i < m; i++) {
        const int8_t *row = a + i * k;
        int8_t largest = -128;
        for (size_t p = 0; p < k; p++) if (row[p] > largest) largest = row[p];
        int64_t total = 0;
        for (size_t p = 0; p < k; p++) {
            exponentials[p] = table[(int)largest - (int)row[p]];
            total += exponentials[p];
        }
        // As the reference: keep the denominator below 2^30.
        int excess = (64 - leading_zeros64((uint64_t)total)) - 30;
        if (excess < 0) excess = 0;
        int64_t denominator = total >> excess;
        if (denominator < 1) denominator = 1;
        size_t j = 0;
#if defined(__x86_64__)
        if (isa == 2) for (; j + 16 <= n; j += 16) ee_qs8_weighted_sums_avx512(exponentials, v, k, n, j, zero_point_v, sums + j);
        if (isa >= 1) for (; j + 8 <= n; j += 8) ee_qs8_weighted_sums_avx2(exponentials, v, k, n, j, zero_point_v, sums + j);
#endif
        for (; j < n; j++) {
            int64_t weighted = 0;
            for (size_t p = 0; p < k; p++) weighted += (int64_t)exponentials[p] * ((int32_t)v[p * n + j] - zero_point_v);
            sums[j] = weighted;
        }
        for (j = 0; j < n; j++) {
            const int64_t ratio = rounded_quotient((int64_t)((uint64_t)(sums[j] >> excess) << 16), denominator);
            const int64_t accumulator = rounded_quotient((int64_t)((uint64_t)ratio * (uint64_t)(int64_t)inverse_output_scale), INT64_C(1) << 24);
            const int32_t clamped = accumulator > INT32_MAX ? INT32_MAX : accumulator < INT32_MIN ? INT32_MIN : (int32_t)accumulator;
            c[i * n + j] = ee_qs8_requantize_scalar(clamped, q, 0);
        }
    }
}
