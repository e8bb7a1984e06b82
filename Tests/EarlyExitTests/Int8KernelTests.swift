// The int8 kernels end to end (ModelBuilder → Model → Interpreter.run(int8)) against
// 1. naive reference loops written here from TensorFlow Lite Micro's int8 reference kernels,
//    in plain Int64 arithmetic with gemmlowp's literal rounding formulas: outputs must be
//    bit-exact;
// 2. float references computed in Double from the dequantized int8 inputs: the dequantized
//    int8 output must lie within a stated bound (in output LSBs) of the float value clamped
//    to the output's representable range. The bounds used:
//      - one requantization (conv, fully connected, matmul, mul, batch norm): 0.5 LSB for the
//        final rounding plus, with TFLite's double rounding, at most 0.5 LSB more from the
//        intermediate SaturatingRoundingDoublingHighMul rounding → 1 LSB (0.5 + 1e-6 with
//        single rounding); the multiplier's own error (2^-31 relative) is far below that;
//      - add: the two input rescalings round at 2^-20 of an input LSB (negligible) plus the
//        output's double rounding → 1 LSB + 1e-3;
//      - average pools, global average pool: one rounding of a mean → 0.5 LSB; max pool 0;
//      - tanh / sigmoid tables: 0.5 LSB (the table is the rounded function);
//      - softmax: 0.5 LSB for the rounding plus (n + 1)·2^-21 / s_out LSB for the Q20
//        exponential table entries and the rounded 2^8/s_out (≈ 0.1 LSB at n = 784).
// Data-movement operators (relu, transpose, concat) are compared exactly with index loops.
@testable import EarlyExit
import EarlyExitTools
import Foundation
import XCTest

/// Reference arithmetic and model scaffolding for the int8 tests. Nothing here calls the
/// runtime's kernels or its FixedPoint helpers (except `FixedPoint.quantizeMultiplier` to
/// produce parameters, as a converter would).
enum Int8KernelFixtures {
    // MARK: TFLite reference arithmetic, Int64

    /// gemmlowp's SaturatingRoundingDoublingHighMul, literally: (a·b + nudge) / 2^31 with
    /// C's truncating division, nudge = a·b ≥ 0 ? 2^30 : 1 − 2^30; a = b = INT32_MIN saturates.
    static func srdhm(_ a: Int64, _ b: Int64) -> Int64 {
        if a == Int64(Int32.min) && b == Int64(Int32.min) { return Int64(Int32.max) }
        let ab = a * b
        let nudge: Int64 = ab >= 0 ? 1 << 30 : 1 - (1 << 30)
        return (ab + nudge) / (Int64(1) << 31)
    }

    /// gemmlowp's RoundingDivideByPOT: round to nearest, ties away from zero.
    static func roundingDivideByPOT(_ x: Int64, _ exponent: Int64) -> Int64 {
        let mask = (Int64(1) << exponent) - 1
        let remainder = x & mask
        let threshold = (mask >> 1) + (x < 0 ? 1 : 0)
        return (x >> exponent) + (remainder > threshold ? 1 : 0)
    }

    /// TFLite's MultiplyByQuantizedMultiplier (double rounding) or its TFLITE_SINGLE_ROUNDING form.
    static func multiply(_ x: Int64, _ multiplier: Int32, _ shift: Int32, singleRounding: Bool = false) -> Int64 {
        if singleRounding {
            let total = 31 - Int64(shift)
            return (x * Int64(multiplier) + (Int64(1) << (total - 1))) >> total
        }
        let left = max(Int64(shift), 0), right = max(-Int64(shift), 0)
        // `x * (1 << left_shift)` is int32 in C++ (wraps when it overflows).
        let shifted = Int64(Int32(truncatingIfNeeded: x * (Int64(1) << left)))
        return roundingDivideByPOT(srdhm(shifted, Int64(multiplier)), right)
    }

    /// TFLite's output stage: multiply, + output zero point, clamp to [lo, hi].
    static func requantize(_ acc: Int64, _ multiplier: Int32, _ shift: Int32, zeroPoint: Int32, lo: Int32 = -128, hi: Int32 = 127,
                           singleRounding: Bool = false) -> Int8 {
        let value = multiply(acc, multiplier, shift, singleRounding: singleRounding) + Int64(zeroPoint)
        return Int8(min(max(value, Int64(lo)), Int64(hi)))
    }

    /// TFLite's pooling division: half away from zero.
    static func roundedDivision(_ sum: Int64, _ count: Int64) -> Int64 {
        sum > 0 ? (sum + count / 2) / count : (sum - count / 2) / count
    }

    // MARK: Random data

    static func uniform(_ rng: inout SeededGenerator, _ low: Double, _ high: Double) -> Double {
        low + (high - low) * Double(rng.next() >> 11) / Double(1 << 53)
    }

    static func integer(_ rng: inout SeededGenerator, _ range: ClosedRange<Int>) -> Int {
        range.lowerBound + Int(rng.next() % UInt64(range.count))
    }

    static func int8s(_ rng: inout SeededGenerator, _ count: Int, _ range: ClosedRange<Int> = -128...127) -> [Int8] {
        (0..<count).map { _ in Int8(integer(&rng, range)) }
    }

    // MARK: Model scaffolding

    static func perTensor(_ scale: Float, _ zeroPoint: Int32) -> Quantization {
        Quantization(kind: .perTensor, scale: scale, zeroPoint: zeroPoint, axis: 0, channelScalesOffset: 0)
    }

    static let perChannel = Quantization(kind: .perChannel, scale: 0, zeroPoint: 0, axis: 0, channelScalesOffset: 0)

    static func bytes(_ values: [Int8]) -> [UInt8] { values.map { UInt8(bitPattern: $0) } }

    static func bytes(_ values: [Int32]) -> [UInt8] {
        var out: [UInt8] = []
        for value in values { for i in 0..<4 { out.append(UInt8(truncatingIfNeeded: UInt32(bitPattern: value) >> (8 * UInt32(i)))) } }
        return out
    }

    static func int32Constant(_ b: inout ModelBuilder, _ values: [Int32]) -> Int {
        b.addConstant(bytes: bytes(values), dataType: .int32, shape: [values.count])
    }

    static func int8Constant(_ b: inout ModelBuilder, _ values: [Int8], shape: [Int], _ q: Quantization, channelScales: [Float] = []) -> Int {
        b.addConstant(bytes: bytes(values), dataType: .int8, shape: shape, quantization: q, channelScales: channelScales)
    }

    /// Adds a trivial exit reading `y`: (reshape to [1, N] when the batch is not 1, then) a
    /// zero-weight fully connected [1, 2] as logits and a zero-weight fully connected [1, 1]
    /// as the gate. Returns the tensor that holds y's values after the run: y itself (the
    /// last operator still reads it, so its memory is not reused) or its reshaped copy.
    static func addTrivialExit(_ b: inout ModelBuilder, reading y: Int, shape: [Int]) -> Int {
        let n = shape.reduce(1, *)
        var feed = y
        if shape[0] != 1 {
            feed = b.addActivation(shape: [1, n], dataType: .int8, quantization: b.quantization(of: y))
            b.addOperator(.reshape, inputs: [y], output: feed)
        }
        func head(_ outputs: Int) -> Int {
            let w = int8Constant(&b, [Int8](repeating: 0, count: outputs * n), shape: [outputs, n], perTensor(1, 0))
            let zeros = int32Constant(&b, [Int32](repeating: 0, count: outputs))
            let out = b.addActivation(shape: [1, outputs], dataType: .int8, quantization: perTensor(0.1, 0))
            b.addOperator(.fullyConnected, inputs: [feed, w, zeros, zeros, zeros], output: out)
            return out
        }
        let logits = head(2)
        let gate = head(1)
        b.addExit(logits: logits, gate: gate)
        return feed
    }

    /// Builds `input → body → trivial exit`, loads the model with the runtime's validator,
    /// runs it on the int8 input with `run(_: UnsafeBufferPointer<Int8>)` and returns the
    /// int8 values of the tensor `body` returned, read from the arena.
    static func run(inputShape: [Int], input: [Int8], quantization: Quantization, kernels: KernelSet? = nil,
                    _ body: (inout ModelBuilder, Int) throws -> (tensor: Int, shape: [Int])) throws -> (values: [Int8], model: Model) {
        var b = ModelBuilder()
        let x = b.addInput(shape: inputShape, dataType: .int8, quantization: quantization)
        let (y, shape) = try body(&b, x)
        let read = addTrivialExit(&b, reading: y, shape: shape)
        let model = try Model(bytes: try b.serialize(), kernels: kernels)
        let interpreter = Interpreter(model: model)
        let summary = try input.withUnsafeBufferPointer { try interpreter.run($0) }
        XCTAssertEqual(summary.exitIndex, 0)
        let count = shape.reduce(1, *)
        return (Array(UnsafeBufferPointer(start: interpreter.int8s(read), count: count)), model)
    }

    /// An output scale and zero point covering ~90% of the real values' range, so that a few
    /// outputs saturate at each end.
    static func outputParameters(_ real: [Double]) -> (scale: Float, zeroPoint: Int32) {
        let low = min(real.min() ?? 0, 0), high = max(real.max() ?? 1, 0)
        let scale = Float(max(high - low, 1e-6) * 0.9 / 255)
        let zeroPoint = Int32(max(-128, min(127, (-128 - 0.95 * low / Double(scale)).rounded())))
        return (scale, zeroPoint)
    }

