// The buffers a model's schedule needs, with the operators that first and last use each.

/// Derives the planner's buffers from a validated and prepared model.
enum BufferLifetimes {
    /// Every activation tensor becomes a buffer alive from the operator that produces it (the
    /// model input: from operator 0) to the last operator that reads it, an operator's
    /// additional read included, or the operator its exit follows, whichever is later. Every
    /// operator's scratch is a buffer alive during that operator only.
    /// A fused convolution (`Fusion`) also writes its add's output and reads the residual at its
    /// own index, so the add's output is alive from the convolution on (both forms stay planned:
    /// observed runs execute them unfused).
    static func buffers(tensors: [TensorInfo], operators: [Operator], prepared: [PreparedOperator], exits: [ExitInfo],
                        inputTensor: Int, fusions: [Int: ResidualFusion] = [:]) -> [ArenaPlan.Buffer] {
        var first = [Int](repeating: -1, count: tensors.count)
        var last = [Int](repeating: -1, count: tensors.count)
        first[inputTensor] = 0
        last[inputTensor] = 0
        for (index, op) in operators.enumerated() {
            for tensor in op.inputs where !tensors[tensor].isConstant { last[tensor] = max(last[tensor], index) }
            let extra = prepared[index].additionalRead
            if extra >= 0 { last[extra] = max(last[extra], index) }
            first[op.output] = index
            last[op.output] = max(last[op.output], index)
        }
        for (convolution, fusion) in fusions {
            first[fusion.output] = min(first[fusion.output], convolution)
            last[fusion.residual] = max(last[fusion.residual], convolution)
        }
        for exit in exits {
            last[exit.logitsTensor] = max(last[exit.logitsTensor], exit.afterOperator)
            if exit.hasGate { last[exit.gateTensor] = max(last[exit.gateTensor], exit.afterOperator) }
        }
        var buffers: [ArenaPlan.Buffer] = []
        for (index, tensor) in tensors.enumerated() where !tensor.isConstant && first[index] >= 0 {
            buffers.append(ArenaPlan.Buffer(tensor: index, firstUse: first[index], lastUse: last[index],
                                            size: ArenaPlan.roundUp(tensor.byteCount), offset: 0))
        }
        for (index, op) in prepared.enumerated() where op.scratchBytes > 0 {
            buffers.append(ArenaPlan.Buffer(tensor: -1, firstUse: index, lastUse: index, size: ArenaPlan.roundUp(op.scratchBytes), offset: 0))
        }
        return buffers
    }
}
