// The arena planner's invariants on random graphs, and the interpreter running inside
// caller-provided arenas (exact size, too small, misaligned, filled with garbage).
@testable import EarlyExit
import EarlyExitTools
import XCTest

final class ArenaPlanTests: XCTestCase {
    // MARK: Random graphs

    /// A random valid DAG of conv / add / relu (plus a few mul and max-pool) over feature maps,
    /// with random fan-out (inputs drawn from any earlier tensor) and 1–3 early exits.
    static func randomGraph(seed: UInt64) -> ModelBuilder {
        var rng = SeededGenerator(seed: seed)
        var b = ModelBuilder()
        let classes = 3
        let c0 = rng.int(1...3), h0 = rng.int(6...14), w0 = rng.int(6...14)
        var pool: [(tensor: Int, shape: [Int])] = [(b.addInput(shape: [1, c0, h0, w0]), [1, c0, h0, w0])]
        let target = rng.int(20...60)
        let earlyExits = rng.int(1...3)
        var exitPoints = Set((0..<earlyExits).map { _ in rng.int(4...(target - 8)) })

        func exitHead(_ b: inout ModelBuilder, _ t: Int, _ shape: [Int], _ rng: inout SeededGenerator) {
            let c = shape[1]
            let gap = b.add(.globalAvgPool, [t], shape: [1, c])
            let logits = b.add(.fullyConnected, [gap, b.addConstant(rng.uniforms(classes * c, scale: 1), shape: [classes, c]),
                                                b.addConstant(rng.uniforms(classes, scale: 0.1), shape: [classes])], shape: [1, classes])
            let score = b.add(.fullyConnected, [gap, b.addConstant(rng.uniforms(c, scale: 1), shape: [1, c])], shape: [1, 1])
            let gate = b.add(.tanh, [score], shape: [1, 1])
            b.addExit(logits: logits, gate: gate)
        }

        while b.operatorCount < target - 4 {
            if exitPoints.contains(b.operatorCount) || exitPoints.contains(b.operatorCount - 1) {
                exitPoints.remove(b.operatorCount); exitPoints.remove(b.operatorCount - 1)
                let pick = pool[rng.int(0...(pool.count - 1))]
                exitHead(&b, pick.tensor, pick.shape, &rng)
                continue
            }
            // Half the time continue the chain, otherwise fan out from any earlier tensor.
            let source = rng.bool() ? pool[pool.count - 1] : pool[rng.int(0...(pool.count - 1))]
            let s = source.shape
            let c = s[1], h = s[2], w = s[3]
            switch rng.int(0...9) {
            case 0, 1:
                pool.append((b.add(.relu, [source.tensor], shape: s), s))
            case 2, 3:
                let partners = pool.filter { $0.shape == s && $0.tensor != source.tensor }
                let relu: Activation = rng.bool() ? .relu : .none
                if let partner = partners.isEmpty ? nil : partners[rng.int(0...(partners.count - 1))] {
                    pool.append((b.add(.add, [source.tensor, partner.tensor], shape: s, activation: relu), s))
                } else {
                    let bias = b.addConstant(rng.uniforms(c, scale: 0.5), shape: [1, c, 1, 1])
                    pool.append((b.add(.add, [source.tensor, bias], shape: s, activation: relu), s))
                }
            case 4:
                let scale = b.addConstant(rng.uniforms(c, scale: 1), shape: [1, c, 1, 1])
                pool.append((b.add(.mul, [source.tensor, scale], shape: s), s))
            case 5 where h >= 4 && w >= 4:
                let out = [1, c, h / 2, w / 2]
                pool.append((b.add(.maxPool, [source.tensor], shape: out, attributes: [2, 2, 2, 2, 0, 0, 0, 0, 0]), out))
            default:
                let k = rng.bool() ? 1 : 3
                var p = Ref.Conv(kh: k, kw: k)
                if k == 3 {
                    p.padTop = rng.int(0...2); p.padBottom = rng.int(0...2); p.padLeft = rng.int(0...2); p.padRight = rng.int(0...2)
                    if h + p.padTop + p.padBottom < 3 || w + p.padLeft + p.padRight < 3 { p.padTop = 1; p.padBottom = 1; p.padLeft = 1; p.padRight = 1 }
                }
                if h >= 5 && w >= 5 && rng.int(0...3) == 0 { p.sh = 2; p.sw = 2 }
                let cout = rng.int(1...6)
                let (ho, wo) = p.outputSize(h: h, w: w)
                var inputs = [source.tensor, b.addConstant(rng.uniforms(cout * c * k * k, scale: 1 / Float(c * k * k).squareRoot()), shape: [cout, c, k, k])]
                if rng.bool() { inputs.append(b.addConstant(rng.uniforms(cout, scale: 0.2), shape: [cout])) }
                let out = [1, cout, ho, wo]
                pool.append((b.add(.conv2d, inputs, shape: out, attributes: p.attributes, activation: rng.bool() ? .relu : .none), out))
            }
        }
        let last = pool[pool.count - 1]
        exitHead(&b, last.tensor, last.shape, &rng)
        b.signal = .none
        b.thresholds = [Float](repeating: 0, count: b.exitCountForTests - 1)
        return b
    }

