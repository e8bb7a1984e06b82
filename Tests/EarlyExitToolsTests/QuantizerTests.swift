// Post-training quantization of the synthetic attention network: model validity, stored
// parameter types and values against the float model's weights, weight bytes, per-exit
// logits against the float model on held-out inputs, and the `quantize` command's errors.
import EarlyExit
import EarlyExitTools
import Foundation
import XCTest

final class QuantizerTests: XCTestCase {
    static func uniform(_ rng: inout SeededGenerator, _ low: Float, _ high: Float) -> Float {
        low + (high - low) * Float(rng.next() >> 40) / Float(1 << 24)
    }

    /// Random inputs in the model's normalized pixel range [(0 − 0.5)/0.25, (1 − 0.5)/0.25] = [−2, 2].
    static func inputs(_ count: Int, seed: UInt64, elements: Int) -> [[Float]] {
        var rng = SeededGenerator(seed: seed)
        return (0..<count).map { _ in (0..<elements).map { _ in uniform(&rng, -2, 2) } }
    }

    static func floatModel() throws -> Model { try Model(bytes: try SyntheticModels.attentionNetwork().serialize()) }

    static func floats(_ model: Model, _ tensor: Int) -> [Float] {
        model.withConstantBytes(of: tensor) { Array($0.bindMemory(to: Float.self)) }
    }

    static func int8s(_ model: Model, _ tensor: Int) -> [Int8] {
        model.withConstantBytes(of: tensor) { Array($0.bindMemory(to: Int8.self)) }
    }

    static func int32s(_ model: Model, _ tensor: Int) -> [Int32] {
        model.withConstantBytes(of: tensor) { Array($0.bindMemory(to: Int32.self)) }
    }