    /// The largest |dequantized output − float reference| in output LSBs, the reference being
    /// clamped to the representable range [s·(lo − zp), s·(hi − zp)].
    static func floatError(_ actual: [Int8], _ real: [Double], scale: Float, zeroPoint: Int32, lo: Int32 = -128, hi: Int32 = 127) -> Double {
        let s = Double(scale)
        var worst = 0.0
        for (q, r) in zip(actual, real) {
            let clamped = min(max(r, s * Double(lo - zeroPoint)), s * Double(hi - zeroPoint))
            worst = max(worst, abs(s * Double(Int32(q) - zeroPoint) - clamped) / s)
        }
        return worst
    }

    /// Describes the first mismatch of two int8 arrays, or nil when they are equal.
    static func firstMismatch(_ actual: [Int8], _ expected: [Int8]) -> String? {
        if actual.count != expected.count { return "count \(actual.count) vs \(expected.count)" }
        let bad = (0..<actual.count).filter { actual[$0] != expected[$0] }
        guard let first = bad.first else { return nil }
        return "\(bad.count) of \(actual.count) differ; first at \(first): \(actual[first]) vs reference \(expected[first])"
    }
}

final class Int8KernelTests: XCTestCase {
    typealias F = Int8KernelFixtures

    // MARK: Convolution

    struct ConvSpec: CustomStringConvertible {
        var cin, h, w, cout: Int
        var kh = 3, kw = 3, sh = 1, sw = 1
        var pads = (0, 0, 0, 0) // top, left, bottom, right
        var dh = 1, dw = 1, groups = 1
        var relu = false
        var singleRounding = false
        var path: ConvolutionPath

        var out: (Int, Int) {
            ((h + pads.0 + pads.2 - (dh * (kh - 1) + 1)) / sh + 1, (w + pads.1 + pads.3 - (dw * (kw - 1) + 1)) / sw + 1)
        }
        var attributes: [Int32] {
            [kh, kw, sh, sw, pads.0, pads.1, pads.2, pads.3, dh, dw, groups, singleRounding ? 1 : 0].map { Int32($0) }
        }
        var description: String {
            "x[1,\(cin),\(h),\(w)] cout \(cout) k\(kh)×\(kw) s\(sh)×\(sw) pad \(pads) d\(dh)×\(dw) g\(groups) relu \(relu) single \(singleRounding)"
        }
    }

    static var convSpecs: [ConvSpec] { [
        // The GEMM works in blocks of 4 channels × 3 pixels × 8 taps; the cases below cover
        // channel, pixel and tap remainders of every size.
        // pointwise: 169 and 49 outputs (169 % 3 = 1), Cout 7 and 6 (not multiples of 4)
        ConvSpec(cin: 5, h: 13, w: 13, cout: 7, kh: 1, kw: 1, path: .pointwise),
        ConvSpec(cin: 3, h: 7, w: 7, cout: 6, kh: 1, kw: 1, relu: true, singleRounding: true, path: .pointwise),
        ConvSpec(cin: 16, h: 4, w: 8, cout: 8, kh: 1, kw: 1, path: .pointwise), // whole channel blocks, K = 16, 32 % 3 = 2
        ConvSpec(cin: 20, h: 4, w: 4, cout: 9, kh: 1, kw: 1, relu: true, path: .pointwise), // K = 20 (tail 4), 16 % 3 = 1
        ConvSpec(cin: 12, h: 7, w: 5, cout: 9, pads: (1, 1, 1, 1), path: .im2col), // K = 108 (tail 4), 35 % 3 = 2, Cout 9
        // 3×3 pad 1 with Cin 3: K = 27 (odd tail); 9×11 = 99 outputs; Cout 5
        ConvSpec(cin: 3, h: 9, w: 11, cout: 5, pads: (1, 1, 1, 1), relu: true, path: .im2col),
        ConvSpec(cin: 3, h: 16, w: 16, cout: 8, pads: (1, 1, 1, 1), path: .im2col), // 256 outputs, K = 27
        // stride 2, asymmetric padding; Cout 6
        ConvSpec(cin: 4, h: 15, w: 14, cout: 6, sh: 2, sw: 2, pads: (0, 1, 2, 0), path: .im2col),
        ConvSpec(cin: 3, h: 13, w: 13, cout: 7, kh: 5, kw: 5, sh: 2, sw: 2, pads: (2, 2, 2, 2), singleRounding: true, path: .im2col),
        ConvSpec(cin: 3, h: 9, w: 11, cout: 5, kh: 1, kw: 1, sh: 2, sw: 2, path: .im2col), // 1×1 stride 2
        ConvSpec(cin: 2, h: 10, w: 10, cout: 3, pads: (2, 2, 2, 2), dh: 2, dw: 2, relu: true, path: .im2col), // dilation 2
        // depthwise 3×3 stride 2 pad 1, and stride 1 with single rounding
        ConvSpec(cin: 5, h: 11, w: 9, cout: 5, sh: 2, sw: 2, pads: (1, 1, 1, 1), groups: 5, relu: true, path: .depthwise),
        ConvSpec(cin: 6, h: 8, w: 7, cout: 6, pads: (1, 1, 1, 1), groups: 6, singleRounding: true, path: .depthwise),
        // grouped: 2 groups; depthwise with channel multiplier 2 (grouped path)
        ConvSpec(cin: 4, h: 7, w: 8, cout: 6, pads: (1, 1, 1, 1), groups: 2, path: .grouped),
        ConvSpec(cin: 3, h: 6, w: 9, cout: 6, pads: (0, 1, 1, 0), groups: 3, relu: true, path: .grouped),
        // odd corners: K = 1 (Cin 1 pointwise), Cout 1, 1×3 and 3×1 kernels, stride 3 > kernel,
        // depthwise with dilation, K = 576 (Cin 64, 3×3)
        ConvSpec(cin: 1, h: 5, w: 7, cout: 3, kh: 1, kw: 1, path: .pointwise),
        ConvSpec(cin: 4, h: 9, w: 9, cout: 1, pads: (1, 1, 1, 1), path: .im2col),
        ConvSpec(cin: 3, h: 6, w: 11, cout: 5, kh: 1, kw: 3, pads: (0, 1, 0, 1), relu: true, path: .im2col),
        ConvSpec(cin: 2, h: 10, w: 5, cout: 4, kh: 3, kw: 1, sh: 3, sw: 3, path: .im2col),
        ConvSpec(cin: 4, h: 9, w: 9, cout: 4, pads: (2, 2, 2, 2), dh: 2, dw: 2, groups: 4, path: .depthwise),
        ConvSpec(cin: 64, h: 5, w: 6, cout: 5, pads: (1, 1, 1, 1), path: .im2col),
        // One input channel (a grayscale stem): rows copied from a padded plane, runs of 3 four
        // bytes at a time (kernel height 4: the rows are exactly 12 bytes, the last run spills
        // into the next row), other widths byte by byte; dilation reads the table instead.
        ConvSpec(cin: 1, h: 12, w: 11, cout: 16, pads: (1, 1, 1, 1), relu: true, path: .im2col),
        ConvSpec(cin: 1, h: 11, w: 9, cout: 7, sh: 2, sw: 3, pads: (0, 2, 2, 1), path: .im2col),
        ConvSpec(cin: 1, h: 9, w: 8, cout: 5, kh: 4, kw: 3, pads: (3, 0, 2, 2), singleRounding: true, path: .im2col),
        ConvSpec(cin: 1, h: 6, w: 13, cout: 9, kh: 2, kw: 7, sw: 2, pads: (1, 3, 0, 3), relu: true, path: .im2col),
        ConvSpec(cin: 1, h: 10, w: 10, cout: 6, pads: (2, 2, 2, 2), dh: 2, dw: 2, path: .im2col),
        // At most 16 outputs, stride 1 (AVX-512 VNNI: the pixel-lanes kernel): rows of 27 (a vector
        // and a tail of 11), asymmetric kernels and padding, a flattened pointwise map of 49 pixels,
        // 2 / 3 / 5 / 16 accumulators, single rounding, input channels not a multiple of 4.
        ConvSpec(cin: 16, h: 20, w: 27, cout: 16, pads: (1, 1, 1, 1), relu: true, path: .im2col),
        ConvSpec(cin: 8, h: 9, w: 21, cout: 5, kh: 3, kw: 2, pads: (1, 0, 2, 1), path: .im2col),
        ConvSpec(cin: 12, h: 7, w: 7, cout: 2, kh: 1, kw: 1, path: .pointwise),
        ConvSpec(cin: 6, h: 6, w: 18, cout: 3, pads: (1, 1, 1, 1), singleRounding: true, path: .im2col),
        ConvSpec(cin: 1, h: 28, w: 28, cout: 16, pads: (1, 1, 1, 1), relu: true, path: .im2col), // the bundled stem's shape
        ConvSpec(cin: 1, h: 7, w: 9, cout: 7, kh: 4, kw: 4, pads: (2, 1, 1, 2), singleRounding: true, path: .im2col), // 16 taps
        ConvSpec(cin: 32, h: 5, w: 31, cout: 12, kh: 1, kw: 3, pads: (0, 1, 0, 1), relu: true, singleRounding: true, path: .im2col),
        // 64 and more outputs (4-vector tiles of 6 rows): last tiles of 1, 5, 2 and 3 rows, a
        // partial last column block (70 = 64 + 6), single rounding.
        ConvSpec(cin: 16, h: 7, w: 7, cout: 64, pads: (1, 1, 1, 1), relu: true, path: .im2col),
        ConvSpec(cin: 8, h: 5, w: 7, cout: 70, pads: (1, 1, 1, 1), path: .im2col),
        ConvSpec(cin: 12, h: 4, w: 5, cout: 128, pads: (1, 1, 1, 1), singleRounding: true, path: .im2col),
        ConvSpec(cin: 20, h: 5, w: 5, cout: 64, path: .im2col), // 3×3 outputs
    ] }

