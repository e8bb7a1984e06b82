// float32 kernels: plain loops for the simple operators, SIMD for the matrix products.

typealias FloatVector = SIMD8<Float>

/// Multiply-add on vectors: fused where the build targets a CPU with FMA (or on arm64).
///
/// On baseline x86-64 a fused multiply-add is a libm call per lane, so there the unfused
/// `acc + a * b` (SSE mulps/addps) is used; `EARLYEXIT_FMA` is set by Package.swift when
/// EARLYEXIT_TARGET_CPU selects a CPU.
@inline(__always)
func multiplyAdd(_ acc: FloatVector, _ a: FloatVector, _ b: FloatVector) -> FloatVector {
    #if EARLYEXIT_FMA || arch(arm64)
    return acc.addingProduct(a, b)
    #else
    return acc + a * b
    #endif
}

@inline(__always)
func loadVector(_ pointer: UnsafePointer<Float>) -> FloatVector {
    UnsafeRawPointer(pointer).loadUnaligned(as: FloatVector.self)
}

@inline(__always)
func storeVector(_ value: FloatVector, _ pointer: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(pointer).storeBytes(of: value, as: FloatVector.self)
}

/// The float32 kernels. Each takes raw pointers that the interpreter has bound to planned
/// arena offsets or in-place constants; shapes were validated at load, so kernels never fail.
public enum FloatKernels {
    /// Columns of a packed im2col matrix: the pixel count rounded up to the GEMM block.
    public static func paddedColumns(_ columns: Int) -> Int { (columns + 15) / 16 * 16 }

    // MARK: Matrix product

    /// `// A (M,K) row-major · B (K,N) with row stride ldb -> C (M,N) + bias, optional ReLU`
    ///
    /// Blocks of 4 rows × 16 columns keep 8 vector accumulators in registers; B is walked
    /// 16 columns at a time so each B panel stays in L1 while every row block passes over it.
    /// `readableColumns` (≥ N) says how many columns of each B row may be read, so padded
    /// im2col panels run full blocks; the remaining columns take a scalar loop.
    public static func gemm(m: Int, n: Int, k: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>, ldb: Int,
                            readableColumns: Int, c: UnsafeMutablePointer<Float>, bias: UnsafePointer<Float>?, relu: Bool) {
        var j0 = 0
        while j0 + 16 <= readableColumns && j0 < n {
            let valid = min(16, n - j0)
            var i0 = 0
            while i0 + 4 <= m {
                gemmBlock4x16(i0: i0, j0: j0, valid: valid, n: n, k: k, a: a, b: b, ldb: ldb, c: c, bias: bias, relu: relu)
                i0 += 4
            }
            while i0 < m {
                gemmBlock1x16(i0: i0, j0: j0, valid: valid, n: n, k: k, a: a, b: b, ldb: ldb, c: c, bias: bias, relu: relu)
                i0 += 1
            }
            j0 += 16
        }
        // Scalar tail for columns that cannot be read as a full block.
        if j0 < n {
            for i in 0..<m {
                let row = a + i * k
                for j in j0..<n {
                    var sum: Float = bias?[i] ?? 0
                    for p in 0..<k { sum += row[p] * b[p * ldb + j] }
                    c[i * n + j] = relu ? max(sum, 0) : sum
                }
            }
        }
    }

    @inline(__always)
    static func gemmBlock4x16(i0: Int, j0: Int, valid: Int, n: Int, k: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>,
                              ldb: Int, c: UnsafeMutablePointer<Float>, bias: UnsafePointer<Float>?, relu: Bool) {
        let r0 = a + i0 * k, r1 = r0 + k, r2 = r1 + k, r3 = r2 + k
        var c00 = FloatVector(repeating: bias?[i0] ?? 0), c01 = c00
        var c10 = FloatVector(repeating: bias?[i0 + 1] ?? 0), c11 = c10
        var c20 = FloatVector(repeating: bias?[i0 + 2] ?? 0), c21 = c20
        var c30 = FloatVector(repeating: bias?[i0 + 3] ?? 0), c31 = c30
        var panel = b + j0
        for p in 0..<k {
            let b0 = loadVector(panel), b1 = loadVector(panel + 8)
            let a0 = FloatVector(repeating: r0[p]), a1 = FloatVector(repeating: r1[p])
            let a2 = FloatVector(repeating: r2[p]), a3 = FloatVector(repeating: r3[p])
            c00 = multiplyAdd(c00, a0, b0); c01 = multiplyAdd(c01, a0, b1)
            c10 = multiplyAdd(c10, a1, b0); c11 = multiplyAdd(c11, a1, b1)
            c20 = multiplyAdd(c20, a2, b0); c21 = multiplyAdd(c21, a2, b1)
            c30 = multiplyAdd(c30, a3, b0); c31 = multiplyAdd(c31, a3, b1)
            panel += ldb
        }
        let out = c + i0 * n + j0
        storeRow(c00, c01, out, valid, relu)
        storeRow(c10, c11, out + n, valid, relu)
        storeRow(c20, c21, out + 2 * n, valid, relu)
        storeRow(c30, c31, out + 3 * n, valid, relu)
    }

