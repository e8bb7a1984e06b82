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

    /// One channel's multiplier with its shift split into TFLite's left and right shifts,
    /// clamped once (as `FixedPoint.multiplyByQuantizedMultiplier` clamps them per call).
    @usableFromInline
    struct Scale {
        var multiplier: Int32, shift: Int32, leftShift: Int32, rightShift: Int32

        @inline(__always)
        init(multiplier: Int32, shift: Int32) {
            self.multiplier = multiplier
            self.shift = shift
            leftShift = min(max(shift, 0), 31)
            rightShift = -min(max(shift, -31), 0)
        }
    }

    @inline(__always)
    func scale(channel: Int) -> Scale {
        Scale(multiplier: multipliers?[channel] ?? multiplier, shift: shifts?[channel] ?? shift)
    }

    /// Requantizes an accumulator: bit-identical to `FixedPoint.multiplyByQuantizedMultiplier`
    /// (or its single-rounding form), plus the output zero point, clamped to the activation's
    /// bounds (the sum is taken in Int64, so it cannot wrap).
    @inline(__always)
    func apply(_ accumulator: Int32, _ s: Scale) -> Int8 {
        let scaled = singleRounding
            ? FixedPoint.multiplyByQuantizedMultiplierSingleRounding(accumulator, s.multiplier, s.shift)
            // `&<<`: leftShift is in 0...31 (see `scale`); the wrap is TFLite's (see FixedPoint).
            : FixedPoint.roundingDivideByPOTInRange(
                FixedPoint.saturatingRoundingDoublingHighMul(accumulator &<< s.leftShift, s.multiplier), s.rightShift)
        let value = Int64(scaled) &+ Int64(outputZeroPoint) // two Int32 values: no wrap in Int64
        return Int8(truncatingIfNeeded: min(max(value, Int64(minimum)), Int64(maximum)))
    }

    @inline(__always)
    func apply(_ accumulator: Int32, channel: Int) -> Int8 { apply(accumulator, scale(channel: channel)) }

    /// Four accumulators of one channel with double rounding, bit-identical to `apply` lane by
    /// lane (the tests compare them).
    @inline(__always)
    func apply(_ accumulators: SIMD4<Int32>, _ s: Scale) -> SIMD4<Int8> {
        // `&<<`: per-lane shift by leftShift in 0...31, TFLite's wrap as in the scalar form.
        let high = FixedPoint.saturatingRoundingDoublingHighMul(accumulators &<< SIMD4(repeating: s.leftShift), nonNegative: s.multiplier)
        let scaled = FixedPoint.roundingDivideByPOTInRange(high, s.rightShift)
        // The loader keeps zero points in −128…127, so clamping to ±1024 before adding it
        // cannot change the final clamp to [minimum, maximum] ⊂ [−128, 127] (the scalar form
        // adds in Int64 instead), and the sum cannot wrap.
        let bounded = scaled.clamped(lowerBound: SIMD4(repeating: -1024), upperBound: SIMD4(repeating: 1024))
        let value = (bounded &+ SIMD4(repeating: outputZeroPoint)).clamped(lowerBound: SIMD4(repeating: minimum), upperBound: SIMD4(repeating: maximum))
        return SIMD4<Int8>(truncatingIfNeeded: value)
    }

    /// Requantizes `count` accumulators of one channel into `y`: four lanes at a time with
    /// double rounding, one at a time with single rounding and for the remainder.
    @inline(__always)
    func apply(_ accumulators: UnsafePointer<Int32>, count: Int, _ s: Scale, into y: UnsafeMutablePointer<Int8>) {
        var i = 0
        if !singleRounding {
            while i + 4 <= count {
                let values = apply(UnsafeRawPointer(accumulators + i).loadUnaligned(as: SIMD4<Int32>.self), s)
                UnsafeMutableRawPointer(y + i).storeBytes(of: values, as: SIMD4<Int8>.self)
                i += 4
            }
        }
        while i < count { y[i] = apply(accumulators[i], s); i += 1 }
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

@inline(__always)
func loadInt16x8(_ pointer: UnsafePointer<Int16>) -> SIMD8<Int16> {
    UnsafeRawPointer(pointer).loadUnaligned(as: SIMD8<Int16>.self)
}

/// Sums of adjacent products: lane i = a[2i]·b[2i] + a[2i+1]·b[2i+1], exact in Int32.
///
/// Written as one widening multiply followed by the even/odd pair sum because that is the
/// form LLVM reliably lowers to a single `pmaddwd` (SSE2) / `vpmaddwd` (AVX2, AVX-512) per
/// 8 lanes, also when operands are shared by several products as in the GEMM below. (Widening
/// the even and odd halves first and multiplying them separately compiled, measured, to
/// `pmullw` + `pmulhw` + unpacks in about half the cases, at a third of the speed.)
@inline(__always)
func multiplyAddPairs(_ a: SIMD8<Int16>, _ b: SIMD8<Int16>) -> SIMD4<Int32> {
    // Products of int16 values fit Int32 and the pair sum of int8-range products cannot
    // wrap; the wrapping operators only avoid overflow checks.
    let products = SIMD8<Int32>(truncatingIfNeeded: a) &* SIMD8<Int32>(truncatingIfNeeded: b)
    return products.evenHalf &+ products.oddHalf
}

/// The 16-lane form, used by dot products.
@inline(__always)
func multiplyAddPairs(_ a: SIMD16<Int16>, _ b: SIMD16<Int16>) -> SIMD8<Int32> {
    let low = multiplyAddPairs(a.lowHalf, b.lowHalf), high = multiplyAddPairs(a.highHalf, b.highHalf)
    return SIMD8<Int32>(lowHalf: low, highHalf: high)
}

/// The totals of four 4-lane accumulators, as one vector (a transpose-and-add).
@inline(__always)
func horizontalSums(_ a: SIMD4<Int32>, _ b: SIMD4<Int32>, _ c: SIMD4<Int32>, _ d: SIMD4<Int32>) -> SIMD4<Int32> {
    let ab = SIMD4<Int32>(a[0], b[0], a[2], b[2]) &+ SIMD4<Int32>(a[1], b[1], a[3], b[3])
    let cd = SIMD4<Int32>(c[0], d[0], c[2], d[2]) &+ SIMD4<Int32>(c[1], d[1], c[3], d[3])
    return SIMD4<Int32>(ab[0], ab[1], cd[0], cd[1]) &+ SIMD4<Int32>(ab[2], ab[3], cd[2], cd[3])
}

/// The int8 kernels. Accumulation is exact in Int32; every output is requantized with an
/// integer multiplier and shift. No floating point is used.
public enum Int8Kernels {
    /// Scratch bytes of an int8 convolution with `k` taps per output pixel and `n` output
    /// pixels: the patches (`n` rows of `k` Int16, plus 16 bytes of slack for `im2colRows`'s
    /// 8-lane stores), then, 16-byte aligned, the GEMM's int32 sums of 4 channels (4·`n` Int32).
    public static func patchScratchBytes(k: Int, n: Int) -> Int { rowSumsOffset(k: k, n: n) + 16 * n }

    /// Where the GEMM's int32 row sums start in the convolution scratch.
    public static func rowSumsOffset(k: Int, n: Int) -> Int { (n * k * 2 + 16 + 15) / 16 * 16 }

    /// `// x (Cin,H,W) -> patches (Ho·Wo, Cin·Kh·Kw) Int16`: image-to-column with each output
    /// pixel's receptive field contiguous (the GEMM's dot products run along it); padding
    /// reads as `zeroPoint` (the real 0). Int16 so that the GEMM's loads need no widening.
    ///
    /// Written pixel by pixel, window row by window row, so the stores are sequential. A
    /// window row of at most 8 taps (dilation 1) is one 8-lane store: the widened input when
    /// the row lies inside the image (and the 8-byte load stays inside the input tensor), the
    /// padding value when the row is above or below the image. Such a store also writes up to
    /// 7 values past the row's taps; those belong to taps (or, after a pixel's last tap, to
    /// the next pixel) written later in the same sweep, or to the buffer's 16 bytes of slack.
    /// Rows cut by the left or right border are copied tap by tap.
    static func im2colRows(_ x: UnsafePointer<Int8>, _ g: WindowGeometry, zeroPoint: Int8,
                           patches: UnsafeMutablePointer<Int16>) {
        let padding = Int16(zeroPoint)
        let paddingRow = SIMD8<Int16>(repeating: padding)
        let plane = g.heightIn * g.widthIn
        let spanX = (g.kernelWidth - 1) * g.dilationWidth
        let rowStores = g.dilationWidth == 1 && g.kernelWidth <= 8
        let inputEnd = g.channelsIn * plane
        var target = patches
        for oy in 0..<g.heightOut {
            let iy0 = oy * g.strideHeight - g.padTop
            for ox in 0..<g.widthOut {
                let ix0 = ox * g.strideWidth - g.padLeft
                let insideX = ix0 >= 0 && ix0 + spanX < g.widthIn
                for ci in 0..<g.channelsIn {
                    for ky in 0..<g.kernelHeight {
                        let iy = iy0 + ky * g.dilationHeight
                        let start = ci * plane + iy * g.widthIn + ix0
                        if iy < 0 || iy >= g.heightIn {
                            if rowStores {
                                UnsafeMutableRawPointer(target).storeBytes(of: paddingRow, as: SIMD8<Int16>.self)
                            } else {
                                for kx in 0..<g.kernelWidth { target[kx] = padding }
                            }
                        } else if insideX && rowStores && start + 8 <= inputEnd {
                            UnsafeMutableRawPointer(target).storeBytes(of: loadInt16x8(x + start), as: SIMD8<Int16>.self)
                        } else {
                            for kx in 0..<g.kernelWidth {
                                let ix = ix0 + kx * g.dilationWidth
                                target[kx] = ix >= 0 && ix < g.widthIn ? Int16(x[start + kx * g.dilationWidth]) : padding
                            }
                        }
                        target += g.kernelWidth
                    }
                }
            }
        }
    }

    /// `// x (Cin, N) -> patches (N, Cin) Int16`: the patch layout of a 1×1 convolution's input.
    static func transposeToRows(_ x: UnsafePointer<Int8>, rows k: Int, columns n: Int, patches: UnsafeMutablePointer<Int16>) {
        for row in 0..<k {
            let source = x + row * n
            let target = patches + row
            for column in 0..<n { target[column * k] = Int16(source[column]) }
        }
    }

    /// Σ w[i]·p[i] for i in 0..<k: 8 taps per step, then the tail.
    @inline(__always)
    static func dot(_ w: UnsafePointer<Int8>, _ p: UnsafePointer<Int16>, k: Int) -> Int32 {
        var sums = SIMD4<Int32>()
        var i = 0
        while i + 8 <= k {
            sums &+= multiplyAddPairs(loadInt16x8(w + i), loadInt16x8(p + i))
            i += 8
        }
        var total = sums.wrappedSum()
        while i < k { total &+= Int32(w[i]) &* Int32(p[i]); i += 1 }
        return total
    }

    /// `// W (M,K) int8 · patches (N,K) Int16 + bias (M) -> requantize -> C (M,N) int8`
    ///
    /// `bias` has the input zero point folded in (`bias − zp·ΣW`), so the products use the raw
    /// int8 values. Blocks of 4 channels × 3 pixels keep 12 accumulators of 4 lanes in
    /// registers (with 3 patch vectors and one weight vector); each step covers 8 taps with 12
    /// `pmaddwd`. Weights stay int8 and are widened as loaded. Taps beyond a multiple of 8 are
    /// added one by one; pixels outside whole blocks, and the last `M mod 4` channels, take
    /// `dot`. The int32 sums of 4 channels collect in `rowSums` (4·N values) and are then
    /// requantized a channel row at a time, 4 lanes at a time.
    static func gemm(m: Int, n: Int, k: Int, weights a: UnsafePointer<Int8>, patches b: UnsafePointer<Int16>,
                     bias: UnsafePointer<Int32>, requantization q: Requantization, rowSums: UnsafeMutablePointer<Int32>,
                     c: UnsafeMutablePointer<Int8>) {
        let vectorK = k / 8 * 8
        let blockRows = m / 4 * 4, blockColumns = n / 3 * 3
        var i0 = 0
        while i0 < blockRows {
            let r0 = a + i0 * k, r1 = r0 + k, r2 = r1 + k, r3 = r2 + k
            // `&+`: the folded bias and the sums wrap as TFLite's int32 accumulator does.
            let offsets = SIMD4<Int32>(bias[i0], bias[i0 + 1], bias[i0 + 2], bias[i0 + 3])
            var j0 = 0
            while j0 < blockColumns {
                let p0 = b + j0 * k, p1 = p0 + k, p2 = p1 + k
                var s00 = SIMD4<Int32>(), s01 = s00, s02 = s00, s10 = s00, s11 = s00, s12 = s00
                var s20 = s00, s21 = s00, s22 = s00, s30 = s00, s31 = s00, s32 = s00
                var t = 0
                while t < vectorK {
                    let x0 = loadInt16x8(p0 + t), x1 = loadInt16x8(p1 + t), x2 = loadInt16x8(p2 + t)
                    let w0 = loadInt16x8(r0 + t)
                    s00 &+= multiplyAddPairs(w0, x0); s01 &+= multiplyAddPairs(w0, x1); s02 &+= multiplyAddPairs(w0, x2)
                    let w1 = loadInt16x8(r1 + t)
                    s10 &+= multiplyAddPairs(w1, x0); s11 &+= multiplyAddPairs(w1, x1); s12 &+= multiplyAddPairs(w1, x2)
                    let w2 = loadInt16x8(r2 + t)
                    s20 &+= multiplyAddPairs(w2, x0); s21 &+= multiplyAddPairs(w2, x1); s22 &+= multiplyAddPairs(w2, x2)
                    let w3 = loadInt16x8(r3 + t)
                    s30 &+= multiplyAddPairs(w3, x0); s31 &+= multiplyAddPairs(w3, x1); s32 &+= multiplyAddPairs(w3, x2)
                    t += 8
                }
                // One vector per pixel, lane r = channel i0 + r.
                var column0 = horizontalSums(s00, s10, s20, s30) &+ offsets
                var column1 = horizontalSums(s01, s11, s21, s31) &+ offsets
                var column2 = horizontalSums(s02, s12, s22, s32) &+ offsets
                if vectorK < k {
                    for t in vectorK..<k {
                        let w = SIMD4<Int32>(Int32(r0[t]), Int32(r1[t]), Int32(r2[t]), Int32(r3[t]))
                        column0 &+= w &* Int32(p0[t]); column1 &+= w &* Int32(p1[t]); column2 &+= w &* Int32(p2[t])
                    }
                }
                for r in 0..<4 {
                    let row = rowSums + r * n + j0
                    row[0] = column0[r]; row[1] = column1[r]; row[2] = column2[r]
                }
                j0 += 3
            }
            for r in 0..<4 {
                let channel = i0 + r
                let row = a + channel * k
                for column in blockColumns..<n { rowSums[r * n + column] = dot(row, b + column * k, k: k) &+ bias[channel] }
                q.apply(rowSums + r * n, count: n, q.scale(channel: channel), into: c + channel * n)
            }
            i0 += 4
        }
        for channel in blockRows..<m {
            let row = a + channel * k
            for column in 0..<n { rowSums[column] = dot(row, b + column * k, k: k) &+ bias[channel] }
            q.apply(rowSums, count: n, q.scale(channel: channel), into: c + channel * n)
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

    /// The int32 accumulator of one fully connected output (bias, with the input zero point
    /// folded in, included): what `fullyConnected` requantizes for that output. Scalar on
    /// purpose: it serves one-output gate layers, and giving `fullyConnected` an optional
    /// accumulator output instead changed the optimizer's inlining so that the convolution GEMM's
    /// SIMD widening became calls (3× slower, measured).
    static func accumulator(_ x: UnsafePointer<Int8>, weights: UnsafePointer<Int8>, bias: UnsafePointer<Int32>,
                            inputs: Int, output o: Int) -> Int32 {
        let row = weights + o * inputs
        var acc: Int32 = 0
        for i in 0..<inputs { acc &+= Int32(row[i]) &* Int32(x[i]) }
        return acc &+ bias[o]
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
        if lhs == out && rhs == out {
            let count = out.elementCount
            var i = 0
            while i + 4 <= count {
                let results = p.apply(SIMD4(p.sum(a[i], b[i]), p.sum(a[i + 1], b[i + 1]), p.sum(a[i + 2], b[i + 2]), p.sum(a[i + 3], b[i + 3])))
                UnsafeMutableRawPointer(y + i).storeBytes(of: results, as: SIMD4<Int8>.self)
                i += 4
            }
            while i < count { y[i] = p.apply(a[i], b[i]); i += 1 }
            return
        }
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
            // (x − zp)·w + bias = x·w + (bias − zp·w), both in TFLite's wrapping int32
            // arithmetic (`&`): the same value modulo 2^32, so bit-identical.
            let w = Int32(scale[c]), offset = bias[c] &- inputZeroPoint &* w
            let input = x + c * spatial, output = y + c * spatial
            let channelScale = q.scale(channel: c)
            var i = 0
            if !q.singleRounding {
                while i + 4 <= spatial {
                    let values = SIMD4<Int32>(truncatingIfNeeded: UnsafeRawPointer(input + i).loadUnaligned(as: SIMD4<Int8>.self))
                    let results = q.apply(values &* w &+ offset, channelScale)
                    UnsafeMutableRawPointer(output + i).storeBytes(of: results, as: SIMD4<Int8>.self)
                    i += 4
                }
            }
            while i < spatial { output[i] = q.apply(Int32(input[i]) &* w &+ offset, channelScale); i += 1 }
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

    /// `// a (B?,M,K) logits -> softmax over K -> · V (B?,K,N) -> C (B,M,N)`: attention pooling
    /// with the masks kept at the exponential table's precision.
    ///
    /// The int8 path would round every mask value to the softmax output's scale first; with
    /// hundreds of positions the masks sit at a few LSBs each and lose ~15% of their value. Here
    /// each output is the matmul's accumulator Σ_p (m_p/s_m)(v_p − zv) computed exactly from the
    /// exponentials: Σ_p e_p (v_p − zv) · (2^8/s_m) / (2^8 · Σ_p e_p), rounded once, then the
    /// matmul's own requantization. `table` and `inverseOutputScale` are the softmax operator's
    /// (entries 0…2^24, entry 0 positive: validated at load). Integer arithmetic only.
    static func attentionPooling(_ a: UnsafePointer<Int8>, table: UnsafePointer<Int32>, inverseOutputScale: Int32,
                                 _ v: UnsafePointer<Int8>, zeroPointV: Int32, c: UnsafeMutablePointer<Int8>,
                                 lhs: TensorShape, rhs: TensorShape, out: TensorShape, requantization q: Requantization) {
        let batch = BatchedMatrices(lhs: lhs, rhs: rhs, out: out)
        let m = batch.m, n = batch.n, k = batch.k
        batch.forEach { aOffset, vOffset, cOffset in
            for i in 0..<m {
                let row = a + aOffset + i * k
                var largest = Int8.min
                for p in 0..<k { largest = max(largest, row[p]) }
                var total: Int64 = 0
                for p in 0..<k { total &+= Int64(table[Int(Int16(largest) - Int16(row[p]))]) }
                // Keep the denominator below 2^30 so that the products below stay inside 64 bits.
                let excess = max(0, (64 - total.leadingZeroBitCount) - 30)
                let denominator = max(total >> excess, 1)
                for j in 0..<n {
                    var column = v + vOffset + j
                    var weighted: Int64 = 0
                    for p in 0..<k {
                        weighted &+= Int64(table[Int(Int16(largest) - Int16(row[p]))]) * Int64(Int32(column.pointee) - zeroPointV)
                        column += n
                    }
                    // |weighted| ≤ 255·total, so the Q16 ratio is below 2^24 and the product below 2^55
                    // (wrapping operations only matter for shapes no valid model has: no trap).
                    let ratio = roundedQuotient((weighted >> excess) << 16, denominator)
                    let accumulator = roundedQuotient(ratio &* Int64(inverseOutputScale), 1 << 24)
                    c[cOffset + i * n + j] = q.apply(Int32(clamping: accumulator), channel: 0)
                }
            }
        }
    }

    /// a / b rounded to nearest, ties away from zero (b > 0; wrapping, never trapping).
    @inline(__always)
    static func roundedQuotient(_ a: Int64, _ b: Int64) -> Int64 {
        a >= 0 ? (a &+ b / 2) / b : 0 &- ((b / 2 &- a) / b)
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

/// Parameters of TFLite's int8 add: the inputs' rescaling tables (prepared at load) and the
/// output requantization (double rounding, as TFLite's add).
struct AddParameters {
    /// 512 entries: input A's rescaled value for int8 −128…127, then input B's.
    var tables: UnsafePointer<Int32>
    var requantization: Requantization
    var output: Requantization.Scale

    init(tables: UnsafePointer<Int32>, outputZeroPoint: Int32, multiplierOut: Int32, shiftOut: Int32, minimum: Int32, maximum: Int32) {
        self.tables = tables
        requantization = Requantization(outputZeroPoint: outputZeroPoint, minimum: minimum, maximum: maximum, singleRounding: false)
        output = Requantization.Scale(multiplier: multiplierOut, shift: shiftOut)
    }

    /// The two inputs rescaled and summed: TFLite adds them in int32 (`&+`, wrapping).
    @inline(__always)
    func sum(_ a: Int8, _ b: Int8) -> Int32 { tables[Int(a) &+ 128] &+ tables[Int(b) &+ 384] }

    @inline(__always)
    func apply(_ a: Int8, _ b: Int8) -> Int8 { requantization.apply(sum(a, b), output) }

    /// Four sums at once, bit-identical to `apply` per lane.
    @inline(__always)
    func apply(_ sums: SIMD4<Int32>) -> SIMD4<Int8> { requantization.apply(sums, output) }
}
