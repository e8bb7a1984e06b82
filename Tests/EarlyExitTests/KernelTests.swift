// Every operator against hand-worked examples and the naive loops of ReferenceKernels.swift,
// both by calling FloatKernels directly and end to end through Model + Interpreter.
@testable import EarlyExit
import EarlyExitTools
import Foundation
import XCTest

final class KernelTests: XCTestCase {
    // MARK: Convolution

    func testHandWorkedConvolutionValidAndPaddedStrided() throws {
        // x = [[1,2,3],[4,5,6],[7,8,9]], k = [[1,2],[3,4]], bias 0.5.
        // Valid, stride 1 (2×2 out):
        //   y00 = 1·1+2·2+4·3+5·4 = 37,  y01 = 2·1+3·2+5·3+6·4 = 47
        //   y10 = 4·1+5·2+7·3+8·4 = 67,  y11 = 5·1+6·2+8·3+9·4 = 77   (+0.5 each)
        let x: [Float] = [1, 2, 3, 4, 5, 6, 7, 8, 9]
        let k: [Float] = [1, 2, 3, 4]
        let valid = try interpret(inputShape: [1, 1, 3, 3], input: x) { b, input in
            let w = b.addConstant(k, shape: [1, 1, 2, 2])
            let bias = b.addConstant([0.5], shape: [1])
            return (b.add(.conv2d, [input, w, bias], shape: [1, 1, 2, 2], attributes: Ref.Conv(kh: 2, kw: 2).attributes), 4)
        }
        XCTAssertEqual(valid.values, [37.5, 47.5, 67.5, 77.5])
        XCTAssertEqual(valid.model.convolutionPath(of: 0), .im2col)
        XCTAssertEqual(valid.model.operators[0].macs, 4 * 4) // Cout·Ho·Wo·Cin·Kh·Kw = 1·2·2·1·2·2

        // Pad 1 on every side, stride 2: out (3+2−2)/2+1 = 2; windows start at −1 and 1.
        //   y00: rows −1..0, cols −1..0 → only x00·k11 = 1·4 = 4
        //   y01: rows −1..0, cols 1..2 → x01·k10 + x02·k11 = 2·3 + 3·4 = 18
        //   y10: rows 1..2, cols −1..0 → x10·k01 + x20·k11 = 4·2 + 7·4 = 36
        //   y11: rows 1..2, cols 1..2 → 5·1+6·2+8·3+9·4 = 77
        let strided = try interpret(inputShape: [1, 1, 3, 3], input: x) { b, input in
            let w = b.addConstant(k, shape: [1, 1, 2, 2])
            let conv = Ref.Conv(kh: 2, kw: 2, sh: 2, sw: 2, padTop: 1, padLeft: 1, padBottom: 1, padRight: 1)
            return (b.add(.conv2d, [input, w], shape: [1, 1, 2, 2], attributes: conv.attributes), 4)
        }
        XCTAssertEqual(strided.values, [4, 18, 36, 77])

        // Same 3×3 input, two 1×1 filters (2 and −1) with ReLU: the pointwise path.
        // channel 0 = 2·x; channel 1 = max(−x, 0) = 0.
        let pointwise = try interpret(inputShape: [1, 1, 3, 3], input: x) { b, input in
            let w = b.addConstant([2, -1], shape: [2, 1, 1, 1])
            return (b.add(.conv2d, [input, w], shape: [1, 2, 3, 3], attributes: Ref.Conv().attributes, activation: .relu), 18)
        }
        XCTAssertEqual(pointwise.values, x.map { 2 * $0 } + [Float](repeating: 0, count: 9))
        XCTAssertEqual(pointwise.model.convolutionPath(of: 0), .pointwise)
    }

    struct ConvCase: CustomStringConvertible {
        var c, h, w, cout: Int
        var p: Ref.Conv
        var bias: Bool
        var relu: Bool
        var description: String {
            "x[1,\(c),\(h),\(w)] cout \(cout) k \(p.kh)×\(p.kw) s \(p.sh)×\(p.sw) pad t\(p.padTop) l\(p.padLeft) b\(p.padBottom) r\(p.padRight) d \(p.dh)×\(p.dw) g \(p.groups) bias \(bias) relu \(relu)"
        }
        /// The float32 path under `kernels`: Winograd for 3×3 stride-1 undilated with at least 8
        /// channels in and out (unless the set is `-direct`), pointwise for unpadded 1×1 stride 1,
        /// image-to-column for fewer than 4 input channels, else the implicit GEMM; depthwise and
        /// grouped for more than one group.
        func expectedPath(_ kernels: KernelSet) -> ConvolutionPath {
            if p.groups == 1 {
                let plain = p.kh == 1 && p.kw == 1 && p.sh == 1 && p.sw == 1 && p.padTop == 0 && p.padLeft == 0 && p.padBottom == 0 && p.padRight == 0
                let winograd = kernels.winograd && p.kh == 3 && p.kw == 3 && p.sh == 1 && p.sw == 1 && p.dh == 1 && p.dw == 1 && c >= 8 && cout >= 8
                return winograd ? .winograd : plain ? .pointwise : c < 4 ? .im2col : .implicitGEMM
            }
            return p.groups == c && cout == c ? .depthwise : .grouped
        }
    }

