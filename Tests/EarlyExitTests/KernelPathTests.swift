// Every float32 kernel path the CPU supports (forced kernel sets, Winograd and direct) against
// the naive reference loops and the independent Double executor, on single convolutions and
// on chains that keep their maps channels-last.
@testable import EarlyExit
import EarlyExitTools
import Foundation
import XCTest

final class KernelPathTests: XCTestCase {
    /// Every kernel set this CPU supports, each also with direct 3×3 convolutions.
    static var kernelSets: [KernelSet] {
        KernelSet.supported.flatMap { [$0, KernelSet.named($0.name + "-direct")!] }
    }

    func testSupportedKernelSetsIncludeTheBaselineAndLoadEveryName() throws {
        let names = KernelSet.supported.map(\.name)
        #if arch(x86_64)
        XCTAssertTrue(names.contains("sse2"), "\(names)")
        #elseif arch(arm64)
        XCTAssertTrue(names.contains("neon"), "\(names)")
        #endif
        XCTAssertEqual(KernelSet.detected, KernelSet.supported.first)
        for name in names { XCTAssertEqual(try KernelSet.require(name).name, name) }
        XCTAssertThrowsError(try KernelSet.require("avx1024")) { error in
            XCTAssertTrue("\(error)".contains("unknown kernel set"), "\(error)")
        }
        for set in KernelSet.all where !set.isSupported {
            XCTAssertThrowsError(try Model(bytes: SyntheticModels.attentionNetwork().serialize(), kernels: set)) { error in
                XCTAssertTrue("\(error)".contains("lacks"), "\(error)")
            }
        }
    }

    struct Case: CustomStringConvertible {
        var c, h, w, cout: Int
        var p: Ref.Conv
        var bias: Bool, relu: Bool
        var description: String {
            "x[1,\(c),\(h),\(w)] cout \(cout) k \(p.kh)×\(p.kw) s \(p.sh)×\(p.sw) pad \(p.padTop),\(p.padLeft),\(p.padBottom),\(p.padRight) d \(p.dh)×\(p.dw) bias \(bias) relu \(relu)"
        }
    }

