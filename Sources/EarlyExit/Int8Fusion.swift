// Operator pairs the int8 interpreter runs together.

/// The int8 attention pooling `matmul(softmax(a), V)` runs from the softmax's input `a`, so
/// that the masks are not rounded to int8 before they weight V (see
/// `Int8Kernels.attentionPooling`). The arena plan keeps `a` alive until the matmul.
enum Int8Fusion {
    /// The softmax operator whose int8 output is the left input of int8 matmul `index`, if any.
    static func pooledSoftmax(_ operators: [Operator], matmul index: Int) -> Int? {
        let op = operators[index]
        guard op.kind == .matmul, !op.inputs.isEmpty else { return nil }
        for (source, producer) in operators.enumerated()
        where source < index && producer.output == op.inputs[0] && producer.kind == .softmax && producer.inputs.count == 2 {
            return source
        }
        return nil
    }
}
