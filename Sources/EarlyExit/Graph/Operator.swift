// One operator of the schedule as the file records it, with the facts validation derived.

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

    /// True when the window has no padding on any side.
    public var isUnpadded: Bool { padTop == 0 && padLeft == 0 && padBottom == 0 && padRight == 0 }

    /// The zero-padded plane a one-channel window without dilation reads every tap from: each
    /// input position a tap touches, padding included ((heightOut − 1)·stride + kernel rows,
    /// columns likewise); nil with more channels, with dilation, or with no output.
    public var singleChannelPlane: (width: Int, height: Int)? {
        guard channelsIn == 1 && dilationHeight == 1 && dilationWidth == 1 && heightOut > 0 && widthOut > 0 else { return nil }
        return ((widthOut - 1) * strideWidth + kernelWidth, (heightOut - 1) * strideHeight + kernelHeight)
    }
}

/// One validated operator: what the file says (kind, fused activation, tensors, attribute
/// words) and what validation derived from its shapes (MACs, window geometry, axis).
///
/// How the operator is executed (kernel path, packed weights, scratch) is decided later, when
/// the model is prepared for a kernel set; see `PreparedOperator`.
public struct Operator: Sendable {
    public let kind: OperatorKind
    public let activation: Activation
    public let inputs: [Int]
    public let outputs: [Int]
    /// The raw attribute words of the record (meaning depends on `kind`; see docs/FORMAT.md).
    /// Only the operator's own file (Operators/) reads them, and names each one.
    public let attributes: [Int32]
    /// Multiply-accumulates executed by this operator, computed from its shapes.
    public internal(set) var macs: Int = 0
    /// For convolutions and pooling: the window, input and output geometry.
    public internal(set) var geometry = WindowGeometry()
    /// For softmax and concat: the normalized axis.
    public internal(set) var axis: Int = 0

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
