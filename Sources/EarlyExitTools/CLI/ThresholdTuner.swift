// Chooses per-exit exit rules from cached exit outputs: candidate rules, the accuracy–MAC
// frontier, and the two selections (guaranteed: Learn-then-Test; empirical: calibration/holdout).
import EarlyExit
import Foundation

/// Every early exit's signals and correctness for every image, from one full-network run each.
public struct ExitCache: Sendable {
    public let earlyExitCount: Int
    /// [image × earlyExitCount + exit]: the gate, largest softmax probability and entropy, computed
    /// as the interpreter computes them for its decisions.
    public var gate: [Float]
    public var maxProbability: [Float]
    public var entropy: [Float]
    /// [image × earlyExitCount + exit]: whether that exit's prediction (or with `combine`, the
    /// eq. 9 combination of the exits seen) is right.
    public var exitCorrect: [Bool]
    /// [image]: whether the full network's (eq. 9) prediction is right.
    public var fullCorrect: [Bool]
    /// Cumulative MACs at each early exit, and of the full network.
    public var exitMACs: [Int]
    public var macsFull: Int

    public var count: Int { fullCorrect.count }

    public init(earlyExitCount: Int, gate: [Float], maxProbability: [Float], entropy: [Float], exitCorrect: [Bool],
                fullCorrect: [Bool], exitMACs: [Int], macsFull: Int) {
        self.earlyExitCount = earlyExitCount
        self.gate = gate
        self.maxProbability = maxProbability
        self.entropy = entropy
        self.exitCorrect = exitCorrect
        self.fullCorrect = fullCorrect
        self.exitMACs = exitMACs
        self.macsFull = macsFull
    }

    /// The value of `signal` at `exit` for `image` (`.none`: 0).
    @inline(__always)
    public func value(_ signal: ExitSignal, image: Int, exit: Int) -> Float {
        let at = image * earlyExitCount + exit
        switch signal {
        case .none: return 0
        case .gate: return gate[at]
        case .maxProbability: return maxProbability[at]
        case .entropy: return entropy[at]
        }
    }

    /// Runs the full network once per image (on `threads` threads, one interpreter each; the
    /// result does not depend on the thread count) and records every exit's signals and correctness.
    public static func build(model: Model, dataset: Dataset, combineSeen: Bool, threads: Int = 1,
                             progress: ((Int, Int) -> Void)? = nil) throws -> ExitCache {
        let exits = model.earlyExitCount, classes = model.classCount, n = dataset.count
        var gate = [Float](repeating: 0, count: n * exits), maxProbability = gate, entropy = gate
        var exitCorrect = [Bool](repeating: false, count: n * exits)
        var fullCorrect = [Bool](repeating: false, count: n)
        struct Worker {
            let interpreter: Interpreter
            var work: [Float]
            var combined: [Float]
        }
        try gate.withUnsafeMutableBufferPointer { gateOut in
        try maxProbability.withUnsafeMutableBufferPointer { maxOut in
        try entropy.withUnsafeMutableBufferPointer { entropyOut in
        try exitCorrect.withUnsafeMutableBufferPointer { correctOut in
        try fullCorrect.withUnsafeMutableBufferPointer { fullOut in
            // Each image writes only its own rows: disjoint memory for every thread.
            nonisolated(unsafe) let (gateOut, maxOut, entropyOut, correctOut, fullOut) = (gateOut, maxOut, entropyOut, correctOut, fullOut)
            try Parallel.forEach(count: n, threads: threads, progress: progress, makeState: { () throws -> Worker in
                let interpreter = Interpreter(model: model)
                try interpreter.setPolicy(.fullNetwork(earlyExitCount: exits))
                return Worker(interpreter: interpreter, work: [Float](repeating: 0, count: classes),
                              combined: [Float](repeating: 0, count: classes))
            }) { worker, image in
                let interpreter = worker.interpreter
                let summary: RunSummary
                do { summary = try interpreter.run(dataset.inputs[image]) } catch { throw ToolError("image \(image): \(error)") }
                let label = dataset.labels[image]
                var logitRows: [Float] = [], gates: [Float] = []
                for exit in 0..<exits {
                    let logits = Array(interpreter.logits(exit: exit))
                    logitRows += logits
                    gates.append(interpreter.combinationGate(exit: exit))
                    let at = image * exits + exit
                    gateOut[at] = interpreter.gate(exit: exit)
                    logits.withUnsafeBufferPointer { row in worker.work.withUnsafeMutableBufferPointer { w in
                        maxOut[at] = ExitMath.maxProbability(row.baseAddress!, count: classes)
                        entropyOut[at] = ExitMath.entropy(row.baseAddress!, count: classes, work: w.baseAddress!)
                    } }
                    var predicted: Int
                    if combineSeen {
                        logitRows.withUnsafeBufferPointer { rows in gates.withUnsafeBufferPointer { g in worker.combined.withUnsafeMutableBufferPointer { out in worker.work.withUnsafeMutableBufferPointer { w in
                            ExitMath.combine(logits: rows.baseAddress!, gates: g.baseAddress!, exitCount: exit + 1, classCount: classes,
                                             into: out.baseAddress!, work: w.baseAddress!)
                        } } } }
                        predicted = worker.combined.withUnsafeBufferPointer { ExitMath.argmax($0.baseAddress!, count: classes) }
                    } else {
                        predicted = logits.withUnsafeBufferPointer { ExitMath.argmax($0.baseAddress!, count: classes) }
                    }
                    correctOut[at] = predicted == label
                }
                fullOut[image] = summary.classIndex == label
            }
        } } } } }
        return ExitCache(earlyExitCount: exits, gate: gate, maxProbability: maxProbability, entropy: entropy,
                         exitCorrect: exitCorrect, fullCorrect: fullCorrect,
                         exitMACs: model.exits.prefix(exits).map(\.cumulativeMACs), macsFull: model.totalMACs)
    }

