// The integer exit decisions and the Q16 eq. 9 of int8 models, against float references
// computed in Double from the dequantized int8 logits and gates.
//
// Two kinds of models:
// - a "selector" model whose exits copy chosen input elements exactly (fully connected one-hot
//   rows with multiplier 1.0), so every integer logit and gate is set directly by the test and
//   any scale / zero point can be declared for them;
// - `Quantizer.quantize` of `SyntheticModels.attentionNetwork()` on random inputs.
//
// Decision rules checked (p = max softmax probability, H = entropy in nats, both from the
// dequantized logits in Double; g = the dequantized gate as `Interpreter.gate` computes it):
// - gate: the decision equals `g ≥ T` exactly, for every int8 gate value and thresholds at,
//   just above and just below each representable gate value;
// - maxprob: the integer decision equals `p ≥ T` whenever |p − T| > band_p, with
//   band_p = (C + 4)·2^-21 (Q20 exponential table entries rounded to ±2^-21 each, the
//   threshold 2^20/T floored, Float arithmetic); the integer signal's boundary, found by
//   bisection on T, lies within band_p of p;
// - entropy: equal whenever |H − T| > band_H, with band_H = ln(1 + 1/256) +
//   E_p[d]·2^-17 + 4·2^-16: the Q16 ln uses the leading bit and an 8-bit truncated mantissa
//   (ln underestimated by up to ln(1 + 1/256) ≈ 3.9e-3), the logits scale is rounded to Q16
//   (error ≤ 2^-17 per unit of the mean distance d = max − logit), plus Q16 truncations.
@testable import EarlyExit
import CAllocationCounter
import EarlyExitTools
import Foundation
import XCTest

enum QuantizedExitFixtures {
    static func perTensor(_ scale: Float, _ zeroPoint: Int32) -> Quantization {
        Quantization(kind: .perTensor, scale: scale, zeroPoint: zeroPoint, axis: 0, channelScalesOffset: 0)
    }

    static func int32Bytes(_ values: [Int32]) -> [UInt8] {
        var out: [UInt8] = []
        for value in values { for i in 0..<4 { out.append(UInt8(truncatingIfNeeded: UInt32(bitPattern: value) >> (8 * UInt32(i)))) } }
        return out
    }

    /// A two-exit int8 model over an input x of 2·(C + 1) int8 values (scale 1, zero point 0):
    /// exit 0's logits are x[0..<C] and its gate x[C]; the final exit's logits are
    /// x[C+1..<2C+1] and its gate x[2C+1]. The integers are copied exactly (one-hot weights,
    /// bias −zp_out, multiplier 1.0 = (2^30, shift 1)); the declared scales and zero points
    /// give them their real values.
    static func selectorModel(classes: Int, logitQuantization: [Quantization], gateQuantization: Quantization,
                              finalGateQuantization: Quantization? = nil) throws -> Model {
        let width = 2 * (classes + 1)
        var b = ModelBuilder()
        let x = b.addInput(shape: [1, width], dataType: .int8, quantization: perTensor(1, 0))
        func select(_ first: Int, _ count: Int, _ q: Quantization) -> Int {
            var weights = [UInt8](repeating: 0, count: count * width)
            for row in 0..<count { weights[row * width + first + row] = 1 }
            let w = b.addConstant(bytes: weights, dataType: .int8, shape: [count, width], quantization: perTensor(1, 0))
            let (m, s) = FixedPoint.quantizeMultiplier(1.0)
            let inputs = [x, w,
                          b.addConstant(bytes: int32Bytes([Int32](repeating: -q.zeroPoint, count: count)), dataType: .int32, shape: [count]),
                          b.addConstant(bytes: int32Bytes([Int32](repeating: m, count: count)), dataType: .int32, shape: [count]),
                          b.addConstant(bytes: int32Bytes([Int32](repeating: s, count: count)), dataType: .int32, shape: [count])]
            let y = b.addActivation(shape: [1, count], dataType: .int8, quantization: q)
            b.addOperator(.fullyConnected, inputs: inputs, output: y, attributes: [0])
            return y
        }
        for exit in 0..<2 {
            let logits = select(exit * (classes + 1), classes, logitQuantization[exit])
            let gate = select(exit * (classes + 1) + classes, 1, exit == 1 ? finalGateQuantization ?? gateQuantization : gateQuantization)
            b.addExit(logits: logits, gate: gate)
        }
        b.signal = .gate
        b.thresholds = [0.5]
        return try Model(bytes: try b.serialize())
    }

