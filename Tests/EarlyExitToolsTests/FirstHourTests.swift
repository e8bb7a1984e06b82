// A new user's first hour with the CLI (issue 16): what inputs mean, probabilities, --version,
// write failures, info's arena figures and bench's caution, driven through `EarlyExitCLI.main`.
import EarlyExit
@testable import EarlyExitTools
import Foundation
import XCTest

final class FirstHourTests: XCTestCase {
    final class Capture: @unchecked Sendable {
        var out = ""
        var err = ""
    }

    struct Result {
        var status: Int32
        var out: String
        var err: String
    }

    var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("first-hour-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        if let directory { try? FileManager.default.removeItem(at: directory) }
    }

    func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    func cli(_ arguments: [String]) -> Result {
        let capture = Capture()
        let console = Console(out: { capture.out += $0 + "\n" }, err: { capture.err += $0 + "\n" })
        let status = EarlyExitCLI.main(arguments, console: console)
        return Result(status: status, out: capture.out, err: capture.err)
    }

    /// Runs with standard output on a real file descriptor (messages captured).
    func cli(_ arguments: [String], stdout descriptor: Int32) -> Result {
        let capture = Capture()
        var console = Console.descriptors(out: descriptor, err: 2)
        console.err = { capture.err += $0 + "\n" }
        let status = EarlyExitCLI.main(arguments, console: console)
        return Result(status: status, out: "", err: capture.err)
    }