    /// The images `images` of this cache, in that order.
    public func subset(_ images: [Int]) -> ExitCache {
        func rows<T>(_ values: [T]) -> [T] { images.flatMap { values[($0 * earlyExitCount)..<(($0 + 1) * earlyExitCount)] } }
        return ExitCache(earlyExitCount: earlyExitCount, gate: rows(gate), maxProbability: rows(maxProbability), entropy: rows(entropy),
                         exitCorrect: rows(exitCorrect), fullCorrect: images.map { fullCorrect[$0] }, exitMACs: exitMACs, macsFull: macsFull)
    }

    /// This cache's images followed by `other`'s (the same model).
    public func appending(_ other: ExitCache) -> ExitCache {
        ExitCache(earlyExitCount: earlyExitCount, gate: gate + other.gate, maxProbability: maxProbability + other.maxProbability,
                  entropy: entropy + other.entropy, exitCorrect: exitCorrect + other.exitCorrect,
                  fullCorrect: fullCorrect + other.fullCorrect, exitMACs: exitMACs, macsFull: macsFull)
    }

    /// The area under the ROC curve of `signal` at `exit` for telling the exit's right predictions
    /// (positives) from its wrong ones over `images`: the probability that a random right one is
    /// more confident than a random wrong one, ties counting half (nil without both kinds).
    public func auroc(_ signal: ExitSignal, exit: Int, images: [Int]) -> Double? {
        var scored = images.map { image -> (Float, Bool) in
            let v = value(signal, image: image, exit: exit)
            return (signal.higherIsConfident ? v : -v, exitCorrect[image * earlyExitCount + exit])
        }
        scored.sort { $0.0 < $1.0 }
        let positives = scored.filter(\.1).count, negatives = scored.count - positives
        if positives == 0 || negatives == 0 { return nil }
        // Mann–Whitney U from mid-ranks.
        var rankSum = 0.0, start = 0
        while start < scored.count {
            var end = start
            while end + 1 < scored.count && scored[end + 1].0 == scored[start].0 { end += 1 }
            let midRank = Double(start + end) / 2 + 1
            for i in start...end where scored[i].1 { rankSum += midRank }
            start = end + 1
        }
        let u = rankSum - Double(positives) * Double(positives + 1) / 2
        return u / (Double(positives) * Double(negatives))
    }
}

/// One early exit's rule: a signal at a threshold, optionally with a second signal that must
/// pass as well; `signal == .none` never exits there.
public struct ExitRule: Hashable, Sendable {
    public var signal: ExitSignal
    public var threshold: Float
    public var second: ExitSignal = .none
    public var secondThreshold: Float = 0

    public static let never = ExitRule(signal: .none, threshold: 0)

    @inline(__always)
    func passes(_ cache: ExitCache, image: Int, exit: Int) -> Bool {
        if signal == .none { return false }
        if !ExitRule.passes(signal, cache.value(signal, image: image, exit: exit), threshold) { return false }
        return second == .none || ExitRule.passes(second, cache.value(second, image: image, exit: exit), secondThreshold)
    }

    @inline(__always)
    static func passes(_ signal: ExitSignal, _ value: Float, _ threshold: Float) -> Bool {
        signal.higherIsConfident ? value >= threshold : value <= threshold
    }

    public var description: String {
        if signal == .none { return "never" }
        let first = PolicyDescription.condition(signal, threshold)
        return second == .none ? first : "\(first) and \(PolicyDescription.condition(second, secondThreshold))"
    }
}

