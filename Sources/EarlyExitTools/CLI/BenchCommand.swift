// `early-exit bench MODEL --images IDX --labels IDX`: early exit vs full network, side by side.
import EarlyExit
import Foundation

enum BenchCommand {
    static let spec = CommandSpec(
        name: "bench", summary: "measure accuracy, exits, MACs saved and latency: early exit vs the full network, in one run",
        positionals: [("MODEL", "an .eem model file")],
        options: [OptionSpec("--images", "IDX", "image file (IDX, plain or .gz)"),
                  OptionSpec("--labels", "IDX", "label file (IDX, plain or .gz)"),
                  OptionSpec("--limit", "N", "use only the first N images"),
                  OptionSpec("--warmup", "N", "untimed runs per configuration first (default 50)"),
                  OptionSpec("--threads", "N", "images measured in parallel, one interpreter per thread (default: all cores); latency is then each image's thread CPU time, with 1 wall-clock time")]
            + PolicyOptions.options + [
                OptionSpec("--json", nil, "print JSON"),
                OptionSpec("--csv", nil, "print CSV"),
                OptionSpec("--profile", nil, "instead: time every operator of the full network and list where the time goes (text or --json)"),
            ],
        notes: """
            latency figures need a sample: with fewer than \(minimumTimedImages) timed images p99 is the slowest single image and
            p90 rests on fewer than 10, and without warm-up (--warmup 0) the first runs pay one-time costs (page faults of
            the arena, cold caches). bench then prints a caution (in --json: "latency_caution"; with --csv: on standard
            error). Accuracy, exits and MACs are exact counts at any size.
            """)

    /// Below this many timed images per configuration, latency figures get a caution: p99 by
    /// nearest rank is then the largest sample (rank ⌈0.99·n⌉ = n for n < 100).
    static let minimumTimedImages = 100

    /// The caution for latency figures measured on `images` images after `warmup` untimed runs, or nil.
    static func latencyCaution(images: Int, warmup: Int) -> String? {
        var reasons: [String] = []
        if images < minimumTimedImages {
            // Nearest rank: p90 is sample ⌈0.9·n⌉ of n, so it is set by the slowest n − ⌈0.9·n⌉ + 1.
            let tail = max(images - Int((0.9 * Double(images)).rounded(.up)) + 1, 1)
            let plural = images == 1 ? "" : "s"
            reasons.append("only \(images) image\(plural) timed per configuration (fewer than \(minimumTimedImages): p99 is the "
                + "slowest single image, and p90 is set by the slowest \(tail))")
        }
        if warmup == 0 { reasons.append("no warm-up (--warmup 0): the first runs include one-time costs such as page faults of the arena and cold caches") }
        if reasons.isEmpty { return nil }
        return "latency figures are not meaningful here: " + reasons.joined(separator: "; ")
            + ". Time at least \(minimumTimedImages) images with the default warm-up (50) before comparing latencies."
    }

    static func run(_ arguments: ParsedArguments, _ console: Console) throws {
        let model = try ModelFiles.loadModel(arguments.positionals[0])
        guard let images = arguments.value("--images"), let labels = arguments.value("--labels") else {
            throw UsageError("bench needs --images IDX and --labels IDX")
        }
        if arguments.flag("--json") && arguments.flag("--csv") { throw UsageError("choose --json or --csv, not both") }
        let limit = try arguments.int("--limit", range: 1...Int(Int32.max))
        let warmup = try arguments.int("--warmup", default: 50, range: 0...100_000)!
        let policy = try PolicyOptions.policy(arguments, model: model)
        let threads = try Parallel.threads(arguments)
        let dataset = try ModelFiles.loadDataset(images: images, labels: labels, for: model, limit: limit)
        if arguments.flag("--profile") {
            if arguments.flag("--csv") { throw UsageError("--profile prints text or --json, not --csv") }
            let report = try profile(model: model, dataset: dataset, warmup: min(warmup, dataset.count))
            console.out(arguments.flag("--json") ? report.json.text : report.text)
            return
        }
        var bar = ProgressBar(console: console, label: "bench")
        let results = try Evaluation.measure(
            model: model, dataset: dataset,
            configurations: [("early-exit", policy), ("full", .fullNetwork(earlyExitCount: model.earlyExitCount))],
            warmup: warmup, threads: threads, progress: { bar.update($0, $1) })
        let caution = latencyCaution(images: dataset.count, warmup: warmup)
        if arguments.flag("--json") {
            console.out(json(results, model: model, caution: caution, latency: Evaluation.latencyKind(threads: threads)).text)
        } else if arguments.flag("--csv") {
            if let caution { console.err("caution: \(caution)") }
            console.out(csv(results, model: model))
        } else {
            console.out(table(results, model: model, images: images, caution: caution) + "latency: \(Evaluation.latencyKind(threads: threads))\n")
        }
    }