    func testConvolutionsAreBitExactWithTheReferenceAndWithinOneLSBOfFloat() throws {
        var worstFloat = 0.0
        for (index, spec) in Self.convSpecs.enumerated() {
            var rng = SeededGenerator(seed: 0xC0 + UInt64(index))
            let (ho, wo) = spec.out
            let inPerGroup = spec.cin / spec.groups, outPerGroup = spec.cout / spec.groups
            let taps = inPerGroup * spec.kh * spec.kw
            let sx = Float(F.uniform(&rng, 0.02, 0.05)), zpx = Int32(F.integer(&rng, -20...20))
            let x = F.int8s(&rng, spec.cin * spec.h * spec.w)
            let w = F.int8s(&rng, spec.cout * taps, -127...127)
            let sw = (0..<spec.cout).map { _ in Float(F.uniform(&rng, 0.002, 0.02)) }
            let bias = (0..<spec.cout).map { _ in Int32(F.integer(&rng, -2000...2000)) }

            // Reference accumulators: acc = bias + Σ (x − zp_x)·w over the valid taps.
            var acc = [Int64](repeating: 0, count: spec.cout * ho * wo)
            var real = [Double](repeating: 0, count: acc.count)
            for co in 0..<spec.cout {
                let group = co / outPerGroup
                for oy in 0..<ho {
                    for ox in 0..<wo {
                        var sum = Int64(bias[co])
                        var floatSum = Double(sx) * Double(sw[co]) * Double(bias[co])
                        for cj in 0..<inPerGroup {
                            let ci = group * inPerGroup + cj
                            for ky in 0..<spec.kh {
                                let iy = oy * spec.sh - spec.pads.0 + ky * spec.dh
                                if iy < 0 || iy >= spec.h { continue }
                                for kx in 0..<spec.kw {
                                    let ix = ox * spec.sw - spec.pads.1 + kx * spec.dw
                                    if ix < 0 || ix >= spec.w { continue }
                                    let xv = Int64(x[(ci * spec.h + iy) * spec.w + ix]) - Int64(zpx)
                                    let wv = Int64(w[((co * inPerGroup + cj) * spec.kh + ky) * spec.kw + kx])
                                    sum += xv * wv
                                    floatSum += (Double(sx) * Double(xv)) * (Double(sw[co]) * Double(wv))
                                }
                            }
                        }
                        acc[(co * ho + oy) * wo + ox] = sum
                        real[(co * ho + oy) * wo + ox] = floatSum
                    }
                }
            }
            let (sy, zpy) = F.outputParameters(real)
            let requant = (0..<spec.cout).map { FixedPoint.quantizeMultiplier(Double(sx) * Double(sw[$0]) / Double(sy)) }
            let lo: Int32 = spec.relu ? max(-128, zpy) : -128
            let expected = acc.indices.map { i -> Int8 in
                let c = i / (ho * wo)
                return F.requantize(acc[i], requant[c].multiplier, requant[c].shift, zeroPoint: zpy, lo: lo, singleRounding: spec.singleRounding)
            }

            // Every kernel set this CPU supports: the portable Int16 GEMM, AVX2 vpmaddwd, AVX-VNNI and
            // AVX-512 VNNI (the native paths take the convolutions with one group).
            var actual: [Int8] = []
            for kernels in KernelPathTests.kernelSets {
                let (values, model) = try F.run(inputShape: [1, spec.cin, spec.h, spec.w], input: x, quantization: F.perTensor(sx, zpx),
                                                kernels: kernels) { b, input in
                    let wt = F.int8Constant(&b, w, shape: [spec.cout, inPerGroup, spec.kh, spec.kw], F.perChannel, channelScales: sw)
                    let inputs = [input, wt, F.int32Constant(&b, bias), F.int32Constant(&b, requant.map(\.multiplier)),
                                  F.int32Constant(&b, requant.map(\.shift))]
                    let y = b.addActivation(shape: [1, spec.cout, ho, wo], dataType: .int8, quantization: F.perTensor(sy, zpy))
                    b.addOperator(.conv2d, inputs: inputs, output: y, attributes: spec.attributes, activation: spec.relu ? .relu : .none)
                    return (y, [1, spec.cout, ho, wo])
                }
                // Native kernels: image-to-column when the input has fewer channels than the kernel's
                // group (4 for VNNI, 2 for vpmaddwd), else the implicit GEMM (pointwise stays).
                let native = spec.groups == 1 && kernels.int8 != .portable && kernels.int8 != .neonDotProduct
                let group = kernels.int8 == .avx2 ? 2 : 4
                let nativePath: ConvolutionPath = spec.path == .pointwise ? .pointwise : spec.cin < group ? .im2col : .implicitGEMM
                XCTAssertEqual(model.convolutionPath(of: 0), native ? nativePath : spec.path, "\(spec) \(kernels.name)")
                XCTAssertEqual(model.operators[0].macs, spec.cout * ho * wo * taps, "\(spec)")
                // (runs of output pixels, rows or a flattened pointwise map, that fill 3/4 of their vectors)
                // One input channel: the tap planes, a flattened map, up to 16 taps.
                let run = spec.cin == 1 || (spec.kh == 1 && spec.kw == 1 && spec.pads == (0, 0, 0, 0)) ? ho * wo : wo
                let pixelLanes = kernels.int8 == .avx512VNNI && spec.groups == 1 && spec.sh == 1 && spec.sw == 1 && spec.dh == 1
                    && spec.dw == 1 && (spec.cin >= 4 || (spec.cin == 1 && spec.kh * spec.kw <= 16)) && spec.cout <= 16
                    && (spec.cout <= 8 || run * 4 >= (run + 15) / 16 * 16 * 3)
                XCTAssertEqual(model.int8PixelLanes(of: 0), pixelLanes, "\(spec) \(kernels.name)")
                XCTAssertNil(F.firstMismatch(values, expected), "\(spec) \(kernels.name)")
                actual = values
            }
            // The case must exercise clamping at both ends and unclamped values.
            XCTAssertTrue(actual.contains(127) && actual.contains(Int8(lo)), "\(spec): saturation not exercised")
            let error = F.floatError(actual, real, scale: sy, zeroPoint: zpy, lo: lo)
            XCTAssertLessThanOrEqual(error, spec.singleRounding ? 0.5 + 1e-6 : 1.0, "\(spec): float error in LSB")
            worstFloat = max(worstFloat, error)
        }
        print("int8 conv2d: \(Self.convSpecs.count) geometries bit-exact; worst |int8 − float| = \(worstFloat) LSB")
    }

    /// Padding reads the input zero point (the real 0): a constant input equal to the zero
    /// point gives bias-only outputs everywhere, including the border.
    func testConvolutionPaddingIsTheRealZero() throws {
        let zpx: Int32 = 37, sx: Float = 0.03
        let x = [Int8](repeating: Int8(zpx), count: 3 * 6 * 5)
        let w: [Int8] = (0..<108).map { (i: Int) -> Int8 in Int8((i * 7) % 255 - 127) }
        let bias: [Int32] = [100, -240, 0, 3000]
        let (m, s) = FixedPoint.quantizeMultiplier(0.05)
        let (actual, _) = try F.run(inputShape: [1, 3, 6, 5], input: x, quantization: F.perTensor(sx, zpx)) { b, input in
            let wt = F.int8Constant(&b, w, shape: [4, 3, 3, 3], F.perChannel, channelScales: [Float](repeating: 0.01, count: 4))
            let y = b.addActivation(shape: [1, 4, 6, 5], dataType: .int8, quantization: F.perTensor(0.0006, -3))
            b.addOperator(.conv2d, inputs: [input, wt, F.int32Constant(&b, bias), F.int32Constant(&b, [Int32](repeating: m, count: 4)),
                                            F.int32Constant(&b, [Int32](repeating: s, count: 4))],
                          output: y, attributes: [3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0])
            return (y, [1, 4, 6, 5])
        }
        // 0.05 · bias − 3: 5 − 3, −12 − 3, 0 − 3, 150 − 3 → saturates at 127.
        for (c, value) in [Int8(2), -15, -3, 127].enumerated() {
            XCTAssertEqual(Array(actual[(c * 30)..<((c + 1) * 30)]), [Int8](repeating: value, count: 30), "channel \(c)")
        }
    }

    // MARK: Fully connected

