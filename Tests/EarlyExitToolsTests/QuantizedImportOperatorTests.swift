// The quantizer on the operators added for ONNX import breadth: one float network through
// clip (ReLU6), hard_swish, hard_sigmoid, leaky_relu, resize, slice, pad, expand, sub, div,
// reduce_sum and reduce_max; what it stores for each (shared quantization, clip bounds,
// lookup tables recomputed here, multipliers), and the int8 model against the float model.
import EarlyExit
@testable import EarlyExitTools
import Foundation
import XCTest

final class QuantizedImportOperatorTests: XCTestCase {
    static func word(_ value: Float) -> Int32 { Int32(bitPattern: value.bitPattern) }

    /// input → conv → clip(0, 6) ─ pad(0.25) → slice ──────────────────────┐
    ///          └→ conv → hard_swish → hard_sigmoid(0.2, 0.5) → add 1 ──┐   │
    ///                  └→ leaky_relu → resize ×2 → slice /2 ──┬─ sub ──┼───┘ (dn − cropped)
    ///                                                        │        │
    /// diff → reduce_max (keep) → expand → sub(·, dn) → div(·, sig + 1) → reduce_sum ┐
    /// diff → reduce_max ───────────────────────────────────────────────────── add → heads
    static func network() -> ModelBuilder {
        var rng = SeededGenerator(seed: 0x1414B)
        var b = ModelBuilder()
        let x = b.addInput(shape: [1, 3, 8, 8])
        let map = [1, 8, 8, 8]
        let c1 = b.add(.conv2d, [x, b.addConstant(rng.uniforms(8 * 27, scale: 1), shape: [8, 3, 3, 3]), b.addConstant(rng.uniforms(8, scale: 0.5), shape: [8])],
                       shape: map, attributes: [3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1])
        let six = b.add(.clip, [c1], shape: map, attributes: [word(0), word(6)])
        let c2 = b.add(.conv2d, [six, b.addConstant(rng.uniforms(64, scale: 0.4), shape: [8, 8, 1, 1])], shape: map,
                       attributes: [1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1])
        let hs = b.add(.hardSwish, [c2], shape: map)
        let sig = b.add(.hardSigmoid, [hs], shape: map, attributes: [word(0.2), word(0.5)])
        let sigPlus = b.add(.add, [sig, b.addConstant([1], shape: [1])], shape: map)
        let leaky = b.add(.leakyRelu, [c2], shape: map, attributes: [word(0.1)])
        let up = b.add(.resize, [leaky], shape: [1, 8, 16, 16], attributes: [1, 0, 0, word(2), word(2)])
        let down = b.add(.slice, [up], shape: map, attributes: [0, 0, 1, 1, 1, 1, 2, 2])
        let padded = b.add(.pad, [six], shape: [1, 8, 10, 10], attributes: [0, 0, 1, 1, 0, 0, 1, 1, 0, word(0.25)])
        let cropped = b.add(.slice, [padded], shape: map, attributes: [0, 0, 0, 2, 1, 1, 1, 1])
        let diff = b.add(.sub, [down, cropped], shape: map)
        let peak = b.add(.reduceMax, [diff], shape: [1, 8, 1, 1], attributes: [0b1100])
        let wide = b.add(.expand, [peak], shape: map)
        let gap = b.add(.sub, [wide, down], shape: map)
        let ratio = b.add(.div, [gap, sigPlus], shape: map)
        let total = b.add(.reduceSum, [ratio], shape: [1, 8], attributes: [0b1100])
        let peaks = b.add(.reduceMax, [diff], shape: [1, 8], attributes: [0b1100])
        // Added, not concatenated: concat would give both one quantization over very different ranges.
        let features = b.add(.add, [total, peaks], shape: [1, 8])
        let logits = b.add(.fullyConnected, [features, b.addConstant(rng.uniforms(80, scale: 0.3), shape: [10, 8])], shape: [1, 10])
        let score = b.add(.fullyConnected, [features, b.addConstant(rng.uniforms(8, scale: 0.1), shape: [1, 8])], shape: [1, 1])
        b.addExit(logits: logits, gate: b.add(.tanh, [score], shape: [1, 1]))
        return b
    }

