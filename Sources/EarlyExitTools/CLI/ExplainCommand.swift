// `early-exit explain MODEL --images IDX --index N -o DIR`: every attention head's mask over the
// input (the paper's Figure 3) as PNG pictures, an HTML page and a JSON report.
import EarlyExit
import Foundation

/// One attention module's mask set found in a model: a `softmax` over the H·W positions of a
/// reshaped `[1, K, H, W]` convolution output (K heads).
public struct AttentionMaskSite: Equatable, Sendable {
    /// The index of the softmax operator; the masks are its output, valid right after it runs.
    public var softmaxOperator: Int
    /// The softmax's output tensor, `K × H·W` probabilities.
    public var tensor: Int
    /// The convolution producing the attention scores `[1, K, H, W]`.
    public var convolutionOperator: Int
    public var heads: Int
    public var height: Int
    public var width: Int
    /// The exit the module belongs to: the first exit whose `afterOperator` ≥ `softmaxOperator`.
    public var exit: Int
}

/// Finds the attention masks of a model from its structure.
public enum AttentionMasks {
    /// Every `softmax` whose input is a `reshape` of a `[1, K, H, W]` conv2d output and that
    /// normalizes over exactly the H·W positions of each of the K heads, in schedule order.
    public static func find(in model: Model) -> [AttentionMaskSite] {
        let producer = model.tensorProducers()
        var sites: [AttentionMaskSite] = []
        for (index, op) in model.operators.enumerated() where op.kind == .softmax {
            let reshape = producer[op.inputs[0]]
            guard reshape >= 0, model.operators[reshape].kind == .reshape else { continue }
            let scores = model.operators[reshape].inputs[0]
            let conv = producer[scores]
            guard conv >= 0, model.operators[conv].kind == .conv2d else { continue }
            let shape = model.tensors[scores].shape
            guard shape.rank == 4, shape[0] == 1 else { continue }
            let heads = shape[1], height = shape[2], width = shape[3]
            // The softmax axis must be the H·W positions, with nothing inside it.
            let flat = model.tensors[op.inputs[0]].shape
            var inner = 1
            for axis in (op.axis + 1)..<max(flat.rank, op.axis + 1) { inner *= flat[axis] }
            guard flat[op.axis] == height * width, inner == 1 else { continue }
            guard let exit = model.exits.firstIndex(where: { $0.afterOperator >= index }) else { continue }
            sites.append(AttentionMaskSite(softmaxOperator: index, tensor: op.output, convolutionOperator: conv,
                                           heads: heads, height: height, width: width, exit: exit))
        }
        return sites
    }

    /// Runs the full network on `input` and returns each site's masks (`heads` arrays of
    /// `height · width` values), copied right after its softmax runs.
    public static func capture(_ sites: [AttentionMaskSite], interpreter: Interpreter, input: [Float]) throws -> [[[Float]]] {
        var captured = [[[Float]]](repeating: [], count: sites.count)
        var siteOfOperator: [Int: Int] = [:]
        for (slot, site) in sites.enumerated() { siteOfOperator[site.softmaxOperator] = slot }
        try input.withUnsafeBufferPointer { buffer in
            _ = try interpreter.run(buffer, afterEachOperator: { index in
                guard let slot = siteOfOperator[index] else { return }
                let site = sites[slot]
                let values = currentValues(of: site.tensor, interpreter)
                let plane = site.height * site.width
                captured[slot] = (0..<site.heads).map { Array(values[($0 * plane)..<(($0 + 1) * plane)]) }
            })
        }
        return captured
    }

    /// A copy of an activation's current values as floats: float32 as is; int8 dequantized
    /// with the tensor's per-tensor scale and zero point, `scale · (q − zeroPoint)`.
    static func currentValues(of tensor: Int, _ interpreter: Interpreter) -> [Float] {
        let info = interpreter.model.tensors[tensor]
        guard info.dataType == .int8 else { return Array(interpreter.values(of: tensor)) }
        let q = info.quantization
        return interpreter.int8Values(of: tensor).map { q.scale * Float(Int32($0) - q.zeroPoint) }
    }
}

