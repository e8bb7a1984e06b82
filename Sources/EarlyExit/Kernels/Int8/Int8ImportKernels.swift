// int8 kernels of the operators added for ONNX import breadth: clamp, reductions, bilinear
// resize and division. Integer arithmetic only.

extension Int8Kernels {
    /// `// y = min(max(x, low), high)`: clip with input and output sharing quantization.
    static func clamp(_ x: UnsafePointer<Int8>, low: Int8, high: Int8, y: UnsafeMutablePointer<Int8>, count: Int) {
        let lo = SIMD16<Int8>(repeating: low), hi = SIMD16<Int8>(repeating: high)
        var i = 0
        while i + 16 <= count {
            let v = UnsafeRawPointer(x + i).loadUnaligned(as: SIMD16<Int8>.self)
            // Comparisons and selects (inlined; the generic pointwiseMin/Max are out-of-line calls).
            let clamped = v.replacing(with: lo, where: v .< lo).replacing(with: hi, where: v .> hi)
            UnsafeMutableRawPointer(y + i).storeBytes(of: clamped, as: SIMD16<Int8>.self)
            i += 16
        }
        while i < count { y[i] = min(max(x[i], low), high); i += 1 }
    }

    /// `// y = requantize(Σ (x − zp))` over the flagged axes (the sum's scale is the input's).
    static func reduceSum(_ x: UnsafePointer<Int8>, zeroPoint: Int32, y: UnsafeMutablePointer<Int8>, input: TensorShape,
                          reduced: SIMD4<Int>, requantization q: Requantization) {
        let scale = q.scale(channel: 0)
        // At most 2^28 elements of |x − zp| ≤ 255: the sum is kept in Int64, then clamped to
        // Int32 (far beyond any value that does not saturate the output anyway).
        DataMovement.reduce(x, y: y, input: input, reduced: reduced, initial: Int64(0), { $0 &+ Int64(Int32($1) &- zeroPoint) },
                            { q.apply(Int32(clamping: $0), scale) })
    }

    /// `// y = max x` over the flagged axes, input and output sharing quantization.
    static func reduceMax(_ x: UnsafePointer<Int8>, y: UnsafeMutablePointer<Int8>, input: TensorShape, reduced: SIMD4<Int>) {
        DataMovement.reduce(x, y: y, input: input, reduced: reduced, initial: Int8.min, { max($0, $1) }, { $0 })
    }

    /// `// x (C,H,W) -> y (C,Ho,Wo)`: bilinear resize with Q15 weights, input and output
    /// sharing quantization: y = zp + round(Σ wy·wx·(x − zp) / 2^30), ties away from zero.
    /// Each axis's two weights sum to 2^15 exactly, so the result is a convex combination.
    static func resizeLinear(_ x: UnsafePointer<Int8>, zeroPoint: Int32, y: UnsafeMutablePointer<Int8>, channels: Int,
                             height: Int, width: Int, rows: ResizeAxis, heightOut: Int, columns: ResizeAxis, widthOut: Int) {
        var target = y
        for c in 0..<channels {
            let plane = x + c * height * width
            for oy in 0..<heightOut {
                let top = plane + Int(rows.index0[oy]) * width, bottom = plane + Int(rows.index1[oy]) * width
                let wy1 = Int64(rows.fixedWeight[oy]), wy0 = 32768 - wy1
                for ox in 0..<widthOut {
                    let x0 = Int(columns.index0[ox]), x1 = Int(columns.index1[ox])
                    let wx1 = Int64(columns.fixedWeight[ox]), wx0 = 32768 - wx1
                    let zp = Int64(zeroPoint)
                    let upper = wx0 * (Int64(top[x0]) - zp) + wx1 * (Int64(top[x1]) - zp)
                    let lower = wx0 * (Int64(bottom[x0]) - zp) + wx1 * (Int64(bottom[x1]) - zp)
                    let value = roundedQuotient(wy0 * upper + wy1 * lower, 1 << 30) + zp
                    target[ox] = Int8(truncatingIfNeeded: min(max(value, -128), 127))
                }
                target += widthOut
            }
        }
    }

    /// The quotient of int8 differences in Q16: round((a − za)·2^16 / (b − zb)), ties away
    /// from zero, limited to ±`limit`; a zero divisor gives ±`limit` (0 for 0/0).
    @inline(__always)
    static func quotientQ16(_ a: Int8, _ zeroPointA: Int32, _ b: Int8, _ zeroPointB: Int32, limit: Int64) -> Int32 {
        let n = Int64(Int32(a) - zeroPointA) << 16, d = Int64(Int32(b) - zeroPointB)
        if d == 0 { return Int32(n > 0 ? limit : n < 0 ? -limit : 0) }
        let q = d > 0 ? roundedQuotient(n, d) : roundedQuotient(-n, -d)
        return Int32(min(max(q, -limit), limit))
    }

    /// `// y = requantize(round((a − za)·2^16 / (b − zb)))` with NumPy broadcasting; the
    /// multiplier carries s_a / (s_b · s_y · 2^16). A zero divisor saturates (0/0 gives the
    /// output zero point).
    static func div(_ a: UnsafePointer<Int8>, zeroPointA: Int32, _ b: UnsafePointer<Int8>, zeroPointB: Int32,
                    y: UnsafeMutablePointer<Int8>, lhs: TensorShape, rhs: TensorShape, out: TensorShape, requantization q: Requantization) {
        let scale = q.scale(channel: 0)
        // Quotients beyond what the multiplier's left shift keeps inside Int32 saturate the
        // output anyway (the multiplier is at least 2^30): limiting them keeps that exact.
        let limit = Int64(Int32.max) >> Int64(scale.leftShift)
        DataMovement.broadcast(a, b, y: y, lhs: lhs, rhs: rhs, out: out) { l, r in
            q.apply(quotientQ16(l, zeroPointA, r, zeroPointB, limit: limit), scale)
        }
    }
}