    @inline(__always)
    static func gemmBlock1x16(i0: Int, j0: Int, valid: Int, n: Int, k: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>,
                              ldb: Int, c: UnsafeMutablePointer<Float>, bias: UnsafePointer<Float>?, relu: Bool) {
        let row = a + i0 * k
        var c0 = FloatVector(repeating: bias?[i0] ?? 0), c1 = c0
        var panel = b + j0
        for p in 0..<k {
            let a0 = FloatVector(repeating: row[p])
            c0 = multiplyAdd(c0, a0, loadVector(panel))
            c1 = multiplyAdd(c1, a0, loadVector(panel + 8))
            panel += ldb
        }
        storeRow(c0, c1, c + i0 * n + j0, valid, relu)
    }

    @inline(__always)
    static func storeRow(_ low: FloatVector, _ high: FloatVector, _ out: UnsafeMutablePointer<Float>, _ valid: Int, _ relu: Bool) {
        var low = low, high = high
        if relu {
            let zero = FloatVector(repeating: 0)
            low = pointwiseMax(low, zero)
            high = pointwiseMax(high, zero)
        }
        if valid == 16 {
            storeVector(low, out)
            storeVector(high, out + 8)
        } else {
            for lane in 0..<min(valid, 8) { out[lane] = low[lane] }
            if valid > 8 { for lane in 0..<(valid - 8) { out[8 + lane] = high[lane] } }
        }
    }

    // MARK: Convolution

    /// The output columns whose input column `ox·stride + shift` lies inside the image: [first, end).
    @inline(__always)
    static func insideColumns(_ g: WindowGeometry, shift: Int) -> (first: Int, end: Int) {
        var first = 0
        while first < g.widthOut && first * g.strideWidth + shift < 0 { first += 1 }
        var end = first
        while end < g.widthOut && end * g.strideWidth + shift < g.widthIn { end += 1 }
        return (first, end)
    }

    /// `// x (Cin,H,W) -> columns (Cin·Kh·Kw, ldb) with zero padding; row order (ci, ky, kx)`
    public static func im2col(_ x: UnsafePointer<Float>, _ g: WindowGeometry, columns: UnsafeMutablePointer<Float>, ldb: Int) {
        let pixels = g.heightOut * g.widthOut
        var row = 0
        for ci in 0..<g.channelsIn {
            let plane = x + ci * g.heightIn * g.widthIn
            for ky in 0..<g.kernelHeight {
                for kx in 0..<g.kernelWidth {
                    let out = columns + row * ldb
                    var column = 0
                    let shift = kx * g.dilationWidth - g.padLeft
                    let (first, end) = insideColumns(g, shift: shift)
                    for oy in 0..<g.heightOut {
                        let iy = oy * g.strideHeight - g.padTop + ky * g.dilationHeight
                        let target = out + column
                        if iy < 0 || iy >= g.heightIn {
                            target.update(repeating: 0, count: g.widthOut)
                        } else {
                            let line = plane + iy * g.widthIn
                            target.update(repeating: 0, count: first)
                            if g.strideWidth == 1 {
                                (target + first).update(from: line + first + shift, count: end - first)
                            } else {
                                for ox in first..<end { target[ox] = line[ox * g.strideWidth + shift] }
                            }
                            (target + end).update(repeating: 0, count: g.widthOut - end)
                        }
                        column += g.widthOut
                    }
                    for pad in pixels..<ldb { out[pad] = 0 }
                    row += 1
                }
            }
        }
    }

