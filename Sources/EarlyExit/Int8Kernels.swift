// int8 kernels: integer-only arithmetic with TFLite's requantization (multiplier and shift).

/// Requantization parameters of one output channel group, resolved by the interpreter.
@usableFromInline
struct Requantization {
    /// Per-channel multipliers and shifts, or nil to use the scalar `multiplier` and `shift`.
    var multipliers: UnsafePointer<Int32>?
    var shifts: UnsafePointer<Int32>?
    var multiplier: Int32 = 0
    var shift: Int32 = 0
    var outputZeroPoint: Int32
    var minimum: Int32
    var maximum: Int32
    var singleRounding: Bool

    @inline(__always)
    func apply(_ accumulator: Int32, channel: Int) -> Int8 {
        let m = multipliers?[channel] ?? multiplier
        let s = shifts?[channel] ?? shift
        let scaled = singleRounding
            ? FixedPoint.multiplyByQuantizedMultiplierSingleRounding(accumulator, m, s)
            : FixedPoint.multiplyByQuantizedMultiplier(accumulator, m, s)
        // Saturating add: the scaled value may be near Int32's limits for hostile parameters.
        let (sum, overflow) = scaled.addingReportingOverflow(outputZeroPoint)
        let value = overflow ? (scaled > 0 ? Int32.max : Int32.min) : sum
        return Int8(truncatingIfNeeded: min(max(value, minimum), maximum))
    }
}

@inline(__always)
func loadInt16x16(_ pointer: UnsafePointer<Int8>) -> SIMD16<Int16> {
    SIMD16<Int16>(truncatingIfNeeded: UnsafeRawPointer(pointer).loadUnaligned(as: SIMD16<Int8>.self))
}

@inline(__always)
func loadInt16x8(_ pointer: UnsafePointer<Int8>) -> SIMD8<Int16> {
    SIMD8<Int16>(truncatingIfNeeded: UnsafeRawPointer(pointer).loadUnaligned(as: SIMD8<Int8>.self))
}

/// Sums of adjacent products: lane i = a[2i]·b[2i] + a[2i+1]·b[2i+1]. On 128-bit vectors this
/// is the shape LLVM lowers to one `pmaddwd` (SSE2), `vpmaddwd` (AVX) or `smull`/`smlal` pairs (NEON).
@inline(__always)
func multiplyAddPairs(_ a: SIMD8<Int16>, _ b: SIMD8<Int16>) -> SIMD4<Int32> {
    // Products of int8-range values fit Int32 easily; wrapping operators never wrap here.
    SIMD4<Int32>(truncatingIfNeeded: a.evenHalf) &* SIMD4<Int32>(truncatingIfNeeded: b.evenHalf)
        &+ SIMD4<Int32>(truncatingIfNeeded: a.oddHalf) &* SIMD4<Int32>(truncatingIfNeeded: b.oddHalf)
}

/// The 16-lane form, used by dot products.
@inline(__always)
func multiplyAddPairs(_ a: SIMD16<Int16>, _ b: SIMD16<Int16>) -> SIMD8<Int32> {
    let low = multiplyAddPairs(a.lowHalf, b.lowHalf), high = multiplyAddPairs(a.highHalf, b.highHalf)
    return SIMD8<Int32>(lowHalf: low, highHalf: high)
}

/// The pair (w0, w1) repeated four times as eight Int16 lanes.
@inline(__always)
func broadcastPair(_ w0: Int8, _ w1: Int8) -> SIMD8<Int16> {
    let bits = UInt32(UInt16(bitPattern: Int16(w0))) | (UInt32(UInt16(bitPattern: Int16(w1))) << 16)
    return unsafeBitCast(SIMD4<UInt32>(repeating: bits), to: SIMD8<Int16>.self)
}

/// The int8 kernels. Accumulation is exact in Int32; every output is requantized with an
/// integer multiplier and shift. No floating point is used.
public enum Int8Kernels {
    /// Bytes of the pair-interleaved column buffer of a convolution with `k` rows and `n` columns.
    public static func pairedScratchBytes(k: Int, n: Int) -> Int { (k + 1) / 2 * 2 * FloatKernels.paddedColumns(n) }

