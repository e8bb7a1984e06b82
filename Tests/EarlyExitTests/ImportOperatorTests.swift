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

    // MARK: Reductions

    func testReduceSumAndMaxOverEveryAxisSetMatchTheReference() throws {
        var rng = SeededGenerator(seed: 1702)
        let cases: [(shape: [Int], axes: Set<Int>, keep: Bool)] = [
            ([1, 4, 5, 6], [1], true), ([1, 4, 5, 6], [1], false), ([1, 4, 5, 6], [2, 3], true), ([1, 4, 5, 6], [1, 3], false),
            ([1, 4, 5, 6], [0, 1, 2, 3], false), ([2, 3, 4], [0, 2], true), ([1, 32, 256], [2], false), ([7], [0], true),
        ]
        for c in cases {
            let x = rng.uniforms(Ref.count(c.shape), scale: 2)
            let mask = Int32(c.axes.reduce(0) { $0 | (1 << $1) })
            var outShape = c.shape.indices.compactMap { c.axes.contains($0) ? (c.keep ? 1 : nil) : c.shape[$0] }
            if outShape.isEmpty { outShape = [1] }
            let n = Ref.count(outShape)
            for kind in [OperatorKind.reduceSum, .reduceMax] {
                let expected = Ref.reduce(x.doubles, shape: c.shape, axes: c.axes, maximum: kind == .reduceMax)
                // The exit needs at least 2 logits: a 1-element result is concatenated with itself.
                try check("\(kind.name) \(c)", inputShape: c.shape, input: x, expected: n == 1 ? expected + expected : expected) { b, input in
                    let y = b.add(kind, [input], shape: outShape, attributes: [mask])
                    if n > 1 { return (y, n) }
                    return (b.add(.concat, [y, y], shape: [2], attributes: [0]), 2)
                }
            }
        }
    }

    // MARK: Data movement

    func testExpandSliceAndPadMatchTheReference() throws {
        var rng = SeededGenerator(seed: 1703)
        let expands: [([Int], [Int])] = [([1, 1, 4, 5], [1, 3, 4, 5]), ([3, 1], [2, 3, 4]), ([1, 3, 1, 1], [1, 3, 4, 5]), ([1, 1, 1, 5], [2, 3, 4, 5])]
        for (from, to) in expands {
            let x = rng.uniforms(Ref.count(from), scale: 1)
            try check("expand \(from) → \(to)", inputShape: from, input: x, expected: Ref.expand(x.doubles, shape: from, to: to)) { b, input in
                (b.add(.expand, [input], shape: to), Ref.count(to))
            }
        }
        // start, step and extent per axis of [1, 6, 7, 8]
        let slices: [([Int], [Int], [Int])] = [
            ([0, 1, 2, 0], [1, 2, 1, 3], [1, 3, 4, 3]),
            ([0, 5, 6, 7], [1, -1, -2, -3], [1, 6, 4, 3]),
            ([0, 2, 0, 4], [1, 1, 1, 1], [1, 2, 7, 4]),
        ]
        let shape = [1, 6, 7, 8]
        let x = rng.uniforms(Ref.count(shape), scale: 1)
        for (starts, steps, out) in slices {
            try check("slice \(starts) \(steps)", inputShape: shape, input: x,
                      expected: Ref.slice(x.doubles, shape: shape, starts: starts, steps: steps, outShape: out)) { b, input in
                (b.add(.slice, [input], shape: out, attributes: (starts + steps).map { Int32($0) }), Ref.count(out))
            }
        }
        let small = [1, 2, 4, 5]
        let y = rng.uniforms(Ref.count(small), scale: 1)
        let pads: [([Int], [Int], Int, Float)] = [
            ([0, 0, 1, 2], [0, 0, 2, 1], 0, 0.5), ([0, 1, 3, 4], [0, 1, 3, 4], 1, 0), ([0, 0, 3, 1], [0, 2, 0, 6], 2, 0),
            ([0, 0, 4, 5], [0, 1, 2, 3], 3, 0), ([1, 0, 0, 0], [0, 0, 0, 0], 0, -2),
        ]
        for (begins, ends, mode, value) in pads {
            let expected = Ref.pad(y.doubles, shape: small, begins: begins, ends: ends, mode: mode, value: Double(value))
            try check("pad \(begins) \(ends) mode \(mode)", inputShape: small, input: y, expected: expected.y) { b, input in
                (b.add(.pad, [input], shape: expected.shape, attributes: (begins + ends).map { Int32($0) } + [Int32(mode), Self.word(value)]),
                 Ref.count(expected.shape))
            }
        }
        // By hand: reflect and edge of [1, 2, 3] by 2 on each side.
        try check("pad reflect by hand", inputShape: [1, 3], input: [1, 2, 3], expected: [3, 2, 1, 2, 3, 2, 1]) { b, input in
            (b.add(.pad, [input], shape: [1, 7], attributes: [0, 2, 0, 0, 0, 2, 0, 0, 1, 0]), 7)
        }
        try check("pad edge by hand", inputShape: [1, 3], input: [1, 2, 3], expected: [1, 1, 1, 2, 3, 3, 3]) { b, input in
            (b.add(.pad, [input], shape: [1, 7], attributes: [0, 2, 0, 0, 0, 2, 0, 0, 2, 0]), 7)
        }
    }

    // MARK: Resize

    struct ResizeCase: CustomStringConvertible {
        var c = 2, h: Int, w: Int, ho: Int, wo: Int
        var mode: Int, coordinates: Int, rounding = 0
        var scaleH: Float, scaleW: Float
        var description: String { "\(h)×\(w)→\(ho)×\(wo) mode \(mode) coordinates \(coordinates) rounding \(rounding) scales \(scaleH),\(scaleW)" }
        var attributes: [Int32] { [Int32(mode), Int32(coordinates), Int32(rounding), ImportOperatorTests.word(scaleH), ImportOperatorTests.word(scaleW)] }
    }

    /// Every coordinate mode for linear and nearest, every nearest rounding, up and down, scales
    /// and sizes (sizes: the scale is output/input).
    static var resizeCases: [ResizeCase] {
        var cases: [ResizeCase] = []
        for coordinates in 0..<4 {
            cases.append(ResizeCase(h: 4, w: 5, ho: 8, wo: 10, mode: 1, coordinates: coordinates, scaleH: 2, scaleW: 2))
            cases.append(ResizeCase(h: 8, w: 8, ho: 16, wo: 16, mode: 1, coordinates: coordinates, scaleH: 2, scaleW: 2))
            cases.append(ResizeCase(h: 3, w: 7, ho: 7, wo: 4, mode: 1, coordinates: coordinates, scaleH: 7.0 / 3, scaleW: 4.0 / 7))
            cases.append(ResizeCase(h: 6, w: 6, ho: 1, wo: 9, mode: 1, coordinates: coordinates, scaleH: 1.0 / 6, scaleW: 1.5))
            for rounding in 0..<4 {
                cases.append(ResizeCase(h: 4, w: 5, ho: 8, wo: 15, mode: 0, coordinates: coordinates, rounding: rounding, scaleH: 2, scaleW: 3))
                cases.append(ResizeCase(h: 6, w: 7, ho: 3, wo: 5, mode: 0, coordinates: coordinates, rounding: rounding, scaleH: 0.5, scaleW: 5.0 / 7))
                cases.append(ResizeCase(h: 4, w: 4, ho: 6, wo: 6, mode: 0, coordinates: coordinates, rounding: rounding, scaleH: 1.5, scaleW: 1.5))
            }
        }
        return cases
    }

    func testResizeNearestAndLinearInEveryCoordinateModeMatchTheReference() throws {
        var rng = SeededGenerator(seed: 1704)
        for r in Self.resizeCases {
            let x = rng.uniforms(r.c * r.h * r.w, scale: 1)
            let expected = Ref.resize(x.doubles, c: r.c, h: r.h, w: r.w, ho: r.ho, wo: r.wo, mode: r.mode, coordinates: r.coordinates,
                                      rounding: r.rounding, scaleH: r.scaleH, scaleW: r.scaleW)
            try check("resize \(r)", inputShape: [1, r.c, r.h, r.w], input: x, expected: expected) { b, input in
                (b.add(.resize, [input], shape: [1, r.c, r.ho, r.wo], attributes: r.attributes), r.c * r.ho * r.wo)
            }
        }
        // By hand: 1×2 → 1×4, linear: half_pixel [a, a+(b−a)/4, a+3(b−a)/4, b], align_corners
        // [a, a+(b−a)/3, a+2(b−a)/3, b], asymmetric [a, (a+b)/2, b, b]; nearest asymmetric floor [a, a, b, b].
        let hand: [([Int32], [Double])] = [
            ([1, 0, 0, Self.word(1), Self.word(2)], [2, 3, 5, 6]),
            ([1, 1, 0, Self.word(1), Self.word(2)], [2, 10.0 / 3, 14.0 / 3, 6]),
            ([1, 2, 0, Self.word(1), Self.word(2)], [2, 4, 6, 6]),
            ([0, 2, 2, Self.word(1), Self.word(2)], [2, 2, 6, 6]),
        ]
        for (attributes, expected) in hand {
            try check("resize by hand \(attributes.prefix(3))", inputShape: [1, 1, 1, 2], input: [2, 6], expected: expected) { b, input in
                (b.add(.resize, [input], shape: [1, 1, 1, 4], attributes: attributes), 4)
            }
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
        refuse("axis mask 0") { b, x in b.add(.reduceSum, [x], shape: [1, 2, 4, 4], attributes: [0]) }
        refuse("axis mask 16") { b, x in b.add(.reduceMax, [x], shape: [1, 2, 4, 4], attributes: [16]) }
        refuse("[1,1,4,4] or [1,4,4] expected", count: 16) { b, x in b.add(.reduceSum, [x], shape: [1, 2, 4], attributes: [2]) }
        refuse("does not broadcast to the output shape", count: 96) { b, x in b.add(.expand, [x], shape: [1, 3, 4, 4]) }
        refuse("leave the input's 0..<4", count: 24) { b, x in b.add(.slice, [x], shape: [1, 2, 3, 4], attributes: [0, 0, 2, 0, 1, 1, 1, 1]) }
        refuse("step 0", count: 24) { b, x in b.add(.slice, [x], shape: [1, 2, 3, 4], attributes: [0, 0, 0, 0, 1, 1, 0, 1]) }
        refuse("reflect padding 4, 0 must be below the extent 4", count: 64) { b, x in
            b.add(.pad, [x], shape: [1, 2, 8, 4], attributes: [0, 0, 4, 0, 0, 0, 0, 0, 1, 0])
        }
        refuse("mode 7") { b, x in b.add(.pad, [x], shape: [1, 2, 4, 4], attributes: [0, 0, 0, 0, 0, 0, 0, 0, 7, 0]) }
        refuse("expected [1,2,6,4]", count: 40) { b, x in b.add(.pad, [x], shape: [1, 2, 5, 4], attributes: [0, 0, 1, 0, 0, 0, 1, 0, 0, 0]) }
        refuse("coordinate transformation 4", count: 128) { b, x in
            b.add(.resize, [x], shape: [1, 2, 8, 8], attributes: [1, 4, 0, Self.word(2), Self.word(2)])
        }
        refuse("must be positive and finite", count: 128) { b, x in
            b.add(.resize, [x], shape: [1, 2, 8, 8], attributes: [0, 0, 0, Self.word(0), Self.word(2)])
        }
        refuse("(0 for linear)", count: 128) { b, x in b.add(.resize, [x], shape: [1, 2, 8, 8], attributes: [1, 0, 2, Self.word(2), Self.word(2)]) }
        refuse("do not broadcast") { b, x in b.add(.sub, [x, b.addConstant([1, 2, 3], shape: [3])], shape: shape) }
    }
}