    /// `// x (Cin,H,W) · W (Cout,Cin,Kh,Kw) + b -> y (Cout,Ho,Wo)`, one group, via im2col and GEMM.
    public static func convolution(_ x: UnsafePointer<Float>, weights: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                                   _ g: WindowGeometry, path: ConvolutionPath, scratch: UnsafeMutablePointer<Float>?,
                                   y: UnsafeMutablePointer<Float>, relu: Bool) {
        let pixels = g.heightOut * g.widthOut
        switch path {
        case .pointwise:
            gemm(m: g.channelsOut, n: pixels, k: g.channelsIn, a: weights, b: x, ldb: pixels,
                 readableColumns: pixels, c: y, bias: bias, relu: relu)
        case .im2col, .implicitGEMM, .winograd:
            guard let scratch else { return }
            let ldb = paddedColumns(pixels)
            im2col(x, g, columns: scratch, ldb: ldb)
            gemm(m: g.channelsOut, n: pixels, k: g.channelsIn * g.kernelHeight * g.kernelWidth, a: weights,
                 b: UnsafePointer(scratch), ldb: ldb, readableColumns: ldb, c: y, bias: bias, relu: relu)
        case .depthwise, .grouped:
            groupedConvolution(x, weights: weights, bias: bias, g, y: y, relu: relu)
        }
    }

    /// `// x (Cin,H,W) · W (Cout,Cin/G,Kh,Kw) + b -> y (Cout,Ho,Wo)`: the reference loop, any grouping.
    public static func groupedConvolution(_ x: UnsafePointer<Float>, weights: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                                          _ g: WindowGeometry, y: UnsafeMutablePointer<Float>, relu: Bool) {
        let inPerGroup = g.channelsIn / g.groups
        let outPerGroup = g.channelsOut / g.groups
        for co in 0..<g.channelsOut {
            let group = co / outPerGroup
            let filter = weights + co * inPerGroup * g.kernelHeight * g.kernelWidth
            for oy in 0..<g.heightOut {
                for ox in 0..<g.widthOut {
                    var sum: Float = bias?[co] ?? 0
                    for cj in 0..<inPerGroup {
                        let plane = x + (group * inPerGroup + cj) * g.heightIn * g.widthIn
                        let taps = filter + cj * g.kernelHeight * g.kernelWidth
                        for ky in 0..<g.kernelHeight {
                            let iy = oy * g.strideHeight - g.padTop + ky * g.dilationHeight
                            if iy < 0 || iy >= g.heightIn { continue }
                            for kx in 0..<g.kernelWidth {
                                let ix = ox * g.strideWidth - g.padLeft + kx * g.dilationWidth
                                if ix < 0 || ix >= g.widthIn { continue }
                                sum += plane[iy * g.widthIn + ix] * taps[ky * g.kernelWidth + kx]
                            }
                        }
                    }
                    y[(co * g.heightOut + oy) * g.widthOut + ox] = relu ? max(sum, 0) : sum
                }
            }
        }
    }

    // MARK: Fully connected and matmul

    /// `// W (out,in) · x (in) + b -> y (out)`, four rows at a time with vector dot products.
    public static func fullyConnected(_ x: UnsafePointer<Float>, weights: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                                      inputs: Int, outputs: Int, y: UnsafeMutablePointer<Float>, relu: Bool) {
        let vectorEnd = inputs / 8 * 8
        var o = 0
        while o + 4 <= outputs {
            let w0 = weights + o * inputs, w1 = w0 + inputs, w2 = w1 + inputs, w3 = w2 + inputs
            var s0 = FloatVector(repeating: 0), s1 = s0, s2 = s0, s3 = s0
            var i = 0
            while i < vectorEnd {
                let v = loadVector(x + i)
                s0 = multiplyAdd(s0, loadVector(w0 + i), v)
                s1 = multiplyAdd(s1, loadVector(w1 + i), v)
                s2 = multiplyAdd(s2, loadVector(w2 + i), v)
                s3 = multiplyAdd(s3, loadVector(w3 + i), v)
                i += 8
            }
            var t0 = s0.sum(), t1 = s1.sum(), t2 = s2.sum(), t3 = s3.sum()
            while i < inputs {
                t0 += w0[i] * x[i]; t1 += w1[i] * x[i]; t2 += w2[i] * x[i]; t3 += w3[i] * x[i]
                i += 1
            }
            if let bias { t0 += bias[o]; t1 += bias[o + 1]; t2 += bias[o + 2]; t3 += bias[o + 3] }
            y[o] = relu ? max(t0, 0) : t0
            y[o + 1] = relu ? max(t1, 0) : t1
            y[o + 2] = relu ? max(t2, 0) : t2
            y[o + 3] = relu ? max(t3, 0) : t3
            o += 4
        }
        while o < outputs {
            let w = weights + o * inputs
            var s = FloatVector(repeating: 0)
            var i = 0
            while i < vectorEnd { s = multiplyAdd(s, loadVector(w + i), loadVector(x + i)); i += 8 }
            var t = s.sum()
            while i < inputs { t += w[i] * x[i]; i += 1 }
            if let bias { t += bias[o] }
            y[o] = relu ? max(t, 0) : t
            o += 1
        }
    }

