// Tests for the data readers: gzip/DEFLATE (Inflate.swift), IDX files and NPY arrays.
//
// Fixtures in Fixtures/data/ are written by Training/make_data_fixtures.py (Python's gzip/zlib
// and numpy). Their payloads come from SplitMix64 recipes that are re-implemented here, so every
// decompressed byte is checked against data derived independently of the decoder; the CRC-32s
// and lengths Python computed are in manifest.json and are checked as well.

import Foundation
import XCTest

import EarlyExit
@testable import EarlyExitTools

// MARK: - Independent payload generators (mirroring Training/make_data_fixtures.py)

private struct SplitMix64 {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state = state &+ 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

private enum Payloads {
    static func random(seed: UInt64, count: Int) -> [UInt8] {
        var rng = SplitMix64(seed: seed)
        var out: [UInt8] = []
        out.reserveCapacity(count + 8)
        while out.count < count {
            let word = rng.next()
            for shift in stride(from: 0, to: 64, by: 8) { out.append(UInt8(truncatingIfNeeded: word >> UInt64(shift))) }
        }
        return Array(out.prefix(count))
    }

    static func repetitive(seed: UInt64, count: Int) -> [UInt8] {
        var block = random(seed: seed, count: 4096)
        var rng = SplitMix64(seed: seed ^ 0x5555)
        var out: [UInt8] = []
        out.reserveCapacity(count + 5000)
        while out.count < count {
            let position = Int(rng.next() % 4096)
            block[position] = UInt8(truncatingIfNeeded: rng.next() & 0xFF)
            out += block
            let run = Int(rng.next() % 600) + 1
            let byte = UInt8(truncatingIfNeeded: rng.next() & 0xFF)
            out += [UInt8](repeating: byte, count: run)
        }
        return Array(out.prefix(count))
    }

    static func words(seed: UInt64, count: Int) -> [UInt8] {
        var rng = SplitMix64(seed: seed)
        var vocabulary: [[UInt8]] = []
        for _ in 0..<200 {
            let length = 2 + Int(rng.next() % 8)
            vocabulary.append((0..<length).map { _ in UInt8(97 + rng.next() % 26) })
        }
        var out: [UInt8] = []
        out.reserveCapacity(count + 16)
        while out.count < count {
            let a = rng.next() % 200
            let b = rng.next() % 200
            out += vocabulary[Int(min(a, b))]
            out.append(rng.next() % 12 == 0 ? 0x0A : 0x20)
        }
        return Array(out.prefix(count))
    }

    static let text = Array("The quick brown fox jumps over the lazy dog.\nEarlyExit reads gzip, IDX and NPY files.\n".utf8)

    /// The payload named in manifest.json.
    static func named(_ name: String) -> [UInt8] {
        switch name {
        case "empty": return []
        case "text": return text
        case "random": return random(seed: 1, count: 96 * 1024)
        case "repetitive": return repetitive(seed: 2, count: 1 << 20)
        case "words": return words(seed: 3, count: 160 * 1024)
        case "words-small": return words(seed: 4, count: 24 * 1024)
        case "text+words-small": return text + words(seed: 4, count: 24 * 1024)
        default: fatalError("unknown payload \(name)")
        }
    }
}

// MARK: - Hand-built DEFLATE streams

/// Writes DEFLATE's LSB-first bit stream.
private struct BitWriter {
    var bytes: [UInt8] = []
    var used = 0  // bits used in the last byte

    mutating func bit(_ value: Int) {
        if used == 0 { bytes.append(0) }
        if value & 1 != 0 { bytes[bytes.count - 1] |= UInt8(1 << used) }
        used = (used + 1) % 8
    }

    /// An integer field, least significant bit first.
    mutating func bits(_ value: Int, _ count: Int) {
        for index in 0..<count { bit(value >> index) }
    }

    /// A Huffman code, most significant bit first.
    mutating func code(_ code: Int, _ length: Int) {
        for index in (0..<length).reversed() { bit(code >> index) }
    }

    mutating func blockHeader(final: Bool, type: Int) {
        bits(final ? 1 : 0, 1)
        bits(type, 2)
    }

    /// A fixed-Huffman literal/length symbol (RFC 1951 3.2.6).
    mutating func fixedSymbol(_ symbol: Int) {
        switch symbol {
        case 0..<144: code(0x30 + symbol, 8)
        case 144..<256: code(0x190 + symbol - 144, 9)
        case 256..<280: code(symbol - 256, 7)
        default: code(0xC0 + symbol - 280, 8)
        }
    }

    /// A fixed-Huffman match whose length is 3...10 or 258 and whose distance is 1...4 (no extra bits).
    mutating func fixedMatch(length: Int, distance: Int) {
        precondition((3...10).contains(length) || length == 258)
        precondition((1...4).contains(distance))
        fixedSymbol(length == 258 ? 285 : 254 + length)
        code(distance - 1, 5)
    }

    mutating func alignAndAppend(_ raw: [UInt8]) {
        used = 0
        bytes += raw
    }
}

/// A minimal gzip member around a raw DEFLATE stream, with the trailer computed by the core's CRC32.
private func gzipMember(deflate: [UInt8], payload: [UInt8]) -> [UInt8] {
    var bytes: [UInt8] = [0x1F, 0x8B, 8, 0, 0, 0, 0, 0, 0, 0xFF]
    bytes += deflate
    let crc = CRC32.checksum(payload)
    let size = UInt32(truncatingIfNeeded: payload.count)
    for shift in [0, 8, 16, 24] { bytes.append(UInt8(truncatingIfNeeded: crc >> UInt32(shift))) }
    for shift in [0, 8, 16, 24] { bytes.append(UInt8(truncatingIfNeeded: size >> UInt32(shift))) }
    return bytes
}

/// Stored blocks of at most 65,535 bytes (plus an empty one in front).
private func storedDeflate(_ payload: [UInt8]) -> [UInt8] {
    var out: [UInt8] = [0x00, 0x00, 0x00, 0xFF, 0xFF]  // non-final empty stored block
    var offset = 0
    repeat {
        let length = min(65535, payload.count - offset)
        let final: UInt8 = offset + length == payload.count ? 1 : 0
        out += [final, UInt8(length & 0xFF), UInt8(length >> 8), UInt8(~length & 0xFF), UInt8((~length >> 8) & 0xFF)]
        out += payload[offset..<(offset + length)]
        offset += length
    } while offset < payload.count
    return out
}

final class DataReaderTests: XCTestCase {
    // MARK: Helpers

