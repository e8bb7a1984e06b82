// The converter's exits (convention, --exit/--final, plain classifiers), the order and wording of
// its errors, late exits, and the input normalization that travels with the network.
import EarlyExit
@testable import EarlyExitTools
import Foundation
import XCTest

final class ConverterNamingTests: XCTestCase {
    // A small graph: x [1,1,4,4] → 1x1 conv (2 channels) → ReLU → f1; exit "a" reads mean(f1);
    // a second 1x1 conv → ReLU → mean → "b_logits" is the deepest head.
    static let w1: [Float] = [0.5, -1.0], w2: [Float] = [0.3, -0.2, 0.7, 0.4]
    static let wa: [Float] = [1, -1, 0.5, 0.25, -0.5, 2], wg: [Float] = [0.3, -0.6], wb: [Float] = [0.2, 1, -1, 0.5, 0.1, -0.3]

    func floatTensor(_ name: String, _ dims: [Int64], _ values: [Float]) -> ONNXTensor {
        ONNXTensor(name: name, dims: dims, dataType: .float, floatData: values)
    }

    func node(_ name: String, _ op: String, _ inputs: [String], _ outputs: [String], _ attributes: [ONNXAttribute] = []) -> ONNXNode {
        ONNXNode(name: name, opType: op, inputs: inputs, outputs: outputs, attributes: attributes)
    }

    func graph(outputs: [String], extraNodes: [ONNXNode] = [], lateExit: Bool = false) -> ONNXModel {
        let transB = ONNXAttribute(name: "transB", type: .int, i: 1)
        var g = ONNXGraph()
        g.inputs = [ONNXValueInfo(name: "x", elementType: .float, shape: [.value(1), .value(1), .value(4), .value(4)], hasShape: true)]
        g.initializers = [floatTensor("w1", [2, 1, 1, 1], Self.w1), floatTensor("w2", [2, 2, 1, 1], Self.w2),
                          floatTensor("wa", [3, 2], Self.wa), floatTensor("wg", [1, 2], Self.wg), floatTensor("wb", [3, 2], Self.wb)]
        let exitSource = lateExit ? "p2" : "p1"
        g.nodes = [
            node("conv1", "Conv", ["x", "w1"], ["c1"]), node("relu1", "Relu", ["c1"], ["f1"]),
            node("gap1", "GlobalAveragePool", ["f1"], ["g1"]), node("flat1", "Flatten", ["g1"], ["p1"]),
            node("conv2", "Conv", ["f1", "w2"], ["c2"]), node("relu2", "Relu", ["c2"], ["f2"]),
            node("gap2", "GlobalAveragePool", ["f2"], ["g2"]), node("flat2", "Flatten", ["g2"], ["p2"]),
            node("head_a", "Gemm", [exitSource, "wa"], ["a_logits"], [transB]),
            node("gate_a", "Gemm", [exitSource, "wg"], ["a_pre"], [transB]), node("tanh_a", "Tanh", ["a_pre"], ["a_gate"]),
            node("head_b", "Gemm", ["p2", "wb"], ["b_logits"], [transB]),
        ] + extraNodes
        g.outputs = outputs.map { ONNXValueInfo(name: $0) }
        return ONNXModel(irVersion: 8, opsetImports: [ONNXOperatorSetID(domain: "", version: 17)], graph: g)
    }

    func convert(_ model: ONNXModel, _ configure: (inout ConversionOptions) -> Void = { _ in }) throws -> (Model, ConversionReport) {
        var options = ConversionOptions()
        configure(&options)
        var converter = ONNXConverter()
        let result = try converter.convert(model, options: options)
        return (try Model(bytes: result.bytes), result.report)
    }

    /// The reference, by hand: the pooled features and both heads' logits for input `x`.
    func reference(_ x: [Float]) -> (a: [Float], gate: Float, b: [Float]) {
        var p1 = [Float](repeating: 0, count: 2), p2 = p1
        for pixel in x {
            let f = (0..<2).map { max(0, Self.w1[$0] * pixel) }
            for c in 0..<2 { p1[c] += f[c] / 16 }
            for c in 0..<2 { p2[c] += max(0, Self.w2[c * 2] * f[0] + Self.w2[c * 2 + 1] * f[1]) / 16 }
        }
        func gemm(_ w: [Float], _ p: [Float], _ rows: Int) -> [Float] { (0..<rows).map { w[$0 * 2] * p[0] + w[$0 * 2 + 1] * p[1] } }
        return (gemm(Self.wa, p1, 3), Foundation.tanh(gemm(Self.wg, p1, 1)[0]), gemm(Self.wb, p2, 3))
    }

