// Finite-sample statistics for tune's guaranteed mode: exact binomial tails, a paired p-value
// for "the accuracy drop exceeds α", and fixed-sequence testing (Learn-then-Test).
import Foundation

/// Learn-then-Test (Angelopoulos, Bates, Candès, Jordan, Lei 2021) for the accuracy drop of
/// early exit against the full network, with p-values from exact binomial tails on the
/// discordant pairs.
///
/// Per image, early exit and the full network are either both right, both wrong, or disagree:
/// `worse` counts images the early exit gets wrong and the full network right, `better` the
/// reverse. The drop is R = p_worse − p_better. For a setting, the null hypothesis is R > α.
/// Conditional on the D = worse + better discordant images, worse ~ Binomial(D, q) with
/// q = p_worse / p_D, and R > α means q > 1/2 + α / (2 p_D). p_D is unknown: with probability
/// at least 1 − γ it lies below U, the exact (Clopper–Pearson) upper bound from D of n, and then
/// the null implies q > q₀ = 1/2 + α / (2U). So p = γ + P(Binomial(D, q₀) ≤ worse) is a valid
/// p-value: P(p ≤ u) ≤ u under the null, for every u.
public enum RiskControl {
    /// ln C(n, k).
    static func logChoose(_ n: Int, _ k: Int) -> Double {
        lgamma(Double(n) + 1) - lgamma(Double(k) + 1) - lgamma(Double(n - k) + 1)
    }

    /// P(X ≤ k) for X ~ Binomial(n, p), summed exactly term by term in log space.
    public static func binomialCDF(_ k: Int, n: Int, p: Double) -> Double {
        if k < 0 { return 0 }
        if k >= n { return 1 }
        if p <= 0 { return 1 }
        if p >= 1 { return 0 }
        let logP = log(p), logQ = log1p(-p)
        // Sum from the mode's side downwards in a numerically safe way: largest term first.
        var terms: [Double] = []
        terms.reserveCapacity(k + 1)
        for i in 0...k { terms.append(logChoose(n, i) + Double(i) * logP + Double(n - i) * logQ) }
        let largest = terms.max()!
        var sum = 0.0
        for t in terms { sum += exp(t - largest) }
        return min(1, exp(largest + log(sum)))
    }

    /// The exact one-sided (Clopper–Pearson) upper confidence bound for a binomial proportion:
    /// the p with P(Binomial(n, p) ≤ k) = γ (1 when k = n), so P(true p > bound) ≤ γ.
    public static func upperBound(successes k: Int, trials n: Int, gamma: Double) -> Double {
        if n <= 0 || k >= n { return 1 }
        var low = Double(k) / Double(n), high = 1.0
        for _ in 0..<100 {
            let middle = (low + high) / 2
            if binomialCDF(k, n: n, p: middle) > gamma { low = middle } else { high = middle }
        }
        return high
    }

    /// The p-value of "the drop exceeds `alpha`" (a fraction, 0.003 for 0.3 pp) from `worse` and
    /// `better` among `n` paired images, spending `gamma` of it on the bound of p_D.
    public static func pValue(worse: Int, better: Int, n: Int, alpha: Double, gamma: Double) -> Double {
        let discordant = worse + better
        let bound = upperBound(successes: discordant, trials: n, gamma: gamma)
        // Under the null, p_D ≥ R > α: a bound below α leaves no null with p_D ≤ bound.
        if bound <= alpha { return gamma }
        let q0 = 0.5 + alpha / (2 * bound)
        if q0 >= 1 { return gamma }
        return min(1, gamma + binomialCDF(worse, n: discordant, p: q0))
    }

    /// The p-value of "the drop exceeds `alpha`" from the worse images alone: the drop is at most
    /// p_worse, so the null implies p_worse > α, and few worse images are evidence against it:
    /// p = P(Binomial(n, α) ≤ worse), which P(Binomial(n, p_worse) ≤ worse) cannot exceed under the
    /// null. Strongest for conservative settings with few discordant images.
    public static func worseOnlyPValue(worse: Int, n: Int, alpha: Double) -> Double {
        if alpha <= 0 { return 1 }
        return binomialCDF(worse, n: n, p: min(alpha, 1))
    }

