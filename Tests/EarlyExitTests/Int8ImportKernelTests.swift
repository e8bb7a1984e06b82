// The int8 forms of the operators added for ONNX import breadth, end to end (ModelBuilder →
// Model → Interpreter.run(int8)) against
// 1. integer reference loops written here from each operator's definition (the arithmetic the
//    format documents, in Int64): outputs must be bit-exact;
// 2. float references in Double from the dequantized int8 inputs, within a stated bound in
//    output LSBs (of the float value clamped to the representable range):
//      - clip: the bounds are rounded to the int8 grid → 0.5 LSB;
//      - reduce_sum: one requantization (double rounding) → 1 LSB; reduce_max, expand, slice,
//        pad, nearest resize: exact (0);
//      - linear resize: 0.5 LSB for the final rounding plus the Q15 weights' error, at most
//        2 · 2^-16 · 255 LSB (weights sum to 2^15 exactly) → 0.5 + 0.008;
//      - sub: as add → 1 LSB + 1e-3;
//      - div: one requantization → 1 LSB, plus the Q16 quotient's rounding (half a 2^-16 step
//        of s_a/s_b, far below an output LSB here) → 1 + 1e-3.
// (hard_sigmoid, hard_swish and leaky_relu run by lookup table, as tanh: the tables are checked
// in QuantizedImportOperatorTests, where the quantizer builds them.)
@testable import EarlyExit
import EarlyExitTools
import Foundation
import XCTest

final class Int8ImportKernelTests: XCTestCase {
    typealias F = Int8KernelFixtures

    static func dequantize(_ q: [Int8], _ scale: Float, _ zp: Int32) -> [Double] { q.map { Double(scale) * Double(Int32($0) - zp) } }

    /// Runs `input → one int8 operator (sharing or given quantization) → exit`.
    func run(_ kind: OperatorKind, inputShape: [Int], input: [Int8], q: Quantization, outputShape: [Int], output: Quantization? = nil,
             attributes: [Int32] = []) throws -> [Int8] {
        try F.run(inputShape: inputShape, input: input, quantization: q) { b, x in
            let y = b.addActivation(shape: outputShape, dataType: .int8, quantization: output ?? q)
            b.addOperator(kind, inputs: [x], output: y, attributes: attributes)
            return (y, outputShape)
        }.values
    }

    // MARK: Clip

    func testClipClampsAtTheBoundsOnTheInt8Grid() throws {
        var rng = SeededGenerator(seed: 0x1C11)
        let shape = [1, 3, 5, 7] // 105: six 16-lane vectors and a tail of 9
        var worst = 0.0
        for (low, high) in [(0.0, 6.0), (-0.37, 1.23), (-Double.infinity, 0.5)] {
            let scale = Float(F.uniform(&rng, 0.03, 0.06)), zp = Int32(F.integer(&rng, -40...40))
            let x = F.int8s(&rng, 105)
            func level(_ v: Double) -> Int32 { v == -.infinity ? -128 : Int32(max(-128, min(127, (v / Double(scale)).rounded() + Double(zp)))) }
            let lo = level(low), hi = level(high)
            let expected = x.map { Int8(min(max(Int32($0), lo), hi)) }
            let actual = try run(.clip, inputShape: shape, input: x, q: F.perTensor(scale, zp), outputShape: shape, attributes: [lo, hi])
            XCTAssertNil(F.firstMismatch(actual, expected), "clip \(low)…\(high)")
            let real = Ref.clip(Self.dequantize(x, scale, zp), low: low, high: high)
            let error = F.floatError(actual, real, scale: scale, zeroPoint: zp)
            XCTAssertLessThanOrEqual(error, 0.5 + 1e-6, "clip \(low)…\(high): float error in LSB")
            worst = max(worst, error)
        }
        print("int8 clip: bit-exact; worst |int8 − float| = \(worst) LSB")
    }

    // MARK: Reductions