    /// Where the full network's time goes, per operator and per kind, as text and JSON.
    struct Profile {
        var text: String
        var json: JSON
    }

    /// Runs the full network on every image, timing each operator (wall clock between the
    /// interpreter's per-operator callbacks): every operator in schedule order, then the totals
    /// per operator kind.
    static func profile(model: Model, dataset: Dataset, warmup: Int) throws -> Profile {
        let interpreter = Interpreter(model: model)
        try interpreter.setPolicy(.fullNetwork(earlyExitCount: model.earlyExitCount))
        var nanoseconds = [UInt64](repeating: 0, count: model.operators.count)
        var executed = [Int](repeating: 0, count: model.operators.count)
        var total: UInt64 = 0
        for pass in 0..<2 {
            let images = pass == 0 ? warmup : dataset.count
            for image in 0..<images {
                try dataset.inputs[image].withUnsafeBufferPointer { buffer in
                    var last = Evaluation.now()
                    let start = last
                    _ = try interpreter.run(buffer, afterEachOperator: { index in
                        let time = Evaluation.now()
                        if pass == 1 { nanoseconds[index] += time - last; executed[index] += 1 }
                        last = time
                    })
                    if pass == 1 { total += Evaluation.now() - start }
                }
            }
        }
        let images = Double(max(dataset.count, 1))
        let precision = model.isQuantized ? "int8" : "float32"
        let caution = latencyCaution(images: dataset.count, warmup: warmup)
        func right(_ text: String, _ width: Int) -> String {
            text.count >= width ? text : String(repeating: " ", count: width - text.count) + text
        }
        var lines = ["\(dataset.count) images, full network, \(precision); build: \(BuildInfo.description); kernels: \(model.kernels.name)",
                     "mean per image: \(format(Double(total) / images / 1000, decimals: 1)) µs (the operators' sum includes the callbacks' overhead)"]
        if let caution { lines.append("caution: \(caution)") }
        lines += ["", "  \(right("op", 4))  \(pad("kind", 16)) \(pad("output shape", 18)) \(right("MACs", 10))  \(right("µs/image", 9))  \(right("share", 6))  \(right("GMAC/s", 8))"]
        let byKind = Dictionary(grouping: model.operators.indices, by: { model.operators[$0].kind.name })
        let sum = Double(max(nanoseconds.reduce(0, +), 1))
        var operatorsJSON: [JSON] = []
        for index in model.operators.indices where executed[index] > 0 {
            let op = model.operators[index]
            let micro = Double(nanoseconds[index]) / Double(executed[index]) / 1000
            let rate: Double? = op.macs > 0 && micro > 0 ? Double(op.macs) / (micro * 1000) : nil
            let share = 100 * Double(nanoseconds[index]) / sum
            lines.append("  \(right(String(index), 4))  \(pad(op.kind.name, 16)) \(pad(model.tensors[op.output].shape.description, 18)) "
                + "\(right(String(op.macs), 10))  \(right(format(micro, decimals: 1), 9))  \(right(format(share, decimals: 1) + "%", 6))  "
                + right(rate.map { format($0, decimals: 2) } ?? "-", 8))
            operatorsJSON.append(.object([
                ("index", .int(index)), ("kind", .string(op.kind.name)),
                ("output_shape", .array(model.tensors[op.output].shape.dims.map { .int($0) })),
                ("macs", .int(op.macs)), ("us_per_image", .number(micro)), ("share", .number(share / 100)),
                ("gmacs_per_s", rate.map { .number($0) } ?? .null),
            ]))
        }
        lines.append("")
        lines.append("by kind:")
        var kinds: [(kind: String, count: Int, time: UInt64)] = []
        for (kind, indices) in byKind {
            var time: UInt64 = 0
            for index in indices { time += nanoseconds[index] }
            kinds.append((kind, indices.count, time))
        }
        kinds.sort { $0.time > $1.time || ($0.time == $1.time && $0.kind < $1.kind) }
        var kindsJSON: [JSON] = []
        for (kind, count, time) in kinds {
            let micro = Double(time) / images / 1000, share = 100 * Double(time) / sum
            lines.append("  \(pad(kind, 16)) \(right(String(count), 3)) ops  \(right(format(micro, decimals: 1), 9)) µs/image  \(right(format(share, decimals: 1), 5))%")
            kindsJSON.append(.object([("kind", .string(kind)), ("operators", .int(count)), ("us_per_image", .number(micro)),
                                      ("share", .number(share / 100))]))
        }
        let json = JSON.object([
            ("model", .string(model.metadata.name)), ("images", .int(dataset.count)), ("precision", .string(precision)),
            ("build", .string(BuildInfo.description)), ("mean_us_per_image", .number(Double(total) / images / 1000)),
            ("latency_caution", caution.map { .string($0) } ?? .null),
            ("operators", .array(operatorsJSON)), ("kinds", .array(kindsJSON)),
        ])
        return Profile(text: lines.joined(separator: "\n"), json: json)
    }

