// Whether this test build counts heap allocations, and a skip that says why when it does not.
import CAllocationCounter
import XCTest

enum AllocationCounting {
    /// True when `ee_allocation_count()` counts (glibc, no sanitizer).
    static var isAvailable: Bool { ee_allocation_counting_available() == 1 }

    /// The reason counting is off, e.g. under `swift test --sanitize=address`.
    static var unavailableReason: String { String(cString: ee_allocation_counting_unavailable_reason()) }

    /// Throws `XCTSkip` with the reason when this build cannot count allocations.
    static func requireCounting() throws {
        if !isAvailable { throw XCTSkip(unavailableReason) }
    }
}