    // MARK: Double references

    static func logSoftmax(_ logits: [Double]) -> [Double] {
        let largest = logits.max()!
        let total = logits.reduce(0) { $0 + Foundation.exp($1 - largest) }
        return logits.map { $0 - largest - Foundation.log(total) }
    }

    static func maxProbability(_ logits: [Double]) -> Double { Foundation.exp(logSoftmax(logits).max()!) }

    static func entropy(_ logits: [Double]) -> Double {
        logSoftmax(logits).reduce(0) { $0 - Foundation.exp($1) * $1 }
    }

    /// Mean distance to the maximum in logit units, E_p[max − l].
    static func meanDistance(_ logits: [Double], scale: Double) -> Double {
        let largest = logits.max()!
        let p = logSoftmax(logits).map(Foundation.exp)
        return zip(p, logits).reduce(0) { $0 + $1.0 * ($1.1 - largest) * -1 } / scale
    }

    /// Eq. 9: softmax(gates)-weighted sum of the exits' log-softmax outputs.
    static func combine(logits: [[Double]], gates: [Double]) -> [Double] {
        let top = gates.max()!
        let weights = gates.map { Foundation.exp($0 - top) }
        let total = weights.reduce(0, +)
        var scores = [Double](repeating: 0, count: logits[0].count)
        for (k, row) in logits.enumerated() {
            for (c, value) in logSoftmax(row).enumerated() { scores[c] += weights[k] / total * value }
        }
        return scores
    }

    static func firstArgmax<T: Comparable>(_ values: [T]) -> Int {
        var best = 0
        for i in values.indices where values[i] > values[best] { best = i }
        return best
    }

    /// Multiply-accumulates of one operator, from its tensors' shapes (the runtime's counting
    /// convention: conv = outputs × (Cin/G)·kH·kW, fully connected = out × in, matmul =
    /// outputs × K, mul and batch norm = elements, everything else 0).
    static func macs(_ op: Operator, _ tensors: [TensorInfo]) -> Int {
        let out = tensors[op.output].shape
        switch op.kind {
        case .conv2d:
            let w = tensors[op.inputs[1]].shape
            return out.elementCount * w[1] * w[2] * w[3]
        case .fullyConnected:
            let w = tensors[op.inputs[1]].shape
            return w[0] * w[1]
        case .matmul:
            let lhs = tensors[op.inputs[0]].shape
            return out.elementCount * lhs[lhs.rank - 1]
        case .mul, .batchNorm:
            return out.elementCount
        default:
            return 0
        }
    }
}

final class QuantizedExitTests: XCTestCase {
    typealias Q = QuantizedExitFixtures

    static func uniform(_ rng: inout SeededGenerator, _ low: Double, _ high: Double) -> Double {
        low + (high - low) * Double(rng.next() >> 11) / Double(1 << 53)
    }

    static func integer(_ rng: inout SeededGenerator, _ range: ClosedRange<Int>) -> Int {
        range.lowerBound + Int(rng.next() % UInt64(range.count))
    }

    func run(_ interpreter: Interpreter, _ input: [Int8]) throws -> RunSummary {
        try input.withUnsafeBufferPointer { try interpreter.run($0) }
    }

    // MARK: Gate

