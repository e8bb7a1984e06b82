// ONNX's element types, with the numbers TensorProto.DataType gives them in onnx.proto.

/// The element type of an ONNX tensor, numbered as in `TensorProto.DataType`.
public enum ONNXDataType: Int32, Sendable, CaseIterable, CustomStringConvertible {
    case undefined = 0
    case float = 1
    case uint8 = 2
    case int8 = 3
    case uint16 = 4
    case int16 = 5
    case int32 = 6
    case int64 = 7
    case string = 8
    case bool = 9
    case float16 = 10
    case double = 11
    case uint32 = 12
    case uint64 = 13
    case complex64 = 14
    case complex128 = 15
    case bfloat16 = 16
    case float8e4m3fn = 17
    case float8e4m3fnuz = 18
    case float8e5m2 = 19
    case float8e5m2fnuz = 20
    case uint4 = 21
    case int4 = 22
    case float4e2m1 = 23
    case float8e8m0 = 24
    case uint2 = 25
    case int2 = 26
    case float6e2m3 = 27
    case float6e3m2 = 28

    /// Bytes per element in `raw_data`, or nil for types that are not whole-byte fixed width.
    public var byteWidth: Int? {
        switch self {
        case .uint8, .int8, .bool, .float8e4m3fn, .float8e4m3fnuz, .float8e5m2, .float8e5m2fnuz, .float8e8m0:
            return 1
        case .uint16, .int16, .float16, .bfloat16:
            return 2
        case .float, .int32, .uint32:
            return 4
        case .int64, .uint64, .double, .complex64:
            return 8
        case .complex128:
            return 16
        case .undefined, .string, .uint4, .int4, .float4e2m1, .uint2, .int2, .float6e2m3, .float6e3m2:
            return nil
        }
    }

    /// The name onnx.proto uses, such as `FLOAT` or `INT64`.
    public var description: String {
        switch self {
        case .undefined: return "UNDEFINED"
        case .float: return "FLOAT"
        case .uint8: return "UINT8"
        case .int8: return "INT8"
        case .uint16: return "UINT16"
        case .int16: return "INT16"
        case .int32: return "INT32"
        case .int64: return "INT64"
        case .string: return "STRING"
        case .bool: return "BOOL"
        case .float16: return "FLOAT16"
        case .double: return "DOUBLE"
        case .uint32: return "UINT32"
        case .uint64: return "UINT64"
        case .complex64: return "COMPLEX64"
        case .complex128: return "COMPLEX128"
        case .bfloat16: return "BFLOAT16"
        case .float8e4m3fn: return "FLOAT8E4M3FN"
        case .float8e4m3fnuz: return "FLOAT8E4M3FNUZ"
        case .float8e5m2: return "FLOAT8E5M2"
        case .float8e5m2fnuz: return "FLOAT8E5M2FNUZ"
        case .uint4: return "UINT4"
        case .int4: return "INT4"
        case .float4e2m1: return "FLOAT4E2M1"
        case .float8e8m0: return "FLOAT8E8M0"
        case .uint2: return "UINT2"
        case .int2: return "INT2"
        case .float6e2m3: return "FLOAT6E2M3"
        case .float6e3m2: return "FLOAT6E3M2"
        }
    }

    /// Decodes a `data_type` / `elem_type` field, refusing numbers onnx.proto does not define.
    static func read(_ tag: ProtobufTag, from reader: inout ProtobufReader) throws(ONNXError) -> ONNXDataType {
        let value = try reader.readInt32(tag)
        guard let type = ONNXDataType(rawValue: value) else {
            throw ONNXError(
                .unknownEnumValue(field: tag.field, enumName: "TensorProto.DataType", value: Int64(value)),
                offset: tag.offset)
        }
        return type
    }
}
