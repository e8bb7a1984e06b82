// The handles behind `ee_model *` and `ee_interpreter *`: a small heap struct with a magic word.
#if !EARLYEXIT_SINGLE_MODULE
import EarlyExit
#endif
import EarlyExitPlatform

/// What an `ee_model *` points to. `magic` is cleared on close, so that a closed handle is
/// refused while its memory has not been reused.
struct CModelHandle {
    static let liveMagic: UInt64 = 0x4545_4D4F_4445_4C21 // "!LEDOMEE" little-endian
    var magic: UInt64
    let model: Unmanaged<Model>
    /// The file mapping the model reads (`ee_model_open_file`), or nil for caller-owned bytes.
    var mapping: CMappedFile? = nil
}

/// A read-only file mapping (`ee_model_open_file`), unmapped when the last handle that reads
/// it (the model's, and each interpreter's created from it) is closed.
final class CMappedFile {
    let address: UnsafeRawPointer
    let size: Int

    init(address: UnsafeRawPointer, size: Int) {
        self.address = address
        self.size = size
    }

    deinit { _ = earlyexit_platform_unmap_file(address, size) }
}

/// What an `ee_interpreter *` points to. The two threshold rows let `set_policy` install a
/// new policy without allocating: it fills the row the interpreter's current policy does not
/// use, which is then uniquely referenced and so written in place.
struct CInterpreterHandle {
    static let liveMagic: UInt64 = 0x4545_494E_5452_5021 // "!PRTNIEE" little-endian
    var magic: UInt64
    let interpreter: Unmanaged<Interpreter>
    var rowA: [Float]
    var rowB: [Float]
    var nextRowIsB: Bool
    /// The model's file mapping, kept while the interpreter reads the model's weights.
    var mapping: CMappedFile? = nil
}

/// The live model handle behind `raw`, or nil when it is misaligned or its magic is wrong.
@inline(never)
func cModelHandle(_ raw: OpaquePointer) -> UnsafeMutablePointer<CModelHandle>? {
    if UInt(bitPattern: Int(bitPattern: UnsafeRawPointer(raw))) % UInt(MemoryLayout<CModelHandle>.alignment) != 0 { return nil }
    let handle = UnsafeMutablePointer<CModelHandle>(raw)
    if UnsafeRawPointer(raw).load(as: UInt64.self) != CModelHandle.liveMagic { return nil }
    return handle
}

/// The live interpreter handle behind `raw`, or nil when it is misaligned or its magic is wrong.
@inline(never)
func cInterpreterHandle(_ raw: OpaquePointer) -> UnsafeMutablePointer<CInterpreterHandle>? {
    if UInt(bitPattern: Int(bitPattern: UnsafeRawPointer(raw))) % UInt(MemoryLayout<CInterpreterHandle>.alignment) != 0 { return nil }
    let handle = UnsafeMutablePointer<CInterpreterHandle>(raw)
    if UnsafeRawPointer(raw).load(as: UInt64.self) != CInterpreterHandle.liveMagic { return nil }
    return handle
}

/// Resolves a model argument: `.nullArgument`, `.invalidHandle`, or the model.
@inline(never)
func cModel(_ raw: OpaquePointer?, _ status: inout EEStatus) -> Model? {
    guard let raw else { status = .nullArgument; return nil }
    guard let handle = cModelHandle(raw) else { status = .invalidHandle; return nil }
    return handle.pointee.model.takeUnretainedValue()
}

/// Resolves an interpreter argument: `.nullArgument`, `.invalidHandle`, or the handle.
@inline(never)
func cInterpreter(_ raw: OpaquePointer?, _ status: inout EEStatus) -> UnsafeMutablePointer<CInterpreterHandle>? {
    guard let raw else { status = .nullArgument; return nil }
    guard let handle = cInterpreterHandle(raw) else { status = .invalidHandle; return nil }
    return handle
}

/// A C `size_t` as a Swift `Int`, saturating (a size above `Int.max` cannot describe real memory).
@inline(__always)
func cSize(_ value: UInt) -> Int { value > UInt(Int.max) ? Int.max : Int(value) }