    /// `// x (Cin,H,W) -> pairs ((K+1)/2, ldb, 2)`: image-to-column with rows k=2p and 2p+1
    /// interleaved column by column; padding reads as `zeroPoint` (the real 0).
    static func im2colPairs(_ x: UnsafePointer<Int8>, _ g: WindowGeometry, zeroPoint: Int8,
                            columns: UnsafeMutablePointer<Int8>, ldb: Int) {
        let k = g.channelsIn * g.kernelHeight * g.kernelWidth
        let pixels = g.heightOut * g.widthOut
        var row = 0
        for ci in 0..<g.channelsIn {
            let plane = x + ci * g.heightIn * g.widthIn
            for ky in 0..<g.kernelHeight {
                for kx in 0..<g.kernelWidth {
                    let out = columns + (row / 2) * 2 * ldb + (row & 1)
                    var column = 0
                    let shift = kx * g.dilationWidth - g.padLeft
                    let (first, end) = FloatKernels.insideColumns(g, shift: shift)
                    for oy in 0..<g.heightOut {
                        let iy = oy * g.strideHeight - g.padTop + ky * g.dilationHeight
                        let target = out + 2 * column
                        if iy < 0 || iy >= g.heightIn {
                            for ox in 0..<g.widthOut { target[2 * ox] = zeroPoint }
                        } else {
                            let line = plane + iy * g.widthIn + shift
                            for ox in 0..<first { target[2 * ox] = zeroPoint }
                            for ox in first..<end { target[2 * ox] = line[ox * g.strideWidth] }
                            for ox in end..<g.widthOut { target[2 * ox] = zeroPoint }
                        }
                        column += g.widthOut
                    }
                    for pad in pixels..<ldb { out[2 * pad] = 0 }
                    row += 1
                }
            }
        }
        if k & 1 == 1 {
            let out = columns + (k / 2) * 2 * ldb + 1
            for column in 0..<ldb { out[2 * column] = 0 }
        }
    }

    /// `// x (Cin, N) -> pairs`: the pair-interleaved layout of a 1×1 convolution's input.
    static func interleavePairs(_ x: UnsafePointer<Int8>, rows k: Int, columns n: Int,
                                into out: UnsafeMutablePointer<Int8>, ldb: Int) {
        for row in 0..<k {
            let source = x + row * n
            let target = out + (row / 2) * 2 * ldb + (row & 1)
            for column in 0..<n { target[2 * column] = source[column] }
            for column in n..<ldb { target[2 * column] = 0 }
        }
        if k & 1 == 1 {
            let target = out + (k / 2) * 2 * ldb + 1
            for column in 0..<ldb { target[2 * column] = 0 }
        }
    }

    /// `// W (M,K) int8 · B (pairs of K, ldb) + bias (M) -> requantize -> C (M,N) int8`
    ///
    /// `bias` has the input zero point folded in (`bias − zp·ΣW`), so the products use the raw
    /// int8 values. Blocks of 4 rows × 8 columns keep 8 accumulators of 4 lanes in registers
    /// (11 live vectors: no spills even with SSE2's 16); each step multiplies a pair of K.
    static func gemm(m: Int, n: Int, k: Int, weights a: UnsafePointer<Int8>, pairs b: UnsafePointer<Int8>, ldb: Int,
                     bias: UnsafePointer<Int32>, requantization q: Requantization, c: UnsafeMutablePointer<Int8>) {
        let fullPairs = k / 2
        let oddTail = k & 1 == 1
        var j0 = 0
        while j0 < n {
            let valid = min(8, n - j0)
            var i0 = 0
            while i0 < m {
                let rows = min(4, m - i0)
                var a0 = SIMD4<Int32>(), b0 = a0, a1 = a0, b1 = a0, a2 = a0, b2 = a0, a3 = a0, b3 = a0
                let r0 = a + i0 * k
                let r1 = rows > 1 ? r0 + k : r0
                let r2 = rows > 2 ? r0 + 2 * k : r0
                let r3 = rows > 3 ? r0 + 3 * k : r0
                var panel = b + 2 * j0
                for p in 0..<fullPairs {
                    let low = loadInt16x8(panel), high = loadInt16x8(panel + 8)
                    let w0 = broadcastPair(r0[2 * p], r0[2 * p + 1])
                    a0 &+= multiplyAddPairs(w0, low); b0 &+= multiplyAddPairs(w0, high)
                    let w1 = broadcastPair(r1[2 * p], r1[2 * p + 1])
                    a1 &+= multiplyAddPairs(w1, low); b1 &+= multiplyAddPairs(w1, high)
                    let w2 = broadcastPair(r2[2 * p], r2[2 * p + 1])
                    a2 &+= multiplyAddPairs(w2, low); b2 &+= multiplyAddPairs(w2, high)
                    let w3 = broadcastPair(r3[2 * p], r3[2 * p + 1])
                    a3 &+= multiplyAddPairs(w3, low); b3 &+= multiplyAddPairs(w3, high)
                    panel += 2 * ldb
                }
                if oddTail {
                    let low = loadInt16x8(panel), high = loadInt16x8(panel + 8)
                    let last = k - 1
                    let w0 = broadcastPair(r0[last], 0), w1 = broadcastPair(r1[last], 0)
                    let w2 = broadcastPair(r2[last], 0), w3 = broadcastPair(r3[last], 0)
                    a0 &+= multiplyAddPairs(w0, low); b0 &+= multiplyAddPairs(w0, high)
                    a1 &+= multiplyAddPairs(w1, low); b1 &+= multiplyAddPairs(w1, high)
                    a2 &+= multiplyAddPairs(w2, low); b2 &+= multiplyAddPairs(w2, high)
                    a3 &+= multiplyAddPairs(w3, low); b3 &+= multiplyAddPairs(w3, high)
                }
                for r in 0..<rows {
                    let (l, h): (SIMD4<Int32>, SIMD4<Int32>)
                    switch r {
                    case 0: (l, h) = (a0, b0)
                    case 1: (l, h) = (a1, b1)
                    case 2: (l, h) = (a2, b2)
                    default: (l, h) = (a3, b3)
                    }
                    let channel = i0 + r
                    let out = c + channel * n + j0
                    let offset = bias[channel]
                    for lane in 0..<min(valid, 4) { out[lane] = q.apply(l[lane] &+ offset, channel: channel) }
                    if valid > 4 { for lane in 0..<(valid - 4) { out[4 + lane] = q.apply(h[lane] &+ offset, channel: channel) } }
                }
                i0 += 4
            }
            j0 += 8
        }
    }