    func testFullyConnectedIsBitExactForInputsNotMultipleOf16() throws {
        let cases: [(shape: [Int], outputs: Int, relu: Bool, single: Bool)] = [
            ([1, 37], 7, false, false), ([1, 3, 3, 3], 10, true, false), ([1, 21], 5, false, true),
            ([1, 64], 9, false, false), ([1, 5], 3, true, true), ([1, 2, 4, 4], 13, false, false),
            ([1, 300], 4, false, false), ([1, 1, 1, 17], 6, false, true),
        ]
        var worstFloat = 0.0
        for (index, c) in cases.enumerated() {
            var rng = SeededGenerator(seed: 0xFC + UInt64(index))
            let n = c.shape.reduce(1, *)
            let sx = Float(F.uniform(&rng, 0.02, 0.05)), zpx = Int32(F.integer(&rng, -20...20))
            let x = F.int8s(&rng, n)
            let w = F.int8s(&rng, c.outputs * n, -127...127)
            let sw = (0..<c.outputs).map { _ in Float(F.uniform(&rng, 0.002, 0.02)) }
            let bias = (0..<c.outputs).map { _ in Int32(F.integer(&rng, -3000...3000)) }
            var acc = [Int64](repeating: 0, count: c.outputs), real = [Double](repeating: 0, count: c.outputs)
            for o in 0..<c.outputs {
                acc[o] = Int64(bias[o])
                real[o] = Double(sx) * Double(sw[o]) * Double(bias[o])
                for i in 0..<n {
                    acc[o] += (Int64(x[i]) - Int64(zpx)) * Int64(w[o * n + i])
                    real[o] += Double(sx) * Double(Int32(x[i]) - zpx) * Double(sw[o]) * Double(w[o * n + i])
                }
            }
            let (sy, zpy) = F.outputParameters(real)
            let requant = (0..<c.outputs).map { FixedPoint.quantizeMultiplier(Double(sx) * Double(sw[$0]) / Double(sy)) }
            let lo: Int32 = c.relu ? max(-128, zpy) : -128
            let expected = (0..<c.outputs).map {
                F.requantize(acc[$0], requant[$0].multiplier, requant[$0].shift, zeroPoint: zpy, lo: lo, singleRounding: c.single)
            }
            let (actual, model) = try F.run(inputShape: c.shape, input: x, quantization: F.perTensor(sx, zpx)) { b, input in
                let wt = F.int8Constant(&b, w, shape: [c.outputs, n], F.perChannel, channelScales: sw)
                let y = b.addActivation(shape: [1, c.outputs], dataType: .int8, quantization: F.perTensor(sy, zpy))
                b.addOperator(.fullyConnected, inputs: [input, wt, F.int32Constant(&b, bias), F.int32Constant(&b, requant.map(\.multiplier)),
                                                        F.int32Constant(&b, requant.map(\.shift))],
                              output: y, attributes: [c.single ? 1 : 0], activation: c.relu ? .relu : .none)
                return (y, [1, c.outputs])
            }
            XCTAssertEqual(model.operators[0].macs, c.outputs * n)
            XCTAssertNil(F.firstMismatch(actual, expected), "fully connected \(c)")
            let error = F.floatError(actual, real, scale: sy, zeroPoint: zpy, lo: lo)
            XCTAssertLessThanOrEqual(error, c.single ? 0.5 + 1e-6 : 1.0, "fully connected \(c): float error in LSB")
            worstFloat = max(worstFloat, error)
        }
        print("int8 fully_connected: \(cases.count) cases bit-exact; worst |int8 − float| = \(worstFloat) LSB")
    }

    /// Real multipliers above 1 (shift > 0: TFLite's left shift before the high multiply),
    /// for fully connected and a pointwise convolution, double and single rounding.
    func testRequantizationMultipliersAboveOne() throws {
        for (index, single) in [false, true].enumerated() {
            var rng = SeededGenerator(seed: 0x1A + UInt64(index))
            let n = 6, outputs = 5
            let sx: Float = 0.02, zpx: Int32 = 4
            let x = (0..<n).map { _ in Int8(F.integer(&rng, 1...7)) } // x − zp in −3...3
            let w = F.int8s(&rng, outputs * n, -5...5)
            let bias = (0..<outputs).map { _ in Int32(F.integer(&rng, -20...20)) }
            let sy: Float = 0.0001, zpy: Int32 = -6
            // s_w[c] = factor · s_y / s_x: real multipliers s_x·s_w[c]/s_y = factor in 1.2...3.5
            let sw = (0..<outputs).map { _ in Float(F.uniform(&rng, 1.2, 3.5) * Double(sy) / Double(sx)) }
            let requant = (0..<outputs).map { FixedPoint.quantizeMultiplier(Double(sx) * Double(sw[$0]) / Double(sy)) }
            XCTAssertTrue(requant.allSatisfy { $0.shift > 0 }, "multipliers above one: \(requant)")
            var expected: [Int8] = []
            for o in 0..<outputs {
                var acc = Int64(bias[o])
                for i in 0..<n { acc += (Int64(x[i]) - Int64(zpx)) * Int64(w[o * n + i]) }
                expected.append(F.requantize(acc, requant[o].multiplier, requant[o].shift, zeroPoint: zpy, singleRounding: single))
            }
            XCTAssertTrue(expected.contains { $0 > -128 && $0 < 127 }, "some outputs must not saturate: \(expected)")
            for asConvolution in [false, true] {
                let shape = asConvolution ? [1, n, 1, 1] : [1, n]
                let (actual, _) = try F.run(inputShape: shape, input: x, quantization: F.perTensor(sx, zpx)) { b, input in
                    let wt = F.int8Constant(&b, w, shape: asConvolution ? [outputs, n, 1, 1] : [outputs, n], F.perChannel, channelScales: sw)
                    let outShape = asConvolution ? [1, outputs, 1, 1] : [1, outputs]
                    let y = b.addActivation(shape: outShape, dataType: .int8, quantization: F.perTensor(sy, zpy))
                    let inputs = [input, wt, F.int32Constant(&b, bias), F.int32Constant(&b, requant.map(\.multiplier)),
                                  F.int32Constant(&b, requant.map(\.shift))]
                    b.addOperator(asConvolution ? .conv2d : .fullyConnected, inputs: inputs, output: y,
                                  attributes: asConvolution ? [1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, single ? 1 : 0] : [single ? 1 : 0])
                    return (y, outShape)
                }
                XCTAssertNil(F.firstMismatch(actual, expected), "multiplier > 1, convolution \(asConvolution), single rounding \(single)")
            }
        }
    }

    // MARK: Matmul

    func testMatmulWithBatchBroadcastIsBitExact() throws {
        // (lhs shape, rhs shape, which operand is the model input)
        let cases: [([Int], [Int], Bool)] = [
            ([2, 5, 24], [1, 24, 7], true), // rhs broadcast over the batch
            ([1, 2, 3, 8], [2, 1, 8, 5], true), // both broadcast, rank 4
            ([3, 4, 6], [1, 6, 9], false), // lhs constant, rhs the input
            ([1, 17, 33], [1, 33, 18], true), // plain, odd sizes
        ]
        var worstFloat = 0.0
        for (index, (lhs, rhs, inputIsLHS)) in cases.enumerated() {
            var rng = SeededGenerator(seed: 0x3A + UInt64(index))
            let sa = Float(F.uniform(&rng, 0.02, 0.05)), za = Int32(F.integer(&rng, -20...20))
            let sb = Float(F.uniform(&rng, 0.02, 0.05)), zb = Int32(F.integer(&rng, -20...20))
            let a = F.int8s(&rng, lhs.reduce(1, *)), bValues = F.int8s(&rng, rhs.reduce(1, *))
            let rank = lhs.count
            let m = lhs[rank - 2], k = lhs[rank - 1], n = rhs[rank - 1]
            var outShape: [Int] = []
            for axis in 0..<(rank - 2) { outShape.append(max(lhs[axis], rhs[axis])) }
            outShape += [m, n]
            let batch = outShape.dropLast(2).reduce(1, *)
            var acc = [Int64](), real = [Double]()
            func offset(_ shape: [Int], _ batchIndex: Int) -> Int {
                // Broadcast batch index → the operand's own batch index (row-major).
                var rest = batchIndex, flat = 0, step = 1
                for axis in stride(from: rank - 3, through: 0, by: -1) {
                    let i = rest % outShape[axis]
                    rest /= outShape[axis]
                    flat += (shape[axis] == 1 ? 0 : i) * step
                    step *= shape[axis]
                }
                return flat * shape[rank - 2] * shape[rank - 1]
            }
            for t in 0..<batch {
                let ao = offset(lhs, t), bo = offset(rhs, t)
                for i in 0..<m {
                    for j in 0..<n {
                        var sum: Int64 = 0
                        var floatSum = 0.0
                        for p in 0..<k {
                            let av = Int64(a[ao + i * k + p]) - Int64(za), bv = Int64(bValues[bo + p * n + j]) - Int64(zb)
                            sum += av * bv
                            floatSum += Double(sa) * Double(av) * Double(sb) * Double(bv)
                        }
                        acc.append(sum)
                        real.append(floatSum)
                    }
                }
            }
            let (sy, zpy) = F.outputParameters(real)
            let (mult, shift) = FixedPoint.quantizeMultiplier(Double(sa) * Double(sb) / Double(sy))
            let expected = acc.map { F.requantize($0, mult, shift, zeroPoint: zpy) }
            let (actual, model) = try F.run(inputShape: inputIsLHS ? lhs : rhs, input: inputIsLHS ? a : bValues,
                                            quantization: inputIsLHS ? F.perTensor(sa, za) : F.perTensor(sb, zb)) { b, input in
                let other = inputIsLHS ? F.int8Constant(&b, bValues, shape: rhs, F.perTensor(sb, zb))
                                       : F.int8Constant(&b, a, shape: lhs, F.perTensor(sa, za))
                let y = b.addActivation(shape: outShape, dataType: .int8, quantization: F.perTensor(sy, zpy))
                b.addOperator(.matmul, inputs: inputIsLHS ? [input, other] : [other, input], output: y, attributes: [mult, shift])
                return (y, outShape)
            }
            XCTAssertEqual(model.operators[0].macs, batch * m * n * k)
            XCTAssertNil(F.firstMismatch(actual, expected), "matmul \(lhs) × \(rhs)")
            let error = F.floatError(actual, real, scale: sy, zeroPoint: zpy)
            XCTAssertLessThanOrEqual(error, 1.0, "matmul \(lhs) × \(rhs): float error in LSB")
            worstFloat = max(worstFloat, error)
        }
        print("int8 matmul: \(cases.count) cases bit-exact; worst |int8 − float| = \(worstFloat) LSB")
    }