    /// `// A (B?,M,K) · B (B?,K,N) -> C (B,M,N)`; batch dimensions broadcast (strides of 0).
    public static func matmul(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, c: UnsafeMutablePointer<Float>,
                              lhs: TensorShape, rhs: TensorShape, out: TensorShape) {
        let batch = BatchedMatrices(lhs: lhs, rhs: rhs, out: out)
        let m = batch.m, n = batch.n, k = batch.k
        let vectorEnd = n / 8 * 8
        batch.forEach { aOffset, bOffset, cOffset in
            let matrixA = a + aOffset, matrixB = b + bOffset, result = c + cOffset
            for i in 0..<m {
                let row = result + i * n
                for j in 0..<n { row[j] = 0 }
                for p in 0..<k {
                    let scale = matrixA[i * k + p]
                    let line = matrixB + p * n
                    let broadcast = FloatVector(repeating: scale)
                    var j = 0
                    while j < vectorEnd {
                        storeVector(multiplyAdd(loadVector(row + j), broadcast, loadVector(line + j)), row + j)
                        j += 8
                    }
                    while j < n { row[j] += scale * line[j]; j += 1 }
                }
            }
        }
    }

    // MARK: Element-wise

    /// `// a ⊕ b -> y` with NumPy broadcasting over up to four axes; ⊕ is + or ×.
    public static func binary(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>,
                              lhs: TensorShape, rhs: TensorShape, out: TensorShape, multiply: Bool, relu: Bool) {
        let count = out.elementCount
        if lhs == out && rhs == out {
            if multiply {
                for i in 0..<count { y[i] = a[i] * b[i] }
            } else if relu {
                for i in 0..<count { y[i] = max(a[i] + b[i], 0) }
            } else {
                for i in 0..<count { y[i] = a[i] + b[i] }
            }
            return
        }
        DataMovement.broadcast(a, b, y: y, lhs: lhs, rhs: rhs, out: out) { l, r in
            let v = multiply ? l * r : l + r
            return relu ? max(v, 0) : v
        }
    }

    /// The dimensions of `shape` right-aligned into four axes.
    static func paddedDims(_ shape: TensorShape) -> (Int, Int, Int, Int) {
        let pad = 4 - shape.rank
        func dim(_ axis: Int) -> Int { axis < pad ? 1 : shape[axis - pad] }
        return (dim(0), dim(1), dim(2), dim(3))
    }

    /// Element strides of `shape` read as `out` (right-aligned), 0 along broadcast axes.
    static func broadcastStrides(_ shape: TensorShape, _ out: TensorShape) -> (Int, Int, Int, Int) {
        let d = paddedDims(shape)
        let s3 = 1, s2 = d.3, s1 = d.3 * d.2, s0 = d.3 * d.2 * d.1
        _ = out
        return (d.0 == 1 ? 0 : s0, d.1 == 1 ? 0 : s1, d.2 == 1 ? 0 : s2, d.3 == 1 ? 0 : s3)
    }

    public static func relu(_ x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>, count: Int) {
        for i in 0..<count { y[i] = max(x[i], 0) }
    }

    public static func tanh(_ x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>, count: Int) {
        for i in 0..<count { y[i] = FloatMath.tanh(x[i]) }
    }

    public static func sigmoid(_ x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>, count: Int) {
        for i in 0..<count { y[i] = FloatMath.sigmoid(x[i]) }
    }