    let input: [Float] = (0..<16).map { Float($0 % 5) - 1.5 }

    func testAOneOutputGraphIsAPlainClassifier() throws {
        let (model, report) = try convert(graph(outputs: ["b_logits"]))
        XCTAssertEqual(model.exits.count, 1)
        XCTAssertFalse(model.exits[0].hasGate)
        XCTAssertFalse(model.exitsHaveGates)
        XCTAssertEqual(model.defaultPolicy.signal, .none)
        XCTAssertEqual(report.exitNamings, [ExitNaming(logits: "b_logits")])
        XCTAssertTrue(report.exitsFoundBy.contains("plain classifier"), report.exitsFoundBy)
        let interpreter = Interpreter(model: model)
        let summary = try interpreter.run(input)
        let expected = reference(input).b
        for (actual, want) in zip(interpreter.logits(exit: 0), expected) { XCTAssertEqual(actual, want, accuracy: 1e-5) }
        // Eq. 9 without gates: the final head's own log-softmax.
        let logSum = Foundation.log(expected.map { Foundation.exp(Double($0)) }.reduce(0, +))
        for (score, logit) in zip(interpreter.scores, expected) { XCTAssertEqual(Double(score), Double(logit) - logSum, accuracy: 1e-5) }
        XCTAssertEqual(summary.classIndex, expected.indices.max { expected[$0] < expected[$1] })
        XCTAssertEqual(interpreter.gate(exit: 0), 0)
    }

    func testExitFlagsNameTheExitsWithAndWithoutGates() throws {
        // A gate on the early exit; the final head is the one other output.
        let model = graph(outputs: ["a_logits", "a_gate", "b_logits"])
        let (gated, report) = try convert(model) { $0.exits = [ExitNaming(argument: "a_logits,a_gate")!] }
        XCTAssertEqual(gated.exits.count, 2)
        XCTAssertTrue(gated.exits[0].hasGate)
        XCTAssertFalse(gated.exits[1].hasGate)
        XCTAssertEqual(gated.defaultPolicy.signal, .gate)
        XCTAssertEqual(report.exits, ["exit1", "final"])
        let interpreter = Interpreter(model: gated)
        try interpreter.setPolicy(.fullNetwork(earlyExitCount: 1))
        _ = try interpreter.run(input)
        let expected = reference(input)
        for (actual, want) in zip(interpreter.logits(exit: 0), expected.a) { XCTAssertEqual(actual, want, accuracy: 1e-5) }
        XCTAssertEqual(interpreter.gate(exit: 0), expected.gate, accuracy: 1e-5)
        for (actual, want) in zip(interpreter.logits(exit: 1), expected.b) { XCTAssertEqual(actual, want, accuracy: 1e-5) }
        // Combining needs a gate on every exit, and the final head has none.
        XCTAssertThrowsError(try interpreter.setPolicy(ExitPolicy(signal: .gate, thresholds: [0.5], combineSeenExits: true))) { error in
            XCTAssertTrue("\(error)".contains("exit 2 has none"), "\(error)")
        }
        try interpreter.setPolicy(ExitPolicy(signal: .gate, thresholds: [-1]))  // always exits at exit 1
        let early = try interpreter.run(input)
        XCTAssertTrue(early.exitedEarly)

        // Without a gate the early exit stores maxprob, and the gate signal is refused by name.
        let (gateless, gatelessReport) = try convert(model) {
            $0.exits = [ExitNaming(logits: "a_logits")]
            $0.final = ExitNaming(logits: "b_logits")
        }
        XCTAssertEqual(gateless.defaultPolicy.signal, .maxProbability)
        XCTAssertEqual(gatelessReport.ignoredOutputs, ["a_gate"])
        XCTAssertTrue(gatelessReport.policy.contains("exit1 has no gate"), gatelessReport.policy)
        let second = Interpreter(model: gateless)
        XCTAssertThrowsError(try second.setPolicy(ExitPolicy(signal: .gate, thresholds: [0.5]))) { error in
            XCTAssertEqual("\(error)", "\(ModelError.badPolicy(reason: "exit 1 has no gate, so the gate signal cannot decide it; use maxprob, entropy or none"))")
        }
        try second.setPolicy(ExitPolicy(signal: .maxProbability, thresholds: [0]))
        let taken = try second.run(input)
        XCTAssertTrue(taken.exitedEarly)
        let logSum = Foundation.log(expected.a.map { Foundation.exp(Double($0)) }.reduce(0, +))
        for (score, logit) in zip(second.scores, expected.a) { XCTAssertEqual(Double(score), Double(logit) - logSum, accuracy: 1e-5) }
    }