    /// The 256-entry table of an element-wise function as the quantizer documents it: the real
    /// input s_in·(q − zp_in) in float32, the function in Double, y/s_out in float32, rounded,
    /// plus zp_out, clamped.
    static func table(_ f: (Double) -> Double, input: Quantization, output: Quantization) -> [Int8] {
        (-128...127).map { q in
            let x = input.scale * Float(Int32(q) - input.zeroPoint)
            let y = Float(f(Double(x)))
            return Int8(max(-128, min(127, (y / output.scale).rounded() + Float(output.zeroPoint))))
        }
    }

    func testEveryNewOperatorQuantizesAndStaysCloseToTheFloatModel() throws {
        let float = try Model(bytes: try Self.network().serialize())
        let calibration = QuantizerTests.inputs(12, seed: 0xCA1, elements: float.input.elementCount)
        let (bytes, _) = try Quantizer.quantize(model: float, calibration: calibration, method: .minmax)
        let model = try Model(bytes: bytes)
        func q(_ tensor: Int) -> Quantization { model.tensors[tensor].quantization }
        func real(_ m: Int32, _ s: Int32) -> Double { Double(m) * Foundation.pow(2, Double(s) - 31) }
        // The float conv before the clip exceeds 6 on the calibration images, so narrowing shows.
        let stats = try ActivationStatistics.collect(model: float, inputs: calibration, method: .minmax)
        XCTAssertGreaterThan(stats.maximum[float.operators[0].output], 6)
        XCTAssertLessThan(stats.minimum[float.operators[0].output], 0)
        var seen = Set<OperatorKind>()
        for (index, op) in model.operators.enumerated() {
            let floatOp = float.operators[index]
            seen.insert(op.kind)
            switch op.kind {
            case .clip:
                // The convolution feeding only the clip saturates at its bounds: [0, 6] is the
                // whole int8 range, shared by the clip's input and output.
                XCTAssertEqual(q(op.inputs[0]).scale, 6.0 / 255, accuracy: 1e-7)
                XCTAssertEqual(q(op.inputs[0]).zeroPoint, -128)
                XCTAssertEqual(q(op.inputs[0]), q(op.output))
                XCTAssertEqual(Array(op.attributes.prefix(2)), [-128, 127])
            case .hardSwish, .hardSigmoid, .leakyRelu:
                let alpha = Double(Float(bitPattern: UInt32(bitPattern: floatOp.attributes[0])))
                let beta = Double(Float(bitPattern: UInt32(bitPattern: floatOp.attributes[1])))
                let f: (Double) -> Double
                switch op.kind {
                case .hardSwish: f = { $0 * max(0, min(1, $0 / 6 + 0.5)) }
                case .hardSigmoid: f = { max(0, min(1, alpha * $0 + beta)) }
                default: f = { $0 < 0 ? alpha * $0 : $0 }
                }
                if op.kind == .hardSigmoid {
                    XCTAssertEqual(q(op.output).scale, 1.0 / 255)
                    XCTAssertEqual(q(op.output).zeroPoint, -128)
                }
                XCTAssertEqual(QuantizerTests.int8s(model, op.inputs[1]), Self.table(f, input: q(op.inputs[0]), output: q(op.output)),
                               "\(op.kind.name) table")
            case .resize, .slice, .expand, .reduceMax, .pad:
                XCTAssertEqual(q(op.inputs[0]), q(op.output), "\(op.kind.name) keeps its input's quantization")
                if op.kind == .pad {
                    XCTAssertEqual(op.attributes[9], Int32((0.25 / Double(q(op.output).scale)).rounded()) + q(op.output).zeroPoint)
                }
            case .reduceSum:
                let expected = Double(q(op.inputs[0]).scale) / Double(q(op.output).scale)
                XCTAssertEqual(real(op.attributes[1], op.attributes[2]), expected, accuracy: expected * 1e-6)
                XCTAssertEqual(op.attributes[0], 0b1100)
            case .sub:
                let twiceMax = 2 * max(Double(q(op.inputs[0]).scale), Double(q(op.inputs[1]).scale))
                XCTAssertEqual(op.attributes[0], 20)
                let expected = twiceMax / (1_048_576 * Double(q(op.output).scale))
                XCTAssertEqual(real(op.attributes[5], op.attributes[6]), expected, accuracy: expected * 1e-6)
            case .div:
                let expected = Double(q(op.inputs[0]).scale) / (Double(q(op.inputs[1]).scale) * Double(q(op.output).scale) * 65536)
                XCTAssertEqual(real(op.attributes[0], op.attributes[1]), expected, accuracy: expected * 1e-6)
            default:
                break
            }
        }
        XCTAssertTrue(seen.isSuperset(of: [.clip, .hardSwish, .hardSigmoid, .leakyRelu, .resize, .slice, .pad, .expand, .sub, .div,
                                           .reduceSum, .reduceMax]), "\(seen)")
        // The int8 network against the float one on held-out inputs.
        let f = Interpreter(model: float), i = Interpreter(model: model)
        try f.setPolicy(.fullNetwork(earlyExitCount: 0))
        try i.setPolicy(.fullNetwork(earlyExitCount: 0))
        var worst = 0.0, largest = 0.0
        for input in QuantizerTests.inputs(6, seed: 0x4E1D, elements: float.input.elementCount) {
            _ = try f.run(input)
            _ = try i.run(input)
            for (a, b) in zip(Array(f.logits(exit: 0)), Array(i.logits(exit: 0))) {
                worst = max(worst, abs(Double(a) - Double(b)))
                largest = max(largest, abs(Double(a)))
            }
        }
        print("int8 network of every new operator: max |logit int8 − float32| \(worst), \(worst / largest) of the largest logit")
        // Measured 11.2%: every operator's own error is within a few LSBs of its inputs' (div and
        // the 64-term reduce_sum after it add them up); a random 22-operator chain, not a trained net.
        XCTAssertLessThanOrEqual(worst / largest, 0.15)
    }