    /// Every int8 gate value q of six gate quantizations, against thresholds T at half-steps
    /// between representable gates and far outside them (must always agree), and at the
    /// dequantized value itself and one Float ulp above and below it (must agree too: the
    /// decision is defined as `gate ≥ T` on the dequantized gate).
    func testGateDecisionEqualsTheComparisonOnTheDequantizedGate() throws {
        let classes = 3
        var checked = 0, edgeMismatches: [String] = []
        for (scale, zeroPoint) in [(Float(1.0 / 128), Int32(0)), (0.0123, -5), (0.3, 17), (0.01, 3), (2.0 / 255, -128), (0.07, 127)] {
            let gateQ = Q.perTensor(scale, zeroPoint)
            let model = try Q.selectorModel(classes: classes, logitQuantization: [Q.perTensor(0.1, 0), Q.perTensor(0.1, 0)], gateQuantization: gateQ)
            let interpreter = Interpreter(model: model)
            for q in -128...127 {
                var input = [Int8](repeating: 0, count: 2 * (classes + 1))
                input[classes] = Int8(q)
                let gate = scale * Float(Int32(q) - zeroPoint) // the dequantized gate, as Interpreter.gate computes it
                let robust = [gate + scale / 2, gate - scale / 2, 5000, -5000, 1e30, -1e30]
                let edge = [gate, gate.nextUp, gate.nextDown]
                for (index, threshold) in (robust + edge).enumerated() {
                    try interpreter.setPolicy(ExitPolicy(signal: .gate, thresholds: [threshold]))
                    let summary = try run(interpreter, input)
                    XCTAssertEqual(interpreter.gate(exit: 0), gate)
                    let expected = gate >= threshold
                    checked += 1
                    XCTAssertEqual(summary.exitIndex, summary.exitedEarly ? 0 : 1)
                    if summary.exitedEarly == expected { continue }
                    let text = "gate scale \(scale) zp \(zeroPoint), q = \(q) (dequantized \(gate)), T = \(threshold): exit taken \(summary.exitedEarly), gate ≥ T is \(expected)"
                    // Power-of-two scale with zero point 0 (the quantizer's tanh gates) must be exact everywhere.
                    if index < robust.count || (scale == 1.0 / 128 && zeroPoint == 0) { XCTFail(text) } else { edgeMismatches.append(text) }
                }
            }
        }
        print("int8 gate decisions: \(checked) checked; \(edgeMismatches.count) differ from gate ≥ T at T within one Float ulp of a representable gate")
        XCTAssertTrue(edgeMismatches.isEmpty, "integer gate decisions must equal gate ≥ T on the reported gate: \(edgeMismatches.prefix(3))")
    }

    // MARK: maxprob and entropy

    /// The threshold at which the exit-0 decision flips, by bisection on T (the decision is
    /// monotone in T): for maxprob the largest T that still exits, for entropy the smallest.
    func boundary(_ interpreter: Interpreter, _ input: [Int8], signal: ExitSignal, low: Float, high: Float, steps: Int) throws -> Float {
        var low = low, high = high // maxprob: passes at low, not at high; entropy: fails at low, passes at high
        for _ in 0..<steps {
            let mid = (low + high) / 2
            if mid == low || mid == high { break }
            try interpreter.setPolicy(ExitPolicy(signal: signal, thresholds: [mid]))
            let passes = try run(interpreter, input).exitedEarly
            if passes == (signal == .maxProbability) { low = mid } else { high = mid }
        }
        return signal == .maxProbability ? low : high
    }

