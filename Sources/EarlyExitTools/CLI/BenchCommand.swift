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
                  OptionSpec("--warmup", "N", "untimed runs per configuration first (default 50)")]
            + PolicyOptions.options + [
                OptionSpec("--json", nil, "print JSON"),
                OptionSpec("--csv", nil, "print CSV"),
                OptionSpec("--profile", nil, "instead: time every operator of the full network and list where the time goes"),
            ])

    static func run(_ arguments: ParsedArguments, _ console: Console) throws {
        let model = try ModelFiles.loadModel(arguments.positionals[0])
        guard let images = arguments.value("--images"), let labels = arguments.value("--labels") else {
            throw UsageError("bench needs --images IDX and --labels IDX")
        }
        if arguments.flag("--json") && arguments.flag("--csv") { throw UsageError("choose --json or --csv, not both") }
        let limit = try arguments.int("--limit", range: 1...Int(Int32.max))
        let warmup = try arguments.int("--warmup", default: 50, range: 0...100_000)!
        let policy = try PolicyOptions.policy(arguments, model: model)
        let dataset = try ModelFiles.loadDataset(images: images, labels: labels, for: model, limit: limit)
        if arguments.flag("--profile") {
            console.out(try profile(model: model, dataset: dataset, warmup: min(warmup, dataset.count)))
            return
        }
        var bar = ProgressBar(console: console, label: "bench")
        let results = try Evaluation.measure(
            model: model, dataset: dataset,
            configurations: [("early-exit", policy), ("full", .fullNetwork(earlyExitCount: model.earlyExitCount))],
            warmup: warmup, progress: { bar.update($0, $1) })
        if arguments.flag("--json") {
            console.out(json(results, model: model).text)
        } else if arguments.flag("--csv") {
            console.out(csv(results, model: model))
        } else {
            console.out(table(results, model: model, images: images))
        }
    }

    /// Runs the full network on every image, timing each operator (wall clock between the
    /// interpreter's per-operator callbacks): every operator in schedule order, then the totals
    /// per operator kind.
    static func profile(model: Model, dataset: Dataset, warmup: Int) throws -> String {
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
        var lines = ["\(dataset.count) images, full network, \(model.isQuantized ? "int8" : "float32"); build: \(BuildInfo.description)",
                     "mean per image: \(String(format: "%.1f", Double(total) / images / 1000)) µs (the operators' sum includes the callbacks' overhead)",
                     "", "  op  kind             output shape        MACs        µs/image   share   GMAC/s"]
        let byKind = Dictionary(grouping: model.operators.indices, by: { model.operators[$0].kind.name })
        let sum = Double(max(nanoseconds.reduce(0, +), 1))
        for index in model.operators.indices where executed[index] > 0 {
            let op = model.operators[index]
            let micro = Double(nanoseconds[index]) / Double(executed[index]) / 1000
            let rate = op.macs > 0 ? String(format: "%8.2f", Double(op.macs) / (micro * 1000)) : "       -"
            lines.append(String(format: "%4d  %-16@ %-18@ %10d  %9.1f  %5.1f%%  ", index, op.kind.name as NSString,
                                model.tensors[op.output].shape.description as NSString, op.macs, micro,
                                100 * Double(nanoseconds[index]) / sum) + rate)
        }
        lines.append("")
        lines.append("by kind:")
        let kinds = byKind.map { kind, indices in (kind, indices.count, indices.reduce(UInt64(0)) { $0 + nanoseconds[$1] }) }
        for (kind, count, time) in kinds.sorted(by: { $0.2 > $1.2 }) {
            lines.append(String(format: "  %-16@ %3d ops  %9.1f µs/image  %5.1f%%", kind as NSString, count,
                                Double(time) / images / 1000, 100 * Double(time) / sum))
        }
        return lines.joined(separator: "\n")
    }

    static func json(_ results: [ConfigurationResult], model: Model) -> JSON {
        .object([
            ("model", .string(model.metadata.name)),
            ("images", .int(results.first?.images ?? 0)),
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

    static func table(_ results: [ConfigurationResult], model: Model, images: String) -> String {
        guard results.count == 2 else { return "" }
        let early = results[0], full = results[1]
        func us(_ ns: Double) -> String { format(ns / 1000, decimals: 1) + " µs" }
        var text = "\(early.images) images from \(images); model \(model.metadata.name), \(model.totalMACs) MACs full, arena \(model.plan.arenaBytes) bytes\n"
        text += "build: \(BuildInfo.description)\n"
        text += "policy: \(early.policy.signal.name), thresholds \(early.policy.thresholds.map { "\($0)" }.joined(separator: ", "))\n\n"
        text += "\(pad("", 22)) \(pad("early exit", 14)) \(pad("full network", 14)) ratio\n"
        text += "\(pad("accuracy", 22)) \(pad(percentString(early.accuracy), 14)) \(pad(percentString(full.accuracy), 14)) \(format((early.accuracy - full.accuracy) * 100, decimals: 2)) pp\n"
        text += "\(pad("mean MACs", 22)) \(pad(format(early.meanMACs, decimals: 0), 14)) \(pad(format(full.meanMACs, decimals: 0), 14)) \(format(early.meanMACs / max(full.meanMACs, 1), decimals: 3))× (\(percentString(early.macsSavedFraction)) saved)\n"
        for (label, q) in [("latency p50", 0.5), ("latency p90", 0.9), ("latency p99", 0.99)] {
            text += "\(pad(label, 22)) \(pad(us(early.percentile(q)), 14)) \(pad(us(full.percentile(q)), 14)) \(format(early.percentile(q) / max(full.percentile(q), 1), decimals: 3))×\n"
        }
        text += "\(pad("latency mean", 22)) \(pad(us(early.meanLatency), 14)) \(pad(us(full.meanLatency), 14)) \(format(early.meanLatency / max(full.meanLatency, 1), decimals: 3))×\n"
        text += "\(pad("throughput", 22)) \(pad(format(1e9 / max(early.meanLatency, 1), decimals: 0) + "/s", 14)) \(pad(format(1e9 / max(full.meanLatency, 1), decimals: 0) + "/s", 14))\n"
        let allocations = { (r: ConfigurationResult) in r.allocations.map { String($0) } ?? "n/a" }
        text += "\(pad("heap allocations", 22)) \(pad(allocations(early), 14)) \(pad(allocations(full), 14))\n\n"
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