    static func json(_ results: [ConfigurationResult], model: Model, caution: String? = nil, latency: String = "") -> JSON {
        .object([
            ("model", .string(model.metadata.name)),
            ("latency", .string(latency)),
            ("images", .int(results.first?.images ?? 0)),
            ("latency_caution", caution.map { .string($0) } ?? .null),
            ("arena_bytes", .int(model.plan.arenaBytes)),
            ("macs_full", .int(model.totalMACs)),
            ("build", .string(BuildInfo.description)),
            ("configurations", .array(results.map { r in
                .object([
                    ("name", .string(r.name)),
                    ("policy", .string(r.policy.signal.name)),
                    ("thresholds", .floats(r.policy.thresholds)),
                    ("accuracy", .number(r.accuracy)),
                    ("mean_macs", .number(r.meanMACs)),
                    ("macs_saved_fraction", .number(r.macsSavedFraction)),
                    ("latency_ns_mean", .number(r.meanLatency)),
                    ("latency_ns_p50", .number(r.percentile(0.5))),
                    ("latency_ns_p90", .number(r.percentile(0.9))),
                    ("latency_ns_p99", .number(r.percentile(0.99))),
                    ("throughput_per_s", .number(1e9 / max(r.meanLatency, 1))),
                    ("allocations", r.allocations.map { .int(Int($0)) } ?? .null),
                    ("exits", .array((0..<model.exits.count).map { e in
                        .object([("name", .string(exitName(e, model))), ("count", .int(r.exitCounts[e])),
                                 ("share", .number(Double(r.exitCounts[e]) / Double(max(r.images, 1)))),
                                 ("accuracy", r.exitCounts[e] > 0 ? .number(Double(r.exitCorrect[e]) / Double(r.exitCounts[e])) : .null)])
                    })),
                ])
            })),
        ])
    }