    // MARK: Element-wise with broadcasting

    /// Index of `out`-shaped position `flat` in a broadcast operand of `shape` (right-aligned).
    static func broadcastIndex(_ flat: Int, out: [Int], shape: [Int]) -> Int {
        var rest = flat, index = 0, step = 1
        for axis in stride(from: out.count - 1, through: 0, by: -1) {
            let i = rest % out[axis]
            rest /= out[axis]
            let own = axis - (out.count - shape.count)
            if own >= 0 {
                index += (shape[own] == 1 ? 0 : i) * step
                step *= shape[own]
            }
        }
        return index
    }

    /// NumPy broadcasting of two shapes (right-aligned; 1 stretches).
    static func broadcastShape(_ a: [Int], _ b: [Int]) -> [Int] {
        let rank = max(a.count, b.count)
        return (0..<rank).map { axis in
            let x = axis < rank - a.count ? 1 : a[axis - (rank - a.count)]
            let y = axis < rank - b.count ? 1 : b[axis - (rank - b.count)]
            return max(x, y)
        }
    }

    struct BinaryCase {
        var inputShape: [Int]
        var constantShape: [Int]?
        var constantFirst = false
        var relu = false
    }

    static var binaryCases: [BinaryCase] { [
        BinaryCase(inputShape: [1, 4, 5, 6], constantShape: [1, 4, 1, 6]),
        BinaryCase(inputShape: [1, 4, 5, 6], constantShape: [1, 1, 5, 1], constantFirst: true, relu: true),
        BinaryCase(inputShape: [1, 3, 7], constantShape: [7]),
        BinaryCase(inputShape: [1, 2, 3, 5], constantShape: nil), // x ∘ x
        BinaryCase(inputShape: [1, 3, 4, 5], constantShape: [1, 3, 4, 5], relu: true), // same shapes: the unbroadcast loop
        BinaryCase(inputShape: [1, 1, 1, 6], constantShape: [1, 3, 4, 1], relu: true), // both sides broadcast
    ] }

    /// Runs a binary operator (`add` or `mul`) on (input, constant) and returns everything the references need.
    func runBinary(_ kind: OperatorKind, _ c: BinaryCase, seed: UInt64,
                   attributes: (_ sa: Float, _ sb: Float, _ sy: Float) -> [Int32],
                   reference: (_ a: Int64, _ b: Int64, _ attributes: [Int32], _ za: Int32, _ zb: Int32, _ zy: Int32, _ lo: Int32) -> Int8,
                   realValue: (Double, Double) -> Double) throws -> (actual: [Int8], expected: [Int8], real: [Double], sy: Float, zpy: Int32, lo: Int32) {
        var rng = SeededGenerator(seed: seed)
        let sx = Float(F.uniform(&rng, 0.02, 0.06)), zpx = Int32(F.integer(&rng, -20...20))
        let sc = Float(F.uniform(&rng, 0.01, 0.08)), zpc = Int32(F.integer(&rng, -20...20))
        let x = F.int8s(&rng, c.inputShape.reduce(1, *))
        let constant = F.int8s(&rng, (c.constantShape ?? [1]).reduce(1, *))
        let (aShape, bShape) = c.constantShape.map { c.constantFirst ? ($0, c.inputShape) : (c.inputShape, $0) } ?? (c.inputShape, c.inputShape)
        let out = Self.broadcastShape(aShape, bShape)
        let aValues = c.constantShape != nil && c.constantFirst ? constant : x
        let bValues = c.constantShape == nil ? x : (c.constantFirst ? x : constant)
        let (sa, za) = c.constantShape != nil && c.constantFirst ? (sc, zpc) : (sx, zpx)
        let (sb, zb) = c.constantShape == nil ? (sx, zpx) : (c.constantFirst ? (sx, zpx) : (sc, zpc))
        let count = out.reduce(1, *)
        let real = (0..<count).map { i -> Double in
            let a = Double(sa) * Double(Int32(aValues[Self.broadcastIndex(i, out: out, shape: aShape)]) - za)
            let b = Double(sb) * Double(Int32(bValues[Self.broadcastIndex(i, out: out, shape: bShape)]) - zb)
            return realValue(a, b)
        }
        let (sy, zpy) = F.outputParameters(real)
        let words = attributes(sa, sb, sy)
        let lo: Int32 = c.relu ? max(-128, zpy) : -128
        let expected = (0..<count).map { i in
            reference(Int64(aValues[Self.broadcastIndex(i, out: out, shape: aShape)]), Int64(bValues[Self.broadcastIndex(i, out: out, shape: bShape)]),
                      words, za, zb, zpy, lo)
        }
        let (actual, _) = try F.run(inputShape: c.inputShape, input: x, quantization: F.perTensor(sx, zpx)) { b, input in
            var inputs = [input, input]
            if let shape = c.constantShape {
                let k = F.int8Constant(&b, constant, shape: shape, F.perTensor(sc, zpc))
                inputs = c.constantFirst ? [k, input] : [input, k]
            }
            let y = b.addActivation(shape: out, dataType: .int8, quantization: F.perTensor(sy, zpy))
            b.addOperator(kind, inputs: inputs, output: y, attributes: words, activation: c.relu ? .relu : .none)
            return (y, out)
        }
        return (actual, expected, real, sy, zpy, lo)
    }

    func testAddWithBroadcastIsBitExactWithTFLiteAdd() throws {
        var worstFloat = 0.0
        for (index, c) in Self.binaryCases.enumerated() {
            // TFLite's int8 add parameters: left shift 20, inputs rescaled to 2·max(s_a, s_b).
            let result = try runBinary(.add, c, seed: 0xADD + UInt64(index), attributes: { sa, sb, sy in
                let twiceMax = 2 * max(Double(sa), Double(sb))
                let (m1, s1) = FixedPoint.quantizeMultiplier(Double(sa) / twiceMax)
                let (m2, s2) = FixedPoint.quantizeMultiplier(Double(sb) / twiceMax)
                let (mo, so) = FixedPoint.quantizeMultiplier(twiceMax / (Double(1 << 20) * Double(sy)))
                return [20, m1, s1, m2, s2, mo, so]
            }, reference: { a, b, p, za, zb, zy, lo in
                // tflite::reference_integer_ops::AddElementwise
                let scaledA = F.multiply((a - Int64(za)) * (1 << Int64(p[0])), p[1], p[2])
                let scaledB = F.multiply((b - Int64(zb)) * (1 << Int64(p[0])), p[3], p[4])
                let raw = F.multiply(scaledA + scaledB, p[5], p[6]) + Int64(zy)
                return Int8(min(max(raw, Int64(lo)), 127))
            }, realValue: +)
            XCTAssertNil(F.firstMismatch(result.actual, result.expected), "add case \(index)")
            let error = F.floatError(result.actual, result.real, scale: result.sy, zeroPoint: result.zpy, lo: result.lo)
            XCTAssertLessThanOrEqual(error, 1.0 + 1e-3, "add case \(index): float error in LSB")
            worstFloat = max(worstFloat, error)
        }
        print("int8 add: \(Self.binaryCases.count) cases bit-exact; worst |int8 − float| = \(worstFloat) LSB")
    }

    func testMulWithBroadcastIsBitExact() throws {
        var worstFloat = 0.0
        for (index, c) in Self.binaryCases.enumerated() where !c.relu { // mul has no fused activation
            let result = try runBinary(.mul, c, seed: 0x301 + UInt64(index), attributes: { sa, sb, sy in
                let (m, s) = FixedPoint.quantizeMultiplier(Double(sa) * Double(sb) / Double(sy))
                return [m, s]
            }, reference: { a, b, p, za, zb, zy, _ in
                F.requantize((a - Int64(za)) * (b - Int64(zb)), p[0], p[1], zeroPoint: zy)
            }, realValue: *)
            XCTAssertNil(F.firstMismatch(result.actual, result.expected), "mul case \(index)")
            let error = F.floatError(result.actual, result.real, scale: result.sy, zeroPoint: result.zpy)
            XCTAssertLessThanOrEqual(error, 1.0, "mul case \(index): float error in LSB")
            worstFloat = max(worstFloat, error)
        }
        print("int8 mul: bit-exact; worst |int8 − float| = \(worstFloat) LSB")
    }