    /// Winograd-eligible 3×3 stride-1 cases (odd and even sizes, every padding, channel counts
    /// around the vector widths), then stride-2 and 1×1 cases for the implicit and pointwise GEMMs.
    static let cases: [Case] = [
        Case(c: 8, h: 7, w: 7, cout: 8, p: Ref.Conv(kh: 3, kw: 3, padTop: 1, padLeft: 1, padBottom: 1, padRight: 1), bias: true, relu: true),
        Case(c: 16, h: 14, w: 14, cout: 16, p: Ref.Conv(kh: 3, kw: 3, padTop: 1, padLeft: 1, padBottom: 1, padRight: 1), bias: true, relu: false),
        Case(c: 9, h: 6, w: 11, cout: 21, p: Ref.Conv(kh: 3, kw: 3, padTop: 0, padLeft: 1, padBottom: 2, padRight: 0), bias: false, relu: true),
        Case(c: 33, h: 5, w: 5, cout: 70, p: Ref.Conv(kh: 3, kw: 3), bias: true, relu: false),
        Case(c: 17, h: 9, w: 8, cout: 64, p: Ref.Conv(kh: 3, kw: 3, padTop: 1, padLeft: 1, padBottom: 1, padRight: 1), bias: true, relu: true),
        Case(c: 12, h: 4, w: 13, cout: 130, p: Ref.Conv(kh: 3, kw: 3, padTop: 2, padLeft: 2, padBottom: 2, padRight: 2), bias: true, relu: true),
        Case(c: 16, h: 14, w: 14, cout: 64, p: Ref.Conv(kh: 3, kw: 3, sh: 2, sw: 2, padTop: 1, padLeft: 1, padBottom: 1, padRight: 1), bias: true, relu: true),
        Case(c: 64, h: 7, w: 7, cout: 128, p: Ref.Conv(kh: 1, kw: 1, sh: 2, sw: 2), bias: false, relu: false),
        Case(c: 20, h: 6, w: 5, cout: 2, p: Ref.Conv(), bias: true, relu: false),
        Case(c: 3, h: 10, w: 9, cout: 47, p: Ref.Conv(kh: 5, kw: 3, sh: 1, sw: 2, padTop: 2, padLeft: 1, padBottom: 1, padRight: 0, dh: 1, dw: 2), bias: true, relu: true),
        Case(c: 48, h: 3, w: 3, cout: 96, p: Ref.Conv(), bias: true, relu: true),
        // Few outputs (attention logits): vectors of pixels reduced by pair sums, whole and partial.
        Case(c: 32, h: 9, w: 9, cout: 1, p: Ref.Conv(), bias: true, relu: false),
        Case(c: 16, h: 7, w: 5, cout: 3, p: Ref.Conv(), bias: false, relu: true),
        // ... and blocks of V pixels × V channels transposed in registers (fewer channel vectors
        // than outputs): one channel vector (4 lanes), whole pixel blocks only, and several.
        Case(c: 4, h: 5, w: 7, cout: 2, p: Ref.Conv(), bias: true, relu: false),
        Case(c: 16, h: 4, w: 8, cout: 2, p: Ref.Conv(), bias: false, relu: true),
        Case(c: 16, h: 9, w: 10, cout: 7, p: Ref.Conv(), bias: true, relu: true),
        // One input channel (a grayscale stem: image-to-column of single values).
        Case(c: 1, h: 9, w: 10, cout: 16, p: Ref.Conv(kh: 3, kw: 3, padTop: 1, padLeft: 1, padBottom: 1, padRight: 1), bias: true, relu: true),
        // ... copied from a zero-padded plane: strides, uneven and wide padding, runs of 3 (4-float
        // copies) and of other widths; with dilation, value by value from the table.
        Case(c: 1, h: 11, w: 8, cout: 5, p: Ref.Conv(kh: 3, kw: 3, sh: 2, sw: 3, padTop: 0, padLeft: 2, padBottom: 2, padRight: 1), bias: false, relu: false),
        Case(c: 1, h: 6, w: 7, cout: 20, p: Ref.Conv(kh: 5, kw: 3, padTop: 3, padLeft: 0, padBottom: 3, padRight: 2), bias: true, relu: false),
        Case(c: 1, h: 5, w: 12, cout: 9, p: Ref.Conv(kh: 2, kw: 7, sh: 1, sw: 2, padTop: 1, padLeft: 3, padBottom: 0, padRight: 3), bias: true, relu: true),
        Case(c: 1, h: 10, w: 10, cout: 16, p: Ref.Conv(kh: 3, kw: 3, padTop: 2, padLeft: 2, padBottom: 2, padRight: 2, dh: 2, dw: 2), bias: true, relu: false),
        // Winograd with a partly padded column block (8→24) and two full vectors (32→32).
        Case(c: 8, h: 13, w: 12, cout: 24, p: Ref.Conv(kh: 3, kw: 3, padTop: 1, padLeft: 1, padBottom: 1, padRight: 1), bias: true, relu: false),
        Case(c: 32, h: 11, w: 10, cout: 32, p: Ref.Conv(kh: 3, kw: 3, padTop: 1, padLeft: 1, padBottom: 1, padRight: 1), bias: true, relu: true),
    ]

    func testConvolutionsMatchTheNaiveLoopOnEveryKernelSet() throws {
        var rng = SeededGenerator(seed: 707)
        var pathsSeen: Set<String> = []
        for test in Self.cases {
            let x = rng.uniforms(test.c * test.h * test.w, scale: 1)
            let weights = rng.uniforms(test.cout * test.c * test.p.kh * test.p.kw, scale: 1)
            let bias = test.bias ? rng.uniforms(test.cout, scale: 1) : nil
            let expected = Ref.conv2d(x.doubles, c: test.c, h: test.h, w: test.w, weights: weights.doubles, cout: test.cout,
                                      bias: bias?.doubles, test.p, relu: test.relu)
            for kernels in Self.kernelSets {
                let out = try interpret(inputShape: [1, test.c, test.h, test.w], input: x, kernels: kernels) { b, input in
                    var inputs = [input, b.addConstant(weights, shape: [test.cout, test.c, test.p.kh, test.p.kw])]
                    if let bias { inputs.append(b.addConstant(bias, shape: [test.cout])) }
                    let y = b.add(.conv2d, inputs, shape: [1, test.cout, expected.ho, expected.wo], attributes: test.p.attributes,
                                  activation: test.relu ? .relu : .none)
                    return (y, test.cout * expected.ho * expected.wo)
                }
                let path = out.model.convolutionPath(of: 0)!
                pathsSeen.insert("\(path)")
                let unit = test.p.sh == 1 && test.p.sw == 1 && test.p.dh == 1 && test.p.dw == 1
                if kernels.winograd && test.p.kh == 3 && test.p.kw == 3 && unit && min(test.c, test.cout) >= 8 { XCTAssertEqual(path, .winograd, "\(test)") }
                if !kernels.winograd { XCTAssertNotEqual(path, .winograd, "\(test)") }
                assertClose(out.values, expected.y, "\(test) \(kernels.name) \(path)")
            }
        }
        XCTAssertEqual(pathsSeen, ["winograd", "implicitGEMM", "pointwise", "im2col"])
    }

