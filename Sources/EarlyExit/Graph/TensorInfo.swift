// The description of one tensor in a model: type, shape, constant data and quantization.

/// Affine quantization parameters: `real = scale · (q − zeroPoint)`.
public struct Quantization: Equatable, Sendable {
    public enum Kind: UInt8, Sendable {
        case none = 0
        case perTensor = 1
        case perChannel = 2
    }
    public var kind: Kind
    public var scale: Float
    public var zeroPoint: Int32
    /// The channel axis of per-channel scales.
    public var axis: Int
    /// Absolute byte offset in the model buffer of `float32[shape[axis]]` channel scales.
    public var channelScalesOffset: Int

    public init(kind: Kind, scale: Float, zeroPoint: Int32, axis: Int, channelScalesOffset: Int) {
        self.kind = kind
        self.scale = scale
        self.zeroPoint = zeroPoint
        self.axis = axis
        self.channelScalesOffset = channelScalesOffset
    }

    public static let none = Quantization(kind: .none, scale: 0, zeroPoint: 0, axis: 0, channelScalesOffset: 0)
}

/// One tensor of a model: an activation planned into the arena, or a constant in the model buffer.
public struct TensorInfo: Sendable {
    public let dataType: DataType
    public let shape: TensorShape
    public let isConstant: Bool
    /// Absolute byte offset of a constant's data in the model buffer; 0 for activations.
    public let dataOffset: Int
    public let byteCount: Int
    public let quantization: Quantization

    public var elementCount: Int { shape.elementCount }
}
