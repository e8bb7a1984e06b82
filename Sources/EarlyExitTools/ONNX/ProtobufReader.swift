// A bounds-checked protobuf wire-format reader: the only code that touches the raw ONNX bytes.

/// The protobuf wire types this reader accepts (groups and 6/7 are rejected when read).
enum ProtobufWireType: UInt8, Sendable {
    case varint = 0
    case fixed64 = 1
    case lengthDelimited = 2
    case fixed32 = 5
}

/// One field key read from the wire: field number, wire type and the key's byte offset.
struct ProtobufTag: Sendable {
    /// The field number, in `1 ... 2^29 - 1`.
    let field: Int
    /// How the value after the key is encoded.
    let wireType: ProtobufWireType
    /// The absolute byte offset of the key.
    let offset: Int
}

/// A cursor over one protobuf message inside a byte buffer, checking every access.
///
/// The reader never reads outside its message's `[start, end)` range: each read checks the
/// remaining length first and throws an `ONNXError` naming the field and the absolute byte
/// offset. Nested messages get their own reader over a sub-range one level deeper; nesting past
/// `maxDepth` is refused, so hostile files cannot exhaust the stack. Unknown fields are skipped
/// by length without recursion. Repeated scalars are accepted both packed and unpacked.
struct ProtobufReader {
    /// The deepest message nesting accepted; ONNX's own schema needs about 7 levels per graph.
    static let maxDepth = 64
    /// The longest varint protobuf allows.
    static let maxVarintBytes = 10

    /// The whole buffer; offsets in errors are indices into it.
    let bytes: [UInt8]
    /// The next byte to read.
    private(set) var position: Int
    /// One past the last byte of this message.
    let end: Int
    /// How many messages enclose this one (the root message is at depth 0).
    let depth: Int

    /// Creates a reader over a whole buffer holding one root message.
    init(_ bytes: [UInt8]) {
        self.bytes = bytes
        self.position = 0
        self.end = bytes.count
        self.depth = 0
    }

    private init(bytes: [UInt8], range: Range<Int>, depth: Int) {
        self.bytes = bytes
        self.position = range.lowerBound
        self.end = range.upperBound
        self.depth = depth
    }

    /// Whether every byte of this message has been read.
    var isAtEnd: Bool { position >= end }

    /// The number of unread bytes in this message.
    var remaining: Int { end - position }

    // MARK: Wire primitives

    /// Reads the next field key, or returns nil at the end of the message.
    mutating func nextTag() throws(ONNXError) -> ProtobufTag? {
        guard position < end else { return nil }
        let start = position
        let key = try readVarint()
        let number = key >> 3
        guard number >= 1, number <= 0x1FFF_FFFF else {
            throw ONNXError(.invalidFieldNumber(number), offset: start)
        }
        let field = Int(number)
        let rawWireType = UInt8(key & 7)
        guard let wireType = ProtobufWireType(rawValue: rawWireType) else {
            if rawWireType == 3 || rawWireType == 4 {
                throw ONNXError(.groupNotSupported(field: field, wireType: Int(rawWireType)), offset: start)
            }
            throw ONNXError(.invalidWireType(field: field, wireType: Int(rawWireType)), offset: start)
        }
        return ProtobufTag(field: field, wireType: wireType, offset: start)
    }

