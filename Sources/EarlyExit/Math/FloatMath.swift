// Elementary functions in pure Swift, because the core links no math library.

/// `exp`, `log`, `tanh` and `sigmoid` for Float, accurate to a few ulp over the float range.
public enum FloatMath {
    /// e^x. Range reduction x = n·ln2 + r, |r| ≤ ln2/2, then a degree-7 Taylor polynomial
    /// (truncation error below 2e-8 relative); saturates to 0 and +infinity outside ±88.7.
    @inline(__always)
    public static func exp(_ x: Float) -> Float {
        if x.isNaN { return x }
        if x > 88.72283 { return .infinity }
        if x < -103.97 { return 0 }
        let n = (x * 1.442695041).rounded(.toNearestOrEven)
        // ln2 split into a high part exact in float and a low correction.
        var r = x - n * 0.693145751953125
        r = r - n * 1.428606765330187e-06
        var p: Float = 1.0 / 5040
        p = p * r + 1.0 / 720
        p = p * r + 1.0 / 120
        p = p * r + 1.0 / 24
        p = p * r + 1.0 / 6
        p = p * r + 0.5
        p = p * r + 1
        p = p * r + 1
        let k = Int32(n)
        // Scale by 2^k in two steps so that k down to -149 reaches the subnormal range.
        if k < -125 {
            return p * Float(bitPattern: UInt32(Int32(127 + k + 64)) << 23) * Float(bitPattern: UInt32(127 - 64) << 23)
        }
        if k > 127 {
            return p * Float(bitPattern: UInt32(127 + k - 1) << 23) * 2
        }
        return p * Float(bitPattern: UInt32(127 + k) << 23)
    }

    /// Natural logarithm; log(0) = -infinity, log of a negative number or NaN = NaN.
    @inline(__always)
    public static func log(_ x: Float) -> Float {
        if x.isNaN || x < 0 { return .nan }
        if x == 0 { return -.infinity }
        if x == .infinity { return x }
        var value = x
        var exponent: Int32 = 0
        if value < Float.leastNormalMagnitude {
            value *= 8388608 // 2^23
            exponent -= 23
        }
        let bits = value.bitPattern
        exponent += Int32((bits >> 23) & 0xFF) - 127
        var m = Float(bitPattern: (bits & 0x007F_FFFF) | 0x3F80_0000) // [1, 2)
        if m > 1.41421356 {
            m *= 0.5
            exponent += 1
        }
        // log(m) = 2·atanh(s), s = (m−1)/(m+1), |s| ≤ 0.1716.
        let s = (m - 1) / (m + 1)
        let s2 = s * s
        var p: Float = 1.0 / 11
        p = p * s2 + 1.0 / 9
        p = p * s2 + 1.0 / 7
        p = p * s2 + 1.0 / 5
        p = p * s2 + 1.0 / 3
        p = p * s2 + 1
        return 2 * s * p + Float(exponent) * 0.6931471805599453
    }

    /// Hyperbolic tangent: an odd Taylor polynomial near 0, `1 − 2/(e^{2|x|}+1)` elsewhere.
    @inline(__always)
    public static func tanh(_ x: Float) -> Float {
        if x.isNaN { return x }
        let a = abs(x)
        if a < 0.5 {
            let x2 = x * x
            var p: Float = -0.0014558344 // −929569/638512875
            p = p * x2 + 21844.0 / 6081075
            p = p * x2 - 1382.0 / 155925
            p = p * x2 + 62.0 / 2835
            p = p * x2 - 17.0 / 315
            p = p * x2 + 2.0 / 15
            p = p * x2 - 1.0 / 3
            return x + x * x2 * p
        }
        if a > 9.1 { return x > 0 ? 1 : -1 }
        let t = 1 - 2 / (exp(2 * a) + 1)
        return x > 0 ? t : -t
    }

    /// The logistic function 1/(1+e^{−x}).
    @inline(__always)
    public static func sigmoid(_ x: Float) -> Float {
        if x >= 0 { return 1 / (1 + exp(-x)) }
        let e = exp(x)
        return e / (1 + e)
    }

    /// `round(value / scale) + zeroPoint` clamped to int8, rounding half away from zero: exactly
    /// `Int8(clamp((value / scale).rounded() + Float(zeroPoint)))` with NaN giving 0, as the
    /// interpreter has always quantized inputs, but without the libm `roundf` call per value
    /// (10 µs of a 230 µs int8 run). The quotient is clamped to ±1000 first (any value beyond
    /// clamps to the same int8), where truncating to Int32 and subtracting are exact.
    @inline(__always)
    public static func quantize(_ value: Float, scale: Float, zeroPoint: Int32) -> Int8 {
        let quotient = value / scale
        if quotient.isNaN { return 0 }
        let bounded = Swift.max(-1000, Swift.min(1000, quotient))
        var integer = Int32(bounded) // truncation toward zero
        let fraction = bounded - Float(integer) // exact: |bounded| ≤ 1000
        if fraction >= 0.5 { integer += 1 } else if fraction <= -0.5 { integer -= 1 }
        return Int8(Swift.max(-128, Swift.min(127, integer + zeroPoint)))
    }
}
