// A bounds-checked little-endian reader over a model buffer.

/// Reads little-endian integers and floats from a raw buffer, checking every access.
///
/// The reader never reads outside `[0, count)`: each read first checks the remaining length
/// and throws `ModelError.truncated` naming the field and its offset.
struct ByteReader {
    let base: UnsafeRawPointer
    let count: Int
    /// The current read position, in bytes from `base`.
    var offset: Int

    init(base: UnsafeRawPointer, count: Int, offset: Int = 0) {
        self.base = base
        self.count = count
        self.offset = offset
    }

    /// Throws unless `size` bytes remain at the current offset.
    func require(_ size: Int, _ what: String) throws(ModelError) {
        if offset < 0 || size < 0 || offset > count || count - offset < size {
            throw .truncated(what: what, offset: offset, needed: size, available: max(0, count - offset))
        }
    }

    mutating func u8(_ what: String) throws(ModelError) -> UInt8 {
        try require(1, what)
        let value = base.load(fromByteOffset: offset, as: UInt8.self)
        offset += 1
        return value
    }

    mutating func u16(_ what: String) throws(ModelError) -> UInt16 {
        try require(2, what)
        let value = base.loadUnaligned(fromByteOffset: offset, as: UInt16.self)
        offset += 2
        return UInt16(littleEndian: value)
    }

    mutating func u32(_ what: String) throws(ModelError) -> UInt32 {
        try require(4, what)
        let value = base.loadUnaligned(fromByteOffset: offset, as: UInt32.self)
        offset += 4
        return UInt32(littleEndian: value)
    }

    mutating func i32(_ what: String) throws(ModelError) -> Int32 {
        Int32(bitPattern: try u32(what))
    }

    mutating func u64(_ what: String) throws(ModelError) -> UInt64 {
        try require(8, what)
        let value = base.loadUnaligned(fromByteOffset: offset, as: UInt64.self)
        offset += 8
        return UInt64(littleEndian: value)
    }

    mutating func f32(_ what: String) throws(ModelError) -> Float {
        Float(bitPattern: try u32(what))
    }

    /// Reads a u32 and returns it as a non-negative `Int`.
    mutating func index(_ what: String) throws(ModelError) -> Int {
        Int(try u32(what))
    }

    /// Reads `size` reserved bytes and returns the offset of the first non-zero one, or nil.
    mutating func reserved(_ size: Int, _ what: String) throws(ModelError) -> Int? {
        try require(size, what)
        var nonZero: Int?
        for position in offset..<(offset + size) where nonZero == nil && base.load(fromByteOffset: position, as: UInt8.self) != 0 {
            nonZero = position
        }
        offset += size
        return nonZero
    }

    mutating func skip(_ size: Int, _ what: String) throws(ModelError) {
        try require(size, what)
        offset += size
    }
}
