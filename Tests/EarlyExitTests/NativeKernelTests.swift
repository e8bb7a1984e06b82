// The x86 C element-wise int8 kernels called directly, against FixedPoint's TFLite formulas:
// every pair of int8 inputs, parameters on both of the add's arithmetic forms (32-bit split
// products when the total left shift is 9…22, 64-bit products otherwise; in the split form, one
// input's rescale a plain product or not); the add's and the batch norm's affine forms.

import XCTest
@testable import EarlyExit
import EarlyExitTools
#if arch(x86_64)
import EarlyExitNativeKernels
#endif

final class NativeKernelTests: XCTestCase {
    func testInt8AddMatchesTFLiteOnEveryInputPair() throws {
        #if arch(x86_64)
        let paths = KernelSet.supported.map(\.int8).filter { $0 == .avx512VNNI || $0 == .avx2 }
        if paths.isEmpty { throw XCTSkip("no AVX2 on this CPU") }
        var rng = SeededGenerator(seed: 0xADD5)
        // (left shift, input shift a, input shift b): the usual TFLite form (20, ≤ 0), positive
        // input shifts inside and outside the split range, and a small left shift.
        let shapes: [(Int32, Int32, Int32)] = [(20, 0, -1), (20, -3, -7), (20, 2, 0), (12, -1, 3), (22, 1, 0), (5, 0, 0), (20, -31, 0),
                                                  (20, 0, -2), (20, -1, 0), (14, 0, -3)]
        let a = (0..<65536).map { Int8(truncatingIfNeeded: $0) }, b = (0..<65536).map { Int8(truncatingIfNeeded: $0 >> 8) }
        for (index, shape) in shapes.enumerated() {
            var ma = Int32.random(in: (1 << 30)...Int32.max, using: &rng), mb = Int32.random(in: (1 << 30)...Int32.max, using: &rng)
            // One input's rescale a plain product (low part 0, no right shift; AVX-512's shortcut):
            // TFLite's 2^30 for a, then for b, then another multiple of 2^(31 − S) for a.
            if index == 7 { ma = 1 << 30 } else if index == 8 { mb = 1 << 30 } else if index == 9 { ma = 3 << 28 }
            let mo = Int32.random(in: (1 << 30)...Int32.max, using: &rng)
            let so = Int32(-Int.random(in: 0...4, using: &rng)) - (20 - shape.0)
            let za = Int32.random(in: -128...127, using: &rng), zb = Int32.random(in: -128...127, using: &rng)
            let zo = Int32.random(in: -128...127, using: &rng)
            let minimum: Int32 = index % 2 == 0 ? -128 : max(-128, zo)
            var p = ee_qs8_add_parameters(left_shift: shape.0, zero_point_a: za, multiplier_a: ma, shift_a: shape.1,
                                          zero_point_b: zb, multiplier_b: mb, shift_b: shape.2, multiplier_out: mo,
                                          shift_out: so, zero_point_out: zo, minimum: minimum, maximum: 127)
            var expected = [Int8](repeating: 0, count: 65536)
            for i in 0..<65536 {
                let ra = FixedPoint.multiplyByQuantizedMultiplier((Int32(a[i]) - za) << shape.0, ma, shape.1)
                let rb = FixedPoint.multiplyByQuantizedMultiplier((Int32(b[i]) - zb) << shape.0, mb, shape.2)
                let raw = Int64(FixedPoint.multiplyByQuantizedMultiplier(ra &+ rb, mo, so)) + Int64(zo)
                expected[i] = Int8(min(max(raw, Int64(minimum)), 127))
            }
            for path in paths {
                var y = [Int8](repeating: 0, count: 65536 + 5)
                // Odd count: the scalar tail runs too.
                a.withUnsafeBufferPointer { pa in b.withUnsafeBufferPointer { pb in y.withUnsafeMutableBufferPointer { py in
                    Int8KernelTable.add(path, pa.baseAddress!, pb.baseAddress!, parameters: &p, y: py.baseAddress!, count: 65531)
                } } }
                let mismatch = (0..<65531).first { y[$0] != expected[$0] }
                XCTAssertNil(mismatch, "shape \(shape) \(path): first mismatch at \(mismatch.map { "(\(a[$0]), \(b[$0])): \(y[$0]) vs \(expected[$0])" } ?? "")")
            }
        }
        #else
        throw XCTSkip("x86-64 kernels")
        #endif
    }