/// Counts of one setting over a set of images.
public struct SettingCounts: Sendable {
    /// Images the early exit gets wrong and the full network right, and the reverse.
    public var worse = 0, better = 0
    public var images = 0
    public var macs = 0
    public var agreeing = 0

    /// The accuracy drop against the full network, a fraction (0.003 = 0.3 pp).
    public var drop: Double { Double(worse - better) / Double(max(images, 1)) }
}

/// One evaluated setting: a rule per early exit and its counts on the images that chose it.
public struct TuningPoint: Sendable {
    public var rules: [ExitRule]
    public var counts: SettingCounts
    public var macsFull: Int
    public var drop: Double { counts.drop }
    public var macFraction: Double { Double(counts.macs) / Double(max(counts.images, 1)) / Double(max(macsFull, 1)) }
    /// Share of images taking the same exit as the reference model (`--agree-with`), if any.
    public var agreement: Double? 
}

/// Per-exit candidate rules as bitsets over a cache's images, and fast evaluation of settings.
public struct RuleSpace {
    public let cache: ExitCache
    public let reference: ExitCache?
    /// [exit][candidate]
    public private(set) var candidates: [[ExitRule]] = []
    /// [exit][candidate] bitsets of the images whose exit passes, in this cache and the reference.
    var passing: [[[UInt64]]] = []
    var referencePassing: [[[UInt64]]] = []
    /// [exit] images where the exit is wrong and the full network right, and the reverse.
    var worseAt: [[UInt64]] = [], betterAt: [[UInt64]] = []
    /// [exit] the signal whose thresholds the exit's candidates use (the first of a pair).
    public private(set) var exitSignals: [ExitSignal] = []
    let words: Int

    /// Bitset with the given images set.
    public func mask(_ images: [Int]) -> [UInt64] {
        var bits = [UInt64](repeating: 0, count: words)
        for image in images { bits[image >> 6] |= 1 << UInt64(image & 63) }
        return bits
    }

    /// Whether `image` is set in `bits`.
    static func contains(_ bits: [UInt64], _ image: Int) -> Bool { bits[image >> 6] >> UInt64(image & 63) & 1 != 0 }

    func bitset(_ predicate: (Int) -> Bool) -> [UInt64] {
        var bits = [UInt64](repeating: 0, count: words)
        for image in 0..<cache.count where predicate(image) { bits[image >> 6] |= 1 << UInt64(image & 63) }
        return bits
    }

    static func popcount(_ a: [UInt64], _ b: [UInt64]) -> Int {
        var total = 0
        for i in a.indices { total += (a[i] & b[i]).nonzeroBitCount }
        return total
    }

