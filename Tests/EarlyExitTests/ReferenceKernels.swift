// Test-only naive reference implementations: plain loops written from each operator's
// definition, accumulating in Double. Nothing here is derived from the runtime's kernels.
@testable import EarlyExit
import EarlyExitTools
import Foundation
import XCTest

/// Naive reference operators over flat row-major `[Double]` arrays with explicit shapes.
enum Ref {
    // MARK: Index arithmetic

    static func count(_ shape: [Int]) -> Int { shape.reduce(1, *) }

    /// Row-major multi-index of flat position `flat` in `shape`.
    static func unravel(_ flat: Int, _ shape: [Int]) -> [Int] {
        var index = [Int](repeating: 0, count: shape.count)
        var rest = flat
        for axis in stride(from: shape.count - 1, through: 0, by: -1) {
            index[axis] = rest % shape[axis]
            rest /= shape[axis]
        }
        return index
    }

    /// Row-major flat position of multi-index `index` in `shape`.
    static func ravel(_ index: [Int], _ shape: [Int]) -> Int {
        var flat = 0
        for axis in 0..<shape.count { flat = flat * shape[axis] + index[axis] }
        return flat
    }

    // MARK: Convolution

    struct Conv {
        var kh = 1, kw = 1, sh = 1, sw = 1
        var padTop = 0, padLeft = 0, padBottom = 0, padRight = 0
        var dh = 1, dw = 1, groups = 1

        /// The 11 conv2d attribute words of the `.eem` format.
        var attributes: [Int32] {
            [kh, kw, sh, sw, padTop, padLeft, padBottom, padRight, dh, dw, groups].map { Int32($0) }
        }

        init(kh: Int = 1, kw: Int = 1, sh: Int = 1, sw: Int = 1, padTop: Int = 0, padLeft: Int = 0,
             padBottom: Int = 0, padRight: Int = 0, dh: Int = 1, dw: Int = 1, groups: Int = 1) {
            self.kh = kh; self.kw = kw; self.sh = sh; self.sw = sw
            self.padTop = padTop; self.padLeft = padLeft; self.padBottom = padBottom; self.padRight = padRight
            self.dh = dh; self.dw = dw; self.groups = groups
        }

        init(attributes a: [Int32]) {
            self.init(kh: Int(a[0]), kw: Int(a[1]), sh: Int(a[2]), sw: Int(a[3]), padTop: Int(a[4]), padLeft: Int(a[5]),
                      padBottom: Int(a[6]), padRight: Int(a[7]), dh: Int(a[8]), dw: Int(a[9]), groups: Int(a[10]))
        }

        /// Output extent by the usual definition: floor((in + pads − dilated span) / stride) + 1.
        func outputSize(h: Int, w: Int) -> (Int, Int) {
            ((h + padTop + padBottom - (dh * (kh - 1) + 1)) / sh + 1, (w + padLeft + padRight - (dw * (kw - 1) + 1)) / sw + 1)
        }
    }

    /// 2-D convolution of x (C,H,W) with weights (Cout, C/groups, kh, kw): the input is first
    /// materialized zero-padded, then every output is the sum over its (dilated) window.
    static func conv2d(_ x: [Double], c: Int, h: Int, w: Int, weights: [Double], cout: Int, bias: [Double]?,
                       _ p: Conv, relu: Bool = false) -> (y: [Double], ho: Int, wo: Int) {
        let hp = h + p.padTop + p.padBottom, wp = w + p.padLeft + p.padRight
        var padded = [Double](repeating: 0, count: c * hp * wp)
        for ci in 0..<c {
            for iy in 0..<h {
                for ix in 0..<w { padded[(ci * hp + iy + p.padTop) * wp + ix + p.padLeft] = x[(ci * h + iy) * w + ix] }
            }
        }
        let (ho, wo) = p.outputSize(h: h, w: w)
        let cinG = c / p.groups, coutG = cout / p.groups
        var y = [Double](repeating: 0, count: cout * ho * wo)
        for co in 0..<cout {
            let group = co / coutG
            for oy in 0..<ho {
                for ox in 0..<wo {
                    var sum = bias?[co] ?? 0
                    for j in 0..<cinG {
                        let ci = group * cinG + j
                        for ky in 0..<p.kh {
                            for kx in 0..<p.kw {
                                let py = oy * p.sh + ky * p.dh, px = ox * p.sw + kx * p.dw
                                sum += padded[(ci * hp + py) * wp + px] * weights[((co * cinG + j) * p.kh + ky) * p.kw + kx]
                            }
                        }
                    }
                    y[(co * ho + oy) * wo + ox] = relu ? max(sum, 0) : sum
                }
            }
        }
        return (y, ho, wo)
    }

