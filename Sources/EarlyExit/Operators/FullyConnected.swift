// fully_connected: a dense layer over a flattened input, float32 and int8.

/// A prepared fully connected layer, `y = W·x + b`.
///
/// Attribute words: 0 (int8 only) the requantization rounding mode. Inputs: x (batch 1, any
/// shape), weights `[out, in]`, then float32 an optional bias `[out]`, or int8 the bias,
/// multipliers and shifts. Fused activation: ReLU.
struct FullyConnected {
    let input: Int, weights: Int, output: Int
    /// The float32 bias tensor, or −1.
    let bias: Int
    let inputCount: Int, outputCount: Int
    let relu: Bool
    /// int8 only: requantization and the bias with the input zero point folded in.
    let requantization: Requantization?
    let foldedBias: UnsafePointer<Int32>?

    static func validate(_ v: inout OperatorValidation) throws(ModelError) {
        try v.arity(v.quantized ? 5...5 : 2...3)
        try v.attributesZero(from: v.quantized ? 1 : 0)
        if v.quantized { try v.roundingMode(v.attributes[0]) }
        let inputs = v.op.inputs
        try v.constant(inputs[1], "weight")
        let x = v.tensors[inputs[0]].shape
        let w = v.tensors[inputs[1]].shape
        if x[0] != 1 { throw v.fail("input tensor \(inputs[0]) has batch \(x[0]); batch 1 is required") }
        if w.rank != 2 || w[1] != v.tensors[inputs[0]].elementCount {
            throw v.fail("weight shape \(w) does not match [out, \(v.tensors[inputs[0]].elementCount)]")
        }
        if v.quantized {
            try v.quantizedParameters(weights: inputs[1], channels: w[0])
        } else if inputs.count == 3 {
            try v.constant(inputs[2], "bias")
            let count = v.tensors[inputs[2]].elementCount
            if count != w[0] { throw v.fail("bias has \(count) elements for \(w[0]) outputs") }
        }
        try v.expectShape(TensorShape([1, w[0]]))
        v.op.macs = w[0] * w[1]
    }

    static func prepare(_ p: PrepareContext, _ index: Int) throws(ModelError) -> FullyConnected {
        let op = p.operators[index]
        let w = p.tensors[op.inputs[1]].shape
        let quantized = p.tensors[op.output].dataType == .int8
        var requantization: Requantization?
        var folded: UnsafePointer<Int32>?
        if quantized {
            try p.checkChannelRequantization(index, channels: w[0])
            requantization = p.requantization(op, perChannel: true, singleRounding: op.attributes[0] == 1)
            folded = try p.foldedBias(index, channels: w[0])
        }
        return FullyConnected(input: op.inputs[0], weights: op.inputs[1], output: op.output,
                              bias: !quantized && op.inputs.count == 3 ? op.inputs[2] : -1, inputCount: w[1], outputCount: w[0],
                              relu: op.activation == .relu, requantization: requantization, foldedBias: folded)
    }

    func evaluate(_ x: ExecutionContext, operator index: Int) {
        if let requantization, let foldedBias {
            let w = UnsafePointer(x.int8s(weights))
            Int8Kernels.fullyConnected(x.int8s(input), weights: w, bias: foldedBias, inputs: inputCount, outputs: outputCount,
                                       requantization: requantization, y: x.int8s(output))
            if let gate = x.quantizedExits?.gateAccumulator(operator: index) {
                gate.pointee = Int8Kernels.accumulator(x.int8s(input), weights: w, bias: foldedBias, inputs: inputCount, output: 0)
            }
            return
        }
        let biasValues: UnsafePointer<Float>? = bias >= 0 ? UnsafePointer(x.floats(bias)) : nil
        FloatKernels.fullyConnected(x.floats(input), weights: x.floats(weights), bias: biasValues, inputs: inputCount,
                                    outputs: outputCount, y: x.floats(output), relu: relu)
    }
}
