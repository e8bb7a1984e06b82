// Replays the fuzzers' regression corpus (Fuzz/regressions/TARGET/: inputs that once crashed, timed
// out or ran out of memory) through the same entry points as Fuzz/run.sh, so that a fixed crash
// stays fixed without libFuzzer; and checks that each entry point does real work on valid input.
import EarlyExit
import EarlyExitTools
import Foundation
import XCTest

final class FuzzRegressionTests: XCTestCase {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let fixtures = root.appendingPathComponent("Tests/EarlyExitToolsTests/Fixtures")

    func bytes(_ path: String) throws -> [UInt8] { [UInt8](try Data(contentsOf: Self.root.appendingPathComponent(path))) }

    func run(_ target: FuzzTarget, _ bytes: [UInt8]) -> String { bytes.withUnsafeBytes { target.run($0) } }

    /// Every committed regression input goes through its target's entry point (a trap fails the
    /// whole test run, which is the point) and gets an account of what happened.
    func testRegressionCorpusReplays() throws {
        let corpus = Self.root.appendingPathComponent("Fuzz/regressions")
        var replayed = 0
        for target in FuzzTarget.allCases {
            let folder = corpus.appendingPathComponent(target.rawValue)
            guard let names = try? FileManager.default.contentsOfDirectory(atPath: folder.path) else { continue }
            for name in names.sorted() where !name.hasPrefix(".") && !name.hasSuffix(".md") {
                let outcome = run(target, try bytes("Fuzz/regressions/\(target.rawValue)/\(name)"))
                XCTAssertFalse(outcome.isEmpty, "\(target.rawValue)/\(name)")
                print("fuzz regression \(target.rawValue)/\(name): \(outcome)")
                replayed += 1
            }
        }
        print("fuzz regressions replayed: \(replayed)")
    }

    /// The entry points reach past the first check on valid input: a model loads and runs, the
    /// checksum fix-up makes a corrupted model load, an ONNX fixture converts and runs, and so on.
    func testEntryPointsDoRealWorkOnValidInput() throws {
        let model = try SyntheticModels.attentionNetwork(size: 8, width: 4, classes: 5).serialize()
        XCTAssertTrue(run(.eem, model).hasPrefix("loaded: ran: exit "), run(.eem, model))

        // A changed threshold byte: the raw target stops at the checksum, the fixed-up one loads.
        var changed = model
        let exitTable = Int(changed[44]) | Int(changed[45]) << 8 | Int(changed[46]) << 16 | Int(changed[47]) << 24
        changed[exitTable + EEMFormat.exitTableHeaderSize + 24 + 3] ^= 0x01
        XCTAssertTrue(run(.eem, changed).hasPrefix("rejected: "), run(.eem, changed))
        XCTAssertTrue(run(.eemCRC, changed).hasPrefix("loaded: ran: "), run(.eemCRC, changed))
        XCTAssertTrue(run(.eemCRC, Array(model.prefix(200))).hasPrefix("rejected: "))

        let onnx = try bytes("Tests/EarlyExitToolsTests/Fixtures/conformance/aw1_k1_gray16_legacy/model.onnx")
        XCTAssertTrue(run(.onnx, onnx).hasPrefix("converted: ran: "), run(.onnx, onnx))
        XCTAssertTrue(run(.onnx, Array(onnx.prefix(100))).hasPrefix("rejected: "))

        // An ONNX file whose weights are in a side file: the target writes both and converts.
        let dynamo = "Tests/EarlyExitToolsTests/Fixtures/import/resnet18_dynamo/model.onnx"
        let file = try bytes(dynamo), side = try bytes(dynamo + ".data")
        let external = (0..<4).map { UInt8(truncatingIfNeeded: file.count >> (8 * $0)) } + file + side
        XCTAssertTrue(run(.onnxExternal, external).hasPrefix("converted: ran: "), run(.onnxExternal, external))
        XCTAssertTrue(run(.onnxExternal, Array(external.dropLast(100))).hasPrefix("rejected: "))
        XCTAssertTrue(run(.onnx, file).hasPrefix("rejected: "), "without its side file the weights are missing")

        let gzip = try bytes("Tests/EarlyExitToolsTests/Fixtures/data/text.gz")
        let text = try Gzip.decompress(gzip)
        XCTAssertEqual(run(.gzip, gzip), "decompressed \(text.count) bytes")
        let images = try bytes("Tests/EarlyExitToolsTests/Fixtures/data/images-7x4x5-idx3-ubyte.gz")
        XCTAssertEqual(run(.idx, images), "parsed [7, 4, 5]")
        XCTAssertEqual(run(.idx, try Gzip.decompress(images)), "parsed [7, 4, 5]")
        XCTAssertEqual(run(.npy, try bytes("Tests/EarlyExitToolsTests/Fixtures/data/f32-numpy-1x3.npy")), "parsed [1, 3]")
        // A stored (uncompressed) DEFLATE block: BFINAL 1, BTYPE 00, LEN 3, NLEN ~3, "abc".
        XCTAssertEqual(run(.inflate, [0x01, 0x03, 0x00, 0xFC, 0xFF, 0x61, 0x62, 0x63]), "inflated 3 bytes")

        // The C API on each built-in model with all-zero parameters: open, create, run, close.
        for index in FuzzTargets.builtInModels.indices {
            let outcome = run(.capi, [UInt8(index)] + [UInt8](repeating: 0, count: 127))
            XCTAssertTrue(outcome.hasPrefix("open ok") && outcome.contains("run: 0"), outcome)
        }
        // Model bytes carried by the input (after the 64-byte parameter block).
        var block = [UInt8](repeating: 0, count: 64)
        block[0] = UInt8(FuzzTargets.builtInModels.count)
        let carried = run(.capi, block + model)
        XCTAssertTrue(carried.hasPrefix("open ok") && carried.contains("run: 0"), carried)
        // A misaligned model buffer is refused with EE_ERR_MISALIGNED_MODEL (3).
        XCTAssertEqual(run(.capi, [0, 8] + [UInt8](repeating: 0, count: 126)), "open: status 3")
    }
}
