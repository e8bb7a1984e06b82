// The CLI on imported networks: a torchvision classifier exported with the dynamo exporter's
// defaults (side file) converts and runs with no renaming; normalization is said and enforced;
// late exits are flagged by info; the bundled model's metadata reproduces the bundle.
import EarlyExit
@testable import EarlyExitTools
import Foundation
import XCTest

final class ImportCLITests: XCTestCase {
    var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("import-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        if let directory { try? FileManager.default.removeItem(at: directory) }
    }

    func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    final class Capture: @unchecked Sendable { var out = "", err = "" }

    func cli(_ arguments: [String]) -> (status: Int32, out: String, err: String) {
        let capture = Capture()
        let console = Console(out: { capture.out += $0 + "\n" }, err: { capture.err += $0 + "\n" })
        let status = EarlyExitCLI.main(arguments, console: console)
        return (status, capture.out, capture.err)
    }

    static var fixtures: URL { Bundle.module.resourceURL!.appendingPathComponent("Fixtures/import") }
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// Two 3×32×32 images as an IDX file (unsigned bytes, dims [2, 3, 32, 32]).
    func writeImages() throws -> String {
        var bytes: [UInt8] = [0, 0, 0x08, 4]
        for dim: UInt8 in [2, 3, 32, 32] { bytes += [0, 0, 0, dim] }
        for index in 0..<(2 * 3 * 32 * 32) { bytes.append(UInt8(truncatingIfNeeded: index * 37)) }
        try Data(bytes).write(to: URL(fileURLWithPath: path("images-idx3-ubyte")))
        return path("images-idx3-ubyte")
    }

    func testATorchvisionClassifierFromTheDynamoDefaultsRunsWithoutRenaming() throws {
        let onnx = Self.fixtures.appendingPathComponent("resnet18_dynamo/model.onnx").path
        let converted = cli(["convert", onnx, "-o", path("resnet.eem")])
        XCTAssertEqual(converted.status, 0, converted.err)
        XCTAssertTrue(converted.out.contains("exit tensors (a plain classifier, its only output is the final head): final = 'linear' (no gate)"), converted.out)
        XCTAssertTrue(converted.out.contains("stored policy: none (no early exit)"), converted.out)
        XCTAssertTrue(converted.out.contains("input normalization: none recorded"), converted.out)

        let info = cli(["info", path("resnet.eem")])
        XCTAssertEqual(info.status, 0, info.err)
        XCTAssertTrue(info.out.contains("no normalization recorded") && info.out.contains("(no gate)"), info.out)

        // A float32 tensor runs as it is, and its class is onnxruntime's.
        let input = Self.fixtures.appendingPathComponent("resnet18_dynamo/input.npy").path
        let run = cli(["run", path("resnet.eem"), input])
        XCTAssertEqual(run.status, 0, run.err)
        let reference = try NPYArray.read(path: Self.fixtures.appendingPathComponent("resnet18_dynamo/linear.npy").path).values
        let best = reference.indices.max { reference[$0] < reference[$1] }!
        // (run prints "class:   N, probability P", or "class:   N (name), probability P".)
        XCTAssertTrue((run.out.contains("class:   \(best),") || run.out.contains("class:   \(best) (")) && run.out.contains("gates:   final=none"), run.out)

        // 8-bit images are refused without a normalization, with how to supply one.
        let images = try writeImages()
        let refused = cli(["run", path("resnet.eem"), images, "--index", "0"])
        XCTAssertEqual(refused.status, 1)
        XCTAssertTrue(refused.err.contains("records no input normalization") && refused.err.contains("--plain-pixels"), refused.err)

        let plain = cli(["convert", onnx, "-o", path("plain.eem"), "--plain-pixels"])
        XCTAssertEqual(plain.status, 0, plain.err)
        XCTAssertTrue(plain.out.contains("input normalization: mean 0.0, std 1.0, --plain-pixels"), plain.out)
        let accepted = cli(["run", path("plain.eem"), images, "--index", "1"])
        XCTAssertEqual(accepted.status, 0, accepted.err)

        let flagged = cli(["convert", onnx, "-o", path("flags.eem"), "--mean", "0.5,0.4,0.3", "--std", "0.2,0.2,0.2"])
        XCTAssertEqual(flagged.status, 0, flagged.err)
        XCTAssertTrue(flagged.out.contains("input normalization: mean 0.5,0.4,0.3, std 0.2,0.2,0.2, from --mean/--std"), flagged.out)
        let both = cli(["convert", onnx, "-o", path("x.eem"), "--plain-pixels", "--mean", "0.5", "--std", "1"])
        XCTAssertEqual(both.status, 2, both.err)
    }

