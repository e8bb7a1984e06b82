// `early-exit tune MODEL --images --labels --max-drop PP`: choose per-exit exit rules with a
// stated guarantee (Learn-then-Test), or empirically (calibration/holdout) for comparison.
import EarlyExit
import Foundation

enum TuneCommand {
    static let guarantee = """
        guaranteed mode (the default): the images are split once (by --seed) into a search part (--search, default 0.5), which \
        finds the per-exit candidate rules and fixes the order in which settings are tested, and a test part, on which each \
        setting in that order is tested at level 1 - confidence and testing stops at the first that fails (fixed-sequence \
        Learn-then-Test). The order: the settings no other beats in both MACs and a rough bound of the drop on the search \
        images, from the fewest MACs saved up, where the bound counts for each exiting image the rate of wrong exits among \
        search images of similar confidence (label-smoothed, so that the order does not chase lucky labels). Each test is \
        exact: on the test images, W = images the early exit gets wrong and the full network right, B = the reverse; the \
        p-value of "drop > PP" is that of the studentized statistic (PP x n - (W - B)) / sqrt(W + B + 1), maximized over \
        every rate of B up to its exact upper (1 - g) bound, plus g = 0.01 x (1 - confidence) (Berger-Boos), from exact \
        trinomial sums; a setting with few discordant images may be tested on W alone (P(Binomial(n, PP) <= W)) when that \
        is stronger on the search images. Guarantee: if the tuning images and the images the model will see are \
        exchangeable (independent draws from one distribution), then with probability at least --confidence over the \
        tuning images, every certified setting, and so the chosen one, has an expected accuracy drop against the full \
        network of at most PP on new images. It says nothing about images from another distribution, and the drop on a \
        finite set of new images varies around its expectation.
        """

    static let spec = CommandSpec(
        name: "tune", summary: "choose per-exit exit rules (signals and thresholds) with a stated guarantee on the accuracy drop, optionally store them",
        positionals: [("MODEL", "an .eem model file")],
        options: [OptionSpec("--images", "IDX", "image file (IDX, plain or .gz): use the validation split, never the test set"),
                  OptionSpec("--labels", "IDX", "label file (IDX, plain or .gz)"),
                  OptionSpec("--max-drop", "PP", "the largest acceptable accuracy drop against the full network, in percentage points"),
                  OptionSpec("--confidence", "C", "guaranteed mode: probability (0.5 to 0.9999, default 0.9) that the chosen setting's expected drop is within --max-drop"),
                  OptionSpec("--search", "FRACTION", "guaranteed mode: share of the images that finds and orders the candidates (default 0.5); the rest test them"),
                  OptionSpec("--empirical", nil, "instead: choose the cheapest setting within --max-drop on a calibration split and check it on --holdout (no guarantee)"),
                  OptionSpec("--mac-budget", "FRACTION", "with --empirical: the most accurate setting with mean MACs at most FRACTION of the full network"),
                  OptionSpec("--holdout", "FRACTION", "with --empirical: share of the images held out to check the choice (default 0.3)"),
                  OptionSpec("--signal", "SIGNAL", "auto (default: for each exit the signal with the highest AUROC on the search images), gate, maxprob or entropy for every exit, or gate+maxprob: 'gate >= a and maxprob >= b' at every exit"),
                  OptionSpec("--seed", "N", "seed of the split (default 1)"),
                  OptionSpec("--limit", "N", "use only the first N images"),
                  OptionSpec("--combine", nil, "early exits combine the exits seen so far (eq. 9)"),
                  OptionSpec("--agree-with", "REFERENCE", "the same network in another precision (the float32 model of an int8 MODEL): only settings where both take the same exit often enough"),
                  OptionSpec("--min-agreement", "FRACTION", "with --agree-with: the share of search images that must take the same exit (default 0.99)"),
                  OptionSpec("--write", nil, "store the chosen policy in the model file; refused when the choice failed its check"),
                  OptionSpec("--write-unchecked", nil, "with --write: store the choice even when it failed its check"),
                  OptionSpec("-o", "FILE", "with --write: write the tuned model here instead of over MODEL"),
                  Parallel.option,
                  OptionSpec("--plot", "FILE.svg", "write the accuracy-vs-MACs frontier of the search images as an SVG plot"),
                  OptionSpec("--csv", "FILE", "write the frontier as CSV"),
                  OptionSpec("--json", nil, "print JSON")],
        notes: wrapped(guarantee, width: 96))