    /// A residual chain whose maps stay channels-last: conv → BN+ReLU → 3×3 conv (Winograd) →
    /// + skip → ReLU → strided conv → 1×1 conv → global pooling → head; the attention network
    /// (its [1,C,L] reshape and transpose are copies of channels-last maps) beside it.
    static func chain(seed: UInt64, channels: Int, size: Int) -> ModelBuilder {
        var rng = SeededGenerator(seed: seed)
        var b = ModelBuilder()
        func weights(_ shape: [Int]) -> Int { b.addConstant(rng.uniforms(Ref.count(shape), scale: 1 / Float(shape[1] * shape[2] * shape[3]).squareRoot()), shape: shape) }
        func vector(_ n: Int, _ center: Float) -> Int { b.addConstant(rng.uniforms(n, scale: 0.2).map { $0 + center }, shape: [n]) }
        let pad1 = Ref.Conv(kh: 3, kw: 3, padTop: 1, padLeft: 1, padBottom: 1, padRight: 1)
        let x = b.addInput(shape: [1, 3, size, size])
        let stem = b.add(.conv2d, [x, weights([channels, 3, 3, 3]), vector(channels, 0)], shape: [1, channels, size, size], attributes: pad1.attributes)
        let normalized = b.add(.batchNorm, [stem, vector(channels, 1), vector(channels, 0)], shape: [1, channels, size, size], activation: .relu)
        let body = b.add(.conv2d, [normalized, weights([channels, channels, 3, 3]), vector(channels, 0)], shape: [1, channels, size, size],
                         attributes: pad1.attributes, activation: .relu)
        let body2 = b.add(.conv2d, [body, weights([channels, channels, 3, 3])], shape: [1, channels, size, size], attributes: pad1.attributes)
        let sum = b.add(.add, [body2, stem], shape: [1, channels, size, size], activation: .relu)
        let half = (size + 1) / 2
        let down = b.add(.conv2d, [sum, weights([2 * channels, channels, 3, 3]), vector(2 * channels, 0)], shape: [1, 2 * channels, half, half],
                         attributes: Ref.Conv(kh: 3, kw: 3, sh: 2, sw: 2, padTop: 1, padLeft: 1, padBottom: 1, padRight: 1).attributes,
                         activation: .relu)
        let mixed = b.add(.conv2d, [down, weights([2 * channels, 2 * channels, 1, 1])], shape: [1, 2 * channels, half, half], attributes: Ref.Conv().attributes)
        let pooled = b.add(.globalAvgPool, [mixed], shape: [1, 2 * channels])
        let logits = b.add(.fullyConnected, [pooled, b.addConstant(rng.uniforms(10 * 2 * channels, scale: 0.3), shape: [10, 2 * channels])], shape: [1, 10])
        let score = b.add(.fullyConnected, [pooled, b.addConstant(rng.uniforms(2 * channels, scale: 0.3), shape: [1, 2 * channels])], shape: [1, 1])
        let gate = b.add(.tanh, [score], shape: [1, 1])
        b.addExit(logits: logits, gate: gate)
        return b
    }

