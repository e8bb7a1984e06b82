// relu, tanh and sigmoid: element-wise functions, float32 and int8.

/// A prepared element-wise function: ReLU, tanh or the logistic sigmoid.
///
/// No attribute words. int8: ReLU clamps at the zero point it shares with its input; tanh and
/// sigmoid read their 256-entry int8 lookup table (input 1), built by the quantizer.
struct ElementwiseFunction {
    let kind: OperatorKind
    let input: Int, output: Int
    let count: Int
    /// int8 tanh and sigmoid: the lookup table tensor; int8 ReLU: −1.
    let table: Int
    let quantized: Bool
    let zeroPoint: Int8
    let kernels: KernelSet.Float32Path

    static func validate(_ v: inout OperatorValidation) throws(ModelError) {
        let isRelu = v.op.kind == .relu
        try v.arity(v.quantized && !isRelu ? 2...2 : 1...1)
        try v.attributesZero(from: 0)
        try v.expectShape(v.tensors[v.op.inputs[0]].shape)
        if v.quantized && isRelu { try v.sameQuantization(v.op.inputs[0]) }
        if v.quantized && !isRelu { try v.table(v.op.inputs[1], .int8) }
    }

    static func prepare(_ p: PrepareContext, _ index: Int) -> ElementwiseFunction {
        let op = p.operators[index]
        let quantized = p.tensors[op.output].dataType == .int8
        return ElementwiseFunction(kind: op.kind, input: op.inputs[0], output: op.output, count: p.tensors[op.output].elementCount,
                                   table: quantized && op.kind != .relu ? op.inputs[1] : -1, quantized: quantized,
                                   zeroPoint: Int8(truncatingIfNeeded: p.zeroPoint(op.output)), kernels: p.kernels.float32)
    }

    func evaluate(_ x: ExecutionContext) {
        if quantized {
            if table >= 0 {
                Int8Kernels.lookup(x.int8s(input), table: x.int8s(table), y: x.int8s(output), count: count)
            } else {
                Int8Kernels.relu(x.int8s(input), zeroPoint: zeroPoint, y: x.int8s(output), count: count)
            }
            return
        }
        switch kind {
        case .tanh: FloatKernels.tanh(x.floats(input), y: x.floats(output), count: count)
        case .sigmoid: FloatKernels.sigmoid(x.floats(input), y: x.floats(output), count: count)
        default: FloatKernelTable.relu(kernels, x.floats(input), y: x.floats(output), count: count)
        }
    }
}
