// The fixed-point arithmetic of TFLite's int8 quantization specification, bit-exact with the
// reference kernels of TensorFlow Lite Micro (gemmlowp's fixedpoint.h and TFLite's
// kernels/internal/common.cc and quantization_util.cc). Pure integer code except for
// `quantizeMultiplier`, which reads a Double's bits; imports nothing; Embedded-Swift clean.
//
// Conventions
// - A quantized multiplier is a Q0.31 value `multiplier` (normally in [2^30, 2^31)) and a
//   power-of-two exponent `shift` (positive = left shift): real ≈ multiplier · 2^(shift − 31).
// - Every wrapping / masking operator (`&+`, `&-`, `&*`, `&<<`, `&>>`) carries a comment
//   saying either why it cannot wrap (it only removes a dead overflow trap or a dead
//   shift-amount check) or which TFLite Micro behaviour the wrap reproduces.
// - Inputs that TFLite only guards with asserts (shift ranges) are clamped into the asserted
//   range, so nothing here can trap; inside that range the results are TFLite's.

/// Fixed-point primitives of TFLite's int8 kernels (see the file header for conventions).
public enum FixedPoint {
    // MARK: gemmlowp primitives

    /// gemmlowp's `SaturatingRoundingDoublingHighMul` (ARM `VQRDMULH`): the high 32 bits of
    /// 2·a·b, rounded to nearest with ties toward +infinity; the one overflowing case
    /// a == b == Int32.min saturates to Int32.max.
    ///
    /// gemmlowp defines it as `(ab + nudge) / 2^31` with truncating division and
    /// nudge = ab >= 0 ? 2^30 : 1 − 2^30. For ab >= 0 that is ⌊(ab + 2^30) / 2^31⌋. For
    /// ab = −n < 0 it is −⌊(n − 1 + 2^30) / 2^31⌋, and ⌊(−n + 2^30) / 2^31⌋ =
    /// −⌈(n − 2^30) / 2^31⌉ = −⌊(n − 2^30 + 2^31 − 1) / 2^31⌋ = −⌊(n + 2^30 − 1) / 2^31⌋ —
    /// the same. So both branches equal the single floor expression (ab + 2^30) >> 31 (an
    /// arithmetic shift is a floor division), which is what is computed: no select and no
    /// division. The tests check this against gemmlowp's literal formula.
    @inline(__always)
    public static func saturatingRoundingDoublingHighMul(_ a: Int32, _ b: Int32) -> Int32 {
        // `&*`, `&+`: |a·b| <= 2^62 and 2^62 + 2^30 < 2^63, so neither can wrap; the `&` only
        // drops the overflow trap the optimizer cannot prove dead.
        let high = (Int64(a) &* Int64(b) &+ (1 << 30)) &>> 31 // `&>>`: constant 31 < 64, exact.
        // `high` lies in [−2^31 + 1, 2^31]; it is 2^31 only for a == b == Int32.min (every other
        // |a·b| <= 2^62 − 2^31), so clamping at Int32.max is exactly gemmlowp's saturation.
        return Int32(truncatingIfNeeded: Swift.min(high, Int64(Int32.max)))
    }

    /// gemmlowp's `RoundingDivideByPOT`: x / 2^exponent rounded to nearest, ties away from
    /// zero (−5 / 2 → −3, 5 / 2 → 3, −6 / 4 → −2). gemmlowp asserts 0 <= exponent <= 31;
    /// here an exponent outside that range is clamped into it.
    @inline(__always)
    public static func roundingDivideByPOT(_ x: Int32, _ exponent: Int32) -> Int32 {
        roundingDivideByPOTInRange(x, Swift.min(Swift.max(exponent, 0), 31))
    }

    /// `roundingDivideByPOT` for an exponent the caller guarantees is in 0...31.
    @inline(__always)
    static func roundingDivideByPOTInRange(_ x: Int32, _ exponent: Int32) -> Int32 {
        // mask = 2^exponent − 1 (Int32.max >> (31 − e)); `&>>`: the amount is in 0...31, so
        // masking it changes nothing and only drops the over-shift check.
        let mask = Int32.max &>> (31 &- exponent) // `&-`: 31 − e is in 0...31, cannot wrap.
        let remainder = x & mask
        // mask >> 1 <= 2^30 − 1, so adding 1 cannot overflow.
        let threshold = (mask &>> 1) &+ (x < 0 ? 1 : 0) // `&>>`: constant 1; `&+`: see above.
        // `&>>`: exponent in 0...31 (see above). `&+`: the +1 happens only when
        // remainder > threshold >= 0, i.e. exponent >= 1, and then x >> exponent <= 2^30 − 1.
        return (x &>> exponent) &+ (remainder > threshold ? 1 : 0)
    }

