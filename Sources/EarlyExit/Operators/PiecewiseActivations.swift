// clip (ReLU6), hard_sigmoid, hard_swish and leaky_relu: piecewise element-wise functions,
// float32 and int8.

/// A prepared piecewise element-wise function.
///
/// Attribute words (float values are stored as their IEEE-754 bit patterns):
/// - clip: float32: 0 the minimum, 1 the maximum (−∞/+∞ for no bound; not NaN; min ≤ max).
///   int8: 0 the lowest, 1 the highest int8 value in the quantization the input and output
///   share (−128 ≤ low ≤ high ≤ 127).
/// - hard_sigmoid: 0 alpha, 1 beta (finite): `max(0, min(1, alpha·x + beta))`.
/// - hard_swish: none: `x · max(0, min(1, x/6 + 1/2))`.
/// - leaky_relu: 0 alpha (finite): `x ≥ 0 ? x : alpha·x`.
/// int8 hard_sigmoid, hard_swish and leaky_relu read a 256-entry int8 lookup table (input 1),
/// built by the quantizer, as tanh and sigmoid do; their float attributes are kept for reports.
struct PiecewiseActivation {
    let kind: OperatorKind
    let input: Int, output: Int
    let count: Int
    /// float32 parameters: clip bounds, or alpha and beta.
    let first: Float, second: Float
    /// int8: the lookup table tensor, or −1 for clip (which clamps to `low…high`).
    let table: Int
    let low: Int8, high: Int8
    let quantized: Bool

    static func float(_ word: Int32) -> Float { Float(bitPattern: UInt32(bitPattern: word)) }

    static func validate(_ v: inout OperatorValidation) throws(ModelError) {
        let a = v.attributes
        let isClip = v.op.kind == .clip
        try v.arity(v.quantized && !isClip ? 2...2 : 1...1)
        try v.expectShape(v.tensors[v.op.inputs[0]].shape)
        switch v.op.kind {
        case .clip:
            try v.attributesZero(from: 2)
            if v.quantized {
                if a[0] < -128 || a[1] > 127 || a[0] > a[1] {
                    throw v.fail("int8 bounds \(a[0])…\(a[1]) are not −128 ≤ low ≤ high ≤ 127")
                }
                try v.sameQuantization(v.op.inputs[0])
            } else {
                let low = float(a[0]), high = float(a[1])
                if low.isNaN || high.isNaN || low > high { throw v.fail("bounds \(low)…\(high) are not min ≤ max (NaN is not a bound)") }
            }
        case .hardSigmoid:
            try v.attributesZero(from: 2)
            if !float(a[0]).isFinite || !float(a[1]).isFinite { throw v.fail("alpha \(float(a[0])) and beta \(float(a[1])) must be finite") }
        case .leakyRelu:
            try v.attributesZero(from: 1)
            if !float(a[0]).isFinite { throw v.fail("alpha \(float(a[0])) must be finite") }
        default:
            try v.attributesZero(from: 0)
        }
        if v.quantized && !isClip { try v.table(v.op.inputs[1], .int8) }
        v.op.macs = 0
    }

    static func prepare(_ p: PrepareContext, _ index: Int) -> PiecewiseActivation {
        let op = p.operators[index]
        let quantized = p.tensors[op.output].dataType == .int8
        var first = float(op.attributes[0]), second = float(op.attributes[1])
        if op.kind == .hardSwish { first = 1 / 6; second = 0.5 }
        return PiecewiseActivation(kind: op.kind, input: op.inputs[0], output: op.output, count: p.tensors[op.output].elementCount,
                                   first: first, second: second, table: quantized && op.kind != .clip ? op.inputs[1] : -1,
                                   low: Int8(clamping: op.attributes[0]), high: Int8(clamping: op.attributes[1]), quantized: quantized)
    }

    func evaluate(_ x: ExecutionContext) {
        if quantized {
            if table >= 0 {
                Int8Kernels.lookup(x.int8s(input), table: x.int8s(table), y: x.int8s(output), count: count)
            } else {
                Int8Kernels.clamp(x.int8s(input), low: low, high: high, y: x.int8s(output), count: count)
            }
            return
        }
        let source = UnsafePointer(x.floats(input)), target = x.floats(output)
        switch kind {
        case .clip: FloatKernels.clip(source, y: target, count: count, low: first, high: second)
        case .hardSigmoid: FloatKernels.hardSigmoid(source, y: target, count: count, alpha: first, beta: second)
        case .hardSwish: FloatKernels.hardSwish(source, y: target, count: count)
        default: FloatKernels.leakyRelu(source, y: target, count: count, alpha: first)
        }
    }
}
