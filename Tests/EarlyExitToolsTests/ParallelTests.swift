// --threads: the exit cache, the bench measurements and quantization are the same for any thread count.
import XCTest
import EarlyExit
@testable import EarlyExitTools

final class ParallelTests: XCTestCase {
    func dataset(_ model: Model, count: Int) -> Dataset {
        var rng = SeededGenerator(seed: 11)
        let inputs = (0..<count).map { _ in (0..<model.input.elementCount).map { _ in Float.random(in: -1...1, using: &rng) } }
        return Dataset(inputs: inputs, labels: (0..<count).map { $0 % model.classCount })
    }

    func testParallelForEachVisitsEveryImageOnce() throws {
        for threads in [1, 2, 5] {
            var visits = [Int](repeating: 0, count: 97)
            try visits.withUnsafeMutableBufferPointer { out in
                nonisolated(unsafe) let out = out
                try Parallel.forEach(count: 97, threads: threads, makeState: { 0 }) { state, image in
                    out[image] += 1
                    state += 1
                }
            }
            XCTAssertEqual(visits, [Int](repeating: 1, count: 97), "threads \(threads)")
            let states = try Parallel.states(count: 97, threads: threads, makeState: { 0 }) { state, _ in state += 1 }
            XCTAssertEqual(states.reduce(0, +), 97, "threads \(threads)")
        }
        // An error in one image stops the loop and is rethrown.
        XCTAssertThrowsError(try Parallel.forEach(count: 50, threads: 3, makeState: { 0 }) { _, image in
            if image == 17 { throw ToolError("image 17") }
        })
    }

    func testExitCacheIsTheSameOnOneAndSeveralThreads() throws {
        let model = try Model(bytes: try SyntheticModels.attentionNetwork().serialize())
        let data = dataset(model, count: 60)
        let one = try ExitCache.build(model: model, dataset: data, combineSeen: false, threads: 1)
        for threads in [2, 4] {
            let many = try ExitCache.build(model: model, dataset: data, combineSeen: false, threads: threads)
            XCTAssertEqual(many.gate, one.gate)
            XCTAssertEqual(many.maxProbability, one.maxProbability)
            XCTAssertEqual(many.entropy, one.entropy)
            XCTAssertEqual(many.exitCorrect, one.exitCorrect)
            XCTAssertEqual(many.fullCorrect, one.fullCorrect)
        }
        // The cache agrees with the interpreter run image by image (one thread, no tuner involved).
        let interpreter = Interpreter(model: model)
        try interpreter.setPolicy(.fullNetwork(earlyExitCount: model.earlyExitCount))
        for (index, input) in data.inputs.enumerated() {
            let summary = try interpreter.run(input)
            XCTAssertEqual(one.fullCorrect[index], summary.classIndex == data.labels[index])
            for exit in 0..<model.earlyExitCount {
                XCTAssertEqual(one.gate[index * model.earlyExitCount + exit], interpreter.gate(exit: exit))
            }
        }
    }

    func testBenchCountsAreTheSameOnOneAndSeveralThreads() throws {
        let model = try Model(bytes: try SyntheticModels.attentionNetwork().serialize())
        let data = dataset(model, count: 40)
        let configurations: [(String, ExitPolicy)] = [("early", model.defaultPolicy), ("full", .fullNetwork(earlyExitCount: model.earlyExitCount))]
        let one = try Evaluation.measure(model: model, dataset: data, configurations: configurations, warmup: 2, threads: 1)
        let many = try Evaluation.measure(model: model, dataset: data, configurations: configurations, warmup: 2, threads: 3)
        for (a, b) in zip(one, many) {
            XCTAssertEqual(a.correct, b.correct)
            XCTAssertEqual(a.exitCounts, b.exitCounts)
            XCTAssertEqual(a.exitCorrect, b.exitCorrect)
            XCTAssertEqual(a.totalMACs, b.totalMACs)
            XCTAssertEqual(a.latencies.count, b.latencies.count)
            // Allocation counts are process-wide: under XCTest other threads allocate while these
            // run, so only the one-thread count is exact here (AllocationTests checks it).
            XCTAssertEqual(a.allocations ?? 0, 0)
        }
    }

    func testQuantizationIsTheSameOnOneAndSeveralThreads() throws {
        let model = try Model(bytes: try SyntheticModels.attentionNetwork().serialize())
        let inputs = dataset(model, count: 24).inputs
        for method in [CalibrationMethod.minmax, .mse] {
            let one = try Quantizer.quantize(model: model, calibration: inputs, method: method, biasCorrectionPasses: 1, threads: 1).bytes
            let many = try Quantizer.quantize(model: model, calibration: inputs, method: method, biasCorrectionPasses: 1, threads: 3).bytes
            XCTAssertEqual(one, many, "\(method)")
        }
    }
}
