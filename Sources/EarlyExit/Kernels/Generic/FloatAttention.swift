// The float32 kernels of the attention branches: softmax over the last axis with a vector exp,
// the pooling matrix product, and 1×1 convolutions to fewer output channels than a vector.

/// e^x lane by lane for finite x ≤ 0 (softmax arguments x − max): FloatMath.exp's range
/// reduction and degree-7 polynomial, in vectors (fused multiply-adds where the instruction set
/// has them, so results may differ from the scalar function in the last bit); results below
/// 2^−126 are 0. Only integer lane operations select (no comparisons: a generic select or
/// `pointwiseMax` compiles to a loop or a call).
@inlinable @inline(__always)
func exponentialNonPositive<A: FloatArithmetic>(_: A.Type, _ x: A.Vector) -> A.Vector {
    typealias V = A.Vector
    let t = x * V(repeating: 1.442695041)
    // Adding 1.5·2^23 rounds t to the nearest integer (ties to even) in the low mantissa bits;
    // for t below −2^22 the bits are no longer that integer, but then k below is under −126
    // too, and the lane is zeroed.
    let magic = V(repeating: 12582912)
    let rounded = t + magic
    let n = rounded - magic
    let k = A.bits(rounded) &- A.bits(magic)
    let underflow = (k &+ 126) &>> 31 // all ones where k < −126: e^x < 2^−126, returned as 0
    var r = x - n * V(repeating: 0.693145751953125)
    r = r - n * V(repeating: 1.428606765330187e-06)
    // Zero the reduced argument where the result underflows, so the polynomial stays finite
    // for any finite x (it is multiplied by 0 there).
    r = A.float(A.bits(r) & ~underflow)
    var p = V(repeating: 1.0 / 5040)
    p = A.multiplyAdd(p, r, V(repeating: 1.0 / 720))
    p = A.multiplyAdd(p, r, V(repeating: 1.0 / 120))
    p = A.multiplyAdd(p, r, V(repeating: 1.0 / 24))
    p = A.multiplyAdd(p, r, V(repeating: 1.0 / 6))
    p = A.multiplyAdd(p, r, V(repeating: 0.5))
    p = A.multiplyAdd(p, r, V(repeating: 1))
    p = A.multiplyAdd(p, r, V(repeating: 1))
    // 2^k from the integer in `rounded`'s low bits, 0 where it underflows.
    let scale = ((k &+ 127) &<< 23) & ~underflow
    return p * A.float(scale)
}

/// `// x (rows, n) -> softmax along n -> y`: max-subtracted, in vectors.
@inlinable
public func softmaxRows<A: FloatArithmetic>(_: A.Type, _ x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>, rows: Int, n: Int) {
    typealias V = A.Vector
    let w = V.scalarCount
    for row in 0..<rows {
        let input = x + row * n, output = y + row * n
        // The row's largest value, in vectors (a scalar loop is one compare-and-select chain).
        var largest = -Float.infinity
        var i = 0
        if n >= w {
            var lanes = V(repeating: -Float.infinity)
            while i + w <= n { lanes = A.maximum(lanes, loadVector(input + i)); i += w }
            for lane in 0..<w { largest = max(largest, lanes[lane]) }
        }
        while i < n { largest = max(largest, input[i]); i += 1 }
        let shift = V(repeating: largest)
        var total = V()
        i = 0
        while i + w <= n {
            let e = exponentialNonPositive(A.self, loadVector(input + i) - shift)
            store(e, output + i)
            total += e
            i += w
        }
        var sum = A.sum(total)
        while i < n {
            let e = exponentialNonPositive(A.self, V(repeating: input[i] - largest))[0]
            output[i] = e
            sum += e
            i += 1
        }
        let scale = V(repeating: 1 / sum)
        i = 0
        while i + w <= n { store((loadVector(output + i) as V) * scale, output + i); i += w }
        while i < n { output[i] *= 1 / sum; i += 1 }
    }
}

