// int8 execution: operator dispatch to the integer kernels.

extension Interpreter {
    /// The arena address of an int8 activation, or the model address of an int8 constant.
    @inline(__always)
    func int8s(_ tensor: Int) -> UnsafeMutablePointer<Int8> {
        let offset = model.plan.tensorOffsets[tensor]
        if offset < 0 { return UnsafeMutablePointer(mutating: model.constantInt8(tensor)) }
        return (arena + offset).assumingMemoryBound(to: Int8.self)
    }

    @inline(__always)
    func zeroPoint(_ tensor: Int) -> Int32 { model.tensors[tensor].quantization.zeroPoint }

    /// Output requantization of an operator: clamp bounds from the fused activation.
    func requantization(_ op: Operator, perChannel: Bool, singleRounding: Bool) -> Requantization {
        let zp = zeroPoint(op.output)
        var q = Requantization(outputZeroPoint: zp, minimum: op.activation == .relu ? max(-128, zp) : -128,
                               maximum: 127, singleRounding: singleRounding)
        if perChannel {
            q.multipliers = model.constantInt32(op.inputs[3])
            q.shifts = model.constantInt32(op.inputs[4])
        } else {
            q.multiplier = op.attributes[0]
            q.shift = op.attributes[1]
        }
        return q
    }