    func testChannelsLastChainsMatchTheReferenceExecutorOnEveryKernelSet() throws {
        var rng = SeededGenerator(seed: 909)
        let builders = [Self.chain(seed: 1, channels: 16, size: 14), Self.chain(seed: 2, channels: 24, size: 9),
                        SyntheticModels.attentionNetwork(),
                        SyntheticModels.attentionNetwork(channels: 3, size: 12, width: 16, heads: 2, classes: 5, seed: 31)]
        for (index, builder) in builders.enumerated() {
            let bytes = try builder.serialize()
            for kernels in Self.kernelSets {
                let model = try Model(bytes: bytes, kernels: kernels)
                if index < 2 {
                    // Every convolution output is channels-last, and so is the residual sum.
                    for (o, op) in model.operators.enumerated() where op.kind == .conv2d || op.kind == .add {
                        XCTAssertEqual(model.layouts[op.output], .channelsLast, "model \(index) op \(o) \(kernels.name)")
                    }
                }
                let input = rng.uniforms(model.input.elementCount, scale: 1)
                let reference = ReferenceExecutor(model: model).run(input)
                let interpreter = Interpreter(model: model)
                try interpreter.setPolicy(.fullNetwork(earlyExitCount: model.earlyExitCount))
                var observed: [Int: [Float]] = [:]
                _ = try input.withUnsafeBufferPointer { buffer in
                    try interpreter.run(buffer, afterEachOperator: { o in
                        observed[o] = interpreter.standardValues(of: model.operators[o].output)
                    })
                }
                for (o, op) in model.operators.enumerated() {
                    assertClose(observed[o] ?? [], reference[op.output] ?? [], tolerance: 2e-4,
                                "model \(index) op \(o) \(op.kind.name) \(kernels.name)")
                }
            }
        }
    }
}

extension KernelPathTests {
    /// The bundled int8 model and quantized synthetic networks on every kernel set give, image by
    /// image, the same exit, class, integer logits and gates as the portable kernels (the Swift
    /// reference arithmetic, NCHW) — bit for bit — while keeping their maps channels-last.
    func testInt8ModelsAreBitExactWithThePortableKernelsOnEveryKernelSet() throws {
        var models: [(String, [UInt8])] = []
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let bundled = root.appendingPathComponent("Models/fashion-attn-wrn-int8.eem")
        if let bytes = try? Data(contentsOf: bundled) { models.append(("bundled int8", [UInt8](bytes))) }
        for (seed, builder) in [(UInt64(3), Self.chain(seed: 3, channels: 16, size: 12)), (4, SyntheticModels.attentionNetwork())] {
            let float = try Model(bytes: try builder.serialize())
            var rng = SeededGenerator(seed: seed)
            let calibration = (0..<24).map { _ in rng.uniforms(float.input.elementCount, scale: 1) }
            let quantized = try Quantizer.quantize(model: float, calibration: calibration, method: .minmax)
            models.append(("synthetic \(seed)", quantized.bytes))
        }
        XCTAssertGreaterThanOrEqual(models.count, 2)
        let portableName: String
        #if arch(x86_64)
        portableName = "sse2"
        #else
        portableName = "neon"
        #endif
        for (name, bytes) in models {
            let reference = try Model(bytes: bytes, kernels: KernelSet.require(portableName))
            let referenceRun = Interpreter(model: reference)
            var rng = SeededGenerator(seed: 77)
            let inputs = (0..<12).map { _ in rng.uniforms(reference.input.elementCount, scale: 1.5) }
            for kernels in Self.kernelSets where kernels.name != portableName {
                let model = try Model(bytes: bytes, kernels: kernels)
                if Int8KernelTable.hasNativeKernels(kernels.int8) {
                    XCTAssertTrue(model.layouts.contains(.channelsLast), "\(name) \(kernels.name): no channels-last map")
                }
                let run = Interpreter(model: model)
                for policy in [model.defaultPolicy, .fullNetwork(earlyExitCount: model.earlyExitCount)] {
                    try run.setPolicy(policy)
                    try referenceRun.setPolicy(policy)
                    for (i, input) in inputs.enumerated() {
                        let expected = try referenceRun.run(input), actual = try run.run(input)
                        XCTAssertEqual(actual, expected, "\(name) \(kernels.name) image \(i)")
                        for exit in 0..<actual.exitsEvaluated {
                            XCTAssertEqual(Array(run.logits(exit: exit)), Array(referenceRun.logits(exit: exit)), "\(name) \(kernels.name) image \(i) exit \(exit)")
                            XCTAssertEqual(run.gate(exit: exit), referenceRun.gate(exit: exit), "\(name) \(kernels.name) image \(i) exit \(exit)")
                        }
                        XCTAssertEqual(Array(run.scores), Array(referenceRun.scores), "\(name) \(kernels.name) image \(i)")
                    }
                }
            }
        }
    }
}