    func testReduceSumRequantizesTheExactSumAndReduceMaxIsExact() throws {
        var rng = SeededGenerator(seed: 0x5E5)
        let cases: [(shape: [Int], axes: Set<Int>, keep: Bool)] = [
            ([1, 4, 5, 6], [1], true), ([1, 4, 5, 6], [2, 3], false), ([1, 4, 5, 6], [1, 3], true), ([1, 32, 64], [2], false),
            ([2, 3, 4], [0, 2], true),
        ]
        var worst = 0.0
        for c in cases {
            let scale = Float(F.uniform(&rng, 0.02, 0.05)), zp = Int32(F.integer(&rng, -30...30))
            let x = F.int8s(&rng, Ref.count(c.shape))
            var outShape = c.shape.indices.compactMap { c.axes.contains($0) ? (c.keep ? 1 : nil) : c.shape[$0] }
            if outShape.isEmpty { outShape = [1] }
            let mask = Int32(c.axes.reduce(0) { $0 | (1 << $1) })
            // Integer sums of x − zp and maxima, by multi-index.
            let sums = Ref.reduce(x.map { Double(Int32($0) - zp) }, shape: c.shape, axes: c.axes, maximum: false).map { Int64($0) }
            let maxima = Ref.reduce(x.map { Double($0) }, shape: c.shape, axes: c.axes, maximum: true).map { Int8($0) }
            let real = sums.map { Double(scale) * Double($0) }
            let (sy, zy) = F.outputParameters(real)
            let (m, s) = FixedPoint.quantizeMultiplier(Double(scale) / Double(sy))
            let summed = try run(.reduceSum, inputShape: c.shape, input: x, q: F.perTensor(scale, zp), outputShape: outShape,
                                 output: F.perTensor(sy, zy), attributes: [mask, m, s])
            XCTAssertNil(F.firstMismatch(summed, sums.map { F.requantize($0, m, s, zeroPoint: zy) }), "reduce_sum \(c)")
            let error = F.floatError(summed, real, scale: sy, zeroPoint: zy)
            XCTAssertLessThanOrEqual(error, 1.0, "reduce_sum \(c): float error in LSB")
            worst = max(worst, error)
            let largest = try run(.reduceMax, inputShape: c.shape, input: x, q: F.perTensor(scale, zp), outputShape: outShape, attributes: [mask])
            XCTAssertEqual(largest, maxima, "reduce_max \(c)")
        }
        print("int8 reduce_sum: bit-exact; worst |int8 − float| = \(worst) LSB; reduce_max exact")
    }

    // MARK: Data movement

    func testExpandSliceAndPadMoveInt8Exactly() throws {
        var rng = SeededGenerator(seed: 0xE5)
        let q = F.perTensor(0.05, 7)
        for (from, to) in [([1, 1, 4, 5], [1, 3, 4, 5]), ([3, 1], [2, 3, 4])] {
            let x = F.int8s(&rng, Ref.count(from))
            let actual = try run(.expand, inputShape: from, input: x, q: q, outputShape: to)
            XCTAssertEqual(actual, Ref.expand(x.map(Double.init), shape: from, to: to).map { Int8($0) }, "expand \(from) → \(to)")
        }
        let shape = [1, 6, 7, 8]
        let x = F.int8s(&rng, Ref.count(shape))
        for (starts, steps, out) in [([0, 1, 2, 0], [1, 2, 1, 3], [1, 3, 4, 3]), ([0, 5, 6, 7], [1, -1, -2, -3], [1, 6, 4, 3])] {
            let actual = try run(.slice, inputShape: shape, input: x, q: q, outputShape: out, attributes: (starts + steps).map { Int32($0) })
            XCTAssertEqual(actual, Ref.slice(x.map(Double.init), shape: shape, starts: starts, steps: steps, outShape: out).map { Int8($0) },
                           "slice \(starts) \(steps)")
        }
        let small = [1, 2, 4, 5]
        let y = F.int8s(&rng, Ref.count(small))
        for (begins, ends, mode, value) in [([0, 0, 1, 2], [0, 0, 2, 1], 0, Int32(7)), ([0, 1, 3, 4], [0, 1, 3, 4], 1, 0),
                                            ([0, 0, 3, 1], [0, 2, 0, 6], 2, 0), ([0, 0, 4, 5], [0, 1, 2, 3], 3, 0)] {
            let expected = Ref.pad(y.map(Double.init), shape: small, begins: begins, ends: ends, mode: mode, value: Double(value))
            let actual = try run(.pad, inputShape: small, input: y, q: q, outputShape: expected.shape,
                                 attributes: (begins + ends).map { Int32($0) } + [Int32(mode), value])
            XCTAssertEqual(actual, expected.y.map { Int8($0) }, "pad mode \(mode)")
        }
    }

    // MARK: Resize