    /// Chosen geometries covering each requirement explicitly, then random ones.
    func convolutionCases() -> [ConvCase] {
        var cases: [ConvCase] = [
            // pointwise, Cout not a multiple of 4, 13×13 and 7×7 pixels (not multiples of 16)
            ConvCase(c: 5, h: 13, w: 13, cout: 7, p: Ref.Conv(), bias: true, relu: false),
            ConvCase(c: 3, h: 7, w: 7, cout: 6, p: Ref.Conv(), bias: false, relu: true),
            ConvCase(c: 8, h: 4, w: 4, cout: 9, p: Ref.Conv(), bias: true, relu: true), // 16 pixels: exact block
            // 1×1 with stride or padding goes through im2col
            ConvCase(c: 3, h: 9, w: 11, cout: 5, p: Ref.Conv(sh: 2, sw: 2), bias: true, relu: false),
            ConvCase(c: 2, h: 5, w: 6, cout: 3, p: Ref.Conv(padTop: 1, padLeft: 0, padBottom: 0, padRight: 2), bias: true, relu: false),
            // 3×3 and 5×5, stride 1 and 2, asymmetric padding, 7×7 and 13×13 outputs
            ConvCase(c: 3, h: 13, w: 13, cout: 5, p: Ref.Conv(kh: 3, kw: 3, padTop: 1, padLeft: 1, padBottom: 1, padRight: 1), bias: true, relu: true),
            ConvCase(c: 4, h: 15, w: 14, cout: 6, p: Ref.Conv(kh: 3, kw: 3, sh: 2, sw: 2, padTop: 0, padLeft: 1, padBottom: 2, padRight: 0), bias: true, relu: false),
            ConvCase(c: 2, h: 11, w: 11, cout: 3, p: Ref.Conv(kh: 5, kw: 5, padTop: 2, padLeft: 1, padBottom: 0, padRight: 2), bias: false, relu: false),
            ConvCase(c: 3, h: 13, w: 13, cout: 7, p: Ref.Conv(kh: 5, kw: 5, sh: 2, sw: 2, padTop: 2, padLeft: 2, padBottom: 2, padRight: 2), bias: true, relu: true),
            ConvCase(c: 1, h: 9, w: 8, cout: 2, p: Ref.Conv(kh: 3, kw: 5, sh: 1, sw: 2, padTop: 1, padLeft: 2, padBottom: 1, padRight: 1), bias: true, relu: false),
            // dilation 2
            ConvCase(c: 3, h: 11, w: 11, cout: 5, p: Ref.Conv(kh: 3, kw: 3, padTop: 2, padLeft: 2, padBottom: 2, padRight: 2, dh: 2, dw: 2), bias: true, relu: false),
            ConvCase(c: 4, h: 12, w: 10, cout: 3, p: Ref.Conv(kh: 3, kw: 3, sh: 2, sw: 1, padTop: 1, padLeft: 0, padBottom: 2, padRight: 3, dh: 2, dw: 2), bias: false, relu: true),
            // depthwise (groups = Cin = Cout)
            ConvCase(c: 6, h: 13, w: 13, cout: 6, p: Ref.Conv(kh: 3, kw: 3, padTop: 1, padLeft: 1, padBottom: 1, padRight: 1, groups: 6), bias: true, relu: true),
            ConvCase(c: 5, h: 14, w: 9, cout: 5, p: Ref.Conv(kh: 5, kw: 5, sh: 2, sw: 2, padTop: 2, padLeft: 1, padBottom: 1, padRight: 2, dh: 2, dw: 1, groups: 5), bias: false, relu: false),
            // grouped: two groups, and a depthwise multiplier of 2
            ConvCase(c: 4, h: 9, w: 9, cout: 6, p: Ref.Conv(kh: 3, kw: 3, padTop: 1, padLeft: 1, padBottom: 1, padRight: 1, groups: 2), bias: true, relu: false),
            ConvCase(c: 6, h: 8, w: 7, cout: 10, p: Ref.Conv(kh: 1, kw: 1, groups: 2), bias: false, relu: true),
            ConvCase(c: 3, h: 10, w: 10, cout: 6, p: Ref.Conv(kh: 3, kw: 3, sh: 2, sw: 2, padTop: 1, padLeft: 1, padBottom: 0, padRight: 0, groups: 3), bias: true, relu: true),
        ]
        var rng = SeededGenerator(seed: 2024)
        for _ in 0..<48 {
            let kernels = [1, 3, 5]
            var p = Ref.Conv(kh: kernels[rng.int(0...2)], kw: kernels[rng.int(0...2)], sh: rng.int(1...2), sw: rng.int(1...2))
            p.padTop = rng.int(0...(p.kh - 1)); p.padBottom = rng.int(0...(p.kh - 1))
            p.padLeft = rng.int(0...(p.kw - 1)); p.padRight = rng.int(0...(p.kw - 1))
            p.dh = rng.int(1...2); p.dw = rng.int(1...2)
            var c = rng.int(1...6), cout = rng.int(1...9)
            switch rng.int(0...3) {
            case 0: p.groups = 1
            case 1: p.groups = c; cout = c                                  // depthwise
            case 2: c = 2 * rng.int(1...3); p.groups = 2; cout = 2 * rng.int(1...4) // two groups
            default: p.groups = c; cout = c * rng.int(1...3)                // depthwise multiplier
            }
            // Input at least as large as the dilated window.
            let h = max(rng.int(5...15), p.dh * (p.kh - 1) + 1), w = max(rng.int(5...15), p.dw * (p.kw - 1) + 1)
            cases.append(ConvCase(c: c, h: h, w: w, cout: cout, p: p, bias: rng.bool(), relu: rng.bool()))
        }
        return cases
    }

    func testConvolutionMatchesNaiveLoopOverManyGeometriesEndToEnd() throws {
        var rng = SeededGenerator(seed: 99)
        var pathsSeen: Set<String> = []
        for test in convolutionCases() {
            let x = rng.uniforms(test.c * test.h * test.w, scale: 1)
            let weights = rng.uniforms(test.cout * (test.c / test.p.groups) * test.p.kh * test.p.kw, scale: 1)
            let bias = test.bias ? rng.uniforms(test.cout, scale: 1) : nil
            let expected = Ref.conv2d(x.doubles, c: test.c, h: test.h, w: test.w, weights: weights.doubles, cout: test.cout,
                                      bias: bias?.doubles, test.p, relu: test.relu)
            let out = try interpret(inputShape: [1, test.c, test.h, test.w], input: x) { b, input in
                var inputs = [input, b.addConstant(weights, shape: [test.cout, test.c / test.p.groups, test.p.kh, test.p.kw])]
                if let bias { inputs.append(b.addConstant(bias, shape: [test.cout])) }
                let y = b.add(.conv2d, inputs, shape: [1, test.cout, expected.ho, expected.wo], attributes: test.p.attributes,
                              activation: test.relu ? .relu : .none)
                return (y, test.cout * expected.ho * expected.wo)
            }
            let op = out.model.operators[0]
            XCTAssertEqual(out.model.convolutionPath(of: 0), test.expectedPath(out.model.kernels), "\(test)")
            pathsSeen.insert("\(out.model.convolutionPath(of: 0)!)")
            XCTAssertEqual(op.macs, test.cout * expected.ho * expected.wo * (test.c / test.p.groups) * test.p.kh * test.p.kw, "\(test)")
            XCTAssertEqual(op.geometry.heightOut, expected.ho, "\(test)")
            XCTAssertEqual(op.geometry.widthOut, expected.wo, "\(test)")
            assertClose(out.values, expected.y, "\(test)")
        }
        XCTAssertEqual(pathsSeen, ["pointwise", "implicitGEMM", "im2col", "depthwise", "grouped"])
    }

