// Proves that inference does not touch the heap, by counting allocator calls around `run`.
import CAllocationCounter
import EarlyExit
import EarlyExitTools
import XCTest

final class AllocationTests: XCTestCase {
    func testCounterSeesAnAllocation() throws {
        try AllocationCounting.requireCounting()
        let before = ee_allocation_count()
        let pointer = UnsafeMutableRawPointer.allocate(byteCount: 4096, alignment: 64)
        pointer.deallocate()
        XCTAssertGreaterThan(ee_allocation_count(), before, "the counter must see an explicit allocation")
    }

    func testRunDoesNotAllocate() throws {
        try AllocationCounting.requireCounting()
        let model = try Model(bytes: SyntheticModels.attentionNetwork().serialize())
        let interpreter = Interpreter(model: model)
        let input = [Float](repeating: 0.25, count: model.input.elementCount)
        for signal in ExitSignal.allCases {
            let thresholds = [Float](repeating: signal == .entropy ? 0.5 : 0.9, count: model.earlyExitCount)
            try interpreter.setPolicy(ExitPolicy(signal: signal, thresholds: thresholds))
            try input.withUnsafeBufferPointer { buffer in
                _ = try interpreter.run(buffer) // warm-up
                let before = ee_allocation_count()
                for _ in 0..<5 { _ = try interpreter.run(buffer) }
                XCTAssertEqual(ee_allocation_count() - before, 0, "run allocated with the \(signal.name) policy")
            }
        }
    }
}
