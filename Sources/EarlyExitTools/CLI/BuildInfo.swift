// How this binary was built (optimization, the CPU features its kernels use) and its version.
import EarlyExit

/// A description of the build, printed by every benchmark.
public enum BuildInfo {
    public static var description: String {
        #if DEBUG
        let mode = "debug"
        #else
        let mode = "release"
        #endif
        #if EARLYEXIT_TARGET_CPU_SET
        let cpu = "CPU-specific (EARLYEXIT_TARGET_CPU), fused multiply-add"
        #elseif arch(arm64)
        let cpu = "baseline arm64 (NEON, fused multiply-add)"
        #elseif arch(x86_64)
        let cpu = "baseline x86-64 (SSE2, no FMA); set EARLYEXIT_TARGET_CPU for AVX2/AVX-512"
        #else
        let cpu = "baseline"
        #endif
        return "\(mode), \(cpu)"
    }
}

/// What `early-exit --version` prints: the tool's version, the `.eem` format versions it reads
/// and writes, and how the binary was built.
public enum VersionInfo {
    public static var lines: [String] {
        let lines = [
            "early-exit \(EarlyExitVersion.string) (runtime and C API \(EarlyExitVersion.string))",
            ".eem format: reads version \(EEMFormat.versionMajor).x (any minor version), writes \(EEMFormat.versionMajor).\(EEMFormat.versionMinor)",
            "build: \(BuildInfo.description)",
        ]
        // KERNELS LINE — the one place for it. When the core selects its kernels at run time
        // (a `KernelSet`, issue 13), add the set selected on this machine here (make `lines` a var), e.g.
        //     lines.append("kernels: \(KernelSet.selected.description)")
        // Until then nothing is printed: the build line above says what the kernels were compiled for.
        return lines
    }

    public static var text: String { lines.joined(separator: "\n") }
}
