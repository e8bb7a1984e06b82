// Single-operator ONNX cases (Fixtures/import-operators, made by
// Training/make_import_fixtures.py --operators): the Resize, Pad, Split, Slice, Einsum, reduction,
// broadcasting and constant-folding modes the networks do not reach. Each must convert and match
// onnxruntime within 1e-4, and its int8 model must stay near the float32 one.
import EarlyExit
@testable import EarlyExitTools
import Foundation
import XCTest

final class ImportOperatorFixtureTests: XCTestCase {
    static var root: URL { Bundle.module.resourceURL!.appendingPathComponent("Fixtures/import-operators") }

    static func cases() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: root.path).filter {
            FileManager.default.fileExists(atPath: root.appendingPathComponent($0).appendingPathComponent("manifest.json").path)
        }.sorted()
    }

    func testEveryOperatorCaseMatchesOnnxRuntime() throws {
        let names = try Self.cases()
        XCTAssertEqual(names.count, 23)
        var lines: [String] = []
        for name in names {
            let directory = Self.root.appendingPathComponent(name)
            let result: (bytes: [UInt8], report: ConversionReport)
            do {
                result = try ONNXConverter.convert(onnxFile: directory.appendingPathComponent("model.onnx"), options: ConversionOptions())
            } catch {
                XCTFail("\(name) does not convert: \(error)")
                continue
            }
            let model = try Model(bytes: result.bytes)
            let input = try NPYArray.read(path: directory.appendingPathComponent("input.npy").path).values
            let expected = try NPYArray.read(path: directory.appendingPathComponent("Y.npy").path).values
            let f = Interpreter(model: model)
            try f.setPolicy(.fullNetwork(earlyExitCount: 0))
            _ = try f.run(input)
            let actual = Array(f.logits(exit: 0))
            XCTAssertEqual(actual.count, expected.count, name)
            var worst = 0.0
            for (a, e) in zip(actual, expected) {
                worst = max(worst, abs(Double(a) - Double(e)))
                XCTAssertLessThanOrEqual(abs(Double(a) - Double(e)), 1e-4, "\(name): \(a) vs onnxruntime \(e)")
            }
            if name == "constant_folding_expand" {
                // Shape, Slice, Cast, CastLike, ConstantOfShape and the Expand of a constant fold away.
                XCTAssertEqual(model.operators.map(\.kind), [.mul, .expand, .reshape], name)
            }
            // int8: calibrated on the fixture input (N(0, 2²)) and 7 seeded uniform inputs in ±3.5.
            var rng = SeededGenerator(seed: 0x0B5)
            let calibration = [input] + (0..<7).map { _ in (0..<input.count).map { _ in rng.uniform(3.5) } }
            let (bytes, _) = try Quantizer.quantize(model: model, calibration: calibration, method: .minmax)
            let q = Interpreter(model: try Model(bytes: bytes))
            try q.setPolicy(.fullNetwork(earlyExitCount: 0))
            _ = try q.run(input)
            var int8 = 0.0, largest = 0.0
            for (a, b) in zip(actual, Array(q.logits(exit: 0))) {
                int8 = max(int8, abs(Double(a) - Double(b)))
                largest = max(largest, abs(Double(a)))
            }
            // Measured at most 5.1% (the ReduceSum/ReduceMax case, whose outputs share one concat quantization).
            XCTAssertLessThanOrEqual(int8 / largest, 0.1, "\(name): int8 vs float32")
            lines.append("operator fixture \(name): max abs error vs onnxruntime \(worst); int8 vs float32 \(int8) (\(int8 / largest) of the largest output)")
        }
        print(lines.joined(separator: "\n"))
    }
}
