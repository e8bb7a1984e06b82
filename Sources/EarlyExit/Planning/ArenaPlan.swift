// Offsets of buffers in one arena, from their sizes and lifetimes.

/// Where each activation and scratch buffer lives in the interpreter's arena.
///
/// The arena starts with a persistent region (`ArenaLayout`: each exit's logits and gate, the
/// scores), followed by the planned region. The planner knows only buffers: a size and the
/// first and last operator that use it (`BufferLifetimes` derives them from the model).
///
/// Planning follows the greedy-by-size approach of TensorFlow Lite Micro's memory planner:
/// 1. Buffers are sorted by size, largest first (ties: earlier first use, then index).
/// 2. Each buffer in turn is placed at the lowest offset where it overlaps no already placed
///    buffer whose lifetime intersects its own; the candidate offsets are 0 and the end of
///    each such placed buffer.
/// The planned size is the highest end offset. The plan also reports the naive size (every
/// buffer at its own offset) and a lower bound (the most bytes simultaneously live at any
/// operator), so the planner's quality is visible.
public struct ArenaPlan: Sendable {
    /// One planned buffer.
    public struct Buffer: Sendable {
        /// The activation tensor index, or -1 for scratch.
        public var tensor: Int
        /// For scratch buffers, the operator index; for tensors, the producer.
        public var firstUse: Int
        public var lastUse: Int
        public var size: Int
        /// Offset from the start of the planned region.
        public var offset: Int
    }

    public static let alignment = 64

    /// Buffers in the order: activation tensors (by tensor index), then scratch buffers.
    public private(set) var buffers: [Buffer]
    /// For each tensor, its arena offset (persistent region included), or -1 for constants.
    public private(set) var tensorOffsets: [Int]
    /// For each operator, its scratch offset in the arena, or -1 when it needs none.
    public private(set) var scratchOffsets: [Int]
    /// Bytes of the persistent region at the start of the arena.
    public let persistentBytes: Int
    /// Bytes of the planned region.
    public private(set) var plannedBytes = 0
    /// The planned region's size if every buffer had its own space.
    public private(set) var naiveBytes = 0
    /// The largest number of bytes live at once in the planned region: no plan can use less.
    public private(set) var lowerBoundBytes = 0
    /// Bytes of scratch (all operators), included in `naiveBytes`.
    public private(set) var scratchBytes = 0

    /// The total arena size the interpreter needs.
    public var arenaBytes: Int { persistentBytes + plannedBytes }

    static func roundUp(_ value: Int) -> Int { (value + alignment - 1) / alignment * alignment }

    /// Plans `buffers` (sizes and lifetimes; offsets are assigned here) after a persistent
    /// region of `persistentBytes`.
    init(buffers: [Buffer], persistentBytes: Int, tensorCount: Int, operatorCount: Int) {
        self.buffers = buffers
        self.persistentBytes = persistentBytes
        tensorOffsets = [Int](repeating: -1, count: tensorCount)
        scratchOffsets = [Int](repeating: -1, count: operatorCount)
        for buffer in buffers where buffer.tensor < 0 { scratchBytes += buffer.size }
        place(operatorCount: operatorCount)
        for buffer in self.buffers {
            if buffer.tensor >= 0 {
                tensorOffsets[buffer.tensor] = persistentBytes + buffer.offset
            } else {
                scratchOffsets[buffer.firstUse] = persistentBytes + buffer.offset
            }
        }
    }

    /// Assigns offsets greedily by size and computes the report figures.
    private mutating func place(operatorCount: Int) {
        var order = Array(buffers.indices)
        ArenaPlan.insertionSort(&order) { lhs, rhs in
            let a = buffers[lhs], b = buffers[rhs]
            if a.size != b.size { return a.size > b.size }
            if a.firstUse != b.firstUse { return a.firstUse < b.firstUse }
            return lhs < rhs
        }
        var placed: [Int] = []
        for candidate in order {
            let buffer = buffers[candidate]
            // Placed buffers alive at the same time, by offset.
            var conflicts: [Int] = []
            for other in placed where buffers[other].firstUse <= buffer.lastUse && buffer.firstUse <= buffers[other].lastUse {
                conflicts.append(other)
            }
            ArenaPlan.insertionSort(&conflicts) { buffers[$0].offset < buffers[$1].offset }
            var offset = 0
            for other in conflicts {
                let o = buffers[other]
                if offset + buffer.size <= o.offset { break }
                offset = max(offset, o.offset + o.size)
            }
            buffers[candidate].offset = offset
            plannedBytes = max(plannedBytes, offset + buffer.size)
            placed.append(candidate)
        }
        naiveBytes = buffers.reduce(0) { $0 + $1.size }
        var live = [Int](repeating: 0, count: max(operatorCount, 1))
        for buffer in buffers {
            for index in buffer.firstUse...buffer.lastUse { live[index] += buffer.size }
        }
        lowerBoundBytes = live.max() ?? 0
    }

    /// A stable insertion sort: one small non-generic routine instead of two specializations of
    /// the standard library's sort (-3.5 KB of Thumb code). The plans are the same: the buffer
    /// order is total, and placement does not depend on how conflicts at one offset are ordered.
    @inline(never)
    static func insertionSort(_ values: inout [Int], by areInIncreasingOrder: (Int, Int) -> Bool) {
        if values.count < 2 { return }
        for index in 1..<values.count {
            let value = values[index]
            var position = index
            while position > 0 && areInIncreasingOrder(value, values[position - 1]) {
                values[position] = values[position - 1]
                position -= 1
            }
            values[position] = value
        }
    }
}