    /// Candidate rules for every exit, chosen on the images of `searchMask` (`searchImages`):
    /// for each signal in `signals`, thresholds at `perSignal` quantiles of its values (denser
    /// among the most confident), with `combinations` the pairs "gate ≥ a and maxprob ≥ b" on a
    /// grid, and never. Each exit keeps the rules no other rule beats in both the images it takes
    /// and the paired loss among them (wrong where the full network is right, minus the reverse),
    /// at most `keep` of them spread over the images taken.
    public init(cache: ExitCache, reference: ExitCache?, searchImages: [Int], signals: [ExitSignal], combinations: Bool,
                perSignal: Int = 40, keep: Int) {
        self.cache = cache
        self.reference = reference
        words = (cache.count + 63) / 64
        let exits = cache.earlyExitCount
        worseAt = (0..<exits).map { e in bitset { !cache.exitCorrect[$0 * exits + e] && cache.fullCorrect[$0] } }
        betterAt = (0..<exits).map { e in bitset { cache.exitCorrect[$0 * exits + e] && !cache.fullCorrect[$0] } }
        let search = mask(searchImages)
        for exit in 0..<exits {
            func quantiles(_ signal: ExitSignal, _ count: Int) -> [Float] {
                let values = searchImages.map { cache.value(signal, image: $0, exit: exit) }
                    .sorted { signal.higherIsConfident ? $0 > $1 : $0 < $1 } // most confident first
                guard !values.isEmpty else { return [] }
                var result: [Float] = []
                for step in 0..<count {
                    let q = Double(step + 1) / Double(count)
                    let index = min(values.count - 1, max(0, Int(q * q * Double(values.count - 1))))
                    result.append(values[index])
                }
                return Array(Set(result))
            }
            var pool: [ExitRule] = [.never]
            // Several signals: this exit's thresholds are those of the signal that best ranks its
            // right predictions above its wrong ones on the search images (highest AUROC).
            let signal = signals.count == 1 ? signals[0]
                : signals.max { (cache.auroc($0, exit: exit, images: searchImages) ?? 0) < (cache.auroc($1, exit: exit, images: searchImages) ?? 0) }!
            exitSignals.append(combinations && signals.count == 1 ? .gate : signal)
            if !combinations || signals.count > 1 {
                pool += quantiles(signal, perSignal).map { ExitRule(signal: signal, threshold: $0) }
            }
            if combinations {
                let side = max(4, perSignal / 3)
                for a in quantiles(.gate, side) {
                    for b in quantiles(.maxProbability, side) {
                        pool.append(ExitRule(signal: .gate, threshold: a, second: .maxProbability, secondThreshold: b))
                    }
                }
            }
            // Score on the search images; keep the non-dominated rules.
            var scored: [(rule: ExitRule, bits: [UInt64], taken: Int, loss: Int)] = []
            var seen = Set<[UInt64]>()
            for rule in pool {
                let bits = bitset { rule.passes(cache, image: $0, exit: exit) }
                let inSearch = zip(bits, search).map { $0 & $1 }
                if !seen.insert(inSearch).inserted { continue }
                let taken = inSearch.reduce(0) { $0 + $1.nonzeroBitCount }
                let loss = RuleSpace.popcount(inSearch, worseAt[exit]) - RuleSpace.popcount(inSearch, betterAt[exit])
                scored.append((rule, bits, taken, loss))
            }
            scored.sort { $0.taken != $1.taken ? $0.taken < $1.taken : $0.loss < $1.loss }
            var kept: [(rule: ExitRule, bits: [UInt64], taken: Int, loss: Int)] = []
            if combinations {
                // Two thresholds: from the most images taken down, keep a rule when its loss is
                // below every rule taking more (the exit's own frontier).
                var bestLoss = Int.max
                for entry in scored.reversed() where entry.loss < bestLoss {
                    kept.append(entry)
                    bestLoss = entry.loss
                }
                kept.reverse() // by images taken, ascending; kept[0] takes the fewest (never, or close)
            } else {
                kept = scored // one signal: its thresholds are already a path
            }
            if kept.count > keep {
                var thinned: [(rule: ExitRule, bits: [UInt64], taken: Int, loss: Int)] = []
                for step in 0..<keep {
                    let index = Int((Double(step) / Double(keep - 1) * Double(kept.count - 1)).rounded())
                    if thinned.last?.rule != kept[index].rule { thinned.append(kept[index]) }
                }
                kept = thinned
            }
            if kept.first?.rule != .never { kept.insert((.never, [UInt64](repeating: 0, count: words), 0, 0), at: 0) }
            candidates.append(kept.map(\.rule))
            passing.append(kept.map(\.bits))
            if let reference {
                referencePassing.append(kept.map { entry in
                    var bits = [UInt64](repeating: 0, count: words)
                    for image in 0..<reference.count where entry.rule.passes(reference, image: image, exit: exit) {
                        bits[image >> 6] |= 1 << UInt64(image & 63)
                    }
                    return bits
                })
            }
        }
    }

    /// The counts of the setting that uses candidate `choice[e]` at exit e, over `mask`.
    public func evaluate(_ choice: [Int], mask: [UInt64]) -> SettingCounts {
        let exits = cache.earlyExitCount
        var counts = SettingCounts()
        var taken = [Int](repeating: 0, count: exits)
        let hasReference = reference != nil
        for w in 0..<words {
            let m = mask[w]
            if m == 0 { continue }
            var takenHere: UInt64 = 0, referenceTaken: UInt64 = 0
            for e in 0..<exits {
                let p = passing[e][choice[e]][w] & ~takenHere & m
                counts.worse += (p & worseAt[e][w]).nonzeroBitCount
                counts.better += (p & betterAt[e][w]).nonzeroBitCount
                taken[e] += p.nonzeroBitCount
                if hasReference {
                    let r = referencePassing[e][choice[e]][w] & ~referenceTaken & m
                    counts.agreeing += (p & r).nonzeroBitCount
                    referenceTaken |= r
                }
                takenHere |= p
            }
            let rest = m & ~takenHere
            if hasReference { counts.agreeing += (rest & ~referenceTaken).nonzeroBitCount }
            counts.images += m.nonzeroBitCount
            counts.macs += rest.nonzeroBitCount * cache.macsFull
        }
        for e in 0..<exits { counts.macs += taken[e] * cache.exitMACs[e] }
        return counts
    }