    /// conv → clip(0, 6) → conv → hard_swish → conv → leaky_relu → ⊙ hard_sigmoid(·) → pooling → head:
    /// a MobileNet-style chain whose element-wise operators may stay channels-last.
    static func mobileChain() -> ModelBuilder {
        var rng = SeededGenerator(seed: 0x3B)
        var b = ModelBuilder()
        let map = [1, 16, 10, 10]
        func conv(_ x: Int, _ cin: Int, _ k: Int) -> Int {
            let pad = Int32(k / 2)
            return b.add(.conv2d, [x, b.addConstant(rng.uniforms(16 * cin * k * k, scale: 2 / Float(cin * k * k).squareRoot()), shape: [16, cin, k, k]),
                                   b.addConstant(rng.uniforms(16, scale: 0.3), shape: [16])],
                         shape: map, attributes: [Int32(k), Int32(k), 1, 1, pad, pad, pad, pad, 1, 1, 1])
        }
        let x = b.addInput(shape: [1, 3, 10, 10])
        let six = b.add(.clip, [conv(x, 3, 3)], shape: map, attributes: [word(0), word(6)])
        let swish = b.add(.hardSwish, [conv(six, 16, 3)], shape: map)
        let leaky = b.add(.leakyRelu, [conv(swish, 16, 1)], shape: map, attributes: [word(0.1)])
        let gate = b.add(.hardSigmoid, [leaky], shape: map, attributes: [word(1 / 6), word(0.5)])
        let excited = b.add(.mul, [gate, leaky], shape: map)
        let pooled = b.add(.globalAvgPool, [excited], shape: [1, 16])
        let logits = b.add(.fullyConnected, [pooled, b.addConstant(rng.uniforms(160, scale: 0.3), shape: [10, 16])], shape: [1, 10])
        let score = b.add(.fullyConnected, [pooled, b.addConstant(rng.uniforms(16, scale: 0.3), shape: [1, 16])], shape: [1, 1])
        b.addExit(logits: logits, gate: b.add(.tanh, [score], shape: [1, 1]))
        return b
    }

