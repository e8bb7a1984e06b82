// `early-exit tune MODEL --images --labels (--max-drop PP | --mac-budget F)`: choose thresholds.
import EarlyExit
import Foundation

enum TuneCommand {
    static let spec = CommandSpec(
        name: "tune", summary: "choose per-exit thresholds on calibration data, report them on held-out data, optionally store them",
        positionals: [("MODEL", "an .eem model file")],
        options: [OptionSpec("--images", "IDX", "image file (IDX, plain or .gz): use the validation split, never the test set"),
                  OptionSpec("--labels", "IDX", "label file (IDX, plain or .gz)"),
                  OptionSpec("--max-drop", "PP", "cheapest setting within PP percentage points of full-network accuracy"),
                  OptionSpec("--mac-budget", "FRACTION", "most accurate setting with mean MACs at most FRACTION of the full network"),
                  OptionSpec("--signal", "SIGNAL", "gate (default), maxprob or entropy"),
                  OptionSpec("--holdout", "FRACTION", "share of the images held out to check the choice (default 0.3)"),
                  OptionSpec("--seed", "N", "seed of the calibration/holdout split (default 1)"),
                  OptionSpec("--limit", "N", "use only the first N images"),
                  OptionSpec("--combine", nil, "early exits combine the exits seen so far (eq. 9)"),
                  OptionSpec("--agree-with", "REFERENCE", "the same network in another precision (the float32 model of an int8 MODEL): only settings where both take the same exit often enough"),
                  OptionSpec("--min-agreement", "FRACTION", "with --agree-with: the share of calibration images that must take the same exit (default 0.99)"),
                  OptionSpec("--write", nil, "store the chosen policy in the model file"),
                  OptionSpec("-o", "FILE", "with --write: write the tuned model here instead of over MODEL"),
                  OptionSpec("--plot", "FILE.svg", "write the accuracy-vs-MACs frontier as an SVG plot"),
                  OptionSpec("--csv", "FILE", "write the frontier as CSV"),
                  OptionSpec("--json", nil, "print JSON")])

