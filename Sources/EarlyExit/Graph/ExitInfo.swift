// An exit point of the network: where it can be taken and what it reads.

/// One exit: an attention module's hypothesis and gate, or (the last exit) the network's own head.
public struct ExitInfo: Sendable {
    /// The index of the operator after which the exit's tensors are ready.
    public let afterOperator: Int
    /// The float32 `[1, classes]` logits tensor.
    public let logitsTensor: Int
    /// The float32 `[1, 1]` gate tensor, `tanh` of the gate projection; `ExitInfo.noGate` (−1)
    /// for an exit without a gate (stored as 0xFFFFFFFF), which supports the maxprob, entropy
    /// and none signals only and is never weighed by eq. 9.
    public let gateTensor: Int
    /// Multiply-accumulates of operators 0 through `afterOperator`.
    public let cumulativeMACs: Int

    /// `gateTensor` of an exit without a gate.
    public static let noGate = -1
    /// The gate field of an exit record without a gate.
    public static let noGateRecord: UInt32 = 0xFFFF_FFFF
    /// True when the exit has a gate tensor.
    public var hasGate: Bool { gateTensor >= 0 }
}

/// Descriptive metadata: input normalization, class names and a model name.
public struct ModelMetadata: Sendable {
    /// Per-channel (or single) mean subtracted from inputs scaled to [0, 1].
    public var mean: [Float]
    /// Per-channel (or single) standard deviation the centred input is divided by.
    public var std: [Float]
    public var classNames: [String]
    public var name: String

    public init(mean: [Float] = [], std: [Float] = [], classNames: [String] = [], name: String = "") {
        self.mean = mean
        self.std = std
        self.classNames = classNames
        self.name = name
    }
}
