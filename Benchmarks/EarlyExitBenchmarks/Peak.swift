// The core's measured multiply-accumulate peak per instruction the kernels use: the yardstick
// the per-convolution GMAC/s of --layers is read against.
import EarlyExit
import EarlyExitPeak
import Foundation

struct PeakResult {
    var name: String
    /// Multiply-accumulates per second, in billions: the best of five timed runs (thread CPU).
    var gmacs: Double
    var note: String
}

/// Runs each peak loop this CPU can execute for about 0.1 s, five times, and keeps the best.
func measurePeaks() -> [PeakResult] {
    let names = Set(KernelSet.supported.map(\.name))
    var loops: [(String, Double, Bool, String, (Int64) -> Void)] = []
    #if arch(x86_64)
    loops.append(("float32 zmm FMA (vfmadd231ps)", 12 * 16, names.contains("avx512f") || names.contains("avx512"), "avx512 float32",
                  { _ = ee_peak_fma_zmm($0) }))
    loops.append(("float32 ymm FMA (vfmadd231ps)", 12 * 8, names.contains("avx2"), "avx2 float32", { _ = ee_peak_fma_ymm($0) }))
    loops.append(("float32 xmm mulps+addps (SSE2)", 12 * 4, true, "sse2 float32", { _ = ee_peak_mul_add_xmm($0) }))
    loops.append(("int8 zmm vpdpbusd (AVX-512 VNNI)", 12 * 64, names.contains("avx512"), "avx512 int8", { _ = ee_peak_vnni_zmm($0) }))
    loops.append(("int8 ymm vpdpbusd (AVX-VNNI)", 12 * 32, names.contains("avx2-vnni"), "avx2-vnni int8", { _ = ee_peak_vnni_ymm($0) }))
    loops.append(("int16 ymm vpmaddwd+vpaddd (AVX2)", 12 * 16, names.contains("avx2"), "avx2 int8", { _ = ee_peak_madd_ymm($0) }))
    #elseif arch(arm64)
    loops.append(("float32 NEON fmla", 12 * 4, true, "neon float32", { _ = ee_peak_fmla_neon($0) }))
    loops.append(("int8 NEON sdot", 12 * 16, names.contains("neon-dotprod"), "neon-dotprod int8", { _ = ee_peak_sdot_neon($0) }))
    #endif
    var results: [PeakResult] = []
    for (name, macsPerRound, available, note, body) in loops where available {
        var rounds: Int64 = 1_000_000
        while true {
            let start = threadCPUTime()
            body(rounds)
            if Double(threadCPUTime() - start) > 5e7 || rounds > 1 << 40 { break }
            rounds *= 2
        }
        var best = 0.0
        for _ in 0..<5 {
            let start = threadCPUTime()
            body(rounds)
            let seconds = Double(threadCPUTime() - start) / 1e9
            best = max(best, Double(rounds) * macsPerRound / seconds / 1e9)
        }
        results.append(PeakResult(name: name, gmacs: best, note: note))
    }
    return results
}

func printPeaks(_ results: [PeakResult]) {
    print("peak multiply-accumulate throughput of this core (12 independent chains, best of 5, thread CPU time)")
    for r in results {
        print("\(padded(r.name, 36)) \(padded(fixed(r.gmacs, 1), 8, right: true)) GMAC/s   (the \(r.note) kernels' ceiling)")
    }
    print("")
}