/// `// A (M, K) · B (K, N) -> C (M, N)`: rows of B in vectors (the attention pooling: M heads,
/// K positions, N channels).
@inlinable
public func matmulRows<A: FloatArithmetic>(_: A.Type, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, c: UnsafeMutablePointer<Float>,
                                           m: Int, k: Int, n: Int) {
    typealias V = A.Vector
    let w = V.scalarCount
    for i in 0..<m {
        let row = a + i * k, out = c + i * n
        var j = 0
        while j + 2 * w <= n {
            var c0 = V(), c1 = V()
            var line = b + j
            for p in 0..<k {
                let s = V(repeating: row[p])
                c0 = A.multiplyAdd(s, loadVector(line), c0)
                c1 = A.multiplyAdd(s, loadVector(line + w), c1)
                line += n
            }
            store(c0, out + j)
            store(c1, out + j + w)
            j += 2 * w
        }
        while j + w <= n {
            var c0 = V()
            var line = b + j
            for p in 0..<k {
                c0 = A.multiplyAdd(V(repeating: row[p]), loadVector(line), c0)
                line += n
            }
            store(c0, out + j)
            j += w
        }
        while j < n {
            var sum: Float = 0
            for p in 0..<k { sum += row[p] * b[p * n + j] }
            out[j] = sum
            j += 1
        }
    }
}

/// `// x (P, Cin) channels-last · W (Cout, Cin) + b -> y`: a 1×1 convolution to few output
/// channels (fewer than a vector: a column block would be mostly padding), one dot product
/// per pixel and output channel along the input channels. y is NCHW (`[Cout][P]`) or
/// channels-last (`[P][Cout]`).
@inlinable
public func pointwiseFewOutputs<A: FloatArithmetic>(_: A.Type, _ x: UnsafePointer<Float>, weights: UnsafePointer<Float>,
                                                    bias: UnsafePointer<Float>?, y: UnsafeMutablePointer<Float>, pixels: Int,
                                                    channelsIn: Int, channelsOut: Int, channelsLastOutput: Bool, relu: Bool) {
    typealias V = A.Vector
    let w = V.scalarCount
    let vectorEnd = channelsIn / w &* w
    /// The dot product of pixel `p` with output channel `co`'s filter, in vector lanes (the
    /// channels past the last whole vector left out).
    @inline(__always) func products(_ p: Int, _ co: Int) -> V {
        let input = x + p &* channelsIn, filter = weights + co &* channelsIn
        var acc = V()
        var c = 0
        while c < vectorEnd {
            acc = A.multiplyAdd(loadVector(input + c), loadVector(filter + c), acc)
            c &+= w
        }
        return acc
    }
    @inline(__always) func tail(_ p: Int, _ co: Int) -> Float {
        var sum: Float = 0
        var c = vectorEnd
        while c < channelsIn { sum += x[p &* channelsIn &+ c] * weights[co &* channelsIn &+ c]; c &+= 1 }
        return sum
    }
    @inline(__always) func put(_ value: Float, _ p: Int, _ co: Int) {
        y[channelsLastOutput ? p &* channelsOut &+ co : co &* pixels &+ p] = relu ? max(value, 0) : value
    }
    var p = 0
    // Whole channel vectors and a planar output: each V×V block (V pixels × V channels) is
    // transposed in registers, shared by every output channel, whose plane then gains V
    // multiply-adds of a channel vector by a broadcast weight (fewOutputsBlock4/8/16). A
    // transposition costs about as many shuffles as one output channel's pair-sum reduction
    // (which serves all its channel vectors at once), so this pays while the channel blocks
    // are fewer than the output channels: 16 → 2 at 28×28 takes 2.2 µs instead of 3.9, while
    // 64 → 2 at 14×14 stays with the reduction (1.7 µs against 2.2; AVX-512, --layers).
    let blocks = channelsIn / w
    if (w == 4 || w == 8 || w == 16) && vectorEnd > 0 && channelsIn == vectorEnd && !channelsLastOutput
        && blocks &* 6 < channelsOut &* 5 {
        while p &+ w <= pixels {
            var c0 = 0
            while c0 < channelsIn {
                let rows = x + (p &* channelsIn &+ c0), last = c0 &+ w == channelsIn
                switch w {
                case 4: fewOutputsBlock4(A.self, rows, stride: channelsIn, weights: weights, channelsIn: channelsIn, c0: c0, bias: bias,
                                         y: y, pixels: pixels, p: p, channelsOut: channelsOut, last: last, relu: relu)
                case 8: fewOutputsBlock8(A.self, rows, stride: channelsIn, weights: weights, channelsIn: channelsIn, c0: c0, bias: bias,
                                         y: y, pixels: pixels, p: p, channelsOut: channelsOut, last: last, relu: relu)
                default: fewOutputsBlock16(A.self, rows, stride: channelsIn, weights: weights, channelsIn: channelsIn, c0: c0, bias: bias,
                                           y: y, pixels: pixels, p: p, channelsOut: channelsOut, last: last, relu: relu)
                }
                c0 &+= w
            }
            p &+= w
        }
    }
    // V pixels at a time: V product vectors reduced to one vector of V dot products by
    // log2(V) rounds of pair sums (a transposing reduction), instead of V horizontal sums.
    if w >= 4 && vectorEnd > 0 {
        while p &+ w <= pixels {
            for co in 0..<channelsOut {
                let sums = reducedProducts(A.self, w) { products(p &+ $0, co) }
                let b = bias?[co] ?? 0
                if !channelsLastOutput && channelsIn == vectorEnd {
                    var v = sums + V(repeating: b)
                    if relu { v = A.relu(v) }
                    store(v, y + (co &* pixels &+ p))
                } else {
                    for lane in 0..<w { put(sums[lane] + b + tail(p &+ lane, co), p &+ lane, co) }
                }
            }
            p &+= w
        }
    }
    while p < pixels {
        for co in 0..<channelsOut {
            put(A.sum(products(p, co)) + (bias?[co] ?? 0) + tail(p, co), p, co)
        }
        p &+= 1
    }
}

