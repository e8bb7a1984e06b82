// A bounds-checked DEFLATE (RFC 1951) decoder and the gzip (RFC 1952) wrapper.
//
// Decoding is table driven: every Huffman code gets a primary lookup table indexed by the
// next `primaryBits` input bits (LSB first, as DEFLATE packs them); codes longer than that
// go through a second-level table. A table entry packs everything the hot loop needs:
//
//   bits  0...3   code bits to consume at this level
//   bits  4...7   kind (literal/plain symbol, length, end of block, link to subtable, invalid)
//   bits  8...11  extra bits that follow the code (length/distance), or the subtable's index bits
//   bits 12...31  value: the literal byte, the length or distance base, or the subtable offset
//
// Hostile input never traps: every read is checked against the end of the input, every
// back-reference against the output written so far, and the output against a size limit.

import Foundation

public enum Gzip {
    /// The default cap on decompressed output (1 GiB).
    public static let defaultMaxOutputSize = 1 << 30

    /// True when `bytes` starts with the gzip magic bytes 1f 8b.
    public static func isCompressed(_ bytes: [UInt8]) -> Bool {
        bytes.count >= 2 && bytes[0] == 0x1F && bytes[1] == 0x8B
    }

    /// Decompresses a gzip file: one or more concatenated members, each with its header
    /// (FEXTRA, FNAME, FCOMMENT and FHCRC are understood), a DEFLATE stream and a trailer
    /// whose CRC-32 and ISIZE are checked. Trailing zero padding after the last member is
    /// ignored; any other trailing data is an error.
    /// - Parameters:
    ///   - source: names the data in error messages (usually the file path).
    ///   - maxOutputSize: decompressing more than this many bytes throws (output-bomb guard).
    public static func decompress(
        _ bytes: [UInt8], source: String = "gzip data", maxOutputSize: Int = defaultMaxOutputSize
    ) throws -> [UInt8] {
        try bytes.withUnsafeBufferPointer { buffer -> [UInt8] in
            guard let base = buffer.baseAddress, buffer.count >= 2 else {
                throw DataError(source: source, message: "not gzip data: \(buffer.count) bytes is too short for the gzip magic 1f 8b")
            }
            let count = buffer.count
            // ISIZE of the last member is a size hint (the true size when there is one member).
            var hint = 1 << 16
            if count >= 18 {
                let isize = Int(readLE32(base + count - 4))
                hint = max(hint, min(isize, maxOutputSize, 1032 * count + (1 << 16)))
            }
            let output = try InflateOutput(initialCapacity: min(hint, max(maxOutputSize, 1)), limit: maxOutputSize, source: source)
            let tables = InflateTables()
            var pos = 0
            while true {
                let memberStart = pos
                pos = try parseHeader(base, count: count, at: pos, source: source)
                let outputStart = output.count
                var reader = InflateBitReader(base: base, end: count, pos: pos, source: source)
                try reader.inflate(into: output, outputStart: outputStart, tables: tables)
                pos = reader.pos
                guard count - pos >= 8 else {
                    throw DataError(
                        source: source,
                        message: "gzip member at byte \(memberStart): truncated trailer at byte \(pos) (needs 8 bytes, \(count - pos) left)")
                }
                let storedCRC = readLE32(base + pos)
                let storedSize = readLE32(base + pos + 4)
                let produced = output.count - outputStart
                let crc = crc32(output.base + outputStart, count: produced)
                guard crc == storedCRC else {
                    throw DataError(
                        source: source,
                        message: "gzip member at byte \(memberStart): CRC-32 mismatch at byte \(pos): trailer says \(hex32(storedCRC)), data has \(hex32(crc))")
                }
                guard UInt32(truncatingIfNeeded: produced) == storedSize else {
                    throw DataError(
                        source: source,
                        message: "gzip member at byte \(memberStart): size mismatch at byte \(pos + 4): trailer says \(storedSize) bytes (mod 2^32), decompressed \(produced)")
                }
                pos += 8
                if pos == count { break }
                if base[pos] == 0x1F { continue }  // another member (its header is validated)
                var allZero = true
                for index in pos..<count where base[index] != 0 {
                    allZero = false
                    break
                }
                if allZero { break }
                throw DataError(
                    source: source,
                    message: "unexpected data after gzip member at byte \(pos) (\(count - pos) bytes starting 0x\(hex8(base[pos])); not a gzip member)")
            }
            return output.toArray()
        }
    }

