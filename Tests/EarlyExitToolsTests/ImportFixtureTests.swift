// The networks PyTorch users export (Fixtures/import, made by Training/make_import_fixtures.py):
// every case whose operators are supported must convert and match onnxruntime within 1e-4;
// the others are listed here with the operators they wait for (phase B), and checked to fail
// for exactly those operators, so that neither a new failure nor a new success goes unnoticed.
import EarlyExit
@testable import EarlyExitTools
import Foundation
import XCTest

final class ImportFixtureTests: XCTestCase {
    static var root: URL { Bundle.module.resourceURL!.appendingPathComponent("Fixtures/import") }

    /// Cases that cannot convert before phase B adds these operators (in the order the
    /// converter reports them).
    static let phaseB: [String: [String]] = [
        "ltpa_dot_dynamo": ["ReduceSum", "Expand"],
        "ltpa_dot_legacy17": ["ReduceSum", "Expand"],
        "ltpa_dot_legacy18": ["ReduceSum", "Expand"],
        "ltpa_pc_dynamo": ["Expand", "ReduceSum"],
        "ltpa_pc_legacy17": ["Expand", "ReduceSum"],
        "ltpa_pc_legacy18": ["Expand", "ReduceSum"],
        "ran_dynamo": ["Resize"],
        "ran_legacy17": ["Slice", "Resize"],
        "ran_legacy18": ["Slice", "Resize"],
        "einsum_pool_dynamo": ["Einsum"],
        "einsum_pool_legacy17": ["Einsum"],
        "einsum_pool_legacy18": ["Einsum"],
        "mobilenet_v2_dynamo": ["Clip"],
        "mobilenet_v2_legacy17": ["Clip"],
        "mobilenet_v2_legacy18": ["Clip"],
        "mobilenet_v3_small_dynamo": ["HardSwish", "HardSigmoid"],
        "mobilenet_v3_small_legacy17": ["HardSwish", "HardSigmoid"],
        "mobilenet_v3_small_legacy18": ["HardSwish", "HardSigmoid"],
    ]

    static func cases() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: root.path).filter {
            FileManager.default.fileExists(atPath: root.appendingPathComponent($0).appendingPathComponent("manifest.json").path)
        }.sorted()
    }

    static func manifest(_ name: String) throws -> [String: Any] {
        let data = try Data(contentsOf: root.appendingPathComponent(name).appendingPathComponent("manifest.json"))
        return try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    func testEverySupportedCaseMatchesOnnxRuntimeAndTheRestWaitForPhaseB() throws {
        let names = try Self.cases()
        XCTAssertEqual(names.count, 21, "7 networks × 3 exporters")
        var converted: [String] = [], waiting: [String] = []
        for name in names {
            let url = Self.root.appendingPathComponent(name).appendingPathComponent("model.onnx")
            do {
                let result = try ONNXConverter.convert(onnxFile: url, options: ConversionOptions())
                XCTAssertNil(Self.phaseB[name], "\(name) converts now: remove it from the phase B list")
                let worst = try check(name, eem: result.bytes)
                converted.append("\(name): converts, max abs error vs onnxruntime \(worst)")
            } catch let error as ConversionError {
                guard let expected = Self.phaseB[name] else {
                    XCTFail("\(name) does not convert: \(error)")
                    continue
                }
                XCTAssertEqual(error.unsupportedOperators, expected, "\(name): \(error)")
                XCTAssertTrue(error.allProblems.allSatisfy(\.isUnsupportedOperator), "\(name): other problems too: \(error)")
                waiting.append("\(name): phase B, waits for \(error.unsupportedOperators.joined(separator: ", "))")
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
