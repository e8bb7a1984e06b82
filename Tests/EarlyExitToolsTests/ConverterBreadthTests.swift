// The converter's lowering of the operators added for import breadth, where it must refuse:
// each refusal names the node and says what to change (the successful lowerings are checked
// numerically against onnxruntime by ImportFixtureTests and ImportOperatorFixtureTests).
import EarlyExit
@testable import EarlyExitTools
import Foundation
import XCTest

final class ConverterBreadthTests: XCTestCase {
    func node(_ name: String, _ op: String, _ inputs: [String], _ outputs: [String], _ attributes: [ONNXAttribute] = []) -> ONNXNode {
        ONNXNode(name: name, opType: op, inputs: inputs, outputs: outputs, attributes: attributes)
    }

    func string(_ name: String, _ value: String) -> ONNXAttribute { ONNXAttribute(name: name, type: .string, s: Array(value.utf8)) }

    func ints(_ name: String, _ values: [Int64]) -> ONNXTensor { ONNXTensor(name: name, dims: [Int64(values.count)], dataType: .int64, int64Data: values) }

    func floats(_ name: String, _ values: [Float]) -> ONNXTensor { ONNXTensor(name: name, dims: [Int64(values.count)], dataType: .float, floatData: values) }

    /// x [1, 2, 4, 4] → `nodes` (ending in value "y") → Flatten → the one output.
    func convert(_ nodes: [ONNXNode], initializers: [ONNXTensor] = [], opset: Int64 = 17) throws -> Model {
        var g = ONNXGraph()
        g.inputs = [ONNXValueInfo(name: "x", elementType: .float, shape: [.value(1), .value(2), .value(4), .value(4)], hasShape: true)]
        g.initializers = initializers
        g.nodes = nodes + [node("flatten", "Flatten", ["y"], ["out"])]
        g.outputs = [ONNXValueInfo(name: "out")]
        var converter = ONNXConverter()
        let result = try converter.convert(ONNXModel(irVersion: 8, opsetImports: [ONNXOperatorSetID(domain: "", version: opset)], graph: g),
                                           options: ConversionOptions())
        return try Model(bytes: result.bytes)
    }

    func refuse(_ expected: [String], _ nodes: [ONNXNode], initializers: [ONNXTensor] = [], file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try convert(nodes, initializers: initializers), file: file, line: line) { error in
            for text in expected { XCTAssertTrue("\(error)".contains(text), "\(error)", file: file, line: line) }
        }
    }

    func testEinsumLowersToMatmulAndRefusesTheRestByName() throws {
        // 'bcij,bcjk->bcik' is a batched matrix product: one matmul, no transpose.
        let model = try convert([node("e", "Einsum", ["x", "x"], ["y"], [string("equation", "bcij,bcjk->bcik")])])
        XCTAssertEqual(model.operators.filter { $0.kind == .matmul }.count, 1)
        XCTAssertEqual(model.operators.filter { $0.kind == .transpose }.count, 0)
        refuse(["node 'diag' (Einsum)", "equation 'bcii->bci'", "repeats within an operand", "torch.matmul"],
               [node("diag", "Einsum", ["x"], ["y"], [string("equation", "bcii->bci")])])
        refuse(["equation '...ij->...ji'", "ellipsis"], [node("e", "Einsum", ["x"], ["y"], [string("equation", "...ij->...ji")])])
        refuse(["3 operands"], [node("e", "Einsum", ["x", "x", "x"], ["y"], [string("equation", "abcd,abcd,abcd->abcd")])])
        refuse(["index 'c' has extents 4 and 2"], [node("e", "Einsum", ["x", "x"], ["y"], [string("equation", "abcd,acbd->abcd")])])
    }

    func testResizePadClipCastSliceAndSplitRefusalsSayWhatToChange() throws {
        let scales = floats("scales", [1, 1, 2, 2])
        refuse(["node 'up' (Resize)", "mode 'cubic' is not supported"],
               [node("up", "Resize", ["x", "", "scales"], ["y"], [string("mode", "cubic")])], initializers: [scales])
        refuse(["coordinate_transformation_mode 'tf_crop_and_resize' is not supported"],
               [node("up", "Resize", ["x", "", "scales"], ["y"], [string("mode", "linear"), string("coordinate_transformation_mode", "tf_crop_and_resize")])],
               initializers: [scales])
        refuse(["only the spatial axes may be resized"], [node("up", "Resize", ["x", "", "s"], ["y"])], initializers: [floats("s", [1, 2, 1, 1])])
        refuse(["scales must be a constant"], [node("s", "Sigmoid", ["x"], ["q"]), node("up", "Resize", ["x", "", "q"], ["y"])])
        refuse(["node 'p' (Pad)", "negative pads", "slice the tensor instead"],
               [node("p", "Pad", ["x", "pads"], ["y"])], initializers: [ints("pads", [0, 0, -1, 0, 0, 0, 0, 0])])
        refuse(["reflect padding 4, 0 on axis 2 must be below its extent 4"],
               [node("p", "Pad", ["x", "pads"], ["y"], [string("mode", "reflect")])], initializers: [ints("pads", [0, 0, 4, 0, 0, 0, 0, 0])])
        refuse(["node 'c' (Clip)", "input 1 (min) must be a constant"],
               [node("m", "ReduceMax", ["x"], ["mx"]), node("c", "Clip", ["x", "mx"], ["y"])])
        refuse(["casting a float32 activation to an integer type is not supported"],
               [node("c", "Cast", ["x"], ["y"], [ONNXAttribute(name: "to", type: .int, i: 7)])])
        refuse(["the slice of [1, 2, 4, 4] is empty"],
               [node("s", "Slice", ["x", "a", "b"], ["y"])], initializers: [ints("a", [3]), ints("b", [1])])
        refuse(["split sizes [1, 2] do not divide axis 1"],
               [node("s", "Split", ["x", "sizes"], ["y", "z"], [ONNXAttribute(name: "axis", type: .int, i: 1)])], initializers: [ints("sizes", [1, 2])])
    }
}