    static func csv(_ results: [ConfigurationResult], model: Model) -> String {
        var header = "configuration,policy,images,accuracy,mean_macs,macs_saved_fraction,latency_us_mean,latency_us_p50,latency_us_p90,latency_us_p99,throughput_per_s,allocations"
        for e in 0..<model.exits.count { header += ",\(exitName(e, model))_share,\(exitName(e, model))_accuracy" }
        var lines = [header]
        for r in results {
            var line = "\(r.name),\(r.policy.signal.name),\(r.images),\(r.accuracy),\(r.meanMACs),\(r.macsSavedFraction),\(r.meanLatency / 1000),\(r.percentile(0.5) / 1000),\(r.percentile(0.9) / 1000),\(r.percentile(0.99) / 1000),\(1e9 / max(r.meanLatency, 1)),\(r.allocations.map { String($0) } ?? "")"
            for e in 0..<model.exits.count {
                line += ",\(Double(r.exitCounts[e]) / Double(max(r.images, 1))),\(r.exitCounts[e] > 0 ? String(Double(r.exitCorrect[e]) / Double(r.exitCounts[e])) : "")"
            }
            lines.append(line)
        }
        return lines.joined(separator: "\n")
    }

    static func table(_ results: [ConfigurationResult], model: Model, images: String, caution: String? = nil) -> String {
        guard results.count == 2 else { return "" }
        let early = results[0], full = results[1]
        func us(_ ns: Double) -> String { format(ns / 1000, decimals: 1) + " µs" }
        var text = "\(early.images) images from \(images); model \(model.metadata.name), \(model.totalMACs) MACs full, arena \(model.plan.arenaBytes) bytes\n"
        text += "build: \(BuildInfo.description)\n"
        text += "kernels: \(model.kernels.description)\n"
        text += "policy: \(PolicyDescription.summary(early.policy)); \((0..<model.earlyExitCount).map { "\(exitName($0, model)): \(PolicyDescription.rule(early.policy, exit: $0))" }.joined(separator: "; "))\n\n"
        text += "\(pad("", 22)) \(pad("early exit", 14)) \(pad("full network", 14)) ratio\n"
        text += "\(pad("accuracy", 22)) \(pad(percentString(early.accuracy), 14)) \(pad(percentString(full.accuracy), 14)) \(format((early.accuracy - full.accuracy) * 100, decimals: 2)) pp\n"
        text += "\(pad("mean MACs", 22)) \(pad(format(early.meanMACs, decimals: 0), 14)) \(pad(format(full.meanMACs, decimals: 0), 14)) \(format(early.meanMACs / max(full.meanMACs, 1), decimals: 3))× (\(percentString(early.macsSavedFraction)) saved)\n"
        for (label, q) in [("latency p50", 0.5), ("latency p90", 0.9), ("latency p99", 0.99)] {
            text += "\(pad(label, 22)) \(pad(us(early.percentile(q)), 14)) \(pad(us(full.percentile(q)), 14)) \(format(early.percentile(q) / max(full.percentile(q), 1), decimals: 3))×\n"
        }
        text += "\(pad("latency mean", 22)) \(pad(us(early.meanLatency), 14)) \(pad(us(full.meanLatency), 14)) \(format(early.meanLatency / max(full.meanLatency, 1), decimals: 3))×\n"
        text += "\(pad("throughput", 22)) \(pad(format(1e9 / max(early.meanLatency, 1), decimals: 0) + "/s", 14)) \(pad(format(1e9 / max(full.meanLatency, 1), decimals: 0) + "/s", 14))\n"
        let allocations = { (r: ConfigurationResult) in r.allocations.map { String($0) } ?? "n/a" }
        text += "\(pad("heap allocations", 22)) \(pad(allocations(early), 14)) \(pad(allocations(full), 14))\n"
        if let caution { text += "caution: \(caution)\n" }
        text += "\n"
        text += "exits taken (early exit):\n"
        for e in 0..<model.exits.count {
            let share = Double(early.exitCounts[e]) / Double(max(early.images, 1))
            let accuracy = early.exitCounts[e] > 0 ? percentString(Double(early.exitCorrect[e]) / Double(early.exitCounts[e])) : "-"
            text += "  \(pad(exitName(e, model), 7)) at \(pad(percentString(Double(model.exits[e].cumulativeMACs) / Double(max(model.totalMACs, 1))), 7)) of MACs: \(pad("\(early.exitCounts[e])", 6)) images (\(pad(percentString(share), 6))), accuracy \(accuracy)\n"
        }
        return text
    }
}

func percentString(_ fraction: Double) -> String { format(fraction * 100, decimals: 1) + "%" }
