// The statistics of tune's guaranteed mode against SciPy's binomial and beta functions
// (Fixtures/risk/make_risk_reference.py and make_studentized_reference.py printed these values),
// their validity under the null by simulation, and fixed-sequence testing by hand.
import XCTest
@testable import EarlyExitTools

final class RiskControlTests: XCTestCase {
    func testBinomialCDFMatchesSciPy() {
        let cases: [(Int, Int, Double, Double)] = [
            (0, 10, 0.3, 0.028247524900000005), (3, 10, 0.3, 0.6496107184000002), (9, 10, 0.3, 0.9999940951),
            (5, 3500, 0.003, 0.05013885518008765), (10, 3500, 0.003, 0.5206453064793143),
            (93, 185, 0.5347, 0.21205409826664157), (40, 100, 0.5, 0.028443966820490444),
            (120, 250, 0.55, 0.015538470122810701), (1, 4, 0.93, 0.0012999699999999973),
        ]
        for (k, n, p, expected) in cases {
            XCTAssertEqual(RiskControl.binomialCDF(k, n: n, p: p), expected, accuracy: expected * 1e-9, "P(Bin(\(n), \(p)) ≤ \(k))")
        }
        // By hand: P(Bin(2, 1/2) ≤ 1) = 3/4; the edges.
        XCTAssertEqual(RiskControl.binomialCDF(1, n: 2, p: 0.5), 0.75, accuracy: 1e-15)
        XCTAssertEqual(RiskControl.binomialCDF(-1, n: 5, p: 0.5), 0)
        XCTAssertEqual(RiskControl.binomialCDF(5, n: 5, p: 0.5), 1)
    }

    func testClopperPearsonUpperBoundMatchesSciPy() {
        let cases: [(Int, Int, Double, Double)] = [
            (0, 3500, 0.01, 0.001314897673787909), (4, 3500, 0.01, 0.003312006984422616),
            (185, 5000, 0.01, 0.043686994446078556), (60, 2500, 0.05, 0.02966988725951928), (10, 20, 0.1, 0.6618290966103435),
        ]
        for (k, n, gamma, expected) in cases {
            XCTAssertEqual(RiskControl.upperBound(successes: k, trials: n, gamma: gamma), expected, accuracy: expected * 1e-7, "\(k) of \(n)")
        }
        // By hand: 0 of n gives 1 − γ^(1/n).
        XCTAssertEqual(RiskControl.upperBound(successes: 0, trials: 100, gamma: 0.05), 1 - pow(0.05, 0.01), accuracy: 1e-10)
    }

    func testPairedPValueMatchesSciPy() {
        let cases: [(Int, Int, Int, Double, Double, Double)] = [
            (93, 92, 5000, 0.003, 0.01, 0.22495612442387652), (60, 75, 3500, 0.003, 0.01, 0.03549610266394667),
            (11, 6, 3500, 0.003, 0.01, 0.4868696073206218), (30, 45, 2500, 0.005, 0.02, 0.022785632289877834),
            (0, 0, 3500, 0.003, 0.01, 0.01),
        ]
        for (worse, better, n, alpha, gamma, expected) in cases {
            XCTAssertEqual(RiskControl.pValue(worse: worse, better: better, n: n, alpha: alpha, gamma: gamma), expected,
                           accuracy: 1e-6, "W \(worse) B \(better) n \(n)")
        }
        let worseOnly: [(Int, Int, Double, Double)] = [
            (1, 3500, 0.003, 0.000312567244275763), (4, 3500, 0.003, 0.020957720497992504), (20, 5000, 0.003, 0.917343048985795),
        ]
        for (worse, n, alpha, expected) in worseOnly {
            XCTAssertEqual(RiskControl.worseOnlyPValue(worse: worse, n: n, alpha: alpha), expected, accuracy: expected * 1e-9)
        }
    }

