// How this binary was built: optimization and the CPU features its kernels use.

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