    /// Label-smoothed loss sums of settings on the search images, for ordering the candidates.
    ///
    /// A setting's counts on the search images reward the settings whose exiting images happen to
    /// have lucky labels: among tens of thousands of settings the best-looking ones are mostly luck
    /// and fail on new images (the winner's curse; ordered by raw counts, a quarter of the
    /// resampled tunings certified nothing). Here an image that leaves at exit e counts, instead
    /// of its own outcome, the rate of "the exit is wrong where the full network is right" (and
    /// of the reverse) among the search images whose exit-e signal lies in the same bin of about
    /// `perBin` images; the worse rate is made non-increasing in confidence (pooled adjacent
    /// violators), and each rate has half an event of prior. Labels enter only through rates
    /// pooled over a bin, so ordering by these sums does not chase luck. (Rates conditioned on
    /// the images that reach the exit under the earlier rules were tried: their bins are smaller
    /// and noisier, and they ordered worse.)
    public struct SmoothedLoss {
        let space: RuleSpace
        let search: [UInt64]
        /// [exit][image]: the smoothed rates of the image's bin (0 outside the search images).
        let worse: [[Double]], better: [[Double]]

        public init(space: RuleSpace, searchImages: [Int], perBin: Int = 250) {
            self.space = space
            search = space.mask(searchImages)
            let cache = space.cache, exits = cache.earlyExitCount
            var worse = [[Double]](repeating: [Double](repeating: 0, count: cache.count), count: exits)
            var better = worse
            for exit in 0..<exits where !searchImages.isEmpty {
                let signal = space.exitSignals[exit]
                let ordered = searchImages.sorted { // most confident first
                    let a = cache.value(signal, image: $0, exit: exit), b = cache.value(signal, image: $1, exit: exit)
                    return signal.higherIsConfident ? a > b : a < b
                }
                let bins = max(1, ordered.count / max(perBin, 1))
                var blocks: [(worse: Double, images: Double, bins: [Range<Int>])] = []
                for bin in 0..<bins {
                    let range = (bin * ordered.count / bins)..<((bin + 1) * ordered.count / bins)
                    let w = Double(ordered[range].filter { RuleSpace.contains(space.worseAt[exit], $0) }.count)
                    let b = Double(ordered[range].filter { RuleSpace.contains(space.betterAt[exit], $0) }.count)
                    let rateBetter = (b + 0.5) / (Double(range.count) + 1)
                    for image in ordered[range] { better[exit][image] = rateBetter }
                    // Pool adjacent violators: the worse rate may only grow as confidence falls.
                    blocks.append(((w + 0.5) / (Double(range.count) + 1), Double(range.count), [range]))
                    while blocks.count > 1, blocks[blocks.count - 2].worse > blocks[blocks.count - 1].worse {
                        let last = blocks.removeLast(), previous = blocks.removeLast()
                        let images = last.images + previous.images
                        blocks.append(((last.worse * last.images + previous.worse * previous.images) / images, images, previous.bins + last.bins))
                    }
                }
                for block in blocks {
                    for range in block.bins { for image in ordered[range] { worse[exit][image] = block.worse } }
                }
            }
            self.worse = worse
            self.better = better
        }

        /// The smoothed worse and better sums of the setting `choice` over the search images.
        public func sums(_ choice: [Int]) -> (worse: Double, better: Double) {
            let exits = space.cache.earlyExitCount
            var worse = 0.0, better = 0.0
            for w in 0..<space.words {
                let m = search[w]
                if m == 0 { continue }
                var takenHere: UInt64 = 0
                for e in 0..<exits {
                    var p = space.passing[e][choice[e]][w] & ~takenHere & m
                    takenHere |= p
                    while p != 0 {
                        let image = w << 6 | p.trailingZeroBitCount
                        worse += self.worse[e][image]
                        better += self.better[e][image]
                        p &= p - 1
                    }
                }
            }
            return (worse, better)
        }
    }

    public func point(_ choice: [Int], mask: [UInt64]) -> TuningPoint {
        let counts = evaluate(choice, mask: mask)
        return TuningPoint(rules: (0..<choice.count).map { candidates[$0][choice[$0]] }, counts: counts, macsFull: cache.macsFull,
                           agreement: reference == nil ? nil : Double(counts.agreeing) / Double(max(counts.images, 1)))
    }