    // MARK: Dense

    /// y[o] = Σ_i W[o][i]·x[i] + b[o].
    static func fullyConnected(_ x: [Double], weights: [Double], bias: [Double]?, inputs: Int, outputs: Int, relu: Bool = false) -> [Double] {
        (0..<outputs).map { o in
            var sum = bias?[o] ?? 0
            for i in 0..<inputs { sum += weights[o * inputs + i] * x[i] }
            return relu ? max(sum, 0) : sum
        }
    }

    /// Batched matrix product with NumPy batch broadcasting (equal ranks ≥ 2).
    static func matmul(_ a: [Double], _ aShape: [Int], _ b: [Double], _ bShape: [Int]) -> (y: [Double], shape: [Int]) {
        let rank = aShape.count
        let m = aShape[rank - 2], k = aShape[rank - 1], n = bShape[rank - 1]
        var outShape: [Int] = []
        for axis in 0..<(rank - 2) { outShape.append(max(aShape[axis], bShape[axis])) }
        outShape += [m, n]
        var y = [Double](repeating: 0, count: count(outShape))
        for flat in 0..<y.count {
            let index = unravel(flat, outShape)
            var aIndex = index, bIndex = index
            for axis in 0..<(rank - 2) {
                if aShape[axis] == 1 { aIndex[axis] = 0 }
                if bShape[axis] == 1 { bIndex[axis] = 0 }
            }
            let i = index[rank - 2], j = index[rank - 1]
            var sum = 0.0
            for p in 0..<k {
                aIndex[rank - 2] = i; aIndex[rank - 1] = p
                bIndex[rank - 2] = p; bIndex[rank - 1] = j
                sum += a[ravel(aIndex, aShape)] * b[ravel(bIndex, bShape)]
            }
            y[flat] = sum
        }
        return (y, outShape)
    }

    // MARK: Element-wise

    /// NumPy broadcast of two shapes (right-aligned), or nil.
    static func broadcast(_ a: [Int], _ b: [Int]) -> [Int]? {
        let rank = max(a.count, b.count)
        let pa = [Int](repeating: 1, count: rank - a.count) + a
        let pb = [Int](repeating: 1, count: rank - b.count) + b
        var out: [Int] = []
        for axis in 0..<rank {
            if pa[axis] != pb[axis] && pa[axis] != 1 && pb[axis] != 1 { return nil }
            out.append(max(pa[axis], pb[axis]))
        }
        return out
    }

    /// y = op(a, b) with NumPy broadcasting.
    static func binary(_ a: [Double], _ aShape: [Int], _ b: [Double], _ bShape: [Int],
                       _ op: (Double, Double) -> Double) -> (y: [Double], shape: [Int]) {
        let out = broadcast(aShape, bShape)!
        let rank = out.count
        let pa = [Int](repeating: 1, count: rank - aShape.count) + aShape
        let pb = [Int](repeating: 1, count: rank - bShape.count) + bShape
        var y = [Double](repeating: 0, count: count(out))
        for flat in 0..<y.count {
            let index = unravel(flat, out)
            let ai = ravel((0..<rank).map { pa[$0] == 1 ? 0 : index[$0] }, pa)
            let bi = ravel((0..<rank).map { pb[$0] == 1 ? 0 : index[$0] }, pb)
            y[flat] = op(a[ai], b[bi])
        }
        return (y, out)
    }

    static func relu(_ x: [Double]) -> [Double] { x.map { max($0, 0) } }
    static func tanh(_ x: [Double]) -> [Double] { x.map { Foundation.tanh($0) } }
    static func sigmoid(_ x: [Double]) -> [Double] { x.map { 1 / (1 + Foundation.exp(-$0)) } }

    /// y[c, s] = x[c, s]·scale[c] + shift[c] over an input [1, C, ...].
    static func batchNorm(_ x: [Double], shape: [Int], scale: [Double], shift: [Double], relu: Bool) -> [Double] {
        var y = x
        for flat in 0..<x.count {
            let c = unravel(flat, shape)[1]
            let v = x[flat] * scale[c] + shift[c]
            y[flat] = relu ? max(v, 0) : v
        }
        return y
    }