    /// The Q15 linear interpolation by definition: source coordinates as `Ref.resize` (float32),
    /// clamped; each axis's weight of the second neighbour round(w·2^15), the first's the rest;
    /// y = zp + round(Σ w_y·w_x·(x − zp) / 2^30), ties away from zero.
    static func resizeLinearReference(_ x: [Int8], zp: Int32, c: Int, h: Int, w: Int, ho: Int, wo: Int, coordinates: Int,
                                      scaleH: Float, scaleW: Float) -> [Int8] {
        func source(_ o: Int, _ n: Int, _ m: Int, _ scale: Float) -> (Int, Int, Int64) {
            var v: Float
            switch coordinates {
            case 0: v = (Float(o) + 0.5) / scale - 0.5
            case 1: v = m == 1 ? 0 : Float(o) * Float(n - 1) / Float(m - 1)
            case 2: v = Float(o) / scale
            default: v = m > 1 ? (Float(o) + 0.5) / scale - 0.5 : 0
            }
            v = min(max(v, 0), Float(n - 1))
            let first = Int(v.rounded(.down))
            return (first, min(first + 1, n - 1), Int64(((v - Float(first)) * 32768).rounded()))
        }
        var y: [Int8] = []
        for ci in 0..<c {
            for oy in 0..<ho {
                let (y0, y1, wy) = source(oy, h, ho, scaleH)
                for ox in 0..<wo {
                    let (x0, x1, wx) = source(ox, w, wo, scaleW)
                    func at(_ yy: Int, _ xx: Int) -> Int64 { Int64(x[(ci * h + yy) * w + xx]) - Int64(zp) }
                    let acc = (32768 - wy) * ((32768 - wx) * at(y0, x0) + wx * at(y0, x1)) + wy * ((32768 - wx) * at(y1, x0) + wx * at(y1, x1))
                    let half: Int64 = 1 << 29
                    let rounded = acc >= 0 ? (acc + half) >> 30 : -((-acc + half) >> 30)
                    y.append(Int8(min(max(rounded + Int64(zp), -128), 127)))
                }
            }
        }
        return y
    }

    func testResizeLinearIsBitExactWithQ15WeightsAndNearestCopies() throws {
        var rng = SeededGenerator(seed: 0x2E5)
        var worst = 0.0
        for r in ImportOperatorTests.resizeCases {
            let scale = Float(F.uniform(&rng, 0.02, 0.05)), zp = Int32(F.integer(&rng, -30...30))
            let x = F.int8s(&rng, r.c * r.h * r.w)
            let actual = try run(.resize, inputShape: [1, r.c, r.h, r.w], input: x, q: F.perTensor(scale, zp), outputShape: [1, r.c, r.ho, r.wo],
                                 attributes: r.attributes)
            let real = Ref.resize(Self.dequantize(x, scale, zp), c: r.c, h: r.h, w: r.w, ho: r.ho, wo: r.wo, mode: r.mode,
                                  coordinates: r.coordinates, rounding: r.rounding, scaleH: r.scaleH, scaleW: r.scaleW)
            if r.mode == 0 {
                XCTAssertEqual(F.floatError(actual, real, scale: scale, zeroPoint: zp), 0, "nearest \(r)")
                continue
            }
            let expected = Self.resizeLinearReference(x, zp: zp, c: r.c, h: r.h, w: r.w, ho: r.ho, wo: r.wo, coordinates: r.coordinates,
                                                      scaleH: r.scaleH, scaleW: r.scaleW)
            XCTAssertNil(F.firstMismatch(actual, expected), "linear \(r)")
            let error = F.floatError(actual, real, scale: scale, zeroPoint: zp)
            XCTAssertLessThanOrEqual(error, 0.5 + 0.008, "linear \(r): float error in LSB")
            worst = max(worst, error)
        }
        print("int8 resize: linear bit-exact, worst |int8 − float| = \(worst) LSB; nearest exact")
    }

    // MARK: Sub and div

    func testSubIsBitExactWithTFLiteSub() throws {
        var worst = 0.0
        // runBinary (Int8KernelTests) builds the model and the references of a broadcast binary operator.
        let tests = Int8KernelTests(name: "runBinary", testClosure: { _ in })
        for (index, c) in Int8KernelTests.binaryCases.enumerated() where !c.relu {
            let result = try tests.runBinary(.sub, c, seed: 0x5B + UInt64(index), attributes: { sa, sb, sy in
                let twiceMax = 2 * max(Double(sa), Double(sb))
                let (m1, s1) = FixedPoint.quantizeMultiplier(Double(sa) / twiceMax)
                let (m2, s2) = FixedPoint.quantizeMultiplier(Double(sb) / twiceMax)
                let (mo, so) = FixedPoint.quantizeMultiplier(twiceMax / (Double(1 << 20) * Double(sy)))
                return [20, m1, s1, m2, s2, mo, so]
            }, reference: { a, b, p, za, zb, zy, lo in
                // tflite::reference_integer_ops::SubElementwise: the rescaled B is subtracted.
                let scaledA = F.multiply((a - Int64(za)) * (1 << Int64(p[0])), p[1], p[2])
                let scaledB = F.multiply((b - Int64(zb)) * (1 << Int64(p[0])), p[3], p[4])
                let raw = F.multiply(scaledA - scaledB, p[5], p[6]) + Int64(zy)
                return Int8(min(max(raw, Int64(lo)), 127))
            }, realValue: -)
            XCTAssertNil(F.firstMismatch(result.actual, result.expected), "sub case \(index)")
            let error = F.floatError(result.actual, result.real, scale: result.sy, zeroPoint: result.zpy, lo: result.lo)
            XCTAssertLessThanOrEqual(error, 1.0 + 1e-3, "sub case \(index): float error in LSB")
            worst = max(worst, error)
        }
        print("int8 sub: bit-exact; worst |int8 − float| = \(worst) LSB")
    }

