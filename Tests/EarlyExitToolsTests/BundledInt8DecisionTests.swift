// The bundled int8 model's early-exit decisions against the bundled float32 model's, image by
// image on the bundled test sample (Models/), under the stored policy of each model.
import EarlyExit
import EarlyExitTools
import Foundation
import XCTest

final class BundledInt8DecisionTests: XCTestCase {
    static let models = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Models")

    /// Every image: the exit the int8 model takes against the exit float32 takes with the same
    /// thresholds, first the int8 model's stored ones (tuned with `tune --agree-with` so that
    /// the two agree on at least 99% of the search images), then the float32 model's (tuned
    /// for the most MACs saved with a guarantee on the drop). The two may only differ where the float32 signal lies near the
    /// threshold (within `band`, the int8 signal's error seen on this model), and on aggregate
    /// they must agree as measured for the bundle (README).
    func testEveryDecisionAgainstFloat32OnTheSample() throws {
        let floatModel = try ModelFiles.loadModel(Self.models.appendingPathComponent("fashion-attn-wrn.eem").path)
        let int8Model = try ModelFiles.loadModel(Self.models.appendingPathComponent("fashion-attn-wrn-int8.eem").path)
        XCTAssertTrue(int8Model.isQuantized)
        let data = try ModelFiles.loadDataset(
            images: Self.models.appendingPathComponent("fashion-test-sample-images-idx3-ubyte.gz").path,
            labels: Self.models.appendingPathComponent("fashion-test-sample-labels-idx1-ubyte.gz").path, for: floatModel)
        XCTAssertEqual(data.count, 1000)

        let started = Date()
        let int8Policy = try compare(floatModel, int8Model, policy: int8Model.defaultPolicy, data)
        let floatPolicy = try compare(floatModel, int8Model, policy: floatModel.defaultPolicy, data)
        print("(\(Int(Date().timeIntervalSince(started))) s) bundled int8 vs float32 on \(data.count) sample images: "
              + "the int8 model's thresholds \(int8Policy), the float32 model's \(floatPolicy)")
        // The int8 model's gate thresholds (tune --agree-with: 99.0% on the search half of the
        // validation split, 98.3% on its test half); the float32 model's maxprob thresholds.
        XCTAssertGreaterThanOrEqual(int8Policy.sameExit, 0.975) // measured 0.982 (README: on the test set)
        XCTAssertGreaterThanOrEqual(floatPolicy.sameExit, 0.925) // measured 0.934 (README: on the test set)
        for result in [int8Policy, floatPolicy] {
            XCTAssertTrue(result.farDisagreements.isEmpty, "decisions differ far from the threshold: \(result.farDisagreements.prefix(5))")
            XCTAssertGreaterThanOrEqual(result.sameClass, 0.985) // measured 0.992 with both
            XCTAssertLessThanOrEqual(abs(result.accuracy.float - result.accuracy.int8), 0.01, "early-exit accuracy within 1 pp on the sample")
        }
    }

    struct Comparison: CustomStringConvertible {
        var sameExit = 0.0, sameClass = 0.0, accuracy = (float: 0.0, int8: 0.0), farDisagreements: [String] = []
        var description: String { "same exit \(sameExit), same class \(sameClass), accuracy \(accuracy.float) vs \(accuracy.int8)" }
    }

    func compare(_ floatModel: Model, _ int8Model: Model, policy: ExitPolicy, _ data: Dataset) throws -> Comparison {
        let floatEarly = Interpreter(model: floatModel), int8Early = Interpreter(model: int8Model)
        try floatEarly.setPolicy(policy)
        try int8Early.setPolicy(policy)
        var work = [Float](repeating: 0, count: floatModel.classCount)
        let band: Float = policy.signal == .entropy ? 0.5 : 0.1 // per exit below
        var sameExit = 0, sameClass = 0, correct = (float: 0, int8: 0), far: [String] = []
        for (image, input) in data.inputs.enumerated() {
            let a = try floatEarly.run(input), b = try int8Early.run(input)
            sameExit += a.exitIndex == b.exitIndex ? 1 : 0
            sameClass += a.classIndex == b.classIndex ? 1 : 0
            correct.float += a.classIndex == data.labels[image] ? 1 : 0
            correct.int8 += b.classIndex == data.labels[image] ? 1 : 0
            if a.exitIndex != b.exitIndex {
                // The first exit where the two decided differently: float32's signal there (its
                // early-exit run evaluated that exit, so its logits and gate are still readable).
                let decisive = min(a.exitIndex, b.exitIndex)
                let value = ExitMath.signal(policy.signal(exit: decisive), logits: floatEarly.logits(exit: decisive).baseAddress!,
                                            gate: floatEarly.gate(exit: decisive), count: floatModel.classCount, work: &work)
                if abs(value - policy.thresholds[decisive]) > band {
                    far.append("image \(image): exit \(decisive + 1) float32 signal \(value), threshold \(policy.thresholds[decisive]); exits \(a.exitIndex) vs \(b.exitIndex)")
                }
            }
        }
        let n = Double(max(data.count, 1))
        return Comparison(sameExit: Double(sameExit) / n, sameClass: Double(sameClass) / n,
                          accuracy: (Double(correct.float) / n, Double(correct.int8) / n), farDisagreements: far)
    }
}