    // MARK: Pooling

    /// ONNX MaxPool / AveragePool (floor mode, no dilation) over x (C,H,W). Padding cells are
    /// absent for max; for average they count towards the divisor only when countIncludePad,
    /// in which case the divisor is the number of window cells inside the padded input.
    static func pool(_ x: [Double], c: Int, h: Int, w: Int, kh: Int, kw: Int, sh: Int, sw: Int,
                     pads: (top: Int, left: Int, bottom: Int, right: Int), maximum: Bool, countIncludePad: Bool) -> (y: [Double], ho: Int, wo: Int) {
        let hp = h + pads.top + pads.bottom, wp = w + pads.left + pads.right
        var padded = [Double?](repeating: nil, count: c * hp * wp)
        for ci in 0..<c {
            for iy in 0..<h {
                for ix in 0..<w { padded[(ci * hp + iy + pads.top) * wp + ix + pads.left] = x[(ci * h + iy) * w + ix] }
            }
        }
        let ho = (hp - kh) / sh + 1, wo = (wp - kw) / sw + 1
        var y = [Double](repeating: 0, count: c * ho * wo)
        for ci in 0..<c {
            for oy in 0..<ho {
                for ox in 0..<wo {
                    var best = -Double.infinity, sum = 0.0, real = 0, cells = 0
                    for ky in 0..<kh {
                        for kx in 0..<kw {
                            let py = oy * sh + ky, px = ox * sw + kx
                            if py >= hp || px >= wp { continue }
                            cells += 1
                            if let v = padded[(ci * hp + py) * wp + px] {
                                best = max(best, v); sum += v; real += 1
                            }
                        }
                    }
                    y[(ci * ho + oy) * wo + ox] = maximum ? best : sum / Double(countIncludePad ? cells : real)
                }
            }
        }
        return (y, ho, wo)
    }

    /// Mean over H and W of x (C,H,W).
    static func globalAveragePool(_ x: [Double], c: Int, spatial: Int) -> [Double] {
        (0..<c).map { ci in (0..<spatial).reduce(0.0) { $0 + x[ci * spatial + $1] } / Double(spatial) }
    }

    // MARK: Softmax and data movement

    /// exp(x − max) / Σ exp(x − max) along `axis`.
    static func softmax(_ x: [Double], shape: [Int], axis: Int) -> [Double] {
        var y = x
        for flat in 0..<x.count {
            var index = unravel(flat, shape)
            let own = x[flat]
            var sum = 0.0
            var largest = -Double.infinity
            for j in 0..<shape[axis] { index[axis] = j; largest = max(largest, x[ravel(index, shape)]) }
            for j in 0..<shape[axis] { index[axis] = j; sum += Foundation.exp(x[ravel(index, shape)] - largest) }
            y[flat] = Foundation.exp(own - largest) / sum
        }
        return y
    }

    /// ONNX Transpose: output axis i is input axis perm[i].
    static func transpose(_ x: [Double], shape: [Int], perm: [Int]) -> (y: [Double], shape: [Int]) {
        let outShape = perm.map { shape[$0] }
        var y = [Double](repeating: 0, count: x.count)
        for flat in 0..<y.count {
            let outIndex = unravel(flat, outShape)
            var inIndex = [Int](repeating: 0, count: shape.count)
            for i in 0..<perm.count { inIndex[perm[i]] = outIndex[i] }
            y[flat] = x[ravel(inIndex, shape)]
        }
        return (y, outShape)
    }

    /// Concatenation along `axis`.
    static func concat(_ xs: [[Double]], shapes: [[Int]], axis: Int) -> (y: [Double], shape: [Int]) {
        var outShape = shapes[0]
        outShape[axis] = shapes.reduce(0) { $0 + $1[axis] }
        var y = [Double](repeating: 0, count: count(outShape))
        for flat in 0..<y.count {
            var index = unravel(flat, outShape)
            var which = 0
            while index[axis] >= shapes[which][axis] { index[axis] -= shapes[which][axis]; which += 1 }
            y[flat] = xs[which][ravel(index, shapes[which])]
        }
        return (y, outShape)
    }

    // MARK: Operators added for ONNX import breadth

