// A dependency-free PNG encoder: 8-bit RGB, zlib stream with stored or fixed-Huffman DEFLATE blocks.
//
// Layout (PNG 1.2 / RFC 2083): the 8-byte signature, then chunks of
// `length (UInt32 BE) | type (4 ASCII) | data | CRC-32 over type + data`:
//   IHDR  width, height, bit depth 8, colour type 2 (RGB), compression 0, filter 0, interlace 0
//   IDAT  a zlib stream (RFC 1950: CMF/FLG header, DEFLATE data, Adler-32 of the raw bytes)
//   IEND
// The raw bytes are, per row, one filter-type byte followed by the row's RGB triples.
import EarlyExit

/// Encodes 8-bit RGB images as PNG.
public enum PNGWriter {
    /// How the zlib stream inside IDAT is produced.
    public enum Compression: Sendable {
        /// Stored (uncompressed) DEFLATE blocks and no PNG filtering: simplest and always valid.
        case stored
        /// PNG row filters (None/Sub/Up, chosen per row by the minimum-sum heuristic) and
        /// DEFLATE with greedy LZ77 matching and the fixed Huffman code.
        case fixedHuffman
    }

    /// The 8-byte PNG signature.
    public static let signature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]

    /// Encodes `rgb` (row-major, 3 bytes a pixel, `width · height · 3` bytes) as a PNG file.
    public static func encode(width: Int, height: Int, rgb: [UInt8], compression: Compression = .fixedHuffman) -> [UInt8] {
        precondition(width > 0 && height > 0 && width <= 0x7FFF_FFFF && height <= 0x7FFF_FFFF, "PNG dimensions must be positive")
        precondition(rgb.count == width * height * 3, "PNG RGB data must have width × height × 3 bytes")
        let raw = filteredRows(width: width, height: height, rgb: rgb, filter: compression == .fixedHuffman)
        var zlib: [UInt8] = [0x78, 0x01] // deflate, 32 KiB window, FCHECK so that 0x7801 % 31 == 0
        switch compression {
        case .stored: zlib += Deflate.stored(raw)
        case .fixedHuffman: zlib += Deflate.fixedHuffman(raw)
        }
        appendBigEndian(&zlib, adler32(raw))

        var png = signature
        var header: [UInt8] = []
        appendBigEndian(&header, UInt32(width))
        appendBigEndian(&header, UInt32(height))
        header += [8, 2, 0, 0, 0]
        appendChunk(&png, "IHDR", header)
        appendChunk(&png, "IDAT", zlib)
        appendChunk(&png, "IEND", [])
        return png
    }

    /// The Adler-32 checksum of zlib (RFC 1950 §9).
    public static func adler32(_ bytes: [UInt8]) -> UInt32 {
        var a: UInt32 = 1, b: UInt32 = 0
        var index = 0
        while index < bytes.count {
            // 5552 bytes is the most that can be summed before the 32-bit sums must be reduced.
            let end = min(index + 5552, bytes.count)
            while index < end {
                a += UInt32(bytes[index])
                b += a
                index += 1
            }
            a %= 65521
            b %= 65521
        }
        return b << 16 | a
    }

    static func appendChunk(_ png: inout [UInt8], _ type: String, _ data: [UInt8]) {
        appendBigEndian(&png, UInt32(data.count))
        let typed = Array(type.utf8) + data
        png += typed
        appendBigEndian(&png, CRC32.checksum(typed))
    }

    static func appendBigEndian(_ bytes: inout [UInt8], _ value: UInt32) {
        bytes += [UInt8(value >> 24), UInt8((value >> 16) & 0xFF), UInt8((value >> 8) & 0xFF), UInt8(value & 0xFF)]
    }

    /// The PNG scanlines: a filter byte then the row. Without `filter` every row uses None (0);
    /// with it each row takes whichever of None, Sub (1) and Up (2) has the smallest sum of
    /// absolute (signed) residuals, the heuristic the PNG specification recommends.
    static func filteredRows(width: Int, height: Int, rgb: [UInt8], filter: Bool) -> [UInt8] {
        let stride = width * 3
        var out: [UInt8] = []
        out.reserveCapacity(height * (stride + 1))
        var candidates = [[UInt8]](repeating: [UInt8](repeating: 0, count: stride), count: 3)
        for y in 0..<height {
            let row = y * stride
            if !filter {
                out.append(0)
                out += rgb[row..<(row + stride)]
                continue
            }
            var best = 0
            var bestCost = Int.max
            for type in 0..<3 {
                var cost = 0
                for x in 0..<stride {
                    let value = rgb[row + x]
                    let predictor: UInt8
                    switch type {
                    case 1: predictor = x >= 3 ? rgb[row + x - 3] : 0
                    case 2: predictor = y > 0 ? rgb[row - stride + x] : 0
                    default: predictor = 0
                    }
                    let residual = value &- predictor
                    candidates[type][x] = residual
                    cost += residual < 128 ? Int(residual) : 256 - Int(residual)
                }
                if cost < bestCost { bestCost = cost; best = type }
            }
            out.append(UInt8(best))
            out += candidates[best]
        }
        return out
    }
}

