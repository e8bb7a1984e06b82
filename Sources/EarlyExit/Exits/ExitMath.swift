// The arithmetic of exit decisions: log-softmax, confidence signals, and the eq. 9 combination.

/// Exit signals and the gate-weighted combination, on float rows.
public enum ExitMath {
    /// `// logits (n) -> log-softmax (n)`
    public static func logSoftmax(_ logits: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>, count: Int) {
        var largest = -Float.infinity
        for i in 0..<count { largest = max(largest, logits[i]) }
        var sum: Float = 0
        for i in 0..<count { sum += FloatMath.exp(logits[i] - largest) }
        let shift = largest + FloatMath.log(sum)
        for i in 0..<count { out[i] = logits[i] - shift }
    }

    /// The largest softmax probability of a logit row.
    public static func maxProbability(_ logits: UnsafePointer<Float>, count: Int) -> Float {
        var largest = -Float.infinity
        for i in 0..<count { largest = max(largest, logits[i]) }
        var sum: Float = 0
        for i in 0..<count { sum += FloatMath.exp(logits[i] - largest) }
        return 1 / sum
    }

    /// The entropy (nats) of the softmax of a logit row; `work` holds `count` floats.
    public static func entropy(_ logits: UnsafePointer<Float>, count: Int, work: UnsafeMutablePointer<Float>) -> Float {
        logSoftmax(logits, into: work, count: count)
        var h: Float = 0
        for i in 0..<count { h -= FloatMath.exp(work[i]) * work[i] }
        return h
    }

    /// The value of `signal` for one exit's logit row and gate (0 for `.none`); `work` holds
    /// `count` floats (entropy's scratch).
    public static func signal(_ signal: ExitSignal, logits: UnsafePointer<Float>, gate: Float, count: Int,
                              work: UnsafeMutablePointer<Float>) -> Float {
        switch signal {
        case .none: return 0
        case .gate: return gate
        case .maxProbability: return maxProbability(logits, count: count)
        case .entropy: return entropy(logits, count: count, work: work)
        }
    }

    /// Eq. 9: `Σ_k softmax(c)_k · log_softmax(o_k)` over the first `exitCount` exits.
    /// `logits` holds `exitCount × classCount` rows; `work` holds `classCount` floats.
    public static func combine(logits: UnsafePointer<Float>, gates: UnsafePointer<Float>, exitCount: Int, classCount: Int,
                               into out: UnsafeMutablePointer<Float>, work: UnsafeMutablePointer<Float>) {
        var largest = -Float.infinity
        for k in 0..<exitCount { largest = max(largest, gates[k]) }
        var total: Float = 0
        for k in 0..<exitCount { total += FloatMath.exp(gates[k] - largest) }
        for c in 0..<classCount { out[c] = 0 }
        for k in 0..<exitCount {
            let weight = FloatMath.exp(gates[k] - largest) / total
            logSoftmax(logits + k * classCount, into: work, count: classCount)
            for c in 0..<classCount { out[c] += weight * work[c] }
        }
    }

    /// The index of the largest value; the lowest index wins a tie.
    public static func argmax(_ values: UnsafePointer<Float>, count: Int) -> Int {
        var best = 0
        for i in 1..<max(count, 1) where values[i] > values[best] { best = i }
        return best
    }
}