    static func run(_ arguments: ParsedArguments, _ console: Console) throws {
        let path = arguments.positionals[0]
        let model = try ModelFiles.loadModel(path)
        guard let images = arguments.value("--images"), let labels = arguments.value("--labels") else {
            throw UsageError("tune needs --images IDX and --labels IDX (the validation split)")
        }
        let maxDropPP = try arguments.double("--max-drop", range: 0...100)
        let budget = try arguments.double("--mac-budget", range: 0...1)
        let empirical = arguments.flag("--empirical")
        if (maxDropPP == nil) == (budget == nil) { throw UsageError("give exactly one of --max-drop PP or --mac-budget FRACTION") }
        if budget != nil && !empirical { throw UsageError("--mac-budget is an empirical choice without a guarantee: add --empirical") }
        if empirical && (arguments.value("--confidence") != nil || arguments.value("--search") != nil) {
            throw UsageError("--confidence and --search belong to the guaranteed mode, not --empirical")
        }
        if !empirical && arguments.value("--holdout") != nil { throw UsageError("--holdout goes with --empirical; the guaranteed mode splits with --search") }
        let confidence = try arguments.double("--confidence", default: 0.9, range: 0.5...0.9999)!
        let searchFraction = try arguments.double("--search", default: 0.5, range: 0.05...0.95)!
        let holdout = try arguments.double("--holdout", default: 0.3, range: 0...0.9)!
        let signalName = arguments.value("--signal") ?? "auto"
        let gateless = (0..<model.earlyExitCount).filter { !model.exits[$0].hasGate }
        if signalName == "gate" || signalName == "gate+maxprob", let exit = gateless.first {
            throw UsageError("exit\(exit + 1) of '\(path)' has no gate, so gate thresholds cannot be tuned; use --signal auto, maxprob or entropy")
        }
        let signals: [ExitSignal]
        if signalName == "auto" {
            // Without a gate at every early exit, auto chooses among the softmax signals.
            signals = gateless.isEmpty ? [.gate, .maxProbability, .entropy] : [.maxProbability, .entropy]
        } else if signalName == "gate+maxprob" {
            signals = [.gate, .maxProbability]
        } else {
            guard let signal = ExitSignal(name: signalName), signal != .none else {
                throw UsageError("unknown signal '\(signalName)'; use auto, gate, maxprob or entropy")
            }
            signals = [signal]
        }
        let seed = try arguments.int("--seed", default: 1, range: 0...Int(Int32.max))!
        let threads = try Parallel.threads(arguments)
        if arguments.value("-o") != nil && !arguments.flag("--write") { throw UsageError("-o goes with --write") }
        if arguments.flag("--write-unchecked") && !arguments.flag("--write") { throw UsageError("--write-unchecked goes with --write") }
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
        let cache = try ExitCache.build(model: model, dataset: dataset, combineSeen: combine, threads: threads, progress: { bar.update($0, $1) })
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
            referenceCache = try ExitCache.build(model: reference, dataset: referenceData, combineSeen: combine, threads: threads,
                                               progress: { referenceBar.update($0, $1) })
        }

        let mode: TuningOptions.Mode = empirical ? .empirical(holdout: holdout) : .guaranteed(confidence: confidence, searchFraction: searchFraction)
        let options = TuningOptions(mode: mode, maxDrop: maxDropPP.map { $0 / 100 }, macBudget: budget, signals: signals,
                                    combinations: signalName == "gate+maxprob", seed: UInt64(seed), minAgreement: minAgreement)
        let all = Array(0..<cache.count)
        let result = ThresholdTuner.tune(cache: cache, reference: referenceCache, images: all, options: options)
        let policy = ThresholdTuner.policy(result.rules, combine: combine)
        func fullAccuracy(_ images: [Int]) -> Double {
            Double(images.filter { cache.fullCorrect[$0] }.count) / Double(max(images.count, 1))
        }
        let fullSearch = fullAccuracy(result.searchImages)