    /// The studentized paired statistic z(w, b) = (αn − (w − b)) / √(w + b + 1): how many standard
    /// errors the observed drop lies below α.
    static func studentized(worse w: Int, better b: Int, n: Int, alpha: Double) -> Double {
        (alpha * Double(n) - Double(w - b)) / (Double(w + b) + 1).squareRoot()
    }

    /// The p-value of "the drop exceeds `alpha`" from an exact unconditional test of the studentized
    /// statistic, with the nuisance p_better bounded by Berger and Boos' method.
    ///
    /// Per image the outcome is worse (probability p_W), better (p_B) or neither, so (W, B) is
    /// trinomial. The statistic is z above, made monotone: T(w, b) = max of z(w', b') over w' ≥ w,
    /// b' ≤ b, so that its rejection region {T ≥ t} is a set closed under fewer worse and more
    /// better images. Under the null p_W ≥ p_B + α. Coupling every image to one uniform draw
    /// (worse below p_W, better above 1 − p_B) shows P(T ≥ t) only grows when p_W falls or p_B
    /// rises, so over the nulls with p_B in a cell [a, c] it is at most its value at p_W = a + α,
    /// p_B = c. The cells cover [0, U], U the exact (Clopper–Pearson) upper bound of p_B from B at
    /// level γ; nulls with p_B above U are paid for by adding γ (Berger and Boos, 1994). So
    /// p = γ + max over cells + the truncated tails, and P(p ≤ u) ≤ u under the null. Unlike the
    /// conditional test above it spends almost nothing on the nuisance: the studentized statistic
    /// is nearly pivotal, so γ can be small (the p-value changes by about γ when γ does).
    public static func studentizedPValue(worse: Int, better: Int, n: Int, alpha: Double, gamma: Double, cells: Int = 100) -> Double {
        guard n > 0, worse >= 0, better >= 0, worse + better <= n, alpha > 0, gamma > 0, cells > 0 else { return 1 }
        if alpha >= 1 { return 0 } // the drop cannot exceed 100%: no null to reject
        // The observed statistic: z decreases in w where it is positive, so T(W, B) is the largest
        // z(W, b') over b' ≤ B.
        var observed = -Double.infinity
        for b in 0...better { observed = max(observed, studentized(worse: worse, better: b, n: n, alpha: alpha)) }
        guard observed > 0 else { return 1 }
        let upper = min(upperBound(successes: better, trials: n, gamma: gamma), (1 - alpha) / 2)
        // Where the probability mass can lie; what lies beyond is added as binomial tails.
        func reach(_ p: Double) -> Int {
            let mean = Double(n) * p
            return min(n, Int(mean + 12 * (mean * (1 - p)).squareRoot() + 30))
        }
        let pWorseMax = min(alpha + upper, 1), wMax = reach(pWorseMax), bMax = reach(upper)
        let tails = max(0, 1 - binomialCDF(wMax, n: n, p: pWorseMax)) + max(0, 1 - binomialCDF(bMax, n: n, p: upper))
        // The region {T ≥ observed}: for each w, every b from first[w] up (first[w] > bMax: none).
        // For t > 0 the b with z(w, b) ≥ t for w + 1 are among those for w, so first[] never falls
        // and one scan finds it for every w.
        var first = [Int](repeating: bMax + 1, count: wMax + 1)
        var b = 0
        for w in 0...wMax {
            while b <= min(bMax, n - w), studentized(worse: w, better: b, n: n, alpha: alpha) < observed { b += 1 }
            if b > min(bMax, n - w) { break }
            first[w] = b
        }
        var logFactorial = [Double](repeating: 0, count: n + 1)
        for i in stride(from: 2, through: n, by: 1) { logFactorial[i] = logFactorial[i - 1] + log(Double(i)) }
        func logChoose(_ n: Int, _ k: Int) -> Double { logFactorial[n] - logFactorial[k] - logFactorial[n - k] }
        var largest = 0.0
        for cell in 0..<cells {
            let pWorse = alpha + upper * Double(cell) / Double(cells), pBetter = upper * Double(cell + 1) / Double(cells)
            let logWorse = log(pWorse), logNotWorse = log1p(-pWorse)
            let conditional = pBetter / (1 - pWorse) // P(better | not worse)
            let logBetter = log(conditional), logNeither = log1p(-conditional), ratio = conditional / (1 - conditional)
            var total = 0.0
            for w in 0...wMax where first[w] <= bMax {
                let m = n - w
                let weight = exp(logChoose(n, w) + Double(w) * logWorse + Double(m) * logNotWorse)
                if weight < 1e-300 { continue }
                // P(B ≥ first[w] | W = w), B | w ~ Binomial(m, conditional), by the pmf recurrence.
                let start = first[w]
                var term = exp(logChoose(m, start) + Double(start) * logBetter + Double(m - start) * logNeither)
                var sum = term
                var k = start
                while k < min(bMax, m) {
                    term *= Double(m - k) / Double(k + 1) * ratio
                    k += 1
                    sum += term
                    if term < sum * 1e-17, Double(k) > Double(m) * conditional { break }
                }
                total += weight * sum
            }
            largest = max(largest, total)
        }
        return min(1, gamma + largest + tails)
    }