    // MARK: Batch normalization

    func testBatchNormIsBitExactPerChannel() throws {
        let cases: [(shape: [Int], relu: Bool, single: Bool)] = [([1, 6, 5, 7], false, false), ([1, 5, 3, 3], true, false),
                                                                  ([1, 10], false, true), ([1, 4, 9], true, true)]
        var worstFloat = 0.0
        for (index, c) in cases.enumerated() {
            var rng = SeededGenerator(seed: 0xB0 + UInt64(index))
            let channels = c.shape[1], spatial = c.shape.reduce(1, *) / channels
            let sx = Float(F.uniform(&rng, 0.02, 0.05)), zpx = Int32(F.integer(&rng, -20...20))
            let x = F.int8s(&rng, c.shape.reduce(1, *))
            let w = F.int8s(&rng, channels, -127...127)
            let sw = (0..<channels).map { _ in Float(F.uniform(&rng, 0.005, 0.02)) }
            let bias = (0..<channels).map { _ in Int32(F.integer(&rng, -3000...3000)) }
            var acc = [Int64](), real = [Double]()
            for ch in 0..<channels {
                for i in 0..<spatial {
                    let xv = Int64(x[ch * spatial + i]) - Int64(zpx)
                    acc.append(xv * Int64(w[ch]) + Int64(bias[ch]))
                    real.append(Double(sx) * Double(xv) * Double(sw[ch]) * Double(w[ch]) + Double(sx) * Double(sw[ch]) * Double(bias[ch]))
                }
            }
            let (sy, zpy) = F.outputParameters(real)
            let requant = (0..<channels).map { FixedPoint.quantizeMultiplier(Double(sx) * Double(sw[$0]) / Double(sy)) }
            let lo: Int32 = c.relu ? max(-128, zpy) : -128
            let expected = acc.indices.map { i -> Int8 in
                let ch = i / spatial
                return F.requantize(acc[i], requant[ch].multiplier, requant[ch].shift, zeroPoint: zpy, lo: lo, singleRounding: c.single)
            }
            let (actual, model) = try F.run(inputShape: c.shape, input: x, quantization: F.perTensor(sx, zpx)) { b, input in
                let scale = F.int8Constant(&b, w, shape: [channels], F.perChannel, channelScales: sw)
                let y = b.addActivation(shape: c.shape, dataType: .int8, quantization: F.perTensor(sy, zpy))
                b.addOperator(.batchNorm, inputs: [input, scale, F.int32Constant(&b, bias), F.int32Constant(&b, requant.map(\.multiplier)),
                                                   F.int32Constant(&b, requant.map(\.shift))],
                              output: y, attributes: [c.single ? 1 : 0], activation: c.relu ? .relu : .none)
                return (y, c.shape)
            }
            XCTAssertEqual(model.operators[0].macs, c.shape.reduce(1, *))
            XCTAssertNil(F.firstMismatch(actual, expected), "batch norm \(c)")
            let error = F.floatError(actual, real, scale: sy, zeroPoint: zpy, lo: lo)
            XCTAssertLessThanOrEqual(error, c.single ? 0.5 + 1e-6 : 1.0, "batch norm \(c): float error in LSB")
            worstFloat = max(worstFloat, error)
        }
        print("int8 batch_norm: \(cases.count) cases bit-exact; worst |int8 − float| = \(worstFloat) LSB")
    }

    // MARK: Lookup tables, relu

    func testTanhAndSigmoidTablesCoverEveryInt8Input() throws {
        for (kind, sx, zpx) in [(OperatorKind.tanh, Float(0.025), Int32(-7)), (.sigmoid, Float(0.06), Int32(11)), (.tanh, Float(0.004), Int32(0))] {
            let (sy, zpy): (Float, Int32) = kind == .tanh ? (1.0 / 128, 0) : (1.0 / 256, -128)
            func f(_ v: Double) -> Double { kind == .tanh ? Foundation.tanh(v) : 1 / (1 + Foundation.exp(-v)) }
            // TFLite's LUT construction: table[q + 128] = clamp(round(f(s_x·(q − zp_x)) / s_y) + zp_y).
            let table = (-128...127).map { q -> Int8 in
                let value = (f(Double(sx) * Double(Int32(q) - zpx)) / Double(sy)).rounded() + Double(zpy)
                return Int8(min(max(value, -128), 127))
            }
            // Every int8 value, in a scrambled order.
            let x = (0..<256).map { Int8(truncatingIfNeeded: ($0 * 173 + 29) & 0xFF) }
            XCTAssertEqual(Set(x).count, 256)
            let (actual, _) = try F.run(inputShape: [1, 256], input: x, quantization: F.perTensor(sx, zpx)) { b, input in
                let t = F.int8Constant(&b, table, shape: [256], F.perTensor(1, 0))
                let y = b.addActivation(shape: [1, 256], dataType: .int8, quantization: F.perTensor(sy, zpy))
                b.addOperator(kind, inputs: [input, t], output: y)
                return (y, [1, 256])
            }
            XCTAssertNil(F.firstMismatch(actual, x.map { table[Int($0) + 128] }), "\(kind.name)")
            let real = x.map { f(Double(sx) * Double(Int32($0) - zpx)) }
            XCTAssertLessThanOrEqual(F.floatError(actual, real, scale: sy, zeroPoint: zpy), 0.5 + 1e-9, "\(kind.name): float error in LSB")
        }
    }

    func testReluClampsAtTheZeroPoint() throws {
        var rng = SeededGenerator(seed: 0x4E1)
        let shape = [1, 3, 5, 7]
        for zp in [Int32(-7), 0, 45, -128] {
            let x = F.int8s(&rng, 105)
            let q = F.perTensor(0.02, zp)
            let (actual, _) = try F.run(inputShape: shape, input: x, quantization: q) { b, input in
                let y = b.addActivation(shape: shape, dataType: .int8, quantization: q)
                b.addOperator(.relu, inputs: [input], output: y)
                return (y, shape)
            }
            XCTAssertEqual(actual, x.map { Int32($0) < zp ? Int8(zp) : $0 }, "zero point \(zp)")
        }
    }

    // MARK: Pooling

    func testPoolsAreBitExactWithTFLitePooling() throws {
        // (input shape, kernel, stride, pads t l b r, max?, countIncludePad)
        let cases: [([Int], (Int, Int), (Int, Int), (Int, Int, Int, Int), Bool, Bool)] = [
            ([1, 3, 9, 10], (3, 3), (2, 2), (1, 1, 1, 1), true, false),
            ([1, 2, 8, 8], (2, 2), (2, 2), (0, 0, 0, 0), true, false),
            ([1, 3, 9, 10], (3, 3), (2, 2), (1, 1, 1, 1), false, false),
            ([1, 3, 9, 10], (3, 3), (2, 2), (1, 1, 1, 1), false, true),
            ([1, 2, 7, 6], (2, 3), (1, 2), (1, 0, 0, 2), false, true),
            ([1, 2, 7, 6], (2, 3), (1, 2), (1, 0, 0, 2), false, false),
            ([1, 4, 5, 5], (2, 2), (1, 1), (0, 0, 0, 0), false, false),
        ]
        var worstFloat = 0.0
        for (index, (shape, k, s, p, isMax, includePad)) in cases.enumerated() {
            var rng = SeededGenerator(seed: 0x9001 + UInt64(index))
            let zp = Int32(F.integer(&rng, -30...30)), scale = Float(0.03)
            let x = F.int8s(&rng, shape.reduce(1, *))
            let (c, h, w) = (shape[1], shape[2], shape[3])
            let ho = (h + p.0 + p.2 - k.0) / s.0 + 1, wo = (w + p.1 + p.3 - k.1) / s.1 + 1
            var expected: [Int8] = [], real: [Double] = []
            for ch in 0..<c {
                for oy in 0..<ho {
                    for ox in 0..<wo {
                        var best = Int64.min, sum: Int64 = 0, count: Int64 = 0
                        for ky in 0..<k.0 {
                            for kx in 0..<k.1 {
                                let iy = oy * s.0 - p.0 + ky, ix = ox * s.1 - p.1 + kx
                                if iy < 0 || iy >= h || ix < 0 || ix >= w {
                                    if includePad { sum += Int64(zp); count += 1 } // padding is the real 0 = zp
                                    continue
                                }
                                let v = Int64(x[(ch * h + iy) * w + ix])
                                best = max(best, v)
                                sum += v
                                count += 1
                            }
                        }
                        let q = isMax ? best : min(max(F.roundedDivision(sum, count), -128), 127)
                        expected.append(Int8(q))
                        real.append(isMax ? Double(scale) * Double(best - Int64(zp)) : Double(scale) * (Double(sum) / Double(count) - Double(zp)))
                    }
                }
            }
            let (actual, _) = try F.run(inputShape: shape, input: x, quantization: F.perTensor(scale, zp)) { b, input in
                let y = b.addActivation(shape: [1, c, ho, wo], dataType: .int8, quantization: F.perTensor(scale, zp))
                b.addOperator(isMax ? .maxPool : .avgPool, inputs: [input], output: y,
                              attributes: [k.0, k.1, s.0, s.1, p.0, p.1, p.2, p.3, includePad ? 1 : 0].map { Int32($0) })
                return (y, [1, c, ho, wo])
            }
            XCTAssertNil(F.firstMismatch(actual, expected), "pool case \(index)")
            let error = F.floatError(actual, real, scale: scale, zeroPoint: zp)
            XCTAssertLessThanOrEqual(error, isMax ? 0 : 0.5 + 1e-9, "pool case \(index): float error in LSB")
            worstFloat = max(worstFloat, error)
        }
        print("int8 pools: \(cases.count) cases bit-exact; worst |int8 − float| = \(worstFloat) LSB")
    }

