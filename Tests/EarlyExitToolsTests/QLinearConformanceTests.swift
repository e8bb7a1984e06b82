// The int8 conv2d and matmul against onnxruntime's QLinearConv / QLinearMatMul (committed
// fixtures from Training/make_qlinear_fixtures.py): every output within ±1 LSB.
//
// onnxruntime requantizes with a float multiplier (round half to even); the runtime uses
// TFLite's integer multiplier and shift, so ±1 differences are expected at near-ties. The
// histogram of differences is printed for each case and in total.
@testable import EarlyExit
import EarlyExitTools
import Foundation
import XCTest

final class QLinearConformanceTests: XCTestCase {
    static var root: URL { Bundle.module.resourceURL!.appendingPathComponent("Fixtures/qlinear") }

    struct Fixture {
        var name: String
        var params: [String: Any]
        var x: [Int8], w: [Int8], y: [Int8]

        func shape(_ key: String) throws -> [Int] { try XCTUnwrap(params[key] as? [Int], "\(name): \(key)") }
        func number(_ key: String) throws -> Double { try XCTUnwrap((params[key] as? NSNumber)?.doubleValue, "\(name): \(key)") }
        func integer(_ key: String) throws -> Int { try XCTUnwrap((params[key] as? NSNumber)?.intValue, "\(name): \(key)") }
    }

    /// An .npy array of int8 values (NPYArray converts to Float; every value must be an integer in int8 range).
    static func int8Array(_ url: URL, shape: [Int]) throws -> [Int8] {
        let array = try NPYArray.read(path: url.path)
        XCTAssertEqual(array.shape, shape, url.lastPathComponent)
        return try array.values.map { value in
            guard value == value.rounded(), value >= -128, value <= 127 else { throw ToolError("\(url.path): \(value) is not an int8 value") }
            return Int8(value)
        }
    }

