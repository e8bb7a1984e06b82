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
        } else if quantized {
            mul = p.requantization(op, multiplier: a[0], shift: a[1], perChannel: false, singleRounding: false)
        }
        return ElementwiseBinary(lhs: op.inputs[0], rhs: op.inputs[1], output: op.output, lhsShape: p.tensors[op.inputs[0]].shape,
                                 rhsShape: p.tensors[op.inputs[1]].shape, outputShape: p.tensors[op.output].shape,
                                 multiply: op.kind == .mul, relu: op.activation == .relu, addParameters: add,
                                 mulRequantization: mul, zeroPointA: quantized ? p.zeroPoint(op.inputs[0]) : 0,
                                 zeroPointB: quantized ? p.zeroPoint(op.inputs[1]) : 0, kernels: p.kernels.float32,
                                 int8Kernels: p.kernels.int8, nativeAdd: nativeAdd)
    }

    func evaluate(_ x: ExecutionContext) {
        if var nativeAdd, lhsShape == outputShape, rhsShape == outputShape, Int8KernelTable.hasNativeElementwise(int8Kernels) {
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