    /// Decompresses a raw DEFLATE stream (no gzip or zlib wrapper). Bytes after the final
    /// block are ignored.
    public static func inflate(
        _ bytes: [UInt8], source: String = "deflate data", maxOutputSize: Int = defaultMaxOutputSize
    ) throws -> [UInt8] {
        try bytes.withUnsafeBufferPointer { buffer -> [UInt8] in
            guard let base = buffer.baseAddress, buffer.count > 0 else {
                throw DataError(source: source, message: "unexpected end of data at byte 0 (empty DEFLATE stream)")
            }
            let output = try InflateOutput(
                initialCapacity: min(max(4 * buffer.count, 1 << 16), max(maxOutputSize, 1)), limit: maxOutputSize, source: source)
            var reader = InflateBitReader(base: base, end: buffer.count, pos: 0, source: source)
            try reader.inflate(into: output, outputStart: 0, tables: InflateTables())
            return output.toArray()
        }
    }

    /// The gzip/zlib CRC-32 (reflected polynomial 0xEDB88320) of `bytes`.
    public static func crc32(_ bytes: [UInt8]) -> UInt32 {
        bytes.withUnsafeBufferPointer { buffer in
            guard let base = buffer.baseAddress else { return 0 }
            return crc32(base, count: buffer.count)
        }
    }

    // MARK: - gzip header

    /// Validates a member header starting at `start`; returns the offset of its DEFLATE data.
    static func parseHeader(_ base: UnsafePointer<UInt8>, count: Int, at start: Int, source: String) throws -> Int {
        func fail(_ message: String) -> DataError {
            DataError(source: source, message: "gzip member at byte \(start): \(message)")
        }
        guard count - start >= 2, base[start] == 0x1F, base[start + 1] == 0x8B else {
            if count - start >= 2 {
                throw fail("not gzip data: bytes \(start)...\(start + 1) are 0x\(hex8(base[start])) 0x\(hex8(base[start + 1])), expected 0x1f 0x8b")
            }
            throw fail("not gzip data: truncated before the magic bytes 1f 8b")
        }
        guard count - start >= 10 else {
            throw fail("truncated header: needs 10 bytes, \(count - start) left")
        }
        let method = base[start + 2]
        guard method == 8 else {
            throw fail("unsupported compression method \(method) at byte \(start + 2) (only 8, deflate, exists)")
        }
        let flags = base[start + 3]
        guard flags & 0xE0 == 0 else {
            throw fail("reserved flag bits set in FLG 0x\(hex8(flags)) at byte \(start + 3)")
        }
        var pos = start + 10
        if flags & 0x04 != 0 {  // FEXTRA
            guard count - pos >= 2 else { throw fail("truncated header: FEXTRA length at byte \(pos) runs past the end") }
            let extraLength = Int(base[pos]) | Int(base[pos + 1]) << 8
            pos += 2
            guard count - pos >= extraLength else {
                throw fail("truncated header: FEXTRA field of \(extraLength) bytes at byte \(pos) runs past the end (\(count - pos) left)")
            }
            pos += extraLength
        }
        for (flag, name) in [(UInt8(0x08), "FNAME file name"), (UInt8(0x10), "FCOMMENT comment")] where flags & flag != 0 {
            let fieldStart = pos
            while pos < count && base[pos] != 0 { pos += 1 }
            guard pos < count else {
                throw fail("truncated header: \(name) starting at byte \(fieldStart) has no terminating zero byte")
            }
            pos += 1
        }
        if flags & 0x02 != 0 {  // FHCRC
            guard count - pos >= 2 else { throw fail("truncated header: FHCRC at byte \(pos) runs past the end") }
            let stored = UInt16(base[pos]) | UInt16(base[pos + 1]) << 8
            let computed = UInt16(truncatingIfNeeded: crc32(base + start, count: pos - start))
            guard stored == computed else {
                throw fail("header CRC-16 mismatch at byte \(pos): stored 0x\(String(stored, radix: 16)), computed 0x\(String(computed, radix: 16))")
            }
            pos += 2
        }
        return pos
    }

