// The scalar form of the int8 requantization (TFLite's arithmetic, as Math/FixedPoint.swift):
// the reference the SIMD forms are written against, and the path for tails and single rounding.
#include "earlyexit_native.h"

static int32_t high_mul(int32_t a, int32_t b) {
    // (a·b + 2^30) >> 31 with an arithmetic shift equals gemmlowp's truncating form (see
    // FixedPoint.saturatingRoundingDoublingHighMul); a == b == INT32_MIN saturates.
    int64_t high = ((int64_t)a * (int64_t)b + (INT64_C(1) << 30)) >> 31;
    return high > INT32_MAX ? INT32_MAX : (int32_t)high;
}

static int32_t divide_by_pot(int32_t x, int32_t exponent) {
    int32_t mask = (int32_t)(((uint32_t)1 << exponent) - 1u);
    int32_t remainder = x & mask;
    int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
    return (x >> exponent) + (remainder > threshold ? 1 : 0);
}

int8_t ee_qs8_requantize_scalar(int32_t accumulator, const ee_requantization *q, size_t c) {
    int32_t scaled;
    if (q->single_rounding) {
        int32_t shift = q->shifts[c] < -31 ? -31 : q->shifts[c] > 30 ? 30 : q->shifts[c];
        int total = 31 - shift;
        int64_t product = (int64_t)accumulator * (int64_t)q->multipliers[c];
        scaled = (int32_t)(uint32_t)(uint64_t)((product + (INT64_C(1) << (total - 1))) >> total);
    } else {
        // The left shift wraps modulo 2^32 as TFLite's `x * (1 << left_shift)` does.
        int32_t shifted = (int32_t)((uint32_t)accumulator << q->left_shifts[c]);
        scaled = divide_by_pot(high_mul(shifted, q->multipliers[c]), q->right_shifts[c]);
    }
    int64_t value = (int64_t)scaled + q->output_zero_point;
    if (value < q->minimum) value = q->minimum;
    if (value > q->maximum) value = q->maximum;
    return (int8_t)value;
}

static int32_t multiply_by_quantized_multiplier(int32_t x, int32_t multiplier, int32_t shift) {
    int32_t left = shift < 0 ? 0 : shift > 31 ? 31 : shift;
    int32_t right = shift > 0 ? 0 : shift < -31 ? 31 : -shift;
    return divide_by_pot(high_mul((int32_t)((uint32_t)x << left), multiplier), right);
}

int8_t ee_qs8_add_scalar(int8_t a, int8_t b, const ee_qs8_add_parameters *p) {
    // As the prepared tables of the reference add: (x − zp) << left_shift, rescaled per input
    // (the shift cannot overflow: |x − zp| ≤ 255 and left_shift ≤ 22); sums wrap as int32.
    int32_t ra = multiply_by_quantized_multiplier((int32_t)(((uint32_t)((int32_t)a - p->zero_point_a)) << p->left_shift), p->multiplier_a, p->shift_a);
    int32_t rb = multiply_by_quantized_multiplier((int32_t)(((uint32_t)((int32_t)b - p->zero_point_b)) << p->left_shift), p->multiplier_b, p->shift_b);
    int32_t sum = (int32_t)((uint32_t)ra + (uint32_t)rb);
    int64_t value = (int64_t)multiply_by_quantized_multiplier(sum, p->multiplier_out, p->shift_out) + p->zero_point_out;
    if (value < p->minimum) value = p->minimum;
    if (value > p->maximum) value = p->maximum;
    return (int8_t)value;
}