    /// The test of a setting: the studentized unconditional test, the paired conditional test, or
    /// for settings with few discordant images the worse-only test. Which one is decided before the
    /// test images are seen.
    public enum Test: Sendable {
        case studentized, paired, worseOnly

        public func pValue(worse: Int, better: Int, n: Int, alpha: Double, gamma: Double) -> Double {
            switch self {
            case .studentized: return RiskControl.studentizedPValue(worse: worse, better: better, n: n, alpha: alpha, gamma: gamma)
            case .paired: return RiskControl.pValue(worse: worse, better: better, n: n, alpha: alpha, gamma: gamma)
            case .worseOnly: return RiskControl.worseOnlyPValue(worse: worse, n: n, alpha: alpha)
            }
        }
    }

    /// An upper confidence bound on the drop at level 1 − delta: every α' the test does not reject
    /// at `delta` lies below it (1 when one near 1 is not rejected). The true drop is not rejected
    /// with probability at least 1 − delta, so the largest α' not rejected bounds it.
    ///
    /// The studentized p-value is not monotone in α (the statistic and the nulls both move), so a
    /// bisection could stop below an α' that is not rejected. Instead the α' are scanned down from
    /// one that is rejected, in steps of `step`, to the first that is not; the bound is the grid
    /// point above it (rounded up to the grid, so it errs high). For the monotone tests the
    /// result is the same as a bisection's, rounded up to the grid.
    public static func dropBound(worse: Int, better: Int, n: Int, delta: Double, gamma: Double, test: Test = .paired,
                                 step: Double = 0.000_05) -> Double {
        func rejects(_ alpha: Double) -> Bool { test.pValue(worse: worse, better: better, n: n, alpha: alpha, gamma: gamma) <= delta }
        guard n > 0 else { return 1 }
        // Start well above the observed drop and its noise, then go higher until rejected.
        let observed = Double(worse - better) / Double(n)
        var top = max(observed, 0) + 12 * (Double(worse + better) + 1).squareRoot() / Double(n) + 0.001
        while !rejects(top) {
            if top >= 1 { return 1 }
            top = min(1, top * 2)
        }
        var alpha = (top / step).rounded(.up) * step
        while alpha > 0 {
            let next = alpha - step
            if next <= 0 { return rejects(0) ? 0 : alpha }
            if !rejects(next) { return alpha }
            alpha = next
        }
        return 0
    }

    /// Fixed-sequence testing: tests the hypotheses in the given order, each at level `delta`,
    /// and stops at the first it cannot reject. Returns how many were rejected (a prefix) and how
    /// many were tested. The family-wise error is at most `delta` when the order is fixed before
    /// the p-values' data are seen.
    public static func fixedSequence(_ pValues: some Sequence<Double>, delta: Double) -> (rejected: Int, tested: Int) {
        var rejected = 0, tested = 0
        for p in pValues {
            tested += 1
            if p > delta { break }
            rejected += 1
        }
        return (rejected, tested)
    }
}