    func testConvolutionKernelEveryApplicablePathMatchesNaiveLoop() {
        var rng = SeededGenerator(seed: 5)
        for test in convolutionCases() {
            let x = rng.uniforms(test.c * test.h * test.w, scale: 1)
            let weights = rng.uniforms(test.cout * (test.c / test.p.groups) * test.p.kh * test.p.kw, scale: 1)
            let bias = test.bias ? rng.uniforms(test.cout, scale: 1) : nil
            let expected = Ref.conv2d(x.doubles, c: test.c, h: test.h, w: test.w, weights: weights.doubles, cout: test.cout,
                                      bias: bias?.doubles, test.p, relu: test.relu)
            var g = WindowGeometry()
            g.channelsIn = test.c; g.heightIn = test.h; g.widthIn = test.w
            g.channelsOut = test.cout; g.heightOut = expected.ho; g.widthOut = expected.wo
            g.kernelHeight = test.p.kh; g.kernelWidth = test.p.kw; g.strideHeight = test.p.sh; g.strideWidth = test.p.sw
            g.padTop = test.p.padTop; g.padLeft = test.p.padLeft; g.padBottom = test.p.padBottom; g.padRight = test.p.padRight
            g.dilationHeight = test.p.dh; g.dilationWidth = test.p.dw; g.groups = test.p.groups
            var paths: [ConvolutionPath] = [.grouped]
            if test.p.groups == 1 { paths.append(.im2col) }
            // The reference NCHW kernel's own paths (no Winograd there).
            let legacy = test.expectedPath(KernelSet.named("portable-direct")!)
            if legacy == .pointwise || legacy == .depthwise { paths.append(legacy) }
            let memory = KernelMemory()
            let xb = memory.input(x), wb = memory.input(weights), bb = bias.map { memory.input($0) }
            for path in paths {
                let y = memory.output(expected.y.count)
                // Scratch prefilled with NaN: every column the GEMM stores must have been written by im2col.
                let scratch = memory.output(test.c * test.p.kh * test.p.kw * FloatKernels.paddedColumns(expected.ho * expected.wo))
                FloatKernels.convolution(xb, weights: wb, bias: bb, g, path: path, scratch: scratch, y: y, relu: test.relu)
                assertClose(memory.read(y, expected.y.count), expected.y, "\(test) path \(path)")
            }
        }
    }

    func testGemmBlocksAndScalarTailMatchNaiveProduct() {
        // m = 6 (one 4-row block + 2 single rows), n = 37 (two 16-column blocks + 5 scalar columns).
        var rng = SeededGenerator(seed: 17)
        for (m, n, k, ldb, readable) in [(6, 37, 11, 37, 37), (5, 37, 9, 48, 48), (1, 3, 4, 3, 3), (9, 16, 7, 16, 16)] {
            let a = rng.uniforms(m * k, scale: 1), b = rng.uniforms(k * ldb, scale: 1), bias = rng.uniforms(m, scale: 1)
            for relu in [false, true] {
                var expected = [Double](repeating: 0, count: m * n)
                for i in 0..<m {
                    for j in 0..<n {
                        var s = Double(bias[i])
                        for p in 0..<k { s += Double(a[i * k + p]) * Double(b[p * ldb + j]) }
                        expected[i * n + j] = relu ? max(s, 0) : s
                    }
                }
                let memory = KernelMemory()
                let c = memory.output(m * n)
                FloatKernels.gemm(m: m, n: n, k: k, a: memory.input(a), b: memory.input(b), ldb: ldb,
                                  readableColumns: readable, c: c, bias: memory.input(bias), relu: relu)
                assertClose(memory.read(c, m * n), expected, "gemm \(m)×\(n)×\(k) ldb \(ldb) relu \(relu)")
            }
        }
    }

    // MARK: Fully connected and matmul

    func testHandWorkedFullyConnected() throws {
        // W = [[1,2,3],[4,5,6]], x = [1,0,−1], b = [0.5,−0.5]:
        // y0 = 1−3+0.5 = −1.5, y1 = 4−6−0.5 = −2.5; with ReLU both become 0.
        let out = try interpret(inputShape: [1, 3], input: [1, 0, -1]) { b, x in
            let w = b.addConstant([1, 2, 3, 4, 5, 6], shape: [2, 3])
            let bias = b.addConstant([0.5, -0.5], shape: [2])
            return (b.add(.fullyConnected, [x, w, bias], shape: [1, 2]), 2)
        }
        XCTAssertEqual(out.values, [-1.5, -2.5])
        XCTAssertEqual(out.model.operators[0].macs, 6)
        let memory = KernelMemory()
        let y = memory.output(2)
        FloatKernels.fullyConnected(memory.input([1, 0, -1]), weights: memory.input([1, 2, 3, 4, 5, 6]),
                                    bias: memory.input([0.5, -0.5]), inputs: 3, outputs: 2, y: y, relu: true)
        XCTAssertEqual(memory.read(y, 2), [0, 0])
    }

    func testFullyConnectedOddSizesMatchNaiveLoop() throws {
        var rng = SeededGenerator(seed: 31)
        // Inputs not multiples of 8, outputs not multiples of 4 (and a few that are).
        for (inputs, outputs) in [(13, 5), (3, 7), (21, 1), (8, 4), (37, 6), (1, 2), (64, 9), (23, 3), (100, 10)] {
            for (hasBias, relu) in [(true, false), (false, true), (true, true)] {
                let x = rng.uniforms(inputs, scale: 1), w = rng.uniforms(inputs * outputs, scale: 1)
                let bias = hasBias ? rng.uniforms(outputs, scale: 1) : nil
                let expected = Ref.fullyConnected(x.doubles, weights: w.doubles, bias: bias?.doubles, inputs: inputs, outputs: outputs, relu: relu)
                let memory = KernelMemory()
                let y = memory.output(outputs)
                FloatKernels.fullyConnected(memory.input(x), weights: memory.input(w), bias: bias.map { memory.input($0) },
                                            inputs: inputs, outputs: outputs, y: y, relu: relu)
                assertClose(memory.read(y, outputs), expected, "fc \(inputs)→\(outputs)")
                if outputs >= 2 {
                    let out = try interpret(inputShape: [1, inputs], input: x) { b, input in
                        var ins = [input, b.addConstant(w, shape: [outputs, inputs])]
                        if let bias { ins.append(b.addConstant(bias, shape: [outputs])) }
                        return (b.add(.fullyConnected, ins, shape: [1, outputs], activation: relu ? .relu : .none), outputs)
                    }
                    assertClose(out.values, expected, "fc end to end \(inputs)→\(outputs)")
                    XCTAssertEqual(out.model.operators[0].macs, inputs * outputs)
                }
            }
        }
    }