    func testMaxProbabilityAndEntropyDecisionsMatchTheFloatSignals() throws {
        var rng = SeededGenerator(seed: 0xE417)
        var worstP = 0.0, worstH = 0.0, samples = 0, farChecks = 0
        var atThreshold = (agree: 0, total: 0)
        for (classes, scale) in [(10, Float(0.05)), (10, 0.2), (3, 0.0123), (2, 0.5), (16, 0.03)] {
            let zeroPoint = Int32(Self.integer(&rng, -20...20))
            let q = Q.perTensor(scale, zeroPoint)
            let model = try Q.selectorModel(classes: classes, logitQuantization: [q, q], gateQuantization: Q.perTensor(1.0 / 128, 0))
            let interpreter = Interpreter(model: model)
            for sample in 0..<12 {
                var input = [Int8](repeating: 0, count: 2 * (classes + 1))
                // Spreads from nearly uniform to peaked.
                let spread = [8, 40, 127, 255][sample % 4]
                for c in 0..<classes { input[c] = Int8(max(-128, min(127, Self.integer(&rng, -spread / 2...spread / 2)))) }
                let logits = (0..<classes).map { Double(scale) * Double(Int32(input[$0]) - zeroPoint) }
                _ = try run(interpreter, input)
                XCTAssertEqual(Array(interpreter.logits(exit: 0)), logits.map { Float($0) }, "dequantized logits")
                let p = Q.maxProbability(logits), h = Q.entropy(logits)
                let bandP = Double(classes + 4) / 2_097_152
                let bandH = Foundation.log(1 + 1.0 / 256) + Q.meanDistance(logits, scale: Double(scale)) / 131_072 + 4.0 / 65536

                let pBoundary = try boundary(interpreter, input, signal: .maxProbability, low: 0, high: 1.5, steps: 28) // 1.5·2^-28 ≈ 6e-9
                let hBoundary = try boundary(interpreter, input, signal: .entropy, low: -1, high: 10, steps: 22) // 11·2^-22 ≈ 3e-6
                worstP = max(worstP, abs(Double(pBoundary) - p))
                worstH = max(worstH, abs(Double(hBoundary) - h))
                XCTAssertLessThanOrEqual(abs(Double(pBoundary) - p), bandP, "maxprob boundary vs p = \(p), classes \(classes) scale \(scale)")
                XCTAssertLessThanOrEqual(abs(Double(hBoundary) - h), bandH, "entropy boundary vs H = \(h), classes \(classes) scale \(scale)")

                // Far from the measured value (beyond the band): exactly the float decision.
                for (signal, value, band) in [(ExitSignal.maxProbability, p, bandP), (.entropy, h, bandH)] {
                    for offset in [-0.3, -0.02, -3 * band, 3 * band, 0.02, 0.3] {
                        let threshold = Float(value + offset)
                        try interpreter.setPolicy(ExitPolicy(signal: signal, thresholds: [threshold]))
                        let summary = try run(interpreter, input)
                        let expected = signal == .maxProbability ? p >= Double(threshold) : h <= Double(threshold)
                        XCTAssertEqual(summary.exitedEarly, expected, "\(signal.name) \(value) vs threshold \(threshold)")
                        XCTAssertEqual(summary.exitIndex, expected ? 0 : 1)
                        farChecks += 1
                    }
                    // At the measured value: either decision is within the band; count agreement.
                    try interpreter.setPolicy(ExitPolicy(signal: signal, thresholds: [Float(value)]))
                    let summary = try run(interpreter, input)
                    let expected = signal == .maxProbability ? p >= Double(Float(value)) : h <= Double(Float(value))
                    atThreshold.total += 1
                    if summary.exitedEarly == expected { atThreshold.agree += 1 }
                }
                samples += 1
            }
        }
        print("""
            int8 maxprob/entropy: \(samples) logit rows; integer boundary − float signal: maxprob ≤ \(worstP), entropy ≤ \(worstH) \
            (ln(1+1/256) = \(Foundation.log(1 + 1.0 / 256))); \(farChecks) decisions away from the band all equal; \
            at T = measured value \(atThreshold.agree)/\(atThreshold.total) agree
            """)
    }

    // MARK: Eq. 9