    func testGlobalAveragePoolRoundsHalfAwayFromZero() throws {
        // Hand-made ties: channel means 1.5, −1.5, 2.5, −2.5, 0.5, −0.5 → 2, −2, 3, −3, 1, −1.
        let ties: [Int8] = [1, 2, -1, -2, 2, 3, -2, -3, 0, 1, 0, -1]
        let q = F.perTensor(0.05, 3)
        let (tieOutput, _) = try F.run(inputShape: [1, 6, 1, 2], input: ties, quantization: q) { b, input in
            let y = b.addActivation(shape: [1, 6], dataType: .int8, quantization: q)
            b.addOperator(.globalAvgPool, inputs: [input], output: y)
            return (y, [1, 6])
        }
        XCTAssertEqual(tieOutput, [2, -2, 3, -3, 1, -1])

        var rng = SeededGenerator(seed: 0x6A9)
        for shape in [[1, 5, 7, 9], [1, 16, 4, 4], [1, 3, 1, 1]] {
            let zp = Int32(F.integer(&rng, -30...30)), scale = Float(0.04)
            let x = F.int8s(&rng, shape.reduce(1, *))
            let spatial = shape[2] * shape[3]
            var expected: [Int8] = [], real: [Double] = []
            for c in 0..<shape[1] {
                var sum: Int64 = 0
                for i in 0..<spatial { sum += Int64(x[c * spatial + i]) }
                expected.append(Int8(min(max(F.roundedDivision(sum, Int64(spatial)), -128), 127)))
                real.append(Double(scale) * (Double(sum) / Double(spatial) - Double(zp)))
            }
            let (actual, _) = try F.run(inputShape: shape, input: x, quantization: F.perTensor(scale, zp)) { b, input in
                let y = b.addActivation(shape: [1, shape[1], 1, 1], dataType: .int8, quantization: F.perTensor(scale, zp))
                b.addOperator(.globalAvgPool, inputs: [input], output: y)
                return (y, [1, shape[1], 1, 1])
            }
            XCTAssertNil(F.firstMismatch(actual, expected), "global average pool \(shape)")
            XCTAssertLessThanOrEqual(F.floatError(actual, real, scale: scale, zeroPoint: zp), 0.5 + 1e-9, "global average pool \(shape)")
        }
    }

    // MARK: Softmax

    func testSoftmaxRowsOf784And10() throws {
        // (shape, input scale, output scale, output zero point)
        let cases: [([Int], Float, Float, Int32)] = [
            ([1, 2, 784], 0.05, 1.0 / 256, -128), // the spatial softmax of a 28×28 attention mask
            ([1, 3, 10], 0.1, 1.0 / 256, -128),
            ([1, 4, 10], 0.03, 1.0 / 255, -128), // 2^8/s_out not a power of two
            ([1, 1, 784], 0.2, 1.0 / 256, -128), // peaked: large scale saturates the maximum
        ]
        var worstFloat = 0.0
        for (index, (shape, sx, sy, zpy)) in cases.enumerated() {
            var rng = SeededGenerator(seed: 0x50F + UInt64(index))
            let zpx = Int32(F.integer(&rng, -10...10))
            let x = F.int8s(&rng, shape.reduce(1, *))
            // The runtime's documented int8 softmax: table[d] = round(2^20·exp(−s_x·d)), and
            // y = zp + round_half_up(table[max − x] · round(2^8/s_y) / (Σ table · 2^8)).
            let table = (0..<256).map { Int64((Foundation.exp(-Double(sx) * Double($0)) * 1_048_576).rounded()) }
            let inverse = Int64((256 / Double(sy)).rounded())
            let n = shape[shape.count - 1], rows = x.count / n
            var expected: [Int8] = [], real: [Double] = []
            for r in 0..<rows {
                let row = x[(r * n)..<((r + 1) * n)].map { Int64($0) }
                let largest = row.max()!
                let total = row.reduce(Int64(0)) { $0 + table[Int(largest - $1)] }
                let exact = row.map { Foundation.exp(Double(sx) * Double($0 - largest)) }
                let exactTotal = exact.reduce(0, +)
                for (v, e) in zip(row, exact) {
                    let numerator = table[Int(largest - v)] * inverse, denominator = total << 8
                    // round half up of numerator/denominator, both positive
                    let rounded = (2 * numerator + denominator) / (2 * denominator)
                    expected.append(Int8(min(max(Int64(zpy) + rounded, -128), 127)))
                    real.append(e / exactTotal)
                }
            }
            let (actual, _) = try F.run(inputShape: shape, input: x, quantization: F.perTensor(sx, zpx)) { b, input in
                let t = F.int32Constant(&b, table.map { Int32($0) })
                let y = b.addActivation(shape: shape, dataType: .int8, quantization: F.perTensor(sy, zpy))
                b.addOperator(.softmax, inputs: [input, t], output: y, attributes: [Int32(shape.count - 1), Int32(inverse)])
                return (y, shape)
            }
            XCTAssertNil(F.firstMismatch(actual, expected), "softmax \(shape)")
            let bound = 0.5 + Double(n + 1) / 2_097_152 / Double(sy) + 1e-9
            let error = F.floatError(actual, real, scale: sy, zeroPoint: zpy)
            XCTAssertLessThanOrEqual(error, bound, "softmax \(shape): float error in LSB")
            worstFloat = max(worstFloat, error)
            // Each row of probabilities sums to about 1: the integer outputs sum to about 1/s_y.
            for r in 0..<rows {
                let total = actual[(r * n)..<((r + 1) * n)].reduce(0.0) { $0 + Double(sy) * Double(Int32($1) - zpy) }
                XCTAssertEqual(total, 1, accuracy: Double(n) * Double(sy) * 0.51 + 1.0 / 255, "softmax \(shape) row \(r) sum")
            }
        }
        print("int8 softmax: \(cases.count) cases bit-exact; worst |int8 − float| = \(worstFloat) LSB")
    }

    /// `matmul(softmax(a), V)`: the interpreter runs it as one attention pooling from the
    /// softmax's input, so the masks are not rounded to int8 first. Checked against the real
    /// value Σ_p softmax(s_a·a)_p · s_v(v_p − z_v) computed in Double: within 1 LSB of the output
    /// plus the Q20 table's and the rounded 2^8/s_m's relative errors (below 1e-4 LSB here).
    /// The two-step int8 path (masks rounded to s_m, then the int8 matmul), computed here with
    /// the reference arithmetic, is several times further from the real value.
    func testAttentionPoolingKeepsTheMasksAtFullPrecision() throws {
        // (heads K, positions n, channels C, s_a, s_m): 28×28 and 14×14 masks, and a tiny one
        let cases: [(Int, Int, Int, Float, Float)] = [(2, 784, 16, 0.06, 1.0 / 2000), (3, 196, 9, 0.08, 1.0 / 700), (1, 5, 4, 0.3, 1.0 / 256)]
        for (index, (heads, n, channels, sa, sm)) in cases.enumerated() {
            var rng = SeededGenerator(seed: 0xA77 + UInt64(index))
            let za = Int32(F.integer(&rng, -10...10)), zm: Int32 = -128
            let sv = Float(F.uniform(&rng, 0.02, 0.05)), zv = Int32(F.integer(&rng, -20...20))
            let a = F.int8s(&rng, heads * n), v = F.int8s(&rng, n * channels)
            let table = (0..<256).map { Int32((Foundation.exp(-Double(sa) * Double($0)) * 1_048_576).rounded()) }
            let inverse = Int32((256 / Double(sm)).rounded())
            var real = [Double](), twoStepAccumulators = [Int64]()
            for k in 0..<heads {
                let row = a[(k * n)..<((k + 1) * n)].map { Int32($0) }
                let largest = row.max()!
                let exact = row.map { Foundation.exp(Double(sa) * Double($0 - largest)) }
                let total = exact.reduce(0, +)
                // The int8 masks the unfused path would produce (the softmax test's reference).
                let tableTotal = row.reduce(Int64(0)) { $0 + Int64(table[Int(largest - $1)]) }
                let masks = row.map { value -> Int64 in
                    let numerator = Int64(table[Int(largest - value)]) * Int64(inverse), denominator = tableTotal << 8
                    return min(max(Int64(zm) + (2 * numerator + denominator) / (2 * denominator), -128), 127) - Int64(zm)
                }
                for c in 0..<channels {
                    var sum = 0.0, twoStep: Int64 = 0
                    for p in 0..<n {
                        let centered = Int64(v[p * channels + c]) - Int64(zv)
                        sum += exact[p] / total * Double(sv) * Double(centered)
                        twoStep += masks[p] * centered
                    }
                    real.append(sum)
                    twoStepAccumulators.append(twoStep)
                }
            }
            let (sy, zpy) = F.outputParameters(real)
            let (mult, shift) = FixedPoint.quantizeMultiplier(Double(sm) * Double(sv) / Double(sy))
            let (actual, _) = try F.run(inputShape: [1, heads, n], input: a, quantization: F.perTensor(sa, za)) { b, input in
                let t = F.int32Constant(&b, table)
                let masks = b.addActivation(shape: [1, heads, n], dataType: .int8, quantization: F.perTensor(sm, zm))
                b.addOperator(.softmax, inputs: [input, t], output: masks, attributes: [2, inverse])
                let values = F.int8Constant(&b, v, shape: [1, n, channels], F.perTensor(sv, zv))
                let y = b.addActivation(shape: [1, heads, channels], dataType: .int8, quantization: F.perTensor(sy, zpy))
                b.addOperator(.matmul, inputs: [masks, values], output: y, attributes: [mult, shift])
                return (y, [1, heads, channels])
            }
            let fusedError = F.floatError(actual, real, scale: sy, zeroPoint: zpy)
            XCTAssertLessThanOrEqual(fusedError, 1.0001, "attention pooling K \(heads) n \(n): float error in LSB")
            let twoStep = twoStepAccumulators.map { F.requantize($0, mult, shift, zeroPoint: zpy) }
            let twoStepError = F.floatError(twoStep, real, scale: sy, zeroPoint: zpy)
            let s = Double(sy), lowest = s * Double(-128 - zpy), highest = s * Double(127 - zpy)
            let meanError = { (q: [Int8]) in
                zip(q, real).reduce(0.0) { $0 + abs(s * Double(Int32($1.0) - zpy) - min(max($1.1, lowest), highest)) } / Double(real.count) / s
            }
            print("attention pooling K \(heads) n \(n) C \(channels): fused worst \(fusedError) LSB, mean \(meanError(actual)); "
                  + "int8 masks worst \(twoStepError) LSB, mean \(meanError(twoStep))")
            if n >= 196 { XCTAssertLessThan(meanError(actual) * 2, meanError(twoStep), "the fused pooling should be much closer to the real value") }
        }
    }

