// FloatMath's pure-Swift exp, log, tanh and sigmoid against Glibc's double-precision functions.
@testable import EarlyExit
import EarlyExitTools
import Foundation
import XCTest

final class FloatMathTests: XCTestCase {
    /// Worst relative error of `f` against `exact` (computed in Double) over `points`,
    /// for exact values in the normal float range; also returns the argument where it occurs.
    struct Sweep {
        var worstRelative = 0.0, worstRelativeAt: Float = 0
        var worstAbsolute = 0.0, worstAbsoluteAt: Float = 0
        var failures: [String] = []

        mutating func record(_ x: Float, _ got: Float, _ exact: Double) {
            let error = abs(Double(got) - exact)
            if !(error <= worstAbsolute) { worstAbsolute = error; worstAbsoluteAt = x }
            if exact != 0 {
                let relative = error / abs(exact)
                if !(relative <= worstRelative) { worstRelative = relative; worstRelativeAt = x }
            }
        }
    }

    // Bounds set just above the worst errors measured on x86-64 in a baseline (non-FMA)
    // build, which each sweep prints: exp 9.4e-8 relative (at −50.94), log 1.83e-7 (at
    // 1.00146), tanh 1.59e-7 relative / 8.1e-8 absolute (at −0.567), sigmoid 1.72e-7 (at
    // −15.54); in the subnormal range exp and sigmoid are within 0.74 of 2^-149.
    static let expBound = 1.5e-7
    static let logBound = 2.5e-7
    static let tanhRelativeBound = 2.5e-7
    static let tanhAbsoluteBound = 1.2e-7
    static let sigmoidBound = 2.5e-7

    func testExpMatchesGlibcOverDenseSweep() {
        var sweep = Sweep()
        var subnormalError = 0.0
        let n = 100_000
        for i in 0..<n {
            let x = Float(-100 + 200 * Double(i) / Double(n - 1))
            let exact = Foundation.exp(Double(x))
            let got = FloatMath.exp(x)
            if Float(exact).isInfinite {
                XCTAssertEqual(got, .infinity, "exp(\(x)) overflows in float")
            } else if exact < Double(Float.leastNormalMagnitude) {
                // Subnormal results carry fewer bits: the error is measured in units of the least subnormal.
                subnormalError = max(subnormalError, abs(Double(got) - exact) / Double(Float.leastNonzeroMagnitude))
            } else {
                sweep.record(x, got, exact)
            }
        }
        print("exp: worst relative error \(sweep.worstRelative) at \(sweep.worstRelativeAt); subnormal error \(subnormalError) × 2^-149")
        XCTAssertLessThanOrEqual(sweep.worstRelative, Self.expBound, "exp at \(sweep.worstRelativeAt)")
        XCTAssertLessThanOrEqual(subnormalError, 1.0, "exp in the subnormal range")
    }

    func testExpNearOverflowAndUnderflowThresholds() {
        // Every float from 88.7 up to the overflow threshold ln(FLT_MAX) = 88.7228391…
        // and a little beyond: finite (and accurate) exactly when the correctly rounded result is.
        var x: Float = 88.7
        while x < 88.7230 {
            let exact = Foundation.exp(Double(x))
            let got = FloatMath.exp(x)
            if Float(exact).isInfinite {
                XCTAssertEqual(got, .infinity, "exp(\(x))")
            } else {
                XCTAssert(got.isFinite, "exp(\(x)) = \(got), expected \(exact)")
                XCTAssertLessThanOrEqual(abs(Double(got) - exact) / exact, Self.expBound, "exp(\(x))")
            }
            x = x.nextUp
        }
        // Near the bottom of the subnormal range: within one least-subnormal of the exact value.
        x = -104.5
        while x < -102 {
            let exact = Foundation.exp(Double(x))
            XCTAssertLessThanOrEqual(abs(Double(FloatMath.exp(x)) - exact), Double(Float.leastNonzeroMagnitude), "exp(\(x))")
            x += 0.001
        }
    }

