// reduce_sum and reduce_max: reductions over any set of axes, float32 and int8.

/// A prepared sum or maximum over a set of axes.
///
/// Attribute words: 0 the reduced axes as a bit mask (bit i: input axis i; at least one, only
/// axes below the rank); int8 reduce_sum: 1–2 the output multiplier and shift (the real
/// multiplier s_in / s_out; the accumulator is Σ (x − zp_in)). The output shape is the input's
/// with the reduced axes set to 1 (ONNX keepdims=1) or removed (keepdims=0). int8 reduce_max:
/// input and output share scale and zero point.
struct Reduce {
    let input: Int, output: Int
    let inputShape: TensorShape
    /// 1 on the reduced axes, right-aligned to four axes as the kernels index them.
    let reduced: SIMD4<Int>
    let maximum: Bool
    let quantized: Bool
    let zeroPoint: Int32
    let requantization: Requantization?

    static func validate(_ v: inout OperatorValidation) throws(ModelError) {
        let a = v.attributes
        try v.arity(1...1)
        let sum = v.op.kind == .reduceSum
        try v.attributesZero(from: v.quantized && sum ? 3 : 1)
        if v.quantized && sum { try v.multiplier(a[1], a[2]) }
        let x = v.tensors[v.op.inputs[0]].shape
        let mask = Int(a[0])
        if mask <= 0 || mask >= 1 << x.rank { throw v.fail("axis mask \(mask) must flag at least one of the \(x.rank) input axes and no other") }
        var kept: [Int] = [], ones: [Int] = []
        for axis in 0..<x.rank {
            if mask & (1 << axis) != 0 { ones.append(1) } else { ones.append(x[axis]); kept.append(x[axis]) }
        }
        let out = v.outputShape.dims
        if out != ones && out != kept && !(kept.isEmpty && out == [1]) {
            throw v.fail("output tensor \(v.output) has shape \(v.outputShape); \(TensorShape(ones)) or \(kept.isEmpty ? "[1]" : "\(TensorShape(kept))") expected")
        }
        if v.quantized && !sum { try v.sameQuantization(v.op.inputs[0]) }
        v.op.macs = 0
    }

    static func prepare(_ p: PrepareContext, _ index: Int) -> Reduce {
        let op = p.operators[index]
        let shape = p.tensors[op.inputs[0]].shape
        var reduced = SIMD4<Int>(repeating: 0)
        for axis in 0..<shape.rank where op.attributes[0] & (1 << axis) != 0 { reduced[axis + 4 - shape.rank] = 1 }
        let quantized = p.tensors[op.output].dataType == .int8
        let sum = op.kind == .reduceSum
        return Reduce(input: op.inputs[0], output: op.output, inputShape: shape, reduced: reduced, maximum: !sum, quantized: quantized,
                      zeroPoint: quantized ? p.zeroPoint(op.inputs[0]) : 0,
                      requantization: quantized && sum ? p.requantization(op, multiplier: op.attributes[1], shift: op.attributes[2],
                                                                          perChannel: false, singleRounding: false) : nil)
    }

    func evaluate(_ x: ExecutionContext) {
        if quantized {
            if let requantization {
                Int8Kernels.reduceSum(x.int8s(input), zeroPoint: zeroPoint, y: x.int8s(output), input: inputShape, reduced: reduced,
                                      requantization: requantization)
            } else {
                Int8Kernels.reduceMax(x.int8s(input), y: x.int8s(output), input: inputShape, reduced: reduced)
            }
        } else if maximum {
            FloatKernels.reduceMax(x.floats(input), y: x.floats(output), input: inputShape, reduced: reduced)
        } else {
            FloatKernels.reduceSum(x.floats(input), y: x.floats(output), input: inputShape, reduced: reduced)
        }
    }
}
