// The version of EarlyExit (the runtime, its C API and its tools), one place for all of them.

/// The release version, reported by `early-exit --version` and `ee_version()`; the C header
/// repeats it as `EE_VERSION_MAJOR/MINOR/PATCH` (a test checks that they agree).
public enum EarlyExitVersion {
    public static let major = 0
    public static let minor = 1
    public static let patch = 0
    /// "MAJOR.MINOR.PATCH", NUL-terminated for the C API.
    static let cString: StaticString = "0.1.0\0"
    /// "MAJOR.MINOR.PATCH".
    public static var string: String { "\(major).\(minor).\(patch)" }
    /// `major << 16 | minor << 8 | patch`, as `EE_VERSION_NUMBER`.
    public static var number: UInt32 { UInt32(major) << 16 | UInt32(minor) << 8 | UInt32(patch) }
    /// The C string's start (for the C API's `ee_version()`).
    public static var cStringStart: UnsafeRawPointer { UnsafeRawPointer(cString.utf8Start) }
}