    /// An ONNX file given where an .eem goes, and an .eem given to convert: each error says
    /// which file it is and what to do with it.
    func testSwappedModelFormatsSayWhatToDo() throws {
        let onnx = Self.fixtures.appendingPathComponent("resnet18_dynamo/model.onnx").path
        for command in [["info", onnx], ["run", onnx, "x.npy"], ["bench", onnx, "--images", "i", "--labels", "l"]] {
            let result = cli(command)
            XCTAssertEqual(result.status, 1, "\(command)")
            XCTAssertTrue(result.err.contains("does not start with the magic bytes") && result.err.contains("looks like an ONNX file: convert it first"),
                          "\(command): \(result.err)")
        }
        XCTAssertEqual(cli(["convert", onnx, "-o", path("resnet.eem")]).status, 0)
        let twice = cli(["convert", path("resnet.eem"), "-o", path("again.eem")])
        XCTAssertEqual(twice.status, 1)
        XCTAssertTrue(twice.err.contains("is not a readable ONNX file") && twice.err.contains("is an EarlyExit .eem model already"), twice.err)
        // A file that is neither gets neither hint.
        try Data("plain text, not a model\n".utf8).write(to: URL(fileURLWithPath: path("notes.txt")))
        let neither = cli(["info", path("notes.txt")])
        XCTAssertEqual(neither.status, 1)
        XCTAssertFalse(neither.err.contains("ONNX"), neither.err)
        let neitherConvert = cli(["convert", path("notes.txt"), "-o", path("n.eem")])
        XCTAssertEqual(neitherConvert.status, 1)
        XCTAssertFalse(neitherConvert.err.contains(".eem model already"), neitherConvert.err)
    }

    func testExitFlagsOnTheCommandLine() throws {
        let onnx = Self.fixtures.appendingPathComponent("resnet18_legacy17/model.onnx").path
        let manifest = try JSONSerialization.jsonObject(with: Data(contentsOf: Self.fixtures.appendingPathComponent("resnet18_legacy17/manifest.json"))) as? [String: Any]
        let output = try XCTUnwrap((manifest?["outputs"] as? [String])?.first)
        let named = cli(["convert", onnx, "-o", path("named.eem"), "--final", output])
        XCTAssertEqual(named.status, 0, named.err)
        XCTAssertTrue(named.out.contains("final = '\(output)' (no gate)"), named.out)
        let wrong = cli(["convert", onnx, "-o", path("wrong.eem"), "--exit", "missing_logits", "--final", output])
        XCTAssertEqual(wrong.status, 1)
        XCTAssertTrue(wrong.err.contains("--exit names 'missing_logits', which no node produces"), wrong.err)
        let malformed = cli(["convert", onnx, "-o", path("bad.eem"), "--exit", "a,b,c"])
        XCTAssertEqual(malformed.status, 2)
    }

    func testLTPAConvertsAndItsExitsAreFlaggedAsLate() throws {
        // Learn To Pay Attention's exits read the global feature from the end of the network.
        let onnx = Self.fixtures.appendingPathComponent("ltpa_dot_legacy17/model.onnx").path
        let result = cli(["convert", onnx, "-o", path("ltpa.eem")])
        XCTAssertEqual(result.status, 0, result.err)
        XCTAssertTrue(result.out.contains("warning: exit1 cannot exit early"), result.out)
    }

