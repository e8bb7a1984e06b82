// add and mul: element-wise with NumPy broadcasting, float32 and int8.

import EarlyExitNativeKernels

/// A prepared element-wise addition or multiplication of two tensors.
///
/// Attribute words: float32 none. int8 add: 0 the left shift of both inputs, 1–2 and 3–4
/// input A's and B's multiplier and shift, 5–6 the output's (TFLite's add); int8 mul: 0–1 the
/// output multiplier and shift. Fused activation: ReLU (add only).
struct ElementwiseBinary {
    let lhs: Int, rhs: Int, output: Int
    let lhsShape: TensorShape, rhsShape: TensorShape, outputShape: TensorShape
    let multiply: Bool
    let relu: Bool
    /// int8 add: both inputs' rescaling tables (256 Int32 each, prepared here) and the output's.
    let addParameters: AddParameters?
    /// int8 mul: output requantization and the inputs' zero points.
    let mulRequantization: Requantization?
    let zeroPointA: Int32, zeroPointB: Int32
    let kernels: KernelSet.Float32Path
    let int8Kernels: KernelSet.Int8Path
    /// int8 add on the native kernels: TFLite's parameters (the kernel rescales in vectors).
    let nativeAdd: ee_qs8_add_parameters?
    /// int8 add on the native kernels: the whole add as one exact affine form of the two raw
    /// inputs when it fits (see `AffineAdd`), else nil and `nativeAdd` runs.
    let affineAdd: ee_qs8_add_affine?

    /// TFLite's int8 add as `clamp((a·p + b·q + r) >> t, minimum, maximum)` of the raw inputs a
    /// and b. The inputs' rescales keep left_shift (20) extra bits, so the add is a line in (a, b)
    /// up to rounding far below an output step; a form is kept only when it reproduces the
    /// reference for all 65,536 input pairs with every a·p + b·q + r within int32.
    enum AffineAdd {
        /// `reference[(a + 128)·256 + b + 128]` is the reference output; `alpha`, `beta` the real
        /// output steps per input step and `center` the real output at a = b = 0 plus ½.
        static func fit(_ reference: UnsafePointer<Int8>, alpha: Double, beta: Double, center: Double,
                        minimum: Int32, maximum: Int32) -> ee_qs8_add_affine? {
            let lo = Int64(minimum), hi = Int64(maximum)
            // The largest shift whose unclamped values (at most `extent`·2^t, with a margin) fit int32.
            let extent = abs(center) + 128 * (abs(alpha) + abs(beta)) + 2
            if !extent.isFinite { return nil }
            var top = 30
            while top >= 0 && extent * Double(Int64(1) << top) >= 2147483648.0 { top -= 1 }
            if top < 0 { return nil }
            // Per input b, the bounds the inputs a put on r + b·q (for one p).
            let lowB = UnsafeMutablePointer<Int64>.allocate(capacity: 256), highB = UnsafeMutablePointer<Int64>.allocate(capacity: 256)
            defer { lowB.deallocate(); highB.deallocate() }
            // The largest shift is the finest grid; one step down in case the margin cost a fit.
            for t in stride(from: top, through: max(top - 1, 0), by: -1) {
                let scale = Double(Int64(1) << t)
                let cp = Int64((alpha * scale).rounded()), cq = Int64((beta * scale).rounded())
                for p in (cp - 4)...(cp + 4) {
                    for j in 0..<256 { lowB[j] = Int64.min; highB[j] = Int64.max }
                    for i in 0..<256 {
                        // Each unclamped output o bounds the line: o·2^t ≤ a·p + b·q + r < (o + 1)·2^t.
                        let ap = Int64(i - 128) * p, row = reference + i * 256
                        for j in 0..<256 {
                            let o = Int64(row[j])
                            if o > lo { lowB[j] = max(lowB[j], (o << t) - ap) }
                            if o < hi { highB[j] = min(highB[j], ((o + 1) << t) - 1 - ap) }
                        }
                    }
                    for q in (cq - 64)...(cq + 64) {
                        var low = Int64.min, high = Int64.max
                        for j in 0..<256 {
                            let bq = Int64(j - 128) * q
                            if lowB[j] != Int64.min { low = max(low, lowB[j] - bq) }
                            if highB[j] != Int64.max { high = min(high, highB[j] - bq) }
                        }
                        if low > high { continue }
                        let r = low == Int64.min ? (high == Int64.max ? 0 : high) : (high == Int64.max ? low : low + (high - low) / 2)
                        if let form = verified(reference, p: p, q: q, r: r, t: t, minimum: lo, maximum: hi) { return form }
                    }
                }
            }
            return nil
        }

