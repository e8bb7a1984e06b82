// An ONNX AttributeProto: a named constant parameter of a node, such as Conv's `strides`.

/// The kind of value an attribute holds, numbered as in `AttributeProto.AttributeType`.
public enum ONNXAttributeType: Int32, Sendable, CaseIterable, CustomStringConvertible {
    case undefined = 0
    case float = 1
    case int = 2
    case string = 3
    case tensor = 4
    case graph = 5
    case floats = 6
    case ints = 7
    case strings = 8
    case tensors = 9
    case graphs = 10
    case sparseTensor = 11
    case sparseTensors = 12
    case typeProto = 13
    case typeProtos = 14

    /// The name onnx.proto uses, such as `INTS`.
    public var description: String {
        switch self {
        case .undefined: return "UNDEFINED"
        case .float: return "FLOAT"
        case .int: return "INT"
        case .string: return "STRING"
        case .tensor: return "TENSOR"
        case .graph: return "GRAPH"
        case .floats: return "FLOATS"
        case .ints: return "INTS"
        case .strings: return "STRINGS"
        case .tensors: return "TENSORS"
        case .graphs: return "GRAPHS"
        case .sparseTensor: return "SPARSE_TENSOR"
        case .sparseTensors: return "SPARSE_TENSORS"
        case .typeProto: return "TYPE_PROTO"
        case .typeProtos: return "TYPE_PROTOS"
        }
    }
}

/// A named attribute of a node; `type` says which of the value fields is meaningful.
///
/// Graph-valued attributes (`g`, `graphs`, as in If and Loop) are decoded, with the reader's
/// nesting limit bounding how deep subgraphs may go. Sparse-tensor and type-proto attributes
/// keep only their `type`: their payloads are skipped, and a consumer that meets one should
/// refuse the node. An attribute without a `type` (written by very old exporters) gets the type
/// of the value field that was set.
public struct ONNXAttribute: Equatable, Sendable {
    /// The attribute's name.
    public var name: String
    /// Which value field is meaningful.
    public var type: ONNXAttributeType
    /// The FLOAT value.
    public var f: Float
    /// The INT value.
    public var i: Int64
    /// The STRING value, as stored (ONNX strings are bytes, normally UTF-8).
    public var s: [UInt8]
    /// The TENSOR value.
    public var t: ONNXTensor?
    /// The GRAPH value.
    public var g: ONNXGraph?
    /// The FLOATS value.
    public var floats: [Float]
    /// The INTS value.
    public var ints: [Int64]
    /// The STRINGS value, as stored.
    public var strings: [[UInt8]]
    /// The TENSORS value.
    public var tensors: [ONNXTensor]
    /// The GRAPHS value.
    public var graphs: [ONNXGraph]

    /// Creates an attribute; every value field defaults to empty.
    public init(
        name: String = "", type: ONNXAttributeType = .undefined, f: Float = 0, i: Int64 = 0, s: [UInt8] = [],
        t: ONNXTensor? = nil, g: ONNXGraph? = nil, floats: [Float] = [], ints: [Int64] = [],
        strings: [[UInt8]] = [], tensors: [ONNXTensor] = [], graphs: [ONNXGraph] = []
    ) {
        self.name = name
        self.type = type
        self.f = f
        self.i = i
        self.s = s
        self.t = t
        self.g = g
        self.floats = floats
        self.ints = ints
        self.strings = strings
        self.tensors = tensors
        self.graphs = graphs
    }

    /// The STRING value decoded as UTF-8, or nil when it is not valid UTF-8.
    public var stringValue: String? { String(validating: s, as: UTF8.self) }

    /// The STRINGS values decoded as UTF-8, or nil when any is not valid UTF-8.
    public var stringValues: [String]? {
        var result: [String] = []
        for bytes in strings {
            guard let text = String(validating: bytes, as: UTF8.self) else { return nil }
            result.append(text)
        }
        return result
    }

    // MARK: Decoding

    /// Decodes an `AttributeProto` message.
    init(decoding reader: inout ProtobufReader) throws(ONNXError) {
        self.init()
        var declaredType: ONNXAttributeType?
        var inferredType = ONNXAttributeType.undefined
        while let tag = try reader.nextTag() {
            switch tag.field {
            case 1: name = try reader.readString(tag)
            case 2:
                f = try reader.readFloat(tag)
                inferredType = .float
            case 3:
                i = try reader.readInt64(tag)
                inferredType = .int
            case 4:
                s = try reader.readBytes(tag)
                inferredType = .string
            case 5:
                t = try reader.readMessage(tag, path: ".t", ONNXTensor.init(decoding:))
                inferredType = .tensor
            case 6:
                g = try reader.readMessage(tag, path: ".g", ONNXGraph.init(decoding:))
                inferredType = .graph
            case 7:
                try reader.appendFloats(tag, to: &floats)
                inferredType = .floats
            case 8:
                try reader.appendInt64s(tag, to: &ints)
                inferredType = .ints
            case 9:
                strings.append(try reader.readBytes(tag))
                inferredType = .strings
            case 10:
                tensors.append(try reader.readMessage(tag, path: ".tensors[\(tensors.count)]", ONNXTensor.init(decoding:)))
                inferredType = .tensors
            case 11:
                graphs.append(try reader.readMessage(tag, path: ".graphs[\(graphs.count)]", ONNXGraph.init(decoding:)))
                inferredType = .graphs
            case 14:
                _ = try reader.readLengthDelimited(tag)
                inferredType = .typeProto
            case 15:
                _ = try reader.readLengthDelimited(tag)
                inferredType = .typeProtos
            case 22:
                _ = try reader.readLengthDelimited(tag)
                inferredType = .sparseTensor
            case 23:
                _ = try reader.readLengthDelimited(tag)
                inferredType = .sparseTensors
            case 20:
                let value = try reader.readInt32(tag)
                guard let type = ONNXAttributeType(rawValue: value) else {
                    throw ONNXError(
                        .unknownEnumValue(field: tag.field, enumName: "AttributeProto.AttributeType", value: Int64(value)),
                        offset: tag.offset)
                }
                declaredType = type
            default: try reader.skip(tag)
            }
        }
        if let declaredType, declaredType != .undefined {
            type = declaredType
        } else {
            type = inferredType
        }
    }
}
