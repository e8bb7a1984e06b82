// NumPy .npy files (format versions 1.0, 2.0 and 3.0), read into Float values.
//
// Layout: "\x93NUMPY", major, minor, a little-endian header length (UInt16 for 1.x, UInt32
// for 2.x/3.x), an ASCII (UTF-8 for 3.x) Python dict literal such as
//   {'descr': '<f4', 'fortran_order': False, 'shape': (1, 1, 28, 28), }
// padded with spaces and a newline, then the raw array data.

import Foundation

public struct NPYArray: Sendable, Equatable {
    public let shape: [Int]
    public let values: [Float]

    public init(shape: [Int], values: [Float]) {
        precondition(shape.allSatisfy { $0 >= 0 }, "NPY shape dimensions must be non-negative")
        precondition(shape.reduce(1, *) == values.count, "NPY shape \(shape) does not match \(values.count) values")
        self.shape = shape
        self.values = values
    }

    /// The element types the reader understands (little-endian or byte-sized), with their sizes.
    static let supportedTypes: [String: Int] = [
        "<f4": 4, "<f8": 8, "<i8": 8, "<i4": 4, "|u1": 1, "|i1": 1, "<u1": 1, "<i1": 1,
    ]

    static let magic: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59]  // "\x93NUMPY"

    /// Parses an .npy file held in memory.
    public static func parse(_ bytes: [UInt8], source: String) throws -> NPYArray {
        try parseWithType(bytes, source: source).array
    }

    /// Parses an .npy file held in memory, also returning its dtype as the header spells it
    /// ('<f4', '|u1', ...): whether the file held integers or floats.
    public static func parseWithType(_ bytes: [UInt8], source: String) throws -> (array: NPYArray, descr: String) {
        func fail(_ message: String) -> DataError { DataError(source: source, message: message) }
        guard bytes.count >= 10 else {
            throw fail("too short for an NPY file: \(bytes.count) bytes (the preamble alone is 10)")
        }
        guard Array(bytes[0..<6]) == magic else {
            throw fail("not an NPY file: the first six bytes are not \\x93NUMPY")
        }
        let major = bytes[6]
        let minor = bytes[7]
        let headerStart: Int
        let headerLength: Int
        switch (major, minor) {
        case (1, 0):
            headerStart = 10
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8
        case (2, 0), (3, 0):
            guard bytes.count >= 12 else {
                throw fail("truncated NPY \(major).0 preamble: needs 12 bytes, the file has \(bytes.count)")
            }
            headerStart = 12
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8 | Int(bytes[10]) << 16 | Int(bytes[11]) << 24
        default:
            throw fail("unsupported NPY format version \(major).\(minor) at byte 6 (supported: 1.0, 2.0, 3.0)")
        }
        guard bytes.count - headerStart >= headerLength else {
            throw fail(
                "truncated NPY header: it declares \(headerLength) bytes at byte \(headerStart) but only \(bytes.count - headerStart) follow")
        }
        let header = Array(bytes[headerStart..<(headerStart + headerLength)])
        let fields: [String: NPYHeaderValue]
        do {
            var parser = NPYHeaderParser(text: header)
            fields = try parser.parseDictionary()
        } catch let problem as NPYHeaderParser.Problem {
            throw fail("malformed NPY header dict at byte \(headerStart + problem.offset): \(problem.message)")
        }
        for key in ["descr", "fortran_order", "shape"] where fields[key] == nil {
            throw fail("NPY header is missing the '\(key)' key")
        }
        if let extra = fields.keys.sorted().first(where: { !["descr", "fortran_order", "shape"].contains($0) }) {
            throw fail("NPY header has an unexpected key '\(extra)' (expected exactly descr, fortran_order, shape)")
        }
        guard case .string(let descr) = fields["descr"]! else {
            throw fail("NPY 'descr' is not a string (structured dtypes are not supported)")
        }
        guard let elementSize = supportedTypes[descr] else {
            if descr.hasPrefix(">") {
                throw fail("big-endian dtype '\(descr)' is not supported (write the array as little-endian, e.g. '<f4')")
            }
            throw fail("unsupported dtype '\(descr)' (supported: '<f4', '<f8', '<i8', '<i4', '|u1', '|i1')")
        }
        guard case .bool(let fortranOrder) = fields["fortran_order"]! else {
            throw fail("NPY 'fortran_order' must be True or False")
        }
        guard !fortranOrder else {
            throw fail("Fortran-order (column-major) arrays are not supported; save a C-contiguous array (np.ascontiguousarray)")
        }
        guard case .tuple(let shape) = fields["shape"]! else {
            throw fail("NPY 'shape' must be a tuple of integers such as (3,) or (1, 28, 28)")
        }
        var elementCount = 1
        for dimension in shape {
            let (product, overflow) = elementCount.multipliedReportingOverflow(by: dimension)
            guard !overflow else { throw fail("shape \(shapeText(shape)) has too many elements") }
            elementCount = product
        }
        let (byteCount, overflow) = elementCount.multipliedReportingOverflow(by: elementSize)
        guard !overflow else { throw fail("shape \(shapeText(shape)) has too many bytes") }
        let dataStart = headerStart + headerLength
        let actual = bytes.count - dataStart
        guard actual == byteCount else {
            throw fail(
                "shape \(shapeText(shape)) of '\(descr)' needs \(byteCount) bytes of data but the file has \(actual) (starting at byte \(dataStart))")
        }
        let values = bytes.withUnsafeBytes { raw -> [Float] in
            let data = UnsafeRawBufferPointer(rebasing: raw[dataStart...])
            return convert(data, descr: descr, count: elementCount)
        }
        return (NPYArray(shape: shape, values: values), descr)
    }

    static func convert(_ data: UnsafeRawBufferPointer, descr: String, count: Int) -> [Float] {
        guard count > 0, let base = data.baseAddress else { return [] }
        return [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
            switch descr {
            case "<f4":
                for i in 0..<count {
                    buffer[i] = Float(bitPattern: UInt32(littleEndian: base.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)))
                }
            case "<f8":
                for i in 0..<count {
                    buffer[i] = Float(Double(bitPattern: UInt64(littleEndian: base.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self))))
                }
            case "<i8":
                for i in 0..<count {
                    buffer[i] = Float(Int64(littleEndian: base.loadUnaligned(fromByteOffset: 8 * i, as: Int64.self)))
                }
            case "<i4":
                for i in 0..<count {
                    buffer[i] = Float(Int32(littleEndian: base.loadUnaligned(fromByteOffset: 4 * i, as: Int32.self)))
                }
            case "|u1", "<u1":
                for i in 0..<count { buffer[i] = Float(data[i]) }
            default:  // "|i1", "<i1"
                for i in 0..<count { buffer[i] = Float(Int8(bitPattern: data[i])) }
            }
            initialized = count
        }
    }

    /// Reads an .npy file from disk.
    public static func read(path: String) throws -> NPYArray {
        try parse(DataError.readFile(path: path), source: path)
    }

    /// Encodes a little-endian float32, C-order .npy file (version 1.0; 2.0 only if the header
    /// would not fit in 65,535 bytes). The data starts at a multiple of 64 bytes.
    public static func encode(shape: [Int], values: [Float]) -> [UInt8] {
        let array = NPYArray(shape: shape, values: values)
        let dict = "{'descr': '<f4', 'fortran_order': False, 'shape': \(pythonTuple(array.shape)), }"
        var header = Array(dict.utf8)
        var preamble = 10
        if header.count + 1 + 63 > 65535 { preamble = 12 }
        let padding = (64 - (preamble + header.count + 1) % 64) % 64
        header += [UInt8](repeating: 0x20, count: padding)
        header.append(0x0A)
        var bytes = magic
        if preamble == 10 {
            bytes += [1, 0, UInt8(header.count & 0xFF), UInt8(header.count >> 8)]
        } else {
            let length = UInt32(header.count)
            bytes += [2, 0, UInt8(length & 0xFF), UInt8((length >> 8) & 0xFF), UInt8((length >> 16) & 0xFF), UInt8(length >> 24)]
        }
        bytes += header
        bytes.reserveCapacity(bytes.count + 4 * values.count)
        for value in values {
            let bits = value.bitPattern
            bytes += [UInt8(bits & 0xFF), UInt8((bits >> 8) & 0xFF), UInt8((bits >> 16) & 0xFF), UInt8(bits >> 24)]
        }
        return bytes
    }

    /// The encoded file (see `encode(shape:values:)`).
    public func encoded() -> [UInt8] { NPYArray.encode(shape: shape, values: values) }

    /// Writes the array as a version 1.0 '<f4' .npy file.
    public func write(path: String) throws {
        do {
            try Data(encoded()).write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            throw DataError(source: path, message: "cannot write file: \(error.localizedDescription)")
        }
    }
}

