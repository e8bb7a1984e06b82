// tune's guaranteed mode on exit caches whose answer is known: the label-smoothed order
// (RuleSpace.SmoothedLoss) by hand, and whole tunings where the right setting is clear.
import XCTest
@testable import EarlyExitTools

final class GuaranteedTuningTests: XCTestCase {
    /// One exit, `count` images with maxprob spread evenly over (0, 1); `exitRight` and
    /// `fullRight` say who is right per image.
    private func cache(count: Int, exitRight: (Int, Float) -> Bool, fullRight: (Int) -> Bool = { _ in true }) -> ExitCache {
        let maxProbability = (0..<count).map { Float($0 * 7919 % count) / Float(count) + 0.5 / Float(count) }
        return ExitCache(earlyExitCount: 1, gate: maxProbability, maxProbability: maxProbability,
                         entropy: [Float](repeating: 1, count: count),
                         exitCorrect: (0..<count).map { exitRight($0, maxProbability[$0]) }, fullCorrect: (0..<count).map(fullRight),
                         exitMACs: [10], macsFull: 100)
    }

    /// Bins of 2 images by confidence, half an event of prior, and the worse rate pooled where
    /// it would fall as confidence falls; computed by hand for 8 images.
    func testSmoothedLossByHand() {
        // Image i has maxprob 0.9 − 0.1·i: image 0 is the most confident.
        let values: [Float] = (0..<8).map { 0.9 - 0.1 * Float($0) }
        let worse: Set<Int> = [0, 5, 6], better: Set<Int> = [3]
        let cache = ExitCache(earlyExitCount: 1, gate: values, maxProbability: values, entropy: [Float](repeating: 1, count: 8),
                              exitCorrect: (0..<8).map { !worse.contains($0) }, fullCorrect: (0..<8).map { !better.contains($0) },
                              exitMACs: [10], macsFull: 100)
        let images = Array(0..<8)
        let space = RuleSpace(cache: cache, reference: nil, searchImages: images, signals: [.maxProbability], combinations: false, keep: 64)
        let loss = RuleSpace.SmoothedLoss(space: space, searchImages: images, perBin: 2)
        // Bins {0,1} {2,3} {4,5} {6,7}: worse 1, 0, 1, 1 of 2 → (w + ½) / 3 = ½, ⅙, ½, ½; the first
        // two violate "grows as confidence falls" and pool to ⅓. Better: 0, 1, 0, 0 → ⅙, ½, ⅙, ⅙.
        let expectedWorse: [Double] = [1, 1, 1, 1, 1.5, 1.5, 1.5, 1.5].map { $0 / 3 }
        let expectedBetter: [Double] = [0.5, 0.5, 1.5, 1.5, 0.5, 0.5, 0.5, 0.5].map { $0 / 3 }
        for image in images {
            XCTAssertEqual(loss.worse[0][image], expectedWorse[image], accuracy: 1e-12, "worse, image \(image)")
            XCTAssertEqual(loss.better[0][image], expectedBetter[image], accuracy: 1e-12, "better, image \(image)")
        }
        // A setting's sums are its exiting images' rates.
        for (index, rule) in space.candidates[0].enumerated() {
            let exiting = images.filter { rule.passes(cache, image: $0, exit: 0) }
            let sums = loss.sums([index])
            XCTAssertEqual(sums.worse, exiting.reduce(0) { $0 + expectedWorse[$1] }, accuracy: 1e-12, "\(rule)")
            XCTAssertEqual(sums.better, exiting.reduce(0) { $0 + expectedBetter[$1] }, accuracy: 1e-12, "\(rule)")
        }
    }

    /// The exit is right exactly when maxprob > 0.5 and the full network is always right: the
    /// setting to find exits the confident half and nothing below. Both orders certify it, and
    /// neither lets more than a handful of the wrong half through.
    func testGuaranteedModeFindsTheSafeHalf() {
        let cache = cache(count: 6000, exitRight: { _, value in value > 0.5 })
        for smoothed in [true, false] {
            var options = TuningOptions(mode: .guaranteed(confidence: 0.9, searchFraction: 0.5), maxDrop: 0.003,
                                        signals: [.maxProbability], combinations: false)
            options.smoothedOrder = smoothed
            let result = ThresholdTuner.tune(cache: cache, reference: nil, images: Array(0..<cache.count), options: options)
            XCTAssertTrue(result.passed, "smoothed \(smoothed): \(result.why)")
            XCTAssertEqual(result.rules[0].signal, .maxProbability)
            // 0.3 pp of 6,000 images is 18: the threshold cannot sit much below 0.5 …
            XCTAssertGreaterThan(result.rules[0].threshold, 0.497, "smoothed \(smoothed)")
            XCTAssertLessThanOrEqual(result.onAll.counts.worse, 18, "smoothed \(smoothed)")
            // … and the certified setting takes most of the safe half: saved 0.9 × exited.
            XCTAssertGreaterThan(1 - result.onAll.macFraction, 0.9 * 0.40, "smoothed \(smoothed)")
            XCTAssertLessThanOrEqual(result.certified ?? 0, result.tested ?? 0)
            XCTAssertLessThan(result.dropBound ?? 1, 0.003, "smoothed \(smoothed)")
        }
    }

    /// An exit that is wrong on every image it could take: nothing may be certified, and the
    /// rules stay "never".
    func testGuaranteedModeCertifiesNothingWhenEveryExitIsWrong() {
        let cache = cache(count: 4000, exitRight: { _, _ in false })
        let options = TuningOptions(mode: .guaranteed(confidence: 0.9, searchFraction: 0.5), maxDrop: 0.003,
                                    signals: [.maxProbability], combinations: false)
        let result = ThresholdTuner.tune(cache: cache, reference: nil, images: Array(0..<cache.count), options: options)
        // "Never exit" itself is a candidate with no worse images, so it is what can be certified.
        XCTAssertEqual(result.onAll.counts.worse, 0, result.why)
        XCTAssertEqual(result.onAll.macFraction, 1, accuracy: 1e-12)
        XCTAssertEqual(result.rules[0], .never)
    }
}
