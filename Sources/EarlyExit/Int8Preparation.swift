// Load-time preparation of int8 operators: folded biases and range checks of their parameters.

enum Int8Preparation {
    /// Checks the values of int8 operators' constant parameters and derives, for each int8
    /// convolution and fully connected operator, `bias[c] − zp_in · Σ_k W[c,k]` (so the GEMM
    /// can multiply raw int8 values), and for each int8 add the two rescaling tables of its
    /// inputs (256 Int32 each). Returns the prepared pool; sets `preparedOffset`.
    static func prepare(_ operators: inout [Operator], tensors: [TensorInfo], base: UnsafeRawPointer) throws(ModelError) -> [Int32] {
        var pool: [Int32] = []
        for index in operators.indices where tensors[operators[index].output].dataType == .int8 {
            let op = operators[index]
            func fail(_ reason: String) -> ModelError { .badOperator(op: index, kind: op.kind.name, reason: reason) }
            func int32s(_ tensor: Int) -> UnsafePointer<Int32> {
                (base + tensors[tensor].dataOffset).assumingMemoryBound(to: Int32.self)
            }
            switch op.kind {
            case .conv2d, .fullyConnected, .batchNorm:
                let channels = tensors[op.inputs[2]].elementCount
                let multipliers = int32s(op.inputs[3]), shifts = int32s(op.inputs[4])
                for c in 0..<channels where multipliers[c] < 0 || shifts[c] < -31 || shifts[c] > 30 {
                    throw fail("channel \(c): requantization multiplier \(multipliers[c]) with shift \(shifts[c]) is invalid (multiplier ≥ 0, shift −31…30)")
                }
                let folds = op.kind == .fullyConnected || (op.kind == .conv2d && (op.convolutionPath == .pointwise || op.convolutionPath == .im2col))
                if folds {
                    let bias = int32s(op.inputs[2])
                    let weights = (base + tensors[op.inputs[1]].dataOffset).assumingMemoryBound(to: Int8.self)
                    let perChannel = tensors[op.inputs[1]].elementCount / channels
                    let zeroPoint = Int64(tensors[op.inputs[0]].quantization.zeroPoint)
                    operators[index].preparedOffset = pool.count
                    for c in 0..<channels {
                        var sum: Int64 = 0
                        for k in 0..<perChannel { sum += Int64(weights[c * perChannel + k]) }
                        let folded = Int64(bias[c]) - zeroPoint * sum
                        if folded < Int64(Int32.min) || folded > Int64(Int32.max) {
                            throw fail("channel \(c): bias \(bias[c]) with the input zero point folded in overflows int32")
                        }
                        pool.append(Int32(folded))
                    }
                }
            case .add:
                // TFLite's int8 add rescales each input by (x − zp) << leftShift, then a multiplier
                // and shift: a function of the int8 value alone, tabulated here for all 256 values
                // (bit-identical to computing it per element).
                let a = op.attributes
                operators[index].preparedOffset = pool.count
                for (zeroPoint, multiplier, shift) in [(tensors[op.inputs[0]].quantization.zeroPoint, a[1], a[2]),
                                                       (tensors[op.inputs[1]].quantization.zeroPoint, a[3], a[4])] {
                    for value in -128...127 {
                        pool.append(FixedPoint.multiplyByQuantizedMultiplier((Int32(value) - zeroPoint) << a[0], multiplier, shift))
                    }
                }
            case .softmax:
                let table = int32s(op.inputs[1])
                for d in 0..<256 where table[d] < 0 || table[d] > 1 << 24 {
                    throw fail("exponential table entry \(d) is \(table[d]); entries must be between 0 and 2^24")
                }
                if table[0] < 1 { throw fail("exponential table entry 0 (e^0) is \(table[0]); it must be positive") }
            default:
                break
            }
        }
        return pool
    }
}