    func testFullyConnectedFlattensAFeatureMap() throws {
        var rng = SeededGenerator(seed: 32)
        let x = rng.uniforms(3 * 5 * 5, scale: 1), w = rng.uniforms(7 * 75, scale: 0.2), bias = rng.uniforms(7, scale: 1)
        let out = try interpret(inputShape: [1, 3, 5, 5], input: x) { b, input in
            (b.add(.fullyConnected, [input, b.addConstant(w, shape: [7, 75]), b.addConstant(bias, shape: [7])], shape: [1, 7]), 7)
        }
        assertClose(out.values, Ref.fullyConnected(x.doubles, weights: w.doubles, bias: bias.doubles, inputs: 75, outputs: 7))
    }

    func testHandWorkedMatmul() throws {
        // [[1,2],[3,4]]·[[5,6],[7,8]] = [[1·5+2·7, 1·6+2·8],[3·5+4·7, 3·6+4·8]] = [[19,22],[43,50]]
        let out = try interpret(inputShape: [2, 2], input: [1, 2, 3, 4]) { b, x in
            (b.add(.matmul, [x, b.addConstant([5, 6, 7, 8], shape: [2, 2])], shape: [2, 2]), 4)
        }
        XCTAssertEqual(out.values, [19, 22, 43, 50])
        XCTAssertEqual(out.model.operators[0].macs, 8) // batch·M·N·K = 1·2·2·2
    }

    func testMatmulBatchBroadcastingMatchesNaiveLoop() throws {
        var rng = SeededGenerator(seed: 41)
        let cases: [([Int], [Int])] = [
            ([3, 5], [5, 4]),
            ([7, 13], [13, 17]),                 // n = 17: two vector chunks and a tail
            ([2, 3, 5], [2, 5, 9]),
            ([2, 3, 5], [1, 5, 4]),              // batch 1 on the right
            ([1, 4, 6], [3, 6, 11]),             // batch 1 on the left
            ([2, 1, 3, 5], [1, 3, 5, 8]),        // rank 4, both sides broadcast on different axes
            ([1, 2, 3, 5], [3, 1, 5, 2]),
            ([2, 3, 4, 6], [2, 3, 6, 16]),
            ([1, 1, 2, 3], [2, 2, 3, 3]),
            ([3, 2, 1, 4], [3, 1, 4, 10]),       // m = 1
        ]
        for (lhs, rhs) in cases {
            let a = rng.uniforms(Ref.count(lhs), scale: 1), bValues = rng.uniforms(Ref.count(rhs), scale: 1)
            let expected = Ref.matmul(a.doubles, lhs, bValues.doubles, rhs)
            let memory = KernelMemory()
            let y = memory.output(expected.y.count)
            FloatKernels.matmul(memory.input(a), memory.input(bValues), c: y, lhs: TensorShape(lhs),
                                rhs: TensorShape(rhs), out: TensorShape(expected.shape))
            assertClose(memory.read(y, expected.y.count), expected.y, "matmul \(lhs)×\(rhs)")
            // End to end, with the activation on the left and then on the right.
            let left = try interpret(inputShape: lhs, input: a) { b, x in
                (b.add(.matmul, [x, b.addConstant(bValues, shape: rhs)], shape: expected.shape), expected.y.count)
            }
            assertClose(left.values, expected.y, "matmul end to end \(lhs)×\(rhs)")
            XCTAssertEqual(left.model.operators[0].macs, expected.y.count * lhs.last!)
            let right = try interpret(inputShape: rhs, input: bValues) { b, x in
                (b.add(.matmul, [b.addConstant(a, shape: lhs), x], shape: expected.shape), expected.y.count)
            }
            assertClose(right.values, expected.y, "matmul end to end (activation on the right) \(lhs)×\(rhs)")
        }
    }

    // MARK: Element-wise

    func testHandWorkedBroadcastAddAndMul() throws {
        // a [2,2] = [[1,2],[3,4]], b [2,1] = [[10],[20]] broadcast along columns:
        // add → [[11,12],[23,24]], mul → [[10,20],[60,80]].
        for (kind, expected) in [(OperatorKind.add, [Float](arrayLiteral: 11, 12, 23, 24)), (.mul, [10, 20, 60, 80])] {
            let out = try interpret(inputShape: [2, 2], input: [1, 2, 3, 4]) { b, x in
                (b.add(kind, [x, b.addConstant([10, 20], shape: [2, 1])], shape: [2, 2]), 4)
            }
            XCTAssertEqual(out.values, expected, "\(kind.name)")
            XCTAssertEqual(out.model.operators[0].macs, kind == .mul ? 4 : 0)
        }
        // Fused ReLU on add: [1,−2] + [−3,1] = [−2,−1] → [0,0]; [5,−2] + [−3,1] = [2,−1] → [2,0].
        let fused = try interpret(inputShape: [2, 2], input: [1, -2, 5, -2]) { b, x in
            (b.add(.add, [x, b.addConstant([-3, 1], shape: [2])], shape: [2, 2], activation: .relu), 4)
        }
        XCTAssertEqual(fused.values, [0, 0, 2, 0])
    }