extension KernelPathTests {
    /// The int8 pixel-lanes convolutions (AVX-512 VNNI, at most 16 outputs) inside channels-last
    /// chains (16 → 16 3×3 between batch norms and residual adds, rows of 20, 28 and 13 pixels) and
    /// the attention network: every operator's output equals the portable kernels' bit for bit.
    /// Chains of 64 and 48 channels at 7×7 and 9×9 (49 and 81 pixels: last row tiles of 1 and 3
    /// rows; 128 and 96 channels at 4×4 and 5×5 after the stride-2 convolution) take the
    /// 4-vector tiles with their channels-last epilogue and the batch norm in blocks of 16 channels
    /// (its affine form on x86).
    func testInt8PixelLaneConvolutionsMatchThePortableKernelsOperatorByOperator() throws {
        #if arch(x86_64)
        let portableName = "sse2"
        #else
        let portableName = "neon"
        #endif
        let builders = [(UInt64(5), Self.chain(seed: 5, channels: 16, size: 20)), (6, Self.chain(seed: 6, channels: 16, size: 28)),
                        (7, Self.chain(seed: 7, channels: 16, size: 13)), (8, SyntheticModels.attentionNetwork()),
                        (9, Self.chain(seed: 9, channels: 64, size: 7)), (10, Self.chain(seed: 10, channels: 48, size: 9))]
        var pixelLanesSeen = 0, affineBatchNormsSeen = 0
        for (seed, builder) in builders {
            let float = try Model(bytes: try builder.serialize())
            var rng = SeededGenerator(seed: seed)
            let calibration = (0..<16).map { _ in rng.uniforms(float.input.elementCount, scale: 1) }
            let bytes = try Quantizer.quantize(model: float, calibration: calibration, method: .minmax).bytes
            let inputs = (0..<4).map { _ in rng.uniforms(float.input.elementCount, scale: 1.5) }
            func observe(_ model: Model) throws -> [[Int: [Float]]] {
                let interpreter = Interpreter(model: model)
                try interpreter.setPolicy(.fullNetwork(earlyExitCount: model.earlyExitCount))
                return try inputs.map { input in
                    var observed: [Int: [Float]] = [:]
                    _ = try input.withUnsafeBufferPointer { buffer in
                        try interpreter.run(buffer, afterEachOperator: { o in
                            observed[o] = interpreter.standardValues(of: model.operators[o].output)
                        })
                    }
                    return observed
                }
            }
            let expected = try observe(try Model(bytes: bytes, kernels: KernelSet.require(portableName)))
            for kernels in Self.kernelSets where kernels.name != portableName {
                let model = try Model(bytes: bytes, kernels: kernels)
                pixelLanesSeen += model.operators.indices.filter { model.int8PixelLanes(of: $0) }.count
                affineBatchNormsSeen += model.operators.indices.filter { model.int8AffineBatchNorm(of: $0) }.count
                let actual = try observe(model)
                for (i, values) in actual.enumerated() {
                    for o in model.operators.indices {
                        XCTAssertEqual(values[o], expected[i][o], "seed \(seed) \(kernels.name) image \(i) op \(o) \(model.operators[o].kind.name)")
                    }
                }
            }
        }
        if KernelSet.supported.contains(where: { $0.int8 == .avx512VNNI }) { XCTAssertGreaterThanOrEqual(pixelLanesSeen, 6) }
        #if arch(x86_64)
        // The batch norms of the chains (16, 64 and 48 channels: blocks of 16; 96 and 128 after the
        // stride-2 convolution) run their affine form on every native x86 kernel set.
        if KernelSet.supported.contains(where: { Int8KernelTable.hasAffineBatchNorm($0.int8) }) { XCTAssertGreaterThanOrEqual(affineBatchNormsSeen, 6) }
        #endif
    }
}