    /// The studentized unconditional test against a brute-force SciPy computation of the same
    /// definition (Fixtures/risk/make_studentized_reference.py): the closure by 2-D running maxima,
    /// every cell as a full sum of trinomial probabilities.
    func testStudentizedPValueMatchesBruteForce() {
        let cases: [(Int, Int, Int, Double, Double, Double)] = [
            (5, 2, 2500, 0.003, 0.001, 0.08692591847179307), (3, 0, 2500, 0.003, 0.001, 0.059886747930669004),
            (0, 0, 2500, 0.003, 0.001, 0.00154688470717547), (10, 5, 5000, 0.003, 0.001, 0.022292767867940627),
            (15, 8, 5000, 0.003, 0.001, 0.08024584278317894), (20, 15, 5000, 0.003, 0.001, 0.08387164558442667),
            (60, 75, 3500, 0.003, 0.001, 0.056204273428641274), (6, 1, 2500, 0.003, 0.01, 0.2610282191082001),
            (2, 9, 1000, 0.005, 0.001, 0.007653973600501614), (12, 3, 2500, 0.003, 0.001, 1.0),
        ]
        for (worse, better, n, alpha, gamma, expected) in cases {
            XCTAssertEqual(RiskControl.studentizedPValue(worse: worse, better: better, n: n, alpha: alpha, gamma: gamma), expected,
                           accuracy: 1e-9, "W \(worse) B \(better) n \(n)")
        }
        // Where the conditional test spends its level on bounding the discordant rate, the
        // studentized one does not: 10 worse and 5 better of 5,000 images (a drop of 0.1 pp).
        XCTAssertGreaterThan(RiskControl.pValue(worse: 10, better: 5, n: 5000, alpha: 0.003, gamma: 0.01), 0.2)
        XCTAssertLessThan(RiskControl.studentizedPValue(worse: 10, better: 5, n: 5000, alpha: 0.003, gamma: 0.001), 0.03)
        // No null to reject when the drop would have to exceed 100%; bad counts give 1.
        XCTAssertEqual(RiskControl.studentizedPValue(worse: 3, better: 1, n: 100, alpha: 1, gamma: 0.001), 0)
        XCTAssertEqual(RiskControl.studentizedPValue(worse: 60, better: 50, n: 100, alpha: 0.003, gamma: 0.001), 1)
        XCTAssertEqual(RiskControl.studentizedPValue(worse: 0, better: 0, n: 0, alpha: 0.003, gamma: 0.001), 1)
    }

    /// Under the null at its boundary (drop exactly α), the studentized p-value is super-uniform:
    /// rejected at δ = 0.1 in at most about 10% of 400 simulated draws, at a small and a larger
    /// discordant rate.
    func testStudentizedPValueIsValidUnderTheNullBySimulation() {
        var rng = SeededGenerator(seed: 11)
        for pBetter in [0.001, 0.01] {
            let rejections = rejectionsAtTheNullBoundary(pBetter: pBetter, rng: &rng) {
                RiskControl.studentizedPValue(worse: $0, better: $1, n: $2, alpha: $3, gamma: 0.001)
            }
            // Binomial(400, 0.1) exceeds 55 with probability below 0.5%.
            XCTAssertLessThanOrEqual(rejections, 55, "p_better \(pBetter): \(rejections) of 400 rejected")
            // And the test is not vacuous: at the boundary it rejects some draws.
            XCTAssertGreaterThan(rejections, 10, "p_better \(pBetter): \(rejections) of 400 rejected")
        }
    }

    /// How many of `draws` simulated tunings of `n` paired images with a drop of exactly `alpha`
    /// (p_worse = p_better + alpha) the test rejects at δ = 0.1.
    private func rejectionsAtTheNullBoundary(pBetter: Double, alpha: Double = 0.003, n: Int = 2000, draws: Int = 400,
                                             rng: inout SeededGenerator, pValue: (Int, Int, Int, Double) -> Double) -> Int {
        let pWorse = pBetter + alpha
        var rejections = 0
        for _ in 0..<draws {
            var worse = 0, better = 0
            for _ in 0..<n {
                let u = Double.random(in: 0..<1, using: &rng)
                if u < pWorse { worse += 1 } else if u < pWorse + pBetter { better += 1 }
            }
            if pValue(worse, better, n, alpha) <= 0.1 { rejections += 1 }
        }
        return rejections
    }