    // MARK: - CRC-32 (slice-by-8)

    static let crcTables: [UInt32] = {
        var tables = [UInt32](repeating: 0, count: 8 * 256)
        for index in 0..<256 {
            var value = UInt32(index)
            for _ in 0..<8 { value = (value & 1) != 0 ? (value >> 1) ^ 0xEDB8_8320 : value >> 1 }
            tables[index] = value
        }
        for slice in 1..<8 {
            for index in 0..<256 {
                let previous = tables[(slice - 1) * 256 + index]
                tables[slice * 256 + index] = (previous >> 8) ^ tables[Int(previous & 0xFF)]
            }
        }
        return tables
    }()

    static func crc32(_ bytes: UnsafePointer<UInt8>, count: Int) -> UInt32 {
        crcTables.withUnsafeBufferPointer { tablesBuffer -> UInt32 in
            let t = tablesBuffer.baseAddress!
            var crc: UInt32 = 0xFFFF_FFFF
            var index = 0
            while count - index >= 8 {
                let raw = UnsafeRawPointer(bytes + index)
                let low = crc ^ UInt32(littleEndian: raw.loadUnaligned(as: UInt32.self))
                let high = UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 4, as: UInt32.self))
                crc = t[7 * 256 + Int(low & 0xFF)] ^ t[6 * 256 + Int((low >> 8) & 0xFF)]
                    ^ t[5 * 256 + Int((low >> 16) & 0xFF)] ^ t[4 * 256 + Int(low >> 24)]
                    ^ t[3 * 256 + Int(high & 0xFF)] ^ t[2 * 256 + Int((high >> 8) & 0xFF)]
                    ^ t[1 * 256 + Int((high >> 16) & 0xFF)] ^ t[Int(high >> 24)]
                index += 8
            }
            while index < count {
                crc = t[Int((crc ^ UInt32(bytes[index])) & 0xFF)] ^ (crc >> 8)
                index += 1
            }
            return crc ^ 0xFFFF_FFFF
        }
    }
}

// MARK: - Helpers

@inline(__always) private func readLE32(_ pointer: UnsafePointer<UInt8>) -> UInt32 {
    UInt32(pointer[0]) | UInt32(pointer[1]) << 8 | UInt32(pointer[2]) << 16 | UInt32(pointer[3]) << 24
}

private func hex8(_ value: UInt8) -> String {
    let digits = String(value, radix: 16)
    return digits.count == 1 ? "0" + digits : digits
}

private func hex32(_ value: UInt32) -> String {
    let digits = String(value, radix: 16)
    return "0x" + String(repeating: "0", count: 8 - digits.count) + digits
}

/// Growable output storage with a hard size limit.
final class InflateOutput {
    private(set) var base: UnsafeMutablePointer<UInt8>
    var count = 0
    private(set) var capacity: Int
    let limit: Int
    let source: String

    init(initialCapacity: Int, limit: Int, source: String) throws {
        self.limit = limit
        self.source = source
        // The logical capacity never exceeds the limit, so every growth past it is checked.
        capacity = max(min(max(initialCapacity, 64), limit), 0)
        guard let memory = malloc(max(capacity, 1)) else {
            throw DataError(source: source, message: "out of memory allocating \(capacity) bytes for the output")
        }
        base = memory.assumingMemoryBound(to: UInt8.self)
    }

    deinit { free(base) }

    /// Makes room for `total` bytes of output, or throws when that exceeds the limit.
    func reserve(total: Int, inputPosition: Int) throws {
        guard total > capacity else { return }
        guard total <= limit else {
            throw DataError(
                source: source,
                message: "decompressed output exceeds the limit of \(limit) bytes (at input byte \(inputPosition))")
        }
        var newCapacity = capacity
        while newCapacity < total { newCapacity = newCapacity >= limit / 2 ? limit : max(newCapacity * 2, 64) }
        guard let memory = realloc(base, newCapacity) else {
            throw DataError(source: source, message: "out of memory growing the output to \(newCapacity) bytes")
        }
        base = memory.assumingMemoryBound(to: UInt8.self)
        capacity = newCapacity
    }

