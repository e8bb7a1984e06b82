// The one error type of the ONNX reader: what is wrong, at which byte, inside which message.

/// An ONNX file or tensor that the reader refuses, with where the problem is.
///
/// `offset` is the absolute byte offset in the decoded buffer (for wire-format errors, the
/// offset of the offending field's key or of the varint that failed); `path` is the message path
/// from the root, such as `ModelProto.graph.node[3].attribute[1]`. Errors raised after decoding
/// (tensor accessors, attribute helpers) have no offset and name the tensor or node instead.
public struct ONNXError: Error, Equatable, Sendable, CustomStringConvertible {
    /// What went wrong.
    public enum Reason: Equatable, Sendable {
        /// A varint runs past the end of its message.
        case truncatedVarint
        /// A varint is longer than 10 bytes or does not fit in 64 bits.
        case varintOverflow
        /// A fixed32 or fixed64 field needs `width` bytes but fewer remain.
        case truncatedFixed(field: Int, width: Int, remaining: Int)
        /// A length-delimited field claims more bytes than remain in its message.
        case lengthOutOfBounds(field: Int, claimed: UInt64, remaining: Int)
        /// A field uses the group wire types 3 or 4, which ONNX never uses.
        case groupNotSupported(field: Int, wireType: Int)
        /// A field uses the wire type 6 or 7, which protobuf does not define.
        case invalidWireType(field: Int, wireType: Int)
        /// A field key holds field number 0 or one above 2^29 - 1.
        case invalidFieldNumber(UInt64)
        /// A known field arrived with a wire type its schema type cannot have.
        case unexpectedWireType(field: Int, found: Int, expected: String)
        /// A packed repeated fixed-width field's length is not a multiple of the element size.
        case packedLengthMismatch(field: Int, length: Int, elementSize: Int)
        /// A string field is not valid UTF-8.
        case invalidUTF8(field: Int)
        /// An enum field holds a value this reader does not know.
        case unknownEnumValue(field: Int, enumName: String, value: Int64)
        /// Messages are nested deeper than the reader's limit.
        case nestingTooDeep(limit: Int)
        /// A field the reader needs is absent.
        case missingField(String)
        /// A tensor keeps its data in an external file that was not loaded (the model was
        /// decoded from bytes, without the folder its side files are relative to).
        case externalData(tensor: String, location: String)
        /// A tensor's external data (side file) cannot be used: what is wrong, and with which file.
        case invalidExternalData(tensor: String, file: String, detail: String)
        /// A tensor's dims, data type or data are inconsistent.
        case invalidTensor(tensor: String, detail: String)
        /// An attribute has a different type than the caller asked for.
        case attributeTypeMismatch(name: String, actual: ONNXAttributeType, expected: ONNXAttributeType)
        /// The file could not be read from disk.
        case unreadableFile(path: String, detail: String)
    }

    /// What went wrong.
    public let reason: Reason
    /// The absolute byte offset of the problem, when it is a place in the file.
    public let offset: Int?
    /// The message path from the root, or a tensor or node name for errors after decoding.
    public let path: String

    /// Creates an error; `path` is usually filled in by the enclosing message decoders.
    public init(_ reason: Reason, offset: Int? = nil, path: String = "") {
        self.reason = reason
        self.offset = offset
        self.path = path
    }

    /// The same error seen from one message further out: `component` is prepended to the path.
    func within(_ component: String) -> ONNXError {
        ONNXError(reason, offset: offset, path: component + path)
    }

    /// The problem in words, with its byte offset and message path, such as
    /// `truncated varint at byte 1234 (in ModelProto.graph.node[3])`.
    public var description: String {
        let at = offset.map { " at byte \($0)" } ?? ""
        let text: String
        switch reason {
        case .truncatedVarint:
            text = "truncated varint\(at)"
        case .varintOverflow:
            text = "varint\(at) is longer than 10 bytes or overflows 64 bits"
        case let .truncatedFixed(field, width, remaining):
            text = "fixed\(width * 8) field \(field)\(at) needs \(width) bytes but only \(remaining) remain"
        case let .lengthOutOfBounds(field, claimed, remaining):
            text = "length-delimited field \(field)\(at) claims \(claimed) bytes but only \(remaining) remain"
        case let .groupNotSupported(field, wireType):
            text = "field \(field)\(at) uses group wire type \(wireType), which ONNX never uses"
        case let .invalidWireType(field, wireType):
            text = "field \(field)\(at) has invalid wire type \(wireType)"
        case let .invalidFieldNumber(number):
            text = "invalid field number \(number)\(at)"
        case let .unexpectedWireType(field, found, expected):
            text = "field \(field)\(at) has wire type \(found), expected \(expected)"
        case let .packedLengthMismatch(field, length, elementSize):
            text = "packed field \(field)\(at) is \(length) bytes long, not a multiple of \(elementSize)"
        case let .invalidUTF8(field):
            text = "string field \(field)\(at) is not valid UTF-8"
        case let .unknownEnumValue(field, enumName, value):
            text = "field \(field)\(at) has unknown \(enumName) value \(value)"
        case let .nestingTooDeep(limit):
            text = "messages nested deeper than \(limit) levels\(at)"
        case let .missingField(name):
            text = "required field \(name) is missing\(at)"
        case let .externalData(tensor, location):
            let file = location.isEmpty ? "a side file" : "the side file '\(location)'"
            text = "tensor \(tensor) keeps its data in \(file); read the model from its .onnx file so that side files next to it are loaded"
        case let .invalidExternalData(tensor, file, detail):
            text = "tensor \(tensor): external data file '\(file)': \(detail)"
        case let .invalidTensor(tensor, detail):
            text = "tensor \(tensor): \(detail)\(at)"
        case let .attributeTypeMismatch(name, actual, expected):
            text = "attribute \(name) has type \(actual), expected \(expected)"
        case let .unreadableFile(path, detail):
            text = "cannot read \(path): \(detail)"
        }
        return path.isEmpty ? text : "\(text) (in \(path))"
    }
}