    func testBroadcastAddAndMulMatchNaiveLoop() throws {
        var rng = SeededGenerator(seed: 51)
        let cases: [([Int], [Int])] = [
            ([1, 5, 7, 6], [1, 5, 7, 6]),        // same shape (the fast path)
            ([1, 5, 7, 6], [1, 5, 1, 1]),        // per-channel
            ([1, 5, 1, 1], [1, 5, 7, 6]),        // per-channel on the left
            ([1, 5, 7, 6], [1]),                 // scalar-shaped
            ([1], [1, 3, 4, 5]),
            ([7, 6], [1, 5, 7, 6]),              // rank 2 against rank 4
            ([1, 5, 7, 6], [7, 1]),
            ([1, 5, 7, 6], [5, 1, 6]),           // rank 3 against rank 4
            ([2, 1, 3], [1, 4, 1]),              // both sides broadcast
            ([3, 1, 2, 1], [1, 4, 1, 5]),
        ]
        for (lhs, rhs) in cases {
            let a = rng.uniforms(Ref.count(lhs), scale: 2), bValues = rng.uniforms(Ref.count(rhs), scale: 2)
            for kind in [OperatorKind.add, .mul] {
                for relu in kind == .add ? [false, true] : [false] {
                    var expected = Ref.binary(a.doubles, lhs, bValues.doubles, rhs) { kind == .add ? $0 + $1 : $0 * $1 }
                    if relu { expected.y = Ref.relu(expected.y) }
                    let memory = KernelMemory()
                    let y = memory.output(expected.y.count)
                    FloatKernels.binary(memory.input(a), memory.input(bValues), y: y, lhs: TensorShape(lhs),
                                        rhs: TensorShape(rhs), out: TensorShape(expected.shape), multiply: kind == .mul, relu: relu)
                    assertClose(memory.read(y, expected.y.count), expected.y, tolerance: 1e-6, "\(kind.name) \(lhs) ⊕ \(rhs) relu \(relu)")
                    let out = try interpret(inputShape: lhs, input: a) { b, x in
                        (b.add(kind, [x, b.addConstant(bValues, shape: rhs)], shape: expected.shape, activation: relu ? .relu : .none), expected.y.count)
                    }
                    assertClose(out.values, expected.y, tolerance: 1e-6, "\(kind.name) end to end \(lhs) ⊕ \(rhs) relu \(relu)")
                    XCTAssertEqual(out.model.operators[0].macs, kind == .mul ? expected.y.count : 0)
                }
            }
        }
    }

    func testAddOfATensorWithItself() throws {
        // x + x = 2x, elementwise: [1,−2,3.5] → [2,−4,7].
        let out = try interpret(inputShape: [1, 3], input: [1, -2, 3.5]) { b, x in (b.add(.add, [x, x], shape: [1, 3]), 3) }
        XCTAssertEqual(out.values, [2, -4, 7])
    }

    func testReluTanhSigmoidMatchDefinitions() throws {
        // Hand values: relu(−1)=0, relu(2)=2; tanh(0)=0; sigmoid(0)=1/2.
        let hand = try interpret(inputShape: [1, 2], input: [-1, 2]) { b, x in (b.add(.relu, [x], shape: [1, 2]), 2) }
        XCTAssertEqual(hand.values, [0, 2])
        let zero = try interpret(inputShape: [1, 2], input: [0, 0]) { b, x in
            let t = b.add(.tanh, [x], shape: [1, 2])
            let s = b.add(.sigmoid, [x], shape: [1, 2])
            return (b.add(.concat, [t, s], shape: [1, 4], attributes: [1]), 4)
        }
        XCTAssertEqual(zero.values, [0, 0, 0.5, 0.5])

        // A sweep of 401 points over [−20, 20] plus extremes.
        var x: [Float] = (0...400).map { Float(-20 + Double($0) * 0.1) }
        x += [-100, -88, -30, -9.5, -1e-3, -1e-20, 0, 1e-20, 1e-3, 9.5, 30, 88, 100]
        for kind in [OperatorKind.relu, .tanh, .sigmoid] {
            let expected: [Double]
            switch kind {
            case .relu: expected = Ref.relu(x.doubles)
            case .tanh: expected = Ref.tanh(x.doubles)
            default: expected = Ref.sigmoid(x.doubles)
            }
            let out = try interpret(inputShape: [1, x.count], input: x) { b, input in (b.add(kind, [input], shape: [1, x.count]), x.count) }
            for i in 0..<x.count {
                let error = abs(Double(out.values[i]) - expected[i])
                XCTAssert(error <= 1e-6 * max(abs(expected[i]), 1e-30) || error <= 1e-7,
                          "\(kind.name)(\(x[i])) = \(out.values[i]), expected \(expected[i])")
            }
            if kind == .relu { XCTAssertEqual(out.values, x.map { max($0, 0) }) }
        }
    }

    func testHandWorkedBatchNorm() throws {
        // x [1,2,2] = [[1,2],[3,4]], scale [2,−1], shift [0.5,1]:
        // channel 0: 1·2+0.5 = 2.5, 2·2+0.5 = 4.5; channel 1: −3+1 = −2, −4+1 = −3; ReLU → [2.5,4.5,0,0].
        for relu in [false, true] {
            let out = try interpret(inputShape: [1, 2, 2], input: [1, 2, 3, 4]) { b, x in
                (b.add(.batchNorm, [x, b.addConstant([2, -1], shape: [2]), b.addConstant([0.5, 1], shape: [2])], shape: [1, 2, 2],
                       activation: relu ? .relu : .none), 4)
            }
            XCTAssertEqual(out.values, relu ? [2.5, 4.5, 0, 0] : [2.5, 4.5, -2, -3])
            XCTAssertEqual(out.model.operators[0].macs, 4)
        }
    }

    func testBatchNormMatchesNaiveLoopForRanks2To4() throws {
        var rng = SeededGenerator(seed: 61)
        for shape in [[1, 7], [1, 5, 9], [1, 6, 7, 5], [1, 3, 13, 13]] {
            let c = shape[1]
            let x = rng.uniforms(Ref.count(shape), scale: 2), scale = rng.uniforms(c, scale: 2), shift = rng.uniforms(c, scale: 1)
            for relu in [false, true] {
                let expected = Ref.batchNorm(x.doubles, shape: shape, scale: scale.doubles, shift: shift.doubles, relu: relu)
                let memory = KernelMemory()
                let y = memory.output(x.count)
                FloatKernels.batchNorm(memory.input(x), scale: memory.input(scale), shift: memory.input(shift),
                                       y: y, channels: c, spatial: x.count / c, relu: relu)
                assertClose(memory.read(y, x.count), expected, tolerance: 1e-6, "batch norm \(shape)")
                let out = try interpret(inputShape: shape, input: x) { b, input in
                    (b.add(.batchNorm, [input, b.addConstant(scale, shape: [c]), b.addConstant(shift, shape: [c])], shape: shape,
                           activation: relu ? .relu : .none), x.count)
                }
                assertClose(out.values, expected, tolerance: 1e-6, "batch norm end to end \(shape) relu \(relu)")
            }
        }
    }

    // MARK: Pooling