    /// Checks every planner invariant against lifetimes computed here from the schedule.
    func checkPlan(_ model: Model, _ label: String, file: StaticString = #filePath, line: UInt = #line) {
        let plan = model.plan
        let tensors = model.tensors
        let round = { (bytes: Int) in (bytes + 63) / 64 * 64 }
        // A buffer is live from its producer (the input: from operator 0) to its last reader,
        // or to the operator its exit follows, whichever is later.
        var first = [Int?](repeating: nil, count: tensors.count)
        var last = [Int](repeating: -1, count: tensors.count)
        first[model.inputTensor] = 0
        last[model.inputTensor] = 0
        for (index, op) in model.operators.enumerated() {
            for t in op.inputs where !tensors[t].isConstant { last[t] = max(last[t], index) }
            first[op.output] = index
            last[op.output] = max(last[op.output], index)
        }
        for exit in model.exits {
            last[exit.logitsTensor] = max(last[exit.logitsTensor], exit.afterOperator)
            last[exit.gateTensor] = max(last[exit.gateTensor], exit.afterOperator)
        }
        XCTAssertEqual(plan.persistentBytes % 64, 0, label, file: file, line: line)
        XCTAssertGreaterThanOrEqual(plan.persistentBytes, (model.exits.count * model.classCount + model.exits.count + 2 * model.classCount) * 4,
                                    "persistent region holds every exit's logits and gate, the scores and a work row: " + label, file: file, line: line)
        // Activation buffers: exactly one per produced tensor, with the computed lifetime.
        for (t, info) in tensors.enumerated() {
            let matches = plan.buffers.filter { $0.tensor == t }
            if info.isConstant || first[t] == nil {
                XCTAssertTrue(matches.isEmpty, "tensor \(t) must not be planned: " + label, file: file, line: line)
                XCTAssertEqual(plan.tensorOffsets[t], -1, label, file: file, line: line)
                continue
            }
            guard matches.count == 1, let buffer = matches.first else {
                XCTFail("tensor \(t) has \(matches.count) buffers: " + label, file: file, line: line); continue
            }
            XCTAssertEqual(buffer.firstUse, first[t], "tensor \(t) first use: " + label, file: file, line: line)
            XCTAssertEqual(buffer.lastUse, last[t], "tensor \(t) last use: " + label, file: file, line: line)
            XCTAssertEqual(buffer.size, round(info.byteCount), "tensor \(t) size: " + label, file: file, line: line)
            XCTAssertEqual(plan.tensorOffsets[t], plan.persistentBytes + buffer.offset, label, file: file, line: line)
        }
        // Scratch buffers: one per operator that needs scratch, live during that operator only.
        for (index, op) in model.operators.enumerated() {
            let matches = plan.buffers.filter { $0.tensor == -1 && $0.firstUse == index }
            if op.kind == .conv2d && model.convolutionPath(of: index) == .im2col {
                let w = tensors[op.inputs[1]].shape, out = tensors[op.output].shape
                let pixels = out[2] * out[3]
                // Image-to-column writes one row of Cin·Kh·Kw values per output pixel (float32).
                XCTAssertGreaterThanOrEqual(model.scratchBytes(of: index), tensors[op.inputs[0]].shape[1] * w[2] * w[3] * pixels * 4,
                                            "operator \(index) scratch: " + label, file: file, line: line)
            }
            if model.scratchBytes(of: index) > 0 {
                XCTAssertEqual(matches.count, 1, "operator \(index) scratch buffers: " + label, file: file, line: line)
                if let buffer = matches.first {
                    XCTAssertEqual(buffer.lastUse, index, label, file: file, line: line)
                    XCTAssertEqual(buffer.size, round(model.scratchBytes(of: index)), label, file: file, line: line)
                    XCTAssertEqual(plan.scratchOffsets[index], plan.persistentBytes + buffer.offset, label, file: file, line: line)
                }
            } else {
                XCTAssertTrue(matches.isEmpty, label, file: file, line: line)
                XCTAssertEqual(plan.scratchOffsets[index], -1, label, file: file, line: line)
            }
        }
        XCTAssertEqual(plan.buffers.count, tensors.indices.filter { !tensors[$0].isConstant && first[$0] != nil }.count
                       + model.operators.indices.filter { model.scratchBytes(of: $0) > 0 }.count, label, file: file, line: line)
        // Alignment, pairwise disjointness of simultaneously live buffers, and the figures.
        var end = 0
        for buffer in plan.buffers {
            XCTAssertEqual(buffer.offset % 64, 0, "offset \(buffer.offset) of tensor \(buffer.tensor): " + label, file: file, line: line)
            XCTAssertEqual((plan.persistentBytes + buffer.offset) % 64, 0, label, file: file, line: line)
            end = max(end, buffer.offset + buffer.size)
        }
        for i in plan.buffers.indices {
            for j in plan.buffers.indices where j > i {
                let a = plan.buffers[i], b = plan.buffers[j]
                let liveTogether = a.firstUse <= b.lastUse && b.firstUse <= a.lastUse
                let bytesOverlap = a.offset < b.offset + b.size && b.offset < a.offset + a.size
                if liveTogether && bytesOverlap {
                    XCTFail("buffers \(i) (tensor \(a.tensor), ops \(a.firstUse)...\(a.lastUse), bytes \(a.offset)..<\(a.offset + a.size)) and \(j) (tensor \(b.tensor), ops \(b.firstUse)...\(b.lastUse), bytes \(b.offset)..<\(b.offset + b.size)) overlap: " + label,
                            file: file, line: line)
                }
            }
        }
        var live = [Int](repeating: 0, count: model.operators.count)
        for buffer in plan.buffers { for op in buffer.firstUse...buffer.lastUse { live[op] += buffer.size } }
        XCTAssertEqual(plan.plannedBytes, end, label, file: file, line: line)
        XCTAssertEqual(plan.naiveBytes, plan.buffers.reduce(0) { $0 + $1.size }, label, file: file, line: line)
        XCTAssertEqual(plan.lowerBoundBytes, live.max(), label, file: file, line: line)
        XCTAssertLessThanOrEqual(plan.lowerBoundBytes, plan.plannedBytes, label, file: file, line: line)
        XCTAssertLessThanOrEqual(plan.plannedBytes, plan.naiveBytes, label, file: file, line: line)
        XCTAssertEqual(plan.arenaBytes, plan.persistentBytes + plan.plannedBytes, label, file: file, line: line)
    }

