// Operator pairs fused at load: a convolution whose only reader is a residual add writes the
// sum itself, with the add's ReLU, in its kernel's epilogue.

/// The residual add fused into the convolution that produces one of its inputs.
struct ResidualFusion {
    /// The add operator (skipped in fused runs).
    let add: Int
    /// The add's other input, read by the convolution's epilogue.
    let residual: Int
    /// The add's output, written by the convolution in fused runs.
    let output: Int
    let relu: Bool
}

enum Fusion {
    /// For every float32 add of two same-shape activations, the convolution it can fuse with:
    /// a fast-path convolution (channels-last output, no ReLU of its own) whose output only the
    /// add reads and no exit reads, where the add's other input exists before the convolution
    /// runs. Returns the fusions by convolution index.
    ///
    /// A fused run skips the add and never writes the convolution's own output; a run with an
    /// observer (`Interpreter.run(_:afterEachOperator:)`) executes both operators unfused, so
    /// tools that read intermediate tensors (calibration, explain) see every one. The planner
    /// keeps both buffers (`BufferLifetimes`).
    static func residualAdds(tensors: [TensorInfo], operators: [Operator], prepared: [PreparedOperator], exits: [ExitInfo],
                             producers: [Int]) -> [Int: ResidualFusion] {
        var readers = [Int](repeating: 0, count: tensors.count)
        for op in operators { for input in op.inputs { readers[input] += 1 } }
        for exit in exits {
            readers[exit.logitsTensor] += 1
            if exit.hasGate { readers[exit.gateTensor] += 1 }
        }
        var fusions: [Int: ResidualFusion] = [:]
        for (index, op) in operators.enumerated() where op.kind == .add && op.inputs.count == 2 {
            let out = tensors[op.output]
            guard out.dataType == .float32 else { continue }
            for side in 0..<2 {
                let convolution = op.inputs[side], other = op.inputs[1 - side]
                guard !tensors[convolution].isConstant, !tensors[other].isConstant,
                      tensors[convolution].shape == out.shape, tensors[other].shape == out.shape,
                      readers[convolution] == 1 else { continue }
                let producer = producers[convolution]
                guard producer >= 0, producer < index, fusions[producer] == nil,
                      case let .conv2d(conv) = prepared[producer], let fast = conv.fast, fast.canFuseResidual, !conv.relu,
                      producers[other] < producer else { continue }
                fusions[producer] = ResidualFusion(add: index, residual: other, output: op.output, relu: op.activation == .relu)
                break
            }
        }
        return fusions
    }
}