    func testHandWorkedPoolingWithPadding() throws {
        // x = [[1,2],[3,4]], 2×2 window, stride 1, pad 1 on every side → 3×3 output.
        // Windows: corner (0,0) sees only 1; edge (0,1) sees 1,2; centre sees 1,2,3,4; etc.
        // max:                     [[1,2,2],[3,4,4],[3,4,4]]
        // avg, exclude pad:        [[1,1.5,2],[2,2.5,3],[3,3.5,4]]     (sum / real cells)
        // avg, count pad (ONNX):   [[0.25,0.75,0.5],[1,2.5,1.5],[0.75,1.75,1]]   (sum / 4)
        let attributes: (Int32) -> [Int32] = { [2, 2, 1, 1, 1, 1, 1, 1, $0] }
        let max = try interpret(inputShape: [1, 1, 2, 2], input: [1, 2, 3, 4]) { b, x in
            (b.add(.maxPool, [x], shape: [1, 1, 3, 3], attributes: attributes(0)), 9)
        }
        XCTAssertEqual(max.values, [1, 2, 2, 3, 4, 4, 3, 4, 4])
        let exclude = try interpret(inputShape: [1, 1, 2, 2], input: [1, 2, 3, 4]) { b, x in
            (b.add(.avgPool, [x], shape: [1, 1, 3, 3], attributes: attributes(0)), 9)
        }
        XCTAssertEqual(exclude.values, [1, 1.5, 2, 2, 2.5, 3, 3, 3.5, 4])
        let include = try interpret(inputShape: [1, 1, 2, 2], input: [1, 2, 3, 4]) { b, x in
            (b.add(.avgPool, [x], shape: [1, 1, 3, 3], attributes: attributes(1)), 9)
        }
        XCTAssertEqual(include.values, [0.25, 0.75, 0.5, 1, 2.5, 1.5, 0.75, 1.75, 1])
    }

    func testPoolingMatchesONNXDefinition() throws {
        var rng = SeededGenerator(seed: 71)
        var cases: [(c: Int, h: Int, w: Int, kh: Int, kw: Int, sh: Int, sw: Int, pads: (Int, Int, Int, Int))] = [
            (3, 8, 8, 2, 2, 2, 2, (0, 0, 0, 0)),
            (2, 7, 9, 3, 3, 2, 2, (1, 1, 1, 1)),
            (2, 13, 13, 3, 3, 1, 1, (1, 0, 2, 1)),
            (1, 6, 5, 3, 2, 3, 1, (2, 1, 0, 0)),
        ]
        for _ in 0..<20 {
            let kh = rng.int(1...4), kw = rng.int(1...4)
            cases.append((rng.int(1...3), rng.int(kh...12), rng.int(kw...12), kh, kw, rng.int(1...3), rng.int(1...3),
                          (rng.int(0...(kh - 1)), rng.int(0...(kw - 1)), rng.int(0...(kh - 1)), rng.int(0...(kw - 1)))))
        }
        for t in cases {
            let x = rng.uniforms(t.c * t.h * t.w, scale: 3)
            for (maximum, includePad) in [(true, false), (false, false), (false, true)] {
                let expected = Ref.pool(x.doubles, c: t.c, h: t.h, w: t.w, kh: t.kh, kw: t.kw, sh: t.sh, sw: t.sw,
                                        pads: (t.pads.0, t.pads.1, t.pads.2, t.pads.3), maximum: maximum, countIncludePad: includePad)
                let attributes: [Int32] = [t.kh, t.kw, t.sh, t.sw, t.pads.0, t.pads.1, t.pads.2, t.pads.3, includePad ? 1 : 0].map { Int32($0) }
                let label = "\(maximum ? "max" : "avg") x[\(t.c),\(t.h),\(t.w)] k \(t.kh)×\(t.kw) s \(t.sh)×\(t.sw) pads \(t.pads) includePad \(includePad)"
                let count = t.c * expected.ho * expected.wo
                guard count >= 2 else { continue }
                let out = try interpret(inputShape: [1, t.c, t.h, t.w], input: x) { b, input in
                    (b.add(maximum ? .maxPool : .avgPool, [input], shape: [1, t.c, expected.ho, expected.wo], attributes: attributes), count)
                }
                assertClose(out.values, expected.y, tolerance: 1e-6, label)
                XCTAssertEqual(out.model.operators[0].macs, 0)
            }
        }
    }

    func testGlobalAveragePoolBothOutputShapes() throws {
        // Hand: channel 0 = [1,2,3,4] → 2.5; channel 1 = [5,6,7,9] → 27/4 = 6.75.
        let hand = try interpret(inputShape: [1, 2, 2, 2], input: [1, 2, 3, 4, 5, 6, 7, 9]) { b, x in
            (b.add(.globalAvgPool, [x], shape: [1, 2]), 2)
        }
        XCTAssertEqual(hand.values, [2.5, 6.75])
        var rng = SeededGenerator(seed: 81)
        for (shape, outShape) in [([1, 5, 7, 9], [1, 5]), ([1, 6, 13, 13], [1, 6, 1, 1]), ([1, 3, 1, 1], [1, 3])] {
            let x = rng.uniforms(Ref.count(shape), scale: 2)
            let expected = Ref.globalAveragePool(x.doubles, c: shape[1], spatial: shape[2] * shape[3])
            let out = try interpret(inputShape: shape, input: x) { b, input in (b.add(.globalAvgPool, [input], shape: outShape), shape[1]) }
            assertClose(out.values, expected, tolerance: 1e-6, "global average pool \(shape)")
        }
    }

    // MARK: Softmax

