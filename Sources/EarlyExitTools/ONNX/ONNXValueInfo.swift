// An ONNX ValueInfoProto: a graph value's name, element type and (possibly symbolic) shape.

/// One dimension of a value's shape: a number, a symbolic name such as `batch`, or unknown.
public enum ONNXDimension: Equatable, Hashable, Sendable {
    /// A fixed size (`dim_value`).
    case value(Int64)
    /// A named size fixed only at run time (`dim_param`).
    case symbolic(String)
    /// A dimension with neither a value nor a name.
    case unknown
}

/// A graph input, output or intermediate value with its declared type.
///
/// Only tensor types are described: for a value of another type (sequence, map, optional) or
/// with no type at all, `elementType` is `.undefined` and `hasShape` is false. Sparse tensor
/// types are read like tensor types.
public struct ONNXValueInfo: Equatable, Sendable {
    /// The value's name.
    public var name: String
    /// The tensor element type, `.undefined` when not given.
    public var elementType: ONNXDataType
    /// The dimensions; empty for a scalar and when the shape is not given (see `hasShape`).
    public var shape: [ONNXDimension]
    /// Whether the file gave a shape: false means the rank itself is unknown.
    public var hasShape: Bool

    /// Creates a value description.
    public init(name: String = "", elementType: ONNXDataType = .undefined, shape: [ONNXDimension] = [], hasShape: Bool = false) {
        self.name = name
        self.elementType = elementType
        self.shape = shape
        self.hasShape = hasShape
    }

    // MARK: Decoding

    /// Decodes a `ValueInfoProto` message.
    init(decoding reader: inout ProtobufReader) throws(ONNXError) {
        self.init()
        while let tag = try reader.nextTag() {
            switch tag.field {
            case 1: name = try reader.readString(tag)
            case 2: try reader.readMessage(tag, path: ".type") { (type: inout ProtobufReader) throws(ONNXError) in
                    try decodeType(&type)
                }
            default: try reader.skip(tag)
            }
        }
    }

    /// Decodes a `TypeProto`, keeping only its `tensor_type` or `sparse_tensor_type`.
    private mutating func decodeType(_ reader: inout ProtobufReader) throws(ONNXError) {
        while let tag = try reader.nextTag() {
            switch tag.field {
            case 1, 8:
                let component = tag.field == 1 ? ".tensor_type" : ".sparse_tensor_type"
                try reader.readMessage(tag, path: component) { (tensor: inout ProtobufReader) throws(ONNXError) in
                    try decodeTensorType(&tensor)
                }
            default: try reader.skip(tag)
            }
        }
    }

    /// Decodes a `TypeProto.Tensor`: `elem_type` and `shape`.
    private mutating func decodeTensorType(_ reader: inout ProtobufReader) throws(ONNXError) {
        while let tag = try reader.nextTag() {
            switch tag.field {
            case 1: elementType = try ONNXDataType.read(tag, from: &reader)
            case 2:
                hasShape = true
                shape = []
                try reader.readMessage(tag, path: ".shape") { (shapeReader: inout ProtobufReader) throws(ONNXError) in
                    try decodeShape(&shapeReader)
                }
            default: try reader.skip(tag)
            }
        }
    }

    /// Decodes a `TensorShapeProto`: its repeated `dim`.
    private mutating func decodeShape(_ reader: inout ProtobufReader) throws(ONNXError) {
        while let tag = try reader.nextTag() {
            switch tag.field {
            case 1:
                let dimension = try reader.readMessage(tag, path: ".dim[\(shape.count)]", Self.decodeDimension)
                shape.append(dimension)
            default: try reader.skip(tag)
            }
        }
    }

    /// Decodes a `TensorShapeProto.Dimension`; the last of `dim_value`/`dim_param` wins.
    private static func decodeDimension(_ reader: inout ProtobufReader) throws(ONNXError) -> ONNXDimension {
        var dimension = ONNXDimension.unknown
        while let tag = try reader.nextTag() {
            switch tag.field {
            case 1: dimension = .value(try reader.readInt64(tag))
            case 2: dimension = .symbolic(try reader.readString(tag))
            default: try reader.skip(tag)
            }
        }
        return dimension
    }
}
