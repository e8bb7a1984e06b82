// How this binary was built (optimization, the CPU features its kernels use) and its version.
import EarlyExit
import Foundation

/// A description of the build, printed by every benchmark.
public enum BuildInfo {
    public static var description: String {
        #if DEBUG
        let mode = "debug"
        #else
        let mode = "release"
        #endif
        #if EARLYEXIT_TARGET_CPU_SET
        let cpu = "core compiled for one CPU (EARLYEXIT_TARGET_CPU), fused multiply-add"
        #elseif arch(arm64)
        let cpu = "baseline arm64 (NEON), kernels chosen at run time"
        #elseif arch(x86_64)
        let cpu = "baseline x86-64 (SSE2), kernels chosen at run time (AVX2/AVX-512 where the CPU has them)"
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
        var lines = [
            "early-exit \(EarlyExitVersion.string) (runtime and C API \(EarlyExitVersion.string))",
            ".eem format: reads version \(EEMFormat.versionMajor).x (any minor version), writes \(EEMFormat.versionMajor).\(EEMFormat.versionMinor)",
            "build: \(BuildInfo.description)",
        ]
        // The kernels line: the set this machine runs (EARLYEXIT_KERNELS overrides the detection).
        lines.append(kernelsLine)
        return lines
    }

    /// "kernels: NAME: what it runs (detected); this CPU supports: ...", or why
    /// EARLYEXIT_KERNELS is refused.
    static var kernelsLine: String {
        do {
            let selected = try KernelSet.selected()
            let override = ProcessInfo.processInfo.environment["EARLYEXIT_KERNELS"].flatMap { $0.isEmpty || $0 == "auto" ? nil : $0 }
            let supported = KernelSet.supported.map(\.name).joined(separator: ", ")
            return "kernels: \(selected.description) (\(override.map { "EARLYEXIT_KERNELS=\($0)" } ?? "detected")); this CPU supports: \(supported)"
        } catch {
            return "kernels: \(error)"
        }
    }

    public static var text: String { lines.joined(separator: "\n") }
}