    func testDivIsBitExactInQ16AndSaturatesOnZeroDivisors() throws {
        var rng = SeededGenerator(seed: 0xD1F)
        var worst = 0.0
        for (aShape, bShape) in [([1, 3, 4, 5], [3, 1, 1]), ([1, 2, 3, 4], [1, 2, 3, 4]), ([2, 1, 4], [3, 1])] {
            let sa = Float(F.uniform(&rng, 0.02, 0.05)), za = Int32(F.integer(&rng, -20...20))
            let sb = Float(F.uniform(&rng, 0.02, 0.05)), zb = Int32(F.integer(&rng, -20...20))
            let a = F.int8s(&rng, Ref.count(aShape))
            // Divisors at least 20 steps from zero, so the real quotients stay moderate.
            let b = (0..<Ref.count(bShape)).map { _ -> Int8 in
                let d = F.integer(&rng, 20...100) * (rng.next() & 1 == 0 ? 1 : -1)
                return Int8(max(-128, min(127, d + Int(zb))))
            }
            let out = Int8KernelTests.broadcastShape(aShape, bShape)
            let count = Ref.count(out)
            let pairs = (0..<count).map { i in
                (Int64(a[Int8KernelTests.broadcastIndex(i, out: out, shape: aShape)]) - Int64(za),
                 Int64(b[Int8KernelTests.broadcastIndex(i, out: out, shape: bShape)]) - Int64(zb))
            }
            let real = pairs.map { Double(sa) * Double($0.0) / (Double(sb) * Double($0.1)) }
            let (sy, zy) = F.outputParameters(real)
            let (m, s) = FixedPoint.quantizeMultiplier(Double(sa) / (Double(sb) * Double(sy) * 65536))
            let expected = pairs.map { n, d -> Int8 in
                // round(n·2^16 / d), ties away from zero, then the output requantization.
                let numerator = n * 65536
                let magnitude = (abs(numerator) + abs(d) / 2) / abs(d)
                return F.requantize((numerator < 0) != (d < 0) ? -magnitude : magnitude, m, s, zeroPoint: zy)
            }
            let (actual, model) = try F.run(inputShape: aShape, input: a, quantization: F.perTensor(sa, za)) { builder, x in
                let k = F.int8Constant(&builder, b, shape: bShape, F.perTensor(sb, zb))
                let y = builder.addActivation(shape: out, dataType: .int8, quantization: F.perTensor(sy, zy))
                builder.addOperator(.div, inputs: [x, k], output: y, attributes: [m, s])
                return (y, out)
            }
            XCTAssertEqual(model.operators[0].macs, count)
            XCTAssertNil(F.firstMismatch(actual, expected), "div \(aShape) / \(bShape)")
            let error = F.floatError(actual, real, scale: sy, zeroPoint: zy)
            XCTAssertLessThanOrEqual(error, 1.0 + 1e-3, "div \(aShape) / \(bShape): float error in LSB")
            worst = max(worst, error)
        }
        // A zero divisor: n > 0 saturates high, n < 0 low, 0/0 gives the zero point.
        let q = F.perTensor(0.05, 3)
        let (actual, _) = try F.run(inputShape: [1, 3], input: [13, -7, 3], quantization: q) { builder, x in
            let k = F.int8Constant(&builder, [3, 3, 3], shape: [1, 3], q)
            let y = builder.addActivation(shape: [1, 3], dataType: .int8, quantization: F.perTensor(0.1, -2))
            let (m, s) = FixedPoint.quantizeMultiplier(0.05 / (0.05 * 0.1 * 65536))
            builder.addOperator(.div, inputs: [x, k], output: y, attributes: [m, s])
            return (y, [1, 3])
        }
        XCTAssertEqual(actual, [127, -128, -2])
        print("int8 div: bit-exact; worst |int8 − float| = \(worst) LSB")
    }
}