    static func load(_ name: String) throws -> Fixture {
        let directory = root.appendingPathComponent(name)
        let params = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: directory.appendingPathComponent("params.json"))) as? [String: Any])
        var fixture = Fixture(name: name, params: params, x: [], w: [], y: [])
        fixture.x = try int8Array(directory.appendingPathComponent("x.npy"), shape: try fixture.shape("x_shape"))
        fixture.w = try int8Array(directory.appendingPathComponent("w.npy"), shape: try fixture.shape("w_shape"))
        fixture.y = try int8Array(directory.appendingPathComponent("y.npy"), shape: try fixture.shape("y_shape"))
        return fixture
    }

    static func perTensor(_ scale: Float, _ zeroPoint: Int32) -> Quantization {
        Quantization(kind: .perTensor, scale: scale, zeroPoint: zeroPoint, axis: 0, channelScalesOffset: 0)
    }

    static func int32Bytes(_ values: [Int32]) -> [UInt8] {
        var out: [UInt8] = []
        for value in values { for i in 0..<4 { out.append(UInt8(truncatingIfNeeded: UInt32(bitPattern: value) >> (8 * UInt32(i)))) } }
        return out
    }

    static func int8Bytes(_ values: [Int8]) -> [UInt8] { values.map { UInt8(bitPattern: $0) } }

    /// Builds the fixture's operator as a one-operator int8 model (plus a trivial exit: the
    /// output reshaped to [1, N], zero-weight fully connected logits [1, 2] and gate [1, 1]),
    /// runs it with `run(int8)` and returns the operator's int8 output read from the arena.
    static func runRuntime(_ f: Fixture, singleRounding: Bool) throws -> (values: [Int8], model: Model) {
        let xShape = try f.shape("x_shape"), wShape = try f.shape("w_shape"), yShape = try f.shape("y_shape")
        let sx = Float(try f.number("x_scale")), zpx = Int32(try f.integer("x_zero_point"))
        let sy = Float(try f.number("y_scale")), zpy = Int32(try f.integer("y_zero_point"))
        var b = ModelBuilder()
        let x = b.addInput(shape: xShape, dataType: .int8, quantization: perTensor(sx, zpx))
        let y = b.addActivation(shape: yShape, dataType: .int8, quantization: perTensor(sy, zpy))
        switch f.params["op"] as? String {
        case "conv":
            let scales = try XCTUnwrap(f.params["w_scales"] as? [Double]).map { Float($0) }
            let bias = try XCTUnwrap(f.params["bias"] as? [Int]).map { Int32($0) }
            let requant = scales.map { FixedPoint.quantizeMultiplier(Double(sx) * Double($0) / Double(sy)) }
            let w = b.addConstant(bytes: int8Bytes(f.w), dataType: .int8, shape: wShape,
                                  quantization: Quantization(kind: .perChannel, scale: 0, zeroPoint: 0, axis: 0, channelScalesOffset: 0),
                                  channelScales: scales)
            let inputs = [x, w, b.addConstant(bytes: int32Bytes(bias), dataType: .int32, shape: [bias.count]),
                          b.addConstant(bytes: int32Bytes(requant.map(\.multiplier)), dataType: .int32, shape: [bias.count]),
                          b.addConstant(bytes: int32Bytes(requant.map(\.shift)), dataType: .int32, shape: [bias.count])]
            let pads = try f.shape("pads"), kernel = try f.integer("kernel"), stride = try f.integer("stride")
            let attributes = [kernel, kernel, stride, stride, pads[0], pads[1], pads[2], pads[3], 1, 1, try f.integer("group"), singleRounding ? 1 : 0]
            b.addOperator(.conv2d, inputs: inputs, output: y, attributes: attributes.map { Int32($0) })
        case "matmul":
            let sw = Float(try f.number("w_scale")), zpw = Int32(try f.integer("w_zero_point"))
            let w = b.addConstant(bytes: int8Bytes(f.w), dataType: .int8, shape: wShape, quantization: perTensor(sw, zpw))
            if singleRounding { throw XCTSkip("int8 matmul has no single-rounding mode") }
            let (m, s) = FixedPoint.quantizeMultiplier(Double(sx) * Double(sw) / Double(sy))
            b.addOperator(.matmul, inputs: [x, w], output: y, attributes: [m, s])
        case let op:
            throw ToolError("\(f.name): unknown op \(String(describing: op))")
        }
        let n = yShape.reduce(1, *)
        let flat = b.addActivation(shape: [1, n], dataType: .int8, quantization: perTensor(sy, zpy))
        b.addOperator(.reshape, inputs: [y], output: flat)
        let heads = [2, 1].map { outputs -> Int in
            let w = b.addConstant(bytes: [UInt8](repeating: 0, count: outputs * n), dataType: .int8, shape: [outputs, n], quantization: perTensor(1, 0))
            let zeros = b.addConstant(bytes: int32Bytes([Int32](repeating: 0, count: outputs)), dataType: .int32, shape: [outputs])
            let out = b.addActivation(shape: [1, outputs], dataType: .int8, quantization: perTensor(0.1, 0))
            b.addOperator(.fullyConnected, inputs: [flat, w, zeros, zeros, zeros], output: out)
            return out
        }
        b.addExit(logits: heads[0], gate: heads[1])
        let model = try Model(bytes: try b.serialize())
        let interpreter = Interpreter(model: model)
        _ = try f.x.withUnsafeBufferPointer { try interpreter.run($0) }
        // `flat` (a copy of y) is read by the last operator, so its memory still holds it.
        return (Array(UnsafeBufferPointer(start: interpreter.int8s(flat), count: n)), model)
    }

    static func histogramText(_ histogram: [Int: Int]) -> String {
        histogram.keys.sorted().map { "\($0 > 0 ? "+" : "")\($0): \(histogram[$0]!)" }.joined(separator: ", ")
    }

    func testEveryFixtureWithinOneLSBOfOnnxRuntime() throws {
        let manifest = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: Self.root.appendingPathComponent("manifest.json"))) as? [String: Any])
        let names = try XCTUnwrap(manifest["cases"] as? [String])
        XCTAssertEqual(Set(names), ["conv3x3_pad1", "conv3x3_stride2", "conv1x1", "conv3x3_depthwise", "matmul_batch"])
        var total: [Int: Int] = [:], totalSingle: [Int: Int] = [:]
        for name in names {
            let fixture = try Self.load(name)
            for single in [false, true] {
                if single && fixture.params["op"] as? String == "matmul" { continue }
                let (actual, model) = try Self.runRuntime(fixture, singleRounding: single)
                if fixture.params["op"] as? String == "conv" {
                    let native = model.kernels.int8 == .avx512VNNI || model.kernels.int8 == .avxVNNI || model.kernels.int8 == .avx2
                    let group = model.kernels.int8 == .avx2 ? 2 : 4
                    let expectedPath: ConvolutionPath = name == "conv1x1" ? .pointwise : name == "conv3x3_depthwise" ? .depthwise
                        : native && model.operators[0].geometry.channelsIn >= group ? .implicitGEMM : .im2col
                    XCTAssertEqual(model.convolutionPath(of: 0), expectedPath, name)
                }
                XCTAssertEqual(actual.count, fixture.y.count, name)
                var histogram: [Int: Int] = [:]
                for (index, (a, e)) in zip(actual, fixture.y).enumerated() {
                    let difference = Int(a) - Int(e)
                    histogram[difference, default: 0] += 1
                    if abs(difference) > 1 { XCTFail("\(name) (single rounding \(single)) output \(index): \(a) vs onnxruntime \(e)") }
                }
                // A case that never leaves the clamp range or never saturates would test less.
                XCTAssertTrue(fixture.y.contains(127) || fixture.y.contains(-128), "\(name): no saturated output")
                for (k, v) in histogram {
                    if single { totalSingle[k, default: 0] += v } else { total[k, default: 0] += v }
                }
                print("qlinear \(name) (\(single ? "single" : "double") rounding): \(actual.count) outputs, runtime − onnxruntime: \(Self.histogramText(histogram))")
            }
        }
        print("qlinear total, double rounding (TFLite default): \(Self.histogramText(total))")
        print("qlinear total, single rounding (conv only): \(Self.histogramText(totalSingle))")
        XCTAssertEqual(total.values.reduce(0, +), 594 + 210 + 693 + 336 + 70)
    }
}
