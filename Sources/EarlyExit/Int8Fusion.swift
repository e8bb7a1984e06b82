// Operator pairs the int8 interpreter runs together.

/// The int8 attention pooling `matmul(softmax(a), V)` runs from the softmax's input `a`, so
/// that the masks are not rounded to int8 before they weight V (see
/// `Int8Kernels.attentionPooling`). The arena plan decides it once (`ArenaPlan.pooledSoftmax`)
/// and keeps `a` alive until the matmul; the interpreter reads the plan's decision.
enum Int8Fusion {
    /// For every tensor, the operator that writes it, or −1 (inputs and constants). A validated
    /// model's tensors have one producer each.
    static func producers(_ operators: [Operator], tensorCount: Int) -> [Int] {
        var producer = [Int](repeating: -1, count: tensorCount)
        for (index, op) in operators.enumerated() where op.output >= 0 && op.output < tensorCount { producer[op.output] = index }
        return producer
    }

    /// For every operator: the softmax operator whose int8 output is its left input when it is
    /// an int8 matmul, else −1.
    static func pooledSoftmaxes(_ operators: [Operator], tensorCount: Int) -> [Int] {
        let producer = producers(operators, tensorCount: tensorCount)
        return operators.map { op in
            guard op.kind == .matmul, let lhs = op.inputs.first, lhs >= 0, lhs < tensorCount, producer[lhs] >= 0 else { return -1 }
            let source = operators[producer[lhs]]
            return source.kind == .softmax && source.inputs.count == 2 ? producer[lhs] : -1
        }
    }
}
