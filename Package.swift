// swift-tools-version:6.0
// EarlyExit: an early-exiting runtime for attention-augmented CNNs. No package dependencies.
import PackageDescription
import Foundation

// One build runs on any x86-64 or arm64 CPU and picks its kernels at run time (KernelSet):
// the float32 kernel bodies (Sources/EarlyExit/Kernels/Generic) are compiled once per
// instruction set by thin modules that set their own -target-cpu (Kernels/AVX2, Kernels/AVX512;
// x86-64 only), and the core calls a module only on a CPU that has its instructions.
// EARLYEXIT_TARGET_CPU (for example `haswell`) still compiles the whole core for one CPU, for
// users who want a single-ISA build; nobody needs it for speed.
let targetCPU = ProcessInfo.processInfo.environment["EARLYEXIT_TARGET_CPU"] ?? ""
var coreSettings: [SwiftSetting] = []
if !targetCPU.isEmpty {
    coreSettings.append(.unsafeFlags(["-target-cpu", targetCPU, "-DEARLYEXIT_FMA"]))
    coreSettings.append(.define("EARLYEXIT_TARGET_CPU_SET"))
}

// The core and its kernels are compiled with optimization in debug builds too: kernels run
// 50-100x slower unoptimized, and the test suite (debug by default: `swift test`) runs the
// bundled models on a thousand images. Overflow and bounds checks stay on (-O, not -Ounchecked).
var coreOnlySettings = coreSettings
coreOnlySettings.append(.unsafeFlags(["-O"], .when(configuration: .debug)))

/// Settings of a per-ISA kernel module: its -target-cpu on x86-64 hosts (elsewhere the module's
/// sources compile to nothing), optimized in debug builds too.
func instructionSetSettings(_ cpu: String) -> [SwiftSetting] {
    #if arch(x86_64)
    return [.unsafeFlags(["-target-cpu", cpu]), .unsafeFlags(["-O"], .when(configuration: .debug))]
    #else
    return [.unsafeFlags(["-O"], .when(configuration: .debug))]
    #endif
}

let package = Package(
    name: "EarlyExit",
    products: [
        .library(name: "EarlyExit", targets: ["EarlyExit"]),
        .library(name: "EarlyExitTools", targets: ["EarlyExitTools"]),
        .executable(name: "early-exit", targets: ["early-exit"]),
    ],
    targets: [
        // CPU feature detection and other platform services the Swift core cannot express (C).
        .target(name: "EarlyExitPlatform"),
        // int8 microkernels in C: the instructions Swift cannot emit (VNNI, 256-bit vpmaddwd),
        // each function behind its own target attribute; optimized in debug builds too.
        .target(name: "EarlyExitNativeKernels", path: "Sources/EarlyExit/Kernels/Native",
                cSettings: [.unsafeFlags(["-O2"])]),
        // float32 kernel bodies, generic over the vector arithmetic (imports nothing).
        .target(name: "EarlyExitKernels", path: "Sources/EarlyExit/Kernels/Generic", swiftSettings: coreOnlySettings),
        .target(name: "EarlyExitKernelsAVX2", dependencies: ["EarlyExitKernels"], path: "Sources/EarlyExit/Kernels/AVX2",
                swiftSettings: instructionSetSettings("haswell")),
        .target(name: "EarlyExitKernelsAVX512", dependencies: ["EarlyExitKernels"], path: "Sources/EarlyExit/Kernels/AVX512",
                swiftSettings: instructionSetSettings("skylake-avx512")),
        // The core: imports only the package's own kernel and platform targets; compiles in Embedded Swift mode.
        .target(name: "EarlyExit",
                dependencies: ["EarlyExitPlatform", "EarlyExitNativeKernels", "EarlyExitKernels", "EarlyExitKernelsAVX2",
                               "EarlyExitKernelsAVX512"],
                exclude: ["Kernels/Generic", "Kernels/AVX2", "Kernels/AVX512", "Kernels/Native"], swiftSettings: coreOnlySettings),
        .target(name: "EarlyExitC", dependencies: ["EarlyExit", "EarlyExitPlatform"]),
        // Counts heap allocations (glibc interposition) so tests and `bench` can prove `run` allocates nothing.
        .target(name: "CAllocationCounter"),
        // Host-side tools: ONNX reader and lowering, .eem writer, datasets, tuner, reports.
        .target(name: "EarlyExitTools", dependencies: ["EarlyExit", "CAllocationCounter"], swiftSettings: coreSettings),
        .executableTarget(name: "early-exit", dependencies: ["EarlyExit", "EarlyExitTools", "CAllocationCounter"]),
        // The multiply-accumulate peak loops of EarlyExitBenchmarks --peak (C, per-function targets).
        .target(name: "EarlyExitPeak", path: "Benchmarks/EarlyExitPeak", cSettings: [.unsafeFlags(["-O2"])]),
        .executableTarget(
            name: "EarlyExitBenchmarks",
            dependencies: ["EarlyExit", "EarlyExitTools", "CAllocationCounter", "EarlyExitPeak"],
            path: "Benchmarks/EarlyExitBenchmarks", swiftSettings: coreSettings),
        // Resampling experiment for tune's guarantee (Benchmarks/tuning-experiment.sh).
        .executableTarget(
            name: "TuningExperiment", dependencies: ["EarlyExit", "EarlyExitTools"],
            path: "Benchmarks/TuningExperiment", swiftSettings: coreSettings),
        .testTarget(name: "EarlyExitTests", dependencies: ["EarlyExit", "EarlyExitTools", "CAllocationCounter", "EarlyExitC"]),
        .testTarget(
            name: "EarlyExitToolsTests", dependencies: ["EarlyExit", "EarlyExitTools"],
            resources: [.copy("Fixtures")]),
    ]
)