    func toArray() -> [UInt8] {
        [UInt8](UnsafeBufferPointer(start: base, count: count))
    }
}

// Table entry layout (see the top of the file).
private let kindSymbol: UInt32 = 0  // a literal byte, a distance, or a code-length symbol
private let kindLength: UInt32 = 1
private let kindEnd: UInt32 = 2
private let kindLink: UInt32 = 3
private let kindInvalid: UInt32 = 4

@inline(__always) private func makeEntry(kind: UInt32, extra: Int, value: Int) -> UInt32 {
    kind << 4 | UInt32(extra) << 8 | UInt32(value) << 12
}

@inline(__always) private func lowMask(_ bits: Int) -> UInt64 {
    (UInt64(1) &<< UInt64(bits)) &- 1
}

private let lengthBase: [Int] = [
    3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258,
]
private let lengthExtra: [Int] = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0]
private let distanceBase: [Int] = [
    1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145,
    8193, 12289, 16385, 24577,
]
private let distanceExtra: [Int] = [0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13]

/// What each literal/length symbol decodes to (286 and 287 are invalid).
private let literalLengthInfo: [UInt32] = (0..<288).map { symbol in
    if symbol < 256 { return makeEntry(kind: kindSymbol, extra: 0, value: symbol) }
    if symbol == 256 { return makeEntry(kind: kindEnd, extra: 0, value: 0) }
    if symbol < 286 {
        return makeEntry(kind: kindLength, extra: lengthExtra[symbol - 257], value: lengthBase[symbol - 257])
    }
    return makeEntry(kind: kindInvalid, extra: 0, value: symbol)
}

/// What each distance symbol decodes to (30 and 31 are invalid).
private let distanceInfo: [UInt32] = (0..<32).map { symbol in
    symbol < 30
        ? makeEntry(kind: kindSymbol, extra: distanceExtra[symbol], value: distanceBase[symbol])
        : makeEntry(kind: kindInvalid, extra: 0, value: symbol)
}

private let codeLengthInfo: [UInt32] = (0..<19).map { makeEntry(kind: kindSymbol, extra: 0, value: $0) }
private let codeLengthOrder: [Int] = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15]

private let literalPrimaryBits = 10
private let distancePrimaryBits = 8
private let codeLengthPrimaryBits = 7

/// Storage for the decoding tables of one decompression call.
final class InflateTables {
    // Capacity bounds: primary table plus one subtable of 2^(15 - primaryBits) entries per
    // symbol whose code is longer than primaryBits (at most 286 resp. 30 such symbols).
    static let literalCapacity = (1 << 10) + 288 * (1 << 5)
    static let distanceCapacity = (1 << 8) + 32 * (1 << 7)
    let literal = UnsafeMutablePointer<UInt32>.allocate(capacity: literalCapacity)
    let distance = UnsafeMutablePointer<UInt32>.allocate(capacity: distanceCapacity)
    let codeLength = UnsafeMutablePointer<UInt32>.allocate(capacity: 1 << 7)
    let fixedLiteral = UnsafeMutablePointer<UInt32>.allocate(capacity: 1 << 10)
    let fixedDistance = UnsafeMutablePointer<UInt32>.allocate(capacity: 1 << 8)
    let lengths = UnsafeMutablePointer<UInt8>.allocate(capacity: 320)
    var fixedBuilt = false

    deinit {
        literal.deallocate()
        distance.deallocate()
        codeLength.deallocate()
        fixedLiteral.deallocate()
        fixedDistance.deallocate()
        lengths.deallocate()
    }