    /// Reads a base-128 varint of at most 10 bytes whose value fits in 64 bits.
    mutating func readVarint() throws(ONNXError) -> UInt64 {
        let start = position
        var index = position
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard index < end else { throw ONNXError(.truncatedVarint, offset: start) }
            let byte = bytes[index]
            index += 1
            if shift == 63 {
                // The tenth byte may only carry bit 63 and must end the varint.
                guard byte <= 1 else { throw ONNXError(.varintOverflow, offset: start) }
                result |= UInt64(byte) << 63
                position = index
                return result
            }
            result |= UInt64(byte & 0x7F) << shift
            if byte & 0x80 == 0 {
                position = index
                return result
            }
            shift += 7
        }
    }

    /// Reads a little-endian fixed32 value for `field`.
    mutating func readFixed32(field: Int, at offset: Int) throws(ONNXError) -> UInt32 {
        guard remaining >= 4 else {
            throw ONNXError(.truncatedFixed(field: field, width: 4, remaining: remaining), offset: offset)
        }
        var value: UInt32 = 0
        for index in 0..<4 {
            value |= UInt32(bytes[position + index]) << (8 * UInt32(index))
        }
        position += 4
        return value
    }

    /// Reads a little-endian fixed64 value for `field`.
    mutating func readFixed64(field: Int, at offset: Int) throws(ONNXError) -> UInt64 {
        guard remaining >= 8 else {
            throw ONNXError(.truncatedFixed(field: field, width: 8, remaining: remaining), offset: offset)
        }
        var value: UInt64 = 0
        for index in 0..<8 {
            value |= UInt64(bytes[position + index]) << (8 * UInt64(index))
        }
        position += 8
        return value
    }

    /// Reads a length-delimited field's length and returns the range of its payload.
    mutating func readLengthDelimited(_ tag: ProtobufTag) throws(ONNXError) -> Range<Int> {
        try expect(tag, .lengthDelimited, "length-delimited (2)")
        let length = try readVarint()
        guard length <= UInt64(remaining) else {
            throw ONNXError(
                .lengthOutOfBounds(field: tag.field, claimed: length, remaining: remaining), offset: tag.offset)
        }
        let range = position..<(position + Int(length))
        position = range.upperBound
        return range
    }

    /// Skips the value of a field this reader's caller does not decode.
    mutating func skip(_ tag: ProtobufTag) throws(ONNXError) {
        switch tag.wireType {
        case .varint: _ = try readVarint()
        case .fixed64: _ = try readFixed64(field: tag.field, at: tag.offset)
        case .lengthDelimited: _ = try readLengthDelimited(tag)
        case .fixed32: _ = try readFixed32(field: tag.field, at: tag.offset)
        }
    }

    /// Throws unless `tag` has the wire type `wireType`.
    func expect(_ tag: ProtobufTag, _ wireType: ProtobufWireType, _ expected: String) throws(ONNXError) {
        guard tag.wireType == wireType else {
            throw ONNXError(
                .unexpectedWireType(field: tag.field, found: Int(tag.wireType.rawValue), expected: expected),
                offset: tag.offset)
        }
    }

    // MARK: Singular typed fields

    /// Reads an `int64` (or `uint64`) field, reinterpreting the 64 bits as signed.
    mutating func readInt64(_ tag: ProtobufTag) throws(ONNXError) -> Int64 {
        try expect(tag, .varint, "varint (0)")
        return Int64(bitPattern: try readVarint())
    }

    /// Reads an `int32` or enum field, keeping the low 32 bits as protobuf specifies.
    mutating func readInt32(_ tag: ProtobufTag) throws(ONNXError) -> Int32 {
        try expect(tag, .varint, "varint (0)")
        return Int32(truncatingIfNeeded: try readVarint())
    }

    /// Reads a `float` field.
    mutating func readFloat(_ tag: ProtobufTag) throws(ONNXError) -> Float {
        try expect(tag, .fixed32, "fixed32 (5)")
        return Float(bitPattern: try readFixed32(field: tag.field, at: tag.offset))
    }

    /// Reads a `bytes` field.
    mutating func readBytes(_ tag: ProtobufTag) throws(ONNXError) -> [UInt8] {
        Array(bytes[try readLengthDelimited(tag)])
    }

    /// Reads a `string` field, which must be valid UTF-8.
    mutating func readString(_ tag: ProtobufTag) throws(ONNXError) -> String {
        let range = try readLengthDelimited(tag)
        guard let text = String(validating: bytes[range], as: UTF8.self) else {
            throw ONNXError(.invalidUTF8(field: tag.field), offset: tag.offset)
        }
        return text
    }

    /// Decodes an embedded message with `decode`, one nesting level deeper.
    ///
    /// Errors thrown inside get `path` prepended, so the final error names the whole path.
    /// `path` is only evaluated when an error occurs.
    mutating func readMessage<Value>(
        _ tag: ProtobufTag, path: @autoclosure () -> String,
        _ decode: (inout ProtobufReader) throws(ONNXError) -> Value
    ) throws(ONNXError) -> Value {
        let range = try readLengthDelimited(tag)
        guard depth < Self.maxDepth else {
            throw ONNXError(.nestingTooDeep(limit: Self.maxDepth), offset: tag.offset, path: path())
        }
        var nested = ProtobufReader(bytes: bytes, range: range, depth: depth + 1)
        do throws(ONNXError) {
            return try decode(&nested)
        } catch {
            throw error.within(path())
        }
    }

    // MARK: Repeated scalar fields (packed or unpacked)

    /// Appends one unpacked varint or a packed run of varints as `int64` values.
    mutating func appendInt64s(_ tag: ProtobufTag, to values: inout [Int64]) throws(ONNXError) {
        if tag.wireType == .lengthDelimited {
            var packed = try packedReader(tag)
            while !packed.isAtEnd { values.append(Int64(bitPattern: try packed.readVarint())) }
        } else {
            values.append(try readInt64(tag))
        }
    }

    /// Appends one unpacked varint or a packed run of varints as `int32` values.
    mutating func appendInt32s(_ tag: ProtobufTag, to values: inout [Int32]) throws(ONNXError) {
        if tag.wireType == .lengthDelimited {
            var packed = try packedReader(tag)
            while !packed.isAtEnd { values.append(Int32(truncatingIfNeeded: try packed.readVarint())) }
        } else {
            values.append(try readInt32(tag))
        }
    }

    /// Appends one unpacked fixed32 or a packed run of fixed32 values as floats.
    mutating func appendFloats(_ tag: ProtobufTag, to values: inout [Float]) throws(ONNXError) {
        if tag.wireType == .lengthDelimited {
            var packed = try packedReader(tag, elementSize: 4)
            values.reserveCapacity(values.count + packed.remaining / 4)
            while !packed.isAtEnd {
                values.append(Float(bitPattern: try packed.readFixed32(field: tag.field, at: tag.offset)))
            }
        } else {
            values.append(try readFloat(tag))
        }
    }

    /// Appends one unpacked fixed64 or a packed run of fixed64 values as doubles.
    mutating func appendDoubles(_ tag: ProtobufTag, to values: inout [Double]) throws(ONNXError) {
        if tag.wireType == .lengthDelimited {
            var packed = try packedReader(tag, elementSize: 8)
            values.reserveCapacity(values.count + packed.remaining / 8)
            while !packed.isAtEnd {
                values.append(Double(bitPattern: try packed.readFixed64(field: tag.field, at: tag.offset)))
            }
        } else {
            try expect(tag, .fixed64, "fixed64 (1) or length-delimited (2)")
            values.append(Double(bitPattern: try readFixed64(field: tag.field, at: tag.offset)))
        }
    }

    /// Returns a reader over a packed field's payload, checking its length is whole elements.
    private mutating func packedReader(_ tag: ProtobufTag, elementSize: Int = 1) throws(ONNXError) -> ProtobufReader {
        let range = try readLengthDelimited(tag)
        guard range.count % elementSize == 0 else {
            throw ONNXError(
                .packedLengthMismatch(field: tag.field, length: range.count, elementSize: elementSize),
                offset: tag.offset)
        }
        return ProtobufReader(bytes: bytes, range: range, depth: depth)
    }
}
