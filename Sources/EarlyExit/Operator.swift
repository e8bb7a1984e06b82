// The operators the runtime executes, with their attributes and precomputed geometry.

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
        }
    }
}

/// Spatial geometry of a convolution or pooling window, decided at load time.
public struct WindowGeometry: Equatable, Sendable {
    public var channelsIn = 0, heightIn = 0, widthIn = 0
    public var channelsOut = 0, heightOut = 0, widthOut = 0
    public var kernelHeight = 1, kernelWidth = 1
    public var strideHeight = 1, strideWidth = 1
    public var padTop = 0, padLeft = 0, padBottom = 0, padRight = 0
    public var dilationHeight = 1, dilationWidth = 1
    public var groups = 1

    public init() {}
}

/// How a convolution is executed, chosen once from its geometry.
public enum ConvolutionPath: Sendable {
    /// 1×1, stride 1, no padding, one group: a matrix product straight over the input.
    case pointwise
    /// One group: image-to-column into scratch, then a matrix product.
    case im2col
    /// One filter per input channel.
    case depthwise
    /// Any other grouping: the reference loop.
    case grouped
}

/// One operator of the schedule, validated, with everything the kernels need precomputed.
public struct Operator: Sendable {
    public let kind: OperatorKind
    public let activation: Activation
    public let inputs: [Int]
    public let outputs: [Int]
    /// The raw attribute words of the record (meaning depends on `kind`; see docs/FORMAT.md).
    public let attributes: [Int32]
    /// Multiply-accumulates executed by this operator, computed from its shapes.
    public internal(set) var macs: Int = 0
    /// Arena bytes of scratch this operator needs while it runs.
    public internal(set) var scratchBytes: Int = 0
    public internal(set) var geometry = WindowGeometry()
    public internal(set) var convolutionPath: ConvolutionPath = .grouped
    /// For softmax and concat: the normalized axis.
    public internal(set) var axis: Int = 0
    /// For int8 convolutions and fully connected: the offset of this operator's biases with
    /// the input zero point folded in (`bias − zp·ΣW`) in the model's prepared pool, or -1.
    public internal(set) var preparedOffset: Int = -1

    init(kind: OperatorKind, activation: Activation, inputs: [Int], outputs: [Int], attributes: [Int32]) {
        self.kind = kind
        self.activation = activation
        self.inputs = inputs
        self.outputs = outputs
        self.attributes = attributes
    }

    /// The single output tensor index.
    public var output: Int { outputs[0] }
}
