// ONNX external data: side files next to the model, read once, every claim checked.
@testable import EarlyExitTools
import Foundation
import XCTest

final class ExternalDataTests: XCTestCase {
    var folder: URL!

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("external-\(UUID().uuidString)/model")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: folder.deletingLastPathComponent())
    }

    func write(_ bytes: [UInt8], _ name: String) throws {
        let url = folder.appendingPathComponent(name)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(bytes).write(to: url)
    }

    func floatBytes(_ values: [Float]) -> [UInt8] {
        values.flatMap { value in withUnsafeBytes(of: value.bitPattern.littleEndian) { Array($0) } }
    }

    func external(_ name: String, dims: [Int64], type: ONNXDataType = .float, _ entries: [String: String]) -> ONNXTensor {
        ONNXTensor(name: name, dims: dims, dataType: type, usesExternalData: true, externalData: entries)
    }

    func model(_ tensors: [ONNXTensor]) -> ONNXModel {
        ONNXModel(graph: ONNXGraph(initializers: tensors))
    }

    /// The error of resolving `tensors` against the test folder.
    func resolveError(_ tensors: [ONNXTensor]) -> ONNXError? {
        var m = model(tensors)
        do {
            try m.resolveExternalData(relativeTo: folder)
            return nil
        } catch {
            return error
        }
    }

    func testTensorsAreReadFromOffsetsOfOneSideFile() throws {
        let first: [Float] = [1, -2, 3.5], second: [Float] = [0.25, 8]
        try write(floatBytes(first) + [0, 0, 0, 0] + floatBytes(second), "weights/w.bin")
        var m = model([
            external("a", dims: [3], ["location": "weights/w.bin", "length": "12"]),
            external("b", dims: [1, 2], ["location": "weights/w.bin", "offset": "16", "length": "8", "checksum": "ignored"]),
        ])
        XCTAssertTrue(m.hasExternalData)
        try m.resolveExternalData(relativeTo: folder)
        XCTAssertFalse(m.hasExternalData)
        XCTAssertEqual(try m.graph.initializers[0].floatValues(), first)
        XCTAssertEqual(try m.graph.initializers[1].floatValues(), second)
        XCTAssertEqual(m.graph.initializers[1].dims, [1, 2])
    }

    func testLengthDefaultsToTheTensorsSizeAndInt64Works() throws {
        let values: [Int64] = [7, -1, 1 << 40]
        try write(values.flatMap { v in withUnsafeBytes(of: v.littleEndian) { Array($0) } } + [9, 9], "shape.bin")
        var m = model([external("shape", dims: [3], type: .int64, ["location": "shape.bin"])])
        try m.resolveExternalData(relativeTo: folder)
        XCTAssertEqual(try m.graph.initializers[0].int64Values(), values)
    }

    func testConstantNodeTensorsAreLoadedToo() throws {
        try write(floatBytes([4, 5]), "c.bin")
        var attribute = ONNXAttribute(name: "value", type: .tensor)
        attribute.t = external("c", dims: [2], ["location": "c.bin"])
        var m = ONNXModel(graph: ONNXGraph(nodes: [ONNXNode(name: "k", opType: "Constant", outputs: ["c"], attributes: [attribute])]))
        try m.resolveExternalData(relativeTo: folder)
        XCTAssertEqual(try m.graph.nodes[0].attributes[0].t?.floatValues(), [4, 5])
    }

    func testAPathThatLeavesTheFolderIsRefused() throws {
        try write(floatBytes([1]), "../outside.bin")
        for location in ["../outside.bin", "sub/../../outside.bin", "/etc/passwd", folder.deletingLastPathComponent().path + "/outside.bin"] {
            let error = try XCTUnwrap(resolveError([external("w", dims: [1], ["location": location])]), location)
            guard case let .invalidExternalData(tensor, file, detail) = error.reason else { return XCTFail("\(error)") }
            XCTAssertEqual(tensor, "w")
            XCTAssertEqual(file, location)
            XCTAssertTrue(detail.contains("model's folder"), "\(error)")
        }
    }

    func testASymbolicLinkOutOfTheFolderIsRefused() throws {
        try write(floatBytes([1]), "../secret.bin")
        try FileManager.default.createSymbolicLink(
            atPath: folder.appendingPathComponent("link.bin").path,
            withDestinationPath: folder.deletingLastPathComponent().appendingPathComponent("secret.bin").path)
        let error = try XCTUnwrap(resolveError([external("w", dims: [1], ["location": "link.bin"])]))
        XCTAssertTrue(error.description.contains("outside the model's folder"), error.description)
        XCTAssertTrue(error.description.contains("tensor w") && error.description.contains("'link.bin'"), error.description)
    }

    func testAMissingFileOrLocationIsRefused() throws {
        let missing = try XCTUnwrap(resolveError([external("conv.weight", dims: [2], ["location": "model.onnx.data"])]))
        XCTAssertTrue(missing.description.hasPrefix("tensor conv.weight: external data file 'model.onnx.data': no such file in "), missing.description)
        let unnamed = try XCTUnwrap(resolveError([external("w", dims: [2], [:])]))
        XCTAssertTrue(unnamed.description.contains("no 'location' entry"), unnamed.description)
        try FileManager.default.createDirectory(at: folder.appendingPathComponent("dir"), withIntermediateDirectories: true)
        let directory = try XCTUnwrap(resolveError([external("w", dims: [2], ["location": "dir"])]))
        XCTAssertTrue(directory.description.contains("is a directory"), directory.description)
    }

    func testARangeOutsideTheFileIsRefused() throws {
        try write(floatBytes([1, 2, 3]), "w.bin")  // 12 bytes
        let past = try XCTUnwrap(resolveError([external("w", dims: [2], ["location": "w.bin", "offset": "8"])]))
        XCTAssertEqual(past.description, "tensor w: external data file 'w.bin': bytes 8..<16 lie outside the file, which has 12 bytes")
        let far = try XCTUnwrap(resolveError([external("w", dims: [1], ["location": "w.bin", "offset": "99999999999"])]))
        XCTAssertTrue(far.description.contains("outside the file"), far.description)
        let negative = try XCTUnwrap(resolveError([external("w", dims: [1], ["location": "w.bin", "offset": "-4"])]))
        XCTAssertTrue(negative.description.contains("offset '-4' is not a non-negative byte count"), negative.description)
    }

    func testALengthThatDoesNotMatchTheTensorIsRefused() throws {
        try write(floatBytes([1, 2, 3, 4]), "w.bin")
        let oversized = try XCTUnwrap(resolveError([external("w", dims: [2], ["location": "w.bin", "length": "16"])]))
        XCTAssertEqual(oversized.description, "tensor w: external data file 'w.bin': length is 16 bytes, but dims [2] of FLOAT need 8")
        let short = try XCTUnwrap(resolveError([external("w", dims: [3], ["location": "w.bin", "length": "8"])]))
        XCTAssertTrue(short.description.contains("length is 8 bytes, but dims [3] of FLOAT need 12"), short.description)
        let huge = try XCTUnwrap(resolveError([external("w", dims: [1 << 40, 1 << 40], ["location": "w.bin"])]))
        XCTAssertTrue(huge.description.contains("tensor w"), huge.description)
    }

    func testOverlappingTensorsAreRefused() throws {
        try write(floatBytes([1, 2, 3, 4]), "w.bin")
        let error = try XCTUnwrap(resolveError([
            external("a", dims: [2], ["location": "w.bin", "offset": "0"]),
            external("b", dims: [2], ["location": "w.bin", "offset": "4"]),
        ]))
        XCTAssertEqual(error.description, "tensor b: external data file 'w.bin': bytes 4..<12 overlap bytes 0..<8 of tensor a")
    }

    func testAFileIsReadOnceForAllItsTensors() throws {
        try write(floatBytes([1, 2]), "w.bin")
        var loader = ExternalDataLoader(folder: folder)
        var a = external("a", dims: [1], ["location": "w.bin"])
        var b = external("b", dims: [1], ["location": "w.bin", "offset": "4"])
        try loader.load(&a)
        // Once read, the file's bytes are kept: changing the file on disk changes nothing.
        try write(floatBytes([9, 9]), "w.bin")
        try loader.load(&b)
        XCTAssertEqual(loader.files.count, 1)
        XCTAssertEqual(try a.floatValues(), [1])
        XCTAssertEqual(try b.floatValues(), [2])
    }

    func testConvertingFromBytesNamesTheSideFile() throws {
        var m = model([external("conv.weight", dims: [1], ["location": "model.onnx.data"])])
        m.opsetImports = [ONNXOperatorSetID(domain: "", version: 17)]
        var converter = ONNXConverter()
        XCTAssertThrowsError(try converter.convert(m, options: ConversionOptions())) { error in
            XCTAssertEqual("\(error)", "tensor conv.weight keeps its data in the side file 'model.onnx.data'; read the model from its .onnx file so that side files next to it are loaded")
        }
    }
}
