// swift-tools-version:6.0
// EarlyExit: an early-exiting runtime for attention-augmented CNNs. No package dependencies.
import PackageDescription
import Foundation

// CPU feature selection is deliberate and explicit: the default build is portable
// (baseline x86-64 / baseline arm64). Set EARLYEXIT_TARGET_CPU (for example
// `haswell` or `skylake-avx512`) to compile for a specific CPU; the kernels then
// use fused multiply-add, and every benchmark prints which setting it was built with.
let targetCPU = ProcessInfo.processInfo.environment["EARLYEXIT_TARGET_CPU"] ?? ""
var coreSettings: [SwiftSetting] = []
if !targetCPU.isEmpty {
    coreSettings.append(.unsafeFlags(["-target-cpu", targetCPU, "-DEARLYEXIT_FMA"]))
    coreSettings.append(.define("EARLYEXIT_TARGET_CPU_SET"))
}

// The core is compiled with optimization in debug builds too: its kernels run 50-100x slower
// unoptimized, and the test suite (debug by default: `swift test`) runs the bundled models on
// a thousand images. Overflow and bounds checks stay on (-O, not -Ounchecked).
var coreOnlySettings = coreSettings
coreOnlySettings.append(.unsafeFlags(["-O"], .when(configuration: .debug)))

let package = Package(
    name: "EarlyExit",
    products: [
        .library(name: "EarlyExit", targets: ["EarlyExit"]),
        .library(name: "EarlyExitTools", targets: ["EarlyExitTools"]),
        .executable(name: "early-exit", targets: ["early-exit"]),
    ],
    targets: [
        // The core: imports nothing, compiles in Embedded Swift mode.
        .target(name: "EarlyExit", swiftSettings: coreOnlySettings),
        .target(name: "EarlyExitC", dependencies: ["EarlyExit"]),
        // Counts heap allocations (glibc interposition) so tests and `bench` can prove `run` allocates nothing.
        .target(name: "CAllocationCounter"),
        // Host-side tools: ONNX reader and lowering, .eem writer, datasets, tuner, reports.
        .target(name: "EarlyExitTools", dependencies: ["EarlyExit", "CAllocationCounter"], swiftSettings: coreSettings),
        .executableTarget(name: "early-exit", dependencies: ["EarlyExit", "EarlyExitTools", "CAllocationCounter"]),
        .executableTarget(
            name: "EarlyExitBenchmarks",
            dependencies: ["EarlyExit", "EarlyExitTools", "CAllocationCounter"],
            path: "Benchmarks/EarlyExitBenchmarks", swiftSettings: coreSettings),
        .testTarget(name: "EarlyExitTests", dependencies: ["EarlyExit", "EarlyExitTools", "CAllocationCounter", "EarlyExitC"]),
        .testTarget(
            name: "EarlyExitToolsTests", dependencies: ["EarlyExit", "EarlyExitTools"],
            resources: [.copy("Fixtures")]),
    ]
)
