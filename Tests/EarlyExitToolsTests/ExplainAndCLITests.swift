// `early-exit explain` (PNG pictures of the attention masks, HTML, JSON) and the argument and
// file handling of run, bench and tune, driven through `EarlyExitCLI.main` with a captured console.
import EarlyExit
@testable import EarlyExitTools
import Foundation
import XCTest

final class ExplainAndCLITests: XCTestCase {
    // MARK: Fixtures

    /// Collects what a command prints.
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
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("explain-cli-\(UUID().uuidString)")
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

    static let imageSize = 16
    static let imageCount = 40

    /// Seeded 16×16 images with a bright blob whose position moves, and labels 0...9.
    static func imagePixels() -> [UInt8] {
        var rng = SeededGenerator(seed: 11)
        var pixels: [UInt8] = []
        for image in 0..<imageCount {
            let cy = image % 12 + 2, cx = (image * 5) % 12 + 2
            for y in 0..<imageSize {
                for x in 0..<imageSize {
                    let distance = Double((y - cy) * (y - cy) + (x - cx) * (x - cx))
                    let blob = 220 * Foundation.exp(-distance / 8)
                    pixels.append(UInt8(min(255, max(0, blob + Double(rng.next() % 30)))))
                }
            }
        }
        return pixels
    }

    /// Writes the synthetic attention model (two attention exits + final head, 2 heads each),
    /// an image file and a label file; returns their paths.
    func writeFixtures() throws -> (model: String, images: String, labels: String) {
        let model = path("model.eem"), images = path("images-idx3-ubyte"), labels = path("labels-idx1-ubyte")
        try Data(try SyntheticModels.attentionNetwork().serialize()).write(to: URL(fileURLWithPath: model))
        try Data(IDXFile.encode(dimensions: [Self.imageCount, Self.imageSize, Self.imageSize], payload: Self.imagePixels()))
            .write(to: URL(fileURLWithPath: images))
        try Data(IDXFile.encode(dimensions: [Self.imageCount], payload: (0..<Self.imageCount).map { UInt8($0 % 10) }))
            .write(to: URL(fileURLWithPath: labels))
        return (model, images, labels)
    }

    func jsonObject(_ text: String, file: StaticString = #filePath, line: UInt = #line) throws -> [String: Any] {
        let value = try JSONSerialization.jsonObject(with: Data(text.utf8))
        return try XCTUnwrap(value as? [String: Any], "not a JSON object: \(text.prefix(200))", file: file, line: line)
    }

    // MARK: PNG decoding (independent of the writer)

    struct DecodedPNG {
        var width: Int
        var height: Int
        var rgb: [UInt8]

        func pixel(_ x: Int, _ y: Int) -> [Int] {
            let offset = (y * width + x) * 3
            return [Int(rgb[offset]), Int(rgb[offset + 1]), Int(rgb[offset + 2])]
        }
    }

    /// Checks the signature, chunk CRCs, IHDR and zlib framing (header, Adler-32), inflates IDAT
    /// with the package's own DEFLATE decoder and undoes the PNG row filters.
    func decodePNG(_ bytes: [UInt8], file: StaticString = #filePath, line: UInt = #line) throws -> DecodedPNG {
        XCTAssertEqual(Array(bytes.prefix(8)), [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A], "PNG signature", file: file, line: line)
        func u32(_ at: Int) -> Int { Int(bytes[at]) << 24 | Int(bytes[at + 1]) << 16 | Int(bytes[at + 2]) << 8 | Int(bytes[at + 3]) }
        var position = 8
        var width = 0, height = 0
        var idat: [UInt8] = []
        var types: [String] = []
        while position + 12 <= bytes.count {
            let length = u32(position)
            let type = String(decoding: bytes[(position + 4)..<(position + 8)], as: UTF8.self)
            let body = Array(bytes[(position + 4)..<(position + 8 + length)])
            XCTAssertEqual(UInt32(u32(position + 8 + length)), CRC32.checksum(body), "\(type) CRC", file: file, line: line)
            let data = Array(body.dropFirst(4))
            if type == "IHDR" {
                width = Int(data[0]) << 24 | Int(data[1]) << 16 | Int(data[2]) << 8 | Int(data[3])
                height = Int(data[4]) << 24 | Int(data[5]) << 16 | Int(data[6]) << 8 | Int(data[7])
                XCTAssertEqual(Array(data[8...]), [8, 2, 0, 0, 0], "8-bit RGB, no interlace", file: file, line: line)
            }
            if type == "IDAT" { idat += data }
            types.append(type)
            position += 12 + length
        }
        XCTAssertEqual(types.first, "IHDR", file: file, line: line)
        XCTAssertEqual(types.last, "IEND", file: file, line: line)
        XCTAssertEqual((Int(idat[0]) << 8 | Int(idat[1])) % 31, 0, "zlib header check bits", file: file, line: line)
        XCTAssertEqual(idat[0] & 0x0F, 8, "zlib method deflate", file: file, line: line)
        let raw = try Gzip.inflate(Array(idat[2..<(idat.count - 4)]))
        var a = 1, b = 0
        for byte in raw { a = (a + Int(byte)) % 65521; b = (b + a) % 65521 }
        let adler = idat.suffix(4).reduce(0) { $0 << 8 | Int($1) }
        XCTAssertEqual(adler, b << 16 | a, "Adler-32", file: file, line: line)
        let stride = width * 3
        XCTAssertEqual(raw.count, height * (stride + 1), "scanline bytes", file: file, line: line)
        var rgb = [UInt8](repeating: 0, count: width * height * 3)
        for y in 0..<height {
            let filter = raw[y * (stride + 1)]
            for x in 0..<stride {
                let value = raw[y * (stride + 1) + 1 + x]
                let left = x >= 3 ? Int(rgb[y * stride + x - 3]) : 0
                let up = y > 0 ? Int(rgb[(y - 1) * stride + x]) : 0
                let upLeft = x >= 3 && y > 0 ? Int(rgb[(y - 1) * stride + x - 3]) : 0
                let predictor: Int
                switch filter {
                case 0: predictor = 0
                case 1: predictor = left
                case 2: predictor = up
                case 3: predictor = (left + up) / 2
                case 4:
                    let p = left + up - upLeft
                    let pa = abs(p - left), pb = abs(p - up), pc = abs(p - upLeft)
                    predictor = pa <= pb && pa <= pc ? left : pb <= pc ? up : upLeft
                default:
                    XCTFail("unknown PNG filter \(filter)", file: file, line: line)
                    predictor = 0
                }
                rgb[y * stride + x] = value &+ UInt8(predictor & 0xFF)
            }
        }
        return DecodedPNG(width: width, height: height, rgb: rgb)
    }

