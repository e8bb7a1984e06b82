// Which microkernels run: chosen once from the CPU's features, or forced by name.

import EarlyExitPlatform

/// The microkernels a model is prepared for and run with: one path for float32, one for int8.
///
/// `KernelSet.detected` is the best the CPU offers; `EARLYEXIT_KERNELS=<name>` (read by
/// `KernelSet.selected()`), `Model(bytes:kernels:)` and the CLI's `--kernels` force another set
/// the CPU supports, so that tests and benchmarks can run each path. Names: `sse2`, `avx2`,
/// `avx2-vnni`, `avx512f` (AVX-512 without VNNI: int8 on AVX2), `avx512` (x86-64); `neon`, `neon-dotprod` (arm64); `portable` elsewhere.
public struct KernelSet: Equatable, Sendable, CustomStringConvertible {
    /// float32 kernels: the vector width and multiply-add they are compiled for.
    public enum Float32Path: UInt8, Sendable {
        /// 4-float vectors: SSE2 (`mulps` + `addps`) on x86-64, NEON (`fmla`) on arm64, scalar elsewhere.
        case portable
        /// 8-float ymm vectors with FMA.
        case avx2
        /// 16-float zmm vectors with FMA.
        case avx512
    }

    /// int8 kernels: the integer dot-product instruction of the convolutions' inner loop.
    public enum Int8Path: UInt8, Sendable {
        /// `pmaddwd` on 128 bits (SSE2), or NEON multiply-accumulate.
        case portable
        /// `vpmaddwd` on ymm.
        case avx2
        /// AVX-VNNI `vpdpbusd` on ymm.
        case avxVNNI
        /// AVX-512 VNNI `vpdpbusd` on zmm.
        case avx512VNNI
        /// Armv8.2 `sdot`.
        case neonDotProduct
    }

    /// The sets this build knows; the name and `isSupported` follow from it.
    enum Identity: UInt8, Sendable {
        case avx512, avx512f, avx2VNNI, avx2, sse2, neonDotProduct, neon, portable
    }

    let identity: Identity
    public let float32: Float32Path
    public let int8: Int8Path
    /// False when 3×3 convolutions must run directly instead of with Winograd F(2×2, 3×3)
    /// (the `-direct` suffix of a name: for measuring the two against each other).
    public let winograd: Bool

    init(_ identity: Identity, float32: Float32Path, int8: Int8Path, winograd: Bool = true) {
        self.identity = identity
        self.float32 = float32
        self.int8 = int8
        self.winograd = winograd
    }

    /// The set's name, as `EARLYEXIT_KERNELS` and `--kernels` take it.
    public var name: String {
        let base: String
        switch identity {
        case .avx512: base = "avx512"
        case .avx512f: base = "avx512f"
        case .avx2VNNI: base = "avx2-vnni"
        case .avx2: base = "avx2"
        case .sse2: base = "sse2"
        case .neonDotProduct: base = "neon-dotprod"
        case .neon: base = "neon"
        case .portable: base = "portable"
        }
        return winograd ? base : base + "-direct"
    }

    /// `name` as a static NUL-terminated string (for the C API).
    public var cName: StaticString {
        switch (identity, winograd) {
        case (.avx512, true): return "avx512"
        case (.avx512, false): return "avx512-direct"
        case (.avx512f, true): return "avx512f"
        case (.avx512f, false): return "avx512f-direct"
        case (.avx2VNNI, true): return "avx2-vnni"
        case (.avx2VNNI, false): return "avx2-vnni-direct"
        case (.avx2, true): return "avx2"
        case (.avx2, false): return "avx2-direct"
        case (.sse2, true): return "sse2"
        case (.sse2, false): return "sse2-direct"
        case (.neonDotProduct, true): return "neon-dotprod"
        case (.neonDotProduct, false): return "neon-dotprod-direct"
        case (.neon, true): return "neon"
        case (.neon, false): return "neon-direct"
        case (.portable, true): return "portable"
        case (.portable, false): return "portable-direct"
        }
    }

    /// Every set this build knows, best first on each architecture.
    public static let all: [KernelSet] = [
        KernelSet(.avx512, float32: .avx512, int8: .avx512VNNI),
        KernelSet(.avx512f, float32: .avx512, int8: .avx2),
        KernelSet(.avx2VNNI, float32: .avx2, int8: .avxVNNI),
        KernelSet(.avx2, float32: .avx2, int8: .avx2),
        KernelSet(.sse2, float32: .portable, int8: .portable),
        KernelSet(.neonDotProduct, float32: .portable, int8: .neonDotProduct),
        KernelSet(.neon, float32: .portable, int8: .portable),
        KernelSet(.portable, float32: .portable, int8: .portable),
    ]