    /// Executes int8 operator `index`; integer arithmetic only.
    func executeInt8(operator index: Int) {
        let op = model.operators[index]
        let tensors = model.tensors
        let y = int8s(op.output)
        switch op.kind {
        case .conv2d:
            let g = op.geometry
            let q = requantization(op, perChannel: true, singleRounding: op.attributes[11] == 1)
            let weights = model.constantInt8(op.inputs[1])
            switch op.convolutionPath {
            case .pointwise, .im2col:
                let patches = (arena + model.plan.scratchOffsets[index]).assumingMemoryBound(to: Int16.self)
                let pixels = g.heightOut * g.widthOut
                let k = g.channelsIn * g.kernelHeight * g.kernelWidth
                if op.convolutionPath == .pointwise {
                    Int8Kernels.transposeToRows(int8s(op.inputs[0]), rows: k, columns: pixels, patches: patches)
                } else {
                    Int8Kernels.im2colRows(int8s(op.inputs[0]), g, zeroPoint: Int8(truncatingIfNeeded: zeroPoint(op.inputs[0])),
                                           patches: patches)
                }
                let rowSums = (arena + model.plan.scratchOffsets[index] + Int8Kernels.rowSumsOffset(k: k, n: pixels))
                    .assumingMemoryBound(to: Int32.self)
                Int8Kernels.gemm(m: g.channelsOut, n: pixels, k: k, weights: weights, patches: patches,
                                 bias: model.prepared + op.preparedOffset, requantization: q, rowSums: rowSums, c: y)
            case .depthwise, .grouped:
                Int8Kernels.groupedConvolution(int8s(op.inputs[0]), inputZeroPoint: zeroPoint(op.inputs[0]), weights: weights,
                                               bias: model.constantInt32(op.inputs[2]), g, requantization: q, y: y)
            }
        case .fullyConnected:
            let w = tensors[op.inputs[1]].shape
            Int8Kernels.fullyConnected(int8s(op.inputs[0]), weights: model.constantInt8(op.inputs[1]),
                                       bias: model.prepared + op.preparedOffset, inputs: w[1], outputs: w[0],
                                       requantization: requantization(op, perChannel: true, singleRounding: op.attributes[0] == 1), y: y)
            if let gate = quantizedExits?.gateAccumulator(operator: index) {
                gate.pointee = Int8Kernels.accumulator(int8s(op.inputs[0]), weights: model.constantInt8(op.inputs[1]),
                                                       bias: model.prepared + op.preparedOffset, inputs: w[1], output: 0)
            }
        case .add:
            let a = op.attributes
            let zp = zeroPoint(op.output)
            let parameters = AddParameters(tables: model.prepared + op.preparedOffset, outputZeroPoint: zp,
                                           multiplierOut: a[5], shiftOut: a[6],
                                           minimum: op.activation == .relu ? max(-128, zp) : -128, maximum: 127)
            Int8Kernels.add(int8s(op.inputs[0]), int8s(op.inputs[1]), y: y, lhs: tensors[op.inputs[0]].shape,
                            rhs: tensors[op.inputs[1]].shape, out: tensors[op.output].shape, parameters: parameters)
        case .mul:
            Int8Kernels.mul(int8s(op.inputs[0]), zeroPointA: zeroPoint(op.inputs[0]), int8s(op.inputs[1]), zeroPointB: zeroPoint(op.inputs[1]),
                            y: y, lhs: tensors[op.inputs[0]].shape, rhs: tensors[op.inputs[1]].shape, out: tensors[op.output].shape,
                            requantization: requantization(op, perChannel: false, singleRounding: false))
        case .relu:
            Int8Kernels.relu(int8s(op.inputs[0]), zeroPoint: Int8(truncatingIfNeeded: zeroPoint(op.output)), y: y,
                             count: tensors[op.output].elementCount)
        case .tanh, .sigmoid:
            Int8Kernels.lookup(int8s(op.inputs[0]), table: model.constantInt8(op.inputs[1]), y: y, count: tensors[op.output].elementCount)
        case .batchNorm:
            let shape = tensors[op.inputs[0]].shape
            Int8Kernels.batchNorm(int8s(op.inputs[0]), inputZeroPoint: zeroPoint(op.inputs[0]), scale: model.constantInt8(op.inputs[1]),
                                  bias: model.constantInt32(op.inputs[2]), y: y, channels: shape[1], spatial: shape.elementCount / shape[1],
                                  requantization: requantization(op, perChannel: true, singleRounding: op.attributes[0] == 1))
        case .maxPool, .avgPool:
            Int8Kernels.pool(int8s(op.inputs[0]), op.geometry, zeroPoint: Int8(truncatingIfNeeded: zeroPoint(op.output)), y: y,
                             maximum: op.kind == .maxPool, countIncludePad: op.attributes[8] == 1)
        case .globalAvgPool:
            let g = op.geometry
            Int8Kernels.globalAveragePool(int8s(op.inputs[0]), y: y, channels: g.channelsIn, spatial: g.heightIn * g.widthIn)
        case .softmax:
            let shape = tensors[op.inputs[0]].shape
            let n = shape[shape.rank - 1]
            Int8Kernels.softmax(int8s(op.inputs[0]), table: model.constantInt32(op.inputs[1]), inverseOutputScale: op.attributes[1],
                                outputZeroPoint: zeroPoint(op.output), y: y, rows: shape.elementCount / n, n: n)
        case .matmul:
            let pooledSoftmax = model.plan.pooledSoftmax[index]
            if pooledSoftmax >= 0 {
                let softmax = model.operators[pooledSoftmax]
                Int8Kernels.attentionPooling(int8s(softmax.inputs[0]), table: model.constantInt32(softmax.inputs[1]),
                                             inverseOutputScale: softmax.attributes[1], int8s(op.inputs[1]),
                                             zeroPointV: zeroPoint(op.inputs[1]), c: y, lhs: tensors[op.inputs[0]].shape,
                                             rhs: tensors[op.inputs[1]].shape, out: tensors[op.output].shape,
                                             requantization: requantization(op, perChannel: false, singleRounding: false))
                break
            }
            Int8Kernels.matmul(int8s(op.inputs[0]), zeroPointA: zeroPoint(op.inputs[0]), int8s(op.inputs[1]), zeroPointB: zeroPoint(op.inputs[1]),
                               c: y, lhs: tensors[op.inputs[0]].shape, rhs: tensors[op.inputs[1]].shape, out: tensors[op.output].shape,
                               requantization: requantization(op, perChannel: false, singleRounding: false))
        case .transpose:
            DataMovement.transpose(int8s(op.inputs[0]), y: y, input: tensors[op.inputs[0]].shape, permutation: op.attributes)
        case .reshape:
            let source = int8s(op.inputs[0])
            if source != y { y.update(from: source, count: tensors[op.output].elementCount) }
        case .concat:
            let out = tensors[op.output].shape
            let (outer, inner) = DataMovement.concatenationLayout(out, axis: op.axis)
            var position = 0
            for tensor in op.inputs {
                let extent = tensors[tensor].shape[op.axis]
                DataMovement.concatenate(int8s(tensor), extent: extent, into: y, at: position, total: out[op.axis], outer: outer, inner: inner)
                position += extent
            }
        }
    }
}