    /// `// x (Cin,H,W) · W (Cout,Cin/G,Kh,Kw) + bias -> requantize -> y`: the reference loop for
    /// depthwise and grouped convolutions; padding taps are skipped (they are real zeros).
    static func groupedConvolution(_ x: UnsafePointer<Int8>, inputZeroPoint: Int32, weights: UnsafePointer<Int8>,
                                   bias: UnsafePointer<Int32>, _ g: WindowGeometry, requantization q: Requantization,
                                   y: UnsafeMutablePointer<Int8>) {
        let inPerGroup = g.channelsIn / g.groups
        let outPerGroup = g.channelsOut / g.groups
        for co in 0..<g.channelsOut {
            let group = co / outPerGroup
            let filter = weights + co * inPerGroup * g.kernelHeight * g.kernelWidth
            for oy in 0..<g.heightOut {
                for ox in 0..<g.widthOut {
                    var acc = bias[co]
                    for cj in 0..<inPerGroup {
                        let plane = x + (group * inPerGroup + cj) * g.heightIn * g.widthIn
                        let taps = filter + cj * g.kernelHeight * g.kernelWidth
                        for ky in 0..<g.kernelHeight {
                            let iy = oy * g.strideHeight - g.padTop + ky * g.dilationHeight
                            if iy < 0 || iy >= g.heightIn { continue }
                            for kx in 0..<g.kernelWidth {
                                let ix = ox * g.strideWidth - g.padLeft + kx * g.dilationWidth
                                if ix < 0 || ix >= g.widthIn { continue }
                                acc &+= (Int32(plane[iy * g.widthIn + ix]) - inputZeroPoint) * Int32(taps[ky * g.kernelWidth + kx])
                            }
                        }
                    }
                    y[(co * g.heightOut + oy) * g.widthOut + ox] = q.apply(acc, channel: co)
                }
            }
        }
    }

    /// `// W (out,in) int8 · x (in) int8 + bias (folded) -> requantize -> y (out)`
    static func fullyConnected(_ x: UnsafePointer<Int8>, weights: UnsafePointer<Int8>, bias: UnsafePointer<Int32>,
                               inputs: Int, outputs: Int, requantization q: Requantization, y: UnsafeMutablePointer<Int8>) {
        let vectorEnd = inputs / 16 * 16
        for o in 0..<outputs {
            let row = weights + o * inputs
            var sums = SIMD8<Int32>()
            var i = 0
            while i < vectorEnd {
                sums &+= multiplyAddPairs(loadInt16x16(row + i), loadInt16x16(x + i))
                i += 16
            }
            var acc = sums.wrappedSum()
            while i < inputs { acc &+= Int32(row[i]) * Int32(x[i]); i += 1 }
            y[o] = q.apply(acc &+ bias[o], channel: o)
        }
    }