    func buildFixed() {
        guard !fixedBuilt else { return }
        for symbol in 0..<288 { lengths[symbol] = symbol < 144 ? 8 : symbol < 256 ? 9 : symbol < 280 ? 7 : 8 }
        let literalError = buildTable(
            lengths: lengths, count: 288, info: literalLengthInfo, primaryBits: literalPrimaryBits,
            table: fixedLiteral, capacity: 1 << 10, allowSingle: false, allowEmpty: false, name: "fixed literal/length")
        for symbol in 0..<32 { lengths[symbol] = 5 }
        let distanceError = buildTable(
            lengths: lengths, count: 32, info: distanceInfo, primaryBits: distancePrimaryBits,
            table: fixedDistance, capacity: 1 << 8, allowSingle: false, allowEmpty: false, name: "fixed distance")
        precondition(literalError == nil && distanceError == nil, "fixed Huffman tables must build")
        fixedBuilt = true
    }
}

/// Builds a canonical-Huffman decoding table from code lengths (each 0...15).
/// Returns nil on success or a description of why the lengths do not form a valid code.
/// - allowSingle: an incomplete code consisting of exactly one code of length 1 is accepted
///   (RFC 1951 permits this for a single used distance code).
/// - allowEmpty: a code with no symbols at all is accepted (every lookup then is invalid).
private func buildTable(
    lengths: UnsafePointer<UInt8>, count: Int, info: [UInt32], primaryBits: Int,
    table: UnsafeMutablePointer<UInt32>, capacity: Int, allowSingle: Bool, allowEmpty: Bool, name: String
) -> String? {
    var lengthCounts = [Int](repeating: 0, count: 16)
    for symbol in 0..<count {
        let length = Int(lengths[symbol])
        guard length <= 15 else { return "\(name) code length \(length) for symbol \(symbol) exceeds 15" }
        lengthCounts[length] += 1
    }
    lengthCounts[0] = 0
    var maxLength = 0
    var used = 0
    for length in 1...15 where lengthCounts[length] > 0 {
        maxLength = length
        used += lengthCounts[length]
    }
    var left = 1
    for length in 1...15 {
        left <<= 1
        left -= lengthCounts[length]
        if left < 0 { return "over-subscribed \(name) code (the code lengths describe more codes than fit)" }
    }
    if left > 0 {
        let single = used == 1 && maxLength == 1
        if !(used == 0 && allowEmpty) && !(single && allowSingle) {
            if used == 0 { return "empty \(name) code (all code lengths are zero)" }
            return "incomplete \(name) code (the code lengths leave \(left) of \(1 << 15) codes unused)"
        }
    }
    let primarySize = 1 << primaryBits
    let invalid = makeEntry(kind: kindInvalid, extra: 0, value: 0)
    for index in 0..<primarySize { table[index] = invalid }
    if used == 0 { return nil }
    var nextCode = [Int](repeating: 0, count: 16)
    var code = 0
    for length in 1...15 {
        code = (code + lengthCounts[length - 1]) << 1
        nextCode[length] = code
    }
    let subBits = max(maxLength - primaryBits, 0)
    let subSize = 1 << subBits
    var nextSubtable = primarySize
    for symbol in 0..<count {
        let length = Int(lengths[symbol])
        if length == 0 { continue }
        let canonical = nextCode[length]
        nextCode[length] += 1
        var reversed = 0
        for bit in 0..<length where canonical & (1 << bit) != 0 { reversed |= 1 << (length - 1 - bit) }
        if length <= primaryBits {
            let entry = info[symbol] | UInt32(length)
            var index = reversed
            while index < primarySize {
                table[index] = entry
                index += 1 << length
            }
        } else {
            let prefix = reversed & (primarySize - 1)
            var link = table[prefix]
            if (link >> 4) & 15 != kindLink {
                guard nextSubtable + subSize <= capacity else { return "\(name) code needs too many subtables" }
                for index in nextSubtable..<(nextSubtable + subSize) { table[index] = invalid }
                link = makeEntry(kind: kindLink, extra: subBits, value: nextSubtable) | UInt32(primaryBits)
                table[prefix] = link
                nextSubtable += subSize
            }
            let offset = Int(link >> 12)
            let subLength = length - primaryBits
            let entry = info[symbol] | UInt32(subLength)
            var index = reversed >> primaryBits
            while index < subSize {
                table[offset + index] = entry
                index += 1 << subLength
            }
        }
    }
    return nil
}