    /// The drop bound of the studentized test: the grid point above the largest α it does not
    /// reject. Its p-value is not monotone in α, so the bound must not stop at the first rejected
    /// α from below (3 worse and 8 better of 2,500: rejected at 0.10 pp, not at 0.085 pp).
    func testStudentizedDropBoundIsAboveEveryAlphaNotRejected() {
        let step = 0.000_05
        for (worse, better) in [(6, 4), (5, 2), (3, 8), (12, 9)] {
            let bound = RiskControl.dropBound(worse: worse, better: better, n: 2500, delta: 0.1, gamma: 0.001, test: .studentized, step: step)
            func p(_ alpha: Double) -> Double { RiskControl.studentizedPValue(worse: worse, better: better, n: 2500, alpha: alpha, gamma: 0.001) }
            XCTAssertGreaterThan(p(bound - step), 0.1, "W \(worse) B \(better): the grid point below the bound is not rejected")
            // Every α from the bound up to 1 pp, on a grid three times finer, is rejected.
            var alpha = bound
            while alpha < 0.01 {
                XCTAssertLessThanOrEqual(p(alpha), 0.1, "W \(worse) B \(better): α \(alpha) above the bound \(bound)")
                alpha += step / 3
            }
        }
        // The case where stopping at the first rejected α would have reported about 0.
        XCTAssertGreaterThan(RiskControl.studentizedPValue(worse: 3, better: 8, n: 2500, alpha: 0.00085, gamma: 0.001), 0.1)
        XCTAssertGreaterThan(RiskControl.dropBound(worse: 3, better: 8, n: 2500, delta: 0.1, gamma: 0.001, test: .studentized), 0.00085)
    }

    /// The drop bound of the monotone conditional test: its p-value at the bound rejects, one grid
    /// step below does not.
    func testDropBoundInvertsThePValue() {
        let step = 0.000_05
        let bound = RiskControl.dropBound(worse: 60, better: 75, n: 3500, delta: 0.1, gamma: 0.01, step: step)
        XCTAssertLessThanOrEqual(RiskControl.pValue(worse: 60, better: 75, n: 3500, alpha: bound, gamma: 0.01), 0.1)
        XCTAssertGreaterThan(RiskControl.pValue(worse: 60, better: 75, n: 3500, alpha: bound - step, gamma: 0.01), 0.1)
        // 135 discordant of 3500 with W < B: the 90% bound lies between 0 and 0.3 pp (α = 0.003 gives p = 0.035).
        XCTAssertGreaterThan(bound, 0)
        XCTAssertLessThan(bound, 0.003)
    }

    /// Fixed-sequence testing rejects the prefix before the first p-value above δ.
    func testFixedSequenceStopsAtTheFirstFailure() {
        XCTAssertEqual(RiskControl.fixedSequence([0.01, 0.05, 0.2, 0.01], delta: 0.1).rejected, 2)
        XCTAssertEqual(RiskControl.fixedSequence([0.01, 0.05, 0.2, 0.01], delta: 0.1).tested, 3)
        XCTAssertEqual(RiskControl.fixedSequence([0.3], delta: 0.1).rejected, 0)
        XCTAssertEqual(RiskControl.fixedSequence([0.1, 0.1], delta: 0.1).rejected, 2)
    }

    /// Under the null (true drop above α), the p-value is super-uniform: simulated paired data with
    /// a drop of exactly α is rejected at δ = 0.1 in at most about 10% of 400 draws.
    func testPValueIsValidUnderTheNullBySimulation() {
        var rng = SeededGenerator(seed: 7)
        let rejections = rejectionsAtTheNullBoundary(pBetter: 0.015, rng: &rng) {
            RiskControl.pValue(worse: $0, better: $1, n: $2, alpha: $3, gamma: 0.01)
        }
        // Binomial(400, 0.1) exceeds 55 with probability below 0.5%.
        XCTAssertLessThanOrEqual(rejections, 55, "\(rejections) of 400 rejected")
    }
}