private func pythonTuple(_ shape: [Int]) -> String {
    switch shape.count {
    case 0: return "()"
    case 1: return "(\(shape[0]),)"
    default: return "(" + shape.map(String.init).joined(separator: ", ") + ")"
    }
}

private func shapeText(_ shape: [Int]) -> String { pythonTuple(shape) }

enum NPYHeaderValue: Equatable {
    case string(String)
    case bool(Bool)
    case int(Int)
    case tuple([Int])
}

/// A parser for the small subset of Python literal syntax NPY headers use:
/// a dict of string keys to strings, True/False, integers and tuples of integers.
struct NPYHeaderParser {
    struct Problem: Error {
        let offset: Int
        let message: String
    }

    let text: [UInt8]
    var index = 0

    init(text: [UInt8]) { self.text = text }

    func problem(_ message: String) -> Problem { Problem(offset: index, message: message) }

    mutating func skipSpace() {
        while index < text.count, text[index] == 0x20 || text[index] == 0x0A || text[index] == 0x0D || text[index] == 0x09 {
            index += 1
        }
    }

    func describeCurrent() -> String {
        guard index < text.count else { return "the end of the header" }
        let byte = text[index]
        if byte >= 0x20 && byte < 0x7F { return "'\(Character(Unicode.Scalar(byte)))'" }
        return "byte 0x\(String(byte, radix: 16))"
    }