    static func run(_ arguments: ParsedArguments, _ console: Console) throws {
        let path = arguments.positionals[0]
        let model = try ModelFiles.loadModel(path)
        guard let images = arguments.value("--images"), let labels = arguments.value("--labels") else {
            throw UsageError("tune needs --images IDX and --labels IDX (the validation split)")
        }
        let maxDrop = try arguments.double("--max-drop", range: 0...100)
        let budget = try arguments.double("--mac-budget", range: 0...1)
        if (maxDrop == nil) == (budget == nil) { throw UsageError("give exactly one of --max-drop PP or --mac-budget FRACTION") }
        let gateless = (0..<model.earlyExitCount).filter { !model.exits[$0].hasGate }
        let signalName = arguments.value("--signal") ?? (gateless.isEmpty ? "gate" : "maxprob")
        guard let signal = ExitSignal(name: signalName), signal != .none else {
            throw UsageError("unknown signal '\(signalName)'; use gate, maxprob or entropy")
        }
        if signal == .gate, let exit = gateless.first {
            throw UsageError("exit\(exit + 1) of '\(path)' has no gate, so gate thresholds cannot be tuned; use --signal maxprob or entropy")
        }
        let holdout = try arguments.double("--holdout", default: 0.3, range: 0...0.9)!
        let seed = try arguments.int("--seed", default: 1, range: 0...Int(Int32.max))!
        if arguments.value("-o") != nil && !arguments.flag("--write") { throw UsageError("-o goes with --write") }
        if model.earlyExitCount == 0 { throw ToolError("model '\(path)' has no early exits to tune") }
        let limit = try arguments.int("--limit", range: 1...Int(Int32.max))
        let dataset = try ModelFiles.loadDataset(images: images, labels: labels, for: model, limit: limit)
        if dataset.count < 10 { throw ToolError("tuning needs at least 10 images, '\(images)' gives \(dataset.count)") }
        let referencePath = arguments.value("--agree-with")
        if referencePath == nil && arguments.value("--min-agreement") != nil { throw UsageError("--min-agreement goes with --agree-with REFERENCE") }
        let minAgreement = try arguments.double("--min-agreement", default: 0.99, range: 0...1)!
        let reference = try referencePath.map { try ModelFiles.loadModel($0) }
        if let reference, let referencePath { try checkReference(reference, referencePath, of: model, path) }

        var bar = ProgressBar(console: console, label: "running every exit")
        let combine = arguments.flag("--combine")
        let cache = try ExitCache.build(model: model, dataset: dataset, signal: signal, combineSeen: combine, progress: { bar.update($0, $1) })
        // Agreement is counted from the two caches' signals. For the gate signal an int8 model's
        // cached gate is tanh of the gate layer's accumulator, the value its integer threshold is
        // derived from, so the count is exact; for maxprob and entropy the int8 signal is computed
        // here from the dequantized logits, which can differ from the integer decision on ties.
        var referenceCache: ExitCache?
        if let reference, let referencePath {
            var referenceBar = ProgressBar(console: console, label: "running every exit of \(referencePath)")
            // The same input shape (checked above) and normalization give the same inputs: the
            // files are read and normalized again only when the reference normalizes differently.
            let sameInputs = reference.metadata.mean == model.metadata.mean && reference.metadata.std == model.metadata.std
            let referenceData = sameInputs ? dataset : try ModelFiles.loadDataset(images: images, labels: labels, for: reference, limit: limit)
            referenceCache = try ExitCache.build(model: reference, dataset: referenceData, signal: signal, combineSeen: combine,
                                               progress: { referenceBar.update($0, $1) })
        }

        // Deterministic split.
        var rng = SeededGenerator(seed: UInt64(seed))
        var order = Array(0..<dataset.count)
        order.shuffle(using: &rng)
        let holdoutCount = Int((Double(dataset.count) * holdout).rounded())
        let holdoutImages = Array(order.prefix(holdoutCount)).sorted()
        let calibrationImages = Array(order.dropFirst(holdoutCount)).sorted()

        var points = ThresholdTuner.search(cache, images: calibrationImages, exitCount: model.earlyExitCount)
        let evaluated = points.count
        if let referenceCache {
            for index in points.indices {
                points[index].agreement = cache.agreement(points[index].thresholds, images: calibrationImages, with: referenceCache)
            }
            // Never exiting early always agrees, so the constraint leaves at least that setting.
            points = points.filter { $0.agreement! >= minAgreement - 1e-12 }
        }
        let frontier = ThresholdTuner.frontier(points)
        let never = [Float](repeating: .infinity, count: model.earlyExitCount)
        let fullCalibration = cache.evaluate(never, images: calibrationImages).accuracy
        let chosen: TuningPoint
        if let maxDrop {
            let floor = fullCalibration - maxDrop / 100
            guard let best = frontier.first(where: { $0.accuracy >= floor - 1e-12 }) else {
                throw ToolError("no threshold setting reaches \(percentString(floor)) on the calibration images")
            }
            chosen = best
        } else {
            guard let best = frontier.filter({ $0.macFraction <= budget! + 1e-12 }).max(by: { $0.accuracy < $1.accuracy }) else {
                throw ToolError("no threshold setting keeps mean MACs within \(budget!) of the full network; the cheapest reaches \(format(frontier.first?.macFraction ?? 1, decimals: 3))")
            }
            chosen = best
        }
        // Finite thresholds stored in the file: "never" becomes a value no signal reaches.
        let stored = chosen.thresholds.map { storedThreshold($0, signal: signal) }
        let policy = ExitPolicy(signal: signal, thresholds: stored, combineSeenExits: combine)
        let onHoldout = holdoutImages.isEmpty ? nil : cache.evaluate(chosen.thresholds, images: holdoutImages)
        let fullHoldout = holdoutImages.isEmpty ? nil : cache.evaluate(never, images: holdoutImages).accuracy
        let agreementHoldout = holdoutImages.isEmpty ? nil : referenceCache.map { cache.agreement(chosen.thresholds, images: holdoutImages, with: $0) }

        if let plot = arguments.value("--plot") {
            try ModelFiles.writeBytes(Array(svg(points: points, frontier: frontier, chosen: chosen, fullAccuracy: fullCalibration, signal: signal).utf8), to: plot, what: "plot")
        }
        if let csvPath = arguments.value("--csv") {
            var lines = [(0..<model.earlyExitCount).map { "threshold_exit\($0 + 1)" }.joined(separator: ",") + ",calibration_accuracy,mean_mac_fraction,chosen"]
            for point in frontier {
                let thresholds = point.thresholds.map { "\(storedThreshold($0, signal: signal))" }.joined(separator: ",")
                lines.append("\(thresholds),\(point.accuracy),\(point.macFraction),\(point.thresholds == chosen.thresholds ? 1 : 0)")
            }
            try ModelFiles.writeBytes(Array((lines.joined(separator: "\n") + "\n").utf8), to: csvPath, what: "CSV file")
        }
        var writtenTo: String?
        if arguments.flag("--write") {
            let target = arguments.value("-o") ?? path
            let bytes = try ModelPatcher.settingPolicy(policy, in: try ModelFiles.readBytes(path, what: "model file"))
            try ModelFiles.writeBytes(bytes, to: target, what: "model file")
            writtenTo = target
        }

        if arguments.flag("--json") {
            var pairs: [(String, JSON)] = [
                ("signal", .string(signal.name)), ("thresholds", .floats(stored)),
                ("calibration_images", .int(calibrationImages.count)), ("holdout_images", .int(holdoutImages.count)),
                ("calibration_accuracy", .number(chosen.accuracy)), ("calibration_full_accuracy", .number(fullCalibration)),
                ("calibration_mac_fraction", .number(chosen.macFraction)),
                ("settings_evaluated", .int(evaluated)), ("settings_kept", .int(points.count)), ("frontier_points", .int(frontier.count)),
            ]
            if let onHoldout, let fullHoldout {
                pairs += [("holdout_accuracy", .number(onHoldout.accuracy)), ("holdout_full_accuracy", .number(fullHoldout)),
                          ("holdout_mac_fraction", .number(onHoldout.macFraction))]
            }
            if let referencePath, let agreement = chosen.agreement {
                pairs += [("agree_with", .string(referencePath)), ("min_agreement", .number(minAgreement)),
                          ("calibration_agreement", .number(agreement))]
                if let agreementHoldout { pairs.append(("holdout_agreement", .number(agreementHoldout))) }
            }
            pairs.append(("written_to", writtenTo.map { .string($0) } ?? .null))
            for line in LateExits.warnings(model) { console.err("note: \(line)") }
            console.out(JSON.object(pairs).text)
            return
        }
        var text = "tuned \(signal.name) thresholds on \(calibrationImages.count) calibration images (\(holdoutImages.count) held out); \(evaluated) settings evaluated, "
        if referenceCache != nil { text += "\(points.count) of them agree often enough, " }
        text += "\(frontier.count) on the frontier\n"
        text += "thresholds: \(stored.enumerated().map { "exit\($0.offset + 1)=\($0.element)" }.joined(separator: " "))\n\n"
        text += "\(pad("", 12)) \(pad("accuracy", 10)) \(pad("full network", 13)) \(pad("drop", 9)) mean MACs (saved)\n"
        text += "\(pad("calibration", 12)) \(pad(percentString(chosen.accuracy), 10)) \(pad(percentString(fullCalibration), 13)) \(pad(format((fullCalibration - chosen.accuracy) * 100, decimals: 2) + " pp", 9)) \(percentString(chosen.macFraction)) (\(percentString(1 - chosen.macFraction)))\n"
        if let onHoldout, let fullHoldout {
            text += "\(pad("holdout", 12)) \(pad(percentString(onHoldout.accuracy), 10)) \(pad(percentString(fullHoldout), 13)) \(pad(format((fullHoldout - onHoldout.accuracy) * 100, decimals: 2) + " pp", 9)) \(percentString(onHoldout.macFraction)) (\(percentString(1 - onHoldout.macFraction)))\n"
        }
        if let referencePath, let agreement = chosen.agreement {
            text += "\nsame exit as \(referencePath) (at least \(percentString(minAgreement)) required on calibration): calibration \(percentString(agreement))"
            if let agreementHoldout { text += ", holdout \(percentString(agreementHoldout))" }
            text += "\n"
        }
        if let writtenTo { text += "\nstored the policy in \(writtenTo)" }
        for line in LateExits.warnings(model) { text += "\nnote: \(line); its threshold is tuned with the others, but it cannot save more than that" }
        console.out(text)
    }