enum ExplainCommand {
    static let spec = CommandSpec(
        name: "explain",
        summary: "draw every attention head's mask over one input image (PNG + index.html + explain.json), with the exit that fired and each exit's gate",
        positionals: [("MODEL", "an .eem model file")],
        options: [OptionSpec("--images", "IDX", "image file (IDX, plain or .gz)"),
                  OptionSpec("--index", "N", "which image of the IDX file"),
                  OptionSpec("-o", "DIR", "output directory (created if missing; files in it are overwritten)"),
                  OptionSpec("--labels", "IDX", "optional label file, to show the true class"),
                  OptionSpec("--scale", "N", "enlargement of the pictures (default 8)")]
            + PolicyOptions.options + [OptionSpec("--json", nil, "print the report (explain.json) on standard output")])

    /// Per exit, what the full-network run produced.
    struct ExitReport {
        var gate: Float
        var logits: [Float]
        var classIndex: Int
        var maxProbability: Double
        var entropy: Double
    }

    static func run(_ arguments: ParsedArguments, _ console: Console) throws {
        let modelPath = arguments.positionals[0]
        let model = try ModelFiles.loadModel(modelPath)
        guard let imagesPath = arguments.value("--images") else { throw UsageError("explain needs --images IDX") }
        guard let index = try arguments.int("--index", range: 0...Int(Int32.max)) else { throw UsageError("explain needs --index N") }
        guard let directory = arguments.value("-o") else { throw UsageError("explain needs -o DIR, the output directory") }
        let scale = try arguments.int("--scale", default: 8, range: 1...64)!
        let policy = try PolicyOptions.policy(arguments, model: model)

        let shape = model.input.shape
        guard shape.rank == 4, shape[0] == 1 else {
            throw ToolError("model '\(modelPath)' takes input \(shape); explain draws image inputs [1, C, H, W]")
        }
        let channels = shape[1], height = shape[2], width = shape[3]
        let images = try IDXFile.parse(try ModelFiles.readBytes(imagesPath, what: "image file"), source: imagesPath)
        try ModelFiles.requirePixelNormalization(model, pixels: imagesPath)
        if index >= images.count {
            throw UsageError("--index \(index) is out of range: '\(imagesPath)' has \(images.count) images\(images.count > 0 ? " (0...\(images.count - 1))" : "")")
        }
        if images.itemSize != model.input.elementCount {
            throw ToolError("images in '\(imagesPath)' have \(images.itemSize) pixels; the model's input \(shape) needs \(model.input.elementCount)")
        }
        var label: Int?
        if let labelsPath = arguments.value("--labels") {
            let labels = try IDXFile.parse(try ModelFiles.readBytes(labelsPath, what: "label file"), source: labelsPath)
            if labels.itemSize != 1 { throw ToolError("'\(labelsPath)' is not a label file: each item has \(labels.itemSize) bytes") }
            if index >= labels.count { throw ToolError("'\(labelsPath)' has \(labels.count) labels, no label for image \(index)") }
            let value = Int(labels.item(index).first ?? 0)
            if value >= model.classCount {
                throw ToolError("label \(value) of item \(index) in '\(labelsPath)' is not a class of the model (\(model.classCount) classes)")
            }
            label = value
        }
        let pixels = Array(images.item(index))
        let input = ModelFiles.normalize(images.item(index), for: model)

        // The full network: every mask and every exit's gate and prediction.
        let sites = AttentionMasks.find(in: model)
        let full = Interpreter(model: model)
        try full.setPolicy(ExitPolicy(signal: .none, thresholds: policy.thresholds, combineSeenExits: policy.combineSeenExits))
        let masks = try AttentionMasks.capture(sites, interpreter: full, input: input)
        guard let fullSummary = full.lastRun else { throw ToolError("the full-network run did not complete") }
        let exits = (0..<model.exits.count).map { exitReport(Array(full.logits(exit: $0)), gate: full.gate(exit: $0)) }

        // The chosen policy: which exit fires.
        let chosen = Interpreter(model: model)
        try chosen.setPolicy(policy)
        let summary = try chosen.run(input)

        try prepareDirectory(directory)
        let inputPicture = HeatMap.inputPicture(pixels, channels: channels, height: height, width: width)
        try write(HeatMap.upscale(inputPicture, by: scale).png(), directory, "input.png")
        let gray = HeatMap.grayscale(pixels, channels: channels, height: height, width: width)
        var files = [[String]](repeating: [], count: sites.count)
        var headOfExit = [Int](repeating: 0, count: model.exits.count)
        for (slot, site) in sites.enumerated() {
            for head in 0..<site.heads {
                headOfExit[site.exit] += 1
                let name = "exit\(site.exit + 1)_head\(headOfExit[site.exit]).png"
                let picture = HeatMap.overlay(mask: masks[slot][head], maskHeight: site.height, maskWidth: site.width, gray: gray,
                                              inputHeight: height, inputWidth: width, factor: scale)
                try write(ColorBar.appended(to: picture).png(), directory, name)
                files[slot].append(name)
            }
        }
        let context = Context(model: model, modelPath: modelPath, imagesPath: imagesPath, index: index, label: label, policy: policy,
                              summary: summary, fullSummary: fullSummary, exits: exits, sites: sites, masks: masks,
                              files: files, scale: scale)
        let report = json(context)
        try write(Array((report.text + "\n").utf8), directory, "explain.json")
        try write(Array(html(context).utf8), directory, "index.html")

        if arguments.flag("--json") {
            console.out(report.text)
            return
        }
        let maskCount = sites.reduce(0) { $0 + $1.heads }
        if sites.isEmpty {
            console.err("warning: no attention masks found in '\(modelPath)' (no softmax over a reshaped [1,K,H,W] convolution output); wrote only input.png, index.html and explain.json")
        }
        var text = "image \(index) of \(imagesPath)\(label.map { ", true class \(className($0, model))" } ?? "")\n"
        text += "policy \(policy.signal.name): exit \(exitName(summary.exitIndex, model)) fired\(summary.exitedEarly ? " (early)" : " (full network)"), class \(className(summary.classIndex, model))\n"
        for (e, report) in exits.enumerated() {
            var signal = ""
            if policy.signal == .maxProbability { signal = "  maxprob \(format(Float(report.maxProbability)))" }
            if policy.signal == .entropy { signal = "  entropy \(format(Float(report.entropy)))" }
            if e > summary.exitIndex {
                text += "  \(pad(exitName(e, model), 7)) not reached under the policy; from the full-network run: gate \(format(report.gate))  class \(className(report.classIndex, model))\n"
            } else {
                text += "  \(pad(exitName(e, model), 7)) gate \(format(report.gate))\(signal)  class \(className(report.classIndex, model))\(e == summary.exitIndex ? "  <- fired" : "  (did not fire)")\n"
            }
        }
        text += "masks and values of every exit come from one full-network run; each mask picture has a colour bar: 0 (left) to the mask's maximum (right)\n"
        text += "wrote \(maskCount) mask picture\(maskCount == 1 ? "" : "s") from \(sites.count) attention module\(sites.count == 1 ? "" : "s") to \(directory)/ (open \(directory)/index.html)"
        console.out(text)
    }