    static func clip(_ x: [Double], low: Double, high: Double) -> [Double] { x.map { min(max($0, low), high) } }
    static func hardSigmoid(_ x: [Double], alpha: Double, beta: Double) -> [Double] { x.map { max(0, min(1, alpha * $0 + beta)) } }
    static func hardSwish(_ x: [Double]) -> [Double] { x.map { $0 * max(0, min(1, $0 / 6 + 0.5)) } }
    static func leakyRelu(_ x: [Double], alpha: Double) -> [Double] { x.map { $0 < 0 ? alpha * $0 : $0 } }

    /// Sum or maximum over `axes`; the output lists the kept axes' elements in row-major order.
    static func reduce(_ x: [Double], shape: [Int], axes: Set<Int>, maximum: Bool) -> [Double] {
        let outShape = shape.indices.map { axes.contains($0) ? 1 : shape[$0] }
        var y = [Double](repeating: maximum ? -Double.infinity : 0, count: count(outShape))
        for flat in 0..<x.count {
            var index = unravel(flat, shape)
            for axis in axes { index[axis] = 0 }
            let o = ravel(index, outShape)
            y[o] = maximum ? max(y[o], x[flat]) : y[o] + x[flat]
        }
        return y
    }

    /// x broadcast to `outShape` (right-aligned NumPy rules).
    static func expand(_ x: [Double], shape: [Int], to outShape: [Int]) -> [Double] {
        let padded = [Int](repeating: 1, count: outShape.count - shape.count) + shape
        return (0..<count(outShape)).map { flat in
            let index = unravel(flat, outShape)
            return x[ravel((0..<outShape.count).map { padded[$0] == 1 ? 0 : index[$0] }, padded)]
        }
    }

    /// y[i…] = x[start + i·step …] per axis.
    static func slice(_ x: [Double], shape: [Int], starts: [Int], steps: [Int], outShape: [Int]) -> [Double] {
        (0..<count(outShape)).map { flat in
            let index = unravel(flat, outShape)
            return x[ravel((0..<shape.count).map { starts[$0] + index[$0] * steps[$0] }, shape)]
        }
    }

    /// ONNX Pad; mode 0 constant, 1 reflect, 2 edge, 3 wrap. Source coordinates by definition:
    /// reflect mirrors about the edge element (repeatedly), edge clamps, wrap is periodic.
    static func pad(_ x: [Double], shape: [Int], begins: [Int], ends: [Int], mode: Int, value: Double) -> (y: [Double], shape: [Int]) {
        let outShape = shape.indices.map { shape[$0] + begins[$0] + ends[$0] }
        let y = (0..<count(outShape)).map { flat -> Double in
            var index = unravel(flat, outShape)
            for axis in shape.indices {
                var c = index[axis] - begins[axis]
                let n = shape[axis]
                if c >= 0 && c < n { index[axis] = c; continue }
                switch mode {
                case 0: return value
                case 2: c = c < 0 ? 0 : n - 1
                case 3: c = ((c % n) + n) % n
                default:
                    while c < 0 || c >= n { c = c < 0 ? -c : 2 * (n - 1) - c }
                }
                index[axis] = c
            }
            return x[ravel(index, shape)]
        }
        return (y, outShape)
    }