    /// Runs every exit with policy `.none` inside a caller arena of exactly `arenaBytes`,
    /// filled with `pattern` first, and compares with the reference executor.
    func checkValuesInGarbageArena(_ model: Model, input: [Float], pattern: UInt8, _ label: String) throws {
        let bytes = model.plan.arenaBytes
        let arena = UnsafeMutableRawBufferPointer.allocate(byteCount: bytes, alignment: 64)
        defer { arena.deallocate() }
        arena.initializeMemory(as: UInt8.self, repeating: pattern)
        let interpreter = try Interpreter(model: model, arena: arena)
        try interpreter.setPolicy(.fullNetwork(earlyExitCount: model.earlyExitCount))
        _ = try interpreter.run(input)
        let reference = ReferenceExecutor(model: model).run(input)
        for (k, exit) in model.exits.enumerated() {
            assertClose(Array(interpreter.logits(exit: k)), reference[exit.logitsTensor]!, "exit \(k) logits: " + label)
            XCTAssertEqual(Double(interpreter.gate(exit: k)), reference[exit.gateTensor]![0], accuracy: 1e-4, "exit \(k) gate: " + label)
        }
    }

    func testRandomGraphPlansKeepLiveBuffersDisjointAndAligned() throws {
        var operatorCounts: [Int] = []
        var scratchSeen = 0
        for seed in UInt64(1)...60 {
            let builder = Self.randomGraph(seed: seed)
            let model = try Model(bytes: builder.serialize())
            operatorCounts.append(model.operators.count)
            scratchSeen += model.operators.indices.filter { model.scratchBytes(of: $0) > 0 }.count
            checkPlan(model, "seed \(seed)")
        }
        XCTAssertGreaterThanOrEqual(operatorCounts.min()!, 20)
        XCTAssertLessThanOrEqual(operatorCounts.max()!, 64)
        XCTAssertGreaterThan(scratchSeen, 20, "the graphs must exercise scratch buffers")
    }