    func json(_ text: String, file: StaticString = #filePath, line: UInt = #line) throws -> [String: Any] {
        try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], text, file: file, line: line)
    }

    static let size = ExplainAndCLITests.imageSize
    static let pixels = ExplainAndCLITests.imagePixels()

    func image(_ index: Int) -> [UInt8] { Array(Self.pixels[(index * Self.size * Self.size)..<((index + 1) * Self.size * Self.size)]) }

    /// The synthetic model (mean 0.5, std 0.25), 40 images and labels.
    func fixtures(count: Int = ExplainAndCLITests.imageCount) throws -> (model: String, images: String, labels: String) {
        let model = path("model.eem"), images = path("images-\(count)"), labels = path("labels-\(count)")
        try Data(try SyntheticModels.attentionNetwork().serialize()).write(to: URL(fileURLWithPath: model))
        var payload: [UInt8] = []
        for index in 0..<count { payload += image(index % ExplainAndCLITests.imageCount) }
        try Data(IDXFile.encode(dimensions: [count, Self.size, Self.size], payload: payload)).write(to: URL(fileURLWithPath: images))
        try Data(IDXFile.encode(dimensions: [count], payload: (0..<count).map { UInt8($0 % 10) })).write(to: URL(fileURLWithPath: labels))
        return (model, images, labels)
    }

    /// An .npy file of dtype `descr` with little-endian `data`, written independently of NPYArray.
    func writeNPY(_ name: String, descr: String, shape: [Int], data: [UInt8]) throws -> String {
        let tuple = shape.count == 1 ? "(\(shape[0]),)" : "(" + shape.map(String.init).joined(separator: ", ") + ")"
        var header = Array("{'descr': '\(descr)', 'fortran_order': False, 'shape': \(tuple), }".utf8)
        while (10 + header.count + 1) % 64 != 0 { header.append(0x20) }
        header.append(0x0A)
        let bytes = [0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(header.count & 0xFF), UInt8(header.count >> 8)] + header + data
        let file = path(name)
        try Data(bytes).write(to: URL(fileURLWithPath: file))
        return file
    }

    func floatBytes(_ values: [Float]) -> [UInt8] {
        values.flatMap { v in (0..<4).map { UInt8(truncatingIfNeeded: v.bitPattern >> (8 * $0)) } }
    }

    // MARK: 1. What an input's numbers mean

    func testNPYDtypeSaysWhetherItHoldsPixelsOrTheNetworksInput() throws {
        let files = try fixtures()
        let model = try Model(bytes: try SyntheticModels.attentionNetwork().serialize())
        let shape = [1, 1, Self.size, Self.size]
        let pixels = image(5)
        // The reference: the IDX image, which is pixels, and the same values normalized here by hand.
        let byHand = pixels.map { (Float($0) / 255 - 0.5) / 0.25 }
        let expected = try Interpreter(model: model).run(byHand)
        func runJSON(_ arguments: [String]) throws -> [String: Any] {
            let result = cli(["run", files.model] + arguments + ["--json"])
            XCTAssertEqual(result.status, 0, "\(arguments): \(result.err)")
            return try json(result.out)
        }
        let idx = try runJSON([files.images, "--index", "5"])
        XCTAssertEqual(idx["input"] as? String, "pixels")
        XCTAssertEqual(idx["class"] as? Int, expected.classIndex)

        // uint8 .npy: pixels, the same run as the IDX image.
        let u8 = try writeNPY("u8.npy", descr: "|u1", shape: shape, data: pixels)
        let fromU8 = try runJSON([u8])
        XCTAssertEqual(fromU8["input"] as? String, "pixels")
        XCTAssertEqual(fromU8["log_probabilities"] as? [Double], idx["log_probabilities"] as? [Double])
        // int64 .npy of the same values: pixels too.
        let i64 = try writeNPY("i64.npy", descr: "<i8", shape: [Self.size, Self.size],
                               data: pixels.flatMap { [$0, 0, 0, 0, 0, 0, 0, 0] })
        XCTAssertEqual(try runJSON([i64])["log_probabilities"] as? [Double], idx["log_probabilities"] as? [Double])
        // float32 .npy: the network's input as is.
        let normalized = try writeNPY("normalized.npy", descr: "<f4", shape: shape, data: floatBytes(byHand))
        let fromFloats = try runJSON([normalized])
        XCTAssertEqual(fromFloats["input"] as? String, "normalized")
        XCTAssertEqual(fromFloats["log_probabilities"] as? [Double], idx["log_probabilities"] as? [Double])
        // float32 .npy of raw 0-255 values: as is by default (a different input), pixels with --pixels.
        let raw255 = try writeNPY("raw255.npy", descr: "<f4", shape: shape, data: floatBytes(pixels.map { Float($0) }))
        let asIs = try runJSON([raw255])
        XCTAssertEqual(asIs["input"] as? String, "normalized")
        let rawRun = try Interpreter(model: model).run(pixels.map { Float($0) })
        XCTAssertEqual(asIs["class"] as? Int, rawRun.classIndex)
        let forced = try runJSON([raw255, "--pixels"])
        XCTAssertEqual(forced["input"] as? String, "pixels")
        XCTAssertEqual(forced["log_probabilities"] as? [Double], idx["log_probabilities"] as? [Double])
        // uint8 with --normalized: the byte values are the network's input.
        let overridden = try runJSON([u8, "--normalized"])
        XCTAssertEqual(overridden["input"] as? String, "normalized")
        XCTAssertEqual(overridden["log_probabilities"] as? [Double], asIs["log_probabilities"] as? [Double])
        XCTAssertNotEqual(overridden["log_probabilities"] as? [Double], idx["log_probabilities"] as? [Double])

        // Misuse.
        let half = try writeNPY("half.npy", descr: "<f4", shape: shape, data: floatBytes(pixels.map { Float($0) + 0.5 }))
        var result = cli(["run", files.model, half, "--pixels"])
        XCTAssertEqual(result.status, 1)
        XCTAssertTrue(result.err.contains("value 0 is") && result.err.contains("0 to 255"), result.err)
        let negative = try writeNPY("negative.npy", descr: "<i4", shape: shape,
                                    data: (0..<(Self.size * Self.size)).flatMap { _ in [0xFF, 0xFF, 0xFF, 0xFF] as [UInt8] })
        result = cli(["run", files.model, negative])
        XCTAssertEqual(result.status, 1)
        XCTAssertTrue(result.err.contains("--normalized"), "says how to pass it as is: \(result.err)")
        XCTAssertEqual(cli(["run", files.model, u8, "--pixels", "--normalized"]).status, 2)
        result = cli(["run", files.model, files.images, "--index", "0", "--normalized"])
        XCTAssertEqual(result.status, 2)
        XCTAssertTrue(result.err.contains("8-bit pixels"), result.err)

        // A model without a stored normalization refuses pixels (IDX and uint8) and says how to store one;
        // floats still run.
        var builder = SyntheticModels.attentionNetwork()
        builder.metadata = ModelMetadata()
        let bare = path("bare.eem")
        try Data(try builder.serialize()).write(to: URL(fileURLWithPath: bare))
        for arguments in [[files.images, "--index", "0"], [u8]] {
            result = cli(["run", bare] + arguments)
            XCTAssertEqual(result.status, 1, "\(arguments)")
            XCTAssertTrue(result.err.contains("no input normalization") && result.err.contains("--mean M"), result.err)
        }
        XCTAssertEqual(cli(["run", bare, normalized]).status, 0)
        for arguments in [["bench", bare, "--images", files.images, "--labels", files.labels],
                          ["classify", bare, "--images", files.images],
                          ["quantize", bare, "--calibration", files.images, "-o", path("q.eem")]] {
            result = cli(arguments)
            XCTAssertEqual(result.status, 1, arguments[0])
            XCTAssertTrue(result.err.contains("no input normalization"), "\(arguments[0]): \(result.err)")
        }

        // run --help explains it.
        let help = cli(["run", "--help"]).out
        for needle in ["uint8", "8-bit pixels", "floats", "--pixels", "--normalized", "as is", "mean"] {
            XCTAssertTrue(help.contains(needle), "run --help mentions \(needle)")
        }
    }

    // MARK: 2. Probabilities, named

    func testRunShowsProbabilitiesAndNamesTheRawScores() throws {
        let files = try fixtures()
        let model = try Model(bytes: try SyntheticModels.attentionNetwork().serialize())
        let input = ModelFiles.normalize(image(3)[...], for: model)
        for (arguments, combined) in [(["--threshold", "-1"], false), (["--threshold", "-1", "--combine"], true),
                                      (["--policy", "none"], true)] {
            let interpreter = Interpreter(model: model)
            var policy = try PolicyOptions.policy(try RunCommand.spec.parse([files.model, files.images] + arguments), model: model)
            if arguments.contains("none") { policy.signal = .none }
            try interpreter.setPolicy(policy)
            let summary = try interpreter.run(input)
            let scores = Array(interpreter.scores).map(Double.init)
            let peak = scores.max()!
            let exps = scores.map { Foundation.exp($0 - peak) }
            let probabilities = exps.map { $0 / exps.reduce(0, +) }

            let report = try json(cli(["run", files.model, files.images, "--index", "3", "--json"] + arguments).out)
            XCTAssertNil(report["scores"], "the ambiguous key is gone")
            XCTAssertEqual(try XCTUnwrap(report["log_probabilities"] as? [Double]).map { Float($0) }, scores.map { Float($0) })
            XCTAssertEqual(report["log_probabilities_of"] as? String, combined ? "eq9_combination" : "exit_log_softmax", "\(arguments)")
            let printed = try XCTUnwrap(report["probabilities"] as? [Double])
            for (p, q) in zip(printed, probabilities) { XCTAssertEqual(p, q, accuracy: 1e-6) }
            XCTAssertEqual(printed.reduce(0, +), 1, accuracy: 1e-5)
            XCTAssertEqual(try XCTUnwrap(report["probability"] as? Double), probabilities[summary.classIndex], accuracy: 1e-6)

            let text = cli(["run", files.model, files.images, "--index", "3"] + arguments).out
            let lines = text.split(separator: "\n").map(String.init)
            let classLine = try XCTUnwrap(lines.first { $0.hasPrefix("class:") })
            XCTAssertTrue(classLine.contains("probability \(format(Float(probabilities[summary.classIndex])))"), classLine)
            let header = try XCTUnwrap(lines.first { $0.hasPrefix("probabilities (softmax of ") }, text)
            XCTAssertTrue(combined ? header.contains("eq. 9") : header.contains("exit1's logits"), header)
            // One line per class, highest first, each with the probability computed here.
            let rows = lines.drop { !$0.hasPrefix("probabilities") }.dropFirst().prefix { $0.hasPrefix("  ") }
            XCTAssertEqual(rows.count, model.classCount)
            let order = probabilities.indices.sorted { probabilities[$0] > probabilities[$1] || (probabilities[$0] == probabilities[$1] && $0 < $1) }
            for (row, c) in zip(rows, order) {
                let fields = row.split(separator: " ")
                XCTAssertEqual(Int(fields[0]), c, row)
                XCTAssertEqual(String(fields.last!), format(Float(probabilities[c])), row)
            }
            XCTAssertFalse(text.contains("scores:"))
        }
    }

    // MARK: 4. --version

    func testVersionSaysToolFormatAndBuild() throws {
        for flag in ["--version", "-V"] {
            let result = cli([flag])
            XCTAssertEqual(result.status, 0)
            let lines = result.out.split(separator: "\n").map(String.init)
            XCTAssertEqual(lines.first, "early-exit \(EarlyExitVersion.string) (runtime and C API \(EarlyExitVersion.string))")
            XCTAssertTrue(lines.contains(".eem format: reads version \(EEMFormat.versionMajor).x (any minor version), writes \(EEMFormat.versionMajor).\(EEMFormat.versionMinor)"), result.out)
            XCTAssertTrue(lines.contains("build: \(BuildInfo.description)"), result.out)
            let kernels = try XCTUnwrap(lines.first { $0.hasPrefix("kernels: ") }, result.out)
            let selected = try KernelSet.selected()
            XCTAssertTrue(kernels.hasPrefix("kernels: \(selected.description) ("), kernels)
            XCTAssertTrue(kernels.hasSuffix("this CPU supports: " + KernelSet.supported.map(\.name).joined(separator: ", ")), kernels)
        }
        XCTAssertEqual(cli(["--version", "extra"]).status, 2)
        XCTAssertTrue(cli(["--help"]).out.contains("--version"))
    }

    // MARK: 6. Write failures

    func testFailedWritesToStandardOutputAreErrors() throws {
        let files = try fixtures()
        let full = open("/dev/full", O_WRONLY)
        try XCTSkipIf(full < 0, "/dev/full is not available")
        defer { close(full) }
        for arguments in [["info", files.model], ["info", files.model, "--json"], ["run", files.model, files.images, "--index", "0"],
                          ["bench", files.model, "--images", files.images, "--labels", files.labels, "--limit", "3", "--warmup", "0"],
                          ["classify", files.model, "--images", files.images], ["--version"], ["--help"], ["info", "--help"]] {
            let result = cli(arguments, stdout: full)
            XCTAssertEqual(result.status, 1, "\(arguments)")
            XCTAssertTrue(result.err.contains("cannot write to standard output: No space left on device"), "\(arguments): \(result.err)")
        }
        // The same commands into a pipe: status 0 and the output arrives.
        var ends: [Int32] = [0, 0]
        XCTAssertEqual(pipe(&ends), 0)
        let result = cli(["info", files.model], stdout: ends[1])
        close(ends[1])
        XCTAssertEqual(result.status, 0, result.err)
        let text = String(decoding: FileHandle(fileDescriptor: ends[0], closeOnDealloc: true).readDataToEndOfFile(), as: UTF8.self)
        XCTAssertTrue(text.hasPrefix("model:"), text)
    }

    func testFailedFileWritesAreErrorsAndLeaveNoHalfWrittenFile() throws {
        let files = try fixtures()
        // Devices that refuse the bytes.
        for arguments in [["export-c", files.model, "-o", "/dev/full"],
                          ["quantize", files.model, "--calibration", files.images, "--count", "4", "-o", "/dev/full"],
                          ["tune", files.model, "--images", files.images, "--labels", files.labels, "--max-drop", "5", "--empirical", "--holdout", "0", "--plot", "/dev/full"],
                          ["tune", files.model, "--images", files.images, "--labels", files.labels, "--max-drop", "5", "--empirical", "--holdout", "0", "--csv", "/dev/full"],
                          ["tune", files.model, "--images", files.images, "--labels", files.labels, "--max-drop", "5", "--empirical", "--holdout", "0", "--write", "-o", "/dev/full"]] {
            let result = cli(arguments)
            XCTAssertEqual(result.status, 1, "\(arguments)")
            XCTAssertTrue(result.err.contains("/dev/full") && result.err.contains("No space left on device"), "\(arguments): \(result.err)")
        }
        // A file system that fills up mid-write: the built tool under a 4 KB file size limit
        // (`ulimit -f 4`, in a shell of its own). The existing files are unchanged and no
        // temporary file is left behind.
        let target = path("model-copy.c"), tuned = path("tuned.eem")
        try Data("previous contents\n".utf8).write(to: URL(fileURLWithPath: target))
        let original = try Data(contentsOf: URL(fileURLWithPath: files.model))
        XCTAssertGreaterThan(original.count, 4096, "the model is larger than the limit")
        try original.write(to: URL(fileURLWithPath: tuned))
        // ThreadSanitizer's runtime cannot start its shadow memory under a file size limit (it
        // dies with SIGBUS inside its own memcpy interceptor before our code runs), so a
        // ThreadSanitizer build of this test leaves this part to the plain and ASan runs.
        let underThreadSanitizer = dlsym(nil, "__tsan_init") != nil
        for command in ["export-c '\(files.model)' -o '\(target)'",
                        "tune '\(tuned)' --images '\(files.images)' --labels '\(files.labels)' --max-drop 5 --empirical --holdout 0 --write"]
            where !underThreadSanitizer {
            let result = try shell("ulimit -f 4; exec \(try tool()) \(command)")
            XCTAssertEqual(result.status, 1, command)
            XCTAssertTrue(result.err.contains("File too large") && result.err.contains("unchanged"), result.err)
        }
        XCTAssertEqual(try String(contentsOfFile: target, encoding: .utf8), "previous contents\n")
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: tuned)), original)
        let left = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(".tmp") }
        XCTAssertEqual(left, [], "no temporary files left")
        // Without the limit the same writes succeed, in place of the old files, keeping their mode.
        chmod(target, 0o640)
        XCTAssertEqual(cli(["export-c", files.model, "-o", target]).status, 0)
        XCTAssertTrue(try String(contentsOfFile: target, encoding: .utf8).contains("ee_model_data"))
        let attributes = try FileManager.default.attributesOfItem(atPath: target)
        XCTAssertEqual((attributes[.posixPermissions] as? NSNumber)?.intValue, 0o640)
        XCTAssertEqual(cli(["export-c", files.model, "-o", directory.path]).status, 1, "a directory is not a file")
    }

    /// The `early-exit` binary built with the tests.
    func tool() throws -> String {
        let tests = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        let binary = tests.deletingLastPathComponent().appendingPathComponent("early-exit").path
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: binary), "no early-exit binary next to the tests (\(binary))")
        return binary
    }

    /// Runs a command line with /bin/sh; returns its status and standard error.
    func shell(_ command: String) throws -> (status: Int32, err: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", command]
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        let text = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return (process.terminationStatus, text)
    }

    /// A bad EARLYEXIT_KERNELS is blamed on the variable, not on the model file it was loading.
    func testABadKernelVariableIsNamedAsTheCause() throws {
        let files = try fixtures()
        let binary = try tool()
        for command in ["info '\(files.model)'", "export-c '\(files.model)' -o '\(path("model.c"))'",
                        "run '\(files.model)' '\(files.images)' --index 0"] {
            let result = try shell("EARLYEXIT_KERNELS=bogus '\(binary)' \(command)")
            XCTAssertEqual(result.status, 1, command)
            XCTAssertTrue(result.err.contains("kernel set 'bogus': unknown kernel set") && result.err.contains("environment variable EARLYEXIT_KERNELS"),
                          "\(command): \(result.err)")
            XCTAssertFalse(result.err.contains("is invalid"), "\(command): the model file is not at fault: \(result.err)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("model.c")))
        // 'auto' and an empty value select the detected set.
        for value in ["auto", ""] {
            XCTAssertEqual(try shell("EARLYEXIT_KERNELS='\(value)' '\(binary)' info '\(files.model)'").status, 0, value)
        }
    }

    /// The issue's own command, in a shell: `early-exit info MODEL > /dev/full` exits 1.
    func testTheBinaryReportsAFullStandardOutput() throws {
        let files = try fixtures()
        let binary = try tool()
        var result = try shell("'\(binary)' info '\(files.model)' > /dev/full")
        XCTAssertEqual(result.status, 1)
        XCTAssertTrue(result.err.contains("cannot write to standard output"), result.err)
        result = try shell("'\(binary)' info '\(files.model)' > /dev/null")
        XCTAssertEqual(result.status, 0, result.err)
    }

    // MARK: 7. info: text and JSON agree

    func testInfoArenaFiguresMatchTheJSONAndExplainScratch() throws {
        let files = try fixtures()
        let model = try Model(bytes: try SyntheticModels.attentionNetwork().serialize())
        let text = cli(["info", files.model]).out
        let report = try json(cli(["info", files.model, "--json"]).out)
        func number(after label: String) throws -> Int {
            let range = try XCTUnwrap(text.range(of: label), label)
            let digits = text[range.upperBound...].prefix { $0.isNumber }
            return try XCTUnwrap(Int(digits), label)
        }
        XCTAssertEqual(try number(after: "every buffer on its own would take "), report["arena_naive_bytes"] as? Int)
        XCTAssertEqual(try number(after: "no plan can take less than "), report["arena_lower_bound_bytes"] as? Int)
        XCTAssertEqual(try number(after: "arena:      "), report["arena_bytes"] as? Int)
        XCTAssertEqual(try number(after: "scratch: "), report["scratch_bytes"] as? Int)
        XCTAssertEqual(report["arena_naive_bytes"] as? Int, model.plan.naiveBytes + model.plan.persistentBytes)
        XCTAssertEqual(report["arena_persistent_bytes"] as? Int, model.plan.persistentBytes)
        let scratch = try XCTUnwrap(text.split(separator: "\n").first { $0.contains("scratch:") })
        XCTAssertTrue(scratch.contains("working memory") && scratch.contains("its own operator only"), String(scratch))
    }

    // MARK: 11. bench's caution

    func testBenchCautionsAboutLatencyFromTooFewImages() throws {
        let small = try fixtures()
        var result = cli(["bench", small.model, "--images", small.images, "--labels", small.labels, "--limit", "1", "--warmup", "0"])
        XCTAssertEqual(result.status, 0, result.err)
        let caution = try XCTUnwrap(result.out.split(separator: "\n").first { $0.hasPrefix("caution: ") }, result.out)
        XCTAssertTrue(caution.contains("only 1 image timed") && caution.contains("fewer than 100") && caution.contains("no warm-up"), String(caution))
        result = cli(["bench", small.model, "--images", small.images, "--labels", small.labels, "--limit", "1", "--warmup", "0", "--json"])
        XCTAssertTrue(try XCTUnwrap(try json(result.out)["latency_caution"] as? String).contains("only 1 image"))
        result = cli(["bench", small.model, "--images", small.images, "--labels", small.labels, "--limit", "40", "--warmup", "2", "--csv"])
        XCTAssertTrue(result.out.hasPrefix("configuration,"), result.out)
        XCTAssertTrue(result.err.contains("caution: ") && result.err.contains("only 40 images"), result.err)
        XCTAssertFalse(result.err.contains("no warm-up"), "a warm-up was done")

        // At 100 images with a warm-up: no caution.
        let large = try fixtures(count: 100)
        result = cli(["bench", large.model, "--images", large.images, "--labels", large.labels, "--warmup", "2"])
        XCTAssertEqual(result.status, 0, result.err)
        XCTAssertTrue(result.out.contains("100 images"), result.out)
        XCTAssertFalse(result.out.contains("caution"), result.out)
        result = cli(["bench", large.model, "--images", large.images, "--labels", large.labels, "--warmup", "2", "--json"])
        XCTAssertTrue(try json(result.out)["latency_caution"] is NSNull)
        XCTAssertTrue(cli(["bench", "--help"]).out.contains("fewer than 100 timed images"))
    }
}