    /// A model to agree with must be the same network: same input, classes, exits and MACs.
    static func checkReference(_ reference: Model, _ referencePath: String, of model: Model, _ path: String) throws {
        func mismatch(_ what: String, _ a: String, _ b: String) -> ToolError {
            ToolError("--agree-with '\(referencePath)' is not the same network as '\(path)': \(what) \(b) against \(a)")
        }
        if reference.input.shape != model.input.shape { throw mismatch("input shape", "\(model.input.shape)", "\(reference.input.shape)") }
        if reference.classCount != model.classCount { throw mismatch("classes", "\(model.classCount)", "\(reference.classCount)") }
        if reference.earlyExitCount != model.earlyExitCount { throw mismatch("early exits", "\(model.earlyExitCount)", "\(reference.earlyExitCount)") }
        let macs = model.exits.map(\.cumulativeMACs), referenceMACs = reference.exits.map(\.cumulativeMACs)
        if macs != referenceMACs { throw mismatch("cumulative MACs at the exits", "\(macs)", "\(referenceMACs)") }
    }

    /// The value stored for a threshold: +infinity (never) becomes the signal's unreachable bound.
    static func storedThreshold(_ confidence: Float, signal: ExitSignal) -> Float {
        if signal == .entropy { return confidence.isInfinite ? -1 : -confidence }
        return confidence.isInfinite ? 2 : confidence
    }