    func testRandomGraphsComputeReferenceValuesInAGarbageFilledArena() throws {
        var rng = SeededGenerator(seed: 4242)
        for seed in UInt64(1)...30 {
            let model = try Model(bytes: Self.randomGraph(seed: seed).serialize())
            let input = rng.uniforms(model.input.elementCount, scale: 1)
            try checkValuesInGarbageArena(model, input: input, pattern: seed % 2 == 0 ? 0x7F : 0xFF, "seed \(seed)")
        }
    }

    func testChainOfEqualBuffersPingPongsBetweenTwoSlots() throws {
        // Input [1,4,8,8] = 256 floats = 1024 bytes, then ten ReLUs of the same size: during
        // each ReLU exactly its input and output are live, so the lower bound is 2·1024 and a
        // first-fit plan alternates two 1024-byte slots. The head's four tensors ([1,4], [1,3],
        // [1,1], [1,1]) round to 64 bytes each and fit beside the last map.
        var b = ModelBuilder()
        var t = b.addInput(shape: [1, 4, 8, 8])
        for _ in 0..<10 { t = b.add(.relu, [t], shape: [1, 4, 8, 8]) }
        let gap = b.add(.globalAvgPool, [t], shape: [1, 4])
        let logits = b.add(.fullyConnected, [gap, b.addConstant([Float](repeating: 0.5, count: 12), shape: [3, 4])], shape: [1, 3])
        let score = b.add(.fullyConnected, [gap, b.addConstant([1, 1, 1, 1], shape: [1, 4])], shape: [1, 1])
        let gate = b.add(.tanh, [score], shape: [1, 1])
        b.addExit(logits: logits, gate: gate)
        let model = try Model(bytes: b.serialize())
        checkPlan(model, "chain")
        XCTAssertEqual(model.plan.lowerBoundBytes, 2048)
        XCTAssertEqual(model.plan.plannedBytes, 2048)
        XCTAssertEqual(model.plan.naiveBytes, 11 * 1024 + 4 * 64)
        // Persistent: (1 exit · 3 classes + 1 gate + 2 · 3) floats = 40 bytes → 64.
        XCTAssertEqual(model.plan.persistentBytes, 64)
        XCTAssertEqual(model.plan.arenaBytes, 64 + 2048)
        // The logits (produced by operator 11) stay live until the exit after operator 13.
        let logitsBuffer = model.plan.buffers.first { $0.tensor == logits }!
        XCTAssertEqual(logitsBuffer.firstUse, 11)
        XCTAssertEqual(logitsBuffer.lastUse, 13)
    }

    func testAttentionNetworkPlan() throws {
        for builder in [SyntheticModels.attentionNetwork(), SyntheticModels.attentionNetwork(channels: 3, size: 12, width: 6, heads: 3, classes: 5, seed: 99)] {
            let model = try Model(bytes: builder.serialize())
            checkPlan(model, "attention network")
            XCTAssertTrue(model.operators.indices.contains { model.scratchBytes(of: $0) > 0 })
        }
    }

    // MARK: Caller-provided arenas

    struct Outputs: Equatable {
        var summary: RunSummary
        var logits: [[UInt32]]
        var gates: [UInt32]
        var scores: [UInt32]

        /// The summary, scores, and logits and gates of the exits the run evaluated (the
        /// others are documented as stale), bit for bit.
        init(_ interpreter: Interpreter, _ summary: RunSummary) {
            self.summary = summary
            logits = (0..<summary.exitsEvaluated).map { k in interpreter.logits(exit: k).map { $0.bitPattern } }
            gates = (0..<summary.exitsEvaluated).map { interpreter.gate(exit: $0).bitPattern }
            scores = interpreter.scores.map { $0.bitPattern }
        }
    }

    func testInterpreterRunsInAnArenaOfExactlyArenaBytes() throws {
        let model = try Model(bytes: SyntheticModels.attentionNetwork().serialize())
        let bytes = model.plan.arenaBytes
        let arena = UnsafeMutableRawBufferPointer.allocate(byteCount: bytes, alignment: 64)
        defer { arena.deallocate() }
        arena.initializeMemory(as: UInt8.self, repeating: 0)
        let borrowed = try Interpreter(model: model, arena: arena)
        XCTAssertEqual(borrowed.arenaByteCount, bytes)
        let owned = Interpreter(model: model)
        var rng = SeededGenerator(seed: 3)
        for _ in 0..<3 {
            let input = rng.uniforms(model.input.elementCount, scale: 2)
            try borrowed.setPolicy(.fullNetwork(earlyExitCount: 2))
            try owned.setPolicy(.fullNetwork(earlyExitCount: 2))
            XCTAssertEqual(Outputs(borrowed, try borrowed.run(input)), Outputs(owned, try owned.run(input)))
        }
    }