    /// The set with this name (a known name, optionally followed by `-direct`), whether or not
    /// this CPU supports it. Names are compared byte by byte.
    public static func named(_ name: String) -> KernelSet? {
        let bytes = Array(name.utf8)
        let suffix = Array("-direct".utf8)
        var base = bytes
        var direct = false
        if bytes.count > suffix.count && Array(bytes[(bytes.count - suffix.count)...]) == suffix {
            base = Array(bytes[..<(bytes.count - suffix.count)])
            direct = true
        }
        for set in all where Array(set.name.utf8) == base {
            return KernelSet(set.identity, float32: set.float32, int8: set.int8, winograd: !direct)
        }
        return nil
    }

    /// True when this CPU (and this build's architecture) can run every kernel of the set.
    public var isSupported: Bool {
        let features = ee_cpu_features()
        func has(_ bit: UInt32) -> Bool { features & bit == bit }
        #if arch(x86_64)
        switch identity {
        case .avx512: return has(UInt32(EE_CPU_X86_AVX512)) && has(UInt32(EE_CPU_X86_AVX512_VNNI))
        case .avx512f: return has(UInt32(EE_CPU_X86_AVX512))
        case .avx2VNNI: return has(UInt32(EE_CPU_X86_AVX2_FMA)) && has(UInt32(EE_CPU_X86_AVX_VNNI))
        case .avx2: return has(UInt32(EE_CPU_X86_AVX2_FMA))
        case .sse2: return true
        default: return false
        }
        #elseif arch(arm64)
        switch identity {
        case .neonDotProduct: return has(UInt32(EE_CPU_ARM_DOTPROD))
        case .neon: return true
        default: return false
        }
        #else
        return identity == .portable
        #endif
    }

    /// Every set this CPU supports, best first.
    public static var supported: [KernelSet] { all.filter { $0.isSupported } }

    /// The best set this CPU supports.
    public static var detected: KernelSet { supported.first ?? KernelSet(.portable, float32: .portable, int8: .portable) }

    /// The set named by the environment variable `EARLYEXIT_KERNELS` when it is set (an error
    /// when the name is unknown or this CPU lacks it), else `detected`.
    public static func selected() throws(ModelError) -> KernelSet {
        guard let raw = ee_cpu_kernel_override() else { return detected }
        let name = String(cString: raw)
        if name.isEmpty || Array(name.utf8) == Array("auto".utf8) { return detected }
        do {
            return try require(name)
        } catch {
            // Say where the name came from: the model and the arguments are not at fault.
            guard case let .unsupportedKernels(_, reason) = error else { throw error }
            throw .unsupportedKernels(name: name, reason: reason + " (the name comes from the environment variable EARLYEXIT_KERNELS; unset it or set it to auto to use the best set)")
        }
    }

    /// The set with this name; an error naming the sets this CPU supports when it is unknown
    /// or unsupported.
    public static func require(_ name: String) throws(ModelError) -> KernelSet {
        var choices = ""
        for set in supported { choices += (choices.isEmpty ? "" : ", ") + set.name }
        guard let set = named(name) else {
            throw .unsupportedKernels(name: name, reason: "unknown kernel set; this CPU supports: \(choices)")
        }
        if !set.isSupported {
            throw .unsupportedKernels(name: name, reason: "this CPU lacks its instructions; it supports: \(choices)")
        }
        return set
    }

    /// What the set runs, for `info`, `bench` and `--version`.
    public var description: String {
        let float: String
        switch float32 {
        case .portable:
            #if arch(x86_64)
            float = "SSE2 (4-float vectors, mul+add)"
            #elseif arch(arm64)
            float = "NEON (4-float vectors, fmla)"
            #else
            float = "portable 4-float vectors"
            #endif
        case .avx2: float = "AVX2 (8-float ymm, FMA)"
        case .avx512: float = "AVX-512 (16-float zmm, FMA)"
        }
        let integer: String
        switch int8 {
        case .portable:
            #if arch(x86_64)
            integer = "SSE2 pmaddwd"
            #elseif arch(arm64)
            integer = "NEON smlal"
            #else
            integer = "portable"
            #endif
        case .avx2: integer = "AVX2 vpmaddwd"
        case .avxVNNI: integer = "AVX-VNNI vpdpbusd (ymm)"
        case .avx512VNNI: integer = "AVX-512 VNNI vpdpbusd (zmm)"
        case .neonDotProduct: integer = "NEON sdot"
        }
        return "\(name): float32 \(float)\(winograd ? ", Winograd F(2x2,3x3) for 3x3" : ", direct 3x3"), int8 \(integer)"
    }
}