    /// Every setting of the candidate grid over `mask` (exhaustive up to `budget` settings,
    /// otherwise coordinate sweeps from several starts), as candidate indices with their points.
    public func search(mask: [UInt64], budget: Int = 60_000) -> [(choice: [Int], point: TuningPoint)] {
        let exits = cache.earlyExitCount
        var total = 1
        for list in candidates { total = total.multipliedReportingOverflow(by: list.count).overflow ? Int.max : total * list.count }
        var result: [(choice: [Int], point: TuningPoint)] = []
        if total <= budget {
            var index = [Int](repeating: 0, count: exits)
            while true {
                result.append((index, point(index, mask: mask)))
                var axis = 0
                while axis < exits {
                    index[axis] += 1
                    if index[axis] < candidates[axis].count { break }
                    index[axis] = 0
                    axis += 1
                }
                if axis == exits { break }
            }
            return result
        }
        let longest = candidates.map(\.count).max() ?? 1
        for start in stride(from: 0, to: longest, by: max(1, longest / 8)) {
            var current = candidates.map { min(start, $0.count - 1) }
            for _ in 0..<3 {
                for axis in 0..<exits {
                    var best: (choice: [Int], score: Double)?
                    for candidate in candidates[axis].indices {
                        var trial = current
                        trial[axis] = candidate
                        let p = point(trial, mask: mask)
                        result.append((trial, p))
                        let score = -p.drop - p.macFraction * 0.01
                        if best == nil || score > best!.score { best = (trial, score) }
                    }
                    current = best!.choice
                }
            }
        }
        return result
    }
}

/// The frontier and the two selection rules.
public enum ThresholdTuner {
    /// The counts of per-exit `rules` over `images` of `cache` (each image takes the first early
    /// exit whose rule passes, else the full network).
    public static func evaluate(_ rules: [ExitRule], cache: ExitCache, images: [Int]) -> SettingCounts {
        var counts = SettingCounts()
        let exits = cache.earlyExitCount
        for image in images {
            counts.images += 1
            var taken = -1
            for exit in 0..<exits where rules[exit].passes(cache, image: image, exit: exit) { taken = exit; break }
            if taken < 0 { counts.macs += cache.macsFull; continue }
            counts.macs += cache.exitMACs[taken]
            let exitRight = cache.exitCorrect[image * exits + taken], fullRight = cache.fullCorrect[image]
            if !exitRight && fullRight { counts.worse += 1 }
            if exitRight && !fullRight { counts.better += 1 }
        }
        return counts
    }

    /// The points no other point beats in both drop and MACs, by increasing MACs.
    public static func frontier(_ points: [(choice: [Int], point: TuningPoint)]) -> [(choice: [Int], point: TuningPoint)] {
        let sorted = points.sorted {
            $0.point.counts.macs != $1.point.counts.macs ? $0.point.counts.macs < $1.point.counts.macs : $0.point.drop < $1.point.drop
        }
        var result: [(choice: [Int], point: TuningPoint)] = []
        var best = Double.infinity
        for entry in sorted where entry.point.drop < best {
            result.append(entry)
            best = entry.point.drop
        }
        return result
    }

    /// The per-exit rules as an `ExitPolicy` (never: the signal's unreachable threshold).
    public static func policy(_ rules: [ExitRule], combine: Bool) -> ExitPolicy {
        let signals = rules.map { $0.signal == .none ? ExitSignal.gate : $0.signal }
        let thresholds = rules.map { $0.signal == .none ? Float(2) : $0.threshold }
        let uniform = Set(signals).count == 1
        var policy = ExitPolicy(signal: signals.first ?? .gate, thresholds: thresholds, combineSeenExits: combine,
                                exitSignals: uniform ? [] : signals)
        if rules.contains(where: { $0.second != .none && $0.signal != .none }) {
            policy.secondSignals = rules.map { $0.signal == .none ? .none : $0.second }
            policy.secondThresholds = rules.map { $0.signal == .none || $0.second == .none ? 0 : $0.secondThreshold }
        }
        return policy
    }
}

/// How `tune` chooses.
public struct TuningOptions: Sendable {
    public enum Mode: Sendable {
        /// Learn-then-Test: order the frontier found on `searchFraction` of the images, test it
        /// on the rest with fixed-sequence testing, each setting at level 1 − confidence.
        case guaranteed(confidence: Double, searchFraction: Double)
        /// Choose on a calibration split, check on `holdout` of the images.
        case empirical(holdout: Double)
    }
    public var mode: Mode
    /// The largest acceptable drop, a fraction (0.003 = 0.3 pp); or, with `macBudget`, nil.
    public var maxDrop: Double?
    /// Empirical mode only: the most accurate setting with at most this MAC fraction.
    public var macBudget: Double?
    public var signals: [ExitSignal]
    public var combinations: Bool
    public var seed: UInt64
    public var minAgreement: Double
    /// The paired test of a setting (for settings with few discordant images the search images
    /// may pick the worse-only test instead).
    public var test: RiskControl.Test = .studentized
    /// The share of the test p-value spent on bounding the discordant rate (γ = gammaShare × δ),
    /// for the conditional paired test.
    public var gammaShare = 0.1
    /// The same for the studentized test, which bounds p_better and needs far less.
    public var studentizedGammaShare = 0.01
    /// Guaranteed mode: order the candidates by label-smoothed losses on the search images (true)
    /// or by their counts there.
    public var smoothedOrder = true
    public var budget = 60_000