        /// The form if every a·p + b·q + r is within int32 and it gives the reference's output
        /// for every input pair.
        static func verified(_ reference: UnsafePointer<Int8>, p: Int64, q: Int64, r: Int64, t: Int,
                             minimum: Int64, maximum: Int64) -> ee_qs8_add_affine? {
            let int32 = Int64(Int32.min)...Int64(Int32.max)
            // Linear in (a, b): the four corners bound it (and each product and r on its own).
            for a in [Int64(-128), 127] { for b in [Int64(-128), 127] where !int32.contains(a * p + b * q + r) { return nil } }
            if !int32.contains(128 * abs(p)) || !int32.contains(128 * abs(q)) || !int32.contains(r) { return nil }
            for i in 0..<256 {
                let ap = Int64(i - 128) * p + r, row = reference + i * 256
                for j in 0..<256 where min(max((ap + Int64(j - 128) * q) >> t, minimum), maximum) != Int64(row[j]) { return nil }
            }
            return ee_qs8_add_affine(p: Int32(p), q: Int32(q), r: Int32(r), shift: Int32(t), minimum: Int32(minimum), maximum: Int32(maximum))
        }
    }

    static func validate(_ v: inout OperatorValidation) throws(ModelError) {
        let a = v.attributes
        try v.arity(2...2)
        if v.quantized && v.op.kind == .add {
            try v.attributesZero(from: 7)
            if a[0] < 0 || a[0] > 22 { throw v.fail("left shift \(a[0]) is not between 0 and 22") }
            for pair in [(1, 2), (3, 4), (5, 6)] { try v.multiplier(a[pair.0], a[pair.1]) }
        } else if v.quantized {
            try v.attributesZero(from: 2)
            try v.multiplier(a[0], a[1])
        } else {
            try v.attributesZero(from: 0)
        }
        let l = v.tensors[v.op.inputs[0]].shape, r = v.tensors[v.op.inputs[1]].shape
        guard let shape = OperatorValidation.broadcastShape(l, r) else {
            throw v.fail("input shapes \(l) and \(r) do not broadcast")
        }
        try v.expectShape(shape)
        v.op.macs = v.op.kind == .mul ? shape.elementCount : 0
    }

    static func prepare(_ p: PrepareContext, _ index: Int) throws(ModelError) -> ElementwiseBinary {
        let op = p.operators[index]
        let a = op.attributes
        let quantized = p.tensors[op.output].dataType == .int8
        var add: AddParameters?
        var mul: Requantization?
        var nativeAdd: ee_qs8_add_parameters?
        var affineAdd: ee_qs8_add_affine?
        if quantized && op.kind == .add {
            // TFLite's int8 add rescales each input by (x − zp) << leftShift, then a multiplier and
            // shift: a function of the int8 value alone, tabulated for all 256 values (bit-identical
            // to computing it per element).
            let tables = p.storage.allocate(Int32.self, count: 512)
            var position = 0
            for (zeroPoint, multiplier, shift) in [(p.zeroPoint(op.inputs[0]), a[1], a[2]), (p.zeroPoint(op.inputs[1]), a[3], a[4])] {
                for value in -128...127 {
                    tables[position] = FixedPoint.multiplyByQuantizedMultiplier((Int32(value) - zeroPoint) << a[0], multiplier, shift)
                    position += 1
                }
            }
            let zp = p.zeroPoint(op.output)
            let zpOut = p.zeroPoint(op.output)
            nativeAdd = ee_qs8_add_parameters(left_shift: a[0], zero_point_a: p.zeroPoint(op.inputs[0]), multiplier_a: a[1], shift_a: a[2],
                                              zero_point_b: p.zeroPoint(op.inputs[1]), multiplier_b: a[3], shift_b: a[4],
                                              multiplier_out: a[5], shift_out: a[6], zero_point_out: zpOut,
                                              minimum: op.activation == .relu ? max(-128, zpOut) : -128, maximum: 127)
            add = AddParameters(tables: UnsafePointer(tables), outputZeroPoint: zp, multiplierOut: a[5], shiftOut: a[6],
                                minimum: op.activation == .relu ? max(-128, zp) : -128, maximum: 127)
            let shape = p.tensors[op.output].shape
            if let add, let native = nativeAdd, Int8KernelTable.hasNativeElementwise(p.kernels.int8),
               p.tensors[op.inputs[0]].shape == shape, p.tensors[op.inputs[1]].shape == shape {
                affineAdd = fitAffineAdd(add, native)
            }
        } else if quantized {
            mul = p.requantization(op, multiplier: a[0], shift: a[1], perChannel: false, singleRounding: false)
        }
        return ElementwiseBinary(lhs: op.inputs[0], rhs: op.inputs[1], output: op.output, lhsShape: p.tensors[op.inputs[0]].shape,
                                 rhsShape: p.tensors[op.inputs[1]].shape, outputShape: p.tensors[op.output].shape,
                                 multiply: op.kind == .mul, relu: op.activation == .relu, addParameters: add,
                                 mulRequantization: mul, zeroPointA: quantized ? p.zeroPoint(op.inputs[0]) : 0,
                                 zeroPointB: quantized ? p.zeroPoint(op.inputs[1]) : 0, kernels: p.kernels.float32,
                                 int8Kernels: p.kernels.int8, nativeAdd: nativeAdd, affineAdd: affineAdd)
    }

