// The float32 operators added for ONNX import breadth, each run through ModelBuilder → Model →
// Interpreter under every kernel set the CPU supports and compared with the naive reference
// loops (Ref, in Double); a channels-last chain through the element-wise ones; and the
// loader's refusals of malformed attribute words.
@testable import EarlyExit
import EarlyExitTools
import Foundation
import XCTest

final class ImportOperatorTests: XCTestCase {
    static var kernelSets: [KernelSet] { KernelPathTests.kernelSets }

    static func word(_ value: Float) -> Int32 { Int32(bitPattern: value.bitPattern) }

    /// Runs `input → one operator → exit` on every kernel set and compares with `expected`.
    func check(_ name: String, inputShape: [Int], input: [Float], expected: [Double], tolerance: Double = 1e-5,
               file: StaticString = #filePath, line: UInt = #line,
               _ body: (inout ModelBuilder, Int) -> (tensor: Int, count: Int)) throws {
        for kernels in Self.kernelSets {
            let out = try interpret(inputShape: inputShape, input: input, kernels: kernels, file: file, line: line, body)
            assertClose(out.values, expected, tolerance: tolerance, "\(name) \(kernels.name)", file: file, line: line)
        }
    }

    // MARK: Piecewise activations

    func testClipHardSigmoidHardSwishLeakyReluMatchTheReference() throws {
        var rng = SeededGenerator(seed: 1701)
        // 5·3·7 = 105 elements: 13 vectors of 8 and a tail of 1.
        let shape = [1, 5, 3, 7]
        let x = rng.uniforms(105, scale: 9)
        let cases: [(String, OperatorKind, [Int32], [Double])] = [
            ("relu6", .clip, [Self.word(0), Self.word(6)], Ref.clip(x.doubles, low: 0, high: 6)),
            ("clip below", .clip, [Self.word(-.infinity), Self.word(1.5)], Ref.clip(x.doubles, low: -.infinity, high: 1.5)),
            ("clip above", .clip, [Self.word(-0.5), Self.word(.infinity)], Ref.clip(x.doubles, low: -0.5, high: .infinity)),
            ("hard sigmoid 1/6", .hardSigmoid, [Self.word(1 / 6), Self.word(0.5)], Ref.hardSigmoid(x.doubles, alpha: Double(Float(1) / 6), beta: 0.5)),
            ("hard sigmoid 0.2", .hardSigmoid, [Self.word(0.2), Self.word(0.5)], Ref.hardSigmoid(x.doubles, alpha: Double(Float(0.2)), beta: 0.5)),
            ("hard swish", .hardSwish, [], Ref.hardSwish(x.doubles)),
            ("leaky relu", .leakyRelu, [Self.word(0.1)], Ref.leakyRelu(x.doubles, alpha: Double(Float(0.1)))),
        ]
        for (name, kind, attributes, expected) in cases {
            try check(name, inputShape: shape, input: x, expected: expected) { b, input in
                (b.add(kind, [input], shape: shape, attributes: attributes), 105)
            }
        }
        // By hand: ReLU6, hard sigmoid and hard swish at their corners.
        let corners: [Float] = [-4, -3, -1, 0, 1, 3, 6, 7]
        try check("corners relu6", inputShape: [1, 8], input: corners, expected: [0, 0, 0, 0, 1, 3, 6, 6]) { b, input in
            (b.add(.clip, [input], shape: [1, 8], attributes: [Self.word(0), Self.word(6)]), 8)
        }
        try check("corners hard swish", inputShape: [1, 8], input: corners, expected: [0, 0, -1.0 / 3, 0, 2.0 / 3, 3, 6, 7]) { b, input in
            (b.add(.hardSwish, [input], shape: [1, 8]), 8)
        }
        try check("corners leaky", inputShape: [1, 8], input: corners, expected: [-0.4, -0.3, -0.1, 0, 1, 3, 6, 7]) { b, input in
            (b.add(.leakyRelu, [input], shape: [1, 8], attributes: [Self.word(0.1)]), 8)
        }
    }