    func readPNG(_ path: String, file: StaticString = #filePath, line: UInt = #line) throws -> DecodedPNG {
        try decodePNG([UInt8](try Data(contentsOf: URL(fileURLWithPath: path))), file: file, line: line)
    }

    // MARK: PNG writer

    func testPNGWriterRoundTripsStoredAndCompressed() throws {
        var rng = SeededGenerator(seed: 5)
        let width = 37, height = 23
        // Smooth areas (compressible) and noise (not), to exercise matches and literals.
        var rgb: [UInt8] = []
        for index in 0..<(width * height * 3) {
            let smooth = UInt8((index / 3) % 7 * 30)
            let noise = UInt8(truncatingIfNeeded: rng.next())
            rgb.append(index % 200 < 120 ? smooth : noise)
        }
        for compression in [PNGWriter.Compression.stored, .fixedHuffman] {
            let png = PNGWriter.encode(width: width, height: height, rgb: rgb, compression: compression)
            let decoded = try decodePNG(png)
            XCTAssertEqual(decoded.width, width)
            XCTAssertEqual(decoded.height, height)
            XCTAssertEqual(decoded.rgb, rgb, "\(compression)")
        }
        // Larger than one stored block (65,535 bytes).
        let big = [UInt8](repeating: 200, count: 160 * 160 * 3)
        XCTAssertEqual(try decodePNG(PNGWriter.encode(width: 160, height: 160, rgb: big, compression: .stored)).rgb, big)
        XCTAssertEqual(PNGWriter.adler32(Array("Wikipedia".utf8)), 0x11E6_0398)
    }

    // MARK: explain

    /// The masks computed here, independently of `AttentionMasks`: every softmax output of the
    /// synthetic model, copied right after it runs in a full-network pass.
    func referenceMasks(model: Model, input: [Float]) throws -> [[Float]] {
        let interpreter = Interpreter(model: model)
        try interpreter.setPolicy(.fullNetwork(earlyExitCount: model.earlyExitCount))
        var masks: [[Float]] = []
        let softmaxes = model.operators.indices.filter { model.operators[$0].kind == .softmax }
        XCTAssertEqual(softmaxes.count, 2, "the synthetic model has two attention modules")
        try input.withUnsafeBufferPointer { buffer in
            _ = try interpreter.run(buffer, afterEachOperator: { index in
                if softmaxes.contains(index) { masks.append(Array(interpreter.values(of: model.operators[index].output))) }
            })
        }
        return masks
    }

