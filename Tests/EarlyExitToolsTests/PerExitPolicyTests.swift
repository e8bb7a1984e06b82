// Per-exit signals and second conditions (format 1.1): stored and read back, validated byte by
// byte, and decided by the float and int8 interpreters as each exit's rule says.
import XCTest
import EarlyExit
@testable import EarlyExitTools

final class PerExitPolicyTests: XCTestCase {
    func floatModelBytes() throws -> [UInt8] { try SyntheticModels.attentionNetwork().serialize() }

    func inputs(_ model: Model, count: Int) -> [[Float]] {
        var rng = SeededGenerator(seed: 5)
        return (0..<count).map { _ in (0..<model.input.elementCount).map { _ in Float.random(in: -1...1, using: &rng) } }
    }

    /// A per-exit policy for a model with two early exits: exit 1 maxprob, exit 2 "gate and maxprob".
    func mixedPolicy(maxprob1: Float, gate2: Float, maxprob2: Float) -> ExitPolicy {
        ExitPolicy(signal: .gate, thresholds: [maxprob1, gate2], exitSignals: [.maxProbability, .gate],
                   secondSignals: [.none, .maxProbability], secondThresholds: [0, maxprob2])
    }

    func testPerExitPolicyIsStoredAsFormat11AndReadBack() throws {
        let bytes = try floatModelBytes()
        XCTAssertEqual(bytes[6], 0, "a file without per-exit rules stays 1.0")
        let policy = mixedPolicy(maxprob1: 0.3, gate2: 0.5, maxprob2: 0.2)
        let patched = try ModelPatcher.settingPolicy(policy, in: bytes)
        XCTAssertEqual(patched[6], 1, "minor version 1")
        let model = try Model(bytes: patched)
        XCTAssertEqual(model.versionMinor, 1)
        XCTAssertEqual(model.defaultPolicy, policy)
        // Bytes 12, 13 and 28 of each early exit's record; the final exit's stay zero.
        let table = Int(patched[44]) | Int(patched[45]) << 8 | Int(patched[46]) << 16 | Int(patched[47]) << 24
        let record = { (exit: Int) in table + EEMFormat.exitTableHeaderSize + exit * EEMFormat.exitRecordSize }
        XCTAssertEqual(Array(patched[record(0) + 12..<record(0) + 16]), [2, 0, 0, 0])
        XCTAssertEqual(Array(patched[record(1) + 12..<record(1) + 16]), [1, 2, 0, 0])
        XCTAssertEqual(Array(patched[record(1) + 28..<record(1) + 32]), Array(withUnsafeBytes(of: Float(0.2).bitPattern.littleEndian) { Array($0) }))
        XCTAssertEqual(Array(patched[record(2) + 12..<record(2) + 16]), [0, 0, 0, 0])
        // A uniform policy written over it clears the rules.
        let uniform = ExitPolicy(signal: .entropy, thresholds: [0.5, 0.4])
        XCTAssertEqual(try Model(bytes: try ModelPatcher.settingPolicy(uniform, in: patched)).defaultPolicy, uniform)
    }

    func testMalformedPerExitFieldsAreRejected() throws {
        let patched = try ModelPatcher.settingPolicy(mixedPolicy(maxprob1: 0.3, gate2: 0.5, maxprob2: 0.2), in: try floatModelBytes())
        let table = Int(patched[44]) | Int(patched[45]) << 8 | Int(patched[46]) << 16 | Int(patched[47]) << 24
        let record = { (exit: Int) in table + EEMFormat.exitTableHeaderSize + exit * EEMFormat.exitRecordSize }
        func corrupted(_ edit: (inout [UInt8]) -> Void) -> [UInt8] {
            var bytes = patched
            edit(&bytes)
            writeLittleEndian(&bytes, at: 12, CRC32.checksum(Array(bytes[EEMFormat.checksumStart...])))
            return bytes
        }
        let cases: [(String, [UInt8], String)] = [
            ("unknown exit signal", corrupted { $0[record(0) + 12] = 9 }, "unknown exit signal code 9"),
            ("unknown second signal", corrupted { $0[record(1) + 13] = 7 }, "unknown second signal code 7"),
            ("reserved byte 14", corrupted { $0[record(0) + 14] = 1 }, "reserved byte"),
            ("second threshold without a second signal", corrupted { $0[record(0) + 28] = 1 }, "no second signal"),
            ("non-finite second threshold", corrupted { for i in 0..<4 { $0[record(1) + 28 + i] = [0, 0, 0xC0, 0x7F][i] } }, "not a finite number"),
            ("final exit with a signal", corrupted { $0[record(2) + 12] = 1 }, "final exit"),
            ("1.0 file using the 1.1 bytes", corrupted { $0[6] = 0 }, "format 1.0"),
            ("table signal none with per-exit signals", corrupted { $0[table] = 0 }, "'none'"),
        ]
        for (name, bytes, expected) in cases {
            XCTAssertThrowsError(try Model(bytes: bytes), name) { error in
                XCTAssertTrue("\(error)".contains(expected), "\(name): \(error)")
            }
        }
    }