    // MARK: Sub and div

    func testSubAndDivWithGeneralBroadcastingMatchTheReference() throws {
        var rng = SeededGenerator(seed: 1705)
        let cases: [([Int], [Int], Bool)] = [([1, 3, 4, 5], [3, 1, 1], false), ([1, 3, 4, 5], [1, 3, 4, 5], false),
                                             ([2, 1, 4], [3, 1], true), ([1, 1, 1, 6], [1, 3, 4, 1], true)]
        for (xShape, kShape, constantFirst) in cases {
            let x = rng.uniforms(Ref.count(xShape), scale: 2)
            // Divisors away from 0.
            let k = rng.uniforms(Ref.count(kShape), scale: 1).map { $0 < 0 ? $0 - 0.5 : $0 + 0.5 }
            for kind in [OperatorKind.sub, .div] {
                let divide = kind == .div
                let (a, aShape, bb, bShape) = constantFirst ? (k, kShape, x.map { divide ? ($0 < 0 ? $0 - 0.5 : $0 + 0.5) : $0 }, xShape)
                                                            : (x, xShape, k, kShape)
                let expected = Ref.binary(a.doubles, aShape, bb.doubles, bShape) { divide ? $0 / $1 : $0 - $1 }
                let input = constantFirst ? bb : a
                try check("\(kind.name) \(aShape) \(bShape)", inputShape: xShape, input: input, expected: expected.y) { b, xTensor in
                    let constant = b.addConstant(constantFirst ? a : bb, shape: constantFirst ? aShape : bShape)
                    return (b.add(kind, constantFirst ? [constant, xTensor] : [xTensor, constant], shape: expected.shape), Ref.count(expected.shape))
                }
            }
        }
        // Two activations: x − x = 0 and x / x = 1.
        let x = rng.uniforms(20, scale: 1).map { $0 + 2 }
        try check("x − x", inputShape: [1, 4, 5], input: x, expected: [Double](repeating: 0, count: 20)) { b, input in
            (b.add(.sub, [input, input], shape: [1, 4, 5]), 20)
        }
        try check("x / x", inputShape: [1, 4, 5], input: x, expected: [Double](repeating: 1, count: 20)) { b, input in
            (b.add(.div, [input, input], shape: [1, 4, 5]), 20)
        }
    }

    // MARK: Channels-last chains (MobileNet style)

    /// conv → clip(0, 6) → conv → hard_swish → conv → leaky_relu → hard_sigmoid ⊙ (the map
    /// before it) → global pooling → head: the element-wise operators join their convolutions'
    /// channels-last group, so nothing is converted between layouts.
    static func mobileChain(seed: UInt64, channels: Int, size: Int) -> ModelBuilder {
        var rng = SeededGenerator(seed: seed)
        var b = ModelBuilder()
        func weights(_ shape: [Int]) -> Int {
            b.addConstant(rng.uniforms(Ref.count(shape), scale: 2 / Float(shape[1] * shape[2] * shape[3]).squareRoot()), shape: shape)
        }
        func vector(_ n: Int) -> Int { b.addConstant(rng.uniforms(n, scale: 0.3), shape: [n]) }
        let pad1 = Ref.Conv(kh: 3, kw: 3, padTop: 1, padLeft: 1, padBottom: 1, padRight: 1)
        let shape = [1, channels, size, size]
        let x = b.addInput(shape: [1, 3, size, size])
        let stem = b.add(.conv2d, [x, weights([channels, 3, 3, 3]), vector(channels)], shape: shape, attributes: pad1.attributes)
        let six = b.add(.clip, [stem], shape: shape, attributes: [word(0), word(6)])
        let body = b.add(.conv2d, [six, weights([channels, channels, 3, 3]), vector(channels)], shape: shape, attributes: pad1.attributes)
        let swish = b.add(.hardSwish, [body], shape: shape)
        let mixed = b.add(.conv2d, [swish, weights([channels, channels, 1, 1])], shape: shape, attributes: Ref.Conv().attributes)
        let leaky = b.add(.leakyRelu, [mixed], shape: shape, attributes: [word(0.1)])
        let gate = b.add(.hardSigmoid, [leaky], shape: shape, attributes: [word(1 / 6), word(0.5)])
        let excited = b.add(.mul, [gate, leaky], shape: shape)
        let pooled = b.add(.globalAvgPool, [excited], shape: [1, channels])
        let logits = b.add(.fullyConnected, [pooled, b.addConstant(rng.uniforms(10 * channels, scale: 0.3), shape: [10, channels])], shape: [1, 10])
        let score = b.add(.fullyConnected, [pooled, b.addConstant(rng.uniforms(channels, scale: 0.3), shape: [1, channels])], shape: [1, 1])
        b.addExit(logits: logits, gate: b.add(.tanh, [score], shape: [1, 1]))
        return b
    }