    /// Scores of the selector model vs Double references: full network (eq. 9 over both exits),
    /// early exit with eq. 9 over the exits seen, early exit with the exit's own log-softmax.
    func selectorScoreErrors() throws -> (worst: Double, worstCase: String, classMismatches: Int) {
        var rng = SeededGenerator(seed: 0xE99)
        var worst = 0.0, worstCase = "", classMismatches = 0
        let classes = 10
        for (scales, zeroPoints) in [([Float(0.05), 0.08], [Int32(3), -9]), ([0.2, 0.02], [0, 0]), ([0.0123, 0.5], [-20, 20])] {
            let model = try Q.selectorModel(classes: classes, logitQuantization: [Q.perTensor(scales[0], zeroPoints[0]), Q.perTensor(scales[1], zeroPoints[1])],
                                            gateQuantization: Q.perTensor(1.0 / 128, 0))
            let interpreter = Interpreter(model: model)
            for _ in 0..<40 {
                let input = (0..<(2 * classes + 2)).map { _ in Int8(Self.integer(&rng, -128...127)) }
                let logits = (0..<2).map { k in (0..<classes).map { Double(scales[k]) * Double(Int32(input[k * (classes + 1) + $0]) - zeroPoints[k]) } }
                let gates = (0..<2).map { Double(input[$0 * (classes + 1) + classes]) / 128 }
                for (policy, reference) in [
                    (ExitPolicy(signal: .none, thresholds: [0]), Q.combine(logits: logits, gates: gates)),
                    (ExitPolicy(signal: .gate, thresholds: [-2], combineSeenExits: true), Q.combine(logits: [logits[0]], gates: [gates[0]])),
                    (ExitPolicy(signal: .gate, thresholds: [-2]), Q.logSoftmax(logits[0])),
                ] {
                    try interpreter.setPolicy(policy)
                    let summary = try run(interpreter, input)
                    XCTAssertEqual(summary.exitIndex, policy.signal == .none ? 1 : 0)
                    let scores = Array(interpreter.scores)
                    for c in 0..<classes where abs(Double(scores[c]) - reference[c]) > worst {
                        worst = abs(Double(scores[c]) - reference[c])
                        worstCase = "policy \(policy.signal.name) combine \(policy.combineSeenExits), input \(input), class \(c): \(scores[c]) vs \(reference[c])"
                    }
                    // classIndex: the first arg-max of the integer scores; the Double arg-max unless a near tie.
                    XCTAssertEqual(summary.classIndex, Q.firstArgmax(scores))
                    let sorted = reference.sorted(by: >)
                    if summary.classIndex != Q.firstArgmax(reference) && sorted[0] - sorted[1] > 8e-3 { classMismatches += 1 }
                    if policy.signal == .gate && !policy.combineSeenExits {
                        // Early exit without combination: the arg-max of the exit's own int8 logits.
                        XCTAssertEqual(summary.classIndex, Q.firstArgmax(Array(input[0..<classes])))
                    }
                }
            }
        }
        return (worst, worstCase, classMismatches)
    }

    func testEquation9ScoresWithinLnTableBoundOfDouble() throws {
        let (worst, worstCase, classMismatches) = try selectorScoreErrors()
        print("int8 eq. 9 / log-softmax scores (selector model): worst |Q16 − Double| = \(worst) at \(worstCase)")
        // The documented bound of the Q16 path: ln(1 + 1/256) from the 8-bit ln mantissa, plus
        // the logits scale's Q16 rounding over up to 255 steps (255·2^-17) and truncations.
        XCTAssertLessThanOrEqual(worst, Foundation.log(1 + 1.0 / 256) + 255.0 / 131_072 + 8.0 / 65536)
        XCTAssertEqual(classMismatches, 0, "arg-max differs from the Double arg-max away from near ties")
    }