    func testExpSpecialValues() {
        XCTAssertEqual(FloatMath.exp(0), 1)
        XCTAssertEqual(FloatMath.exp(-0.0), 1)
        XCTAssertEqual(FloatMath.exp(-200), 0)
        XCTAssertEqual(FloatMath.exp(-.infinity), 0)
        XCTAssertEqual(FloatMath.exp(100), .infinity)
        XCTAssertEqual(FloatMath.exp(.infinity), .infinity)
        XCTAssert(FloatMath.exp(.nan).isNaN)
        // exp(1) = e = 2.718281828…, exp(ln 2) = 2 (to float precision).
        XCTAssertEqual(Double(FloatMath.exp(1)), M_E, accuracy: 3e-7)
        XCTAssertEqual(FloatMath.exp(Float(M_LN2)), 2, accuracy: 4e-7)
    }

    func testLogMatchesGlibcLogSpacedOverFullRange() {
        // 100,000 log-spaced points from the least subnormal (1.4e-45) to 1e30, plus 1 ± small.
        var sweep = Sweep()
        let n = 100_000
        let low = Foundation.log(Double(Float.leastNonzeroMagnitude)), high = Foundation.log(1e30)
        var points: [Float] = (0..<n).map { Float(Foundation.exp(low + (high - low) * Double($0) / Double(n - 1))) }
        points += (1...2000).map { 1 + Float($0) * 1e-6 } + (1...2000).map { 1 - Float($0) * 5e-7 }
        points += [Float.leastNonzeroMagnitude, Float.leastNormalMagnitude, Float.leastNormalMagnitude.nextDown, 1e30, Float.greatestFiniteMagnitude]
        for x in points where x > 0 {
            sweep.record(x, FloatMath.log(x), Foundation.log(Double(x)))
        }
        print("log: worst relative error \(sweep.worstRelative) at \(sweep.worstRelativeAt)")
        XCTAssertLessThanOrEqual(sweep.worstRelative, Self.logBound, "log at \(sweep.worstRelativeAt)")
    }

    func testLogSpecialValues() {
        XCTAssertEqual(FloatMath.log(1), 0)
        XCTAssertEqual(FloatMath.log(0), -.infinity)
        XCTAssertEqual(FloatMath.log(-0.0), -.infinity)
        XCTAssert(FloatMath.log(-1).isNaN)
        XCTAssert(FloatMath.log(-.infinity).isNaN)
        XCTAssert(FloatMath.log(.nan).isNaN)
        XCTAssertEqual(FloatMath.log(.infinity), .infinity)
        // Subnormals: log(2^-149) = −149·ln 2 = −103.2789…, log(2^-130) = −90.1091…
        XCTAssertEqual(Double(FloatMath.log(Float.leastNonzeroMagnitude)), -149 * M_LN2, accuracy: 103.3 * 2e-7)
        XCTAssertEqual(Double(FloatMath.log(Float(sign: .plus, exponent: -130, significand: 1))), -130 * M_LN2, accuracy: 90.2 * 2e-7)
        XCTAssertEqual(Double(FloatMath.log(Float(sign: .plus, exponent: -140, significand: 1.5))), -140 * M_LN2 + Foundation.log(1.5), accuracy: 97 * 2e-7)
        // log(e) = 1, log(2) = ln 2, log(0.5) = −ln 2.
        XCTAssertEqual(FloatMath.log(Float(M_E)), 1, accuracy: 2e-7)
        XCTAssertEqual(Double(FloatMath.log(2)), M_LN2, accuracy: 1e-7)
        XCTAssertEqual(Double(FloatMath.log(0.5)), -M_LN2, accuracy: 1e-7)
    }

    func testTanhMatchesGlibcOverDenseSweep() {
        var sweep = Sweep()
        let n = 100_000
        var points: [Float] = (0..<n).map { Float(-20 + 40 * Double($0) / Double(n - 1)) }
        points += (1...2000).map { Float($0) * 2.5e-4 } + (1...200).map { -Float($0) * 1e-6 } // around 0 and the 0.5 switch
        points += [0.5, Float(0.5).nextDown, Float(0.5).nextUp, 9.1, Float(9.1).nextUp, -9.1, 1e-30, -1e-30]
        for x in points {
            sweep.record(x, FloatMath.tanh(x), Foundation.tanh(Double(x)))
        }
        print("tanh: worst relative error \(sweep.worstRelative) at \(sweep.worstRelativeAt), worst absolute \(sweep.worstAbsolute) at \(sweep.worstAbsoluteAt)")
        XCTAssertLessThanOrEqual(sweep.worstRelative, Self.tanhRelativeBound, "tanh at \(sweep.worstRelativeAt)")
        XCTAssertLessThanOrEqual(sweep.worstAbsolute, Self.tanhAbsoluteBound, "tanh at \(sweep.worstAbsoluteAt)")
    }