        if let plot = arguments.value("--plot") {
            let dots = result.frontier.map { Dot(macFraction: $0.macFraction, accuracy: fullSearch - $0.drop) }
            let chosen = Dot(macFraction: result.onSearch.macFraction, accuracy: fullSearch - result.onSearch.drop)
            let title = empirical ? "calibration images" : "search images"
            try ModelFiles.writeBytes(Array(svg(points: dots, frontier: dots, chosen: chosen, fullAccuracy: fullSearch, title: title).utf8), to: plot, what: "plot")
        }
        if let csvPath = arguments.value("--csv") {
            var lines = [(0..<model.earlyExitCount).map { "rule_exit\($0 + 1)" }.joined(separator: ",") + ",search_drop_pp,search_mac_fraction,chosen"]
            for (index, point) in result.frontier.enumerated() {
                let rules = point.rules.map { "\"\($0.description)\"" }.joined(separator: ",")
                lines.append("\(rules),\(point.drop * 100),\(point.macFraction),\(index == result.chosenFrontierIndex ? 1 : 0)")
            }
            try ModelFiles.writeBytes(Array((lines.joined(separator: "\n") + "\n").utf8), to: csvPath, what: "CSV file")
        }
        // Per exit, how well each signal ranks the exit's right predictions above its wrong ones.
        let aurocs: [[(ExitSignal, Double?)]] = (0..<model.earlyExitCount).map { exit in
            [ExitSignal.gate, .maxProbability, .entropy].map { ($0, cache.auroc($0, exit: exit, images: all)) }
        }
        var writtenTo: String?
        var refusal: String?
        if arguments.flag("--write") {
            if !result.passed && !arguments.flag("--write-unchecked") {
                refusal = "not stored: the chosen setting failed its check (\(result.why)); --write-unchecked stores it anyway"
            } else {
                let target = arguments.value("-o") ?? path
                let bytes = try ModelPatcher.settingPolicy(policy, in: try ModelFiles.readBytes(path, what: "model file"))
                try ModelFiles.writeBytes(bytes, to: target, what: "model file")
                writtenTo = target
            }
        }