    func testHandWorkedSoftmax() throws {
        // softmax([0, ln 3]) = [1/(1+3), 3/(1+3)] = [0.25, 0.75];
        // softmax([1,2,3]) = [e⁻², e⁻¹, 1] / (e⁻²+e⁻¹+1) = [0.135335, 0.367879, 1] / 1.503215
        //                  = [0.0900306, 0.2447285, 0.6652410]; equal inputs give 1/n.
        let out = try interpret(inputShape: [1, 2], input: [0, Float(log(3.0))]) { b, x in
            (b.add(.softmax, [x], shape: [1, 2], attributes: [1]), 2)
        }
        XCTAssertEqual(out.values[0], 0.25, accuracy: 1e-7)
        XCTAssertEqual(out.values[1], 0.75, accuracy: 1e-7)
        let three = try interpret(inputShape: [1, 3], input: [1, 2, 3]) { b, x in (b.add(.softmax, [x], shape: [1, 3], attributes: [1]), 3) }
        for (value, expected) in zip(three.values, [0.0900306, 0.2447285, 0.6652410]) { XCTAssertEqual(Double(value), expected, accuracy: 1e-6) }
        let flat = try interpret(inputShape: [1, 4], input: [7, 7, 7, 7]) { b, x in (b.add(.softmax, [x], shape: [1, 4], attributes: [1]), 4) }
        XCTAssertEqual(flat.values, [0.25, 0.25, 0.25, 0.25])
        // Max subtraction: huge logits must not overflow: softmax([1000, 1000 + ln 3]) = [0.25, 0.75].
        let huge = try interpret(inputShape: [1, 2], input: [1000, 1000 + Float(log(3.0))]) { b, x in
            (b.add(.softmax, [x], shape: [1, 2], attributes: [1]), 2)
        }
        XCTAssertEqual(huge.values[0], 0.25, accuracy: 1e-4) // ln 3 is rounded to the float spacing at 1000 (6e-5)
        XCTAssertEqual(huge.values[0] + huge.values[1], 1, accuracy: 1e-6)
    }

    func testSoftmaxOverEachAxisOfARank3Tensor() throws {
        var rng = SeededGenerator(seed: 91)
        let shape = [3, 4, 5]
        let x = rng.uniforms(60, scale: 4)
        for axis in 0..<3 {
            let expected = Ref.softmax(x.doubles, shape: shape, axis: axis)
            let out = try interpret(inputShape: shape, input: x) { b, input in
                (b.add(.softmax, [input], shape: shape, attributes: [Int32(axis)]), 60)
            }
            assertClose(out.values, expected, tolerance: 1e-6, "softmax axis \(axis)")
            XCTAssertEqual(out.model.operators[0].axis, axis)
            var outer = 1, inner = 1
            for a in 0..<axis { outer *= shape[a] }
            for a in (axis + 1)..<3 { inner *= shape[a] }
            let memory = KernelMemory()
            let y = memory.output(60)
            FloatKernels.softmax(memory.input(x), y: y, outer: outer, n: shape[axis], inner: inner)
            assertClose(memory.read(y, 60), expected, tolerance: 1e-6, "softmax kernel axis \(axis)")
        }
    }

    // MARK: Data movement

    func testHandWorkedTranspose() throws {
        // [[1,2,3],[4,5,6]] with permutation [1,0] → [[1,4],[2,5],[3,6]].
        let out = try interpret(inputShape: [2, 3], input: [1, 2, 3, 4, 5, 6]) { b, x in
            (b.add(.transpose, [x], shape: [3, 2], attributes: [1, 0]), 6)
        }
        XCTAssertEqual(out.values, [1, 4, 2, 5, 3, 6])
    }

    static func permutations(_ n: Int) -> [[Int]] {
        if n == 1 { return [[0]] }
        return permutations(n - 1).flatMap { p in (0...p.count).map { i in var q = p; q.insert(n - 1, at: i); return q } }
    }

    func testTransposeEveryPermutationOfRank3And4() throws {
        var rng = SeededGenerator(seed: 101)
        for shape in [[2, 3, 4], [2, 3, 4, 5]] {
            let x = rng.uniforms(Ref.count(shape), scale: 1)
            let perms = Self.permutations(shape.count)
            XCTAssertEqual(perms.count, shape.count == 3 ? 6 : 24)
            for perm in perms {
                let expected = Ref.transpose(x.doubles, shape: shape, perm: perm)
                let memory = KernelMemory()
                let y = memory.output(x.count)
                var words = perm.map { Int32($0) }
                while words.count < 12 { words.append(0) }
                DataMovement.transpose(memory.input(x), y: y, input: TensorShape(shape), permutation: words)
                XCTAssertEqual(memory.read(y, x.count).doubles, expected.y, "transpose kernel \(shape) by \(perm)")
                let out = try interpret(inputShape: shape, input: x) { b, input in
                    (b.add(.transpose, [input], shape: expected.shape, attributes: perm.map { Int32($0) }), x.count)
                }
                XCTAssertEqual(out.values.doubles, expected.y, "transpose end to end \(shape) by \(perm)")
            }
        }
    }

    func testReshapeKeepsRowMajorOrder() throws {
        // Reshape [2,12] → [3,8] then transpose [1,0]: element (i,j) of the [8,3] result is
        // flat element 8·j + i of the input.
        let x = (0..<24).map { Float($0) }
        let out = try interpret(inputShape: [2, 12], input: x) { b, input in
            let r = b.add(.reshape, [input], shape: [3, 8])
            return (b.add(.transpose, [r], shape: [8, 3], attributes: [1, 0]), 24)
        }
        let expected = (0..<24).map { Float(8 * ($0 % 3) + $0 / 3) }
        XCTAssertEqual(out.values, expected)
        let chain = try interpret(inputShape: [1, 2, 3, 4], input: x) { b, input in
            let r1 = b.add(.reshape, [input], shape: [4, 6])
            let r2 = b.add(.reshape, [r1], shape: [24])
            return (b.add(.reshape, [r2], shape: [2, 2, 2, 3]), 24)
        }
        XCTAssertEqual(chain.values, x)
        XCTAssertEqual(chain.model.totalMACs, 1 * 24) // only the gate's fully connected [1,24]·[24] counts
    }

    func testHandWorkedConcat() throws {
        // [[1,2],[3,4]] ++ [[5],[6]] on axis 1 → [[1,2,5],[3,4,6]]; on axis 0 with [[7,8]] → [[1,2],[3,4],[7,8]].
        let columns = try interpret(inputShape: [2, 2], input: [1, 2, 3, 4]) { b, x in
            (b.add(.concat, [x, b.addConstant([5, 6], shape: [2, 1])], shape: [2, 3], attributes: [1]), 6)
        }
        XCTAssertEqual(columns.values, [1, 2, 5, 3, 4, 6])
        let rows = try interpret(inputShape: [2, 2], input: [1, 2, 3, 4]) { b, x in
            (b.add(.concat, [x, b.addConstant([7, 8], shape: [1, 2])], shape: [3, 2], attributes: [0]), 6)
        }
        XCTAssertEqual(rows.values, [1, 2, 3, 4, 7, 8])
    }

