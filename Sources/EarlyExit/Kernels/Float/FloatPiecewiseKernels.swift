// float32 kernels of the piecewise activations (clip, hard sigmoid, hard swish, leaky ReLU) and
// of subtraction and division: 8-float vectors, then a scalar tail. Element-wise, so they work
// on either layout.

/// `min(max(v, low), high)` lane by lane, by comparisons and selects: always inlined (the
/// standard library's generic pointwiseMin/pointwiseMax are out-of-line calls on this path).
@inline(__always)
func clamped(_ v: FloatVector, _ low: FloatVector, _ high: FloatVector) -> FloatVector {
    v.replacing(with: low, where: v .< low).replacing(with: high, where: v .> high)
}

extension FloatKernels {
    /// `// y = min(max(x, low), high)` (ReLU6 is low 0, high 6).
    public static func clip(_ x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>, count: Int, low: Float, high: Float) {
        let lo = FloatVector(repeating: low), hi = FloatVector(repeating: high)
        var i = 0
        while i + 8 <= count {
            storeVector(clamped(loadVector(x + i), lo, hi), y + i)
            i += 8
        }
        while i < count { y[i] = min(max(x[i], low), high); i += 1 }
    }

    /// `// y = max(0, min(1, alpha·x + beta))`
    public static func hardSigmoid(_ x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>, count: Int, alpha: Float, beta: Float) {
        let a = FloatVector(repeating: alpha), b = FloatVector(repeating: beta)
        let zero = FloatVector(repeating: 0), one = FloatVector(repeating: 1)
        var i = 0
        while i + 8 <= count {
            storeVector(clamped(loadVector(x + i) * a + b, zero, one), y + i)
            i += 8
        }
        while i < count { y[i] = max(min(x[i] * alpha + beta, 1), 0); i += 1 }
    }

    /// `// y = x · max(0, min(1, x/6 + 1/2))`
    public static func hardSwish(_ x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>, count: Int) {
        let sixth: Float = 1 / 6
        let a = FloatVector(repeating: sixth), b = FloatVector(repeating: 0.5)
        let zero = FloatVector(repeating: 0), one = FloatVector(repeating: 1)
        var i = 0
        while i + 8 <= count {
            let v = loadVector(x + i)
            storeVector(v * clamped(v * a + b, zero, one), y + i)
            i += 8
        }
        while i < count { y[i] = x[i] * max(min(x[i] * sixth + 0.5, 1), 0); i += 1 }
    }

    /// `// y = x ≥ 0 ? x : alpha·x`
    public static func leakyRelu(_ x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>, count: Int, alpha: Float) {
        let a = FloatVector(repeating: alpha), zero = FloatVector(repeating: 0)
        var i = 0
        while i + 8 <= count {
            let v = loadVector(x + i)
            storeVector(v.replacing(with: v * a, where: v .< zero), y + i)
            i += 8
        }
        while i < count { y[i] = x[i] < 0 ? x[i] * alpha : x[i]; i += 1 }
    }

    /// `// a − b -> y` (or `a / b` when `divide`) with NumPy broadcasting over up to four axes.
    public static func subtractOrDivide(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>,
                                        lhs: TensorShape, rhs: TensorShape, out: TensorShape, divide: Bool) {
        if lhs == out && rhs == out {
            let count = out.elementCount
            var i = 0
            while i + 8 <= count {
                let l = loadVector(a + i), r = loadVector(b + i)
                storeVector(divide ? l / r : l - r, y + i)
                i += 8
            }
            while i < count { y[i] = divide ? a[i] / b[i] : a[i] - b[i]; i += 1 }
            return
        }
        if divide {
            DataMovement.broadcast(a, b, y: y, lhs: lhs, rhs: rhs, out: out) { l, r in l / r }
        } else {
            DataMovement.broadcast(a, b, y: y, lhs: lhs, rhs: rhs, out: out) { l, r in l - r }
        }
    }
}