    /// An SVG plot of accuracy against mean MACs: every setting, the frontier, and the choice.
    static func svg(points: [TuningPoint], frontier: [TuningPoint], chosen: TuningPoint, fullAccuracy: Double, signal: ExitSignal) -> String {
        let width = 640.0, height = 420.0, left = 70.0, right = 20.0, top = 40.0, bottom = 50.0
        let minAccuracy = max(0, min(frontier.map(\.accuracy).min() ?? 0, fullAccuracy - 0.05))
        let maxAccuracy = min(1, max(frontier.map(\.accuracy).max() ?? 1, fullAccuracy) + 0.005)
        func x(_ fraction: Double) -> Double { left + fraction * (width - left - right) }
        func y(_ accuracy: Double) -> Double { top + (maxAccuracy - accuracy) / max(maxAccuracy - minAccuracy, 1e-9) * (height - top - bottom) }
        func f(_ v: Double) -> String { format(v, decimals: 1) }
        var svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height))\" font-family=\"sans-serif\" font-size=\"12\">\n"
        svg += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
        svg += "<text x=\"\(f(width / 2))\" y=\"22\" text-anchor=\"middle\" font-size=\"14\">Early exit: accuracy vs mean MACs (\(signal.name) thresholds, calibration split)</text>\n"
        // Axes and grid.
        for tick in 0...10 {
            let fraction = Double(tick) / 10
            svg += "<line x1=\"\(f(x(fraction)))\" y1=\"\(f(top))\" x2=\"\(f(x(fraction)))\" y2=\"\(f(height - bottom))\" stroke=\"#eee\"/>\n"
            svg += "<text x=\"\(f(x(fraction)))\" y=\"\(f(height - bottom + 16))\" text-anchor=\"middle\">\(tick * 10)%</text>\n"
        }
        for tick in 0...5 {
            let accuracy = minAccuracy + (maxAccuracy - minAccuracy) * Double(tick) / 5
            svg += "<line x1=\"\(f(left))\" y1=\"\(f(y(accuracy)))\" x2=\"\(f(width - right))\" y2=\"\(f(y(accuracy)))\" stroke=\"#eee\"/>\n"
            svg += "<text x=\"\(f(left - 6))\" y=\"\(f(y(accuracy) + 4))\" text-anchor=\"end\">\(format(accuracy * 100, decimals: 1))%</text>\n"
        }
        svg += "<text x=\"\(f(width / 2))\" y=\"\(f(height - 10))\" text-anchor=\"middle\">mean MACs executed (fraction of the full network)</text>\n"
        svg += "<text x=\"16\" y=\"\(f(height / 2))\" text-anchor=\"middle\" transform=\"rotate(-90 16 \(f(height / 2)))\">top-1 accuracy</text>\n"
        let step = max(1, points.count / 4000)
        for (index, point) in points.enumerated() where index % step == 0 && point.accuracy >= minAccuracy {
            svg += "<circle cx=\"\(f(x(point.macFraction)))\" cy=\"\(f(y(point.accuracy)))\" r=\"1.2\" fill=\"#9bb\"/>\n"
        }
        let line = frontier.filter { $0.accuracy >= minAccuracy }.map { "\(f(x($0.macFraction))),\(f(y($0.accuracy)))" }.joined(separator: " ")
        svg += "<polyline points=\"\(line)\" fill=\"none\" stroke=\"#1f5fa8\" stroke-width=\"2\"/>\n"
        svg += "<line x1=\"\(f(left))\" y1=\"\(f(y(fullAccuracy)))\" x2=\"\(f(width - right))\" y2=\"\(f(y(fullAccuracy)))\" stroke=\"#c33\" stroke-dasharray=\"4 3\"/>\n"
        svg += "<text x=\"\(f(width - right - 4))\" y=\"\(f(y(fullAccuracy) - 5))\" text-anchor=\"end\" fill=\"#c33\">full network \(format(fullAccuracy * 100, decimals: 2))%</text>\n"
        svg += "<circle cx=\"\(f(x(chosen.macFraction)))\" cy=\"\(f(y(chosen.accuracy)))\" r=\"6\" fill=\"none\" stroke=\"#e07000\" stroke-width=\"2.5\"/>\n"
        svg += "<text x=\"\(f(x(chosen.macFraction) + 9))\" y=\"\(f(y(chosen.accuracy) + 16))\" fill=\"#e07000\">chosen: \(format(chosen.accuracy * 100, decimals: 2))%, \(format(chosen.macFraction * 100, decimals: 1))% of MACs</text>\n"
        svg += "</svg>\n"
        return svg
    }
}