    func testPiecewiseActivationsKeepMobileChainsChannelsLastOnEveryKernelSet() throws {
        var rng = SeededGenerator(seed: 1706)
        for (index, builder) in [Self.mobileChain(seed: 1, channels: 16, size: 10), Self.mobileChain(seed: 2, channels: 13, size: 7)].enumerated() {
            let bytes = try builder.serialize()
            for kernels in Self.kernelSets {
                let model = try Model(bytes: bytes, kernels: kernels)
                for (o, op) in model.operators.enumerated() where [.conv2d, .clip, .hardSwish, .leakyRelu, .hardSigmoid, .mul].contains(op.kind) {
                    XCTAssertEqual(model.layouts[op.output], .channelsLast, "chain \(index) op \(o) \(op.kind.name) \(kernels.name)")
                }
                let input = rng.uniforms(model.input.elementCount, scale: 1)
                let reference = ReferenceExecutor(model: model).run(input)
                let interpreter = Interpreter(model: model)
                try interpreter.setPolicy(.fullNetwork(earlyExitCount: model.earlyExitCount))
                var observed: [Int: [Float]] = [:]
                _ = try input.withUnsafeBufferPointer { buffer in
                    try interpreter.run(buffer, afterEachOperator: { o in observed[o] = interpreter.standardValues(of: model.operators[o].output) })
                }
                for (o, op) in model.operators.enumerated() {
                    assertClose(observed[o] ?? [], reference[op.output] ?? [], tolerance: 2e-4, "chain \(index) op \(o) \(op.kind.name) \(kernels.name)")
                }
            }
        }
    }

    // MARK: Refusals at load

    func testMalformedAttributesAreRefusedAtLoad() throws {
        /// Builds input → body → exit (reading the body's output, `count` elements) and expects the loader to refuse it.
        func refuse(_ message: String, count: Int = 32, file: StaticString = #filePath, line: UInt = #line,
                    _ body: (inout ModelBuilder, Int) -> Int) {
            var b = ModelBuilder()
            let x = b.addInput(shape: [1, 2, 4, 4])
            let y = body(&b, x)
            let logits = b.add(.reshape, [y], shape: [1, count])
            let gate = b.add(.fullyConnected, [logits, b.addConstant([Float](repeating: 0, count: count), shape: [1, count])], shape: [1, 1])
            b.addExit(logits: logits, gate: gate)
            XCTAssertThrowsError(try b.serialize(), file: file, line: line) { error in
                XCTAssertTrue("\(error)".contains(message), "\(error)", file: file, line: line)
            }
        }
        let shape = [1, 2, 4, 4]
        refuse("bounds 6.0…0.0") { b, x in b.add(.clip, [x], shape: shape, attributes: [Self.word(6), Self.word(0)]) }
        refuse("NaN is not a bound") { b, x in b.add(.clip, [x], shape: shape, attributes: [Self.word(.nan), Self.word(1)]) }
        refuse("must be finite") { b, x in b.add(.leakyRelu, [x], shape: shape, attributes: [Self.word(.infinity)]) }
        refuse("do not broadcast") { b, x in b.add(.sub, [x, b.addConstant([1, 2, 3], shape: [3])], shape: shape) }
    }
}