    /// ONNX Resize on x (C,H,W): mode 0 nearest, 1 linear; coordinates 0 half_pixel, 1
    /// align_corners, 2 asymmetric, 3 pytorch_half_pixel (computed in float32, as onnxruntime
    /// does); nearest rounding 0 round_prefer_floor, 1 round_prefer_ceil, 2 floor, 3 ceil.
    static func resize(_ x: [Double], c: Int, h: Int, w: Int, ho: Int, wo: Int, mode: Int, coordinates: Int, rounding: Int,
                       scaleH: Float, scaleW: Float) -> [Double] {
        func source(_ o: Int, _ n: Int, _ m: Int, _ scale: Float) -> Float {
            switch coordinates {
            case 0: return (Float(o) + 0.5) / scale - 0.5
            case 1: return m == 1 ? 0 : Float(o) * Float(n - 1) / Float(m - 1)
            case 2: return Float(o) / scale
            default: return m > 1 ? (Float(o) + 0.5) / scale - 0.5 : 0
            }
        }
        func nearest(_ v: Float, _ n: Int) -> Int {
            let f = Foundation.floor(Double(v)), frac = Double(v) - f
            var r: Double
            switch rounding {
            case 2: r = f
            case 3: r = Foundation.ceil(Double(v))
            case 1: r = frac >= 0.5 ? f + 1 : f
            default: r = frac > 0.5 ? f + 1 : f
            }
            return Int(min(max(r, 0), Double(n - 1)))
        }
        var y = [Double](repeating: 0, count: c * ho * wo)
        for ci in 0..<c {
            for oy in 0..<ho {
                for ox in 0..<wo {
                    let sy = source(oy, h, ho, scaleH), sx = source(ox, w, wo, scaleW)
                    let value: Double
                    if mode == 0 {
                        value = x[(ci * h + nearest(sy, h)) * w + nearest(sx, w)]
                    } else {
                        let cy = min(max(Double(sy), 0), Double(h - 1)), cx = min(max(Double(sx), 0), Double(w - 1))
                        let y0 = Int(cy), x0 = Int(cx), y1 = min(y0 + 1, h - 1), x1 = min(x0 + 1, w - 1)
                        let dy = cy - Double(y0), dx = cx - Double(x0)
                        func at(_ yy: Int, _ xx: Int) -> Double { x[(ci * h + yy) * w + xx] }
                        value = (1 - dy) * (1 - dx) * at(y0, x0) + (1 - dy) * dx * at(y0, x1) + dy * (1 - dx) * at(y1, x0) + dy * dx * at(y1, x1)
                    }
                    y[(ci * ho + oy) * wo + ox] = value
                }
            }
        }
        return y
    }

    // MARK: Exit arithmetic

    static func logSoftmax(_ x: [Double]) -> [Double] {
        let largest = x.max()!
        let lse = largest + Foundation.log(x.reduce(0.0) { $0 + Foundation.exp($1 - largest) })
        return x.map { $0 - lse }
    }

    static func maxProbability(_ x: [Double]) -> Double { logSoftmax(x).map { Foundation.exp($0) }.max()! }

    static func entropy(_ x: [Double]) -> Double { -logSoftmax(x).reduce(0.0) { $0 + Foundation.exp($1) * $1 } }

    /// Eq. 9: Σ_k softmax(gates)_k · log_softmax(logits_k).
    static func combine(logits: [[Double]], gates: [Double]) -> [Double] {
        let largest = gates.max()!
        let weights = gates.map { Foundation.exp($0 - largest) }
        let total = weights.reduce(0, +)
        var out = [Double](repeating: 0, count: logits[0].count)
        for k in 0..<logits.count {
            let ls = logSoftmax(logits[k])
            for c in 0..<out.count { out[c] += weights[k] / total * ls[c] }
        }
        return out
    }

    // MARK: MACs

    /// Multiply-accumulates by the documented formula, from the tensors' shapes alone:
    /// conv Cout·Hout·Wout·(Cin/groups)·Kh·Kw, fc out·in, matmul batch·M·N·K,
    /// batchNorm, mul and div the element count, linear resize 4 per output element, all others 0.
    static func macs(kind: OperatorKind, inputs: [[Int]], output: [Int], linearResize: Bool = false) -> Int {
        switch kind {
        case .conv2d:
            let w = inputs[1] // [Cout, Cin/groups, Kh, Kw]
            return output[1] * output[2] * output[3] * w[1] * w[2] * w[3]
        case .fullyConnected:
            return inputs[1][0] * inputs[1][1]
        case .matmul:
            let lhs = inputs[0]
            return count(output) * lhs[lhs.count - 1]
        case .batchNorm, .mul, .div:
            return count(output)
        case .resize:
            return linearResize ? 4 * count(output) : 0
        default:
            return 0
        }
    }

    static func macs(of op: Operator, in model: Model) -> Int {
        macs(kind: op.kind, inputs: op.inputs.map { model.tensors[$0].shape.dims }, output: model.tensors[op.output].shape.dims,
             linearResize: op.kind == .resize && op.attributes[0] == 1)
    }
}

// MARK: An independent executor

/// Runs a loaded model's schedule with the reference operators, in Double, reading the
/// constants straight from the model bytes. Shares nothing with the interpreter but the
/// parsed tables.
struct ReferenceExecutor {
    let model: Model