    func testArenaOneByteTooSmallIsRejected() throws {
        let model = try Model(bytes: SyntheticModels.attentionNetwork().serialize())
        let bytes = model.plan.arenaBytes
        let arena = UnsafeMutableRawBufferPointer.allocate(byteCount: bytes, alignment: 64)
        defer { arena.deallocate() }
        XCTAssertThrowsError(try Interpreter(model: model, arena: UnsafeMutableRawBufferPointer(rebasing: arena[0..<(bytes - 1)]))) { error in
            XCTAssertEqual(error as? ModelError, .arenaTooSmall(required: bytes, provided: bytes - 1))
        }
        XCTAssertThrowsError(try Interpreter(model: model, arena: UnsafeMutableRawBufferPointer(start: nil, count: 0))) { error in
            XCTAssertEqual(error as? ModelError, .arenaTooSmall(required: bytes, provided: 0))
        }
    }

    func testMisalignedArenaIsRejected() throws {
        let model = try Model(bytes: SyntheticModels.attentionNetwork().serialize())
        let bytes = model.plan.arenaBytes
        let arena = UnsafeMutableRawBufferPointer.allocate(byteCount: bytes + 64, alignment: 64)
        defer { arena.deallocate() }
        for shift in [1, 4, 16, 32, 63] {
            let slice = UnsafeMutableRawBufferPointer(rebasing: arena[shift..<(shift + bytes)])
            XCTAssertThrowsError(try Interpreter(model: model, arena: slice), "shift \(shift)") { error in
                XCTAssertEqual(error as? ModelError, .misalignedArena(address: UInt(bitPattern: slice.baseAddress!), required: 64))
            }
        }
        XCTAssertNoThrow(try Interpreter(model: model, arena: UnsafeMutableRawBufferPointer(rebasing: arena[64..<(64 + bytes)])))
    }

    func testGarbageInTheArenaBeforeEachRunDoesNotChangeOutputs() throws {
        // No buffer may be read before it is written: refilling the whole arena (persistent
        // region included) with garbage before each run must give bit-identical results.
        for builder in [SyntheticModels.attentionNetwork(), SyntheticModels.attentionNetwork(channels: 3, size: 12, width: 6, heads: 3, classes: 5, seed: 99)] {
            let model = try Model(bytes: builder.serialize())
            let bytes = model.plan.arenaBytes
            let arena = UnsafeMutableRawBufferPointer.allocate(byteCount: bytes, alignment: 64)
            defer { arena.deallocate() }
            let borrowed = try Interpreter(model: model, arena: arena)
            let owned = Interpreter(model: model)
            var rng = SeededGenerator(seed: 8)
            let policies: [ExitPolicy] = [
                .fullNetwork(earlyExitCount: 2),
                ExitPolicy(signal: .gate, thresholds: [-1, -1]),               // exits at the first exit
                ExitPolicy(signal: .maxProbability, thresholds: [1, 0], combineSeenExits: true),
                ExitPolicy(signal: .entropy, thresholds: [0, 10]),
            ]
            for pattern: UInt8 in [0x7F, 0xFF, 0x00, 0xA5, 0x80] {
                for policy in policies {
                    let input = rng.uniforms(model.input.elementCount, scale: 2)
                    try owned.setPolicy(policy)
                    try borrowed.setPolicy(policy)
                    let expected = Outputs(owned, try owned.run(input))
                    arena.initializeMemory(as: UInt8.self, repeating: pattern)
                    XCTAssertEqual(Outputs(borrowed, try borrowed.run(input)), expected, "pattern \(pattern) policy \(policy)")
                    // Random bytes as well.
                    for i in 0..<bytes { arena[i] = UInt8(truncatingIfNeeded: rng.next()) }
                    XCTAssertEqual(Outputs(borrowed, try borrowed.run(input)), expected, "random garbage, policy \(policy)")
                }
            }
        }
    }
}

extension ModelBuilder {
    /// The number of exits added so far (the builder keeps its exit list internal).
    var exitCountForTests: Int {
        // Serializing unchecked and reading the header's exit count (offset 24) avoids any
        // dependence on the builder's internals.
        let bytes = serializeUnchecked()
        return Int(bytes[24]) | Int(bytes[25]) << 8 | Int(bytes[26]) << 16 | Int(bytes[27]) << 24
    }
}