    func testTanhSpecialValuesAndOddness() {
        XCTAssertEqual(FloatMath.tanh(0), 0)
        XCTAssertEqual(FloatMath.tanh(30), 1)
        XCTAssertEqual(FloatMath.tanh(-30), -1)
        XCTAssertEqual(FloatMath.tanh(.infinity), 1)
        XCTAssertEqual(FloatMath.tanh(-.infinity), -1)
        XCTAssert(FloatMath.tanh(.nan).isNaN)
        XCTAssertEqual(FloatMath.tanh(1e-30), 1e-30) // tanh x = x − x³/3 + …: x³ vanishes
        for i in 0..<2000 {
            let x = Float(i) * 0.01
            XCTAssertEqual(FloatMath.tanh(-x), -FloatMath.tanh(x), "tanh is odd at \(x)")
            XCTAssertLessThanOrEqual(abs(FloatMath.tanh(x)), 1)
        }
    }

    func testSigmoidMatchesDefinition() {
        var sweep = Sweep()
        var subnormalError = 0.0
        let n = 100_000
        for i in 0..<n {
            let x = Float(-100 + 200 * Double(i) / Double(n - 1))
            let exact = 1 / (1 + Foundation.exp(-Double(x)))
            let got = FloatMath.sigmoid(x)
            if exact < Double(Float.leastNormalMagnitude) {
                subnormalError = max(subnormalError, abs(Double(got) - exact) / Double(Float.leastNonzeroMagnitude))
            } else {
                sweep.record(x, got, exact)
            }
        }
        print("sigmoid: worst relative error \(sweep.worstRelative) at \(sweep.worstRelativeAt); subnormal error \(subnormalError) × 2^-149")
        XCTAssertLessThanOrEqual(sweep.worstRelative, Self.sigmoidBound, "sigmoid at \(sweep.worstRelativeAt)")
        XCTAssertLessThanOrEqual(subnormalError, 1.0)
        // σ(0) = 1/2, σ(x) + σ(−x) = 1, saturation.
        XCTAssertEqual(FloatMath.sigmoid(0), 0.5)
        XCTAssertEqual(FloatMath.sigmoid(100), 1)
        XCTAssertEqual(FloatMath.sigmoid(-200), 0)
        for x: Float in [0.25, 1, 3, 7.5] { XCTAssertEqual(FloatMath.sigmoid(x) + FloatMath.sigmoid(-x), 1, accuracy: 2e-7) }
    }

    /// The interpreter's input quantization equals the libm-rounded formula it replaced, on
    /// quotients at and around every half-integer of the int8 range, random values, extremes,
    /// zero points across int8, and NaN.
    func testInputQuantizationEqualsTheRoundedFormula() {
        func reference(_ value: Float, _ scale: Float, _ zeroPoint: Int32) -> Int8 {
            let v = (value / scale).rounded() + Float(zeroPoint)
            return Int8(max(-128, min(127, v.isNaN ? 0 : v)))
        }
        var values: [Float] = [0, -0, .infinity, -.infinity, .nan, .greatestFiniteMagnitude, -.greatestFiniteMagnitude,
                               .leastNonzeroMagnitude, 999.5, -999.5, 1000.5, -1000.5, 1e9, -1e9]
        for half in stride(from: Float(-300.5), through: 300.5, by: 0.5) {
            values += [half, half.nextUp, half.nextDown, half.nextUp.nextUp, half.nextDown.nextDown]
        }
        var rng = SeededGenerator(seed: 31)
        for _ in 0..<20_000 { values.append(rng.uniform(400) - 200) }
        var checked = 0
        for scale: Float in [1, 0.5, 0.02377, 3.1, 1e-30] {
            for zeroPoint: Int32 in [-128, -37, 0, 5, 127] {
                for value in values {
                    let input = value * scale
                    XCTAssertEqual(FloatMath.quantize(input, scale: scale, zeroPoint: zeroPoint), reference(input, scale, zeroPoint),
                                   "value \(input) scale \(scale) zero point \(zeroPoint)")
                    checked += 1
                }
            }
        }
        XCTAssertGreaterThan(checked, 500_000)
    }
}