    /// `// A (B?,M,K) · B (B?,K,N) -> C (B,M,N)`, both activations: Σ (a − za)(b − zb), requantized.
    static func matmul(_ a: UnsafePointer<Int8>, zeroPointA: Int32, _ b: UnsafePointer<Int8>, zeroPointB: Int32,
                       c: UnsafeMutablePointer<Int8>, lhs: TensorShape, rhs: TensorShape, out: TensorShape,
                       requantization q: Requantization) {
        let batch = BatchedMatrices(lhs: lhs, rhs: rhs, out: out)
        let m = batch.m, n = batch.n, k = batch.k
        batch.forEach { aOffset, bOffset, cOffset in
            let matrixA = a + aOffset, matrixB = b + bOffset, result = c + cOffset
            for i in 0..<m {
                let row = matrixA + i * k
                for j in 0..<n {
                    var acc: Int32 = 0
                    var column = matrixB + j
                    for p in 0..<k {
                        // int8 differences times int8 differences summed over k ≤ 2^28 terms stay far below 2^31 for our shapes; wrapping is TFLite's int32 accumulator behavior.
                        acc &+= (Int32(row[p]) - zeroPointA) * (Int32(column.pointee) - zeroPointB)
                        column += n
                    }
                    result[i * n + j] = q.apply(acc, channel: 0)
                }
            }
        }
    }

    /// TFLite's int8 add: both inputs rescaled to a common scale with `leftShift` bits of
    /// headroom, summed, and requantized; NumPy broadcasting over up to four axes.
    static func add(_ a: UnsafePointer<Int8>, _ b: UnsafePointer<Int8>, y: UnsafeMutablePointer<Int8>,
                    lhs: TensorShape, rhs: TensorShape, out: TensorShape, parameters p: AddParameters) {
        DataMovement.broadcast(a, b, y: y, lhs: lhs, rhs: rhs, out: out) { l, r in p.apply(l, r) }
    }

    /// TFLite's int8 mul: (a − za)(b − zb), requantized; NumPy broadcasting.
    static func mul(_ a: UnsafePointer<Int8>, zeroPointA: Int32, _ b: UnsafePointer<Int8>, zeroPointB: Int32,
                    y: UnsafeMutablePointer<Int8>, lhs: TensorShape, rhs: TensorShape, out: TensorShape, requantization q: Requantization) {
        DataMovement.broadcast(a, b, y: y, lhs: lhs, rhs: rhs, out: out) { l, r in
            q.apply((Int32(l) - zeroPointA) * (Int32(r) - zeroPointB), channel: 0)
        }
    }

    /// `// x (C,S) -> requantize(w[c]·(x − zp) + bias[c]) -> y`: batch normalization per channel.
    static func batchNorm(_ x: UnsafePointer<Int8>, inputZeroPoint: Int32, scale: UnsafePointer<Int8>, bias: UnsafePointer<Int32>,
                          y: UnsafeMutablePointer<Int8>, channels: Int, spatial: Int, requantization q: Requantization) {
        for c in 0..<channels {
            let w = Int32(scale[c]), offset = bias[c]
            let input = x + c * spatial, output = y + c * spatial
            for i in 0..<spatial { output[i] = q.apply((Int32(input[i]) - inputZeroPoint) * w + offset, channel: c) }
        }
    }

    /// `// y = table[x + 128]`: tanh, sigmoid (and any element-wise function) by lookup.
    static func lookup(_ x: UnsafePointer<Int8>, table: UnsafePointer<Int8>, y: UnsafeMutablePointer<Int8>, count: Int) {
        for i in 0..<count { y[i] = table[Int(x[i]) + 128] }
    }

    /// `// y = max(x, zero point)`: ReLU with input and output sharing quantization.
    static func relu(_ x: UnsafePointer<Int8>, zeroPoint: Int8, y: UnsafeMutablePointer<Int8>, count: Int) {
        for i in 0..<count { y[i] = max(x[i], zeroPoint) }
    }

    /// Rounded division of a window sum by its count (half away from zero), as TFLite's pooling.
    @inline(__always)
    static func roundedAverage(_ sum: Int32, _ count: Int32) -> Int32 {
        sum > 0 ? (sum + count / 2) / count : (sum - count / 2) / count
    }

