// Operator pairs the int8 interpreter runs together.

/// The int8 attention pooling `matmul(softmax(a), V)` runs from the softmax's input `a`, so
/// that the masks are not rounded to int8 before they weight V (see
/// `Int8Kernels.attentionPooling`). The arena plan keeps `a` alive until the matmul.
enum Int8Fusion {
    /// For every operator: the softmax operator whose int8 output is its left input when it is
    /// an int8 matmul, else −1. One pass over the operators (a validated model's tensors have
    /// one producer each).
    static func pooledSoftmaxes(_ operators: [Operator], tensorCount: Int) -> [Int] {
        var producer = [Int](repeating: -1, count: tensorCount)
        var result = [Int](repeating: -1, count: operators.count)
        for (index, op) in operators.enumerated() {
            if op.kind == .matmul, let lhs = op.inputs.first, lhs >= 0, lhs < tensorCount, producer[lhs] >= 0 {
                let source = operators[producer[lhs]]
                if source.kind == .softmax && source.inputs.count == 2 { result[index] = producer[lhs] }
            }
            if op.output >= 0 && op.output < tensorCount { producer[op.output] = index }
        }
        return result
    }
}