    /// A softmax table is model data: an e^0 entry of 0 would make every row's sum 0 (a
    /// division by zero in the softmax and the attention pooling), entries above 2^24 could
    /// overflow the 64-bit sums. Both are load errors naming the operator and the entry.
    func testHostileSoftmaxTablesAreRejectedAtLoad() throws {
        let good = (0..<256).map { Int32((Foundation.exp(-0.05 * Double($0)) * 1_048_576).rounded()) }
        var zeroFirst = good; zeroFirst[0] = 0
        var huge = good; huge[7] = (1 << 24) + 1
        for (table, expected) in [(good, nil), (zeroFirst, "entry 0"), (huge, "entry 7"), ([Int32](repeating: 0, count: 256), "entry 0")] as [([Int32], String?)] {
            var b = ModelBuilder()
            let x = b.addInput(shape: [1, 2, 49], dataType: .int8, quantization: F.perTensor(0.05, 0))
            let t = F.int32Constant(&b, table)
            let y = b.addActivation(shape: [1, 2, 49], dataType: .int8, quantization: F.perTensor(1.0 / 256, -128))
            b.addOperator(.softmax, inputs: [x, t], output: y, attributes: [2, 65536])
            _ = F.addTrivialExit(&b, reading: y, shape: [1, 2, 49])
            // The builder validates what it serializes with the runtime's loader.
            if let expected {
                XCTAssertThrowsError(try Model(bytes: try b.serialize())) { error in
                    XCTAssertTrue("\(error)".contains(expected) && "\(error)".contains("operator 0"), "\(error)")
                }
            } else {
                XCTAssertNoThrow(try Model(bytes: try b.serialize()))
            }
        }
    }

    // MARK: Data movement

    func testTransposeAndConcatMoveInt8Exactly() throws {
        var rng = SeededGenerator(seed: 0x7A)
        let q = F.perTensor(0.02, -4)
        for (shape, permutation) in [([1, 3, 5, 7], [0, 2, 3, 1]), ([1, 4, 6], [0, 2, 1]), ([2, 3, 4, 5], [3, 1, 0, 2])] {
            let x = F.int8s(&rng, shape.reduce(1, *))
            let outShape = permutation.map { shape[$0] }
            var expected = [Int8](repeating: 0, count: x.count)
            for flat in 0..<x.count {
                // output index o: o[axis] = i[permutation[axis]]
                var rest = flat, index = [Int](repeating: 0, count: shape.count)
                for axis in stride(from: shape.count - 1, through: 0, by: -1) { index[axis] = rest % shape[axis]; rest /= shape[axis] }
                var o = 0
                for axis in 0..<shape.count { o = o * outShape[axis] + index[permutation[axis]] }
                expected[o] = x[flat]
            }
            let (actual, _) = try F.run(inputShape: shape, input: x, quantization: q) { b, input in
                let y = b.addActivation(shape: outShape, dataType: .int8, quantization: q)
                b.addOperator(.transpose, inputs: [input], output: y, attributes: permutation.map { Int32($0) })
                return (y, outShape)
            }
            XCTAssertEqual(actual, expected, "transpose \(shape) by \(permutation)")
        }
        // concat along axis 1 (input first) and axis 3 (constant first) and axis 0
        for (inputShape, constantShape, axis, constantFirst) in [([1, 2, 3, 4], [1, 3, 3, 4], 1, false), ([1, 2, 3, 4], [1, 2, 3, 5], 3, true),
                                                                 ([1, 6, 7], [1, 6, 2], 2, false)] {
            let x = F.int8s(&rng, inputShape.reduce(1, *)), k = F.int8s(&rng, constantShape.reduce(1, *))
            var outShape = inputShape
            outShape[axis] += constantShape[axis]
            let parts = constantFirst ? [(k, constantShape), (x, inputShape)] : [(x, inputShape), (k, constantShape)]
            let outer = inputShape[..<axis].reduce(1, *), inner = inputShape[(axis + 1)...].reduce(1, *)
            var expected: [Int8] = []
            for o in 0..<outer {
                for (values, shape) in parts {
                    let block = shape[axis] * inner
                    expected += values[(o * block)..<((o + 1) * block)]
                }
            }
            let (actual, _) = try F.run(inputShape: inputShape, input: x, quantization: q) { b, input in
                let c = F.int8Constant(&b, k, shape: constantShape, q)
                let y = b.addActivation(shape: outShape, dataType: .int8, quantization: q)
                b.addOperator(.concat, inputs: constantFirst ? [c, input] : [input, c], output: y, attributes: [Int32(axis)])
                return (y, outShape)
            }
            XCTAssertEqual(actual, expected, "concat \(inputShape) + \(constantShape) on axis \(axis)")
        }
    }

    // MARK: The reference arithmetic itself

    /// The Int64 transcription above against a few hand-computed TFLite values, so that the
    /// bit-exact comparisons rest on a checked reference.
    func testReferenceArithmeticHandValues() {
        // 0.5 = 2^30 · 2^(0 − 31). SaturatingRoundingDoublingHighMul rounds ties toward
        // +infinity: 5 · 0.5 = 2.5 → 3, −2.5 → −2.
        XCTAssertEqual(F.multiply(5, 1 << 30, 0), 3)
        XCTAssertEqual(F.multiply(-5, 1 << 30, 0), -2)
        // 0.25 = 2^30 · 2^(−1 − 31): RoundingDivideByPOT rounds ties away from zero:
        // 6 → 3 → 1.5 → 2; −6 → −3 → −1.5 → −2.
        XCTAssertEqual(F.multiply(6, 1 << 30, -1), 2)
        XCTAssertEqual(F.multiply(-6, 1 << 30, -1), -2)
        // Double rounding: 5 · 0.25 = 1.25, but 5 · 0.5 = 2.5 → 3 first, then 1.5 → 2.
        XCTAssertEqual(F.multiply(5, 1 << 30, -1), 2)
        // Single rounding rounds the exact product once, ties toward +infinity.
        XCTAssertEqual(F.multiply(5, 1 << 30, -1, singleRounding: true), 1)
        XCTAssertEqual(F.multiply(-6, 1 << 30, -1, singleRounding: true), -1)
        // (2^31 − 1)² / 2^31 = 2^31 − 2 + (1 + 2^30) / 2^31 → 2^31 − 2.
        XCTAssertEqual(F.multiply(Int64(Int32.max), Int32.max, 0), Int64(Int32.max) - 1)
        XCTAssertEqual(F.srdhm(Int64(Int32.min), Int64(Int32.min)), Int64(Int32.max))
        // A requantization multiplier > 1 (shift > 0): 3 · 1.5 = 4.5 → 5.
        let (m, s) = FixedPoint.quantizeMultiplier(1.5)
        XCTAssertEqual(s, 1)
        XCTAssertEqual(F.multiply(3, m, s), 5)
        XCTAssertEqual(F.roundedDivision(-7, 2), -4)
        XCTAssertEqual(F.roundedDivision(7, 2), 4)
        XCTAssertEqual(F.roundedDivision(-5, 3), -2)
    }
}
