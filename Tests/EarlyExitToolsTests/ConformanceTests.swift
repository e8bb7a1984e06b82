// Converted ONNX models must reproduce onnxruntime's outputs (committed fixtures) within 1e-4.
import EarlyExit
@testable import EarlyExitTools
import Foundation
import XCTest

final class ConformanceTests: XCTestCase {
    static var fixtureRoot: URL {
        Bundle.module.resourceURL!.appendingPathComponent("Fixtures/conformance")
    }

    static func fixtureNames() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: fixtureRoot.path)
            .filter { FileManager.default.fileExists(atPath: fixtureRoot.appendingPathComponent($0).appendingPathComponent("manifest.json").path) }
            .sorted()
    }

    /// The fixtures in the source tree, for manifests that name a file outside the fixture
    /// directory (the bundled model in Models/), which the test bundle does not copy.
    static let sourceFixtureRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/conformance")

    /// The ONNX model of a fixture: its own model.onnx, or the file its manifest names.
    static func modelURL(_ directory: URL) throws -> URL {
        let local = directory.appendingPathComponent("model.onnx")
        if FileManager.default.fileExists(atPath: local.path) { return local }
        let manifest = try JSONSerialization.jsonObject(with: Data(contentsOf: directory.appendingPathComponent("manifest.json"))) as? [String: Any]
        guard let relative = manifest?["model"] as? String else { throw ToolError("fixture \(directory.lastPathComponent) has no model") }
        return sourceFixtureRoot.appendingPathComponent(directory.lastPathComponent).appendingPathComponent(relative).standardizedFileURL
    }

    func testEveryFixtureMatchesOnnxRuntime() throws {
        let names = try Self.fixtureNames()
        XCTAssertGreaterThanOrEqual(names.count, 3, "expected at least three conformance fixtures")
        for name in names {
            try checkFixture(name)
        }
    }

    func checkFixture(_ name: String) throws {
        let directory = Self.fixtureRoot.appendingPathComponent(name)
        let manifest = try JSONSerialization.jsonObject(with: Data(contentsOf: directory.appendingPathComponent("manifest.json"))) as? [String: Any]
        let outputs = try XCTUnwrap(manifest?["outputs"] as? [String], "\(name): manifest lists no outputs")
        let onnx = [UInt8](try Data(contentsOf: try Self.modelURL(directory)))
        let converted = try ONNXConverter.convert(onnx: onnx, options: ConversionOptions())
        let model = try Model(bytes: converted.bytes)
        XCTAssertEqual(model.exits.count * 2, outputs.count, "\(name): exits found")
        let input = try NPYArray.read(path: directory.appendingPathComponent("input.npy").path)
        let interpreter = Interpreter(model: model)
        try interpreter.setPolicy(.fullNetwork(earlyExitCount: model.earlyExitCount))
        _ = try interpreter.run(input.values)
        var worst = 0.0
        for (exit, exitName) in (0..<model.exits.count).map({ ($0, $0 == model.exits.count - 1 ? "final" : "exit\($0 + 1)") }) {
            let expectedLogits = try NPYArray.read(path: directory.appendingPathComponent("\(exitName)_logits.npy").path).values
            let expectedGate = try NPYArray.read(path: directory.appendingPathComponent("\(exitName)_gate.npy").path).values
            let logits = Array(interpreter.logits(exit: exit))
            XCTAssertEqual(logits.count, expectedLogits.count, "\(name) \(exitName): class count")
            for (actual, expected) in zip(logits + [interpreter.gate(exit: exit)], expectedLogits + expectedGate) {
                let error = abs(Double(actual) - Double(expected))
                let relative = error / max(abs(Double(expected)), 1e-12)
                worst = max(worst, min(error, relative))
                XCTAssertTrue(error <= 1e-4 || relative <= 1e-4, "\(name) \(exitName): \(actual) vs onnxruntime \(expected)")
            }
        }
        print("conformance \(name): \(model.operators.count) operators, \(model.exits.count) exits, worst error \(worst)")
    }

    func testUnsupportedOperatorNamesTheNode() throws {
        var graph = ONNXGraph()
        graph.inputs = [ONNXValueInfo(name: "input", elementType: .float, shape: [.value(1), .value(1), .value(4), .value(4)], hasShape: true)]
        graph.nodes = [ONNXNode(name: "weird_node", opType: "Erf", domain: "", inputs: ["input"], outputs: ["y"], attributes: [])]
        graph.outputs = [ONNXValueInfo(name: "y")]
        let model = ONNXModel(irVersion: 8, producerName: "test", producerVersion: "", opsetImports: [ONNXOperatorSetID(domain: "", version: 17)], graph: graph)
        var converter = ONNXConverter()
        XCTAssertThrowsError(try converter.convert(model, options: ConversionOptions())) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("weird_node") && text.contains("Erf") && text.contains("not supported"), text)
        }
    }

    func testDynamicInputShapeIsRejected() throws {
        var graph = ONNXGraph()
        graph.inputs = [ONNXValueInfo(name: "input", elementType: .float, shape: [.symbolic("batch"), .value(1), .value(4), .value(4)], hasShape: true)]
        graph.outputs = [ONNXValueInfo(name: "final_logits")]
        let model = ONNXModel(irVersion: 8, producerName: "test", producerVersion: "", opsetImports: [ONNXOperatorSetID(domain: "", version: 17)], graph: graph)
        var converter = ONNXConverter()
        XCTAssertThrowsError(try converter.convert(model, options: ConversionOptions())) { error in
            XCTAssertTrue("\(error)".contains("dynamic"), "\(error)")
        }
    }

    func testMalformedOnnxIsAnErrorNotACrash() throws {
        let directory = Self.fixtureRoot.appendingPathComponent(try XCTUnwrap(Self.fixtureNames().first))
        let onnx = [UInt8](try Data(contentsOf: try Self.modelURL(directory)))
        // Truncations at a spread of lengths, and byte flips through the first few KB (the graph structure).
        for length in stride(from: 0, to: onnx.count, by: max(1, onnx.count / 400)) {
            XCTAssertThrowsError(try ONNXConverter.convert(onnx: Array(onnx[..<length]), options: ConversionOptions()))
        }
        for position in stride(from: 0, to: min(onnx.count, 4096), by: 3) {
            var mutated = onnx
            mutated[position] ^= 0xFF
            _ = try? ONNXConverter.convert(onnx: mutated, options: ConversionOptions())
        }
    }
}