    func testExitFlagProblemsAreClear() throws {
        let model = graph(outputs: ["a_logits", "a_gate", "b_logits"])
        XCTAssertThrowsError(try convert(model) { $0.exits = [ExitNaming(logits: "nope")] }) { error in
            XCTAssertTrue("\(error)".contains("--exit names 'nope', which no node produces"), "\(error)")
        }
        XCTAssertThrowsError(try convert(model) { $0.exits = [ExitNaming(logits: "a_logits")] }) { error in
            XCTAssertTrue("\(error)".contains("the final head is not named") && "\(error)".contains("'a_gate', 'b_logits'"), "\(error)")
        }
        XCTAssertThrowsError(try convert(model) { $0.final = ExitNaming(logits: "a_gate") }) { error in
            XCTAssertTrue("\(error)".contains("have shape [1, 1]"), "\(error)")
        }
        XCTAssertNil(ExitNaming(argument: "a,b,c"))
        XCTAssertNil(ExitNaming(argument: ",g"))
        XCTAssertNil(ExitNaming(argument: "a,"))
        // Several outputs and no convention: the message says how to name them.
        XCTAssertThrowsError(try convert(model)) { error in
            XCTAssertTrue("\(error)".contains("cannot tell which graph outputs are exits") && "\(error)".contains("--exit LOGITS[,GATE]"), "\(error)")
        }
    }

    func testNamingProblemsAndEveryUnsupportedOperatorAreReportedTogether() throws {
        let extra = [node("/up.0/Upsample", "Upsample", ["f1", "scales"], ["e"]), node("erf_1", "Erf", ["e"], ["r"]),
                     node("", "GRU", ["p1", "p2"], ["gru"])]
        let model = graph(outputs: ["a_logits", "b_logits"], extraNodes: extra)
        XCTAssertThrowsError(try convert(model)) { error in
            let conversion = error as? ConversionError
            XCTAssertEqual(conversion?.unsupportedOperators, ["Upsample", "Erf", "GRU"])
            XCTAssertEqual(conversion?.allProblems.count, 4)
            let text = "\(error)"
            XCTAssertTrue(text.hasPrefix("4 problems:"), text)
            XCTAssertTrue(text.contains("node '/up.0/Upsample': operator type 'Upsample' is not supported; re-export with operator set 11 or later"), text)
            XCTAssertTrue(text.contains("node 'erf_1': operator type 'Erf' is not supported"), text)
            XCTAssertTrue(text.contains("node 'gru': operator type 'GRU'"), text)  // unnamed: its output names it
            XCTAssertTrue(text.contains("cannot tell which graph outputs are exits"), text)
            XCTAssertFalse(text.contains("node 'node"), text)
        }
        // An attribute of the wrong type: the node is named once.
        var badAttribute = graph(outputs: ["b_logits"])
        badAttribute.graph.nodes[11].attributes = [ONNXAttribute(name: "transB", type: .float, f: 1)]
        XCTAssertThrowsError(try convert(badAttribute)) { error in
            XCTAssertEqual("\(error)", "node 'head_b' (Gemm): attribute transB has type FLOAT, expected INT")
        }
        // Alone, an unsupported operator names the node once, its type, and the supported set.
        let single = graph(outputs: ["b_logits"], extraNodes: [node("/up.0/Upsample", "Upsample", ["f1", "scales"], ["e"])])
        XCTAssertThrowsError(try convert(single)) { error in
            let text = "\(error)"
            XCTAssertTrue(text.hasPrefix("node '/up.0/Upsample' (Upsample): operator type 'Upsample' is not supported; re-export"), text)
            XCTAssertTrue(text.contains("(supported: Add, AveragePool"), text)
        }
    }

