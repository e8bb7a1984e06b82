// The statistics of tune's guaranteed mode against SciPy's binomial and beta functions
// (Fixtures/risk/make_risk_reference.py printed these values), and fixed-sequence testing by hand.
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

    /// The drop bound is the smallest α the test rejects: just below it the p-value exceeds δ.
    func testDropBoundInvertsThePValue() {
        let bound = RiskControl.dropBound(worse: 60, better: 75, n: 3500, delta: 0.1, gamma: 0.01)
        XCTAssertLessThanOrEqual(RiskControl.pValue(worse: 60, better: 75, n: 3500, alpha: bound, gamma: 0.01), 0.1)
        XCTAssertGreaterThan(RiskControl.pValue(worse: 60, better: 75, n: 3500, alpha: bound - 1e-6, gamma: 0.01), 0.1)
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
        let n = 2000, alpha = 0.003, pBetter = 0.015, pWorse = pBetter + alpha
        var rejections = 0
        for _ in 0..<400 {
            var worse = 0, better = 0
            for _ in 0..<n {
                let u = Double.random(in: 0..<1, using: &rng)
                if u < pWorse { worse += 1 } else if u < pWorse + pBetter { better += 1 }
            }
            if RiskControl.pValue(worse: worse, better: better, n: n, alpha: alpha, gamma: 0.01) <= 0.1 { rejections += 1 }
        }
        // Binomial(400, 0.1) exceeds 55 with probability below 0.5%.
        XCTAssertLessThanOrEqual(rejections, 55, "\(rejections) of 400 rejected")
    }
}
