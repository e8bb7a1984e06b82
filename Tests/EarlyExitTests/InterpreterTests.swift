// The interpreter against an independent reference forward pass, and the exit logic of every
// policy: which exit fires, the MACs reported, and the scores (log-softmax or eq. 9).
@testable import EarlyExit
import EarlyExitTools
import Foundation
import XCTest

final class InterpreterTests: XCTestCase {
    static var variants: [(String, ModelBuilder)] { [
        ("attentionNetwork()", SyntheticModels.attentionNetwork()),
        ("attentionNetwork(seed: 1234)", SyntheticModels.attentionNetwork(seed: 1234)),
        ("attentionNetwork(channels: 3, size: 12, width: 6, heads: 3, classes: 5, seed: 99)",
         SyntheticModels.attentionNetwork(channels: 3, size: 12, width: 6, heads: 3, classes: 5, seed: 99)),
    ] }

    /// Per-exit logits and gates of the reference executor, in Double.
    struct Expected {
        var logits: [[Double]]
        var gates: [Double]
    }

    func reference(_ model: Model, _ input: [Float]) -> Expected {
        let values = ReferenceExecutor(model: model).run(input)
        return Expected(logits: model.exits.map { values[$0.logitsTensor]! }, gates: model.exits.map { values[$0.gateTensor]![0] })
    }

    static func input(_ model: Model, seed: UInt64) -> [Float] {
        var rng = SeededGenerator(seed: seed)
        return rng.uniforms(model.input.elementCount, scale: 2)
    }

    // MARK: Forward pass

    func testScheduleIsTheDocumentedAttentionNetwork() throws {
        // stem conv → attention module (conv 1×1, reshape, softmax, reshape, transpose, matmul,
        // reshape, fc logits, fc gate, tanh) → conv s2, batch norm, conv, add, max pool → module
        // → global average pool, fc logits, fc gate, tanh.
        let module: [OperatorKind] = [.conv2d, .reshape, .softmax, .reshape, .transpose, .matmul, .reshape, .fullyConnected, .fullyConnected, .tanh]
        let expected: [OperatorKind] = [.conv2d] + module + [.conv2d, .batchNorm, .conv2d, .add, .maxPool] + module
            + [.globalAvgPool, .fullyConnected, .fullyConnected, .tanh]
        let model = try Model(bytes: SyntheticModels.attentionNetwork().serialize())
        XCTAssertEqual(model.operators.map { $0.kind }, expected)
        XCTAssertEqual(model.exits.map { $0.afterOperator }, [10, 25, 29])
        XCTAssertEqual(model.classCount, 10)
        XCTAssertEqual(model.input.shape.dims, [1, 1, 16, 16])
    }

    func testPerExitLogitsAndGatesMatchReferenceForwardPass() throws {
        for (name, builder) in Self.variants {
            let model = try Model(bytes: builder.serialize())
            let interpreter = Interpreter(model: model)
            try interpreter.setPolicy(.fullNetwork(earlyExitCount: model.earlyExitCount))
            for seed in UInt64(1)...4 {
                let input = Self.input(model, seed: seed)
                let summary = try interpreter.run(input)
                XCTAssertEqual(summary.exitIndex, model.exits.count - 1)
                let expected = reference(model, input)
                for k in 0..<model.exits.count {
                    assertClose(Array(interpreter.logits(exit: k)), expected.logits[k], tolerance: 2e-5, "\(name) exit \(k) seed \(seed)")
                    XCTAssertEqual(Double(interpreter.gate(exit: k)), expected.gates[k], accuracy: 2e-6, "\(name) exit \(k) gate seed \(seed)")
                }
                // The gates are tanh values: strictly inside (−1, 1) and not all equal.
                XCTAssertTrue(expected.gates.allSatisfy { abs($0) < 1 })
            }
        }
    }