/// LSB-first bit reader over the input with all DEFLATE decoding on top.
struct InflateBitReader {
    let base: UnsafePointer<UInt8>
    let end: Int
    /// Next input byte not yet loaded into `bitBuffer`.
    var pos: Int
    var bitBuffer: UInt64 = 0
    /// Number of valid bits in `bitBuffer` (bits above may hold copies of upcoming input).
    var bitCount = 0
    let source: String

    init(base: UnsafePointer<UInt8>, end: Int, pos: Int, source: String) {
        self.base = base
        self.end = end
        self.pos = pos
        self.source = source
    }

    /// The input byte holding the next unread bit.
    var position: Int { pos - (bitCount + 7) / 8 }

    func error(_ message: String, at byte: Int? = nil) -> DataError {
        DataError(source: source, message: "\(message) at byte \(byte ?? position)")
    }

    func truncated(_ what: String) -> DataError {
        DataError(source: source, message: "unexpected end of data while reading \(what) at byte \(position) (input is \(end) bytes)")
    }

    /// Loads input until at least 56 bits are buffered or the input is exhausted.
    @inline(__always) mutating func refill() {
        if end - pos >= 8 {
            let word = UInt64(littleEndian: UnsafeRawPointer(base + pos).loadUnaligned(as: UInt64.self))
            bitBuffer |= word &<< UInt64(bitCount)
            pos += (63 - bitCount) >> 3
            bitCount |= 56
        } else {
            while bitCount <= 56 && pos < end {
                bitBuffer |= UInt64(base[pos]) &<< UInt64(bitCount)
                pos += 1
                bitCount += 8
            }
        }
    }

    @inline(__always) mutating func consume(_ bits: Int) {
        bitBuffer &>>= UInt64(bits)
        bitCount -= bits
    }

    /// Reads `bits` (0...16) bits as an integer.
    @inline(__always) mutating func bits(_ bits: Int, _ what: String) throws -> Int {
        if bitCount < bits {
            refill()
            if bitCount < bits { throw truncated(what) }
        }
        let value = Int(bitBuffer & lowMask(bits))
        consume(bits)
        return value
    }

    /// Decodes one Huffman symbol; returns its table entry. The caller has refilled enough
    /// bits for a whole code if the input has them.
    @inline(__always) mutating func decode(_ table: UnsafePointer<UInt32>, primaryBits: Int, _ what: String) throws -> UInt32 {
        // An invalid entry found with fewer real bits than the lookup examined may be an
        // artefact of the zero bits past the end of the input: that is truncation.
        var entry = table[Int(bitBuffer & lowMask(primaryBits))]
        if (entry >> 4) & 15 == kindLink {
            if bitCount < primaryBits { throw truncated(what) }
            let start = position
            consume(primaryBits)
            let subBits = Int((entry >> 8) & 15)
            entry = table[Int(entry >> 12) + Int(bitBuffer & lowMask(subBits))]
            if (entry >> 4) & 15 == kindInvalid {
                if bitCount < subBits { throw truncated(what) }
                throw error("invalid \(what)", at: start)
            }
        } else if (entry >> 4) & 15 == kindInvalid {
            if bitCount < primaryBits { throw truncated(what) }
            throw error("invalid \(what)")
        }
        let length = Int(entry & 15)
        if length > bitCount { throw truncated(what) }
        consume(length)
        return entry
    }

    /// Decodes a whole DEFLATE stream, appending to `output`, and leaves `pos` at the first
    /// byte after the final block.
    mutating func inflate(into output: InflateOutput, outputStart: Int, tables: InflateTables) throws {
        var isFinal = false
        repeat {
            let blockStart = position
            isFinal = try bits(1, "block header") == 1
            let type = try bits(2, "block header")
            switch type {
            case 0:
                try storedBlock(into: output)
            case 1:
                tables.buildFixed()
                try huffmanBlock(
                    literal: tables.fixedLiteral, distance: tables.fixedDistance, output: output, outputStart: outputStart)
            case 2:
                try readDynamicTables(tables)
                try huffmanBlock(literal: tables.literal, distance: tables.distance, output: output, outputStart: outputStart)
            default:
                throw error("invalid block type 3 (reserved)", at: blockStart)
            }
        } while !isFinal
        // Back to a byte boundary: drop the partial byte, un-read whole buffered bytes.
        consume(bitCount & 7)
        pos -= bitCount >> 3
        bitBuffer = 0
        bitCount = 0
    }

