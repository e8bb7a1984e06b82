// Offsets of every activation and scratch buffer in one arena, from buffer lifetimes.

/// Where each activation and scratch buffer lives in the interpreter's arena.
///
/// The arena starts with a persistent region (each exit's logits and gate, copied when the
/// exit is evaluated, and the result scores), followed by the planned region.
///
/// Planning follows the greedy-by-size approach of TensorFlow Lite Micro's memory planner:
/// 1. Every activation tensor becomes a buffer alive from the operator that produces it (the
///    model input: from operator 0) to the last operator that reads it (or the operator its
///    exit follows, whichever is later). Every operator's scratch is a buffer alive during
///    that operator only.
/// 2. Buffers are sorted by size, largest first (ties: earlier first use, then index).
/// 3. Each buffer in turn is placed at the lowest offset where it overlaps no already placed
///    buffer whose lifetime intersects its own; the candidate offsets are 0 and the end of
///    each such placed buffer.
/// The arena size is the highest end offset. The plan also reports the naive size (every
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
    public private(set) var buffers: [Buffer] = []
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
    /// The largest number of bytes live at once: no plan can use less.
    public private(set) var lowerBoundBytes = 0
    /// Bytes of scratch (all operators), included in `naiveBytes`.
    public private(set) var scratchBytes = 0
    /// For each operator: the softmax whose input a fused int8 attention pooling at this matmul
    /// reads (`Int8Fusion`), or -1.
    let pooledSoftmax: [Int]

    /// The total arena size the interpreter needs.
    public var arenaBytes: Int { persistentBytes + plannedBytes }

    static func roundUp(_ value: Int) -> Int { (value + alignment - 1) / alignment * alignment }

    /// Bytes of the persistent region for a model with these exits and classes.
    static func persistentSize(exitCount: Int, classCount: Int) -> Int {
        // exit logits, exit gates, scores, one working row of class probabilities
        roundUp((exitCount * classCount + exitCount + 2 * classCount) * 4)
    }

    init(tensors: [TensorInfo], operators: [Operator], exits: [ExitInfo], inputTensor: Int, classCount: Int) {
        persistentBytes = ArenaPlan.persistentSize(exitCount: exits.count, classCount: classCount)
        tensorOffsets = [Int](repeating: -1, count: tensors.count)
        scratchOffsets = [Int](repeating: -1, count: operators.count)
        var first = [Int](repeating: -1, count: tensors.count)
        var last = [Int](repeating: -1, count: tensors.count)
        first[inputTensor] = 0
        last[inputTensor] = 0
        for (index, op) in operators.enumerated() {
            for tensor in op.inputs where !tensors[tensor].isConstant { last[tensor] = max(last[tensor], index) }
            first[op.output] = index
            last[op.output] = max(last[op.output], index)
        }
        pooledSoftmax = Int8Fusion.pooledSoftmaxes(operators, tensorCount: tensors.count)
        for (index, source) in pooledSoftmax.enumerated() where source >= 0 {
            // A fused int8 attention pooling reads the softmax's input at the matmul.
            let logits = operators[source].inputs[0]
            last[logits] = max(last[logits], index)
        }
        for exit in exits {
            last[exit.logitsTensor] = max(last[exit.logitsTensor], exit.afterOperator)
            last[exit.gateTensor] = max(last[exit.gateTensor], exit.afterOperator)
        }
        for (index, tensor) in tensors.enumerated() where !tensor.isConstant && first[index] >= 0 {
            buffers.append(Buffer(tensor: index, firstUse: first[index], lastUse: last[index],
                                  size: ArenaPlan.roundUp(tensor.byteCount), offset: 0))
        }
        for (index, op) in operators.enumerated() where op.scratchBytes > 0 {
            buffers.append(Buffer(tensor: -1, firstUse: index, lastUse: index, size: ArenaPlan.roundUp(op.scratchBytes), offset: 0))
            scratchBytes += ArenaPlan.roundUp(op.scratchBytes)
        }
        place(operatorCount: operators.count)
        for buffer in buffers {
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
