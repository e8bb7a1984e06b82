// The networks PyTorch users export (Fixtures/import, made by Training/make_import_fixtures.py):
// every case must convert and match onnxruntime within 1e-4 on every output (a case that
// cannot would be listed in `refused` with the operators it is refused for, and checked to fail
// for exactly those, so that neither a new failure nor a new success goes unnoticed); each
// converted model is also quantized to int8 and compared with its float32 model.
import EarlyExit
@testable import EarlyExitTools
import Foundation
import XCTest

final class ImportFixtureTests: XCTestCase {
    static var root: URL { Bundle.module.resourceURL!.appendingPathComponent("Fixtures/import") }

    /// Cases refused, with the unsupported operators the converter reports (in its order).
    /// Empty since every operator these networks use is supported.
    static let refused: [String: [String]] = [:]

    static func cases() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: root.path).filter {
            FileManager.default.fileExists(atPath: root.appendingPathComponent($0).appendingPathComponent("manifest.json").path)
        }.sorted()
    }

    static func manifest(_ name: String) throws -> [String: Any] {
        let data = try Data(contentsOf: root.appendingPathComponent(name).appendingPathComponent("manifest.json"))
        return try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    func testEveryCaseMatchesOnnxRuntimeAndQuantizes() throws {
        let names = try Self.cases()
        XCTAssertEqual(names.count, 21, "7 networks × 3 exporters")
        var converted: [String] = [], waiting: [String] = []
        for name in names {
            let url = Self.root.appendingPathComponent(name).appendingPathComponent("model.onnx")
            do {
                let result = try ONNXConverter.convert(onnxFile: url, options: ConversionOptions())
                XCTAssertNil(Self.refused[name], "\(name) converts now: remove it from the refused list")
                let worst = try check(name, eem: result.bytes)
                let int8 = try checkInt8(name, eem: result.bytes)
                // Post-training int8 of random-weight networks on held-out inputs: measured at most
                // 7.2% of the largest logit (LTPA dot); 10% leaves room for other CPUs' float sums.
                XCTAssertLessThanOrEqual(int8.relative, 0.1, "\(name): int8 logits vs float32")
                converted.append("\(name): converts, max abs error vs onnxruntime \(worst); int8 vs float32: logits \(int8.logits) (\(int8.relative) of the largest logit), gates \(int8.gates)")
            } catch let error as ConversionError {
                guard let expected = Self.refused[name] else {
                    XCTFail("\(name) does not convert: \(error)")
                    continue
                }
                XCTAssertEqual(error.unsupportedOperators, expected, "\(name): \(error)")
                XCTAssertTrue(error.allProblems.allSatisfy(\.isUnsupportedOperator), "\(name): other problems too: \(error)")
                waiting.append("\(name): refused for \(error.unsupportedOperators.joined(separator: ", "))")
            }
        }
        print((converted + waiting).map { "import fixture \($0)" }.joined(separator: "\n"))
        XCTAssertEqual(converted.count + waiting.count, names.count)
    }

    /// Runs the converted model on the fixture's input and compares every exit with onnxruntime.
    /// Returns the largest absolute difference.
    func check(_ name: String, eem: [UInt8]) throws -> Double {
        let directory = Self.root.appendingPathComponent(name)
        let outputs = try XCTUnwrap(try Self.manifest(name)["outputs"] as? [String])
        let model = try Model(bytes: eem)
        let interpreter = Interpreter(model: model)
        try interpreter.setPolicy(.fullNetwork(earlyExitCount: model.earlyExitCount))
        let input = try NPYArray.read(path: directory.appendingPathComponent("input.npy").path)
        _ = try interpreter.run(input.values)
        // Either the naming convention (logits and gate per exit) or a plain classifier's one output.
        var expected: [(exit: Int, isGate: Bool, file: String)] = []
        if outputs.count == 1 {
            expected = [(0, false, outputs[0])]
            XCTAssertEqual(model.exits.count, 1, name)
            XCTAssertFalse(model.exits[0].hasGate, name)
        } else {
            XCTAssertEqual(model.exits.count * 2, outputs.count, name)
            for (index, output) in outputs.enumerated() { expected.append((index / 2, index % 2 == 1, output)) }
        }
        var worst = 0.0
        for (exit, isGate, file) in expected {
            let reference = try NPYArray.read(path: directory.appendingPathComponent("\(file).npy").path).values
            let actual = isGate ? [interpreter.gate(exit: exit)] : Array(interpreter.logits(exit: exit))
            XCTAssertEqual(actual.count, reference.count, "\(name) \(file)")
            for (a, r) in zip(actual, reference) {
                let error = abs(Double(a) - Double(r))
                worst = max(worst, error)
                XCTAssertLessThanOrEqual(error, 1e-4, "\(name) \(file): \(a) vs onnxruntime \(r)")
            }
        }
        // The full run's scores are the final head's log-softmax when it has no gate (eq. 9
        // without gates), and the eq. 9 combination otherwise.
        if !model.exitsHaveGates {
            let logits = try NPYArray.read(path: directory.appendingPathComponent("\(outputs[outputs.count == 1 ? 0 : outputs.count - 2]).npy").path).values
            let largest = logits.map(Double.init).max()!
            let logSum = largest + Foundation.log(logits.map { Foundation.exp(Double($0) - largest) }.reduce(0, +))
            for (score, logit) in zip(interpreter.scores, logits) {
                XCTAssertEqual(Double(score), Double(logit) - logSum, accuracy: 1e-4, "\(name): final log-softmax")
            }
        }
        return worst
    }

    /// Quantizes the converted model (calibrated on the fixture input and 15 seeded random
    /// inputs of the same distribution) and compares the int8 model's exits with the float32
    /// model's on 4 other random inputs: the largest logit and gate differences, and the logit
    /// difference relative to the largest float32 logit.
    func checkInt8(_ name: String, eem: [UInt8]) throws -> (logits: Double, relative: Double, gates: Double) {
        let float = try Model(bytes: eem)
        let input = try NPYArray.read(path: Self.root.appendingPathComponent(name).appendingPathComponent("input.npy").path).values
        var rng = SeededGenerator(seed: 0x1414)
        func gaussian() -> [Float] {
            (0..<input.count).map { _ in
                let u = max(Double(rng.next() >> 11) / Double(1 << 53), 1e-12), v = Double(rng.next() >> 11) / Double(1 << 53)
                return Float((-2 * Foundation.log(u)).squareRoot() * Foundation.cos(2 * Double.pi * v))
            }
        }
        let calibration = [input] + (0..<15).map { _ in gaussian() }
        let (bytes, _) = try Quantizer.quantize(model: float, calibration: calibration, method: .minmax)
        let int8 = try Model(bytes: bytes)
        let f = Interpreter(model: float), q = Interpreter(model: int8)
        try f.setPolicy(.fullNetwork(earlyExitCount: float.earlyExitCount))
        try q.setPolicy(.fullNetwork(earlyExitCount: int8.earlyExitCount))
        var logits = 0.0, gates = 0.0, largest = 0.0
        for _ in 0..<4 {
            let x = gaussian()
            _ = try f.run(x)
            _ = try q.run(x)
            for exit in 0..<float.exits.count {
                for (a, b) in zip(Array(f.logits(exit: exit)), Array(q.logits(exit: exit))) {
                    logits = max(logits, abs(Double(a) - Double(b)))
                    largest = max(largest, abs(Double(a)))
                }
                if float.exits[exit].hasGate { gates = max(gates, abs(Double(f.gate(exit: exit)) - Double(q.gate(exit: exit)))) }
            }
        }
        return (logits, logits / largest, gates)
    }

    func testDynamoDefaultExportsUseASideFile() throws {
        for name in try Self.cases() where name.hasSuffix("_dynamo") {
            let files = try XCTUnwrap(try Self.manifest(name)["external_data_files"] as? [String])
            XCTAssertEqual(files, ["model.onnx.data"], name)
            // From bytes alone the side file cannot be found: a clear error, not garbage.
            let bytes = [UInt8](try Data(contentsOf: Self.root.appendingPathComponent(name).appendingPathComponent("model.onnx")))
            XCTAssertThrowsError(try ONNXConverter.convert(onnx: bytes, options: ConversionOptions())) { error in
                XCTAssertTrue("\(error)".contains("model.onnx.data"), "\(name): \(error)")
            }
        }
    }
}