    // MARK: Four lanes at a time

    /// `saturatingRoundingDoublingHighMul(a[i], multiplier)` for four lanes, for a multiplier
    /// ≥ 0 (every multiplier a model may hold; the validator rejects negative ones). With a
    /// non-negative multiplier the saturating case (both operands Int32.min) cannot occur.
    ///
    /// Baseline x86-64 (SSE2) has no signed 32×32→64 vector multiply, so the product is formed
    /// from magnitudes with the unsigned one (`pmuludq`): for n = |a|·multiplier, the scalar
    /// result ⌊(a·multiplier + 2^30) / 2^31⌋ is (n + 2^30) >> 31 when a ≥ 0 and
    /// −((n + 2^30 − 1) >> 31) when a < 0 (the derivation is in the scalar function's comment).
    /// n < 2^62, so the sums cannot wrap in UInt64. The tests compare it with the scalar form.
    @inline(__always)
    static func saturatingRoundingDoublingHighMul(_ a: SIMD4<Int32>, nonNegative multiplier: Int32) -> SIMD4<Int32> {
        let sign = a &>> 31 // −1 for negative lanes, else 0 (`&>>`: constant 31 < 32)
        // |a| as UInt32 (2^31 for Int32.min): (a ^ sign) − sign, wrapping exactly there.
        let magnitude = SIMD4<UInt32>(truncatingIfNeeded: (a ^ sign) &- sign)
        let nudge = SIMD4<UInt32>(truncatingIfNeeded: SIMD4<Int32>(repeating: 1 << 30) &+ sign) // 2^30 or 2^30 − 1
        let m = SIMD2<UInt64>(repeating: UInt64(UInt32(truncatingIfNeeded: multiplier)))
        // `&*`, `&+`: n <= 2^31 · (2^31 − 1) < 2^62 and the nudge < 2^30: no wrap; `&>>`: constant.
        let even = (SIMD2<UInt64>(truncatingIfNeeded: magnitude.evenHalf) &* m &+ SIMD2<UInt64>(truncatingIfNeeded: nudge.evenHalf)) &>> 31
        let odd = (SIMD2<UInt64>(truncatingIfNeeded: magnitude.oddHalf) &* m &+ SIMD2<UInt64>(truncatingIfNeeded: nudge.oddHalf)) &>> 31
        // Each value is at most 2^31 − 1 (positive) or 2^31 − 1 before negation: fits Int32.
        let high = SIMD4<Int32>(Int32(truncatingIfNeeded: even[0]), Int32(truncatingIfNeeded: odd[0]),
                                Int32(truncatingIfNeeded: even[1]), Int32(truncatingIfNeeded: odd[1]))
        return (high ^ sign) &- sign // negate the negative lanes (`&-`: |high| < 2^31, no wrap)
    }

    /// `roundingDivideByPOT(x[i], exponent)` for four lanes, exponent already in 0...31.
    @inline(__always)
    static func roundingDivideByPOTInRange(_ x: SIMD4<Int32>, _ exponent: Int32) -> SIMD4<Int32> {
        // As the scalar form: `&>>`, `&-` on amounts in 0...31; threshold = mask/2 + (x < 0).
        let mask = Int32.max &>> (31 &- exponent)
        let remainder = x & SIMD4(repeating: mask)
        let threshold = SIMD4<Int32>(repeating: mask &>> 1) &- (x &>> 31)
        // A true comparison lane is −1: subtracting it adds the rounding 1 (no wrap, see scalar).
        let roundUp = SIMD4<Int32>(repeating: 0).replacing(with: -1, where: remainder .> threshold)
        return (x &>> SIMD4(repeating: exponent)) &- roundUp
    }

    // MARK: TFLite's MultiplyByQuantizedMultiplier