    static func exitReport(_ logits: [Float], gate: Float) -> ExitReport {
        var best = 0
        for (i, value) in logits.enumerated() where value > logits[best] { best = i }
        let peak = Double(logits.max() ?? 0)
        let exps = logits.map { Foundation.exp(Double($0) - peak) }
        let total = exps.reduce(0, +)
        let probabilities = exps.map { $0 / total }
        let entropy = -probabilities.reduce(0) { $0 + ($1 > 0 ? $1 * Foundation.log($1) : 0) }
        return ExitReport(gate: gate, logits: logits, classIndex: best, maxProbability: probabilities.max() ?? 0, entropy: entropy)
    }

    static func className(_ index: Int, _ model: Model) -> String {
        index < model.metadata.classNames.count ? "\(index) (\(model.metadata.classNames[index]))" : "\(index)"
    }

    static func prepareDirectory(_ path: String) throws {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) {
            if !isDirectory.boolValue { throw ToolError("output directory '\(path)' exists and is not a directory") }
        } else {
            do {
                try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
            } catch {
                // Name the part of the path that is in the way, rather than a framework error code.
                var ancestor = URL(fileURLWithPath: path).deletingLastPathComponent()
                while ancestor.path != "/" && !FileManager.default.fileExists(atPath: ancestor.path) {
                    ancestor = ancestor.deletingLastPathComponent()
                }
                var ancestorIsDirectory: ObjCBool = false
                _ = FileManager.default.fileExists(atPath: ancestor.path, isDirectory: &ancestorIsDirectory)
                let reason = !ancestorIsDirectory.boolValue ? "'\(ancestor.path)' is a file, not a directory"
                    : !FileManager.default.isWritableFile(atPath: ancestor.path) ? "'\(ancestor.path)' is not writable"
                    : error.localizedDescription
                throw ToolError("cannot create output directory '\(path)': \(reason)")
            }
        }
        if !FileManager.default.isWritableFile(atPath: path) { throw ToolError("output directory '\(path)' is not writable") }
    }

    static func write(_ bytes: [UInt8], _ directory: String, _ name: String) throws {
        try ModelFiles.writeBytes(bytes, to: URL(fileURLWithPath: directory).appendingPathComponent(name).path, what: "output file")
    }

    struct Context {
        var model: Model
        var modelPath: String
        var imagesPath: String
        var index: Int
        var label: Int?
        var policy: ExitPolicy
        var summary: RunSummary
        var fullSummary: RunSummary
        var exits: [ExitReport]
        var sites: [AttentionMaskSite]
        var masks: [[[Float]]]
        var files: [[String]]
        var scale: Int

        func name(_ classIndex: Int) -> String {
            classIndex < model.metadata.classNames.count ? model.metadata.classNames[classIndex] : ""
        }

        func threshold(_ exit: Int) -> Float? { exit < policy.thresholds.count ? policy.thresholds[exit] : nil }
    }

    static func json(_ c: Context) -> JSON {
        let model = c.model
        var pairs: [(String, JSON)] = [
            ("model", .string(c.modelPath)),
            ("model_name", .string(model.metadata.name)),
            ("images", .string(c.imagesPath)),
            ("index", .int(c.index)),
            ("label", c.label.map { .int($0) } ?? .null),
            ("label_name", c.label.map { .string(c.name($0)) } ?? .null),
            ("input", .string("input.png")),
            ("input_shape", .array(model.input.shape.dims.map { .int($0) })),
            ("scale", .int(c.scale)),
            ("policy", .object([("signal", .string(c.policy.signal.name)), ("thresholds", .floats(c.policy.thresholds)),
                                ("combine", .bool(c.policy.combineSeenExits))])),
            ("fired_exit", .int(c.summary.exitIndex)),
            ("fired_exit_name", .string(exitName(c.summary.exitIndex, model))),
            ("early", .bool(c.summary.exitedEarly)),
            ("class", .int(c.summary.classIndex)),
            ("class_name", .string(c.name(c.summary.classIndex))),
            ("macs", .int(c.summary.macs)),
            ("macs_full", .int(c.summary.macsFull)),
            ("full_network_class", .int(c.fullSummary.classIndex)),
            ("full_network_class_name", .string(c.name(c.fullSummary.classIndex))),
            ("masks_found", .int(c.sites.reduce(0) { $0 + $1.heads })),
            ("exit_values_from", .string("full_network_run")),
            ("color_bar", .string("under each mask picture: the colour map from 0 (left) to the mask's maximum (right)")),
        ]
        if c.sites.isEmpty {
            pairs.append(("note", .string("no attention masks found: no softmax over a reshaped [1,K,H,W] convolution output")))
        }
        pairs.append(("exits", .array(c.exits.enumerated().map { e, report in
            var exit: [(String, JSON)] = [
                ("index", .int(e)),
                ("name", .string(exitName(e, model))),
                ("after_operator", .int(model.exits[e].afterOperator)),
                ("cumulative_macs", .int(model.exits[e].cumulativeMACs)),
                ("gate", .number(Double(report.gate))),
                ("threshold", c.threshold(e).map { .number(Double($0)) } ?? .null),
                ("fired", .bool(e == c.summary.exitIndex)),
                ("evaluated_under_policy", .bool(e <= c.summary.exitIndex)),
                ("class", .int(report.classIndex)),
                ("class_name", .string(c.name(report.classIndex))),
                ("max_probability", .number(report.maxProbability)),
                ("entropy", .number(report.entropy)),
                ("logits", .floats(report.logits)),
            ]
            var heads: [JSON] = []
            for (slot, site) in c.sites.enumerated() where site.exit == e {
                for head in 0..<site.heads {
                    let mask = c.masks[slot][head]
                    let peak = mask.indices.max(by: { mask[$0] < mask[$1] }) ?? 0
                    heads.append(.object([
                        ("file", .string(c.files[slot][head])),
                        ("head", .int(head + 1)),
                        ("softmax_operator", .int(site.softmaxOperator)),
                        ("tensor", .int(site.tensor)),
                        ("height", .int(site.height)),
                        ("width", .int(site.width)),
                        ("max", .number(Double(mask.max() ?? 0))),
                        ("min", .number(Double(mask.min() ?? 0))),
                        ("argmax", .array([.int(peak / site.width), .int(peak % site.width)])),
                    ]))
                }
            }
            exit.append(("masks", .array(heads)))
            return .object(exit)
        })))
        return .object(pairs)
    }

    static func escape(_ text: String) -> String {
        var out = ""
        for character in text {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            default: out.append(character)
            }
        }
        return out
    }

    static func html(_ c: Context) -> String {
        let model = c.model
        func classText(_ index: Int) -> String {
            let name = c.name(index)
            return escape(name.isEmpty ? "class \(index)" : "\(name) (\(index))")
        }
        let side = model.input.shape[3] * c.scale
        var page = """
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8">
            <title>early-exit explain: \(escape(model.metadata.name.isEmpty ? c.modelPath : model.metadata.name)), image \(c.index)</title>
            <style>
            body { font-family: sans-serif; margin: 24px; color: #222; }
            .row { display: flex; flex-wrap: wrap; gap: 16px; align-items: flex-start; margin: 8px 0 24px; }
            figure { margin: 0; padding: 8px; border: 2px solid #ddd; border-radius: 6px; }
            figure.fired { border-color: #e07000; background: #fff6ec; }
            figure.skipped { opacity: 0.75; }
            figcaption { font-size: 13px; line-height: 1.4; max-width: \(side)px; }
            img { image-rendering: pixelated; display: block; width: \(side)px; }
            th[colspan] { border-bottom: 1px solid #bbb; }
            .scale { width: 240px; height: 12px; background: linear-gradient(to right, #00007f, #0000ff, #00ffff, #7fff7f, #ffff00, #ff0000, #7f0000); }
            td, th { padding: 2px 10px; text-align: left; }
            </style></head><body>

            """
        page += "<h1>Attention masks: image \(c.index) of \(escape(c.imagesPath))</h1>\n"
        page += "<p>Model <code>\(escape(c.modelPath))</code>\(model.metadata.name.isEmpty ? "" : " (\(escape(model.metadata.name)))"). "
        page += "Policy <b>\(escape(c.policy.signal.name))</b>"
        if c.policy.signal != .none { page += ", thresholds \(c.policy.thresholds.map { format($0) }.joined(separator: ", "))" }
        page += ": exit <b>\(exitName(c.summary.exitIndex, model))</b> fired\(c.summary.exitedEarly ? " (early)" : " (the final head)"), "
        page += "final class <b>\(classText(c.summary.classIndex))</b>, \(c.summary.macs) of \(c.summary.macsFull) MACs. "
        page += "Full network (eq. 9 over all exits): \(classText(c.fullSummary.classIndex))."
        if let label = c.label { page += " True class: <b>\(classText(label))</b>." }
        page += "</p>\n"
        page += "<table><tr><th rowspan=\"2\">exit</th><th colspan=\"2\">under the policy (\(escape(c.policy.signal.name)))</th>"
        page += "<th colspan=\"4\">full-network run (computed for this page)</th></tr>\n"
        page += "<tr><th>threshold</th><th>decision</th><th>gate</th><th>max prob.</th><th>entropy</th><th>class at this exit</th></tr>\n"
        for (e, report) in c.exits.enumerated() {
            let status = e == c.summary.exitIndex ? "<b>fired</b>" : e < c.summary.exitIndex ? "evaluated, did not fire"
                : "not reached (the run stopped at \(exitName(c.summary.exitIndex, model)))"
            page += "<tr><td>\(exitName(e, model))</td><td>\(c.threshold(e).map { format($0) } ?? "-")</td><td>\(status)</td>"
            page += "<td>\(format(report.gate))</td><td>\(format(report.maxProbability, decimals: 4))</td>"
            page += "<td>\(format(report.entropy, decimals: 4))</td><td>\(classText(report.classIndex))</td></tr>\n"
        }
        page += "</table>\n"
        page += "<p>Under the policy the network stops at the exit that fires: exits after it are never computed. This page runs the "
        page += "full network once so that it can show every exit's masks, gate and class; the values of exits the policy does not reach "
        page += "come from that run only and are labelled so.</p>\n"
        page += "<div class=\"row\"><figure><img src=\"input.png\" alt=\"input image\"><figcaption>input image \(c.index)\(c.label.map { ", true class \(classText($0))" } ?? "")<br>final class \(classText(c.summary.classIndex))</figcaption></figure></div>\n"
        if c.sites.isEmpty {
            page += "<p><b>No attention masks found</b>: the model has no softmax over a reshaped [1,K,H,W] convolution output.</p>\n"
        } else {
            page += "<p>Each picture is one head's mask M = softmax(W<sub>H</sub> * Z) over the H&times;W positions, divided by its maximum, resized bilinearly to the input and drawn over it. The bar under each picture is its colour scale: 0 at the left to the mask's maximum at the right, <span class=\"scale\" style=\"display:inline-block\"></span>.</p>\n"
        }
        for (e, report) in c.exits.enumerated() {
            let heads = c.sites.enumerated().filter { $0.element.exit == e }
            if heads.isEmpty { continue }
            let fired = e == c.summary.exitIndex
            let skipped = e > c.summary.exitIndex
            if skipped {
                page += "<h2>\(exitName(e, model)): not reached under the policy &mdash; masks and gate \(format(report.gate)) from the full-network run</h2>\n<div class=\"row\">\n"
            } else {
                page += "<h2>\(exitName(e, model)): gate \(format(report.gate))\(fired ? " &mdash; fired" : " &mdash; evaluated, did not fire")</h2>\n<div class=\"row\">\n"
            }
            for (slot, site) in heads {
                for head in 0..<site.heads {
                    let mask = c.masks[slot][head]
                    page += "<figure class=\"\(fired ? "fired" : skipped ? "skipped" : "")\"><img src=\"\(c.files[slot][head])\" alt=\"\(exitName(e, model)) head \(head + 1)\">"
                    page += "<figcaption><b>\(exitName(e, model)), head \(head + 1)</b> (\(site.height)&times;\(site.width))<br>"
                    if skipped {
                        page += "not reached under the policy<br>full-network run: gate \(format(report.gate))<br>"
                    } else {
                        page += "gate \(format(report.gate))"
                        switch c.policy.signal {
                        case .maxProbability: page += " &middot; max prob. \(format(Float(report.maxProbability)))"
                        case .entropy: page += " &middot; entropy \(format(Float(report.entropy)))"
                        default: break
                        }
                        if let threshold = c.threshold(e), c.policy.signal != .none { page += " (threshold \(format(threshold)))" }
                        page += " &middot; \(fired ? "<b>fired</b>" : "did not fire")<br>"
                    }
                    page += "class at this exit\(skipped ? " (full-network run)" : ""): \(classText(report.classIndex))<br>"
                    page += "final class (policy): \(classText(c.summary.classIndex))<br>"
                    page += "mask max \(format(Double(mask.max() ?? 0), decimals: 4)) (uniform \(format(1 / Double(max(mask.count, 1)), decimals: 4)))</figcaption></figure>\n"
                }
            }
            page += "</div>\n"
        }
        page += "</body></html>\n"
        return page
    }
}