    func testMACsMatchPerOperatorFormula() throws {
        for (name, builder) in Self.variants {
            let model = try Model(bytes: builder.serialize())
            var cumulative = 0
            var next = 0
            for (k, exit) in model.exits.enumerated() {
                while next <= exit.afterOperator {
                    let op = model.operators[next]
                    let formula = Ref.macs(of: op, in: model)
                    XCTAssertEqual(op.macs, formula, "\(name) operator \(next) (\(op.kind.name))")
                    cumulative += formula
                    next += 1
                }
                XCTAssertEqual(exit.cumulativeMACs, cumulative, "\(name) exit \(k)")
            }
            XCTAssertEqual(model.totalMACs, cumulative, name)
        }
        // By hand for the default network (C=1, 16×16, width 8, 2 heads, 10 classes):
        //   stem conv 8·16·16·1·9 = 18,432; mask conv 2·16·16·8 = 4,096; matmul 1·2·8·256 = 4,096;
        //   fc 10·16 = 160; gate fc 16                       → exit 1: 26,800
        //   conv s2 16·8·8·8·9 = 73,728; bn 16·8·8 = 1,024; conv 16·8·8·16·9 = 147,456;
        //   mask conv 2·4·4·16 = 512; matmul 2·16·16 = 512; fc 10·32 = 320; gate fc 32
        //                                                     → exit 2: 26,800 + 223,584 = 250,384
        //   fc 10·16 = 160; gate fc 16                       → final: 250,560
        let model = try Model(bytes: SyntheticModels.attentionNetwork().serialize())
        XCTAssertEqual(model.exits.map { $0.cumulativeMACs }, [26_800, 250_384, 250_560])
        XCTAssertEqual(model.totalMACs, 250_560)
    }

    // MARK: Exit decisions

    /// The signal value the interpreter compares for exit `k`, computed with ExitMath from
    /// the logits it stored (so thresholds can sit exactly on it), cross-checked in Double.
    func signal(_ signal: ExitSignal, _ interpreter: Interpreter, exit k: Int, file: StaticString = #filePath, line: UInt = #line) -> Float {
        let logits = Array(interpreter.logits(exit: k))
        let doubles = logits.doubles
        switch signal {
        case .none: return 0
        case .gate: return interpreter.gate(exit: k)
        case .maxProbability:
            let value = logits.withUnsafeBufferPointer { ExitMath.maxProbability($0.baseAddress!, count: logits.count) }
            XCTAssertEqual(Double(value), Ref.maxProbability(doubles), accuracy: 1e-6, file: file, line: line)
            return value
        case .entropy:
            var work = [Float](repeating: 0, count: logits.count)
            let value = logits.withUnsafeBufferPointer { l in work.withUnsafeMutableBufferPointer { ExitMath.entropy(l.baseAddress!, count: logits.count, work: $0.baseAddress!) } }
            XCTAssertEqual(Double(value), Ref.entropy(doubles), accuracy: 1e-5, file: file, line: line)
            return value
        }
    }

    /// Checks summary and scores for a run that ended at `exit`.
    func checkRun(_ interpreter: Interpreter, _ summary: RunSummary, exit: Int, combine: Bool, expected: Expected,
                  _ label: String, file: StaticString = #filePath, line: UInt = #line) {
        let model = interpreter.model
        let final = model.exits.count - 1
        XCTAssertEqual(summary.exitIndex, exit, label, file: file, line: line)
        XCTAssertEqual(summary.exitsEvaluated, exit + 1, label, file: file, line: line)
        XCTAssertEqual(summary.exitedEarly, exit < final, label, file: file, line: line)
        // MACs from the per-operator formula, summed up to the operator the exit follows.
        let macs = model.operators[0...model.exits[exit].afterOperator].reduce(0) { $0 + Ref.macs(of: $1, in: model) }
        let full = model.operators.reduce(0) { $0 + Ref.macs(of: $1, in: model) }
        XCTAssertEqual(summary.macs, macs, label, file: file, line: line)
        XCTAssertEqual(summary.macsFull, full, label, file: file, line: line)
        XCTAssertEqual(summary.macsSaved, full - macs, label, file: file, line: line)
        // Scores: the exit's own log-softmax after an early exit, eq. 9 over the exits seen when
        // combining, eq. 9 over every exit at the final head.
        let scores: [Double]
        if exit < final && !combine {
            scores = Ref.logSoftmax(expected.logits[exit])
        } else {
            scores = Ref.combine(logits: Array(expected.logits[0...exit]), gates: Array(expected.gates[0...exit]))
        }
        assertClose(Array(interpreter.scores), scores, tolerance: 2e-5, label, file: file, line: line)
        // classIndex is the arg-max of the scores (unless the top two are within rounding).
        let sorted = scores.enumerated().sorted { $0.element > $1.element }
        if sorted[0].element - sorted[1].element > 1e-4 {
            XCTAssertEqual(summary.classIndex, sorted[0].offset, label, file: file, line: line)
        }
        let own = Array(interpreter.scores)
        XCTAssertEqual(summary.classIndex, own.indices.max { own[$0] < own[$1] || (own[$0] == own[$1] && $0 > $1) }, label, file: file, line: line)
        XCTAssertEqual(interpreter.lastRun, summary, label, file: file, line: line)
    }