    public init(mode: Mode, maxDrop: Double?, macBudget: Double? = nil, signals: [ExitSignal], combinations: Bool,
                seed: UInt64 = 1, minAgreement: Double = 0.99) {
        self.mode = mode
        self.maxDrop = maxDrop
        self.macBudget = macBudget
        self.signals = signals
        self.combinations = combinations
        self.seed = seed
        self.minAgreement = minAgreement
    }
}

/// What `tune` chose and why.
public struct TuningResult: Sendable {
    /// The chosen rules (all never when nothing passed the guaranteed test).
    public var rules: [ExitRule]
    /// Whether the choice passed its own check: certified by the test (guaranteed), or within
    /// the drop on the holdout images (empirical; true without holdout images).
    public var passed: Bool
    public var why: String
    /// Images that found and ordered the candidates (search / calibration) and that tested or
    /// checked the choice (test / holdout).
    public var searchImages: [Int]
    public var checkImages: [Int]
    /// The chosen setting on the search images, on the check images and on all of them.
    public var onSearch: TuningPoint
    public var onCheck: TuningPoint?
    public var onAll: TuningPoint
    public var settingsEvaluated: Int
    public var settingsKept: Int
    public var frontier: [TuningPoint]
    public var chosenFrontierIndex: Int?
    /// Guaranteed mode: hypotheses tested in sequence, how many were certified, and the upper
    /// confidence bound on the chosen setting's drop from the test images.
    public var tested: Int?
    public var certified: Int?
    public var dropBound: Double?
    public var candidateCounts: [Int]
}