    mutating func storedBlock(into output: InflateOutput) throws {
        consume(bitCount & 7)
        pos -= bitCount >> 3
        bitBuffer = 0
        bitCount = 0
        guard end - pos >= 4 else { throw truncated("stored block length") }
        let length = Int(base[pos]) | Int(base[pos + 1]) << 8
        let complement = Int(base[pos + 2]) | Int(base[pos + 3]) << 8
        guard length == ~complement & 0xFFFF else {
            throw error("stored block length \(length) does not match its one's complement \(complement)", at: pos)
        }
        pos += 4
        guard end - pos >= length else {
            throw DataError(
                source: source,
                message: "unexpected end of data in a stored block of \(length) bytes starting at byte \(pos) (\(end - pos) bytes left)")
        }
        try output.reserve(total: output.count + length, inputPosition: pos)
        (output.base + output.count).update(from: base + pos, count: length)
        output.count += length
        pos += length
    }

    mutating func readDynamicTables(_ tables: InflateTables) throws {
        let headerStart = position
        let literalCount = try bits(5, "dynamic block header") + 257
        let distanceCount = try bits(5, "dynamic block header") + 1
        let codeLengthCount = try bits(4, "dynamic block header") + 4
        guard literalCount <= 286 else {
            throw error("dynamic block declares \(literalCount) literal/length codes (at most 286)", at: headerStart)
        }
        guard distanceCount <= 30 else {
            throw error("dynamic block declares \(distanceCount) distance codes (at most 30)", at: headerStart)
        }
        let lengths = tables.lengths
        for index in 0..<19 { lengths[index] = 0 }
        for index in 0..<codeLengthCount {
            lengths[codeLengthOrder[index]] = UInt8(try bits(3, "code length code lengths"))
        }
        if let problem = buildTable(
            lengths: lengths, count: 19, info: codeLengthInfo, primaryBits: codeLengthPrimaryBits,
            table: tables.codeLength, capacity: 1 << 7, allowSingle: false, allowEmpty: false, name: "code length")
        {
            throw error(problem, at: headerStart)
        }
        let total = literalCount + distanceCount
        var index = 0
        while index < total {
            if bitCount < 16 { refill() }
            let symbolStart = position
            let symbol = Int(try decode(tables.codeLength, primaryBits: codeLengthPrimaryBits, "code length code") >> 12)
            if symbol < 16 {
                lengths[index] = UInt8(symbol)
                index += 1
                continue
            }
            var value: UInt8 = 0
            var repeatCount: Int
            switch symbol {
            case 16:
                guard index > 0 else { throw error("code length repeat (16) with no previous length", at: symbolStart) }
                value = lengths[index - 1]
                repeatCount = 3 + (try bits(2, "code length repeat count"))
            case 17:
                repeatCount = 3 + (try bits(3, "code length repeat count"))
            default:
                repeatCount = 11 + (try bits(7, "code length repeat count"))
            }
            guard index + repeatCount <= total else {
                throw error(
                    "code length repeat of \(repeatCount) overruns the \(total) code lengths (at length \(index))",
                    at: symbolStart)
            }
            for offset in 0..<repeatCount { lengths[index + offset] = value }
            index += repeatCount
        }
        guard lengths[256] != 0 else { throw error("dynamic block has no end-of-block code (length of symbol 256 is 0)", at: headerStart) }
        if let problem = buildTable(
            lengths: lengths, count: literalCount, info: literalLengthInfo, primaryBits: literalPrimaryBits,
            table: tables.literal, capacity: InflateTables.literalCapacity, allowSingle: true, allowEmpty: false,
            name: "literal/length")
        {
            throw error(problem, at: headerStart)
        }
        if let problem = buildTable(
            lengths: lengths + literalCount, count: distanceCount, info: distanceInfo, primaryBits: distancePrimaryBits,
            table: tables.distance, capacity: InflateTables.distanceCapacity, allowSingle: true, allowEmpty: true,
            name: "distance")
        {
            throw error(problem, at: headerStart)
        }
    }

