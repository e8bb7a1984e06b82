// The persistent region at the start of every arena: per-exit results and the scores.

/// The typed rows the interpreter keeps at the start of its arena across a run: each
/// evaluated exit's logits and gate (copied when the exit is evaluated, so later operators
/// may reuse their buffers), the result scores, and one working row. int8 models store Int32
/// values in the same 4-byte slots.
struct ArenaLayout {
    /// `[exits][classes]` logits.
    let exitLogits: UnsafeMutablePointer<Float>
    /// `[exits]` gates.
    let exitGates: UnsafeMutablePointer<Float>
    /// `[classes]` scores of the run.
    let scores: UnsafeMutablePointer<Float>
    /// `[classes]` working row (log-probabilities while combining).
    let work: UnsafeMutablePointer<Float>

    /// Bytes of the persistent region for a model with these exits and classes.
    static func byteCount(exitCount: Int, classCount: Int) -> Int {
        ArenaPlan.roundUp((exitCount * classCount + exitCount + 2 * classCount) * 4)
    }

    init(arena: UnsafeMutableRawPointer, exitCount: Int, classCount: Int) {
        let floats = arena.bindMemory(to: Float.self, capacity: ArenaLayout.byteCount(exitCount: exitCount, classCount: classCount) / 4)
        exitLogits = floats
        exitGates = exitLogits + exitCount * classCount
        scores = exitGates + exitCount
        work = scores + classCount
    }
}