    /// `// x (C,H,W) -> y (C,Ho,Wo)`: max or average pooling, input and output sharing quantization.
    static func pool(_ x: UnsafePointer<Int8>, _ g: WindowGeometry, zeroPoint: Int8, y: UnsafeMutablePointer<Int8>,
                     maximum: Bool, countIncludePad: Bool) {
        for c in 0..<g.channelsIn {
            let plane = x + c * g.heightIn * g.widthIn
            for oy in 0..<g.heightOut {
                for ox in 0..<g.widthOut {
                    var best = Int8.min
                    var sum: Int32 = 0
                    var count: Int32 = 0
                    for ky in 0..<g.kernelHeight {
                        let iy = oy * g.strideHeight - g.padTop + ky
                        if iy < 0 || iy >= g.heightIn { continue }
                        for kx in 0..<g.kernelWidth {
                            let ix = ox * g.strideWidth - g.padLeft + kx
                            if ix < 0 || ix >= g.widthIn { continue }
                            let v = plane[iy * g.widthIn + ix]
                            best = max(best, v)
                            sum += Int32(v)
                            count += 1
                        }
                    }
                    let value: Int8
                    if maximum {
                        value = best
                    } else {
                        if countIncludePad {
                            let window = Int32(FloatKernels.window(g, oy: oy, ox: ox))
                            sum += (window - count) * Int32(zeroPoint)
                            count = window
                        }
                        value = Int8(truncatingIfNeeded: min(max(roundedAverage(sum, max(count, 1)), -128), 127))
                    }
                    y[(c * g.heightOut + oy) * g.widthOut + ox] = value
                }
            }
        }
    }

    /// `// x (C,S) -> y (C)`: the spatial mean, input and output sharing quantization.
    static func globalAveragePool(_ x: UnsafePointer<Int8>, y: UnsafeMutablePointer<Int8>, channels: Int, spatial: Int) {
        for c in 0..<channels {
            var sum: Int32 = 0
            let plane = x + c * spatial
            for i in 0..<spatial { sum += Int32(plane[i]) }
            y[c] = Int8(truncatingIfNeeded: min(max(roundedAverage(sum, Int32(spatial)), -128), 127))
        }
    }

    /// `// x (rows, n) -> softmax along the last axis -> y`, integer only.
    ///
    /// `table[d]` = round(2^20 · exp(−s_in · d)) for d = max − x in 0…255 (built offline);
    /// each output is zp + round(e/Σe · 2^8/s_out / 2^8) with `inverseOutputScale` =
    /// round(2^8/s_out), computed with 64-bit integer division.
    static func softmax(_ x: UnsafePointer<Int8>, table: UnsafePointer<Int32>, inverseOutputScale: Int32, outputZeroPoint: Int32,
                        y: UnsafeMutablePointer<Int8>, rows: Int, n: Int) {
        for r in 0..<rows {
            let input = x + r * n, output = y + r * n
            var largest = Int8.min
            for i in 0..<n { largest = max(largest, input[i]) }
            var total: Int64 = 0
            for i in 0..<n { total += Int64(table[Int(Int16(largest) - Int16(input[i]))]) }
            let denominator = total << 8
            for i in 0..<n {
                let numerator = Int64(table[Int(Int16(largest) - Int16(input[i]))]) * Int64(inverseOutputScale)
                let value = Int64(outputZeroPoint) + (numerator + denominator / 2) / denominator
                output[i] = Int8(truncatingIfNeeded: min(max(value, -128), 127))
            }
        }
    }
}

/// Parameters of TFLite's int8 add, from the operator's attributes and the tensors' zero points.
struct AddParameters {
    var leftShift: Int32
    var zeroPointA: Int32, multiplierA: Int32, shiftA: Int32
    var zeroPointB: Int32, multiplierB: Int32, shiftB: Int32
    var outputZeroPoint: Int32, multiplierOut: Int32, shiftOut: Int32
    var minimum: Int32, maximum: Int32

    @inline(__always)
    func apply(_ a: Int8, _ b: Int8) -> Int8 {
        let shiftedA = (Int32(a) - zeroPointA) << leftShift
        let shiftedB = (Int32(b) - zeroPointB) << leftShift
        let scaledA = FixedPoint.multiplyByQuantizedMultiplier(shiftedA, multiplierA, shiftA)
        let scaledB = FixedPoint.multiplyByQuantizedMultiplier(shiftedB, multiplierB, shiftB)
        let raw = FixedPoint.multiplyByQuantizedMultiplier(scaledA &+ scaledB, multiplierOut, shiftOut)
        let value = raw.addingReportingOverflow(outputZeroPoint)
        let clamped = value.overflow ? (raw > 0 ? maximum : minimum) : min(max(value.partialValue, minimum), maximum)
        return Int8(truncatingIfNeeded: clamped)
    }
}