    func testEquation9ScoresWithin2e3OfDouble() throws {
        let (worst, worstCase, _) = try selectorScoreErrors()
        // A targeted row: logits (0, −111, −255) at scale 0.05 give Σ e = 1.003892 (Q20 sum
        // 2^20 · 1.003892); its 8-bit mantissa index is 0, so ln Σ is taken as 0.
        let model = try Q.selectorModel(classes: 3, logitQuantization: [Q.perTensor(0.05, 0), Q.perTensor(0.05, 0)],
                                        gateQuantization: Q.perTensor(1.0 / 128, 0))
        let interpreter = Interpreter(model: model)
        try interpreter.setPolicy(ExitPolicy(signal: .gate, thresholds: [-2]))
        let input: [Int8] = [127, 16, -128, 0, 0, 0, 0, 0]
        _ = try run(interpreter, input)
        let reference = Q.logSoftmax([127, 16, -128].map { 0.05 * Double($0) })
        let targeted = zip(Array(interpreter.scores), reference).map { abs(Double($0) - $1) }.max()!
        print("int8 log-softmax, targeted row (0, −5.55, −12.75): scores \(Array(interpreter.scores)) vs Double \(reference): error \(targeted)")
        let overall = max(worst, targeted)
        XCTAssertLessThanOrEqual(overall, 2e-3, "int8 log-softmax scores vs Double: worst \(worst) (\(worstCase)), targeted \(targeted)")
    }