    /// The int8 add's affine form (`ElementwiseBinary.AffineAdd`): fitted to the reference kernel's
    /// outputs for all 65,536 input pairs, then the x86 kernels on every pair (odd count: the
    /// scalar tail too) against FixedPoint's TFLite formulas. TFLite-like parameters from random
    /// scales (left shift 20), with and without ReLU, and the bundled model's six adds must fit;
    /// coarse input rescales (left shift 0 or 2: rounding an output step wide) must not.
    func testInt8AddAffineFormMatchesTheReferenceKernel() throws {
        #if arch(x86_64)
        let paths = KernelSet.supported.map(\.int8).filter { $0 == .avx512VNNI || $0 == .avx2 }
        if paths.isEmpty { throw XCTSkip("no AVX2 on this CPU") }
        var rng = SeededGenerator(seed: 0xAFF1)
        func quantized(_ x: Double) -> (Int32, Int32) {
            // x = m·2^(shift − 31), m in [2^30, 2^31).
            var m = Int64((x.significand * Double(1 << 30)).rounded()), shift = Int32(x.exponent) + 1
            if m == 1 << 31 { m = 1 << 30; shift += 1 }
            return (Int32(m), shift)
        }
        // (left shift, za, ma, sa, zb, mb, sb, mo, so, zo, relu, must fit)
        var sets: [(Int32, Int32, Int32, Int32, Int32, Int32, Int32, Int32, Int32, Int32, Bool, Bool)] = [
            (20, 47, 1073741824, 0, 0, 1494693172, -2, 2097334358, -19, 47, false, true),
            (20, 8, 1073741824, 0, 47, 1752204062, -1, 1817408335, -19, 21, false, true),
            (20, 8, 1073741824, 0, 0, 1243246398, -2, 1928181037, -19, 6, false, true),
            (20, 11, 1073741824, 0, 6, 1234889745, -1, 1822681205, -19, 21, false, true),
            (20, -17, 1073741824, 0, -5, 1297689569, -3, 2051175586, -19, -11, false, true),
            (20, -4, 1073741824, 0, -11, 1713845582, -2, 2128774709, -19, -2, false, true),
            // Coarse rescales: (x − zp)·0.3 rounded to an integer, then ×≈1.7 — a staircase.
            (0, 5, 1288490189, -1, -9, 1932735283, -2, 1825361101, 1, 3, false, false),
            (2, -20, 1503238554, -1, 30, 1181116006, 0, 1717986918, -2, -7, true, false),
        ]
        for index in 0..<12 {
            let s1 = Double.random(in: 0.004...0.15, using: &rng), s2 = s1 * Double.random(in: 0.25...4, using: &rng)
            let so = max(s1, s2) * Double.random(in: 1...4, using: &rng), twice = 2 * max(s1, s2)
            let (ma, sa) = quantized(s1 / twice), (mb, sb) = quantized(s2 / twice), (mo, sh) = quantized(twice / (so * Double(1 << 20)))
            sets.append((20, Int32.random(in: -128...127, using: &rng), ma, sa, Int32.random(in: -128...127, using: &rng), mb, sb, mo, sh,
                         Int32.random(in: -128...127, using: &rng), index % 3 == 1, true))
        }
        let a = (0..<65536).map { Int8(truncatingIfNeeded: $0 >> 8) }, b = (0..<65536).map { Int8(truncatingIfNeeded: $0) }
        for (index, s) in sets.enumerated() {
            let minimum: Int32 = s.10 ? max(-128, s.9) : -128
            let n = ee_qs8_add_parameters(left_shift: s.0, zero_point_a: s.1, multiplier_a: s.2, shift_a: s.3, zero_point_b: s.4,
                                          multiplier_b: s.5, shift_b: s.6, multiplier_out: s.7, shift_out: s.8, zero_point_out: s.9,
                                          minimum: minimum, maximum: 127)
            var expected = [Int8](repeating: 0, count: 65536), tables = [Int32](repeating: 0, count: 512)
            for v in -128...127 {
                tables[v + 128] = FixedPoint.multiplyByQuantizedMultiplier((Int32(v) - s.1) << s.0, s.2, s.3)
                tables[v + 384] = FixedPoint.multiplyByQuantizedMultiplier((Int32(v) - s.4) << s.0, s.5, s.6)
            }
            for i in 0..<65536 {
                let raw = Int64(FixedPoint.multiplyByQuantizedMultiplier(tables[Int(a[i]) + 128] &+ tables[Int(b[i]) + 384], s.7, s.8)) + Int64(s.9)
                expected[i] = Int8(min(max(raw, Int64(minimum)), 127))
            }
            let fitted = tables.withUnsafeBufferPointer { pt in
                ElementwiseBinary.fitAffineAdd(AddParameters(tables: pt.baseAddress!, outputZeroPoint: s.9, multiplierOut: s.7, shiftOut: s.8,
                                                             minimum: minimum, maximum: 127), n)
            }
            guard var form = fitted else {
                XCTAssertFalse(s.11, "set \(index): no affine form")
                continue
            }
            XCTAssertTrue(s.11, "set \(index): an affine form where none should fit")
            for path in paths {
                var y = [Int8](repeating: 0, count: 65536 + 5)
                a.withUnsafeBufferPointer { pa in b.withUnsafeBufferPointer { pb in y.withUnsafeMutableBufferPointer { py in
                    Int8KernelTable.addAffine(path, pa.baseAddress!, pb.baseAddress!, form: &form, y: py.baseAddress!, count: 65531)
                } } }
                let mismatch = (0..<65531).first { y[$0] != expected[$0] }
                XCTAssertNil(mismatch, "set \(index) \(path): first mismatch at \(mismatch.map { "(\(a[$0]), \(b[$0])): \(y[$0]) vs \(expected[$0])" } ?? "")")
            }
        }
        #else
        throw XCTSkip("x86-64 kernels")
        #endif
    }