    /// TFLite's double-rounding `MultiplyByQuantizedMultiplier(int32_t x, int32_t
    /// quantized_multiplier, int shift)` — the default (`TFLITE_SINGLE_ROUNDING` = 0) build of
    /// TFLite Micro's reference kernels:
    /// `RoundingDivideByPOT(SaturatingRoundingDoublingHighMul(x * (1 << left_shift), m), right_shift)`
    /// with left_shift = max(shift, 0), right_shift = max(−shift, 0).
    ///
    /// TFLite computes `x * (1 << left_shift)` in C++ `int`: overflow is formally undefined, and
    /// the compiled code (a plain multiply or shift) wraps modulo 2^32; `x &<< leftShift`
    /// reproduces that wrap. (It only matters when |x| · 2^shift >= 2^31, i.e. for a real
    /// multiplier > 1 applied to an accumulator that already overflows the output.) TFLite
    /// gets shift from `QuantizeMultiplier` and relies on left_shift <= 31 and right_shift <= 31;
    /// both are clamped to 31 here (a defined result where C++ would be undefined).
    @inline(__always)
    public static func multiplyByQuantizedMultiplier(_ x: Int32, _ multiplier: Int32, _ shift: Int32) -> Int32 {
        let leftShift = Swift.min(Swift.max(shift, 0), 31)
        let rightShift = -Swift.min(Swift.max(shift, -31), 0) // negation of a value in −31...0
        // `&<<`: leftShift is in 0...31, so the shift-amount masking is a no-op; the bits
        // shifted out are the int32 wrap of TFLite's `x * (1 << left_shift)` (see above).
        let scaled = x &<< leftShift
        return roundingDivideByPOTInRange(saturatingRoundingDoublingHighMul(scaled, multiplier), rightShift)
    }

    /// TFLite's single-rounding `MultiplyByQuantizedMultiplier` (`TFLITE_SINGLE_ROUNDING` = 1,
    /// e.g. CMSIS-NN builds): with total_shift = 31 − shift,
    /// `(Int64(x) · Int64(multiplier) + 2^(total_shift − 1)) >> total_shift`, i.e. the exact
    /// product x · multiplier · 2^(shift − 31) rounded once, ties toward +infinity.
    ///
    /// TFLite asserts multiplier >= 0 and −31 <= shift <= 30 (debug builds only). Here shift is
    /// clamped into −31...30; a negative multiplier is computed with the same formula (what a
    /// release TFLite build does; the 64-bit arithmetic cannot overflow for any Int32 inputs).
    /// The final narrowing is TFLite's `static_cast<int32_t>`: it wraps modulo 2^32 when the
    /// result does not fit, which with multiplier >= 0 can only happen for shift > 0.
    @inline(__always)
    public static func multiplyByQuantizedMultiplierSingleRounding(_ x: Int32, _ multiplier: Int32, _ shift: Int32) -> Int32 {
        let clampedShift = Swift.min(Swift.max(shift, -31), 30)
        let totalShift = Int64(31 &- clampedShift) // `&-`: 31 − [−31, 30] = [1, 62], no wrap.
        // `&<<`, `&>>`: totalShift − 1 in 0...61 and totalShift in 1...62 are below 64, so the
        // amount masking is a no-op. `&-`: totalShift >= 1.
        let round = Int64(1) &<< (totalShift &- 1)
        // `&*`, `&+`: |x · multiplier| <= 2^62 and round <= 2^61, so the sum stays within
        // (−2^63, 2^63): no wrap, the `&` only drops the dead overflow trap.
        let result = (Int64(x) &* Int64(multiplier) &+ round) &>> totalShift
        return Int32(truncatingIfNeeded: result) // TFLite's static_cast<int32_t> (see above).
    }

    // MARK: Quantizing a real multiplier

    /// C's `frexp` for Double, from the bit pattern: x = fraction · 2^exponent with
    /// |fraction| in [0.5, 1) for finite nonzero x (subnormals included); ±0 → (±0, 0);
    /// infinities and NaN → (x, 0), as glibc does.
    @inline(__always)
    public static func frexp(_ x: Double) -> (fraction: Double, exponent: Int32) {
        let bits = x.bitPattern
        let magnitude = bits & 0x7FFF_FFFF_FFFF_FFFF
        if magnitude == 0 || magnitude >= 0x7FF0_0000_0000_0000 { return (x, 0) }
        let (significand, exponent) = normalizedSignificand(magnitude)
        // Exponent field 1022 places the fraction in [0.5, 1); keep the sign bit.
        let fractionBits = (bits & 0x8000_0000_0000_0000) | (1022 << 52) | (significand & 0x000F_FFFF_FFFF_FFFF)
        return (Double(bitPattern: fractionBits), exponent)
    }

    /// For the bit pattern of a finite, nonzero, non-negative Double: the 53-bit significand
    /// s in [2^52, 2^53) and the frexp exponent e with value = s · 2^(e − 53).
    @inline(__always)
    static func normalizedSignificand(_ magnitude: UInt64) -> (significand: UInt64, exponent: Int32) {
        let biased = Int32(truncatingIfNeeded: magnitude >> 52) // sign bit is clear: 0...2046
        let mantissa = magnitude & 0x000F_FFFF_FFFF_FFFF
        if biased == 0 {
            // Subnormal: value = mantissa · 2^−1074, mantissa != 0. Move its top bit to bit 52.
            let normalize = mantissa.leadingZeroBitCount - 11 // 1...52
            return (mantissa << normalize, -1021 - Int32(normalize))
        }
        // Normal: value = (2^52 + mantissa) · 2^(biased − 1075).
        return (mantissa | (1 << 52), biased - 1022)
    }