    func testExplainWritesMaskPicturesPageAndReport() throws {
        let files = try writeFixtures()
        let out = path("explain")
        let index = 7
        let result = cli(["explain", files.model, "--images", files.images, "--labels", files.labels, "--index", "\(index)", "-o", out])
        XCTAssertEqual(result.status, 0, result.err)
        XCTAssertTrue(result.out.contains("index.html"), result.out)
        for name in ["input.png", "exit1_head1.png", "exit1_head2.png", "exit2_head1.png", "exit2_head2.png", "index.html", "explain.json"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: out + "/" + name), "\(name) written")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: out + "/exit3_head1.png"), "the final head has no attention module")

        let size = Self.imageSize, scale = 8
        let pixels = Array(Self.imagePixels()[(index * size * size)..<((index + 1) * size * size)])
        // input.png: the image ×8, nearest neighbour, gray.
        let input = try readPNG(out + "/input.png")
        XCTAssertEqual(input.width, size * scale)
        XCTAssertEqual(input.height, size * scale)
        for (x, y) in [(0, 0), (13, 77), (127, 127), (64, 3)] {
            let gray = Int(pixels[(y / scale) * size + x / scale])
            XCTAssertEqual(input.pixel(x, y), [gray, gray, gray], "input pixel \(x),\(y)")
        }

        // Mask pictures against masks computed here: normalized by the maximum, resized
        // bilinearly (pixel centres aligned) and blended over the gray input.
        let model = try Model(bytes: [UInt8](try Data(contentsOf: URL(fileURLWithPath: files.model))))
        let masks = try referenceMasks(model: model, input: ModelFiles.normalize(pixels[...], for: model))
        let grids = [(16, 16), (4, 4)] // exit 1 at full resolution; exit 2 after stride 2 and a 2×2 max pool
        for (module, (maskHeight, maskWidth)) in grids.enumerated() {
            XCTAssertEqual(masks[module].count, 2 * maskHeight * maskWidth)
            for head in 0..<2 {
                let mask = Array(masks[module][(head * maskHeight * maskWidth)..<((head + 1) * maskHeight * maskWidth)])
                XCTAssertEqual(Double(mask.reduce(0, +)), 1, accuracy: 1e-4, "a softmax mask sums to 1")
                let picture = try readPNG(out + "/exit\(module + 1)_head\(head + 1).png")
                XCTAssertEqual(picture.width, size * scale)
                let bar = ColorBar.layout(width: size * scale)
                XCTAssertEqual(picture.height, size * scale + bar.height, "the picture, then its colour bar")
                try checkColorBar(picture, top: size * scale)
                let peak = mask.max()!
                var worst = 0
                for y in stride(from: 0, to: size * scale, by: 5) {
                    for x in stride(from: 0, to: picture.width, by: 3) {
                        let sy = min(max((Double(y) + 0.5) * Double(maskHeight) / Double(size * scale) - 0.5, 0), Double(maskHeight - 1))
                        let sx = min(max((Double(x) + 0.5) * Double(maskWidth) / Double(picture.width) - 0.5, 0), Double(maskWidth - 1))
                        let y0 = Int(sy), x0 = Int(sx), y1 = min(y0 + 1, maskHeight - 1), x1 = min(x0 + 1, maskWidth - 1)
                        let fy = sy - Double(y0), fx = sx - Double(x0)
                        func m(_ r: Int, _ c: Int) -> Double { Double(mask[r * maskWidth + c] / peak) }
                        let value = (m(y0, x0) * (1 - fx) + m(y0, x1) * fx) * (1 - fy) + (m(y1, x0) * (1 - fx) + m(y1, x1) * fx) * fy
                        let expected = HeatMap.blend(gray: pixels[(y / scale) * size + x / scale], value: Float(value))
                        let actual = picture.pixel(x, y)
                        worst = max(worst, abs(actual[0] - Int(expected.0)), abs(actual[1] - Int(expected.1)), abs(actual[2] - Int(expected.2)))
                    }
                }
                XCTAssertLessThanOrEqual(worst, 2, "exit\(module + 1) head \(head + 1): largest colour difference")
                // Where the mask peaks the picture is hot (red dominates), where it is least it is not.
                let argmax = mask.indices.max(by: { mask[$0] < mask[$1] })!
                let argmin = mask.indices.min(by: { mask[$0] < mask[$1] })!
                func centre(_ cell: Int) -> [Int] {
                    let cellSize = size * scale / maskWidth
                    return picture.pixel((cell % maskWidth) * cellSize + cellSize / 2, (cell / maskWidth) * cellSize + cellSize / 2)
                }
                if mask[argmin] < 0.5 * peak {
                    XCTAssertGreaterThan(centre(argmax)[0] - centre(argmax)[2], centre(argmin)[0] - centre(argmin)[2],
                                         "exit\(module + 1) head \(head + 1): hotter at the peak")
                }
            }
        }

        // explain.json states the same facts as the interpreter.
        let report = try jsonObject(String(decoding: try Data(contentsOf: URL(fileURLWithPath: out + "/explain.json")), as: UTF8.self))
        XCTAssertEqual(report["index"] as? Int, index)
        XCTAssertEqual(report["label"] as? Int, index % 10)
        XCTAssertEqual(report["masks_found"] as? Int, 4)
        let full = Interpreter(model: model)
        try full.setPolicy(.fullNetwork(earlyExitCount: 2))
        let fullRun = try full.run(ModelFiles.normalize(pixels[...], for: model))
        let policyRun = try Interpreter(model: model).run(ModelFiles.normalize(pixels[...], for: model))
        XCTAssertEqual(report["fired_exit"] as? Int, policyRun.exitIndex)
        XCTAssertEqual(report["class"] as? Int, policyRun.classIndex)
        XCTAssertEqual(report["full_network_class"] as? Int, fullRun.classIndex)
        let exits = try XCTUnwrap(report["exits"] as? [[String: Any]])
        XCTAssertEqual(exits.count, 3)
        for (e, exit) in exits.enumerated() {
            XCTAssertEqual(try XCTUnwrap(exit["gate"] as? Double), Double(full.gate(exit: e)), accuracy: 1e-6)
            XCTAssertEqual(exit["fired"] as? Bool, e == policyRun.exitIndex)
            let logits = Array(full.logits(exit: e))
            XCTAssertEqual(exit["class"] as? Int, logits.indices.max(by: { logits[$0] < logits[$1] }))
            XCTAssertEqual((exit["masks"] as? [Any])?.count, e < 2 ? 2 : 0)
        }
        let html = String(decoding: try Data(contentsOf: URL(fileURLWithPath: out + "/index.html")), as: UTF8.self)
        XCTAssertTrue(html.hasPrefix("<!DOCTYPE html>"))
        for needle in ["input.png", "exit1_head1.png", "exit2_head2.png", "gate \(format(full.gate(exit: 0)))", "fired", "final class"] {
            XCTAssertTrue(html.contains(needle), "index.html mentions \(needle)")
        }
    }

    /// The colour bar under a mask picture, checked against the colour map: white gap, then a
    /// bar whose columns go from color(0) at its left end to color(1) at its right end.
    func checkColorBar(_ picture: DecodedPNG, top: Int, file: StaticString = #filePath, line: UInt = #line) throws {
        let layout = ColorBar.layout(width: picture.width)
        XCTAssertGreaterThanOrEqual(layout.barHeight, 4, file: file, line: line)
        XCTAssertEqual(picture.pixel(picture.width / 2, top), [255, 255, 255], "a white gap under the picture", file: file, line: line)
        let barRow = top + layout.gap + layout.barHeight / 2
        func rgb(_ c: (UInt8, UInt8, UInt8)) -> [Int] { [Int(c.0), Int(c.1), Int(c.2)] }
        XCTAssertEqual(picture.pixel(layout.left, barRow), rgb(HeatMap.color(0)), "the bar starts at 0", file: file, line: line)
        XCTAssertEqual(picture.pixel(layout.right, barRow), rgb(HeatMap.color(1)), "the bar ends at 1", file: file, line: line)
        for x in stride(from: layout.left, through: layout.right, by: 5) {
            let value = Float(x - layout.left) / Float(layout.right - layout.left)
            XCTAssertEqual(picture.pixel(x, barRow), rgb(HeatMap.color(value)), "bar column \(x)", file: file, line: line)
        }
        // Dark label pixels ("0" and "1") under the bar's two ends, none in the middle.
        let labels = (top + layout.gap + layout.barHeight + layout.gap)..<(top + layout.gap + layout.barHeight + layout.gap + 5 * layout.labelScale)
        func dark(_ xs: Range<Int>) -> Int { labels.reduce(0) { sum, y in sum + xs.filter { picture.pixel($0, y) == [0, 0, 0] }.count } }
        XCTAssertGreaterThan(dark(layout.left..<(layout.left + 3 * layout.labelScale)), 0, "label 0", file: file, line: line)
        XCTAssertGreaterThan(dark((layout.right - 3 * layout.labelScale + 1)..<(layout.right + 1)), 0, "label 1", file: file, line: line)
        XCTAssertEqual(dark((picture.width / 2 - 5)..<(picture.width / 2 + 5)), 0, file: file, line: line)
    }

    /// Exits the policy does not reach are not shown as if they had been computed under it:
    /// their values are labelled as the full-network run's, in the page, the text and the JSON.
    func testExplainLabelsWhatThePolicyDidNotCompute() throws {
        let files = try writeFixtures()
        let out = path("first")
        let result = cli(["explain", files.model, "--images", files.images, "--index", "2", "-o", out, "--threshold", "-1"])
        XCTAssertEqual(result.status, 0, result.err)
        let lines = result.out.split(separator: "\n").map(String.init)
        let exit2 = try XCTUnwrap(lines.first { $0.hasPrefix("  exit2") })
        XCTAssertTrue(exit2.contains("not reached under the policy") && exit2.contains("full-network run"), exit2)
        XCTAssertTrue(try XCTUnwrap(lines.first { $0.hasPrefix("  exit1") }).contains("<- fired"))
        let html = try String(contentsOfFile: out + "/index.html", encoding: .utf8)
        XCTAssertFalse(html.contains("not evaluated under the policy"), "the old, contradictory label")
        XCTAssertTrue(html.contains("full-network run (computed for this page)"), "the table says where the values come from")
        let heading = try XCTUnwrap(html.split(separator: "\n").first { $0.hasPrefix("<h2>exit2") })
        XCTAssertTrue(heading.contains("not reached under the policy") && heading.contains("from the full-network run"), String(heading))
        let row = try XCTUnwrap(html.split(separator: "\n").first { $0.hasPrefix("<tr><td>exit2") })
        XCTAssertTrue(row.contains("not reached (the run stopped at exit1)"), String(row))
        let report = try jsonObject(String(contentsOfFile: out + "/explain.json", encoding: .utf8))
        XCTAssertEqual(report["exit_values_from"] as? String, "full_network_run")
        let exits = try XCTUnwrap(report["exits"] as? [[String: Any]])
        XCTAssertEqual(exits.map { $0["evaluated_under_policy"] as? Bool }, [true, false, false])
        try checkColorBar(try readPNG(out + "/exit2_head1.png"), top: Self.imageSize * 8)
    }

    func testExplainReportsTheExitThePolicyFires() throws {
        let files = try writeFixtures()
        // Every gate is ≥ −1: the first exit fires.
        var result = cli(["explain", files.model, "--images", files.images, "--index", "2", "-o", path("a"), "--threshold", "-1", "--json"])
        XCTAssertEqual(result.status, 0, result.err)
        var report = try jsonObject(result.out)
        XCTAssertEqual(report["fired_exit"] as? Int, 0)
        XCTAssertEqual(report["early"] as? Bool, true)
        // No exit fires ('never', a gate threshold of 2): the final head fires, and the masks of
        // every exit are still drawn.
        result = cli(["explain", files.model, "--images", files.images, "--index", "2", "-o", path("b"), "--threshold", "never", "--json"])
        XCTAssertEqual(result.status, 0, result.err)
        report = try jsonObject(result.out)
        XCTAssertEqual(report["fired_exit"] as? Int, 2)
        XCTAssertEqual(report["fired_exit_name"] as? String, "final")
        XCTAssertTrue(FileManager.default.fileExists(atPath: path("b") + "/exit2_head2.png"))
        XCTAssertEqual(cli(["explain", files.model, "--images", files.images, "--index", "2", "-o", path("c"), "--policy", "none"]).status, 0)
    }

    func testExplainErrors() throws {
        let files = try writeFixtures()
        var result = cli(["explain", files.model, "--images", files.images, "--index", "\(Self.imageCount)", "-o", path("out")])
        XCTAssertEqual(result.status, 2)
        XCTAssertTrue(result.err.contains("out of range"), result.err)
        XCTAssertTrue(result.err.contains("\(Self.imageCount) images"), result.err)
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("out")), "nothing written on a usage error")

        XCTAssertEqual(cli(["explain", files.model, "--images", files.images, "-o", path("out")]).status, 2, "--index is required")
        XCTAssertEqual(cli(["explain", files.model, "--images", files.images, "--index", "0"]).status, 2, "-o is required")
        XCTAssertEqual(cli(["explain", files.model, "--index", "0", "-o", path("out")]).status, 2, "--images is required")
        XCTAssertEqual(cli(["explain", files.model, "--images", files.images, "--index", "0", "-o", path("out"), "--thresholds", "0.5"]).status, 2)

        // An output directory that cannot be created: a path through a regular file.
        let blocker = path("blocker")
        try Data("x".utf8).write(to: URL(fileURLWithPath: blocker))
        result = cli(["explain", files.model, "--images", files.images, "--index", "0", "-o", blocker + "/out"])
        XCTAssertEqual(result.status, 1)
        XCTAssertTrue(result.err.contains(blocker), result.err)
        result = cli(["explain", files.model, "--images", files.images, "--index", "0", "-o", blocker])
        XCTAssertEqual(result.status, 1)
        XCTAssertTrue(result.err.contains("not a directory"), result.err)

        result = cli(["explain", path("missing.eem"), "--images", files.images, "--index", "0", "-o", path("out")])
        XCTAssertEqual(result.status, 1)
        XCTAssertTrue(result.err.contains(path("missing.eem")), result.err)
    }

    func testExplainModelWithoutAttentionWritesTheInputAndSaysSo() throws {
        let files = try writeFixtures()
        var rng = SeededGenerator(seed: 3)
        var b = ModelBuilder()
        let x = b.addInput(shape: [1, 1, 16, 16])
        let w = b.addConstant(rng.uniforms(4 * 9, scale: 0.5), shape: [4, 1, 3, 3])
        let y = b.add(.conv2d, [x, w], shape: [1, 4, 16, 16], attributes: [3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1], activation: .relu)
        let pooled = b.add(.globalAvgPool, [y], shape: [1, 4])
        let logits = b.add(.fullyConnected, [pooled, b.addConstant(rng.uniforms(40, scale: 0.5), shape: [10, 4])], shape: [1, 10])
        let gate = b.add(.tanh, [b.add(.fullyConnected, [pooled, b.addConstant(rng.uniforms(4, scale: 0.5), shape: [1, 4])], shape: [1, 1])], shape: [1, 1])
        b.addExit(logits: logits, gate: gate)
        // Without a stored normalization the pixels have no meaning: refused, saying how to fix it.
        let unnormalized = path("unnormalized.eem")
        try Data(try b.serialize()).write(to: URL(fileURLWithPath: unnormalized))
        var result = cli(["explain", unnormalized, "--images", files.images, "--index", "1", "-o", path("refused")])
        XCTAssertEqual(result.status, 1)
        XCTAssertTrue(result.err.contains("no input normalization") && result.err.contains("--mean"), result.err)
        b.metadata = ModelMetadata(mean: [0], std: [1])  // plain x/255 pixels: explain reads an IDX image
        let plain = path("plain.eem")
        try Data(try b.serialize()).write(to: URL(fileURLWithPath: plain))
        XCTAssertTrue(AttentionMasks.find(in: try Model(bytes: try b.serialize())).isEmpty)

        let out = path("plain")
        result = cli(["explain", plain, "--images", files.images, "--index", "1", "-o", out])
        XCTAssertEqual(result.status, 0, result.err)
        XCTAssertTrue(result.err.contains("no attention masks found"), result.err)
        XCTAssertEqual(try readPNG(out + "/input.png").width, 128)
        let report = try jsonObject(String(decoding: try Data(contentsOf: URL(fileURLWithPath: out + "/explain.json")), as: UTF8.self))
        XCTAssertEqual(report["masks_found"] as? Int, 0)
        XCTAssertNotNil(report["note"])
        let pngs = try FileManager.default.contentsOfDirectory(atPath: out).filter { $0.hasSuffix(".png") }
        XCTAssertEqual(pngs, ["input.png"])
    }

    func testExplainDequantizesTheMasksOfAnInt8Model() throws {
        let files = try writeFixtures()
        let float = try Model(bytes: try SyntheticModels.attentionNetwork().serialize())
        let pixels = Self.imagePixels()
        let plane = Self.imageSize * Self.imageSize
        let inputs = (0..<10).map { ModelFiles.normalize(pixels[($0 * plane)..<(($0 + 1) * plane)], for: float) }
        let (bytes, _) = try Quantizer.quantize(model: float, calibration: inputs, method: .minmax)
        let quantized = try Model(bytes: bytes)
        let sites = AttentionMasks.find(in: quantized)
        let floatSites = AttentionMasks.find(in: float)
        XCTAssertEqual(sites.map(\.softmaxOperator), floatSites.map(\.softmaxOperator), "the same mask sites in the int8 model")
        XCTAssertEqual(sites.map(\.height), floatSites.map(\.height))
        XCTAssertEqual(quantized.tensors[sites[0].tensor].dataType, .int8)
        let int8Masks = try AttentionMasks.capture(sites, interpreter: Interpreter(model: quantized), input: inputs[3])
        let floatMasks = try AttentionMasks.capture(floatSites, interpreter: Interpreter(model: float), input: inputs[3])
        for (slot, site) in sites.enumerated() {
            for head in 0..<site.heads {
                let mask = int8Masks[slot][head]
                XCTAssertTrue(mask.allSatisfy { $0 >= 0 && $0 <= 1 }, "dequantized probabilities")
                XCTAssertEqual(Double(mask.reduce(0, +)), 1, accuracy: 0.15, "exit\(site.exit + 1) head \(head + 1) sums to about 1")
                let difference = zip(mask, floatMasks[slot][head]).map { abs($0 - $1) }.max() ?? 1
                XCTAssertLessThan(difference, 0.05, "close to the float model's mask")
            }
        }
        let model = path("int8.eem")
        try Data(bytes).write(to: URL(fileURLWithPath: model))
        let result = cli(["explain", model, "--images", files.images, "--index", "3", "-o", path("int8"), "--json"])
        XCTAssertEqual(result.status, 0, result.err)
        XCTAssertEqual(try jsonObject(result.out)["masks_found"] as? Int, 4)
        XCTAssertEqual(try readPNG(path("int8") + "/exit2_head1.png").width, 128)
    }

    func testAttentionMaskSitesOfTheSyntheticModel() throws {
        let model = try Model(bytes: try SyntheticModels.attentionNetwork(size: 12, heads: 3).serialize())
        let sites = AttentionMasks.find(in: model)
        XCTAssertEqual(sites.map(\.exit), [0, 1])
        XCTAssertEqual(sites.map(\.heads), [3, 3])
        XCTAssertEqual(sites.map(\.height), [12, 3])
        for site in sites {
            XCTAssertEqual(model.operators[site.softmaxOperator].kind, .softmax)
            XCTAssertLessThanOrEqual(site.softmaxOperator, model.exits[site.exit].afterOperator)
            if site.exit > 0 { XCTAssertGreaterThan(site.softmaxOperator, model.exits[site.exit - 1].afterOperator) }
        }
    }

    // MARK: run, bench, tune: arguments and files

    func testMissingAndCorruptedFiles() throws {
        let files = try writeFixtures()
        let missing = path("nothing-here.eem")
        for arguments in [["run", missing, files.images, "--index", "0"],
                          ["bench", missing, "--images", files.images, "--labels", files.labels],
                          ["tune", missing, "--images", files.images, "--labels", files.labels, "--max-drop", "1"]] {
            let result = cli(arguments)
            XCTAssertEqual(result.status, 1, "\(arguments[0]): \(result.err)")
            XCTAssertTrue(result.err.contains(missing), "\(arguments[0]) names the path: \(result.err)")
        }
        let result = cli(["bench", files.model, "--images", path("no-images"), "--labels", files.labels])
        XCTAssertEqual(result.status, 1)
        XCTAssertTrue(result.err.contains(path("no-images")), result.err)

        // A model with flipped bytes (checksum) and a truncated one.
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: files.model)))
        bytes[bytes.count / 2] ^= 0xFF
        let corrupted = path("corrupted.eem")
        try Data(bytes).write(to: URL(fileURLWithPath: corrupted))
        let truncated = path("truncated.eem")
        try Data(bytes.prefix(40)).write(to: URL(fileURLWithPath: truncated))
        for bad in [corrupted, truncated] {
            for arguments in [["run", bad, files.images, "--index", "0"],
                              ["bench", bad, "--images", files.images, "--labels", files.labels],
                              ["tune", bad, "--images", files.images, "--labels", files.labels, "--max-drop", "1"],
                              ["explain", bad, "--images", files.images, "--index", "0", "-o", path("x")]] {
                let result = cli(arguments)
                XCTAssertEqual(result.status, 1, "\(arguments[0]) \(bad): \(result.err)")
                XCTAssertTrue(result.err.contains("invalid"), "\(arguments[0]) says invalid: \(result.err)")
                XCTAssertTrue(result.err.contains(bad), "\(arguments[0]) names the file: \(result.err)")
            }
        }
    }

    func testFormatNeverTrapsOnLargeValues() {
        XCTAssertEqual(format(123.45678, decimals: 4), "123.4568")
        XCTAssertEqual(format(-0.00004, decimals: 4), "0.0000")
        XCTAssertEqual(format(-2.5, decimals: 0), "-3")
        // These used to trap converting to Int (found by fuzzing `run` and `explain`).
        XCTAssertEqual(format(1e30, decimals: 4), "1e+30")
        XCTAssertEqual(format(-9.3e18, decimals: 0), "-9.3e+18")
        XCTAssertEqual(Double(format(9.2e14, decimals: 4)), 9.2e14)
        XCTAssertEqual(format(Double.nan, decimals: 4), "nan")
    }

    /// Inputs that fuzzing the release CLI showed crashing or accepted as if they were fine.
    func testHostileValuesAreErrorsThatNameTheInput() throws {
        let files = try writeFixtures()
        // An .npy input holding NaN, and one of huge finite values that overflow float32 inside.
        let nanInput = path("nan.npy"), hugeInput = path("huge.npy"), flat = path("flat.npy")
        var values = [Float](repeating: 0.1, count: Self.imageSize * Self.imageSize)
        values[3] = .nan
        try Data(NPYArray.encode(shape: [1, 1, Self.imageSize, Self.imageSize], values: values)).write(to: URL(fileURLWithPath: nanInput))
        values = (0..<values.count).map { $0 % 2 == 0 ? 3e38 : -3e38 }
        try Data(NPYArray.encode(shape: [1, 1, Self.imageSize, Self.imageSize], values: values)).write(to: URL(fileURLWithPath: hugeInput))
        try Data(NPYArray.encode(shape: [values.count], values: values.map { _ in 0.5 })).write(to: URL(fileURLWithPath: flat))

        var result = cli(["run", files.model, nanInput])
        XCTAssertEqual(result.status, 1, result.out)
        XCTAssertTrue(result.err.contains("value 3 is NaN") && result.err.contains(nanInput), result.err)
        result = cli(["run", files.model, hugeInput, "--all-exits"])
        XCTAssertEqual(result.status, 1, result.out)
        XCTAssertTrue(result.err.contains("NaN or infinite") && result.err.contains(hugeInput), result.err)
        result = cli(["run", files.model, flat])
        XCTAssertEqual(result.status, 1, "a [256] tensor is not a [1, 1, 16, 16] input: \(result.out)")
        XCTAssertTrue(result.err.contains("shape [256]"), result.err)

        // A huge but finite threshold stored in a model is a valid policy (never exit early);
        // explain printed it through a conversion that trapped. (On the command line it is out of
        // the gate's range, a usage error.)
        let hugeThresholds = path("huge-thresholds.eem")
        try Data(try ModelPatcher.settingPolicy(ExitPolicy(signal: .gate, thresholds: [1e20, 1e20]),
                                                in: [UInt8](try Data(contentsOf: URL(fileURLWithPath: files.model)))))
            .write(to: URL(fileURLWithPath: hugeThresholds))
        XCTAssertEqual(cli(["explain", files.model, "--images", files.images, "--index", "0", "-o", path("explain-usage"),
                            "--thresholds", "1e20,1e20"]).status, 2)
        result = cli(["explain", hugeThresholds, "--images", files.images, "--index", "0", "-o", path("explain")])
        XCTAssertEqual(result.status, 0, result.err)
        let page = try String(contentsOfFile: path("explain/index.html"), encoding: .utf8)
        XCTAssertTrue(page.contains("1e+20"), "the threshold is printed")

        // A label that is not a class of the model.
        let badLabels = path("bad-labels-idx1-ubyte")
        try Data(IDXFile.encode(dimensions: [Self.imageCount], payload: [UInt8](repeating: 255, count: Self.imageCount)))
            .write(to: URL(fileURLWithPath: badLabels))
        result = cli(["explain", files.model, "--images", files.images, "--labels", badLabels, "--index", "0", "-o", path("explain2")])
        XCTAssertEqual(result.status, 1)
        XCTAssertTrue(result.err.contains("label 255") && result.err.contains(badLabels), result.err)
    }

    func testUsageMistakesExitWithStatus2() throws {
        let files = try writeFixtures()
        let cases: [(String, [String])] = [
            ("unknown option (run)", ["run", files.model, files.images, "--index", "0", "--bogus"]),
            ("unknown option (bench)", ["bench", files.model, "--images", files.images, "--labels", files.labels, "--fast"]),
            ("unknown option (tune)", ["tune", files.model, "--images", files.images, "--labels", files.labels, "--max-drop", "1", "--nope"]),
            ("missing positional", ["run", files.model]),
            ("missing --images", ["bench", files.model, "--labels", files.labels]),
            ("missing --labels", ["tune", files.model, "--images", files.images, "--max-drop", "1"]),
            ("missing --index", ["run", files.model, files.images]),
            ("option without value", ["run", files.model, files.images, "--index"]),
            ("--thresholds wrong count (run)", ["run", files.model, files.images, "--index", "0", "--thresholds", "0.5"]),
            ("--thresholds wrong count (bench)", ["bench", files.model, "--images", files.images, "--labels", files.labels, "--thresholds", "0.1,0.2,0.3"]),
            ("--policy bogus (run)", ["run", files.model, files.images, "--index", "0", "--policy", "bogus"]),
            ("--policy bogus (bench)", ["bench", files.model, "--images", files.images, "--labels", files.labels, "--policy", "bogus"]),
            ("--index out of range (run)", ["run", files.model, files.images, "--index", "\(Self.imageCount)"]),
            ("--max-drop and --mac-budget", ["tune", files.model, "--images", files.images, "--labels", files.labels, "--max-drop", "1", "--mac-budget", "0.5"]),
            ("neither --max-drop nor --mac-budget", ["tune", files.model, "--images", files.images, "--labels", files.labels]),
            ("tune --signal bogus", ["tune", files.model, "--images", files.images, "--labels", files.labels, "--max-drop", "1", "--signal", "bogus"]),
            ("unknown command", ["frobnicate"]),
            ("an option given twice", ["run", files.model, files.images, "--index", "0", "--index", "1"]),
            ("an option given twice, inline", ["run", files.model, files.images, "--index=0", "--index=1"]),
        ]
        for (label, arguments) in cases {
            let result = cli(arguments)
            XCTAssertEqual(result.status, 2, "\(label): \(result.err)")
            XCTAssertTrue(result.err.hasPrefix("error: "), "\(label) explains itself: \(result.err)")
        }
        let result = cli(["run", files.model, files.images, "--index", "0", "--thresholds", "0.5"])
        XCTAssertTrue(result.err.contains("2 early exits"), result.err)
    }

    func testBenchOnATinySet() throws {
        let files = try writeFixtures()
        var result = cli(["bench", files.model, "--images", files.images, "--labels", files.labels, "--limit", "12", "--warmup", "2"])
        XCTAssertEqual(result.status, 0, result.err)
        XCTAssertTrue(result.out.contains("accuracy"), result.out)
        XCTAssertTrue(result.out.contains("12 images"), result.out)

        result = cli(["bench", files.model, "--images", files.images, "--labels", files.labels, "--limit", "12", "--warmup", "2", "--json"])
        XCTAssertEqual(result.status, 0, result.err)
        let report = try jsonObject(result.out)
        let configurations = try XCTUnwrap(report["configurations"] as? [[String: Any]])
        XCTAssertEqual(configurations.count, 2)
        for configuration in configurations {
            XCTAssertNotNil(configuration["accuracy"] as? Double ?? (configuration["accuracy"] as? Int).map(Double.init))
            XCTAssertNotNil(configuration["mean_macs"])
        }
        XCTAssertEqual(configurations[1]["name"] as? String, "full")

        result = cli(["bench", files.model, "--images", files.images, "--labels", files.labels, "--limit", "12", "--warmup", "0", "--csv"])
        XCTAssertEqual(result.status, 0, result.err)
        XCTAssertTrue(result.out.hasPrefix("configuration,"), result.out)

        // --profile: one line per operator in schedule order (every one runs at full depth),
        // with its MACs as the model counts them, then per-kind totals whose shares sum to 100%.
        result = cli(["bench", files.model, "--images", files.images, "--labels", files.labels, "--limit", "12", "--warmup", "1", "--profile"])
        XCTAssertEqual(result.status, 0, result.err)
        let model = try Model(bytes: [UInt8](try Data(contentsOf: URL(fileURLWithPath: files.model))))
        let lines = result.out.split(separator: "\n").map(String.init)
        let operatorLines = lines.filter { line in
            let fields = line.split(separator: " ")
            return line.hasPrefix(" ") && fields.count >= 6 && Int(fields[0]) != nil
        }
        XCTAssertEqual(operatorLines.map { Int($0.split(separator: " ")[0])! }, Array(model.operators.indices), result.out)
        for (line, op) in zip(operatorLines, model.operators) {
            let fields = line.split(separator: " ")
            XCTAssertEqual(String(fields[1]), op.kind.name, line)
            XCTAssertEqual(Int(fields[3]), op.macs, line)
        }
        let kindShares = lines.filter { $0.contains(" ops ") }.compactMap { line in
            Double(line.split(separator: " ").last!.dropLast())
        }
        XCTAssertEqual(kindShares.count, Set(model.operators.map(\.kind.name)).count, result.out)
        XCTAssertEqual(kindShares.reduce(0, +), 100, accuracy: 0.5, result.out)

        // The columns line up: every operator line has its kind, shape and MACs at the header's columns
        // (String(format: "%-16@") does not pad on Linux, which shifted them).
        let header = try XCTUnwrap(lines.first { $0.contains("kind") && $0.contains("output shape") })
        let kindColumn = header.distance(from: header.startIndex, to: header.range(of: "kind")!.lowerBound)
        let shapeColumn = header.distance(from: header.startIndex, to: header.range(of: "output shape")!.lowerBound)
        let macsEnd = header.distance(from: header.startIndex, to: header.range(of: "MACs")!.upperBound)
        for (line, op) in zip(operatorLines, model.operators) {
            let characters = Array(line)
            XCTAssertEqual(String(characters[kindColumn..<(kindColumn + op.kind.name.count)]), op.kind.name, line)
            let shape = model.tensors[op.output].shape.description
            XCTAssertEqual(String(characters[shapeColumn..<(shapeColumn + shape.count)]), shape, line)
            XCTAssertEqual(String(characters[(macsEnd - String(op.macs).count)..<macsEnd]), String(op.macs), line)
        }
        let kindLines = lines.filter { $0.contains(" ops ") }
        XCTAssertEqual(Set(kindLines.map { $0.distance(from: $0.startIndex, to: $0.range(of: " ops ")!.lowerBound) }).count, 1,
                       "the kind totals line up: \(kindLines)")

        // --profile --json is JSON with the same operators; --profile --csv is a usage error.
        result = cli(["bench", files.model, "--images", files.images, "--labels", files.labels, "--limit", "12", "--warmup", "1", "--profile", "--json"])
        XCTAssertEqual(result.status, 0, result.err)
        let profile = try jsonObject(result.out)
        let operators = try XCTUnwrap(profile["operators"] as? [[String: Any]])
        XCTAssertEqual(operators.map { $0["index"] as? Int }, model.operators.indices.map { $0 })
        XCTAssertEqual(operators.map { $0["kind"] as? String }, model.operators.map(\.kind.name))
        XCTAssertEqual(operators.map { $0["macs"] as? Int }, model.operators.map(\.macs))
        let shares = operators.compactMap { ($0["share"] as? Double) ?? ($0["share"] as? Int).map(Double.init) }
        XCTAssertEqual(shares.reduce(0, +), 1, accuracy: 0.005)
        XCTAssertEqual(profile["images"] as? Int, 12)
        result = cli(["bench", files.model, "--images", files.images, "--labels", files.labels, "--limit", "12", "--profile", "--csv"])
        XCTAssertEqual(result.status, 2, result.out)
    }

    func testTuneWritesTheThresholdsItPrintsPlotAndCSV() throws {
        let files = try writeFixtures()
        let tuned = path("tuned.eem"), plot = path("frontier.svg"), csv = path("frontier.csv")
        var result = cli(["tune", files.model, "--images", files.images, "--labels", files.labels, "--max-drop", "5", "--empirical",
                          "--holdout", "0", "--signal", "gate", "--write", "-o", tuned, "--plot", plot, "--csv", csv, "--json"])
        XCTAssertEqual(result.status, 0, result.err)
        let report = try jsonObject(result.out)
        let printed = try XCTUnwrap(report["thresholds"] as? [Any]).map { Float(($0 as? Double) ?? Double($0 as! Int)) }
        XCTAssertEqual(report["written_to"] as? String, tuned)
        let model = try Model(bytes: [UInt8](try Data(contentsOf: URL(fileURLWithPath: tuned))))
        XCTAssertEqual(model.defaultPolicy.thresholds, printed)
        XCTAssertEqual(model.defaultPolicy.signal, .gate)

        let svg = String(decoding: try Data(contentsOf: URL(fileURLWithPath: plot)), as: UTF8.self)
        XCTAssertTrue(svg.hasPrefix("<svg"), String(svg.prefix(80)))
        let lines = String(decoding: try Data(contentsOf: URL(fileURLWithPath: csv)), as: UTF8.self).split(separator: "\n")
        XCTAssertGreaterThan(lines.count, 1)
        XCTAssertTrue(lines[0].hasPrefix("rule_exit1,rule_exit2,"), String(lines[0]))

        // The text output prints the rules that are stored.
        let tunedText = path("tuned-text.eem")
        result = cli(["tune", files.model, "--images", files.images, "--labels", files.labels, "--max-drop", "5", "--empirical", "--holdout", "0",
                      "--write", "-o", tunedText])
        XCTAssertEqual(result.status, 0, result.err)
        let stored = try Model(bytes: [UInt8](try Data(contentsOf: URL(fileURLWithPath: tunedText)))).defaultPolicy
        for exit in 0..<stored.thresholds.count {
            let line = try XCTUnwrap(result.out.split(separator: "\n").first { $0.hasPrefix("  exit\(exit + 1) ") }, result.out)
            let printedRule = line.split(separator: " ", maxSplits: 1)[1].trimmingCharacters(in: .whitespaces)
            let storedRule = PolicyDescription.rule(stored, exit: exit)
            XCTAssertTrue(printedRule == storedRule || (printedRule == "never" && storedRule.hasPrefix("never")), "\(printedRule) vs \(storedRule)")
        }
        XCTAssertEqual(cli(["tune", files.model, "--images", files.images, "--labels", files.labels, "--max-drop", "5", "-o", tuned]).status, 2,
                       "-o without --write")
        XCTAssertEqual(cli(["tune", files.model, "--images", files.images, "--labels", files.labels, "--mac-budget", "0.5"]).status, 2,
                       "--mac-budget without --empirical")
    }

    /// `--write` refuses a choice that failed its own check (status 1, says why) and stores it
    /// only with --write-unchecked; the model file is left untouched when refused.
    func testTuneWriteRefusesAChoiceThatFailedItsCheck() throws {
        let files = try writeFixtures()
        let target = path("refused.eem")
        // 0 pp allowed at 99.99% confidence on a few dozen images: nothing can be certified.
        var result = cli(["tune", files.model, "--images", files.images, "--labels", files.labels, "--max-drop", "0",
                          "--confidence", "0.9999", "--write", "-o", target])
        XCTAssertEqual(result.status, 1, result.out)
        XCTAssertTrue(result.err.contains("failed its check"), result.err)
        XCTAssertFalse(FileManager.default.fileExists(atPath: target))
        XCTAssertTrue(result.out.contains("CHECK FAILED"), result.out)
        result = cli(["tune", files.model, "--images", files.images, "--labels", files.labels, "--max-drop", "0",
                      "--confidence", "0.9999", "--write", "--write-unchecked", "-o", target, "--json"])
        XCTAssertEqual(result.status, 0, result.err)
        XCTAssertEqual(try jsonObject(result.out)["passed"] as? Bool, false)
        XCTAssertTrue(FileManager.default.fileExists(atPath: target))
    }

    /// Out-of-range thresholds are usage errors; 'never' is accepted and shown as never.
    func testOutOfRangeThresholdsAreUsageErrors() throws {
        let files = try writeFixtures()
        for arguments in [["--policy", "gate", "--threshold", "-5"], ["--policy", "maxprob", "--threshold", "5"],
                          ["--policy", "entropy", "--threshold", "-0.1"], ["--policy", "gate", "--thresholds", "0.5,1.5"]] {
            let result = cli(["run", files.model, files.images, "--index", "0"] + arguments)
            XCTAssertEqual(result.status, 2, "\(arguments): \(result.out)")
            XCTAssertTrue(result.err.contains("outside the"), result.err)
        }
        var result = cli(["run", files.model, files.images, "--index", "0", "--policy", "maxprob", "--thresholds", "never,0.5"])
        XCTAssertEqual(result.status, 0, result.err)
        XCTAssertTrue(result.out.contains("exit1: never (maxprob threshold 2.0)"), result.out)
        // info shows a stored "never exit" threshold as such (the int8 tuner stores 2.0 for gate).
        let stored = path("never.eem")
        let bytes = try ModelPatcher.settingPolicy(ExitPolicy(signal: .gate, thresholds: [2, 0.5]),
                                                   in: [UInt8](try Data(contentsOf: URL(fileURLWithPath: files.model))))
        try Data(bytes).write(to: URL(fileURLWithPath: stored))
        result = cli(["info", stored])
        XCTAssertEqual(result.status, 0, result.err)
        XCTAssertTrue(result.out.contains("never (gate threshold 2.0)"), result.out)
        XCTAssertTrue(result.out.contains("gate ≥ 0.5"), result.out)
        result = cli(["info", stored, "--json"])
        let rules = try XCTUnwrap(try jsonObject(result.out)["exit_rules"] as? [[String: Any]])
        XCTAssertEqual(rules.map { $0["never"] as? Bool }, [true, false])
    }

    /// `tune INT8 --agree-with FLOAT`: the agreement it reports for the stored thresholds is
    /// recounted here by running both models with them, image by image, through the interpreter.
    func testTuneAgreeWithReportsTheExitAgreementBothModelsShow() throws {
        let files = try writeFixtures()
        let int8 = path("int8.eem")
        var result = cli(["quantize", files.model, "--calibration", files.images, "--count", "20", "-o", int8])
        XCTAssertEqual(result.status, 0, result.err)
        let floatModel = try Model(bytes: [UInt8](try Data(contentsOf: URL(fileURLWithPath: files.model))))
        let dataset = try ModelFiles.loadDataset(images: files.images, labels: files.labels, for: floatModel)

        func recount(_ tunedPath: String) throws -> Double {
            let tuned = try Model(bytes: [UInt8](try Data(contentsOf: URL(fileURLWithPath: tunedPath))))
            let a = Interpreter(model: tuned), b = Interpreter(model: floatModel)
            try a.setPolicy(tuned.defaultPolicy)
            try b.setPolicy(tuned.defaultPolicy)
            var same = 0
            for input in dataset.inputs where try a.run(input).exitIndex == b.run(input).exitIndex { same += 1 }
            return Double(same) / Double(dataset.count)
        }
        // With minimum 0 there is no real constraint: the choice is the unconstrained one (checked
        // below) and the agreement is only measured. Minimum 1 forces full agreement.
        for minimum in ["0", "0.97", "1"] {
            let tuned = path("tuned-\(minimum).eem")
            result = cli(["tune", int8, "--images", files.images, "--labels", files.labels, "--max-drop", "5", "--empirical", "--holdout", "0",
                          "--signal", "gate", "--agree-with", files.model, "--min-agreement", minimum, "--write", "-o", tuned, "--json"])
            XCTAssertEqual(result.status, 0, result.err)
            let report = try jsonObject(result.out)
            let search = try XCTUnwrap(report["search"] as? [String: Any])
            let reported = try XCTUnwrap(search["agreement"] as? Double ?? (search["agreement"] as? Int).map(Double.init))
            print("tune --agree-with --min-agreement \(minimum): thresholds \(report["thresholds"] ?? ""), agreement \(reported)")
            XCTAssertEqual(reported, try recount(tuned), accuracy: 1e-9, minimum)
            XCTAssertGreaterThanOrEqual(reported, Double(minimum)!, minimum)
            XCTAssertEqual(report["agree_with"] as? String, files.model)
            if minimum == "0" {
                let plain = cli(["tune", int8, "--images", files.images, "--labels", files.labels, "--max-drop", "5", "--empirical", "--holdout", "0",
                                 "--signal", "gate", "--json"])
                XCTAssertEqual(plain.status, 0, plain.err)
                XCTAssertEqual(try jsonObject(plain.out)["thresholds"] as? [Double], report["thresholds"] as? [Double])
            }
        }
        // Misuse: --min-agreement alone or out of range, a reference that is another network.
        XCTAssertEqual(cli(["tune", int8, "--images", files.images, "--labels", files.labels, "--max-drop", "5", "--min-agreement", "0.9"]).status, 2)
        XCTAssertEqual(cli(["tune", int8, "--images", files.images, "--labels", files.labels, "--max-drop", "5",
                            "--agree-with", files.model, "--min-agreement", "1.5"]).status, 2)
        let other = path("other.eem")
        try Data(try SyntheticModels.attentionNetwork(size: 16, width: 4).serialize()).write(to: URL(fileURLWithPath: other))
        result = cli(["tune", int8, "--images", files.images, "--labels", files.labels, "--max-drop", "5", "--agree-with", other])
        XCTAssertEqual(result.status, 1, result.out)
        XCTAssertTrue(result.err.contains("is not the same network"), result.err)
    }
}