extension ThresholdTuner {
    /// Splits the images (deterministically by `seed`) and chooses per `options`.
    public static func tune(cache: ExitCache, reference: ExitCache?, images: [Int], options: TuningOptions) -> TuningResult {
        var rng = SeededGenerator(seed: options.seed)
        var order = images
        order.shuffle(using: &rng)
        let searchCount: Int
        switch options.mode {
        case let .guaranteed(_, fraction): searchCount = Int((Double(images.count) * fraction).rounded())
        case let .empirical(holdout): searchCount = images.count - Int((Double(images.count) * holdout).rounded())
        }
        let searchImages = Array(order.prefix(searchCount)).sorted()
        let checkImages = Array(order.dropFirst(searchCount)).sorted()
        let exits = cache.earlyExitCount
        let keep = min(64, max(4, Int(pow(Double(options.budget), 1 / Double(max(exits, 1))) + 1e-9) - 1))
        let space = RuleSpace(cache: cache, reference: reference, searchImages: searchImages, signals: options.signals,
                              combinations: options.combinations, keep: keep)
        let searchMask = space.mask(searchImages), checkMask = space.mask(checkImages), allMask = space.mask(images)
        var points = space.search(mask: searchMask, budget: options.budget)
        let evaluated = points.count
        if reference != nil {
            // Never exiting early always agrees, so the constraint leaves at least that setting.
            points = points.filter { $0.point.agreement! >= options.minAgreement - 1e-12 }
        }
        var front = frontier(points)
        let never = [Int](repeating: 0, count: exits)
        func result(_ choice: [Int], passed: Bool, index: Int?, why: String) -> TuningResult {
            TuningResult(rules: (0..<exits).map { space.candidates[$0][choice[$0]] }, passed: passed, why: why,
                         searchImages: searchImages, checkImages: checkImages,
                         onSearch: space.point(choice, mask: searchMask),
                         onCheck: checkImages.isEmpty ? nil : space.point(choice, mask: checkMask),
                         onAll: space.point(choice, mask: allMask), settingsEvaluated: evaluated, settingsKept: points.count,
                         frontier: front.map(\.point), chosenFrontierIndex: index, tested: nil, certified: nil, dropBound: nil,
                         candidateCounts: space.candidates.map(\.count))
        }
        switch options.mode {
        case let .guaranteed(confidence, _):
            let alpha = options.maxDrop ?? 0
            let delta = 1 - confidence
            let gamma = (options.test == .studentized ? options.studentizedGammaShare : options.gammaShare) * (1 - confidence)
            // Everything about the testing is fixed from the search images only (Pareto Testing,
            // Laufer-Goldshtein et al. 2023): the settings that no other beats in both MACs and a
            // rough upper bound of the drop on the search images, (W − B + 1.28·√(W + B + 1)) / n,
            // tested from the most MACs down, each with the test whose p-value is smaller on the
            // search images. W and B in the bound are the label-smoothed sums (SmoothedLoss), so
            // that the order does not chase lucky labels; `smoothedOrder = false` uses the counts.
            let loss = options.smoothedOrder ? RuleSpace.SmoothedLoss(space: space, searchImages: searchImages) : nil
            let bounds = points.map { entry -> Double in
                let c = entry.point.counts
                let (worse, better) = loss?.sums(entry.choice) ?? (Double(c.worse), Double(c.better))
                return (worse - better + 1.28 * (worse + better + 1).squareRoot()) / Double(max(c.images, 1))
            }
            let path = points.indices.sorted {
                points[$0].point.counts.macs != points[$1].point.counts.macs ? points[$0].point.counts.macs > points[$1].point.counts.macs : bounds[$0] < bounds[$1]
            }
            var pathFront: [(choice: [Int], point: TuningPoint)] = []
            var lowest = Double.infinity
            for index in path.reversed() where bounds[index] < lowest { // from the fewest MACs up
                pathFront.append(points[index])
                lowest = bounds[index]
            }
            front = pathFront.sorted { $0.point.counts.macs < $1.point.counts.macs }
            let plans = front.indices.map { index -> (index: Int, test: RiskControl.Test, searchP: Double) in
                let c = front[index].point.counts
                let paired = options.test.pValue(worse: c.worse, better: c.better, n: c.images, alpha: alpha, gamma: gamma)
                let worseOnly = RiskControl.worseOnlyPValue(worse: c.worse, n: c.images, alpha: alpha)
                return worseOnly < paired ? (index, .worseOnly, worseOnly) : (index, options.test, paired)
            }
            let sequence = Array(plans.reversed())
            var firstP: Double?
            let outcome = RiskControl.fixedSequence(sequence.lazy.map { plan -> Double in
                let c = space.evaluate(front[plan.index].choice, mask: checkMask)
                let p = plan.test.pValue(worse: c.worse, better: c.better, n: c.images, alpha: alpha, gamma: gamma)
                if firstP == nil { firstP = p }
                return p
            }, delta: delta)
            var chosen: TuningResult
            if outcome.rejected == 0 {
                chosen = result(never, passed: false, index: nil,
                                why: "no setting could be certified: the first setting tested has p = \(format(firstP ?? 1, decimals: delta < 0.01 ? 4 : 3)) > \(format(delta, decimals: delta < 0.01 ? 4 : 3)) on the \(checkImages.count) test images")
            } else {
                // Any certified setting may be chosen: the cheapest on all tuning images.
                let certified = sequence.prefix(outcome.rejected).map(\.index)
                let best = certified.min { space.evaluate(front[$0].choice, mask: allMask).macs < space.evaluate(front[$1].choice, mask: allMask).macs }!
                chosen = result(front[best].choice, passed: true, index: best,
                                why: "certified: drop ≤ \(format(alpha * 100, decimals: 2)) pp with probability ≥ \(format(confidence * 100, decimals: 1))%")
            }
            chosen.tested = outcome.tested
            chosen.certified = outcome.rejected
            if let check = chosen.onCheck {
                let test = sequence.first { $0.index == chosen.chosenFrontierIndex }?.test ?? options.test
                chosen.dropBound = RiskControl.dropBound(worse: check.counts.worse, better: check.counts.better, n: check.counts.images,
                                                         delta: delta, gamma: gamma, test: test)
            }
            return chosen
        case .empirical:
            var best: Int?
            if let maxDrop = options.maxDrop {
                best = front.firstIndex { $0.point.drop <= maxDrop + 1e-12 }
            } else if let budget = options.macBudget {
                best = front.indices.filter { front[$0].point.macFraction <= budget + 1e-12 }.min { front[$0].point.drop < front[$1].point.drop }
            }
            guard let best else {
                return result(never, passed: false, index: nil, why: "no setting meets the target on the calibration images")
            }
            var chosen = result(front[best].choice, passed: true, index: best, why: "")
            if let check = chosen.onCheck {
                if let maxDrop = options.maxDrop {
                    chosen.passed = check.drop <= maxDrop + 1e-12
                    chosen.why = chosen.passed ? "holdout drop within \(format(maxDrop * 100, decimals: 2)) pp"
                        : "holdout drop \(format(check.drop * 100, decimals: 2)) pp exceeds --max-drop \(format(maxDrop * 100, decimals: 2)) pp"
                } else if let budget = options.macBudget {
                    chosen.passed = check.macFraction <= budget + 1e-12
                    chosen.why = chosen.passed ? "holdout MACs within the budget"
                        : "holdout MAC fraction \(format(check.macFraction, decimals: 3)) exceeds --mac-budget \(budget)"
                }
            } else {
                chosen.why = "no holdout images: the choice is unchecked"
            }
            return chosen
        }
    }
}