    /// `// x (C, S) · scale (C) + shift (C) -> y (C, S)`: batch normalization in inference form.
    public static func batchNorm(_ x: UnsafePointer<Float>, scale: UnsafePointer<Float>, shift: UnsafePointer<Float>,
                                 y: UnsafeMutablePointer<Float>, channels: Int, spatial: Int, relu: Bool) {
        for c in 0..<channels {
            let s = scale[c], t = shift[c]
            let input = x + c * spatial, output = y + c * spatial
            for i in 0..<spatial {
                let v = input[i] * s + t
                output[i] = relu ? max(v, 0) : v
            }
        }
    }

    // MARK: Pooling

    /// `// x (C,H,W) -> y (C,Ho,Wo)`: max or average over each window; padding is ignored by
    /// max and, for average, counted only when `countIncludePad`.
    public static func pool(_ x: UnsafePointer<Float>, _ g: WindowGeometry, y: UnsafeMutablePointer<Float>,
                            maximum: Bool, countIncludePad: Bool) {
        for c in 0..<g.channelsIn {
            let plane = x + c * g.heightIn * g.widthIn
            for oy in 0..<g.heightOut {
                for ox in 0..<g.widthOut {
                    var best = -Float.infinity
                    var sum: Float = 0
                    var count = 0
                    for ky in 0..<g.kernelHeight {
                        let iy = oy * g.strideHeight - g.padTop + ky
                        if iy < 0 || iy >= g.heightIn { continue }
                        for kx in 0..<g.kernelWidth {
                            let ix = ox * g.strideWidth - g.padLeft + kx
                            if ix < 0 || ix >= g.widthIn { continue }
                            let v = plane[iy * g.widthIn + ix]
                            best = max(best, v)
                            sum += v
                            count += 1
                        }
                    }
                    let value: Float
                    if maximum {
                        value = best
                    } else {
                        let divisor = countIncludePad ? window(g, oy: oy, ox: ox) : count
                        value = sum / Float(max(divisor, 1))
                    }
                    y[(c * g.heightOut + oy) * g.widthOut + ox] = value
                }
            }
        }
    }

    /// The window size with padding counted but the part beyond the padded input excluded.
    static func window(_ g: WindowGeometry, oy: Int, ox: Int) -> Int {
        let y0 = oy * g.strideHeight - g.padTop, x0 = ox * g.strideWidth - g.padLeft
        let y1 = min(y0 + g.kernelHeight, g.heightIn + g.padBottom), x1 = min(x0 + g.kernelWidth, g.widthIn + g.padRight)
        return (y1 - y0) * (x1 - x0)
    }

    /// `// x (C,H,W) -> y (C)`: the mean over the spatial axes.
    public static func globalAveragePool(_ x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>, channels: Int, spatial: Int) {
        let scale = 1 / Float(spatial)
        for c in 0..<channels {
            var sum: Float = 0
            let plane = x + c * spatial
            for i in 0..<spatial { sum += plane[i] }
            y[c] = sum * scale
        }
    }

    // MARK: Softmax and data movement

    /// `// x (outer, n, inner) -> y`: softmax along the middle axis, max-subtracted.
    public static func softmax(_ x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>, outer: Int, n: Int, inner: Int) {
        for o in 0..<outer {
            for i in 0..<inner {
                let base = o * n * inner + i
                var largest = -Float.infinity
                for j in 0..<n { largest = max(largest, x[base + j * inner]) }
                var sum: Float = 0
                for j in 0..<n {
                    let e = FloatMath.exp(x[base + j * inner] - largest)
                    y[base + j * inner] = e
                    sum += e
                }
                let scale = 1 / sum
                for j in 0..<n { y[base + j * inner] *= scale }
            }
        }
    }
}

/// The batch layout of a matrix product `A (B?,M,K) · B (B?,K,N) -> C (B,M,N)` over up to two
/// batch axes, each broadcast independently (stride 0 where an operand's axis is 1).
struct BatchedMatrices {
    let m: Int, n: Int, k: Int
    let outer0: Int, outer1: Int
    let aStride0: Int, aStride1: Int, bStride0: Int, bStride1: Int

