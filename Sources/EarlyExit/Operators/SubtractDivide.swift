// sub and div: element-wise with NumPy broadcasting, float32 and int8.

/// A prepared element-wise subtraction `a − b` or division `a / b`.
///
/// Attribute words: float32 none. int8 sub: as int8 add (0 the left shift of both inputs,
/// 1–2 and 3–4 input A's and B's multiplier and shift, 5–6 the output's); B's rescaled value
/// is subtracted instead of added (TFLite's sub). int8 div: 0–1 the output multiplier and
/// shift, whose real value is s_a / (s_b · s_out · 2^16): the quotient of the zero-point
/// corrected inputs is formed in Q16 (`Int8Kernels.div`). MACs: 0 for sub, one per output
/// element for div (as mul).
struct SubtractDivide {
    let lhs: Int, rhs: Int, output: Int
    let lhsShape: TensorShape, rhsShape: TensorShape, outputShape: TensorShape
    let divide: Bool
    /// int8 sub: A's rescaling table and B's negated one (256 Int32 each), and the output's.
    let subParameters: AddParameters?
    /// int8 div: the output requantization and the inputs' zero points.
    let divRequantization: Requantization?
    let zeroPointA: Int32, zeroPointB: Int32

    static func validate(_ v: inout OperatorValidation) throws(ModelError) {
        let a = v.attributes
        try v.arity(2...2)
        if v.quantized && v.op.kind == .sub {
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
        v.op.macs = v.op.kind == .div ? shape.elementCount : 0
    }

    static func prepare(_ p: PrepareContext, _ index: Int) -> SubtractDivide {
        let op = p.operators[index]
        let a = op.attributes
        let quantized = p.tensors[op.output].dataType == .int8
        var sub: AddParameters?
        var div: Requantization?
        if quantized && op.kind == .sub {
            // TFLite's int8 sub: each input rescaled by ((x − zp) << leftShift)·multiplier as for
            // add, B's value negated, tabulated for all 256 int8 values.
            let tables = p.storage.allocate(Int32.self, count: 512)
            var position = 0
            for (zeroPoint, multiplier, shift, sign) in [(p.zeroPoint(op.inputs[0]), a[1], a[2], Int32(1)),
                                                         (p.zeroPoint(op.inputs[1]), a[3], a[4], Int32(-1))] {
                for value in -128...127 {
                    tables[position] = sign &* FixedPoint.multiplyByQuantizedMultiplier((Int32(value) - zeroPoint) << a[0], multiplier, shift)
                    position += 1
                }
            }
            sub = AddParameters(tables: UnsafePointer(tables), outputZeroPoint: p.zeroPoint(op.output), multiplierOut: a[5],
                                shiftOut: a[6], minimum: -128, maximum: 127)
        } else if quantized {
            div = p.requantization(op, multiplier: a[0], shift: a[1], perChannel: false, singleRounding: false)
        }
        return SubtractDivide(lhs: op.inputs[0], rhs: op.inputs[1], output: op.output, lhsShape: p.tensors[op.inputs[0]].shape,
                              rhsShape: p.tensors[op.inputs[1]].shape, outputShape: p.tensors[op.output].shape,
                              divide: op.kind == .div, subParameters: sub, divRequantization: div,
                              zeroPointA: quantized ? p.zeroPoint(op.inputs[0]) : 0, zeroPointB: quantized ? p.zeroPoint(op.inputs[1]) : 0)
    }

    func evaluate(_ x: ExecutionContext) {
        if let subParameters {
            Int8Kernels.add(x.int8s(lhs), x.int8s(rhs), y: x.int8s(output), lhs: lhsShape, rhs: rhsShape, out: outputShape,
                            parameters: subParameters)
        } else if let divRequantization {
            Int8Kernels.div(x.int8s(lhs), zeroPointA: zeroPointA, x.int8s(rhs), zeroPointB: zeroPointB, y: x.int8s(output),
                            lhs: lhsShape, rhs: rhsShape, out: outputShape, requantization: divRequantization)
        } else {
            FloatKernels.subtractOrDivide(x.floats(lhs), x.floats(rhs), y: x.floats(output), lhs: lhsShape, rhs: rhsShape,
                                          out: outputShape, divide: divide)
        }
    }
}