    func testEachPolicyFiresAtTheExitItsThresholdsSelect() throws {
        for (name, builder) in Self.variants {
            let model = try Model(bytes: builder.serialize())
            XCTAssertEqual(model.earlyExitCount, 2)
            let interpreter = Interpreter(model: model)
            for seed in UInt64(1)...3 {
                let input = Self.input(model, seed: seed)
                let expected = reference(model, input)
                try interpreter.setPolicy(.fullNetwork(earlyExitCount: 2))
                _ = try interpreter.run(input)
                for kind in [ExitSignal.gate, .maxProbability, .entropy] {
                    let s0 = signal(kind, interpreter, exit: 0), s1 = signal(kind, interpreter, exit: 1)
                    // Threshold exactly at the signal passes (≥ for gate and maxprob, ≤ for
                    // entropy); one float further in the confident direction does not.
                    let miss = { (s: Float) in kind.higherIsConfident ? s.nextUp : s.nextDown }
                    let cases: [([Float], Int)] = [([s0, miss(s1)], 0), ([s0, s1], 0), ([miss(s0), s1], 1), ([miss(s0), miss(s1)], 2)]
                    for (thresholds, exit) in cases {
                        for combine in [false, true] {
                            let label = "\(name) seed \(seed) \(kind.name) thresholds \(thresholds) (signals \(s0), \(s1)) combine \(combine)"
                            try interpreter.setPolicy(ExitPolicy(signal: kind, thresholds: thresholds, combineSeenExits: combine))
                            let summary = try interpreter.run(input)
                            checkRun(interpreter, summary, exit: exit, combine: combine, expected: expected, label)
                        }
                    }
                }
                // Signal .none never exits early, whatever the thresholds.
                for thresholds: [Float] in [[-1e30, -1e30], [0, 0], [1e30, 1e30]] {
                    try interpreter.setPolicy(ExitPolicy(signal: .none, thresholds: thresholds, combineSeenExits: true))
                    let summary = try interpreter.run(input)
                    checkRun(interpreter, summary, exit: 2, combine: true, expected: expected, "\(name) none \(thresholds)")
                }
            }
        }
    }

    func testEarlyExitScoresUseOnlyTheExitsSeen() throws {
        // At exit 1 with combining, eq. 9 over exits 0 and 1 must differ from eq. 9 over all
        // three (the final head's logits were never computed) and from exit 1's own log-softmax.
        let model = try Model(bytes: SyntheticModels.attentionNetwork().serialize())
        let interpreter = Interpreter(model: model)
        let input = Self.input(model, seed: 5)
        let expected = reference(model, input)
        try interpreter.setPolicy(ExitPolicy(signal: .gate, thresholds: [1, -1], combineSeenExits: true))
        let summary = try interpreter.run(input)
        XCTAssertEqual(summary.exitIndex, 1)
        let seen = Ref.combine(logits: Array(expected.logits[0...1]), gates: Array(expected.gates[0...1]))
        assertClose(Array(interpreter.scores), seen, tolerance: 2e-5)
        let all = Ref.combine(logits: expected.logits, gates: expected.gates)
        XCTAssertGreaterThan(zip(seen, all).map { abs($0 - $1) }.max()!, 1e-3)
        XCTAssertGreaterThan(zip(seen, Ref.logSoftmax(expected.logits[1])).map { abs($0 - $1) }.max()!, 1e-3)
    }

    func testDefaultPolicyComesFromTheFile() throws {
        var builder = SyntheticModels.attentionNetwork()
        builder.signal = .entropy
        builder.thresholds = [0.25, 1.5]
        builder.combineSeenExits = true
        let model = try Model(bytes: builder.serialize())
        XCTAssertEqual(model.defaultPolicy, ExitPolicy(signal: .entropy, thresholds: [0.25, 1.5], combineSeenExits: true))
        XCTAssertEqual(Interpreter(model: model).policy, model.defaultPolicy)
    }

    // MARK: Errors