    /// The add's affine form from the reference kernel's outputs for all 65,536 input pairs, or nil.
    static func fitAffineAdd(_ add: AddParameters, _ n: ee_qs8_add_parameters) -> ee_qs8_add_affine? {
        let a = UnsafeMutablePointer<Int8>.allocate(capacity: 65536), b = UnsafeMutablePointer<Int8>.allocate(capacity: 65536)
        let y = UnsafeMutablePointer<Int8>.allocate(capacity: 65536)
        defer { a.deallocate(); b.deallocate(); y.deallocate() }
        for i in 0..<65536 { a[i] = Int8(truncatingIfNeeded: i >> 8 &- 128); b[i] = Int8(truncatingIfNeeded: (i & 255) &- 128) }
        let shape = TensorShape([65536])
        Int8Kernels.add(a, b, y: y, lhs: shape, rhs: shape, out: shape, parameters: add)
        func power(_ e: Int32) -> Double { Double(sign: .plus, exponent: Int(e) - 31, significand: 1) }
        let output = Double(n.multiplier_out) * power(n.shift_out)
        let alpha = Double(n.multiplier_a) * power(n.shift_a + n.left_shift) * output
        let beta = Double(n.multiplier_b) * power(n.shift_b + n.left_shift) * output
        let center = Double(n.zero_point_out) + 0.5 - alpha * Double(n.zero_point_a) - beta * Double(n.zero_point_b)
        return AffineAdd.fit(y, alpha: alpha, beta: beta, center: center, minimum: n.minimum, maximum: n.maximum)
    }

    func evaluate(_ x: ExecutionContext) {
        if var affineAdd, lhsShape == outputShape, rhsShape == outputShape, Int8KernelTable.hasNativeElementwise(int8Kernels) {
            Int8KernelTable.addAffine(int8Kernels, x.int8s(lhs), x.int8s(rhs), form: &affineAdd, y: x.int8s(output),
                                      count: outputShape.elementCount)
        } else if var nativeAdd, lhsShape == outputShape, rhsShape == outputShape, Int8KernelTable.hasNativeElementwise(int8Kernels) {
            Int8KernelTable.add(int8Kernels, x.int8s(lhs), x.int8s(rhs), parameters: &nativeAdd, y: x.int8s(output),
                                count: outputShape.elementCount)
        } else if let addParameters {
            Int8Kernels.add(x.int8s(lhs), x.int8s(rhs), y: x.int8s(output), lhs: lhsShape, rhs: rhsShape, out: outputShape,
                            parameters: addParameters)
        } else if let mulRequantization {
            Int8Kernels.mul(x.int8s(lhs), zeroPointA: zeroPointA, x.int8s(rhs), zeroPointB: zeroPointB, y: x.int8s(output),
                            lhs: lhsShape, rhs: rhsShape, out: outputShape, requantization: mulRequantization)
        } else if lhsShape == outputShape && rhsShape == outputShape {
            // Same shapes (and so the same layout): element by element, in vectors.
            FloatKernelTable.elementwise(kernels, x.floats(lhs), x.floats(rhs), y: x.floats(output), count: outputShape.elementCount,
                                         multiply: multiply, relu: relu)
        } else {
            FloatKernels.binary(x.floats(lhs), x.floats(rhs), y: x.floats(output), lhs: lhsShape, rhs: rhsShape,
                                out: outputShape, multiply: multiply, relu: relu)
        }
    }
}
