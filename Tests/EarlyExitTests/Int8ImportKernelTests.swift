// The int8 forms of the operators added for ONNX import breadth, end to end (ModelBuilder →
// Model → Interpreter.run(int8)) against
// 1. integer reference loops written here from each operator's definition (the arithmetic the
//    format documents, in Int64): outputs must be bit-exact;
// 2. float references in Double from the dequantized int8 inputs, within a stated bound in
//    output LSBs (of the float value clamped to the representable range):
//      - clip: the bounds are rounded to the int8 grid → 0.5 LSB;
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