    /// Eq. 9 weighs integer gate differences, so the gates of an int8 model must share one
    /// quantization: the loader rejects a model whose gates differ (exit 1 here).
    func testGatesOfDifferentQuantizationsAreRejected() throws {
        XCTAssertThrowsError(try Q.selectorModel(classes: 4, logitQuantization: [Q.perTensor(0.1, 0), Q.perTensor(0.1, 0)],
                                                 gateQuantization: Q.perTensor(1.0 / 128, 0), finalGateQuantization: Q.perTensor(1.0 / 32, 40))) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("exit 1") && text.contains("gate"), text)
        }
    }

    /// Extreme but finite thresholds pass `ExitPolicy.validate`, so `setPolicy` must accept
    /// them. A trap would kill this test process, so the policies are set in a child process:
    /// the `early-exit` tool built next to the test bundle, on an int8 selector model.
    func testExtremeThresholdsDoNotTrapInSetPolicy() throws {
        let binary = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("early-exit")
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: binary.path), "early-exit is not built next to \(CommandLine.arguments[0])")
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("quantized-exits-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let model = try Q.selectorModel(classes: 3, logitQuantization: [Q.perTensor(0.1, 0), Q.perTensor(0.1, 0)], gateQuantization: Q.perTensor(1.0 / 128, 0))
        let modelPath = directory.appendingPathComponent("selector.eem").path
        let modelBytes = model.withBytes { [UInt8]($0) }
        let inputPath = directory.appendingPathComponent("input.npy").path
        try Data(NPYArray.encode(shape: [1, 8], values: [5, 1, 2, 64, 0, 3, 1, 0])).write(to: URL(fileURLWithPath: inputPath))
        var crashes: [String] = []
        let cases: [(ExitSignal, String)] = [(.maxProbability, "0.5"), (.gate, "1e30"), (.gate, "-1e30"), (.entropy, "1e30"), (.entropy, "-1e30"),
                                             (.maxProbability, "1e-12"), (.maxProbability, "1e-13"), (.maxProbability, "1e-20"), (.maxProbability, "1e-45")]
        for (signal, threshold) in cases {
            // Stored in the model (the command line refuses thresholds outside a signal's range).
            let thresholds = [Float](repeating: Float(threshold)!, count: model.earlyExitCount)
            try Data(try ModelPatcher.settingPolicy(ExitPolicy(signal: signal, thresholds: thresholds), in: modelBytes))
                .write(to: URL(fileURLWithPath: modelPath))
            let process = Process()
            process.executableURL = binary
            process.arguments = ["run", modelPath, inputPath]
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            process.waitUntilExit()
            if process.terminationReason == .uncaughtSignal {
                crashes.append("--policy \(signal.name) --threshold \(threshold) (signal \(process.terminationStatus))")
            } else {
                XCTAssertEqual(process.terminationStatus, 0, "\(signal.name) \(threshold)")
            }
        }
        XCTAssertFalse(crashes.contains { $0.contains("0.5") || $0.contains("e30") }, "the controls must run: \(crashes)")
        XCTAssertTrue(crashes.isEmpty, "setPolicy must not trap: \(crashes)")
    }

    // MARK: The quantized attention network

    static func attentionModels() throws -> (float: Model, int8: Model) {
        let float = try Model(bytes: try SyntheticModels.attentionNetwork().serialize())
        var rng = SeededGenerator(seed: 0xCA1)
        let calibration = (0..<12).map { _ in (0..<float.input.elementCount).map { _ in Float(uniform(&rng, -2, 2)) } }
        let int8 = try Model(bytes: try Quantizer.quantize(model: float, calibration: calibration, method: .minmax).bytes)
        return (float, int8)
    }

    func testAttentionNetworkDecisionsScoresClassAndMACs() throws {
        let (float, model) = try Self.attentionModels()
        XCTAssertTrue(model.isQuantized)
        XCTAssertEqual(model.exits.count, 3)
        // MACs: each exit's cumulative count equals the sum over its operators, counted here
        // from the tensor shapes; the int8 network does the float network's work.
        var running = 0, next = 0
        for exit in model.exits {
            while next <= exit.afterOperator { running += Q.macs(model.operators[next], model.tensors); next += 1 }
            XCTAssertEqual(exit.cumulativeMACs, running)
        }
        XCTAssertEqual(model.totalMACs, running)
        XCTAssertEqual(model.totalMACs, float.totalMACs)
        XCTAssertEqual(model.exits.map(\.cumulativeMACs), float.exits.map(\.cumulativeMACs))

        let interpreter = Interpreter(model: model)
        var rng = SeededGenerator(seed: 0x4E1D)
        var worstScore = 0.0, decisions = 0
        for sample in 0..<6 { // a debug-build int8 run of this network takes ~40 ms
            let input = interpreter.quantizeInput((0..<model.input.elementCount).map { _ in Float(Self.uniform(&rng, -2, 2)) })
            try interpreter.setPolicy(.fullNetwork(earlyExitCount: 2))
            let full = try run(interpreter, input)
            XCTAssertEqual(full.exitIndex, 2)
            XCTAssertFalse(full.exitedEarly)
            XCTAssertEqual(full.macs, model.totalMACs)
            XCTAssertEqual(full.macsFull, model.totalMACs)
            let logits = (0..<3).map { Array(interpreter.logits(exit: $0)).map(Double.init) }
            let gates = (0..<3).map { interpreter.gate(exit: $0) }
            let int8Gates = (0..<3).map { interpreter.combinationGate(exit: $0) }
            let scores = Array(interpreter.scores)
            let reference = Q.combine(logits: logits, gates: int8Gates.map(Double.init))
            worstScore = max(worstScore, zip(scores, reference).map { abs(Double($0) - $1) }.max()!)
            XCTAssertEqual(full.classIndex, Q.firstArgmax(scores))
            for k in 0..<3 {
                // eq. 9 weighs the int8 tanh outputs, on the fixed 1/128 grid. The reported gate is
                // tanh of the gate layer's accumulator: within the int8 gate's two roundings (half
                // an LSB of the tanh input, tanh' ≤ 1, and half an LSB of the output) of it.
                XCTAssertEqual(int8Gates[k] * 128, (int8Gates[k] * 128).rounded())
                let tanhInput = model.operators.first { $0.output == model.exits[k].gateTensor }!.inputs[0]
                let q = model.tensors[tanhInput].quantization
                // The int8 path clamps the tanh input to its calibrated range; the accumulator does not.
                let preActivation = Foundation.atanh(Double(gates[k]))
                let clamped = min(max(preActivation, Double(q.scale) * Double(-128 - q.zeroPoint)), Double(q.scale) * Double(127 - q.zeroPoint))
                XCTAssertEqual(Foundation.tanh(clamped), Double(int8Gates[k]), accuracy: 0.5 * Double(q.scale) + 1.0 / 256 + 1e-5, "exit \(k)")
            }

            // Gate thresholds at, above and below the measured gates: the first exit with g ≥ T.
            let g0 = gates[0], g1 = gates[1]
            for thresholds in [[g0, 2], [g0.nextUp, g1], [g0.nextUp, g1.nextUp], [g0 + 1.0 / 256, g1 - 1.0 / 256]] {
                let expected = thresholds.indices.first { gates[$0] >= thresholds[$0] } ?? 2
                try interpreter.setPolicy(ExitPolicy(signal: .gate, thresholds: thresholds))
                let summary = try run(interpreter, input)
                XCTAssertEqual(summary.exitIndex, expected, "gates \(gates) thresholds \(thresholds)")
                XCTAssertEqual(summary.exitedEarly, expected < 2)
                XCTAssertEqual(summary.exitsEvaluated, expected + 1)
                XCTAssertEqual(summary.macs, model.exits[expected].cumulativeMACs)
                XCTAssertEqual(summary.macsFull, model.totalMACs)
                XCTAssertEqual(summary.macsSaved, model.totalMACs - model.exits[expected].cumulativeMACs)
                if expected < 2 {
                    // The exit's own log-softmax: arg-max of its logits (first of ties).
                    XCTAssertEqual(summary.classIndex, Q.firstArgmax(logits[expected]))
                }
                decisions += 1
            }

            // maxprob / entropy thresholds far from the measured signal (0.05 beyond) decide exactly.
            do {
                let k = sample % 2
                let p = Q.maxProbability(logits[k]), h = Q.entropy(logits[k])
                for (signal, value) in [(ExitSignal.maxProbability, p), (.entropy, h)] {
                    for offset in [-0.05, 0.05] {
                        var thresholds: [Float] = signal == .maxProbability ? [2, 2] : [-1, -1] // never exit
                        thresholds[k] = Float(value + offset)
                        try interpreter.setPolicy(ExitPolicy(signal: signal, thresholds: thresholds))
                        let summary = try run(interpreter, input)
                        let passes = signal == .maxProbability ? offset < 0 : offset > 0
                        XCTAssertEqual(summary.exitIndex, passes ? k : 2, "\(signal.name) exit \(k): \(value) vs \(thresholds[k])")
                        decisions += 1
                    }
                }
            }
        }
        print("int8 attention network: \(decisions) exit decisions checked; eq. 9 over 3 exits: worst |Q16 − Double| = \(worstScore)")
        XCTAssertLessThanOrEqual(worstScore, Foundation.log(1 + 1.0 / 256) + 255.0 / 131_072 + 8.0 / 65536)
    }

    func testRunInt8DoesNotAllocate() throws {
        try AllocationCounting.requireCounting()
        let (_, model) = try Self.attentionModels()
        let interpreter = Interpreter(model: model)
        var rng = SeededGenerator(seed: 0xA110C)
        let input = interpreter.quantizeInput((0..<model.input.elementCount).map { _ in Float(Self.uniform(&rng, -2, 2)) })
        var policies: [ExitPolicy] = []
        for signal in ExitSignal.allCases {
            for combine in [false, true] {
                // one threshold pair that exits at once and one that never exits early
                let pairs: [[Float]] = signal == .entropy ? [[5, 5], [-1, -1]] : [[-2, -2], [2, 2]]
                for thresholds in pairs { policies.append(ExitPolicy(signal: signal, thresholds: thresholds, combineSeenExits: combine)) }
            }
        }
        var exitsSeen = Set<Int>()
        try input.withUnsafeBufferPointer { buffer in
            for policy in policies {
                try interpreter.setPolicy(policy)
                exitsSeen.insert(try interpreter.run(buffer).exitIndex) // warm-up
                let before = ee_allocation_count()
                for _ in 0..<2 { _ = try interpreter.run(buffer) }
                XCTAssertEqual(ee_allocation_count() - before, 0, "run(int8) allocated with \(policy)")
            }
        }
        XCTAssertTrue(exitsSeen.isSuperset(of: [0, 2]), "the policies must exercise early and final exits: \(exitsSeen)")
    }
}