    func testSetPolicyRejectsWrongThresholdCountAndNonFiniteThresholds() throws {
        let model = try Model(bytes: SyntheticModels.attentionNetwork().serialize())
        let interpreter = Interpreter(model: model)
        let before = interpreter.policy
        for thresholds: [Float] in [[], [0.5], [0.5, 0.5, 0.5], [.nan, 0.5], [0.5, .nan], [.infinity, 0], [0, -.infinity]] {
            XCTAssertThrowsError(try interpreter.setPolicy(ExitPolicy(signal: .gate, thresholds: thresholds)), "\(thresholds)") { error in
                guard case .badPolicy(let reason)? = error as? ModelError else { return XCTFail("\(error)") }
                XCTAssertFalse(reason.isEmpty)
                XCTAssertTrue((error as! ModelError).description.hasPrefix("bad exit policy"))
            }
            XCTAssertEqual(interpreter.policy, before, "a rejected policy must not be applied")
        }
        XCTAssertNoThrow(try interpreter.setPolicy(ExitPolicy(signal: .entropy, thresholds: [0, 3])))
    }

    func testRunRejectsWrongInputCount() throws {
        let model = try Model(bytes: SyntheticModels.attentionNetwork().serialize())
        let interpreter = Interpreter(model: model)
        for count in [0, 1, 255, 257, 512] {
            XCTAssertThrowsError(try interpreter.run([Float](repeating: 0, count: count)), "\(count) values") { error in
                guard case .badInput? = error as? ModelError else { return XCTFail("\(error)") }
            }
        }
        XCTAssertNil(interpreter.lastRun)
        XCTAssertNoThrow(try interpreter.run([Float](repeating: 0, count: 256)))
    }

    func testRunRejectsNonFiniteInputValues() throws {
        let model = try Model(bytes: SyntheticModels.attentionNetwork().serialize())
        let interpreter = Interpreter(model: model)
        for bad in [Float.nan, .infinity, -.infinity] {
            var input = Self.input(model, seed: 5)
            input[77] = bad
            XCTAssertThrowsError(try interpreter.run(input), "\(bad)") { error in
                guard case let .badInput(reason)? = error as? ModelError else { return XCTFail("\(error)") }
                XCTAssertTrue(reason.contains("value 77"), reason)
            }
        }
        XCTAssertNil(interpreter.lastRun)
    }

    func testNonFiniteOutputsAreAnErrorNotAResult() throws {
        // Finite inputs near Float.greatestFiniteMagnitude overflow the first convolution; the
        // softmax and the heads then produce NaN. Before this was checked, `run` returned class 0.
        let model = try Model(bytes: SyntheticModels.attentionNetwork().serialize())
        let interpreter = Interpreter(model: model)
        try interpreter.setPolicy(.fullNetwork(earlyExitCount: model.earlyExitCount))
        let good = Self.input(model, seed: 6)
        let first = try interpreter.run(good)
        let huge = good.map { $0 >= 0 ? Float(3e38) : Float(-3e38) }
        XCTAssertThrowsError(try interpreter.run(huge)) { error in
            guard case let .nonFiniteOutput(exit)? = error as? ModelError else { return XCTFail("\(error)") }
            XCTAssertEqual(exit, 0, "the first exit is already NaN")
            XCTAssertTrue("\(error)".contains("NaN or infinite"), "\(error)")
        }
        XCTAssertNil(interpreter.lastRun, "a failed run leaves no result")
        XCTAssertEqual(try interpreter.run(good), first, "the interpreter recovers on the next good input")
    }

    func testInterpretersShareAModelIndependently() throws {
        // Two interpreters on one model: running one does not disturb the other's results.
        let model = try Model(bytes: SyntheticModels.attentionNetwork().serialize())
        let a = Interpreter(model: model), b = Interpreter(model: model)
        try a.setPolicy(.fullNetwork(earlyExitCount: 2)); try b.setPolicy(.fullNetwork(earlyExitCount: 2))
        let x = Self.input(model, seed: 11), y = Self.input(model, seed: 12)
        _ = try a.run(x)
        let scoresA = Array(a.scores)
        _ = try b.run(y)
        XCTAssertEqual(Array(a.scores), scoresA)
        assertClose(Array(a.logits(exit: 2)), reference(model, x).logits[2], tolerance: 2e-5)
        assertClose(Array(b.logits(exit: 2)), reference(model, y).logits[2], tolerance: 2e-5)
    }
}
