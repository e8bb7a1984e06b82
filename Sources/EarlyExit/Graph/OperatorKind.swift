// The operator kinds of the `.eem` format and their names.

/// The kind of an operator; the raw value is the opcode stored in the `.eem` file.
public enum OperatorKind: UInt8, Sendable, CaseIterable {
    case conv2d = 1
    case fullyConnected = 2
    case add = 3
    case mul = 4
    case relu = 5
    case tanh = 6
    case sigmoid = 7
    case batchNorm = 8
    case maxPool = 9
    case avgPool = 10
    case globalAvgPool = 11
    case softmax = 12
    case matmul = 13
    case transpose = 14
    case reshape = 15
    case concat = 16
    // Added with ONNX import breadth (issue 14): readers without them reject these codes.
    case clip = 17
    case hardSigmoid = 18
    case hardSwish = 19
    case leakyRelu = 20
    case reduceSum = 21
    case reduceMax = 22
    case expand = 23
    case slice = 24
    case pad = 25
    case resize = 26
    case sub = 27
    case div = 28

    public var name: String {
        switch self {
        case .conv2d: return "conv2d"
        case .fullyConnected: return "fully_connected"
        case .add: return "add"
        case .mul: return "mul"
        case .relu: return "relu"
        case .tanh: return "tanh"
        case .sigmoid: return "sigmoid"
        case .batchNorm: return "batch_norm"
        case .maxPool: return "max_pool"
        case .avgPool: return "avg_pool"
        case .globalAvgPool: return "global_avg_pool"
        case .softmax: return "softmax"
        case .matmul: return "matmul"
        case .transpose: return "transpose"
        case .reshape: return "reshape"
        case .concat: return "concat"
        case .clip: return "clip"
        case .hardSigmoid: return "hard_sigmoid"
        case .hardSwish: return "hard_swish"
        case .leakyRelu: return "leaky_relu"
        case .reduceSum: return "reduce_sum"
        case .reduceMax: return "reduce_max"
        case .expand: return "expand"
        case .slice: return "slice"
        case .pad: return "pad"
        case .resize: return "resize"
        case .sub: return "sub"
        case .div: return "div"
        }
    }
}