    func testAnExitThatWaitsForTheWholeNetworkIsFlagged() throws {
        let (late, _) = try convert(graph(outputs: ["exit1_logits", "exit1_gate", "final_logits"].map { $0 }, lateExit: true).renamingOutputs())
        let found = LateExits.find(late)
        XCTAssertEqual(found.map(\.exit), [0])
        XCTAssertGreaterThanOrEqual(found[0].share, 0.9)
        XCTAssertTrue(LateExits.warnings(late)[0].hasPrefix("exit1 cannot exit early in any useful sense: it must wait for"), LateExits.warnings(late)[0])
        let (early, _) = try convert(graph(outputs: ["exit1_logits", "exit1_gate", "final_logits"]).renamingOutputs())
        XCTAssertTrue(LateExits.find(early).isEmpty, "exit after the first conv: \(early.exits.map(\.cumulativeMACs)) of \(early.totalMACs)")
    }

    func testNormalizationTravelsWithTheNetwork() throws {
        var model = graph(outputs: ["b_logits"])
        let (none, noneReport) = try convert(model)
        XCTAssertTrue(none.metadata.mean.isEmpty)
        XCTAssertEqual(noneReport.normalizationSource, "none recorded")
        XCTAssertThrowsError(try ModelFiles.requirePixelNormalization(none, pixels: "images.idx")) { error in
            XCTAssertTrue("\(error)".contains("--mean") && "\(error)".contains("--plain-pixels") && "\(error)".contains("images.idx"), "\(error)")
        }
        model.metadataProps = [ONNXConverter.meanKey: "0.25", ONNXConverter.stdKey: " 0.5"]
        let (recorded, report) = try convert(model)
        XCTAssertEqual(recorded.metadata.mean, [0.25])
        XCTAssertEqual(recorded.metadata.std, [0.5])
        XCTAssertTrue(report.normalizationSource.contains("metadata_props"), report.normalizationSource)
        XCTAssertNoThrow(try ModelFiles.requirePixelNormalization(recorded, pixels: "images.idx"))
        XCTAssertEqual(ModelFiles.normalize([0, 255], for: recorded), [-0.5, 1.5])
        let (flagged, flaggedReport) = try convert(model) {
            $0.mean = [0.1]
            $0.std = [2]
            $0.normalizationSource = "from --mean/--std"
        }
        XCTAssertEqual(flagged.metadata.mean, [0.1])
        XCTAssertTrue(flaggedReport.normalizationSource.contains("overriding the ONNX metadata_props (mean 0.25, std 0.5)"), flaggedReport.normalizationSource)
        for (props, message) in [([ONNXConverter.meanKey: "0.25"], "but not 'earlyexit.std'"),
                                 ([ONNXConverter.meanKey: "a", ONNXConverter.stdKey: "1"], "not a comma-separated list"),
                                 ([ONNXConverter.meanKey: "0,0", ONNXConverter.stdKey: "1,1"], "the input has 1 channels"),
                                 ([ONNXConverter.meanKey: "0", ONNXConverter.stdKey: "-1"], "not positive")] {
            model.metadataProps = props
            XCTAssertThrowsError(try convert(model)) { error in XCTAssertTrue("\(error)".contains(message), "\(error)") }
        }
    }
}

private extension ONNXModel {
    /// Renames the test graph's a/b outputs to the naming convention (exit1_*, final_logits).
    func renamingOutputs() -> ONNXModel {
        var copy = self
        let rename = ["a_logits": "exit1_logits", "a_gate": "exit1_gate", "b_logits": "final_logits"]
        for index in copy.graph.nodes.indices {
            copy.graph.nodes[index].outputs = copy.graph.nodes[index].outputs.map { rename[$0] ?? $0 }
        }
        return copy
    }
}
