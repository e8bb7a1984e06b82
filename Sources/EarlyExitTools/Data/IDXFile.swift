// IDX files (the MNIST / Fashion-MNIST container), optionally gzipped.
//
// Layout: two zero bytes, a data-type byte, the number of dimensions (1...4), one
// big-endian UInt32 per dimension, then the row-major payload.

import Foundation

public struct IDXFile: Sendable {
    /// 0x08 (unsigned byte) or 0x09 (signed byte).
    public let dataType: UInt8
    public let dimensions: [Int]
    public let payload: [UInt8]

    /// Number of items (the first dimension).
    public var count: Int { dimensions[0] }

    /// Bytes per item (the product of the remaining dimensions; 1 for a 1-D file).
    public var itemSize: Int { dimensions.dropFirst().reduce(1, *) }

    /// The bytes of item `index` (for example one 28×28 image or one label).
    public func item(_ index: Int) -> ArraySlice<UInt8> {
        precondition(index >= 0 && index < count, "IDX item \(index) out of range 0..<\(count)")
        let size = itemSize
        return payload[(index * size)..<((index + 1) * size)]
    }

    public init(dataType: UInt8 = 0x08, dimensions: [Int], payload: [UInt8]) {
        precondition(dataType == 0x08 || dataType == 0x09, "IDX data type must be 0x08 or 0x09")
        precondition((1...4).contains(dimensions.count), "IDX files have 1...4 dimensions")
        precondition(dimensions.allSatisfy { $0 >= 0 && $0 <= Int(UInt32.max) }, "IDX dimensions must fit in UInt32")
        precondition(dimensions.reduce(1, *) == payload.count, "IDX payload size must equal the product of the dimensions")
        self.dataType = dataType
        self.dimensions = dimensions
        self.payload = payload
    }

    static let typeNames: [UInt8: String] = [
        0x08: "unsigned byte", 0x09: "signed byte", 0x0B: "16-bit integer", 0x0C: "32-bit integer",
        0x0D: "32-bit float", 0x0E: "64-bit float",
    ]

    /// Parses an IDX file; gzip-compressed input (magic 1f 8b) is decompressed first.
    public static func parse(_ bytes: [UInt8], source: String) throws -> IDXFile {
        if Gzip.isCompressed(bytes) {
            let raw = try Gzip.decompress(bytes, source: source)
            return try parseRaw(raw, source: source)
        }
        return try parseRaw(bytes, source: source)
    }

    static func parseRaw(_ bytes: [UInt8], source: String) throws -> IDXFile {
        func fail(_ message: String) -> DataError { DataError(source: source, message: message) }
        guard bytes.count >= 4 else {
            throw fail("too short for an IDX header: \(bytes.count) bytes (needs at least 4)")
        }
        guard bytes[0] == 0, bytes[1] == 0 else {
            throw fail(
                "bad IDX magic: the first two bytes are 0x\(hex(bytes[0])) 0x\(hex(bytes[1])), expected 0x00 0x00")
        }
        let dataType = bytes[2]
        guard dataType == 0x08 || dataType == 0x09 else {
            let name = typeNames[dataType].map { " (\($0))" } ?? ""
            throw fail(
                "unsupported IDX data type 0x\(hex(dataType))\(name) at byte 2; only 0x08 (unsigned byte) and 0x09 (signed byte) are supported")
        }
        let rank = Int(bytes[3])
        guard (1...4).contains(rank) else {
            throw fail("IDX header at byte 3 declares \(rank) dimensions; expected 1...4")
        }
        let headerSize = 4 + 4 * rank
        guard bytes.count >= headerSize else {
            throw fail("truncated IDX header: \(rank) dimensions need \(headerSize) header bytes, the file has \(bytes.count)")
        }
        var dimensions: [Int] = []
        for axis in 0..<rank {
            let offset = 4 + 4 * axis
            let value = Int(bytes[offset]) << 24 | Int(bytes[offset + 1]) << 16 | Int(bytes[offset + 2]) << 8 | Int(bytes[offset + 3])
            dimensions.append(value)
        }
        let shapeText = dimensions.map(String.init).joined(separator: "×")
        var expected = 1
        for dimension in dimensions {
            let (product, overflow) = expected.multipliedReportingOverflow(by: dimension)
            guard !overflow else {
                throw fail("header says \(shapeText) bytes of data, which overflows")
            }
            expected = product
        }
        let actual = bytes.count - headerSize
        guard actual == expected else {
            throw fail("header says \(shapeText) = \(expected) bytes of data but the file has \(actual)")
        }
        return IDXFile(dataType: dataType, dimensions: dimensions, payload: Array(bytes[headerSize...]))
    }

    /// Reads and parses an IDX file (gzipped or not) from disk.
    public static func read(path: String) throws -> IDXFile {
        try parse(DataError.readFile(path: path), source: path)
    }

    /// Encodes an unsigned-byte IDX file (uncompressed).
    public static func encode(dimensions: [Int], payload: [UInt8]) -> [UInt8] {
        encode(dataType: 0x08, dimensions: dimensions, payload: payload)
    }

    /// Encodes an IDX file with the given byte data type (0x08 or 0x09).
    public static func encode(dataType: UInt8, dimensions: [Int], payload: [UInt8]) -> [UInt8] {
        let file = IDXFile(dataType: dataType, dimensions: dimensions, payload: payload)
        var bytes: [UInt8] = [0, 0, file.dataType, UInt8(dimensions.count)]
        bytes.reserveCapacity(4 + 4 * dimensions.count + payload.count)
        for dimension in dimensions {
            let value = UInt32(dimension)
            bytes += [UInt8(value >> 24), UInt8((value >> 16) & 0xFF), UInt8((value >> 8) & 0xFF), UInt8(value & 0xFF)]
        }
        bytes += payload
        return bytes
    }
}

private func hex(_ value: UInt8) -> String {
    let digits = String(value, radix: 16, uppercase: true)
    return digits.count == 1 ? "0" + digits : digits
}

extension DataError {
    /// Reads a whole file, turning failures into a `DataError` naming the path.
    static func readFile(path: String) throws -> [UInt8] {
        do {
            let data = try Data(contentsOf: URL(fileURLWithPath: path))
            return [UInt8](data)
        } catch {
            throw DataError(source: path, message: "cannot read file: \(error.localizedDescription)")
        }
    }
}