    /// The float interpreter takes exit e when e's own rule passes, recomputed here in Double from
    /// the full network's exit logits and gates.
    /// Thresholds at quantiles of the signals over `data`: exit 1's maxprob at its 70th
    /// percentile, exit 2's gate and maxprob at their medians, so that every exit is taken.
    func quantileThresholds(_ model: Model, _ data: [[Float]]) throws -> (Float, Float, Float) {
        let full = Interpreter(model: model)
        try full.setPolicy(.fullNetwork(earlyExitCount: model.earlyExitCount))
        var values: [[Double]] = [[], [], []]
        for input in data {
            _ = try full.run(input)
            values[0].append(maxprob(full, 0))
            values[1].append(Double(full.gate(exit: 1)))
            values[2].append(maxprob(full, 1))
        }
        func quantile(_ v: [Double], _ q: Double) -> Float { Float(v.sorted()[Int(q * Double(v.count - 1))]) }
        return (quantile(values[0], 0.7), quantile(values[1], 0.5), quantile(values[2], 0.5))
    }

    func maxprob(_ interpreter: Interpreter, _ exit: Int) -> Double {
        let logits = interpreter.logits(exit: exit).map(Double.init)
        let top = logits.max()!
        return 1 / logits.reduce(0) { $0 + exp($1 - top) }
    }

    func testFloatInterpreterFollowsEachExitsRule() throws {
        let model = try Model(bytes: try floatModelBytes())
        let data = inputs(model, count: 200)
        let (t1, g2, t2) = try quantileThresholds(model, data)
        let policy = mixedPolicy(maxprob1: t1, gate2: g2, maxprob2: t2)
        let early = Interpreter(model: model), full = Interpreter(model: model)
        try early.setPolicy(policy)
        try full.setPolicy(.fullNetwork(earlyExitCount: model.earlyExitCount))
        var taken = [Int](repeating: 0, count: model.exits.count)
        for input in data {
            let summary = try early.run(input)
            _ = try full.run(input)
            // Values within float rounding of a threshold would make the Double recount ambiguous.
            if abs(maxprob(full, 0) - Double(t1)) < 1e-5 || abs(maxprob(full, 1) - Double(t2)) < 1e-5 { continue }
            var expected = model.exits.count - 1
            if maxprob(full, 0) >= Double(t1) { expected = 0 } else if full.gate(exit: 1) >= g2 && maxprob(full, 1) >= Double(t2) { expected = 1 }
            XCTAssertEqual(summary.exitIndex, expected)
            taken[summary.exitIndex] += 1
        }
        print("per-exit float decisions, exits taken: \(taken)")
        XCTAssertTrue(taken.allSatisfy { $0 > 0 }, "every exit taken at least once: \(taken)")
    }

    /// The int8 interpreter's per-exit decision equals the conjunction of its single-signal
    /// decisions: exit e fires under the mixed policy exactly when it is the first exit whose
    /// signals each fire under a uniform policy with that signal alone at e (never elsewhere).
    func testInt8InterpreterFollowsEachExitsRule() throws {
        let floatModel = try Model(bytes: try floatModelBytes())
        let data = inputs(floatModel, count: 150)
        let int8 = try Model(bytes: try Quantizer.quantize(model: floatModel, calibration: Array(data.prefix(30)), method: .minmax).bytes)
        let (t1, g2, t2) = try quantileThresholds(floatModel, data)
        let rules: [(ExitSignal, Float, ExitSignal, Float)] = [(.maxProbability, t1, .none, 0), (.gate, g2, .maxProbability, t2)]
        let policy = mixedPolicy(maxprob1: t1, gate2: g2, maxprob2: t2)
        let mixed = Interpreter(model: int8), single = Interpreter(model: int8)
        try mixed.setPolicy(policy)
        func fires(_ signal: ExitSignal, _ threshold: Float, at exit: Int, _ input: [Float]) throws -> Bool {
            var thresholds = [Float](repeating: 2, count: int8.earlyExitCount)
            if signal == .entropy { thresholds = [Float](repeating: -1, count: int8.earlyExitCount) }
            thresholds[exit] = threshold
            try single.setPolicy(ExitPolicy(signal: signal, thresholds: thresholds))
            return try single.run(input).exitIndex == exit
        }
        var taken = [Int](repeating: 0, count: int8.exits.count)
        for input in data {
            var expected = int8.exits.count - 1
            for (exit, rule) in rules.enumerated() {
                let first = try fires(rule.0, rule.1, at: exit, input)
                let second = rule.2 == .none ? true : try fires(rule.2, rule.3, at: exit, input)
                if first && second { expected = exit; break }
            }
            let got = try mixed.run(input).exitIndex
            XCTAssertEqual(got, expected)
            taken[got] += 1
        }
        print("per-exit int8 decisions, exits taken: \(taken)")
        XCTAssertTrue(taken.allSatisfy { $0 > 0 }, "every exit taken at least once: \(taken)")
    }
}