    func constant(_ tensor: Int) -> [Double] {
        model.withConstantBytes(of: tensor) { raw in
            (0..<(raw.count / 4)).map { Double(Float(bitPattern: raw.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self))) }
        }
    }

    /// The value of every tensor computed, by tensor index.
    func run(_ input: [Float]) -> [Int: [Double]] {
        var values: [Int: [Double]] = [model.inputTensor: input.map(Double.init)]
        func value(_ tensor: Int) -> [Double] {
            if let known = values[tensor] { return known }
            return constant(tensor)
        }
        func shape(_ tensor: Int) -> [Int] { model.tensors[tensor].shape.dims }
        func float(_ word: Int32) -> Float { Float(bitPattern: UInt32(bitPattern: word)) }
        for op in model.operators {
            let a = op.attributes
            let relu = op.activation == .relu
            let x = value(op.inputs[0]), xs = shape(op.inputs[0])
            var y: [Double]
            switch op.kind {
            case .conv2d:
                let w = shape(op.inputs[1])
                y = Ref.conv2d(x, c: xs[1], h: xs[2], w: xs[3], weights: value(op.inputs[1]), cout: w[0],
                               bias: op.inputs.count == 3 ? value(op.inputs[2]) : nil, Ref.Conv(attributes: a), relu: relu).y
            case .fullyConnected:
                let w = shape(op.inputs[1])
                y = Ref.fullyConnected(x, weights: value(op.inputs[1]), bias: op.inputs.count == 3 ? value(op.inputs[2]) : nil,
                                       inputs: w[1], outputs: w[0], relu: relu)
            case .add, .mul:
                let add = op.kind == .add
                y = Ref.binary(x, xs, value(op.inputs[1]), shape(op.inputs[1])) { add ? $0 + $1 : $0 * $1 }.y
                if relu { y = Ref.relu(y) }
            case .relu: y = Ref.relu(x)
            case .tanh: y = Ref.tanh(x)
            case .sigmoid: y = Ref.sigmoid(x)
            case .batchNorm:
                y = Ref.batchNorm(x, shape: xs, scale: value(op.inputs[1]), shift: value(op.inputs[2]), relu: relu)
            case .maxPool, .avgPool:
                y = Ref.pool(x, c: xs[1], h: xs[2], w: xs[3], kh: Int(a[0]), kw: Int(a[1]), sh: Int(a[2]), sw: Int(a[3]),
                             pads: (Int(a[4]), Int(a[5]), Int(a[6]), Int(a[7])), maximum: op.kind == .maxPool,
                             countIncludePad: a[8] == 1).y
            case .globalAvgPool:
                y = Ref.globalAveragePool(x, c: xs[1], spatial: xs[2] * xs[3])
            case .softmax:
                y = Ref.softmax(x, shape: xs, axis: Int(a[0]))
            case .matmul:
                y = Ref.matmul(x, xs, value(op.inputs[1]), shape(op.inputs[1])).y
            case .transpose:
                y = Ref.transpose(x, shape: xs, perm: (0..<xs.count).map { Int(a[$0]) }).y
            case .reshape:
                y = x
            case .concat:
                y = Ref.concat(op.inputs.map(value), shapes: op.inputs.map(shape), axis: Int(a[0])).y
            case .clip:
                y = Ref.clip(x, low: Double(float(a[0])), high: Double(float(a[1])))
            case .hardSigmoid:
                y = Ref.hardSigmoid(x, alpha: Double(float(a[0])), beta: Double(float(a[1])))
            case .hardSwish:
                y = Ref.hardSwish(x)
            case .leakyRelu:
                y = Ref.leakyRelu(x, alpha: Double(float(a[0])))
            case .reduceSum, .reduceMax:
                y = Ref.reduce(x, shape: xs, axes: Set(xs.indices.filter { a[0] & (1 << $0) != 0 }), maximum: op.kind == .reduceMax)
            case .expand:
                y = Ref.expand(x, shape: xs, to: shape(op.output))
            case .slice:
                y = Ref.slice(x, shape: xs, starts: xs.indices.map { Int(a[$0]) }, steps: xs.indices.map { Int(a[4 + $0]) },
                              outShape: shape(op.output))
            case .pad:
                y = Ref.pad(x, shape: xs, begins: xs.indices.map { Int(a[$0]) }, ends: xs.indices.map { Int(a[4 + $0]) },
                            mode: Int(a[8]), value: Double(float(a[9]))).y
            case .resize:
                let ys = shape(op.output)
                y = Ref.resize(x, c: xs[1], h: xs[2], w: xs[3], ho: ys[2], wo: ys[3], mode: Int(a[0]), coordinates: Int(a[1]),
                               rounding: Int(a[2]), scaleH: float(a[3]), scaleW: float(a[4]))
            case .sub, .div:
                let divide = op.kind == .div
                y = Ref.binary(x, xs, value(op.inputs[1]), shape(op.inputs[1])) { divide ? $0 / $1 : $0 - $1 }.y
            }
            values[op.output] = y
        }
        return values
    }
}