        if arguments.flag("--json") {
            func pointJSON(_ p: TuningPoint, full: Double) -> JSON {
                var pairs: [(String, JSON)] = [("images", .int(p.counts.images)), ("accuracy", .number(full - p.drop)), ("full_accuracy", .number(full)),
                                               ("drop", .number(p.drop)), ("worse", .int(p.counts.worse)), ("better", .int(p.counts.better)),
                                               ("mac_fraction", .number(p.macFraction))]
                if let agreement = p.agreement { pairs.append(("agreement", .number(agreement))) }
                return .object(pairs)
            }
            var pairs: [(String, JSON)] = [
                ("mode", .string(empirical ? "empirical" : "guaranteed")), ("passed", .bool(result.passed)), ("why", .string(result.why)),
                ("policy", .string(PolicyDescription.summary(policy))), ("signal", .string(policy.signal.name)), ("thresholds", .floats(policy.thresholds)),
                ("rules", .array(result.rules.map { .string($0.description) })),
                ("search_images", .int(result.searchImages.count)), ("check_images", .int(result.checkImages.count)),
                ("search", pointJSON(result.onSearch, full: fullSearch)), ("all", pointJSON(result.onAll, full: fullAccuracy(all))),
                ("settings_evaluated", .int(result.settingsEvaluated)), ("settings_kept", .int(result.settingsKept)),
                ("frontier_points", .int(result.frontier.count)),
                ("auroc", .array(aurocs.enumerated().map { exit, list in
                    .object([("exit", .string(exitName(exit, model)))] + list.map { ($0.0.name, $0.1.map { .number($0) } ?? .null) })
                })),
            ]
            if let check = result.onCheck { pairs.append(("check", pointJSON(check, full: fullAccuracy(result.checkImages)))) }
            if !empirical {
                pairs += [("confidence", .number(confidence)), ("max_drop", .number((maxDropPP ?? 0) / 100)),
                          ("tested", .int(result.tested ?? 0)), ("certified", .int(result.certified ?? 0)),
                          ("drop_bound", result.dropBound.map { .number($0) } ?? .null)]
            }
            if let referencePath { pairs += [("agree_with", .string(referencePath)), ("min_agreement", .number(minAgreement))] }
            pairs.append(("written_to", writtenTo.map { .string($0) } ?? .null))
            if let refusal { pairs.append(("refused", .string(refusal))) }
            for line in LateExits.warnings(model) { console.err("note: \(line)") }
            console.out(JSON.object(pairs).text)
            if refusal != nil { throw ToolError(refusal!) }
            return
        }
        var text = ""
        if empirical {
            text += "empirical mode (no guarantee): chosen on \(result.searchImages.count) calibration images, checked on \(result.checkImages.count) held out\n"
        } else {
            text += "guaranteed mode (Learn-then-Test, confidence \(format(confidence, decimals: 4)), --max-drop \(format(maxDropPP ?? 0, decimals: 2)) pp): "
            text += "\(result.searchImages.count) images found and ordered the candidates, \(result.checkImages.count) tested them\n"
        }
        text += "\(result.settingsEvaluated) settings evaluated (candidate rules per exit: \(result.candidateCounts.map(String.init).joined(separator: ", "))), "
        if referenceCache != nil { text += "\(result.settingsKept) agree often enough, " }
        text += "\(result.frontier.count) on the frontier\n"
        if let tested = result.tested, let certified = result.certified {
            text += "tested \(tested) of the \(result.frontier.count) frontier settings in sequence, \(certified) certified\n"
        }
        text += "\nchosen rules:\n"
        for (exit, rule) in result.rules.enumerated() { text += "  \(pad(exitName(exit, model), 7)) \(rule.description)\n" }
        text += "\n\(pad("", 22)) \(pad("images", 7)) \(pad("accuracy", 10)) \(pad("full network", 13)) \(pad("drop", 9)) \(pad("worse/better", 13)) MACs saved\n"
        func row(_ label: String, _ p: TuningPoint, _ images: [Int]) -> String {
            let full = fullAccuracy(images)
            return "\(pad(label, 22)) \(pad("\(p.counts.images)", 7)) \(pad(percentString(full - p.drop), 10)) \(pad(percentString(full), 13)) \(pad(format(p.drop * 100, decimals: 2) + " pp", 9)) \(pad("\(p.counts.worse)/\(p.counts.better)", 13)) \(percentString(1 - p.macFraction))\n"
        }
        text += row(empirical ? "calibration" : "search", result.onSearch, result.searchImages)
        if let check = result.onCheck { text += row(empirical ? "holdout" : "test", check, result.checkImages) }
        text += row("all tuning images", result.onAll, all)
        if !empirical {
            text += "\nexpected MACs saved: \(percentString(1 - result.onAll.macFraction)) (all \(all.count) tuning images)\n"
            if let bound = result.dropBound {
                text += "drop bound: at most \(format(bound * 100, decimals: 2)) pp with probability \(format(confidence * 100, decimals: 1))% (exact, from the \(result.checkImages.count) test images)\n"
            }
        }
        text += "\(result.passed ? "check passed" : "CHECK FAILED"): \(result.why)\n"
        if let referencePath {
            text += "\nsame exit as \(referencePath) (at least \(percentString(minAgreement)) required on the \(empirical ? "calibration" : "search") images): "
            text += "\(percentString(result.onSearch.agreement ?? 0))"
            if let check = result.onCheck { text += ", \(empirical ? "holdout" : "test") \(percentString(check.agreement ?? 0))" }
            text += "\n"
        }
        text += "\nAUROC of each signal for ranking an exit's right predictions above its wrong ones (all \(all.count) images):\n"
        text += "  \(pad("exit", 7)) \(pad("gate", 8)) \(pad("maxprob", 8)) entropy\n"
        for (exit, list) in aurocs.enumerated() {
            text += "  \(pad(exitName(exit, model), 7)) " + list.map { pad($0.1.map { format($0, decimals: 4) } ?? "-", 8) }.joined(separator: " ") + "\n"
        }
        if let writtenTo { text += "\nstored the policy in \(writtenTo)" }
        for line in LateExits.warnings(model) { text += "\nnote: \(line); its threshold is tuned with the others, but it cannot save more than that" }
        console.out(text)
        if let refusal { throw ToolError(refusal) }
    }

    /// A point of the plot: mean MAC fraction and accuracy.
    struct Dot {
        var macFraction: Double
        var accuracy: Double
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

    /// An SVG plot of accuracy against mean MACs: every setting, the frontier, and the choice.
    static func svg(points: [Dot], frontier: [Dot], chosen: Dot, fullAccuracy: Double, title: String) -> String {
        let width = 640.0, height = 420.0, left = 70.0, right = 20.0, top = 40.0, bottom = 50.0
        let minAccuracy = max(0, min(frontier.map(\.accuracy).min() ?? 0, fullAccuracy - 0.05))
        let maxAccuracy = min(1, max(frontier.map(\.accuracy).max() ?? 1, fullAccuracy) + 0.005)
        func x(_ fraction: Double) -> Double { left + fraction * (width - left - right) }
        func y(_ accuracy: Double) -> Double { top + (maxAccuracy - accuracy) / max(maxAccuracy - minAccuracy, 1e-9) * (height - top - bottom) }
        func f(_ v: Double) -> String { format(v, decimals: 1) }
        var svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height))\" font-family=\"sans-serif\" font-size=\"12\">\n"
        svg += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
        svg += "<text x=\"\(f(width / 2))\" y=\"22\" text-anchor=\"middle\" font-size=\"14\">Early exit: accuracy vs mean MACs (\(title))</text>\n"
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