    private func fixtureURL(_ name: String) throws -> URL {
        try XCTUnwrap(Bundle.module.resourceURL).appendingPathComponent("Fixtures/data/\(name)")
    }

    private func fixture(_ name: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: fixtureURL(name)))
    }

    private func manifest() throws -> [String: Any] {
        let data = try Data(contentsOf: fixtureURL("manifest.json"))
        return try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    /// Asserts that `body` throws a DataError whose description contains every fragment.
    private func assertDataError<T>(
        _ body: @autoclosure () throws -> T, _ fragments: String..., file: StaticString = #filePath, line: UInt = #line
    ) {
        do {
            _ = try body()
            XCTFail("expected a DataError containing \(fragments)", file: file, line: line)
        } catch let error as DataError {
            for fragment in fragments {
                XCTAssertTrue(
                    error.description.contains(fragment), "\"\(error.description)\" lacks \"\(fragment)\"", file: file,
                    line: line)
            }
        } catch {
            XCTFail("expected a DataError, got \(error)", file: file, line: line)
        }
    }

    private func hex(_ bytes: some Collection<UInt8>) -> String {
        bytes.map { String(format: "%02x", $0) }.joined()
    }

    // MARK: gzip fixtures

    func testIsCompressed() {
        XCTAssertTrue(Gzip.isCompressed([0x1F, 0x8B]))
        XCTAssertTrue(Gzip.isCompressed([0x1F, 0x8B, 8, 0]))
        XCTAssertFalse(Gzip.isCompressed([0x1F]))
        XCTAssertFalse(Gzip.isCompressed([]))
        XCTAssertFalse(Gzip.isCompressed([0, 0, 8, 3]))
    }

    func testCRC32AgreesWithCoreAndKnownValue() {
        XCTAssertEqual(Gzip.crc32(Array("123456789".utf8)), 0xCBF4_3926)
        XCTAssertEqual(Gzip.crc32([]), 0)
        for length in [0, 1, 7, 8, 9, 63, 64, 65, 1000] {
            let bytes = Payloads.random(seed: UInt64(length), count: length)
            XCTAssertEqual(Gzip.crc32(bytes), CRC32.checksum(bytes), "length \(length)")
        }
    }

    func testPayloadGeneratorsMatchManifest() throws {
        let payloads = try XCTUnwrap(try manifest()["payloads"] as? [String: [String: Any]])
        XCTAssertEqual(payloads.count, 7)
        for (name, info) in payloads {
            let bytes = Payloads.named(name)
            XCTAssertEqual(bytes.count, info["length"] as? Int, name)
            XCTAssertEqual(Int(CRC32.checksum(bytes)), info["crc32"] as? Int, name)
            XCTAssertEqual(hex(bytes.prefix(16)), info["head"] as? String, name)
            XCTAssertEqual(hex(bytes.suffix(16)), info["tail"] as? String, name)
        }
    }

    func testGzipFixturesDecompressExactly() throws {
        let files = try XCTUnwrap(try manifest()["files"] as? [String: [String: Any]])
        let expectedNames: Set = [
            "empty.gz", "text.gz", "random.gz", "repetitive.gz", "words-level1.gz", "words-level9.gz", "words-fixed.gz",
            "header-fields.gz", "two-members.gz",
        ]
        XCTAssertEqual(Set(files.keys), expectedNames)
        for (name, info) in files.sorted(by: { $0.key < $1.key }) {
            let payloadName = try XCTUnwrap(info["payload"] as? String)
            let compressed = try fixture(name)
            XCTAssertEqual(compressed.count, info["compressed_length"] as? Int, name)
            XCTAssertTrue(Gzip.isCompressed(compressed), name)
            let output = try Gzip.decompress(compressed, source: name)
            let expected = Payloads.named(payloadName)
            XCTAssertEqual(output.count, expected.count, name)
            XCTAssertTrue(output == expected, "\(name) does not decompress to the \(payloadName) payload")
        }
    }

    func testFixturesCoverEveryBlockType() throws {
        // The first block type of each stream (the gzip module writes an FNAME only for text.gz).
        func firstBlockType(_ name: String) throws -> Int {
            let bytes = try fixture(name)
            var offset = 10
            if bytes[3] & 0x08 != 0 { offset = try XCTUnwrap(bytes[10...].firstIndex(of: 0)) + 1 }
            return Int(bytes[offset] >> 1) & 3
        }
        XCTAssertEqual(try firstBlockType("random.gz"), 0, "incompressible data is stored")
        XCTAssertEqual(try firstBlockType("words-fixed.gz"), 1, "Z_FIXED gives fixed Huffman blocks")
        XCTAssertEqual(try firstBlockType("words-level9.gz"), 2)
        XCTAssertEqual(try firstBlockType("repetitive.gz"), 2)
    }

    func testStoredBlocksOfOneMegabyte() throws {
        let payload = Payloads.random(seed: 99, count: 1 << 20)
        let gz = gzipMember(deflate: storedDeflate(payload), payload: payload)
        XCTAssertTrue(try Gzip.decompress(gz) == payload)
        XCTAssertTrue(try Gzip.inflate(storedDeflate(payload)) == payload)
        XCTAssertEqual(try Gzip.decompress(gzipMember(deflate: storedDeflate([]), payload: [])), [])
    }

    func testHandBuiltFixedHuffmanWithOverlappingMatches() throws {
        var writer = BitWriter()
        writer.blockHeader(final: false, type: 0)  // stored "xy", then a fixed block that refers back into it
        writer.alignAndAppend([2, 0, 0xFD, 0xFF, 0x78, 0x79])
        writer.blockHeader(final: true, type: 1)
        for byte in Array("abc".utf8) { writer.fixedSymbol(Int(byte)) }
        writer.fixedMatch(length: 6, distance: 3)  // abcabc (overlapping)
        writer.fixedMatch(length: 4, distance: 1)  // cccc (run)
        writer.fixedMatch(length: 3, distance: 4)  // three bytes from 4 back
        writer.fixedSymbol(0xFF)  // a 9-bit literal
        writer.fixedSymbol(256)
        let expected = Array("xyabcabcabcccccccc".utf8) + [0xFF]
        XCTAssertEqual(try Gzip.inflate(writer.bytes), expected)
        XCTAssertEqual(try Gzip.decompress(gzipMember(deflate: writer.bytes, payload: expected)), expected)
    }

    func testConcatenatedMembersAndTrailingZeros() throws {
        let first = try fixture("text.gz")
        let second = try fixture("words-fixed.gz")
        let expected = Payloads.text + Payloads.words(seed: 4, count: 24 * 1024)
        XCTAssertTrue(try Gzip.decompress(first + second) == expected)
        XCTAssertTrue(try Gzip.decompress(first + first + first) == Payloads.text + Payloads.text + Payloads.text)
        XCTAssertEqual(try Gzip.decompress(first + [0, 0, 0, 0]), Payloads.text, "zero padding is ignored")
        assertDataError(try Gzip.decompress(first + [0x42, 0x43]), "unexpected data after gzip member at byte \(first.count)")
        assertDataError(try Gzip.decompress(first + [0x1F, 0x8B, 8]), "gzip member at byte \(first.count)", "truncated header")
        // A two-member file cut right after its first member is a valid one-member file.
        let two = try fixture("two-members.gz")
        XCTAssertEqual(try Gzip.decompress(Array(two.prefix(first.count - 9))), Payloads.text)  // text.gz minus its FNAME
    }

    func testHeaderFieldsAreSkippedAndHeaderCRCChecked() throws {
        var bytes = try fixture("header-fields.gz")
        XCTAssertEqual(bytes[3], 0x1F, "FTEXT|FHCRC|FEXTRA|FNAME|FCOMMENT")
        XCTAssertEqual(try Gzip.decompress(bytes), Payloads.text)
        // Corrupt the comment: the header CRC-16 catches it.
        let commentStart = try XCTUnwrap(bytes.firstIndex(of: 0x00, after: 21)) + 1
        bytes[commentStart] ^= 0x20
        assertDataError(try Gzip.decompress(bytes), "header CRC-16 mismatch")
    }

    // MARK: gzip / DEFLATE errors

    func testHeaderErrors() throws {
        let good = try fixture("text.gz")
        assertDataError(try Gzip.decompress([]), "not gzip data")
        assertDataError(try Gzip.decompress([0x1F]), "not gzip data")
        assertDataError(try Gzip.decompress(Array("hello, world".utf8)), "not gzip data", "expected 0x1f 0x8b")
        var bad = good
        bad[2] = 7
        assertDataError(try Gzip.decompress(bad), "unsupported compression method 7 at byte 2")
        bad = good
        bad[3] |= 0x80
        assertDataError(try Gzip.decompress(bad), "reserved flag bits", "at byte 3")
        bad = good
        bad[3] |= 0x04  // FEXTRA claiming a huge field
        assertDataError(try Gzip.decompress(bad), "FEXTRA")
        assertDataError(try Gzip.decompress(Array(good.prefix(9))), "truncated header")
    }

    func testTrailerCRCAndSizeAreChecked() throws {
        let good = try fixture("words-level9.gz")
        var bad = good
        bad[bad.count - 8] ^= 0x01
        assertDataError(try Gzip.decompress(bad, source: "words.gz"), "words.gz: ", "CRC-32 mismatch at byte \(good.count - 8)")
        bad = good
        bad[bad.count - 1] ^= 0x01
        assertDataError(try Gzip.decompress(bad), "size mismatch", "trailer says")
        assertDataError(try Gzip.decompress(Array(good.dropLast(3))), "truncated trailer")
    }

    func testTruncationAtEveryByteThrows() throws {
        for name in ["empty.gz", "text.gz", "header-fields.gz"] {
            let bytes = try fixture(name)
            for length in 0..<bytes.count {
                XCTAssertThrowsError(try Gzip.decompress(Array(bytes.prefix(length))), "\(name) cut at \(length)")
            }
        }
        // The larger streams: every one of the last `tail` bytes and a sample elsewhere.
        for (name, step, tail) in [
            ("words-fixed.gz", 37, 300), ("words-level1.gz", 499, 60), ("random.gz", 97, 100), ("repetitive.gz", 811, 12),
        ] {
            let bytes = try fixture(name)
            let lengths = Set(stride(from: 0, to: bytes.count, by: step)).union(max(0, bytes.count - tail)..<bytes.count)
            for length in lengths.sorted() {
                XCTAssertThrowsError(try Gzip.decompress(Array(bytes.prefix(length))), "\(name) cut at \(length)")
            }
        }
        // Raw DEFLATE without a trailer: truncations are caught by the decoder itself.
        let words = try fixture("words-level9.gz")
        let raw = Array(words[10..<(words.count - 8)])
        for length in stride(from: 0, to: raw.count - 1, by: 401) {
            assertDataError(try Gzip.inflate(Array(raw.prefix(length))), "unexpected end of data")
        }
    }

    func testByteFlipsNeverCrash() throws {
        for name in ["text.gz", "header-fields.gz", "words-fixed.gz"] {
            let bytes = try fixture(name)
            let expected = name == "words-fixed.gz" ? Payloads.words(seed: 4, count: 24 * 1024) : Payloads.text
            let positions = name == "words-fixed.gz" ? Array(stride(from: 0, to: bytes.count, by: 23)) : Array(bytes.indices)
            var failures = 0
            for position in positions {
                for mask: UInt8 in [0x01, 0x10, 0x80, 0xFF] {
                    var flipped = bytes
                    flipped[position] ^= mask
                    do {
                        let output = try Gzip.decompress(flipped)
                        // Header bytes like MTIME/OS/FNAME do not matter; otherwise the CRC would object.
                        XCTAssertTrue(output == expected, "\(name): flip 0x\(String(mask, radix: 16)) at \(position)")
                    } catch is DataError {
                        failures += 1
                    }
                }
            }
            XCTAssertGreaterThan(failures, positions.count, name)
        }
    }

    func testCorruptedRawStreamsNeverCrash() throws {
        // Without a CRC, corrupted DEFLATE data exercises the decoder's own checks.
        var rng = SplitMix64(seed: 2024)
        var sources: [[UInt8]] = []
        for name in ["words-level9.gz", "words-fixed.gz", "text.gz", "words-level1.gz"] {
            let bytes = try fixture(name)
            let start = name == "text.gz" ? 19 : 10
            sources.append(Array(bytes[start..<(bytes.count - 8)]))
        }
        var thrown = 0
        for round in 0..<1500 {
            var stream = sources[round % sources.count]
            let edits = 1 + Int(rng.next() % 4)
            for _ in 0..<edits {
                let position = Int(rng.next() % UInt64(min(stream.count, 400)))
                stream[position] = UInt8(truncatingIfNeeded: rng.next())
            }
            do { _ = try Gzip.inflate(stream, maxOutputSize: 2 << 20) } catch is DataError { thrown += 1 }
        }
        for round in 0..<1500 {  // pure noise
            let stream = Payloads.random(seed: UInt64(10_000 + round), count: 1 + round % 300)
            do { _ = try Gzip.inflate(stream, maxOutputSize: 1 << 20) } catch is DataError { thrown += 1 }
        }
        XCTAssertGreaterThan(thrown, 1500)
    }

    func testOutputBombIsCapped() throws {
        // One literal, then 40,000 matches of 258 bytes at distance 1: ~10 MB from ~65 KB.
        var writer = BitWriter()
        writer.blockHeader(final: true, type: 1)
        writer.fixedSymbol(0)
        for _ in 0..<40_000 { writer.fixedMatch(length: 258, distance: 1) }
        writer.fixedSymbol(256)
        let size = 1 + 40_000 * 258
        assertDataError(
            try Gzip.inflate(writer.bytes, source: "bomb", maxOutputSize: 1 << 20),
            "bomb: decompressed output exceeds the limit of 1048576 bytes")
        let output = try Gzip.inflate(writer.bytes, maxOutputSize: size)
        XCTAssertEqual(output.count, size)
        XCTAssertTrue(output.allSatisfy { $0 == 0 })
        let gz = gzipMember(deflate: writer.bytes, payload: output)
        assertDataError(try Gzip.decompress(gz, maxOutputSize: size - 1), "exceeds the limit of \(size - 1) bytes")
        XCTAssertEqual(try Gzip.decompress(gz, maxOutputSize: size).count, size)
        // A real gzip file past a small cap, and caps smaller than the initial buffer.
        assertDataError(try Gzip.decompress(try fixture("repetitive.gz"), maxOutputSize: 100_000), "exceeds the limit")
        assertDataError(try Gzip.decompress(try fixture("text.gz"), maxOutputSize: 10), "exceeds the limit of 10 bytes")
        assertDataError(try Gzip.decompress(try fixture("text.gz"), maxOutputSize: 0), "exceeds the limit of 0 bytes")
        XCTAssertEqual(try Gzip.decompress(try fixture("text.gz"), maxOutputSize: Payloads.text.count), Payloads.text)
        XCTAssertEqual(try Gzip.decompress(try fixture("empty.gz"), maxOutputSize: 0), [])
    }

    func testDistanceTooFarBack() {
        var writer = BitWriter()
        writer.blockHeader(final: true, type: 1)
        writer.fixedSymbol(0x61)
        writer.fixedMatch(length: 3, distance: 2)
        writer.fixedSymbol(256)
        assertDataError(try Gzip.inflate(writer.bytes), "distance 2 reaches back before the start of the output (1 bytes written)", "at byte 2")
        // Across gzip members: a second member may not refer to the first one's output.
        var second = BitWriter()
        second.blockHeader(final: true, type: 1)
        second.fixedMatch(length: 3, distance: 1)
        second.fixedSymbol(256)
        let member1 = gzipMember(deflate: storedDeflate([1, 2, 3]), payload: [1, 2, 3])
        let member2 = gzipMember(deflate: second.bytes, payload: [3, 3, 3])
        assertDataError(try Gzip.decompress(member1 + member2), "distance 1 reaches back")
    }

    func testInvalidFixedSymbolsAndBlockType() {
        var writer = BitWriter()
        writer.blockHeader(final: true, type: 1)
        writer.fixedSymbol(286)
        writer.fixedSymbol(256)
        assertDataError(try Gzip.inflate(writer.bytes), "invalid literal/length code at byte 0")
        writer = BitWriter()
        writer.blockHeader(final: true, type: 1)
        writer.fixedSymbol(0x41)
        writer.fixedSymbol(257)
        writer.code(30, 5)
        writer.fixedSymbol(256)
        assertDataError(try Gzip.inflate(writer.bytes), "invalid distance code")
        writer = BitWriter()
        writer.blockHeader(final: true, type: 3)
        writer.bits(0, 16)
        assertDataError(try Gzip.inflate(writer.bytes), "invalid block type 3 (reserved) at byte 0")
        // A non-final block followed by nothing.
        writer = BitWriter()
        writer.blockHeader(final: false, type: 1)
        writer.fixedSymbol(256)
        assertDataError(try Gzip.inflate(writer.bytes), "unexpected end of data")
        assertDataError(try Gzip.inflate([]), "unexpected end of data")
    }

    func testStoredBlockErrors() {
        assertDataError(try Gzip.inflate([0x01, 0x05, 0x00, 0xFA, 0xFE, 1, 2, 3, 4, 5]), "does not match its one's complement")
        assertDataError(try Gzip.inflate([0x01, 0x05, 0x00, 0xFA, 0xFF, 1, 2, 3]), "stored block of 5 bytes starting at byte 5 (3 bytes left)")
        assertDataError(try Gzip.inflate([0x01, 0x05, 0x00]), "unexpected end of data while reading stored block length")
    }

    /// Writes a dynamic block header with the given code-length-code lengths (in RFC order).
    private func dynamicHeader(literalCount: Int = 257, distanceCount: Int = 1, codeLengthLengths: [Int]) -> BitWriter {
        var writer = BitWriter()
        writer.blockHeader(final: true, type: 2)
        writer.bits(literalCount - 257, 5)
        writer.bits(distanceCount - 1, 5)
        writer.bits(codeLengthLengths.count - 4, 4)
        for length in codeLengthLengths { writer.bits(length, 3) }
        return writer
    }

    func testDynamicHeaderErrors() {
        // Over-subscribed code-length code: 19 codes of length 1.
        var writer = dynamicHeader(codeLengthLengths: [Int](repeating: 1, count: 19))
        writer.bits(0, 32)
        assertDataError(try Gzip.inflate(writer.bytes), "over-subscribed code length code", "at byte 0")
        // Incomplete code-length code: only symbol 18, with length 1.
        writer = dynamicHeader(codeLengthLengths: [0, 0, 1, 0])
        writer.bits(0, 32)
        assertDataError(try Gzip.inflate(writer.bytes), "incomplete code length code")
        // Empty code-length code.
        writer = dynamicHeader(codeLengthLengths: [0, 0, 0, 0])
        writer.bits(0, 32)
        assertDataError(try Gzip.inflate(writer.bytes), "empty code length code")
        // Too many literal/length codes (HLIT = 31 gives 288).
        writer = dynamicHeader(literalCount: 288, codeLengthLengths: [0, 0, 1, 1])
        writer.bits(0, 32)
        assertDataError(try Gzip.inflate(writer.bytes), "declares 288 literal/length codes (at most 286)")
        writer = dynamicHeader(distanceCount: 31, codeLengthLengths: [0, 0, 1, 1])
        writer.bits(0, 32)
        assertDataError(try Gzip.inflate(writer.bytes), "declares 31 distance codes (at most 30)")
        // Code lengths 16 (code 0) and 18 (code 1): a repeat with nothing before it.
        writer = dynamicHeader(codeLengthLengths: [1, 0, 1, 0])
        writer.code(0, 1)
        writer.bits(0, 2)
        assertDataError(try Gzip.inflate(writer.bytes), "code length repeat (16) with no previous length")
        // Symbols 0 (code 0) and 18 (code 1): 138 + 138 zeros overrun the 258 lengths.
        writer = dynamicHeader(codeLengthLengths: [0, 0, 1, 1])
        writer.code(1, 1)
        writer.bits(127, 7)
        writer.code(1, 1)
        writer.bits(127, 7)
        assertDataError(try Gzip.inflate(writer.bytes), "code length repeat of 138 overruns the 258 code lengths")
        // 138 + 120 zeros: every length is zero, so there is no end-of-block code.
        writer = dynamicHeader(codeLengthLengths: [0, 0, 1, 1])
        writer.code(1, 1)
        writer.bits(127, 7)
        writer.code(1, 1)
        writer.bits(109, 7)
        writer.bits(0, 16)
        assertDataError(try Gzip.inflate(writer.bytes), "no end-of-block code")
        // Symbols 1 (code 0) and 16 (code 1): all 258 lengths are 1, an over-subscribed literal/length code.
        var lengths = [Int](repeating: 0, count: 18)
        lengths[0] = 1  // symbol 16
        lengths[17] = 1  // symbol 1
        writer = dynamicHeader(codeLengthLengths: lengths)
        writer.code(0, 1)
        for _ in 0..<42 {
            writer.code(1, 1)
            writer.bits(3, 2)
        }
        writer.code(1, 1)
        writer.bits(2, 2)
        writer.bits(0, 16)
        assertDataError(try Gzip.inflate(writer.bytes), "over-subscribed literal/length code")
    }

    func testDynamicBlockWithSingleDistanceCodeAndNoDistances() throws {
        // Literal/length code: 'a' (97), 256 and 257 each get length 2, plus symbol 258 with length 2
        // (complete: four codes of length 2). Distance code: one code of length 1 (allowed, incomplete).
        // Code-length code: symbols 0, 1, 2 and 18 with lengths 2, 2, 2, 2.
        func block(distanceLength: Int) -> BitWriter {
            var order = [Int](repeating: 0, count: 18)  // RFC order 16,17,18,0,8,7,9,6,10,5,11,4,12,3,13,2,14,1
            order[2] = 2  // 18
            order[3] = 2  // 0
            order[15] = 2  // 2
            order[17] = 2  // 1
            var writer = dynamicHeader(literalCount: 259, distanceCount: 1, codeLengthLengths: order)
            // Canonical codes for lengths 2: symbol 0 -> 00, 1 -> 01, 2 -> 10, 18 -> 11.
            func zeros(_ count: Int) {  // count in 11...138
                writer.code(3, 2)
                writer.bits(count - 11, 7)
            }
            zeros(97)
            writer.code(2, 2)  // 'a' has length 2
            zeros(138)
            zeros(20)  // up to symbol 255
            writer.code(2, 2)  // 256
            writer.code(2, 2)  // 257
            writer.code(2, 2)  // 258
            writer.code(distanceLength == 1 ? 1 : 0, 2)  // the distance code length (1 or 0)
            // Literal/length codes: 97 -> 00, 256 -> 01, 257 -> 10, 258 -> 11.
            writer.code(0, 2)  // 'a'
            writer.code(3, 2)  // length 4 (symbol 258)
            return writer
        }
        var writer = block(distanceLength: 1)
        writer.code(0, 1)  // distance 1
        writer.code(1, 2)  // end of block
        writer.bits(0, 16)  // padding, so that the invalid codes below are not mistaken for truncation
        XCTAssertEqual(try Gzip.inflate(writer.bytes), Array("aaaaa".utf8))
        writer = block(distanceLength: 1)
        writer.code(1, 1)  // the unused distance code
        writer.code(1, 2)
        writer.bits(0, 16)
        assertDataError(try Gzip.inflate(writer.bytes), "invalid distance code")
        writer = block(distanceLength: 0)  // no distance codes at all: any match is invalid
        writer.code(0, 1)
        writer.code(1, 2)
        writer.bits(0, 16)
        assertDataError(try Gzip.inflate(writer.bytes), "invalid distance code")
    }

    // MARK: IDX

    func testIDXRoundTrip() throws {
        let payload = (0..<12).map { UInt8($0 * 3) }
        let bytes = IDXFile.encode(dimensions: [3, 2, 2], payload: payload)
        XCTAssertEqual(Array(bytes.prefix(16)), [0, 0, 8, 3, 0, 0, 0, 3, 0, 0, 0, 2, 0, 0, 0, 2])
        let file = try IDXFile.parse(bytes, source: "t.idx")
        XCTAssertEqual(file.dataType, 0x08)
        XCTAssertEqual(file.dimensions, [3, 2, 2])
        XCTAssertEqual(file.count, 3)
        XCTAssertEqual(file.itemSize, 4)
        XCTAssertEqual(Array(file.item(1)), [12, 15, 18, 21])
        XCTAssertEqual(file.payload, payload)
        let labels = try IDXFile.parse(IDXFile.encode(dimensions: [4], payload: [9, 0, 1, 7]), source: "labels")
        XCTAssertEqual(labels.itemSize, 1)
        XCTAssertEqual(Array(labels.item(3)), [7])
        let empty = try IDXFile.parse(IDXFile.encode(dimensions: [0, 28, 28], payload: []), source: "empty")
        XCTAssertEqual(empty.count, 0)
        var signed = IDXFile.encode(dimensions: [2], payload: [0xFF, 1])
        signed[2] = 0x09
        XCTAssertEqual(try IDXFile.parse(signed, source: "s").dataType, 0x09)
        XCTAssertEqual(IDXFile.encode(dataType: 0x09, dimensions: [2], payload: [0xFF, 1]), signed)
        let big = IDXFile.encode(dimensions: [70_000], payload: [UInt8](repeating: 1, count: 70_000))
        XCTAssertEqual(Array(big[4..<8]), [0x00, 0x01, 0x11, 0x70])
        XCTAssertEqual(try IDXFile.parse(big, source: "big").count, 70_000)
    }

    func testIDXErrors() throws {
        let good = IDXFile.encode(dimensions: [2, 3], payload: [1, 2, 3, 4, 5, 6])
        var bad = good
        bad[0] = 1
        assertDataError(try IDXFile.parse(bad, source: "m.idx"), "m.idx: bad IDX magic", "0x01 0x00")
        bad = good
        bad[2] = 0x0D
        assertDataError(try IDXFile.parse(bad, source: "f.idx"), "unsupported IDX data type 0x0D", "32-bit float")
        bad[2] = 0x42
        assertDataError(try IDXFile.parse(bad, source: "f.idx"), "unsupported IDX data type 0x42 at byte 2")
        bad = good
        bad[3] = 0
        assertDataError(try IDXFile.parse(bad, source: "r.idx"), "declares 0 dimensions")
        bad[3] = 5
        assertDataError(try IDXFile.parse(bad, source: "r.idx"), "declares 5 dimensions")
        assertDataError(try IDXFile.parse([0, 0, 8], source: "s.idx"), "too short")
        assertDataError(try IDXFile.parse(Array(good.prefix(9)), source: "h.idx"), "truncated IDX header")
        assertDataError(
            try IDXFile.parse(good + [7], source: "x.idx"), "header says 2×3 = 6 bytes of data but the file has 7")
        // The exact message for a short image file.
        var header: [UInt8] = [0, 0, 8, 3, 0, 0, 0x27, 0x10, 0, 0, 0, 28, 0, 0, 0, 28]
        header += [UInt8](repeating: 0, count: 7_839_990)
        do {
            _ = try IDXFile.parse(header, source: "images.idx")
            XCTFail("expected an error")
        } catch let error as DataError {
            XCTAssertEqual(
                error.description, "images.idx: header says 10000×28×28 = 7840000 bytes of data but the file has 7839990")
            XCTAssertEqual(error.source, "images.idx")
        }
        let huge: [UInt8] = [0, 0, 8, 4] + [UInt8](repeating: 0xFF, count: 16)
        assertDataError(try IDXFile.parse(huge, source: "o.idx"), "overflows")
        assertDataError(try IDXFile.read(path: "/nonexistent/data.idx"), "/nonexistent/data.idx: cannot read file")
        // A corrupted gzip wrapper is reported as such.
        var gz = try fixture("images-7x4x5-idx3-ubyte.gz")
        gz[gz.count - 6] ^= 0xFF
        assertDataError(try IDXFile.parse(gz, source: "g.idx.gz"), "g.idx.gz: ", "CRC-32 mismatch")
    }

    func testIDXFixtures() throws {
        let images = try IDXFile.read(path: try fixtureURL("images-7x4x5-idx3-ubyte.gz").path)
        XCTAssertEqual(images.dimensions, [7, 4, 5])
        XCTAssertEqual(images.itemSize, 20)
        XCTAssertEqual(images.payload, (0..<140).map { UInt8(($0 * 7 + 3) & 0xFF) })
        XCTAssertEqual(Array(images.item(6)), (120..<140).map { UInt8(($0 * 7 + 3) & 0xFF) })
        let labels = try IDXFile.read(path: try fixtureURL("labels-7-idx1-ubyte").path)
        XCTAssertEqual(labels.dimensions, [7])
        XCTAssertEqual(labels.payload, [9, 2, 1, 1, 6, 1, 4])
    }

    private static let fashionDirectories = ["/usr/share/datasets/fashion-mnist", "/usr/share/dataset-fashion-mnist"]

    private func fashionFile(_ name: String) throws -> String {
        for directory in Self.fashionDirectories where FileManager.default.fileExists(atPath: "\(directory)/\(name)") {
            return "\(directory)/\(name)"
        }
        throw XCTSkip("Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)")
    }

    func testFashionMNISTTestSet() throws {
        let images = try IDXFile.read(path: try fashionFile("t10k-images-idx3-ubyte.gz"))
        let labels = try IDXFile.read(path: try fashionFile("t10k-labels-idx1-ubyte.gz"))
        XCTAssertEqual(images.dimensions, [10000, 28, 28])
        XCTAssertEqual(images.itemSize, 784)
        XCTAssertEqual(labels.dimensions, [10000])
        XCTAssertEqual(labels.payload.first, 9, "the first Fashion-MNIST test image is an ankle boot")
        XCTAssertTrue(labels.payload.allSatisfy { $0 < 10 })
        XCTAssertEqual(labels.payload.prefix(10).map(Int.init), [9, 2, 1, 1, 6, 1, 4, 6, 5, 7])
        // The repository's bundled sample is the first 1,000 test images.
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let samplePath = root.appendingPathComponent("Models/fashion-test-sample-images-idx3-ubyte.gz").path
        if FileManager.default.fileExists(atPath: samplePath) {
            let sample = try IDXFile.read(path: samplePath)
            XCTAssertEqual(sample.dimensions, [1000, 28, 28])
            XCTAssertTrue(sample.payload[...] == images.payload.prefix(1000 * 784))
        }
    }

    // MARK: NPY

    func testNPYFixturesWrittenByNumpy() throws {
        func read(_ name: String) throws -> NPYArray { try NPYArray.read(path: try fixtureURL(name).path) }
        let image = try read("f32-1x1x28x28.npy")
        XCTAssertEqual(image.shape, [1, 1, 28, 28])
        XCTAssertEqual(image.values, (0..<784).map { Float($0 - 392) * 0.25 })
        let doubles = try read("f64-vector.npy")
        XCTAssertEqual(doubles.shape, [5])
        XCTAssertEqual(doubles.values, [Float(0.1 as Double), -2.5, 1e10, 3.0, 0])
        XCTAssertEqual(doubles.values[4].sign, .minus)
        let int64 = try read("i64-2x3.npy")
        XCTAssertEqual(int64.shape, [2, 3])
        XCTAssertEqual(int64.values, [1, -2, 3, 4, 5, -6])
        XCTAssertEqual(try read("i32-4.npy").values, [-2_147_483_648, -1, 0, 16_777_216])
        XCTAssertEqual(try read("u8-2x2.npy"), NPYArray(shape: [2, 2], values: [0, 1, 254, 255]))
        XCTAssertEqual(try read("i8-3.npy"), NPYArray(shape: [3], values: [-128, 0, 127]))
        XCTAssertEqual(try read("f32-scalar.npy"), NPYArray(shape: [], values: [3.5]))
        XCTAssertEqual(try read("f32-empty-0x3.npy"), NPYArray(shape: [0, 3], values: []))
        let v2 = try fixture("f32-v2.npy")
        XCTAssertEqual(v2[6], 2)
        XCTAssertEqual(try NPYArray.parse(v2, source: "v2"), NPYArray(shape: [2, 3], values: [0, 1, 2, 3, 4, 5]))
        let v3 = try fixture("f32-v3.npy")
        XCTAssertEqual(v3[6], 3)
        XCTAssertEqual(try NPYArray.parse(v3, source: "v3"), NPYArray(shape: [4], values: [0, 1, 2, 3]))
        assertDataError(try read("f32-fortran.npy"), "f32-fortran.npy: Fortran-order")
        assertDataError(try read("f32-bigendian.npy"), "big-endian dtype '>f4' is not supported")
    }

    func testNPYEncodeMatchesNumpyAndRoundTrips() throws {
        let numpy = try fixture("f32-numpy-1x3.npy")
        XCTAssertEqual(NPYArray.encode(shape: [1, 3], values: [1, -2, 0.5]), numpy)
        for shape in [[], [5], [2, 3], [1, 1, 28, 28], [0], [3, 0, 2]] {
            let count = shape.reduce(1, *)
            let values = (0..<count).map { Float($0) * 0.5 - 3 }
            let bytes = NPYArray.encode(shape: shape, values: values)
            XCTAssertEqual(Array(bytes[6..<8]), [1, 0])
            let headerLength = Int(bytes[8]) | Int(bytes[9]) << 8
            XCTAssertEqual((10 + headerLength) % 64, 0, "data starts at a multiple of 64 for \(shape)")
            XCTAssertEqual(bytes[10 + headerLength - 1], 0x0A)
            XCTAssertEqual(bytes.count, 10 + headerLength + 4 * count)
            XCTAssertEqual(try NPYArray.parse(bytes, source: "rt"), NPYArray(shape: shape, values: values))
        }
        let header = String(decoding: NPYArray.encode(shape: [5], values: [1, 2, 3, 4, 5])[10..<100], as: UTF8.self)
        XCTAssertTrue(header.hasPrefix("{'descr': '<f4', 'fortran_order': False, 'shape': (5,), }"), header)
        let scalar = String(decoding: NPYArray.encode(shape: [], values: [1])[10..<100], as: UTF8.self)
        XCTAssertTrue(scalar.contains("'shape': (), }"), scalar)
        // Special values survive bit for bit.
        let specials: [Float] = [.infinity, -.infinity, .leastNonzeroMagnitude, .greatestFiniteMagnitude, -0.0]
        let back = try NPYArray.parse(NPYArray.encode(shape: [5], values: specials), source: "s")
        XCTAssertEqual(back.values.map(\.bitPattern), specials.map(\.bitPattern))
        let nan = try NPYArray.parse(NPYArray.encode(shape: [1], values: [.nan]), source: "nan")
        XCTAssertTrue(nan.values[0].isNaN)
        // write / read through the file system.
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("data-reader-\(UUID().uuidString).npy").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let array = NPYArray(shape: [2, 2], values: [1, 2, 3, 4])
        try array.write(path: path)
        XCTAssertEqual(try NPYArray.read(path: path), array)
        assertDataError(try array.write(path: "/nonexistent-dir/x.npy"), "/nonexistent-dir/x.npy: cannot write file")
    }

    /// An NPY 1.0 file with an arbitrary header text and data.
    private func npy(_ header: String, data: [UInt8], major: UInt8 = 1) -> [UInt8] {
        let text = Array(header.utf8)
        var bytes: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59, major, 0]
        if major == 1 {
            bytes += [UInt8(text.count & 0xFF), UInt8(text.count >> 8)]
        } else {
            bytes += [UInt8(text.count & 0xFF), UInt8(text.count >> 8), 0, 0]
        }
        return bytes + text + data
    }

    func testNPYHostileHeaders() throws {
        let twelve = [UInt8](repeating: 0, count: 12)
        func header(_ fields: String) -> String { "{\(fields)}      \n" }
        let good = header("'descr': '<f4', 'fortran_order': False, 'shape': (3,), ")
        XCTAssertEqual(try NPYArray.parse(npy(good, data: twelve), source: "g").shape, [3])
        XCTAssertEqual(
            try NPYArray.parse(npy(header("\"shape\": (3,),\"descr\":\"<f4\",\"fortran_order\":False"), data: twelve), source: "g")
                .shape, [3], "keys in any order, double quotes, no trailing comma")
        XCTAssertEqual(try NPYArray.parse(npy(good, data: twelve, major: 2), source: "g").shape, [3])
        XCTAssertEqual(try NPYArray.parse(npy(header("'descr': '<f4', 'fortran_order': False, 'shape': (3L,)"), data: twelve), source: "py2").shape, [3])

        assertDataError(try NPYArray.parse(npy(header("'descr': '<f4', 'fortran_order': False"), data: twelve), source: "a.npy"),
                        "a.npy: NPY header is missing the 'shape' key")
        assertDataError(try NPYArray.parse(npy(header("'fortran_order': False, 'shape': (3,)"), data: twelve), source: "a"),
                        "missing the 'descr' key")
        assertDataError(try NPYArray.parse(npy(header("'descr': '<f4', 'shape': (3,)"), data: twelve), source: "a"),
                        "missing the 'fortran_order' key")
        assertDataError(try NPYArray.parse(npy(header("'descr': '<f4', 'fortran_order': False, 'shape': (3,), 'x': 1"), data: twelve), source: "a"),
                        "unexpected key 'x'")
        assertDataError(try NPYArray.parse(npy(header("'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (3,)"), data: twelve), source: "a"),
                        "duplicate key 'descr'")
        assertDataError(try NPYArray.parse(npy(header("'descr': '>f4', 'fortran_order': False, 'shape': (3,)"), data: twelve), source: "a"),
                        "big-endian dtype '>f4'")
        assertDataError(try NPYArray.parse(npy(header("'descr': '<f2', 'fortran_order': False, 'shape': (6,)"), data: twelve), source: "a"),
                        "unsupported dtype '<f2'")
        assertDataError(try NPYArray.parse(npy(header("'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (3,)"), data: twelve), source: "a"),
                        "lists are not supported")
        assertDataError(try NPYArray.parse(npy(header("'descr': '<f4', 'fortran_order': True, 'shape': (3,)"), data: twelve), source: "a"),
                        "Fortran-order")
        assertDataError(try NPYArray.parse(npy(header("'descr': '<f4', 'fortran_order': 0, 'shape': (3,)"), data: twelve), source: "a"),
                        "'fortran_order' must be True or False")
        assertDataError(try NPYArray.parse(npy(header("'descr': '<f4', 'fortran_order': False, 'shape': (4,)"), data: twelve), source: "a"),
                        "shape (4,) of '<f4' needs 16 bytes of data but the file has 12")
        assertDataError(try NPYArray.parse(npy(good, data: twelve + [0]), source: "a"), "needs 12 bytes of data but the file has 13")
        assertDataError(try NPYArray.parse(npy(header("'descr': '<f4', 'fortran_order': False, 'shape': (3)"), data: twelve), source: "a"),
                        "a 1-tuple is written (3,)")
        assertDataError(try NPYArray.parse(npy(header("'descr': '<f4', 'fortran_order': False, 'shape': 3"), data: twelve), source: "a"),
                        "'shape' must be a tuple")
        assertDataError(try NPYArray.parse(npy(header("'descr': '<f4', 'fortran_order': False, 'shape': (-3,)"), data: twelve), source: "a"),
                        "negative integers")
        assertDataError(try NPYArray.parse(npy(header("'descr': '<f4', 'fortran_order': False, 'shape': (3 4)"), data: twelve), source: "a"),
                        "expected ',' or ')'")
        assertDataError(try NPYArray.parse(npy(header("'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,)"), data: twelve), source: "a"),
                        "integer too large")
        assertDataError(try NPYArray.parse(npy(header("'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296, 4294967296)"), data: twelve), source: "a"),
                        "too many")
        assertDataError(try NPYArray.parse(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (3,)", data: twelve), source: "a"),
                        "malformed NPY header dict", "expected ',' or '}'")
        assertDataError(try NPYArray.parse(npy(good + "x", data: twelve), source: "a"), "after the closing '}'")
        assertDataError(try NPYArray.parse(npy("[1, 2]\n", data: twelve), source: "a"), "at byte 10", "expected '{'")
        assertDataError(try NPYArray.parse(npy("{'descr: '<f4'}\n", data: []), source: "a"), "malformed NPY header dict")
        assertDataError(try NPYArray.parse(npy(header("'descr': '<f4', 'fortran_order': Flase, 'shape': (3,)"), data: twelve), source: "a"),
                        "expected a value")
        assertDataError(try NPYArray.parse(npy(header("'de\\scr': '<f4'"), data: twelve), source: "a"), "escape sequences")
        assertDataError(try NPYArray.parse(npy(header("3: '<f4'"), data: twelve), source: "a"), "dict keys must be strings")
        assertDataError(try NPYArray.parse(npy(good, data: twelve, major: 4), source: "a"), "unsupported NPY format version 4.0")
        assertDataError(try NPYArray.parse(Array("NUMPY!!!!!!!!!".utf8), source: "a"), "not an NPY file")
        assertDataError(try NPYArray.parse([0x93, 0x4E, 0x55], source: "a"), "too short")
        var longHeader = npy(good, data: twelve)
        longHeader[8] = 0xFF
        longHeader[9] = 0xFF
        assertDataError(try NPYArray.parse(longHeader, source: "a"), "truncated NPY header", "declares 65535 bytes")
        assertDataError(try NPYArray.read(path: "/nonexistent/a.npy"), "cannot read file")
    }

    func testNPYTruncationAtEveryByteThrows() throws {
        for name in ["f32-numpy-1x3.npy", "f32-v2.npy", "i64-2x3.npy"] {
            let bytes = try fixture(name)
            for length in 0..<bytes.count {
                XCTAssertThrowsError(try NPYArray.parse(Array(bytes.prefix(length)), source: name), "\(name) cut at \(length)")
            }
            var rng = SplitMix64(seed: UInt64(bytes.count))
            for _ in 0..<2000 {  // random header corruption never crashes
                var corrupted = bytes
                corrupted[Int(rng.next() % 128)] = UInt8(truncatingIfNeeded: rng.next())
                _ = try? NPYArray.parse(corrupted, source: name)
            }
        }
    }
}

private extension Array where Element == UInt8 {
    func firstIndex(of byte: UInt8, after start: Int) -> Int? {
        self[start...].firstIndex(of: byte)
    }
}