    /// int8 forms of the new operators on every kernel set the CPU supports give the same
    /// integers as the portable kernels (NCHW), also where native int8 kernel sets keep the
    /// MobileNet chain channels-last through clip, hard_swish, leaky_relu and hard_sigmoid.
    func testInt8NewOperatorsAreBitExactOnEveryKernelSet() throws {
        #if arch(x86_64)
        let portable = try KernelSet.require("sse2")
        #else
        let portable = try KernelSet.require("neon")
        #endif
        for (name, builder) in [("mobile chain", Self.mobileChain()), ("every new operator", Self.network())] {
            let float = try Model(bytes: try builder.serialize())
            var rng = SeededGenerator(seed: 0x5E7)
            let calibration = (0..<12).map { _ in rng.uniforms(float.input.elementCount, scale: 2) }
            let bytes = try Quantizer.quantize(model: float, calibration: calibration, method: .minmax).bytes
            let reference = Interpreter(model: try Model(bytes: bytes, kernels: portable))
            try reference.setPolicy(.fullNetwork(earlyExitCount: 0))
            let inputs = (0..<4).map { _ in rng.uniforms(float.input.elementCount, scale: 2) }
            for kernels in KernelSet.supported where kernels != portable {
                let model = try Model(bytes: bytes, kernels: kernels)
                // The x86 AVX sets have native int8 kernels, which keep maps channels-last.
                if name == "mobile chain" && kernels.name.hasPrefix("avx") { XCTAssertTrue(model.layouts.contains(.channelsLast), kernels.name) }
                if name == "mobile chain" && model.layouts.contains(.channelsLast) {
                    for op in model.operators where [.clip, .hardSwish, .leakyRelu, .hardSigmoid].contains(op.kind) {
                        XCTAssertEqual(model.layouts[op.output], .channelsLast, "\(name) \(kernels.name) \(op.kind.name)")
                    }
                }
                let run = Interpreter(model: model)
                try run.setPolicy(.fullNetwork(earlyExitCount: 0))
                for (i, input) in inputs.enumerated() {
                    XCTAssertEqual(try run.run(input), try reference.run(input), "\(name) \(kernels.name) input \(i)")
                    XCTAssertEqual(Array(run.logits(exit: 0)), Array(reference.logits(exit: 0)), "\(name) \(kernels.name) input \(i)")
                    XCTAssertEqual(run.gate(exit: 0), reference.gate(exit: 0), "\(name) \(kernels.name) input \(i)")
                }
            }
        }
    }

    func testTheInputRangeComesFromTheCalibrationImagesWithoutANormalization() throws {
        // A model that records no normalization takes float tensors as they are: the input's
        // quantization must cover what the calibration images span (here [−2, 2]), not [0, 1].
        let float = try Model(bytes: try Self.network().serialize())
        XCTAssertTrue(float.metadata.mean.isEmpty)
        let calibration = QuantizerTests.inputs(12, seed: 0xCA1, elements: float.input.elementCount)
        let low = calibration.flatMap { $0 }.min()!, high = calibration.flatMap { $0 }.max()!
        let (bytes, _) = try Quantizer.quantize(model: float, calibration: calibration, method: .minmax)
        let input = try Model(bytes: bytes).input.quantization
        XCTAssertEqual(Double(input.scale), Double(high - low) / 255, accuracy: 1e-6)
        XCTAssertLessThanOrEqual(Double(input.scale) * Double(-128 - input.zeroPoint), Double(low) + Double(input.scale))
        XCTAssertGreaterThanOrEqual(Double(input.scale) * Double(127 - input.zeroPoint), Double(high) - Double(input.scale))
    }
}