    init(lhs: TensorShape, rhs: TensorShape, out: TensorShape) {
        let rank = out.rank
        m = out[rank - 2]; n = out[rank - 1]; k = lhs[rank - 1]
        outer0 = rank == 4 ? out[0] : 1
        outer1 = rank >= 3 ? out[rank - 3] : 1
        aStride1 = rank >= 3 && lhs[rank - 3] != 1 ? m * k : 0
        bStride1 = rank >= 3 && rhs[rank - 3] != 1 ? k * n : 0
        aStride0 = rank == 4 && lhs[0] != 1 ? lhs[1] * m * k : 0
        bStride0 = rank == 4 && rhs[0] != 1 ? rhs[1] * k * n : 0
    }

    /// Calls `body` with the element offsets of A, B and C of each matrix in the batch.
    @inline(__always)
    func forEach(_ body: (_ a: Int, _ b: Int, _ c: Int) -> Void) {
        var c = 0
        for i0 in 0..<outer0 {
            for i1 in 0..<outer1 {
                body(i0 * aStride0 + i1 * aStride1, i0 * bStride0 + i1 * bStride1, c)
                c += m * n
            }
        }
    }
}

/// Data movement that does not depend on the element type: transpose, concatenation, broadcasting.
public enum DataMovement {
    /// `// y[i] = combine(a[i'], b[i''])` over the NumPy broadcast of two tensors of up to four axes.
    @inline(__always)
    static func broadcast<A, B, C>(_ a: UnsafePointer<A>, _ b: UnsafePointer<B>, y: UnsafeMutablePointer<C>,
                                   lhs: TensorShape, rhs: TensorShape, out: TensorShape, _ combine: (A, B) -> C) {
        let aStrides = FloatKernels.broadcastStrides(lhs, out), bStrides = FloatKernels.broadcastStrides(rhs, out)
        let d = FloatKernels.paddedDims(out)
        var index = 0
        for i0 in 0..<d.0 {
            for i1 in 0..<d.1 {
                for i2 in 0..<d.2 {
                    for i3 in 0..<d.3 {
                        y[index] = combine(a[i0 * aStrides.0 + i1 * aStrides.1 + i2 * aStrides.2 + i3 * aStrides.3],
                                           b[i0 * bStrides.0 + i1 * bStrides.1 + i2 * bStrides.2 + i3 * bStrides.3])
                        index += 1
                    }
                }
            }
        }
    }

    /// Outer and inner element counts of a concatenation along `axis` of `out`.
    static func concatenationLayout(_ out: TensorShape, axis: Int) -> (outer: Int, inner: Int) {
        var outer = 1, inner = 1
        for position in 0..<axis { outer *= out[position] }
        for position in (axis + 1)..<max(out.rank, axis + 1) { inner *= out[position] }
        return (outer, inner)
    }
    /// `// x (d0,d1,d2,d3) -> y` with axes permuted: y axis i is x axis `permutation[i]`.
    public static func transpose<Element>(_ x: UnsafePointer<Element>, y: UnsafeMutablePointer<Element>, input: TensorShape, permutation: [Int32]) {
        let rank = input.rank
        let pad = 4 - rank
        // Right-align to four axes; leading axes are 1 with stride 0.
        var dims = (1, 1, 1, 1), steps = (0, 0, 0, 0)
        for axis in 0..<rank {
            let source = Int(permutation[axis])
            var stride = 1
            for inner in (source + 1)..<max(rank, source + 1) { stride *= input[inner] }
            switch axis + pad {
            case 0: dims.0 = input[source]; steps.0 = stride
            case 1: dims.1 = input[source]; steps.1 = stride
            case 2: dims.2 = input[source]; steps.2 = stride
            default: dims.3 = input[source]; steps.3 = stride
            }
        }
        var index = 0
        for i0 in 0..<dims.0 {
            for i1 in 0..<dims.1 {
                for i2 in 0..<dims.2 {
                    var source = i0 * steps.0 + i1 * steps.1 + i2 * steps.2
                    for _ in 0..<dims.3 {
                        y[index] = x[source]
                        source += steps.3
                        index += 1
                    }
                }
            }
        }
    }

    /// `// x_0 … x_n -> y`: concatenation along an axis, given each input's extent on it.
    public static func concatenate<Element>(_ x: UnsafePointer<Element>, extent: Int, into y: UnsafeMutablePointer<Element>,
                                   at position: Int, total: Int, outer: Int, inner: Int) {
        for o in 0..<outer {
            (y + (o * total + position) * inner).update(from: x + o * extent * inner, count: extent * inner)
        }
    }
}