    func testConcatOnEachAxisMatchesNaiveLoop() throws {
        var rng = SeededGenerator(seed: 111)
        let base = [2, 3, 4, 5]
        for axis in 0..<4 {
            var shapes = [base, base, base]
            shapes[1][axis] = 1
            shapes[2][axis] = 3
            let values = shapes.map { rng.uniforms(Ref.count($0), scale: 1) }
            let expected = Ref.concat(values.map { $0.doubles }, shapes: shapes, axis: axis)
            // The activation in the middle, constants on either side, the activation repeated.
            let out = try interpret(inputShape: shapes[1], input: values[1]) { b, x in
                let first = b.addConstant(values[0], shape: shapes[0]), last = b.addConstant(values[2], shape: shapes[2])
                return (b.add(.concat, [first, x, last], shape: expected.shape, attributes: [Int32(axis)]), expected.y.count)
            }
            XCTAssertEqual(out.values.doubles, expected.y, "concat axis \(axis)")
            var twiceShape = shapes[1]
            twiceShape[axis] *= 2
            let twice = Ref.concat([values[1].doubles, values[1].doubles], shapes: [shapes[1], shapes[1]], axis: axis)
            let repeated = try interpret(inputShape: shapes[1], input: values[1]) { b, x in
                (b.add(.concat, [x, x], shape: twiceShape, attributes: [Int32(axis)]), twice.y.count)
            }
            XCTAssertEqual(repeated.values.doubles, twice.y, "concat of a tensor with itself, axis \(axis)")
        }
    }

    /// Every operator kind went through Model + Interpreter at least once in this file.
    func testEveryOperatorKindHasAnEndToEndCase() throws {
        // One model containing every kind, checked against the reference executor.
        var rng = SeededGenerator(seed: 121)
        var b = ModelBuilder()
        let x = b.addInput(shape: [1, 2, 6, 6])
        let conv = b.add(.conv2d, [x, b.addConstant(rng.uniforms(4 * 2 * 9, scale: 0.5), shape: [4, 2, 3, 3])], shape: [1, 4, 6, 6],
                         attributes: Ref.Conv(kh: 3, kw: 3, padTop: 1, padLeft: 1, padBottom: 1, padRight: 1).attributes)
        let bn = b.add(.batchNorm, [conv, b.addConstant(rng.uniforms(4, scale: 1), shape: [4]), b.addConstant(rng.uniforms(4, scale: 1), shape: [4])],
                       shape: [1, 4, 6, 6], activation: .relu)
        let mul = b.add(.mul, [bn, b.addConstant(rng.uniforms(4, scale: 1), shape: [1, 4, 1, 1])], shape: [1, 4, 6, 6])
        let added = b.add(.add, [mul, conv], shape: [1, 4, 6, 6])
        let maxPooled = b.add(.maxPool, [added], shape: [1, 4, 3, 3], attributes: [2, 2, 2, 2, 0, 0, 0, 0, 0])
        let avgPooled = b.add(.avgPool, [added], shape: [1, 4, 3, 3], attributes: [3, 3, 2, 2, 1, 1, 0, 0, 1])
        let joined = b.add(.concat, [maxPooled, avgPooled], shape: [1, 8, 3, 3], attributes: [1])
        let relu = b.add(.relu, [joined], shape: [1, 8, 3, 3])
        let flat = b.add(.reshape, [relu], shape: [1, 8, 9])
        let soft = b.add(.softmax, [flat], shape: [1, 8, 9], attributes: [2])
        let t = b.add(.transpose, [flat], shape: [1, 9, 8], attributes: [0, 2, 1])
        let mm = b.add(.matmul, [soft, t], shape: [1, 8, 8])
        let s = b.add(.sigmoid, [mm], shape: [1, 8, 8])
        let gap = b.add(.globalAvgPool, [relu], shape: [1, 8])
        // The operators added for ONNX import breadth.
        func word(_ v: Float) -> Int32 { Int32(bitPattern: v.bitPattern) }
        let map = [1, 8, 3, 3]
        let six = b.add(.clip, [joined], shape: map, attributes: [word(0), word(6)])
        let swish = b.add(.hardSwish, [six], shape: map)
        let hsig = b.add(.hardSigmoid, [swish], shape: map, attributes: [word(0.2), word(0.5)])
        let leaky = b.add(.leakyRelu, [joined], shape: map, attributes: [word(0.1)])
        let padded = b.add(.pad, [leaky], shape: [1, 8, 5, 5], attributes: [0, 0, 1, 1, 0, 0, 1, 1, 0, word(0.5)])
        let up = b.add(.resize, [padded], shape: [1, 8, 10, 10], attributes: [1, 0, 0, word(2), word(2)])
        let cut = b.add(.slice, [up], shape: map, attributes: [0, 0, 1, 2, 1, 1, 3, 3])
        let peak = b.add(.reduceMax, [cut], shape: [1, 8, 1, 1], attributes: [0b1100])
        let wide = b.add(.expand, [peak], shape: map)
        let spread = b.add(.sub, [wide, hsig], shape: map)
        let ratio = b.add(.div, [spread, b.addConstant(rng.uniforms(8, scale: 0.5).map { $0 < 0 ? $0 - 1 : $0 + 1 }, shape: [1, 8, 1, 1])], shape: map)
        let summed = b.add(.reduceSum, [ratio], shape: [1, 8], attributes: [0b1100])
        let pooled = b.add(.add, [gap, summed], shape: [1, 8])
        let feats = b.add(.reshape, [s], shape: [1, 64])
        let logits = b.add(.fullyConnected, [feats, b.addConstant(rng.uniforms(5 * 64, scale: 0.3), shape: [5, 64])], shape: [1, 5])
        let g = b.add(.fullyConnected, [pooled, b.addConstant(rng.uniforms(8, scale: 0.3), shape: [1, 8])], shape: [1, 1])
        let gate = b.add(.tanh, [g], shape: [1, 1])
        b.addExit(logits: logits, gate: gate)
        let model = try Model(bytes: b.serialize())
        XCTAssertEqual(Set(model.operators.map { $0.kind }), Set(OperatorKind.allCases))
        let input = rng.uniforms(72, scale: 1)
        let interpreter = Interpreter(model: model)
        _ = try interpreter.run(input)
        let reference = ReferenceExecutor(model: model).run(input)
        assertClose(Array(interpreter.logits(exit: 0)), reference[logits]!, "logits")
        XCTAssertEqual(Double(interpreter.gate(exit: 0)), reference[gate]![0], accuracy: 1e-5)
        XCTAssertEqual(model.totalMACs, model.operators.reduce(0) { $0 + Ref.macs(of: $1, in: model) })
    }
}