    /// The per-channel scales of a tensor, read from the model bytes at their recorded offset.
    static func channelScales(_ model: Model, _ tensor: Int) -> [Float] {
        let q = model.tensors[tensor].quantization
        let count = model.tensors[tensor].shape[q.axis]
        return model.withBytes { raw in
            (0..<count).map { Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: q.channelScalesOffset + 4 * $0, as: UInt32.self))) }
        }
    }

    // MARK: Accuracy against the float model

    func testEveryMethodStaysCloseToTheFloatModel() throws {
        let float = try Self.floatModel()
        let n = float.input.elementCount
        let calibration = Self.inputs(10, seed: 0xCA11, elements: n)
        let heldOut = Self.inputs(6, seed: 0x4E1D0, elements: n) // a debug int8 run takes ~40 ms
        let floatInterpreter = Interpreter(model: float)
        try floatInterpreter.setPolicy(.fullNetwork(earlyExitCount: float.earlyExitCount))
        var floatLogits: [[[Float]]] = [] // [input][exit][class]
        for input in heldOut {
            _ = try floatInterpreter.run(input)
            floatLogits.append((0..<3).map { Array(floatInterpreter.logits(exit: $0)) })
        }
        for method in CalibrationMethod.allCases {
            let (bytes, report) = try Quantizer.quantize(model: float, calibration: calibration, method: method)
            let model = try Model(bytes: bytes)
            XCTAssertTrue(model.isQuantized, method.rawValue)
            XCTAssertEqual(report.method, method)
            XCTAssertEqual(report.calibrationImages, calibration.count)
            XCTAssertEqual(model.operators.map(\.kind), float.operators.map(\.kind), "\(method.rawValue): one int8 operator per float operator")
            XCTAssertEqual(model.exits.map(\.afterOperator), float.exits.map(\.afterOperator))
            XCTAssertEqual(model.defaultPolicy, float.defaultPolicy)
            XCTAssertEqual(model.metadata.name, float.metadata.name + "-int8")
            let interpreter = Interpreter(model: model)
            try interpreter.setPolicy(.fullNetwork(earlyExitCount: model.earlyExitCount))
            var worst = [Double](repeating: 0, count: 3), agree = 0
            var low = [Float](repeating: .infinity, count: 3), high = [Float](repeating: -.infinity, count: 3)
            for (index, input) in heldOut.enumerated() {
                let quantized = interpreter.quantizeInput(input)
                _ = try quantized.withUnsafeBufferPointer { try interpreter.run($0) }
                for exit in 0..<3 {
                    let reference = floatLogits[index][exit], actual = Array(interpreter.logits(exit: exit))
                    low[exit] = min(low[exit], reference.min()!)
                    high[exit] = max(high[exit], reference.max()!)
                    worst[exit] = max(worst[exit], zip(actual, reference).map { Double(abs($0 - $1)) }.max()!)
                    if actual.firstIndex(of: actual.max()!) == reference.firstIndex(of: reference.max()!) { agree += 1 }
                }
            }
            let relative = (0..<3).map { worst[$0] / Double(high[$0] - low[$0]) }
            print("quantizer \(method.rawValue): max |int8 − float| logits per exit \(worst.map { String(format: "%.4f", $0) }) = \(relative.map { String(format: "%.1f%%", 100 * $0) }) of the float logit range; arg-max agreement \(agree)/\(3 * heldOut.count); weights \(report.floatWeightBytes) → \(report.int8WeightBytes) bytes")
            for exit in 0..<3 {
                XCTAssertLessThanOrEqual(relative[exit], 0.10, "\(method.rawValue) exit \(exit): logits error \(worst[exit]) vs range \(high[exit] - low[exit])")
            }
            XCTAssertGreaterThanOrEqual(agree, 3 * heldOut.count * 3 / 4, "\(method.rawValue): arg-max agreement")
        }
    }

    /// Empirical bias correction of the exit heads: after one pass, the int8 logits' mean error
    /// against the float model on the calibration images (the data it was measured on) is
    /// near zero per class, and well below the uncorrected model's.
    func testBiasCorrectionRemovesTheExitHeadsMeanError() throws {
        let float = try Self.floatModel()
        let calibration = Self.inputs(10, seed: 0xB1A5, elements: float.input.elementCount)
        let floatInterpreter = Interpreter(model: float)
        try floatInterpreter.setPolicy(.fullNetwork(earlyExitCount: float.earlyExitCount))
        let classes = float.classCount, exits = float.exits.count
        var floatLogits: [[Float]] = [] // [input][exit·classes + class]
        for input in calibration {
            _ = try floatInterpreter.run(input)
            floatLogits.append((0..<exits).flatMap { Array(floatInterpreter.logits(exit: $0)) })
        }
        /// Mean over classes and exits of |mean over images of (float − int8)|, in units of each exit's logit scale.
        func meanBias(_ passes: Int) throws -> Double {
            let (bytes, report) = try Quantizer.quantize(model: float, calibration: calibration, method: .minmax, biasCorrectionPasses: passes)
            XCTAssertEqual(report.biasCorrectionPasses, passes)
            XCTAssertEqual(report.biasCorrectedOperators, passes == 0 ? 0 : 2 * exits, "the logits and gate layers of every exit")
            let model = try Model(bytes: bytes)
            let interpreter = Interpreter(model: model)
            try interpreter.setPolicy(.fullNetwork(earlyExitCount: model.earlyExitCount))
            var sums = [Double](repeating: 0, count: exits * classes)
            for (index, input) in calibration.enumerated() {
                _ = try interpreter.run(input)
                let actual = (0..<exits).flatMap { Array(interpreter.logits(exit: $0)) }
                for i in sums.indices { sums[i] += Double(floatLogits[index][i] - actual[i]) }
            }
            let scales = (0..<exits).flatMap { e in [Double](repeating: Double(model.tensors[model.exits[e].logitsTensor].quantization.scale), count: classes) }
            return zip(sums, scales).reduce(0.0) { $0 + abs($1.0) / Double(calibration.count) / $1.1 } / Double(sums.count)
        }
        let before = try meanBias(0), after = try meanBias(1)
        print("bias correction: mean |mean logit error| \(before) LSB before, \(after) LSB after")
        XCTAssertLessThan(after, 0.5 * before)
        XCTAssertLessThan(after, 0.2)
    }

    // MARK: What is stored

    func testParametersAreInt8PerChannelWithInt32BiasesMatchingTheFloatWeights() throws {
        let float = try Self.floatModel()
        let (bytes, report) = try Quantizer.quantize(model: float, calibration: Self.inputs(6, seed: 0xCA12, elements: float.input.elementCount),
                                                     method: .minmax)
        let model = try Model(bytes: bytes)
        XCTAssertEqual(report.int8WeightBytes, model.weightBytes)
        func scale(_ tensor: Int) -> Double { Double(model.tensors[tensor].quantization.scale) }
        // Activations: int8, per tensor; constants: int8 or int32 only (no float32 left).
        for (index, tensor) in model.tensors.enumerated() {
            if tensor.isConstant {
                XCTAssertTrue(tensor.dataType == .int8 || tensor.dataType == .int32, "constant \(index) is \(tensor.dataType.name)")
            } else {
                XCTAssertEqual(tensor.dataType, .int8, "activation \(index)")
                XCTAssertEqual(tensor.quantization.kind, .perTensor, "activation \(index)")
            }
        }
        // The input range covers the normalized pixel range [−2, 2] to within one step.
        let input = model.input.quantization
        XCTAssertLessThanOrEqual(Double(input.scale) * Double(-128 - input.zeroPoint), -2 + Double(input.scale))
        XCTAssertGreaterThanOrEqual(Double(input.scale) * Double(127 - input.zeroPoint), 2 - Double(input.scale))
        XCTAssertEqual(Double(input.scale), 4.0 / 255, accuracy: 1e-6)

        var checkedWeights = 0
        for (index, op) in model.operators.enumerated() {
            let floatOp = float.operators[index]
            switch op.kind {
            case .conv2d, .fullyConnected, .batchNorm:
                let w = model.tensors[op.inputs[1]]
                XCTAssertEqual(w.dataType, .int8, "op \(index) weight")
                XCTAssertEqual(w.quantization.kind, .perChannel, "op \(index) weight")
                XCTAssertEqual(w.quantization.axis, 0)
                XCTAssertEqual(w.quantization.zeroPoint, 0)
                let channels = w.shape[0]
                for role in 2...4 {
                    XCTAssertEqual(model.tensors[op.inputs[role]].dataType, .int32, "op \(index) input \(role)")
                    XCTAssertEqual(model.tensors[op.inputs[role]].elementCount, channels, "op \(index) input \(role)")
                }
                XCTAssertEqual(w.shape, float.tensors[floatOp.inputs[1]].shape)
                let q = Self.int8s(model, op.inputs[1]), scales = Self.channelScales(model, op.inputs[1])
                let reals = Self.floats(float, floatOp.inputs[1])
                let floatBias = floatOp.inputs.count == 3 ? Self.floats(float, floatOp.inputs[2]) : [Float](repeating: 0, count: channels)
                let bias = Self.int32s(model, op.inputs[2]), multipliers = Self.int32s(model, op.inputs[3]), shifts = Self.int32s(model, op.inputs[4])
                let perChannel = q.count / channels
                for c in 0..<channels {
                    let row = reals[(c * perChannel)..<((c + 1) * perChannel)]
                    let largest = row.map { abs($0) }.max()!
                    // symmetric, ±127: the scale is max|w| / 127, each weight within half a step
                    XCTAssertEqual(scales[c], largest / 127, accuracy: largest / 127 * 1e-6, "op \(index) channel \(c) scale")
                    for k in 0..<perChannel {
                        let value = q[c * perChannel + k]
                        XCTAssertTrue(value >= -127, "op \(index): −128 used")
                        XCTAssertLessThanOrEqual(abs(Double(scales[c]) * Double(value) - Double(reals[c * perChannel + k])), Double(scales[c]) * 0.5 * (1 + 1e-5))
                        checkedWeights += 1
                    }
                    // int32 bias at scale s_in·s_w[c]; multiplier·2^(shift−31) = s_in·s_w[c]/s_out
                    let biasScale = scale(op.inputs[0]) * Double(scales[c])
                    XCTAssertLessThanOrEqual(abs(Double(bias[c]) * biasScale - Double(floatBias[c])), biasScale * 0.5 * (1 + 1e-5), "op \(index) channel \(c) bias")
                    let real = Double(multipliers[c]) * Foundation.pow(2, Double(shifts[c]) - 31)
                    XCTAssertEqual(real, biasScale / scale(op.output), accuracy: biasScale / scale(op.output) * 1e-6, "op \(index) channel \(c) multiplier")
                    XCTAssertTrue(multipliers[c] >= 1 << 30, "op \(index) channel \(c): multiplier \(multipliers[c]) is not normalized")
                }
            case .tanh:
                let table = Self.int8s(model, op.inputs[1])
                XCTAssertEqual(table.count, 256)
                XCTAssertEqual(model.tensors[op.output].quantization.scale, 1.0 / 128)
                XCTAssertEqual(model.tensors[op.output].quantization.zeroPoint, 0)
                let x = model.tensors[op.inputs[0]].quantization
                for q in -128...127 {
                    let expected = min(127, max(-128, (Foundation.tanh(Double(x.scale) * Double(Int32(q) - x.zeroPoint)) * 128).rounded()))
                    XCTAssertLessThanOrEqual(abs(Double(table[q + 128]) - expected), 1, "op \(index) tanh table at \(q)") // Float vs Double rounding
                }
            case .softmax:
                let table = Self.int32s(model, op.inputs[1])
                let s = scale(op.inputs[0])
                for d in 0..<256 { XCTAssertEqual(Double(table[d]), (Foundation.exp(-s * Double(d)) * 1_048_576).rounded(), accuracy: 1, "op \(index) exp table \(d)") }
                XCTAssertEqual(op.attributes[1], Int32((256 / scale(op.output)).rounded()))
            case .add:
                let a = op.attributes
                XCTAssertEqual(a[0], 20)
                let twiceMax = 2 * max(scale(op.inputs[0]), scale(op.inputs[1]))
                for (m, s, real) in [(a[1], a[2], scale(op.inputs[0]) / twiceMax), (a[3], a[4], scale(op.inputs[1]) / twiceMax),
                                     (a[5], a[6], twiceMax / (1_048_576 * scale(op.output)))] {
                    XCTAssertEqual(Double(m) * Foundation.pow(2, Double(s) - 31), real, accuracy: real * 1e-6, "op \(index) add multiplier")
                }
            case .matmul, .mul:
                let real = scale(op.inputs[0]) * scale(op.inputs[1]) / scale(op.output)
                XCTAssertEqual(Double(op.attributes[0]) * Foundation.pow(2, Double(op.attributes[1]) - 31), real, accuracy: real * 1e-6, "op \(index)")
            case .relu, .maxPool, .avgPool, .globalAvgPool, .reshape, .transpose, .concat:
                for input in op.inputs {
                    XCTAssertEqual(model.tensors[input].quantization, model.tensors[op.output].quantization, "op \(index) \(op.kind.name) keeps its input's quantization")
                }
            case .sigmoid, .clip, .hardSigmoid, .hardSwish, .leakyRelu, .reduceSum, .reduceMax, .expand, .slice, .pad, .resize,
                 .sub, .div:
                XCTFail("the synthetic network has no \(op.kind.name) (QuantizedImportOperatorTests covers it)")
            }
        }
        XCTAssertGreaterThan(checkedWeights, 1000)
    }

    func testWeightBytes() throws {
        let float = try Self.floatModel()
        let (bytes, report) = try Quantizer.quantize(model: float, calibration: Self.inputs(4, seed: 0xB17E5, elements: float.input.elementCount),
                                                     method: .minmax)
        let model = try Model(bytes: bytes)
        // Float: 4 bytes per constant element.
        let floatBytes = float.tensors.filter(\.isConstant).reduce(0) { $0 + 4 * $1.elementCount }
        // int8, from the float model's operators: weights 1 byte each plus int32 bias,
        // multiplier and shift per channel; 256-byte tanh tables; 1024-byte softmax tables.
        var expected = 0
        for op in float.operators {
            switch op.kind {
            case .conv2d, .fullyConnected, .batchNorm:
                let w = float.tensors[op.inputs[1]]
                let channels = op.kind == .batchNorm ? w.elementCount : w.shape[0]
                expected += w.elementCount + 3 * 4 * channels
            case .tanh, .sigmoid: expected += 256
            case .softmax: expected += 256 * 4
            case .add, .mul, .matmul: expected += op.inputs.filter { float.tensors[$0].isConstant }.reduce(0) { $0 + float.tensors[$1].elementCount }
            default: break
            }
        }
        XCTAssertEqual(float.weightBytes, floatBytes)
        XCTAssertEqual(report.floatWeightBytes, floatBytes)
        XCTAssertEqual(model.weightBytes, expected)
        XCTAssertEqual(report.int8WeightBytes, expected)
        XCTAssertLessThan(model.weightBytes, float.weightBytes)
        print("quantizer weight bytes: float32 \(floatBytes), int8 \(expected) (\(String(format: "%.2f", Double(floatBytes) / Double(expected)))× smaller; biases, multipliers, shifts and tables included)")

        // A wider network, where the weights dominate: close to 4× smaller.
        let wide = try Model(bytes: try SyntheticModels.attentionNetwork(width: 32).serialize())
        let wideInt8 = try Model(bytes: try Quantizer.quantize(model: wide, calibration: Self.inputs(2, seed: 0xB17E6, elements: wide.input.elementCount),
                                                               method: .minmax).bytes)
        let ratio = Double(wide.weightBytes) / Double(wideInt8.weightBytes)
        print("quantizer weight bytes, width 32: float32 \(wide.weightBytes), int8 \(wideInt8.weightBytes) (\(String(format: "%.2f", ratio))×)")
        XCTAssertGreaterThan(ratio, 3.0)
        XCTAssertLessThan(ratio, 4.0)
    }

    func testQuantizingAnInt8ModelOrWithoutImagesFails() throws {
        let float = try Self.floatModel()
        XCTAssertThrowsError(try Quantizer.quantize(model: float, calibration: [], method: .minmax)) { error in
            XCTAssertTrue("\(error)".contains("at least one"), "\(error)")
        }
        let int8 = try Model(bytes: try Quantizer.quantize(model: float, calibration: Self.inputs(1, seed: 1, elements: float.input.elementCount), method: .minmax).bytes)
        XCTAssertThrowsError(try Quantizer.quantize(model: int8, calibration: Self.inputs(1, seed: 1, elements: float.input.elementCount), method: .minmax)) { error in
            XCTAssertTrue("\(error)".contains("already int8"), "\(error)")
        }
    }

    // MARK: The quantize command

    final class Capture: @unchecked Sendable {
        var out = ""
        var err = ""
    }

    func cli(_ arguments: [String]) -> (status: Int32, out: String, err: String) {
        let capture = Capture()
        let status = EarlyExitCLI.main(arguments, console: Console(out: { capture.out += $0 + "\n" }, err: { capture.err += $0 + "\n" }))
        return (status, capture.out, capture.err)
    }

    func testQuantizeCommandErrorsAndSuccess() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("quantizer-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        func path(_ name: String) -> String { directory.appendingPathComponent(name).path }
        var rng = SeededGenerator(seed: 0x1D3)
        try Data(try SyntheticModels.attentionNetwork().serialize()).write(to: URL(fileURLWithPath: path("model.eem")))
        try Data(IDXFile.encode(dimensions: [6, 16, 16], payload: (0..<(6 * 256)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }))
            .write(to: URL(fileURLWithPath: path("images")))
        try Data(IDXFile.encode(dimensions: [3, 8, 8], payload: [UInt8](repeating: 9, count: 3 * 64))).write(to: URL(fileURLWithPath: path("small")))

        let usage: [(String, [String], String)] = [
            ("missing --calibration", ["quantize", path("model.eem"), "-o", path("out.eem")], "--calibration"),
            ("bad --method", ["quantize", path("model.eem"), "--calibration", path("images"), "--method", "median", "-o", path("out.eem")],
             "unknown calibration method 'median'"),
            ("missing -o", ["quantize", path("model.eem"), "--calibration", path("images")], "-o"),
            ("missing model argument", ["quantize", "--calibration", path("images"), "-o", path("out.eem")], "error: "),
            ("bad --count", ["quantize", path("model.eem"), "--calibration", path("images"), "--count", "0", "-o", path("out.eem")], "--count"),
        ]
        for (label, arguments, message) in usage {
            let result = cli(arguments)
            XCTAssertEqual(result.status, 2, "\(label): \(result.err)")
            XCTAssertTrue(result.err.hasPrefix("error: ") && result.err.contains(message), "\(label): \(result.err)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("out.eem")))

        let failures: [(String, [String], String)] = [
            ("missing model file", ["quantize", path("nope.eem"), "--calibration", path("images"), "-o", path("out.eem")], "does not exist"),
            ("missing calibration file", ["quantize", path("model.eem"), "--calibration", path("nope"), "-o", path("out.eem")], "does not exist"),
            ("wrong image size", ["quantize", path("model.eem"), "--calibration", path("small"), "-o", path("out.eem")], "64 pixels"),
            ("not a model", ["quantize", path("images"), "--calibration", path("images"), "-o", path("out.eem")], "invalid"),
        ]
        for (label, arguments, message) in failures {
            let result = cli(arguments)
            XCTAssertEqual(result.status, 1, "\(label): \(result.err)")
            XCTAssertTrue(result.err.hasPrefix("error: ") && result.err.contains(message), "\(label): \(result.err)")
        }

        // Success, then quantizing the result again fails with a message.
        let ok = cli(["quantize", path("model.eem"), "--calibration", path("images"), "--count", "4", "--method", "percentile", "-o", path("int8.eem")])
        XCTAssertEqual(ok.status, 0, ok.err)
        XCTAssertTrue(ok.out.contains("percentile ranges from 4 images"), ok.out)
        let written = try Model(bytes: [UInt8](try Data(contentsOf: URL(fileURLWithPath: path("int8.eem")))))
        XCTAssertTrue(written.isQuantized)
        let again = cli(["quantize", path("int8.eem"), "--calibration", path("images"), "-o", path("int8-again.eem")])
        XCTAssertEqual(again.status, 1, again.err)
        XCTAssertTrue(again.err.contains("already int8"), again.err)
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("int8-again.eem")))
    }
}
