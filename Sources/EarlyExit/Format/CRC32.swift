// CRC-32 (ISO-HDLC, the zlib/PNG polynomial) over a byte buffer.

/// The CRC-32 used by the `.eem` header: reflected polynomial 0xEDB88320, initial and final XOR 0xFFFFFFFF.
public enum CRC32 {
    /// The 256-entry lookup table, built once.
    static let table: [UInt32] = {
        var table = [UInt32](repeating: 0, count: 256)
        for index in 0..<256 {
            var value = UInt32(index)
            for _ in 0..<8 {
                value = (value & 1) != 0 ? (value >> 1) ^ 0xEDB8_8320 : value >> 1
            }
            table[index] = value
        }
        return table
    }()

    /// Returns the CRC-32 of `count` bytes starting at `base`.
    public static func checksum(_ base: UnsafeRawPointer, count: Int) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        table.withUnsafeBufferPointer { table in
            let bytes = base.assumingMemoryBound(to: UInt8.self)
            for index in 0..<count {
                crc = table[Int((crc ^ UInt32(bytes[index])) & 0xFF)] ^ (crc >> 8)
            }
        }
        return crc ^ 0xFFFF_FFFF
    }

    /// Returns the CRC-32 of a byte array.
    public static func checksum(_ bytes: [UInt8]) -> UInt32 {
        bytes.withUnsafeBytes { raw in
            guard let base = raw.baseAddress else { return 0 }
            return checksum(base, count: raw.count)
        }
    }
}