    /// TFLite's `QuantizeMultiplier`: real ≈ multiplier · 2^(shift − 31).
    ///
    /// - 0 (either sign) → (0, 0). Non-finite input → (0, 0) (TFLite's std::frexp path has no
    ///   defined result for it).
    /// - Otherwise q = frexp(real) (|q| in [0.5, 1)), q_fixed = round(q · 2^31) with ties away
    ///   from zero (std::round), computed exactly from the significand bits
    ///   (q · 2^31 = s / 2^22 for the 53-bit significand s). If q_fixed == 2^31 it becomes
    ///   2^30 and shift += 1. Then if shift < −31 the result is (0, 0) ("flush denormals").
    ///   Note the order: 2^−32 gives (2^30, −31), not (0, 0); 2^−33 and below give (0, 0).
    /// - Negative reals are quantized as TFLite does (it only has a commented-out check):
    ///   multiplier = −round(|q| · 2^31), in [−2^31, −2^30]; TFLite's renormalization compares
    ///   with +2^31 only, so −2^31 stays (Int32.min, shift), which still represents
    ///   −1 · 2^shift exactly.
    /// - `singleRounding`: TFLite's `TFLITE_SINGLE_ROUNDING` build additionally saturates
    ///   shift > 30 to (Int32.max, 30). Without it, large reals keep their shift
    ///   (e.g. 2^40 → (2^30, 41)); `multiplyByQuantizedMultiplier` clamps left shifts to 31.
    @inline(__always)
    public static func quantizeMultiplier(_ realMultiplier: Double, singleRounding: Bool = false) -> (multiplier: Int32, shift: Int32) {
        let bits = realMultiplier.bitPattern
        let magnitude = bits & 0x7FFF_FFFF_FFFF_FFFF
        if magnitude == 0 || magnitude >= 0x7FF0_0000_0000_0000 { return (0, 0) }
        let (significand, exponent) = normalizedSignificand(magnitude)
        // round(s / 2^22), ties away from zero, on the magnitude: in [2^30, 2^31].
        var qFixed = Int64((significand + (1 << 21)) >> 22)
        var shift = exponent
        if bits >> 63 != 0 {
            qFixed = -qFixed
        } else if qFixed == 1 << 31 {
            qFixed = 1 << 30
            shift += 1
        }
        if shift < -31 { return (0, 0) }
        if singleRounding && shift > 30 { return (Int32.max, 30) }
        return (Int32(qFixed), shift) // in [−2^31, 2^31 − 1]: cannot trap
    }

    // MARK: Requantization to int8

    /// Clamps to [−128, 127].
    @inline(__always)
    public static func saturatingInt8(_ x: Int32) -> Int8 {
        Int8(truncatingIfNeeded: Swift.min(Swift.max(x, -128), 127)) // in range: exact
    }

    /// The output stage of TFLite Micro's int8 reference kernels (conv, depthwise conv, fully
    /// connected): `acc = MultiplyByQuantizedMultiplier(acc, m, s); acc += output_offset;
    /// acc = max(acc, act_min); acc = min(acc, act_max); out = int8(acc)`, with the double- or
    /// single-rounding multiply. The `+ outputZeroPoint` is int32 arithmetic that wraps, as the
    /// compiled C++ does (it cannot wrap for a real kernel: |acc| would have to be within 128 of
    /// 2^31). TFLite narrows with static_cast<int8_t>; here the narrowing saturates, which is
    /// the same whenever min/max lie in −128...127 (as TFLite's activation ranges always do).
    @inline(__always)
    public static func requantize(
        _ acc: Int32, multiplier: Int32, shift: Int32, outputZeroPoint: Int32,
        min: Int32, max: Int32, singleRounding: Bool = false
    ) -> Int8 {
        let scaled = singleRounding
            ? multiplyByQuantizedMultiplierSingleRounding(acc, multiplier, shift)
            : multiplyByQuantizedMultiplier(acc, multiplier, shift)
        let shifted = scaled &+ outputZeroPoint // `&+`: the int32 wrap of TFLite's `acc += output_offset`.
        return saturatingInt8(Swift.min(Swift.max(shifted, min), max)) // max first, then min, as TFLite
    }
}
