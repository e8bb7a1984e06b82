// One Model shared by 2, 4 and 8 threads, each with its own Interpreter: every result bit-identical
// to one thread's. Run under ThreadSanitizer in CI (.ci/run), where a data race is a report.
import EarlyExit
import EarlyExitTools
import Foundation
import XCTest
#if canImport(Glibc)
import Glibc
#endif

final class ConcurrencyTests: XCTestCase {
    static let models = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Models")

    /// Everything a run reports, floats as bit patterns so that equality is bit for bit.
    struct Outcome: Equatable {
        var exitIndex: Int
        var classIndex: Int
        var exitsEvaluated: Int
        var exitedEarly: Bool
        var macs: Int
        var macsFull: Int
        var scores: [UInt32]
        /// The gates of the exits this run evaluated.
        var gates: [UInt32]
    }

    /// One thread's share of the images (every `stride`-th from `first`) and what it saw.
    final class Share: @unchecked Sendable {
        let model: Model
        let inputs: [[Float]]
        let first: Int
        let stride: Int
        let barrier: UnsafeMutablePointer<pthread_barrier_t>
        var outcomes: [(Int, Outcome)] = []
        var failure: String?

        init(model: Model, inputs: [[Float]], first: Int, stride: Int, barrier: UnsafeMutablePointer<pthread_barrier_t>) {
            self.model = model
            self.inputs = inputs
            self.first = first
            self.stride = stride
            self.barrier = barrier
        }

        func run() {
            // Every thread creates its interpreter from the shared model, then all start together.
            let interpreter = Interpreter(model: model)
            pthread_barrier_wait(barrier)
            var index = first
            while index < inputs.count {
                do {
                    outcomes.append((index, try ConcurrencyTests.outcome(interpreter, inputs[index])))
                } catch {
                    failure = "image \(index): \(error)"
                    return
                }
                index += stride
            }
        }
    }

    static func outcome(_ interpreter: Interpreter, _ input: [Float]) throws -> Outcome {
        let summary = try interpreter.run(input)
        return Outcome(exitIndex: summary.exitIndex, classIndex: summary.classIndex, exitsEvaluated: summary.exitsEvaluated,
                       exitedEarly: summary.exitedEarly, macs: summary.macs, macsFull: summary.macsFull,
                       scores: interpreter.scores.map(\.bitPattern),
                       gates: (0..<summary.exitsEvaluated).map { interpreter.gate(exit: $0).bitPattern })
    }

    /// Runs `inputs` on `threadCount` threads that share `model` (thread t takes images t, t + n, ...).
    static func runShared(_ model: Model, _ inputs: [[Float]], threadCount: Int) throws -> [Outcome?] {
        let barrier = UnsafeMutablePointer<pthread_barrier_t>.allocate(capacity: 1)
        defer { barrier.deallocate() }
        guard pthread_barrier_init(barrier, nil, UInt32(threadCount)) == 0 else { throw ToolError("pthread_barrier_init failed") }
        defer { pthread_barrier_destroy(barrier) }
        let shares = (0..<threadCount).map { Share(model: model, inputs: inputs, first: $0, stride: threadCount, barrier: barrier) }
        var threads: [pthread_t] = []
        for share in shares {
            var thread = pthread_t()
            let context = Unmanaged.passRetained(share).toOpaque()
            let status = pthread_create(&thread, nil, { context in
                let share = Unmanaged<Share>.fromOpaque(context!).takeRetainedValue()
                share.run()
                return nil
            }, context)
            guard status == 0 else { throw ToolError("pthread_create failed with \(status)") }
            threads.append(thread)
        }
        for thread in threads { pthread_join(thread, nil) }
        var results = [Outcome?](repeating: nil, count: inputs.count)
        for share in shares {
            if let failure = share.failure { throw ToolError("thread \(share.first) of \(threadCount): \(failure)") }
            for (index, outcome) in share.outcomes { results[index] = outcome }
        }
        return results
    }

    /// How many sample images to use: all 1,000 unless EARLYEXIT_CONCURRENCY_IMAGES says fewer.
    static var imageLimit: Int? {
        ProcessInfo.processInfo.environment["EARLYEXIT_CONCURRENCY_IMAGES"].flatMap { Int($0) }
    }

    func checkSharedModel(_ file: String, quantized: Bool) throws {
        let model = try ModelFiles.loadModel(Self.models.appendingPathComponent(file).path)
        XCTAssertEqual(model.isQuantized, quantized)
        let data = try ModelFiles.loadDataset(
            images: Self.models.appendingPathComponent("fashion-test-sample-images-idx3-ubyte.gz").path,
            labels: Self.models.appendingPathComponent("fashion-test-sample-labels-idx1-ubyte.gz").path, for: model,
            limit: Self.imageLimit)
        XCTAssertEqual(data.count, min(1000, Self.imageLimit ?? 1000))

        let single = Interpreter(model: model)
        let reference = try data.inputs.map { try Self.outcome(single, $0) }
        // The stored policy exits early on some images and not on others: both paths are shared.
        XCTAssertTrue(reference.contains { $0.exitedEarly }, "no image exits early: the test would not cover early exits")
        XCTAssertTrue(reference.contains { !$0.exitedEarly }, "every image exits early: the test would not cover the final head")

        for threadCount in [2, 4, 8] {
            let shared = try Self.runShared(model, data.inputs, threadCount: threadCount)
            var differing: [Int] = []
            for index in reference.indices where shared[index] != reference[index] { differing.append(index) }
            XCTAssertTrue(differing.isEmpty, "\(file), \(threadCount) threads: \(differing.count) of \(reference.count) results differ "
                          + "from one thread's (first images: \(differing.prefix(10).map(String.init).joined(separator: ", ")))")
        }
    }

    func testThreadsSharingTheFloat32ModelMatchOneThreadBitForBit() throws {
        try checkSharedModel("fashion-attn-wrn.eem", quantized: false)
    }

    func testThreadsSharingTheInt8ModelMatchOneThreadBitForBit() throws {
        try checkSharedModel("fashion-attn-wrn-int8.eem", quantized: true)
    }
}