    /// The hot loop: decodes literal/length and distance codes until end of block.
    mutating func huffmanBlock(
        literal: UnsafePointer<UInt32>, distance: UnsafePointer<UInt32>, output: InflateOutput, outputStart: Int
    ) throws {
        var out = output.base
        var count = output.count
        var capacity = output.capacity
        defer { output.count = count }
        let literalMask = lowMask(literalPrimaryBits)
        while true {
            // 48 bits cover the longest length code + extra + distance code + extra.
            if bitCount < 48 { refill() }
            var entry = literal[Int(bitBuffer & literalMask)]
            var kind = (entry >> 4) & 15
            if kind == kindSymbol {
                let length = Int(entry & 15)
                if length > bitCount { throw truncated("literal/length code") }
                consume(length)
                if count == capacity {
                    output.count = count
                    try output.reserve(total: count + 1, inputPosition: position)
                    out = output.base
                    capacity = output.capacity
                }
                out[count] = UInt8(truncatingIfNeeded: entry >> 12)
                count += 1
                continue
            }
            if kind != kindLength {
                if kind == kindEnd {
                    let length = Int(entry & 15)
                    if length > bitCount { throw truncated("literal/length code") }
                    consume(length)
                    return
                }
                entry = try decode(literal, primaryBits: literalPrimaryBits, "literal/length code")
                kind = (entry >> 4) & 15
                if kind == kindSymbol {
                    if count == capacity {
                        output.count = count
                        try output.reserve(total: count + 1, inputPosition: position)
                        out = output.base
                        capacity = output.capacity
                    }
                    out[count] = UInt8(truncatingIfNeeded: entry >> 12)
                    count += 1
                    continue
                }
                if kind == kindEnd { return }
            } else {
                let length = Int(entry & 15)
                if length > bitCount { throw truncated("literal/length code") }
                consume(length)
            }
            // A length code: its extra bits, then a distance code and its extra bits.
            let lengthExtraBits = Int((entry >> 8) & 15)
            if lengthExtraBits > bitCount { throw truncated("length extra bits") }
            let matchLength = Int(entry >> 12) + Int(bitBuffer & lowMask(lengthExtraBits))
            consume(lengthExtraBits)
            let distanceStart = position
            let distanceEntry = try decode(distance, primaryBits: distancePrimaryBits, "distance code")
            let distanceExtraBits = Int((distanceEntry >> 8) & 15)
            if distanceExtraBits > bitCount { throw truncated("distance extra bits") }
            let matchDistance = Int(distanceEntry >> 12) + Int(bitBuffer & lowMask(distanceExtraBits))
            consume(distanceExtraBits)
            if matchDistance > count - outputStart {
                throw error(
                    "distance \(matchDistance) reaches back before the start of the output (\(count - outputStart) bytes written)",
                    at: distanceStart)
            }
            if capacity - count < matchLength {
                output.count = count
                try output.reserve(total: count + matchLength, inputPosition: position)
                out = output.base
                capacity = output.capacity
            }
            let destination = out + count
            let sourcePointer = destination - matchDistance
            if matchDistance >= 8 && capacity - count >= matchLength + 8 {
                // 8-byte chunks; each chunk's source is already written because the distance
                // is at least 8. May write up to 7 bytes past the match, inside the capacity.
                let to = UnsafeMutableRawPointer(destination)
                let from = UnsafeRawPointer(sourcePointer)
                var offset = 0
                repeat {
                    to.storeBytes(of: from.loadUnaligned(fromByteOffset: offset, as: UInt64.self), toByteOffset: offset, as: UInt64.self)
                    offset += 8
                } while offset < matchLength
            } else if matchDistance >= matchLength {
                destination.update(from: sourcePointer, count: matchLength)
            } else if matchDistance == 1 {
                destination.update(repeating: sourcePointer[0], count: matchLength)
            } else {
                for index in 0..<matchLength { destination[index] = sourcePointer[index] }
            }
            count += matchLength
        }
    }
}