extension KernelPathTests {
    /// The vectorized softmax (its vector exp) against Double on every kernel set: rows of 784
    /// and 10, ordinary values, and values whose differences underflow or are as large as finite
    /// floats get (exactly 0, never NaN).
    func testSoftmaxRowsMatchDoubleOnEveryKernelSet() throws {
        var rng = SeededGenerator(seed: 4)
        var rows: [[Float]] = [rng.uniforms(784, scale: 8), rng.uniforms(10, scale: 30), rng.uniforms(37, scale: 1)]
        rows.append([0, -1e30, -3e38, 5, -87.5, -103.9, -150, 3.4e38, 1e-30, -1e-30, 0, 88, 89, -0.0, 2, -2, 7.5])
        // The two largest values (1 apart, far above the rest) both in the last lane of the
        // vector part (indices 15 and 31 for vectors of 4, 8 and 16), or both past it (the scalar
        // tail): a max that missed them would shift by the rest's largest, exp would overflow for
        // both, and their ratio (e : 1) would be lost. (One such value alone would still come
        // out near 1: softmax does not depend on the shift as long as nothing overflows.)
        var lastLane = rng.uniforms(33, scale: 3)
        (lastLane[15], lastLane[31]) = (200, 199)
        var tail = rng.uniforms(18, scale: 3)
        (tail[16], tail[17]) = (199, 200)
        rows += [lastLane, tail]
        for kernels in Self.kernelSets {
            for row in rows {
                let out = try interpret(inputShape: [1, 1, row.count], input: row, kernels: kernels) { b, input in
                    (b.add(.softmax, [input], shape: [1, 1, row.count], attributes: [2]), row.count)
                }
                let largest = Double(row.max()!)
                let exps = row.map { Foundation.exp(Double($0) - largest) }
                let total = exps.reduce(0, +)
                XCTAssertFalse(out.values.contains { $0.isNaN }, "\(kernels.name)")
                for (i, value) in out.values.enumerated() {
                    XCTAssertEqual(Double(value), exps[i] / total, accuracy: 2e-6, "\(kernels.name) element \(i) of \(row.count)")
                }
            }
        }
    }
}

extension KernelPathTests {
    /// Residual adds fused into their convolution's epilogue: the residual chain and the bundled
    /// float32 model fuse every add that follows a convolution, and their unobserved (fused) runs
    /// give the exits of the unfused model (fusion off) and of the Double reference executor.
    func testFusedResidualAddsMatchTheUnfusedModelOnEveryKernelSet() throws {
        var builds: [(String, [UInt8], Int)] = [("chain", try Self.chain(seed: 5, channels: 16, size: 14).serialize(), 1)]
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        if let bytes = try? Data(contentsOf: root.appendingPathComponent("Models/fashion-attn-wrn.eem")) {
            builds.append(("bundled float32", [UInt8](bytes), 6))
        }
        var rng = SeededGenerator(seed: 6)
        for (name, bytes, expectedFusions) in builds {
            let probe = try Model(bytes: bytes)
            let input = rng.uniforms(probe.input.elementCount, scale: 1)
            let reference = ReferenceExecutor(model: probe).run(input)
            for kernels in Self.kernelSets {
                let fused = try Model(bytes: bytes, kernels: kernels), unfused = try Model(bytes: bytes, kernels: kernels, fusion: false)
                let fusedAdds = fused.operators.indices.filter { fused.operators[$0].kind == .add && fused.observedOnly[$0] }
                XCTAssertEqual(fusedAdds.count, expectedFusions, "\(name) \(kernels.name)")
                XCTAssertFalse(unfused.observedOnly.contains(true), "\(name) \(kernels.name)")
                let a = Interpreter(model: fused), b = Interpreter(model: unfused)
                for run in [a, b] { try run.setPolicy(.fullNetwork(earlyExitCount: fused.earlyExitCount)) }
                let summary = try a.run(input), expected = try b.run(input)
                XCTAssertEqual(summary.classIndex, expected.classIndex, "\(name) \(kernels.name)")
                for exit in 0..<fused.exits.count {
                    assertClose(Array(a.logits(exit: exit)), Array(b.logits(exit: exit)).map(Double.init), tolerance: 1e-5,
                                "\(name) \(kernels.name) exit \(exit) fused vs unfused")
                    assertClose(Array(a.logits(exit: exit)), reference[fused.exits[exit].logitsTensor] ?? [], tolerance: 2e-4,
                                "\(name) \(kernels.name) exit \(exit) vs reference")
                }
            }
        }
    }
}