    func testInfoFlagsAnExitThatWaitsForTheNetwork() throws {
        // A late exit: its head reads the deepest features (as LTPA's exits read the global feature).
        var b = ModelBuilder()
        let x = b.addInput(shape: [1, 1, 8, 8])
        let w = b.addConstant([Float](repeating: 0.1, count: 4 * 9), shape: [4, 1, 3, 3])
        let y = b.add(.conv2d, [x, w], shape: [1, 4, 8, 8], attributes: [3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1], activation: .relu)
        let pooled = b.add(.globalAvgPool, [y], shape: [1, 4])
        let early = b.add(.fullyConnected, [pooled, b.addConstant([Float](repeating: 0.2, count: 12), shape: [3, 4])], shape: [1, 3])
        b.addExit(logits: early, gate: ExitInfo.noGate)
        let final = b.add(.fullyConnected, [pooled, b.addConstant([Float](repeating: -0.1, count: 12), shape: [3, 4])], shape: [1, 3])
        b.addExit(logits: final, gate: ExitInfo.noGate)
        b.signal = .maxProbability
        b.thresholds = [0.9]
        try Data(try b.serialize()).write(to: URL(fileURLWithPath: path("late.eem")))
        let info = cli(["info", path("late.eem")])
        XCTAssertEqual(info.status, 0, info.err)
        XCTAssertTrue(info.out.contains("warning: exit1 cannot exit early in any useful sense: it must wait for 99."), info.out)
        let json = cli(["info", path("late.eem"), "--json"])
        XCTAssertTrue(json.out.contains("\"has_gate\":false") && json.out.contains("\"late\":true"), json.out)
        // The gate signal on gate-less exits is refused where a policy is set.
        let model = try Model(bytes: try b.serialize())
        XCTAssertThrowsError(try Interpreter(model: model).setPolicy(ExitPolicy(signal: .gate, thresholds: [0.5])))
        b.signal = .gate
        XCTAssertThrowsError(try Model(bytes: try b.serializeUnchecked(exitMACs: model.exits.map(\.cumulativeMACs)))) { error in
            XCTAssertTrue("\(error)".contains("exit 1 has no gate"), "\(error)")
        }
    }

    func testTheBundledOnnxCarriesItsNormalizationAndReproducesTheBundle() throws {
        let models = Self.repository.appendingPathComponent("Models")
        let onnx = try ONNXModel(contentsOf: models.appendingPathComponent("fashion-attn-wrn.onnx"))
        XCTAssertEqual(onnx.metadataProps[ONNXConverter.meanKey], "0.286")
        XCTAssertEqual(onnx.metadataProps[ONNXConverter.stdKey], "0.353")
        // make-bundle.sh's convert step without --mean/--std gives the bundled model's bytes, once
        // the thresholds that tune stored afterwards are applied.
        let converted = cli(["convert", models.appendingPathComponent("fashion-attn-wrn.onnx").path, "-o", path("fashion.eem"),
                             "--classes", models.appendingPathComponent("fashion-classes.txt").path, "--name", "fashion-attn-wrn"])
        XCTAssertEqual(converted.status, 0, converted.err)
        XCTAssertTrue(converted.out.contains("from the ONNX metadata_props"), converted.out)
        let bundled = [UInt8](try Data(contentsOf: models.appendingPathComponent("fashion-attn-wrn.eem")))
        let policy = try Model(bytes: bundled).defaultPolicy
        let rebuilt = try ModelPatcher.settingPolicy(policy, in: [UInt8](try Data(contentsOf: URL(fileURLWithPath: path("fashion.eem")))))
        XCTAssertEqual(rebuilt, bundled)
    }
}