    /// The int8 batch norm's affine form: each channel fitted to the reference kernel's outputs for
    /// all 256 inputs, then the x86 kernels over channels-last maps (16, 64 and 128 channels in
    /// blocks; 5, 24 and 40 with vector and scalar tails) against `Int8Kernels.batchNorm` (NCHW)
    /// on random inputs: double and single rounding, with and without ReLU, left shifts 1…2 (the
    /// channels that fit).
    /// A channel whose reference output wraps in int32 does not fit (the operator keeps the
    /// requantizing kernel).
    func testInt8BatchNormAffineFormMatchesTheReferenceKernel() throws {
        #if arch(x86_64)
        let paths = KernelSet.supported.map(\.int8).filter { $0 == .avx512VNNI || $0 == .avx2 }
        if paths.isEmpty { throw XCTSkip("no AVX2 on this CPU") }
        var rng = SeededGenerator(seed: 0xB40F)
        let geometries: [(channels: Int, pixels: Int)] = [(16, 61), (64, 49), (128, 9), (5, 33), (24, 17), (40, 7)]
        var fittedChannels = 0
        for (index, g) in geometries.enumerated() {
            for variant in 0..<4 {
                let relu = variant % 2 == 1, single = variant >= 2
                let zpIn = Int32.random(in: -128...127, using: &rng), zpOut = Int32.random(in: -128...127, using: &rng)
                var w = (0..<g.channels).map { _ in Int8.random(in: -127...127, using: &rng) }
                w[0] = 0
                if g.channels > 2 { w[1] = 127; w[2] = -127 }
                let bias = (0..<g.channels).map { _ in Int32.random(in: -40000...40000, using: &rng) }
                let multipliers = (0..<g.channels).map { _ in Int32.random(in: (1 << 30)...Int32.max, using: &rng) }
                // Right shifts 2…12 (the usual range) and a few left shifts.
                let shifts = (0..<g.channels).map { c in c % 7 == 3 ? Int32.random(in: 1...2, using: &rng) : Int32.random(in: -12 ... -2, using: &rng) }
                let pm = UnsafeMutablePointer<Int32>.allocate(capacity: g.channels), ps = UnsafeMutablePointer<Int32>.allocate(capacity: g.channels)
                let pp = UnsafeMutablePointer<Int32>.allocate(capacity: g.channels), po = UnsafeMutablePointer<Int32>.allocate(capacity: g.channels)
                let pt = UnsafeMutablePointer<Int32>.allocate(capacity: g.channels)
                defer { pm.deallocate(); ps.deallocate(); pp.deallocate(); po.deallocate(); pt.deallocate() }
                pm.initialize(from: multipliers, count: g.channels); ps.initialize(from: shifts, count: g.channels)
                let q = Requantization(multipliers: pm, shifts: ps, outputZeroPoint: zpOut,
                                       minimum: relu ? max(-128, zpOut) : -128, maximum: 127, singleRounding: single)
                func reference(_ x: [Int8], spatial: Int) -> [Int8] {
                    var y = [Int8](repeating: 0, count: x.count)
                    x.withUnsafeBufferPointer { px in w.withUnsafeBufferPointer { pw in bias.withUnsafeBufferPointer { pb in
                        y.withUnsafeMutableBufferPointer { py in
                            Int8Kernels.batchNorm(px.baseAddress!, inputZeroPoint: zpIn, scale: pw.baseAddress!, bias: pb.baseAddress!,
                                                  y: py.baseAddress!, channels: g.channels, spatial: spatial, requantization: q)
                        }
                    } } }
                    return y
                }
                let table = reference((0..<g.channels * 256).map { Int8(truncatingIfNeeded: $0 % 256 - 128) }, spatial: 256)
                var fitted = Set<Int>()
                for c in 0..<g.channels {
                    let alpha = Double(w[c]) * Double(multipliers[c]) * Double(sign: .plus, exponent: Int(shifts[c]) - 31, significand: 1)
                    let form = table.withUnsafeBufferPointer { BatchNorm.AffineForm.fit($0.baseAddress! + c * 256, alpha: alpha, minimum: q.minimum, maximum: q.maximum) }
                    // With ReLU (or single rounding) every channel is a line; without, double
                    // rounding's ties (half away from zero) can make one of a channel's outputs
                    // fall off it, and the operator keeps the requantizing kernel.
                    if relu || single { XCTAssertNotNil(form, "geometry \(index) variant \(variant) channel \(c): no affine form") }
                    (pp[c], po[c], pt[c]) = form ?? (0, 0, 0)
                    if form != nil { fittedChannels += 1; fitted.insert(c) }
                }
                let x = (0..<g.channels * g.pixels).map { _ in Int8.random(in: -128...127, using: &rng) } // NCHW
                let expected = reference(x, spatial: g.pixels)
                let channelsLast = (0..<g.pixels * g.channels).map { i in x[(i % g.channels) * g.pixels + i / g.channels] }
                for path in paths {
                    var y = [Int8](repeating: 0, count: g.pixels * g.channels + 16)
                    let form = BatchNorm.AffineForm(slope: pp, offset: po, shift: pt, minimum: q.minimum, maximum: q.maximum)
                    channelsLast.withUnsafeBufferPointer { px in y.withUnsafeMutableBufferPointer { py in
                        Int8KernelTable.batchNormAffine(path, px.baseAddress!, form, y: py.baseAddress!, channels: g.channels, pixels: g.pixels)
                    } }
                    let mismatch = (0..<g.pixels * g.channels).first { fitted.contains($0 % g.channels) && y[$0] != expected[($0 % g.channels) * g.pixels + $0 / g.channels] }
                    XCTAssertNil(mismatch, "geometry \(index) variant \(variant) \(path): first mismatch at \(mismatch.map(String.init(describing:)) ?? "")")
                }
            }
        }
        XCTAssertGreaterThan(fittedChannels, 3 * geometries.reduce(0) { $0 + $1.channels })
        // Wrapping int32 in the reference (x·w + bias past 2^31) is no line: no form.
        let wrapping = (0..<256).map { i -> Int8 in
            let acc = Int32(i - 128) &* 127 &+ (Int32.max - 200)
            return Int8(clamping: FixedPoint.multiplyByQuantizedMultiplier(acc, 1 << 30, -24))
        }
        XCTAssertNil(wrapping.withUnsafeBufferPointer { BatchNorm.AffineForm.fit($0.baseAddress!, alpha: 127.0 / 33554432.0, minimum: -128, maximum: 127) })
        #else
        throw XCTSkip("x86-64 kernels")
        #endif
    }
}