    mutating func expect(_ byte: UInt8, _ what: String) throws {
        skipSpace()
        guard index < text.count, text[index] == byte else { throw problem("expected \(what), found \(describeCurrent())") }
        index += 1
    }

    mutating func parseDictionary() throws -> [String: NPYHeaderValue] {
        try expect(UInt8(ascii: "{"), "'{' opening the header dict")
        var result: [String: NPYHeaderValue] = [:]
        while true {
            skipSpace()
            if index < text.count, text[index] == UInt8(ascii: "}") {
                index += 1
                break
            }
            let keyOffset = index
            guard case .string(let key) = try parseValue() else {
                throw Problem(offset: keyOffset, message: "dict keys must be strings")
            }
            try expect(UInt8(ascii: ":"), "':' after the key '\(key)'")
            let value = try parseValue()
            guard result[key] == nil else { throw Problem(offset: keyOffset, message: "duplicate key '\(key)'") }
            result[key] = value
            skipSpace()
            if index < text.count, text[index] == UInt8(ascii: ",") {
                index += 1
                continue
            }
            if index < text.count, text[index] == UInt8(ascii: "}") {
                index += 1
                break
            }
            throw problem("expected ',' or '}' after the value of '\(key)', found \(describeCurrent())")
        }
        skipSpace()
        guard index == text.count else {
            throw problem("unexpected \(describeCurrent()) after the closing '}'")
        }
        return result
    }

    mutating func parseValue() throws -> NPYHeaderValue {
        skipSpace()
        guard index < text.count else { throw problem("expected a value, found the end of the header") }
        let byte = text[index]
        switch byte {
        case UInt8(ascii: "'"), UInt8(ascii: "\""):
            let start = index + 1
            var end = start
            while end < text.count && text[end] != byte {
                if text[end] == UInt8(ascii: "\\") {
                    index = end
                    throw problem("escape sequences in strings are not supported")
                }
                end += 1
            }
            guard end < text.count else { throw problem("unterminated string") }
            index = end + 1
            return .string(String(decoding: text[start..<end], as: UTF8.self))
        case UInt8(ascii: "("):
            index += 1
            var items: [Int] = []
            var sawComma = false
            while true {
                skipSpace()
                guard index < text.count else { throw problem("unterminated tuple") }
                if text[index] == UInt8(ascii: ")") {
                    index += 1
                    break
                }
                if !items.isEmpty && !sawComma { throw problem("expected ',' or ')' in tuple, found \(describeCurrent())") }
                let itemOffset = index
                guard case .int(let item) = try parseValue() else {
                    throw Problem(offset: itemOffset, message: "tuple items must be non-negative integers")
                }
                items.append(item)
                skipSpace()
                sawComma = false
                if index < text.count, text[index] == UInt8(ascii: ",") {
                    index += 1
                    sawComma = true
                }
            }
            if items.count == 1 && !sawComma {
                throw problem("(\(items[0])) is a parenthesised integer, not a tuple; a 1-tuple is written (\(items[0]),)")
            }
            return .tuple(items)
        case UInt8(ascii: "0")...UInt8(ascii: "9"):
            var value = 0
            while index < text.count, text[index] >= UInt8(ascii: "0"), text[index] <= UInt8(ascii: "9") {
                let (times10, overflow1) = value.multipliedReportingOverflow(by: 10)
                let (sum, overflow2) = times10.addingReportingOverflow(Int(text[index] - UInt8(ascii: "0")))
                guard !overflow1, !overflow2 else { throw problem("integer too large") }
                value = sum
                index += 1
            }
            if index < text.count, text[index] == UInt8(ascii: "L") { index += 1 }  // Python 2 long suffix
            return .int(value)
        case UInt8(ascii: "-"):
            throw problem("negative integers are not valid here")
        case UInt8(ascii: "T"), UInt8(ascii: "F"), UInt8(ascii: "N"):
            for (word, value) in [("True", true), ("False", false)] {
                let bytes = Array(word.utf8)
                if text.count - index >= bytes.count, Array(text[index..<(index + bytes.count)]) == bytes {
                    index += bytes.count
                    return .bool(value)
                }
            }
            throw problem("expected a value, found \(describeCurrent())")
        case UInt8(ascii: "["):
            throw problem("lists are not supported (structured dtypes cannot be read)")
        default:
            throw problem("expected a value, found \(describeCurrent())")
        }
    }
}