/// DEFLATE (RFC 1951) encoders: stored blocks, and one fixed-Huffman block with LZ77.
enum Deflate {
    /// Stored blocks of at most 65,535 bytes; the last has BFINAL set.
    static func stored(_ data: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(data.count + (data.count / 65535 + 1) * 5)
        var start = 0
        repeat {
            let length = min(65535, data.count - start)
            let final = start + length == data.count
            out.append(final ? 1 : 0) // BFINAL, BTYPE 00, padded to the byte boundary
            out += [UInt8(length & 0xFF), UInt8(length >> 8), UInt8(~length & 0xFF), UInt8((~length >> 8) & 0xFF)]
            out += data[start..<(start + length)]
            start += length
        } while start < data.count
        return out
    }

    /// Writes bits least-significant first, as DEFLATE packs them.
    struct BitWriter {
        var bytes: [UInt8] = []
        var buffer: UInt64 = 0
        var count = 0

        mutating func write(_ value: UInt32, bits: Int) {
            buffer |= UInt64(value) << UInt64(count)
            count += bits
            while count >= 8 {
                bytes.append(UInt8(buffer & 0xFF))
                buffer >>= 8
                count -= 8
            }
        }

        /// Huffman codes are defined most-significant bit first: write them reversed.
        mutating func writeCode(_ code: UInt32, bits: Int) {
            var reversed: UInt32 = 0
            for bit in 0..<bits where code & (1 << UInt32(bit)) != 0 { reversed |= 1 << UInt32(bits - 1 - bit) }
            write(reversed, bits: bits)
        }

        mutating func flush() -> [UInt8] {
            if count > 0 { bytes.append(UInt8(buffer & 0xFF)) }
            buffer = 0
            count = 0
            return bytes
        }
    }

    static let lengthBases: [Int] = [3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258]
    static let lengthExtra: [Int] = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0]
    static let distanceBases: [Int] = [1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073,
                                       4097, 6145, 8193, 12289, 16385, 24577]
    static let distanceExtra: [Int] = [0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13]

    /// The fixed literal/length code of RFC 1951 §3.2.6.
    static func writeLiteralOrLength(_ symbol: Int, _ writer: inout BitWriter) {
        switch symbol {
        case 0...143: writer.writeCode(UInt32(0x30 + symbol), bits: 8)
        case 144...255: writer.writeCode(UInt32(0x190 + symbol - 144), bits: 9)
        case 256...279: writer.writeCode(UInt32(symbol - 256), bits: 7)
        default: writer.writeCode(UInt32(0xC0 + symbol - 280), bits: 8)
        }
    }

    static func writeMatch(length: Int, distance: Int, _ writer: inout BitWriter) {
        var code = lengthBases.count - 1
        while lengthBases[code] > length { code -= 1 }
        writeLiteralOrLength(257 + code, &writer)
        if lengthExtra[code] > 0 { writer.write(UInt32(length - lengthBases[code]), bits: lengthExtra[code]) }
        var dcode = distanceBases.count - 1
        while distanceBases[dcode] > distance { dcode -= 1 }
        writer.writeCode(UInt32(dcode), bits: 5)
        if distanceExtra[dcode] > 0 { writer.write(UInt32(distance - distanceBases[dcode]), bits: distanceExtra[dcode]) }
    }

    /// One final fixed-Huffman block; greedy LZ77 over a 32 KiB window with hash chains
    /// (3-byte hashes, up to 64 candidates a position).
    static func fixedHuffman(_ data: [UInt8]) -> [UInt8] {
        var writer = BitWriter()
        writer.bytes.reserveCapacity(data.count / 2 + 64)
        writer.write(1, bits: 1) // BFINAL
        writer.write(1, bits: 2) // BTYPE 01: fixed Huffman
        let window = 32768, maxLength = 258, maxChain = 64
        let hashBits = 15
        var head = [Int](repeating: -1, count: 1 << hashBits)
        var previous = [Int](repeating: -1, count: max(data.count, 1))
        func hash(_ position: Int) -> Int {
            let value = Int(data[position]) << 16 | Int(data[position + 1]) << 8 | Int(data[position + 2])
            return (value &* 0x9E37_79B1) >> 7 & ((1 << hashBits) - 1)
        }
        func insert(_ position: Int) {
            guard position + 2 < data.count else { return }
            let h = hash(position)
            previous[position] = head[h]
            head[h] = position
        }
        var position = 0
        while position < data.count {
            var bestLength = 0, bestDistance = 0
            if position + 2 < data.count {
                var candidate = head[hash(position)]
                var chain = 0
                let limit = min(maxLength, data.count - position)
                while candidate >= 0 && position - candidate <= window && chain < maxChain {
                    if data[candidate + bestLength] == data[position + bestLength] || bestLength == 0 {
                        var length = 0
                        while length < limit && data[candidate + length] == data[position + length] { length += 1 }
                        if length > bestLength {
                            bestLength = length
                            bestDistance = position - candidate
                            if length == limit { break }
                        }
                    }
                    candidate = previous[candidate]
                    chain += 1
                }
            }
            if bestLength >= 3 {
                writeMatch(length: bestLength, distance: bestDistance, &writer)
                for offset in 0..<bestLength { insert(position + offset) }
                position += bestLength
            } else {
                writeLiteralOrLength(Int(data[position]), &writer)
                insert(position)
                position += 1
            }
        }
        writeLiteralOrLength(256, &writer) // end of block
        return writer.flush()
    }
}
