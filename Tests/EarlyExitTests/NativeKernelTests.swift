// The x86 C element-wise int8 kernels called directly, against FixedPoint's TFLite formulas:
// every pair of int8 inputs, parameters on both of the add's arithmetic forms (32-bit split
// products when the total left shift is 9…22, 64-bit products otherwise).

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
        let shapes: [(Int32, Int32, Int32)] = [(20, 0, -1), (20, -3, -7), (20, 2, 0), (12, -1, 3), (22, 1, 0), (5, 0, 0), (20, -31, 0)]
        let a = (0..<65536).map { Int8(truncatingIfNeeded: $0) }, b = (0..<65536).map { Int8(truncatingIfNeeded: $0 >> 8) }
        for (index, shape) in shapes.enumerated() {
            let ma = Int32.random(in: (1 << 30)...Int32.max, using: &rng), mb = Int32.random(in: (1 << 30)...Int32.max, using: &rng)
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
}