extension SIMD where Scalar == Float {
    /// `a`'s even lanes, then `b`'s (after specialization one two-source shuffle).
    @inlinable @inline(__always)
    init(evenLanesOf a: Self, _ b: Self) {
        self.init()
        let h = Self.scalarCount / 2
        for i in 0..<h { self[i] = a[2 &* i]; self[h &+ i] = b[2 &* i] }
    }
    /// `a`'s odd lanes, then `b`'s.
    @inlinable @inline(__always)
    init(oddLanesOf a: Self, _ b: Self) {
        self.init()
        let h = Self.scalarCount / 2
        for i in 0..<h { self[i] = a[2 &* i &+ 1]; self[h &+ i] = b[2 &* i &+ 1] }
    }
}

/// `V` vectors made by `vector(i)` reduced to the vector of their lane sums (lane i: the sum of
/// vector i's lanes), by rounds of `pairSums`; V is 4, 8 or 16.
@inlinable @inline(__always)
func reducedProducts<A: FloatArithmetic>(_: A.Type, _ w: Int, _ vector: (Int) -> A.Vector) -> A.Vector {
    typealias V = A.Vector
    // Round 1 pairs vectors 2i and 2i+1; each later round pairs the previous round's results.
    @inline(__always) func quad(_ base: Int) -> V {
        A.pairSums(A.pairSums(vector(base), vector(base &+ 1)), A.pairSums(vector(base &+ 2), vector(base &+ 3)))
    }
    switch w {
    case 4:
        return quad(0)
    case 8:
        return A.pairSums(quad(0), quad(4))
    default:
        return A.pairSums(A.pairSums(quad(0), quad(4)), A.pairSums(quad(8), quad(12)))
    }
}
