// Which activations are stored channels-last: decided once per model, before preparation.

/// How an activation's elements are laid out in the arena.
public enum TensorLayout: UInt8, Sendable {
    /// As the model declares it: row-major over `[1, C, H, W]` (NCHW).
    case standard
    /// Channels innermost: `[H][W][C]` for `[1, C, H, W]`, `[L][C]` for `[1, C, L]`. The fast
    /// convolution kernels read and write this layout.
    case channelsLast
}

/// Assigns layouts so that convolutions read and write channels-last maps without conversions.
///
/// 1. Candidates are activations whose two layouts differ: `[1, C, H, W]` with C > 1 and
///    H·W > 1, and `[1, C, L]` with C > 1 and L > 1.
/// 2. Operators that work on either layout unchanged join their inputs and output into one
///    group (they must share a layout): batch norm, ReLU, tanh, sigmoid, clip, hard sigmoid,
///    hard swish, leaky ReLU, same-shape add and mul, and the reshape `[1, C, H, W] -> [1, C, H·W]`.
/// 3. A group is channels-last when a convolution with one group produces one of its members
///    and nothing vetoes it: a member that is the model input, or is produced or read by an
///    operator that needs the standard layout. Besides the group's own operators, the readers
///    that accept channels-last are convolutions with one group, global average pooling, and
///    the transpose `[1, C, L] -> [1, L, C]` (which then becomes a copy).
/// int8 models do the same on kernel sets with native int8 kernels (`Int8KernelTable`), and
/// keep the standard layout everywhere on the others (their convolution kernels read NCHW).
enum TensorLayouts {
    static func assign(tensors: [TensorInfo], operators: [Operator], inputTensor: Int, quantized: Bool,
                       kernels: KernelSet) -> [TensorLayout] {
        var layouts = [TensorLayout](repeating: .standard, count: tensors.count)
        if quantized && !Int8KernelTable.hasNativeKernels(kernels.int8) { return layouts }
        func candidate(_ t: Int) -> Bool {
            let info = tensors[t], s = info.shape
            if info.isConstant || s[0] != 1 { return false }
            if s.rank == 4 { return s[1] > 1 && s[2] * s[3] > 1 }
            if s.rank == 3 { return s[1] > 1 && s[2] > 1 }
            return false
        }
        var parent = Array(tensors.indices)
        func root(_ t: Int) -> Int {
            var r = t
            while parent[r] != r { r = parent[r] }
            var x = t
            while parent[x] != r { let next = parent[x]; parent[x] = r; x = next }
            return r
        }
        func join(_ a: Int, _ b: Int) { parent[root(a)] = root(b) }
        var veto = [Bool](repeating: false, count: tensors.count)
        var fromConvolution = [Bool](repeating: false, count: tensors.count)

        // Which operators keep a group together, and which read a candidate in a way that accepts channels-last.
        func isGroupOperator(_ op: Operator) -> Bool {
            switch op.kind {
            case .batchNorm, .relu, .tanh, .sigmoid, .clip, .hardSigmoid, .hardSwish, .leakyRelu:
                return candidate(op.inputs[0]) && candidate(op.output)
            case .add, .mul:
                let out = tensors[op.output].shape
                return op.inputs.allSatisfy { !tensors[$0].isConstant && tensors[$0].shape == out } && candidate(op.output)
            case .reshape:
                let x = tensors[op.inputs[0]].shape, y = tensors[op.output].shape
                return candidate(op.inputs[0]) && candidate(op.output) && x.rank == 4 && y.rank == 3 && y[1] == x[1] && y[2] == x[2] * x[3]
            default:
                return false
            }
        }
        for op in operators where isGroupOperator(op) {
            for input in op.inputs where candidate(input) { join(input, op.output) }
        }
        for op in operators {
            let groupOperator = isGroupOperator(op)
            // Producers.
            if candidate(op.output) {
                if op.kind == .conv2d && op.geometry.groups == 1 {
                    fromConvolution[op.output] = true
                } else if !groupOperator {
                    veto[op.output] = true
                }
            }
            // Readers.
            for (position, input) in op.inputs.enumerated() where candidate(input) {
                let accepts: Bool
                switch op.kind {
                case .conv2d: accepts = position == 0 && op.geometry.groups == 1
                case .globalAvgPool: accepts = true
                case .transpose:
                    let s = tensors[input].shape
                    accepts = s.rank == 3 && op.attributes[0] == 0 && op.attributes[1] == 2 && op.attributes[2] == 1
                default: accepts = groupOperator
                }
                if !accepts { veto[input] = true }
            }
        }
        if candidate(inputTensor) { veto[inputTensor] = true }
        var groupVeto = [Bool](repeating: false, count: tensors.count)
        var groupConvolution = [Bool](repeating: false, count: tensors.count)
        for t in tensors.indices where candidate(t) {
            let r = root(t)
            if veto[t] { groupVeto[r] = true }
            if fromConvolution[t] { groupConvolution[r] = true }
        }
        for t in tensors.indices where candidate(t) {
            let r = root(t)
            if groupConvolution[r] && !groupVeto[r] { layouts[t] = .channelsLast }
        }
        return layouts
    }
}