// MARK: Helpers shared by the tests

/// Asserts |actual − expected| ≤ tolerance · max(1, |expected|) element by element.
func assertClose(_ actual: [Float], _ expected: [Double], tolerance: Double = 1e-4, _ message: @autoclosure () -> String = "",
                 file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(actual.count, expected.count, "element count " + message(), file: file, line: line)
    var worst = 0.0, worstIndex = -1
    for i in 0..<min(actual.count, expected.count) {
        let error = abs(Double(actual[i]) - expected[i]) / max(1, abs(expected[i]))
        if !(error <= worst) { worst = error; worstIndex = i }
    }
    if worstIndex >= 0 && !(worst <= tolerance) {
        XCTFail("element \(worstIndex): \(actual[worstIndex]) vs expected \(expected[worstIndex]) (scaled error \(worst) > \(tolerance)) " + message(),
                file: file, line: line)
    }
}

extension SeededGenerator {
    /// Uniform integer in a closed range.
    mutating func int(_ range: ClosedRange<Int>) -> Int { range.lowerBound + Int(next() % UInt64(range.count)) }
    mutating func bool() -> Bool { next() & 1 == 1 }
}

/// Result of running a tiny model through `Model` + `Interpreter`.
struct InterpretedOutput {
    let model: Model
    /// The values of the tensor under test, read back through the exit's logits.
    let values: [Float]
}

/// Builds `input → body → reshape [1, N] (the exit logits) → fully connected [1, 1] (the gate)`,
/// loads it with the validator, runs it, and returns the body's output read back as logits.
/// `body` returns the tensor under test and its element count (≥ 2).
func interpret(inputShape: [Int], input: [Float], kernels: KernelSet? = nil, file: StaticString = #filePath, line: UInt = #line,
               _ body: (inout ModelBuilder, Int) -> (tensor: Int, count: Int)) throws -> InterpretedOutput {
    var b = ModelBuilder()
    let x = b.addInput(shape: inputShape)
    let (y, n) = body(&b, x)
    let logits = b.add(.reshape, [y], shape: [1, n])
    let gateWeights = b.addConstant([Float](repeating: 1 / Float(n), count: n), shape: [1, n])
    let gate = b.add(.fullyConnected, [logits, gateWeights], shape: [1, 1])
    b.addExit(logits: logits, gate: gate)
    let model = try Model(bytes: try b.serialize(), kernels: kernels)
    let interpreter = Interpreter(model: model)
    try interpreter.setPolicy(ExitPolicy(signal: .none, thresholds: []))
    let summary = try interpreter.run(input)
    XCTAssertEqual(summary.exitIndex, 0, file: file, line: line)
    return InterpretedOutput(model: model, values: Array(interpreter.logits(exit: 0)))
}

/// Heap memory for calling kernels directly. Every block lives until the pool is released,
/// and outputs are read back through the pool, so the pool (and every input block) is alive
/// across each kernel call. Outputs are prefilled with NaN so that an element a kernel
/// forgets to write shows up in the comparison.
final class KernelMemory {
    private var blocks: [UnsafeMutablePointer<Float>] = []

    func input(_ values: [Float]) -> UnsafePointer<Float> {
        let block = output(values.count)
        for (i, v) in values.enumerated() { block[i] = v }
        return UnsafePointer(block)
    }

    func output(_ count: Int, fill: Float = .nan) -> UnsafeMutablePointer<Float> {
        let block = UnsafeMutablePointer<Float>.allocate(capacity: max(count, 1))
        block.initialize(repeating: fill, count: max(count, 1))
        blocks.append(block)
        return block
    }

    func read(_ block: UnsafeMutablePointer<Float>, _ count: Int) -> [Float] {
        Array(UnsafeBufferPointer(start: block, count: count))
    }

    deinit { for block in blocks { block.deallocate() } }
}

extension Array where Element == Float {
    var doubles: [Double] { map(Double.init) }
}
