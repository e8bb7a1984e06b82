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

    /// The test of a setting: the paired conditional test, or for settings with few discordant
    /// images the worse-only test. Which one is decided before the test images are seen.
    public enum Test: Sendable {
        case paired, worseOnly

        public func pValue(worse: Int, better: Int, n: Int, alpha: Double, gamma: Double) -> Double {
            switch self {
            case .paired: return RiskControl.pValue(worse: worse, better: better, n: n, alpha: alpha, gamma: gamma)
            case .worseOnly: return RiskControl.worseOnlyPValue(worse: worse, n: n, alpha: alpha)
            }
        }
    }

    /// The smallest drop α' (a fraction) whose null `pValue` rejects at `delta`: an upper
    /// confidence bound on the drop at level 1 − delta (1 when none below 1 is rejected).
    public static func dropBound(worse: Int, better: Int, n: Int, delta: Double, gamma: Double, test: Test = .paired) -> Double {
        func rejects(_ alpha: Double) -> Bool { test.pValue(worse: worse, better: better, n: n, alpha: alpha, gamma: gamma) <= delta }
        if rejects(0) { return 0 }
        if !rejects(1) { return 1 }
        var low = 0.0, high = 1.0 // invariant: low not rejected, high rejected (p-values fall as α grows)
        for _ in 0..<50 {
            let middle = (low + high) / 2
            if rejects(middle) { high = middle } else { low = middle }
        }
        return high
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
