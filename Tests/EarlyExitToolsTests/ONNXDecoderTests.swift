// Tests of the ONNX protobuf decoder: hand-encoded models, wire-format edge cases, a malformed
// corpus (truncations, byte flips, seeded random mutations, depth bombs) and a real ONNX file.

import Foundation
import XCTest

@testable import EarlyExitTools

/// A minimal protobuf encoder for building test inputs by hand.
private struct ProtobufWriter {
    var bytes: [UInt8] = []

    mutating func varint(_ value: UInt64) {
        var rest = value
        while rest >= 0x80 {
            bytes.append(UInt8(rest & 0x7F) | 0x80)
            rest >>= 7
        }
        bytes.append(UInt8(rest))
    }

    mutating func key(_ field: Int, _ wireType: UInt8) {
        varint(UInt64(field) << 3 | UInt64(wireType))
    }

    mutating func int(_ field: Int, _ value: Int64) {
        key(field, 0)
        varint(UInt64(bitPattern: value))
    }

    mutating func fixed32(_ field: Int, _ value: UInt32) {
        key(field, 5)
        for shift in stride(from: 0, to: 32, by: 8) { bytes.append(UInt8(truncatingIfNeeded: value >> UInt32(shift))) }
    }

    mutating func fixed64(_ field: Int, _ value: UInt64) {
        key(field, 1)
        for shift in stride(from: 0, to: 64, by: 8) { bytes.append(UInt8(truncatingIfNeeded: value >> UInt64(shift))) }
    }

    mutating func float(_ field: Int, _ value: Float) { fixed32(field, value.bitPattern) }

    mutating func double(_ field: Int, _ value: Double) { fixed64(field, value.bitPattern) }

    mutating func data(_ field: Int, _ payload: [UInt8]) {
        key(field, 2)
        varint(UInt64(payload.count))
        bytes += payload
    }

    mutating func string(_ field: Int, _ text: String) { data(field, Array(text.utf8)) }

    mutating func message(_ field: Int, _ build: (inout ProtobufWriter) -> Void) {
        var inner = ProtobufWriter()
        build(&inner)
        data(field, inner.bytes)
    }

    mutating func packedInts(_ field: Int, _ values: [Int64]) {
        var inner = ProtobufWriter()
        for value in values { inner.varint(UInt64(bitPattern: value)) }
        data(field, inner.bytes)
    }

    mutating func packedFloats(_ field: Int, _ values: [Float]) {
        data(field, values.flatMap { littleEndian($0.bitPattern) })
    }

    mutating func packedDoubles(_ field: Int, _ values: [Double]) {
        data(field, values.flatMap { littleEndian($0.bitPattern) })
    }
}

/// The little-endian bytes of an integer.
private func littleEndian<Value: FixedWidthInteger>(_ value: Value) -> [UInt8] {
    (0..<MemoryLayout<Value>.size).map { UInt8(truncatingIfNeeded: value >> ($0 * 8)) }
}

/// Encodes one message with `build`.
private func encode(_ build: (inout ProtobufWriter) -> Void) -> [UInt8] {
    var writer = ProtobufWriter()
    build(&writer)
    return writer.bytes
}

/// Decodes `bytes` as a model, returning the error instead of throwing it.
private func decodeResult(_ bytes: [UInt8]) -> Result<ONNXModel, ONNXError> {
    do throws(ONNXError) {
        return .success(try ONNXModel.decode(bytes))
    } catch {
        return .failure(error)
    }
}

/// The error decoding `bytes` throws, or nil when it decodes.
private func decodeError(_ bytes: [UInt8]) -> ONNXError? {
    if case let .failure(error) = decodeResult(bytes) { return error }
    return nil
}

/// Reads one varint from `bytes` with a fresh reader.
private func readVarint(_ bytes: [UInt8]) -> Result<UInt64, ONNXError> {
    var reader = ProtobufReader(bytes)
    do throws(ONNXError) {
        return .success(try reader.readVarint())
    } catch {
        return .failure(error)
    }
}

/// Runs `body`, returning its error (or nil) so a test can inspect it; any other error fails.
private func capture<Value>(_ body: () throws -> Value) -> ONNXError? {
    do {
        _ = try body()
        return nil
    } catch let error as ONNXError {
        return error
    } catch {
        XCTFail("unexpected error type: \(error)")
        return nil
    }
}

/// Wraps `graph` in a ModelProto with a default opset.
private func modelWithGraph(_ graph: (inout ProtobufWriter) -> Void) -> [UInt8] {
    encode { model in
        model.int(1, 8)
        model.message(8) { $0.int(2, 17) }
        model.message(7, graph)
    }
}

/// Wraps one tensor as the only initializer of a model.
private func modelWithTensor(_ tensor: (inout ProtobufWriter) -> Void) -> [UInt8] {
    modelWithGraph { graph in graph.message(5, tensor) }
}

/// Decodes a model with one initializer and returns that tensor.
private func decodeTensor(_ build: (inout ProtobufWriter) -> Void) throws -> ONNXTensor {
    let decoded = try ONNXModel.decode(modelWithTensor(build))
    return try XCTUnwrap(decoded.graph.initializers.first)
}

/// Builds an attribute message body.
private func attribute(_ name: String, type: ONNXAttributeType?, _ value: (inout ProtobufWriter) -> Void) -> [UInt8] {
    encode { attribute in
        attribute.string(1, name)
        value(&attribute)
        if let type { attribute.int(20, Int64(type.rawValue)) }
    }
}

/// A model using every decoded field, with unknown fields sprinkled at every level.
private func sampleModel() -> [UInt8] {
    encode { model in
        model.int(1, 8)
        model.string(2, "hand")
        model.string(3, "0.1")
        model.string(4, "org.example")  // domain: skipped
        model.int(5, 3)  // model_version: skipped
        model.string(6, "doc")  // doc_string: skipped
        model.message(8) { opset in
            opset.string(1, "")
            opset.int(2, 17)
        }
        model.message(8) { opset in
            opset.string(1, "com.example")
            opset.int(2, 1)
        }
        model.int(99, 12345)  // unknown varint
        model.fixed64(100, 0xDEAD_BEEF)  // unknown fixed64
        model.fixed32(101, 7)  // unknown fixed32
        model.data(102, [1, 2, 3])  // unknown length-delimited
        model.message(7) { graph in
            graph.string(2, "g")
            graph.string(10, "graph doc")  // skipped
            graph.message(1) { node in
                node.string(1, "x")
                node.string(1, "W")
                node.string(1, "")
                node.string(2, "y")
                node.string(3, "n0")
                node.string(4, "Conv")
                node.string(6, "node doc")  // skipped
                node.string(7, "com.example")
                node.data(5, attribute("alpha", type: .float) { $0.float(2, 0.5) })
                node.data(5, attribute("group", type: .int) { $0.int(3, -3) })
                node.data(5, attribute("auto_pad", type: .string) { $0.string(4, "SAME_UPPER") })
                node.data(5, attribute("value", type: .tensor) { attribute in
                    attribute.message(5) { tensor in
                        tensor.int(1, 2)
                        tensor.int(2, Int64(ONNXDataType.int64.rawValue))
                        tensor.int(7, 5)
                        tensor.int(7, -7)
                    }
                })
                node.data(5, attribute("scales", type: .floats) { $0.packedFloats(7, [1.5, -2]) })
                node.data(5, attribute("pads", type: .ints) { attribute in
                    for value: Int64 in [1, 2, 3, 4] { attribute.int(8, value) }
                })
                node.data(5, attribute("axes", type: .ints) { $0.packedInts(8, [-1, 0, 1 << 40]) })
                node.data(5, attribute("names", type: .strings) { attribute in
                    attribute.string(9, "a")
                    attribute.string(9, "bc")
                })
                node.data(5, attribute("body", type: .graph) { attribute in
                    attribute.message(6) { subgraph in
                        subgraph.string(2, "sub")
                        subgraph.message(1) { $0.string(4, "Identity") }
                    }
                })
                node.data(5, attribute("pair", type: .tensors) { attribute in
                    attribute.message(10) { tensor in
                        tensor.string(8, "p0")
                        tensor.int(2, Int64(ONNXDataType.float.rawValue))
                        tensor.float(4, 1)
                    }
                    attribute.message(10) { tensor in
                        tensor.string(8, "p1")
                        tensor.int(2, Int64(ONNXDataType.float.rawValue))
                        tensor.float(4, 2)
                    }
                })
                node.data(5, attribute("legacy", type: nil) { $0.int(3, 42) })
                node.data(5, attribute("sparse", type: .sparseTensor) { $0.data(22, [0x0A, 0x00]) })
            }
            graph.message(5) { tensor in
                tensor.packedInts(1, [2, 3])
                tensor.int(2, Int64(ONNXDataType.float.rawValue))
                tensor.string(8, "W")
                tensor.data(9, [Float](arrayLiteral: 0, 1, -1, 0.5, 1e-3, 3e38).flatMap { littleEndian($0.bitPattern) })
                tensor.string(12, "tensor doc")  // skipped
            }
            graph.message(5) { tensor in
                tensor.int(1, 3)
                tensor.int(2, Int64(ONNXDataType.float.rawValue))
                tensor.string(8, "B")
                tensor.packedFloats(4, [0.25, -1, 3e38])
            }
            graph.message(5) { tensor in
                tensor.int(1, 2)
                tensor.int(2, Int64(ONNXDataType.float.rawValue))
                tensor.string(8, "Bu")
                tensor.float(4, -0.5)
                tensor.float(4, 8)
            }
            graph.message(5) { tensor in
                tensor.int(1, 4)
                tensor.int(2, Int64(ONNXDataType.int8.rawValue))
                tensor.string(8, "I8")
                tensor.data(9, [0x80, 0xFF, 0x00, 0x7F])
            }
            graph.message(5) { tensor in
                tensor.int(1, 3)
                tensor.int(2, Int64(ONNXDataType.int8.rawValue))
                tensor.string(8, "I8t")
                tensor.packedInts(5, [-128, 0, 127])
            }
            graph.message(5) { tensor in
                tensor.int(1, 2)
                tensor.int(2, Int64(ONNXDataType.int32.rawValue))
                tensor.string(8, "I32")
                tensor.data(9, littleEndian(Int32.min) + littleEndian(Int32(77)))
            }
            graph.message(5) { tensor in
                tensor.int(1, 3)
                tensor.int(2, Int64(ONNXDataType.double.rawValue))
                tensor.string(8, "D")
                tensor.packedDoubles(10, [0.1, -2])
                tensor.double(10, 1e300)
            }
            graph.message(5) { tensor in
                tensor.int(2, Int64(ONNXDataType.int64.rawValue))
                tensor.string(8, "scalar")
                tensor.data(9, littleEndian(Int64.min))
            }
            graph.message(11) { input in
                input.string(1, "x")
                input.message(2) { type in
                    type.message(1) { tensorType in
                        tensorType.int(1, Int64(ONNXDataType.float.rawValue))
                        tensorType.message(2) { shape in
                            shape.message(1) { $0.string(2, "N") }
                            shape.message(1) { $0.int(1, 3) }
                            shape.message(1) { $0.string(3, "denotation") }
                        }
                    }
                    type.string(6, "IMAGE")  // denotation: skipped
                }
            }
            graph.message(12) { output in
                output.string(1, "y")
                output.message(2) { type in
                    type.message(1) { $0.int(1, Int64(ONNXDataType.float.rawValue)) }
                }
            }
            graph.message(13) { info in
                info.string(1, "seq")
                info.message(2) { type in
                    type.message(4) { sequence in
                        sequence.message(1) { $0.message(1) { $0.int(1, 1) } }
                    }
                }
            }
            graph.message(13) { info in
                info.string(1, "scalar_out")
                info.message(2) { type in
                    type.message(1) { tensorType in
                        tensorType.int(1, Int64(ONNXDataType.int64.rawValue))
                        tensorType.data(2, [])
                    }
                }
            }
        }
        model.message(14) { entry in
            entry.string(1, "earlyexit.mean")
            entry.string(2, "0.5,0.25")
        }
        model.string(99, "trailing unknown")
    }
}

/// Exercises every accessor and helper of a decoded model so none of them may trap.
private func exercise(_ model: ONNXModel) {
    func visit(_ graph: ONNXGraph, depth: Int) {
        for tensor in graph.initializers { exercise(tensor) }
        for node in graph.nodes {
            for attribute in node.attributes {
                _ = attribute.stringValue
                _ = attribute.stringValues
                _ = capture { try node.int(attribute.name) }
                _ = capture { try node.ints(attribute.name) }
                _ = capture { try node.float(attribute.name) }
                _ = capture { try node.floats(attribute.name) }
                _ = capture { try node.string(attribute.name) }
                _ = capture { try node.strings(attribute.name) }
                _ = capture { try node.tensor(attribute.name) }
                if let tensor = attribute.t { exercise(tensor) }
                for tensor in attribute.tensors { exercise(tensor) }
                if depth < 8, let subgraph = attribute.g { visit(subgraph, depth: depth + 1) }
                if depth < 8 { for subgraph in attribute.graphs { visit(subgraph, depth: depth + 1) } }
            }
        }
    }
    visit(model.graph, depth: 0)
    _ = model.defaultOpsetVersion
}

/// Calls every value accessor of a tensor.
private func exercise(_ tensor: ONNXTensor) {
    _ = capture { try tensor.elementCount() }
    _ = capture { try tensor.floatValues() }
    _ = capture { try tensor.doubleValues() }
    _ = capture { try tensor.int64Values() }
    _ = capture { try tensor.int32Values() }
    _ = capture { try tensor.int8Values() }
    _ = capture { try tensor.uint8Values() }
}

/// A deterministic 64-bit generator (SplitMix64) for reproducible mutation tests.
private struct SplitMix64: RandomNumberGenerator {
    var state: UInt64

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Builds `levels` nested length-delimited fields without recursion: field numbers repeat
/// `cycle` from the innermost level outwards, and `outer` wraps the result once more.
private func nested(levels: Int, cycle: [Int], outer: [Int]) -> [UInt8] {
    var reversed: [UInt8] = []  // the message, built back to front
    func prepend(field: Int) {
        let length = reversed.count
        var header = ProtobufWriter()
        header.key(field, 2)
        header.varint(UInt64(length))
        reversed += header.bytes.reversed()
    }
    for level in 0..<levels { prepend(field: cycle[level % cycle.count]) }
    for field in outer { prepend(field: field) }
    return reversed.reversed()
}

final class ONNXDecoderTests: XCTestCase {
    // MARK: Hand-encoded model

    func testSampleModelDecodesEveryField() throws {
        let decoded = try ONNXModel.decode(sampleModel())
        XCTAssertEqual(decoded.irVersion, 8)
        XCTAssertEqual(decoded.producerName, "hand")
        XCTAssertEqual(decoded.producerVersion, "0.1")
        XCTAssertEqual(decoded.metadataProps, ["earlyexit.mean": "0.5,0.25"])
        XCTAssertEqual(
            decoded.opsetImports,
            [ONNXOperatorSetID(domain: "", version: 17), ONNXOperatorSetID(domain: "com.example", version: 1)])
        XCTAssertEqual(decoded.defaultOpsetVersion, 17)
        XCTAssertEqual(decoded.opsetVersion(domain: "ai.onnx"), 17)
        XCTAssertEqual(decoded.opsetVersion(domain: "com.example"), 1)
        XCTAssertNil(decoded.opsetVersion(domain: "com.other"))

        let graph = decoded.graph
        XCTAssertEqual(graph.name, "g")
        XCTAssertEqual(graph.nodes.count, 1)
        let node = try XCTUnwrap(graph.nodes.first)
        XCTAssertEqual(node.name, "n0")
        XCTAssertEqual(node.opType, "Conv")
        XCTAssertEqual(node.domain, "com.example")
        XCTAssertEqual(node.inputs, ["x", "W", ""])
        XCTAssertEqual(node.outputs, ["y"])
        XCTAssertEqual(
            node.attributes.map(\.name),
            ["alpha", "group", "auto_pad", "value", "scales", "pads", "axes", "names", "body", "pair", "legacy", "sparse"])
        XCTAssertEqual(
            node.attributes.map(\.type),
            [.float, .int, .string, .tensor, .floats, .ints, .ints, .strings, .graph, .tensors, .int, .sparseTensor])
    }

    func testSampleModelAttributes() throws {
        let node = try XCTUnwrap(ONNXModel.decode(sampleModel()).graph.nodes.first)
        XCTAssertEqual(try node.float("alpha"), 0.5)
        XCTAssertEqual(try node.int("group"), -3)
        XCTAssertEqual(try node.string("auto_pad"), "SAME_UPPER")
        XCTAssertEqual(node.attribute(named: "auto_pad")?.s, Array("SAME_UPPER".utf8))
        XCTAssertEqual(try node.floats("scales"), [1.5, -2])
        XCTAssertEqual(try node.ints("pads"), [1, 2, 3, 4])
        XCTAssertEqual(try node.ints("axes"), [-1, 0, 1 << 40])
        XCTAssertEqual(try node.strings("names"), ["a", "bc"])
        XCTAssertEqual(try node.int("legacy"), 42)

        let value = try XCTUnwrap(try node.tensor("value"))
        XCTAssertEqual(value.dims, [2])
        XCTAssertEqual(value.dataType, .int64)
        XCTAssertNil(value.rawData)
        XCTAssertEqual(try value.int64Values(), [5, -7])

        let body = try XCTUnwrap(try node.graph("body"))
        XCTAssertEqual(body.name, "sub")
        XCTAssertEqual(body.nodes.map(\.opType), ["Identity"])

        let pair = try XCTUnwrap(node.attribute(named: "pair"))
        XCTAssertEqual(pair.tensors.map(\.name), ["p0", "p1"])
        XCTAssertEqual(try pair.tensors.map { tensor throws(ONNXError) in try tensor.floatValues() }, [[1], [2]])

        let sparse = try XCTUnwrap(node.attribute(named: "sparse"))
        XCTAssertEqual(sparse.type, .sparseTensor)
        XCTAssertNil(sparse.t)

        XCTAssertNil(try node.int("missing"))
        XCTAssertNil(node.attribute(named: "missing"))
        let mismatch = capture { try node.int("pads") }
        XCTAssertEqual(mismatch?.reason, .attributeTypeMismatch(name: "pads", actual: .ints, expected: .int))
        XCTAssertEqual(mismatch?.path, "node 'n0' (com.example.Conv)")
        XCTAssertEqual(
            mismatch?.description, "attribute pads has type INTS, expected INT (in node 'n0' (com.example.Conv))")
    }

    func testSampleModelInitializers() throws {
        let graph = try ONNXModel.decode(sampleModel()).graph
        XCTAssertEqual(graph.initializers.map(\.name), ["W", "B", "Bu", "I8", "I8t", "I32", "D", "scalar"])

        let weights = try XCTUnwrap(graph.initializer(named: "W"))
        XCTAssertEqual(weights.dims, [2, 3])
        XCTAssertEqual(weights.dataType, .float)
        XCTAssertEqual(weights.rawData?.count, 24)
        XCTAssertEqual(try weights.elementCount(), 6)
        XCTAssertEqual(try weights.floatValues(), [0, 1, -1, 0.5, 1e-3, 3e38])

        let bias = try XCTUnwrap(graph.initializer(named: "B"))
        XCTAssertNil(bias.rawData)
        XCTAssertEqual(bias.floatData, [0.25, -1, 3e38])
        XCTAssertEqual(try bias.floatValues(), [0.25, -1, 3e38])

        XCTAssertEqual(try graph.initializer(named: "Bu")?.floatValues(), [-0.5, 8])
        XCTAssertEqual(try graph.initializer(named: "I8")?.int8Values(), [-128, -1, 0, 127])
        XCTAssertEqual(try graph.initializer(named: "I8t")?.int8Values(), [-128, 0, 127])
        XCTAssertEqual(try graph.initializer(named: "I32")?.int32Values(), [Int32.min, 77])
        XCTAssertEqual(try graph.initializer(named: "D")?.doubleValues(), [0.1, -2, 1e300])

        let scalar = try XCTUnwrap(graph.initializer(named: "scalar"))
        XCTAssertEqual(scalar.dims, [])
        XCTAssertEqual(try scalar.elementCount(), 1)
        XCTAssertEqual(try scalar.int64Values(), [Int64.min])
    }

    func testSampleModelValueInfos() throws {
        let graph = try ONNXModel.decode(sampleModel()).graph
        XCTAssertEqual(
            graph.inputs,
            [ONNXValueInfo(name: "x", elementType: .float, shape: [.symbolic("N"), .value(3), .unknown], hasShape: true)])
        XCTAssertEqual(graph.outputs, [ONNXValueInfo(name: "y", elementType: .float, shape: [], hasShape: false)])
        XCTAssertEqual(
            graph.valueInfo,
            [
                ONNXValueInfo(name: "seq", elementType: .undefined, shape: [], hasShape: false),
                ONNXValueInfo(name: "scalar_out", elementType: .int64, shape: [], hasShape: true),
            ])
    }

    // MARK: Varints

    func testVarintEdgeCases() {
        XCTAssertEqual(readVarint([0x00]), .success(0))
        XCTAssertEqual(readVarint([0x7F]), .success(127))
        XCTAssertEqual(readVarint([0x80, 0x01]), .success(128))
        XCTAssertEqual(readVarint([0xAC, 0x02]), .success(300))
        XCTAssertEqual(
            readVarint([0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F]), .success(UInt64(Int64.max)))
        // The longest valid varint: 10 bytes, the last carrying bit 63.
        XCTAssertEqual(
            readVarint([0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01]), .success(UInt64.max))
        // A non-canonical 10-byte zero is still 10 bytes and in range.
        XCTAssertEqual(readVarint([0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00]), .success(0))
        // 11 bytes: the tenth byte still has its continuation bit.
        XCTAssertEqual(
            readVarint([0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x81, 0x00]),
            .failure(ONNXError(.varintOverflow, offset: 0)))
        // 10 bytes whose last byte sets bits above 63.
        XCTAssertEqual(
            readVarint([0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x02]),
            .failure(ONNXError(.varintOverflow, offset: 0)))
        XCTAssertEqual(readVarint([]), .failure(ONNXError(.truncatedVarint, offset: 0)))
        XCTAssertEqual(readVarint([0x80]), .failure(ONNXError(.truncatedVarint, offset: 0)))
        XCTAssertEqual(readVarint([0xFF, 0xFF, 0xFF]), .failure(ONNXError(.truncatedVarint, offset: 0)))
    }

    func testVarintRoundTripsThroughTheWriter() {
        let values: [UInt64] = [0, 1, 127, 128, 16_383, 16_384, 1 << 35, UInt64(Int64.max), 1 << 63, .max]
        for value in values {
            var writer = ProtobufWriter()
            writer.varint(value)
            XCTAssertLessThanOrEqual(writer.bytes.count, ProtobufReader.maxVarintBytes)
            XCTAssertEqual(readVarint(writer.bytes), .success(value), "\(value)")
        }
    }

    func testNegativeInt64IsATenByteVarint() throws {
        var writer = ProtobufWriter()
        writer.int(1, -1)
        XCTAssertEqual(writer.bytes.count, 11)  // 1 key byte + 10 varint bytes
        var reader = ProtobufReader(writer.bytes)
        let tag = try XCTUnwrap(try reader.nextTag())
        XCTAssertEqual(try reader.readInt64(tag), -1)
        XCTAssertTrue(reader.isAtEnd)

        let decoded = try ONNXModel.decode(encode { model in
            model.int(1, Int64.min)
            model.message(7) { graph in
                graph.message(1) { node in
                    node.data(5, attribute("k", type: .int) { $0.int(3, -123_456_789_012) })
                    node.data(5, attribute("ks", type: .ints) { $0.packedInts(8, [-1, Int64.min, Int64.max]) })
                }
            }
        })
        XCTAssertEqual(decoded.irVersion, Int64.min)
        XCTAssertEqual(try decoded.graph.nodes.first?.int("k"), -123_456_789_012)
        XCTAssertEqual(try decoded.graph.nodes.first?.ints("ks"), [-1, Int64.min, Int64.max])
    }

    func testNegativeInt32IsTruncatedToLow32Bits() throws {
        // protobuf writes a negative int32 as a sign-extended 10-byte varint.
        let tensor = try decodeTensor { tensor in
            tensor.int(1, 2)
            tensor.int(2, Int64(ONNXDataType.int32.rawValue))
            tensor.int(5, -5)
            tensor.int(5, Int64(Int32.max))
        }
        XCTAssertEqual(try tensor.int32Values(), [-5, Int32.max])
    }

    // MARK: Repeated scalars

    func testPackedAndUnpackedRepeatedScalarsAgree() throws {
        let packed = try decodeTensor { tensor in
            tensor.packedInts(1, [2, 2])
            tensor.int(2, Int64(ONNXDataType.float.rawValue))
            tensor.packedFloats(4, [1, 2, 3, 4])
            tensor.packedInts(5, [-1, 2])
            tensor.packedInts(7, [Int64.min, 9])
            tensor.packedDoubles(10, [0.5, -0.5])
        }
        let unpacked = try decodeTensor { tensor in
            tensor.int(1, 2)
            tensor.int(1, 2)
            tensor.int(2, Int64(ONNXDataType.float.rawValue))
            for value: Float in [1, 2, 3, 4] { tensor.float(4, value) }
            tensor.int(5, -1)
            tensor.int(5, 2)
            tensor.int(7, Int64.min)
            tensor.int(7, 9)
            tensor.double(10, 0.5)
            tensor.double(10, -0.5)
        }
        XCTAssertEqual(packed, unpacked)
        XCTAssertEqual(packed.dims, [2, 2])
        XCTAssertEqual(packed.floatData, [1, 2, 3, 4])
        XCTAssertEqual(packed.int32Data, [-1, 2])
        XCTAssertEqual(packed.int64Data, [Int64.min, 9])
        XCTAssertEqual(packed.doubleData, [0.5, -0.5])

        // Mixed: packed runs and single values append in order.
        let mixed = try decodeTensor { tensor in
            tensor.int(1, 1)
            tensor.packedInts(1, [2, 3])
            tensor.int(1, 4)
            tensor.packedInts(1, [])
        }
        XCTAssertEqual(mixed.dims, [1, 2, 3, 4])
    }

    func testPackedFixedWidthLengthMustBeWholeElements() {
        let bytes = modelWithTensor({ tensor in
            tensor.int(2, Int64(ONNXDataType.float.rawValue))
            tensor.data(4, [0, 0, 0, 0, 0, 0])
        })
        XCTAssertEqual(
            decodeError(bytes)?.reason, .packedLengthMismatch(field: 4, length: 6, elementSize: 4))
        let doubles = modelWithTensor({ $0.data(10, [0, 0, 0, 0]) })
        XCTAssertEqual(
            decodeError(doubles)?.reason, .packedLengthMismatch(field: 10, length: 4, elementSize: 8))
        let truncatedPacked = modelWithTensor({ $0.data(1, [0x80]) })
        XCTAssertEqual(decodeError(truncatedPacked)?.reason, .truncatedVarint)
    }

    // MARK: Unknown fields

    func testUnknownFieldsOfEveryWireTypeAreSkipped() throws {
        let plain = modelWithGraph { graph in
            graph.string(2, "g")
            graph.message(1) { $0.string(4, "Relu") }
        }
        let noisy = encode { model in
            model.int(1, 8)
            model.int(500, 1)
            model.fixed32(501, 2)
            model.fixed64(502, 3)
            model.data(503, Array(repeating: 0xFF, count: 40))  // garbage inside an unknown field
            model.message(8) { opset in
                opset.int(2, 17)
                opset.string(9, "x")
            }
            model.message(7) { graph in
                graph.message(17) { $0.int(1, 1) }
                graph.string(2, "g")
                graph.message(1) { node in
                    node.fixed64(11, 9)
                    node.string(4, "Relu")
                    node.message(9) { $0.string(1, "key") }  // metadata_props
                }
                graph.message(15) { $0.data(1, [1, 2]) }  // sparse_initializer
                graph.fixed32(20_000, 1)
            }
            model.message(20) { $0.message(1) { $0.int(1, 1) } }  // training_info
            model.message(25) { $0.string(1, "function") }  // functions
        }
        XCTAssertEqual(try ONNXModel.decode(noisy), try ONNXModel.decode(plain))
        // A field number at the top of the allowed range is skipped too.
        var maxField = ProtobufWriter()
        maxField.int(0x1FFF_FFFF, 1)
        XCTAssertNil(decodeError(maxField.bytes + plain))
    }

    // MARK: Wire-format errors

    func testWireFormatErrorsNameWhatAndWhere() {
        // ir_version's value is cut off: the varint starts at byte 1.
        let truncated = decodeError([0x08])
        XCTAssertEqual(truncated, ONNXError(.truncatedVarint, offset: 1, path: "ModelProto"))
        XCTAssertEqual(truncated?.description, "truncated varint at byte 1 (in ModelProto)")

        // graph (field 7) claims 5 bytes, 1 remains.
        let overlong = decodeError([0x3A, 0x05, 0x00])
        XCTAssertEqual(
            overlong, ONNXError(.lengthOutOfBounds(field: 7, claimed: 5, remaining: 1), offset: 0, path: "ModelProto"))
        XCTAssertEqual(
            overlong?.description,
            "length-delimited field 7 at byte 0 claims 5 bytes but only 1 remain (in ModelProto)")

        XCTAssertEqual(decodeError([0x0B])?.reason, .groupNotSupported(field: 1, wireType: 3))
        XCTAssertEqual(decodeError([0x0C])?.reason, .groupNotSupported(field: 1, wireType: 4))
        XCTAssertEqual(decodeError([0x0E])?.reason, .invalidWireType(field: 1, wireType: 6))
        XCTAssertEqual(decodeError([0x0F])?.reason, .invalidWireType(field: 1, wireType: 7))
        XCTAssertEqual(decodeError([0x00, 0x00])?.reason, .invalidFieldNumber(0))
        XCTAssertEqual(
            decodeError([0x80, 0x80, 0x80, 0x80, 0x10, 0x00])?.reason, .invalidFieldNumber(1 << 29))
        XCTAssertEqual(
            decodeError([0x0D, 0x01, 0x02]),
            ONNXError(.unexpectedWireType(field: 1, found: 5, expected: "varint (0)"), offset: 0, path: "ModelProto"))
        XCTAssertEqual(
            decodeError([0xCD, 0x07, 0x01, 0x02]),  // unknown fixed32 field 121 with 2 of 4 bytes
            ONNXError(.truncatedFixed(field: 121, width: 4, remaining: 2), offset: 0, path: "ModelProto"))
        XCTAssertEqual(
            decodeError([0xC9, 0x07, 0x01]),  // unknown fixed64 field 121 with 1 of 8 bytes
            ONNXError(.truncatedFixed(field: 121, width: 8, remaining: 1), offset: 0, path: "ModelProto"))
        XCTAssertEqual(decodeError([]), ONNXError(.missingField("graph"), path: "ModelProto"))
        XCTAssertEqual(decodeError([0x08, 0x01]), ONNXError(.missingField("graph"), path: "ModelProto"))
    }

    func testLengthClaimingTwoToTheSixtySecondBytesIsRefused() {
        var writer = ProtobufWriter()
        writer.key(7, 2)
        writer.varint(1 << 62)
        writer.bytes += [0, 0, 0]
        XCTAssertEqual(
            decodeError(writer.bytes),
            ONNXError(.lengthOutOfBounds(field: 7, claimed: 1 << 62, remaining: 3), offset: 0, path: "ModelProto"))

        // The same claim deep inside: a node's attribute field, offsets are absolute.
        var inner = ProtobufWriter()
        inner.key(5, 2)
        inner.varint(1 << 62)
        let bytes = modelWithGraph { graph in graph.data(1, inner.bytes) }
        let error = decodeError(bytes)
        XCTAssertEqual(error?.reason, .lengthOutOfBounds(field: 5, claimed: 1 << 62, remaining: 0))
        XCTAssertEqual(error?.path, "ModelProto.graph.node[0]")
        let offset = try? XCTUnwrap(error?.offset)
        XCTAssertEqual(offset.map { bytes[$0] }, 0x2A)  // the attribute's key byte
        XCTAssertEqual(offset, bytes.count - inner.bytes.count)

        // A length of UInt64.max (10-byte varint) is refused the same way.
        var huge = ProtobufWriter()
        huge.key(7, 2)
        huge.varint(.max)
        XCTAssertEqual(decodeError(huge.bytes)?.reason, .lengthOutOfBounds(field: 7, claimed: .max, remaining: 0))
    }

    func testErrorPathsNameTheNestedMessage() {
        let badType = modelWithGraph { graph in
            graph.message(1) { $0.string(4, "Relu") }
            graph.message(1) { node in
                node.data(5, attribute("a", type: .int) { $0.int(3, 1) })
                node.data(5, attribute("b", type: nil) { $0.int(20, 99) })
            }
        }
        let error = decodeError(badType)
        XCTAssertEqual(
            error?.reason, .unknownEnumValue(field: 20, enumName: "AttributeProto.AttributeType", value: 99))
        XCTAssertEqual(error?.path, "ModelProto.graph.node[1].attribute[1]")
        XCTAssertTrue(error?.description.hasPrefix("field 20 at byte ") ?? false, error?.description ?? "")

        let badDims = modelWithGraph { graph in
            graph.message(5) { $0.string(8, "first") }
            graph.message(5) { tensor in tensor.data(1, [0xFF]) }
        }
        XCTAssertEqual(decodeError(badDims)?.path, "ModelProto.graph.initializer[1]")

        let badShape = modelWithGraph { graph in
            graph.message(11) { input in
                input.message(2) { type in
                    type.message(1) { tensorType in
                        tensorType.message(2) { shape in
                            shape.message(1) { $0.int(1, 1) }
                            shape.message(1) { $0.fixed32(1, 1) }
                        }
                    }
                }
            }
        }
        XCTAssertEqual(decodeError(badShape)?.path, "ModelProto.graph.input[0].type.tensor_type.shape.dim[1]")

        let wrongWire = modelWithGraph { graph in graph.int(2, 5) }  // name as a varint
        XCTAssertEqual(
            decodeError(wrongWire)?.reason, .unexpectedWireType(field: 2, found: 0, expected: "length-delimited (2)"))
    }

    func testInvalidUTF8AndUnknownDataTypesAreRefused() {
        let badName = modelWithGraph { graph in graph.data(2, [0x67, 0xC3, 0x28]) }
        let error = decodeError(badName)
        XCTAssertEqual(error?.reason, .invalidUTF8(field: 2))
        XCTAssertEqual(error?.path, "ModelProto.graph")

        let badType = modelWithTensor({ $0.int(2, 99) })
        XCTAssertEqual(
            decodeError(badType)?.reason, .unknownEnumValue(field: 2, enumName: "TensorProto.DataType", value: 99))
        let badLocation = modelWithTensor({ $0.int(14, 2) })
        XCTAssertEqual(
            decodeError(badLocation)?.reason,
            .unknownEnumValue(field: 14, enumName: "TensorProto.DataLocation", value: 2))

        // STRING attribute bytes are not validated while decoding, only when read as text.
        let bytesAttribute = modelWithGraph { graph in
            graph.message(1) { node in
                node.string(3, "n")
                node.string(4, "Op")
                node.data(5, attribute("s", type: .string) { $0.data(4, [0xFF]) })
            }
        }
        let node = try? ONNXModel.decode(bytesAttribute).graph.nodes.first
        XCTAssertEqual(node?.attribute(named: "s")?.s, [0xFF])
        XCTAssertEqual(capture { try node?.string("s") }?.reason, .invalidUTF8(field: 4))
    }

    // MARK: Tensor accessors

    func testExternalDataNotLoadedIsRefusedWithAClearMessage() throws {
        let located = try decodeTensor { tensor in
            tensor.int(1, 2)
            tensor.int(2, Int64(ONNXDataType.float.rawValue))
            tensor.string(8, "conv.weight")
            tensor.int(14, 1)
        }
        XCTAssertTrue(located.usesExternalData)
        let error = capture { try located.floatValues() }
        XCTAssertEqual(error?.reason, .externalData(tensor: "conv.weight", location: ""))
        XCTAssertEqual(
            error?.description,
            "tensor conv.weight keeps its data in a side file; read the model from its .onnx file so that side files next to it are loaded")

        let listed = try decodeTensor { tensor in
            tensor.int(2, Int64(ONNXDataType.int64.rawValue))
            tensor.string(8, "shape")
            tensor.message(13) { entry in
                entry.string(1, "location")
                entry.string(2, "weights.bin")
            }
        }
        XCTAssertEqual(listed.externalData, ["location": "weights.bin"])
        XCTAssertEqual(capture { try listed.int64Values() }?.reason, .externalData(tensor: "shape", location: "weights.bin"))
    }

    func testTensorConsistencyChecks() throws {
        func floatTensor(dims: [Int64], raw: [UInt8]? = nil, floats: [Float] = []) -> ONNXTensor {
            ONNXTensor(name: "t", dims: dims, dataType: .float, rawData: raw, floatData: floats)
        }
        func reason<Value>(_ body: () throws -> Value) -> ONNXError.Reason? { capture(body)?.reason }

        XCTAssertEqual(
            reason { try floatTensor(dims: [2], raw: [0, 0, 0, 0, 0]).floatValues() },
            .invalidTensor(tensor: "t", detail: "raw_data holds 5 bytes, but 2 FLOAT elements need 8"))
        XCTAssertEqual(
            reason { try floatTensor(dims: [3], floats: [1, 2]).floatValues() },
            .invalidTensor(tensor: "t", detail: "float_data holds 2 values, but dims [3] need 3"))
        XCTAssertEqual(
            reason { try floatTensor(dims: [2]).floatValues() },
            .invalidTensor(tensor: "t", detail: "float_data holds 0 values, but dims [2] need 2"))
        XCTAssertEqual(
            reason { try floatTensor(dims: [2, -1]).elementCount() },
            .invalidTensor(tensor: "t", detail: "dimension 1 is negative (-1)"))
        XCTAssertEqual(
            reason { try floatTensor(dims: [1 << 40, 1 << 40]).floatValues() },
            .invalidTensor(tensor: "t", detail: "the element count of dims [1099511627776, 1099511627776] overflows"))
        // Large but representable counts are refused by the size check, never allocated.
        XCTAssertEqual(
            reason { try floatTensor(dims: [1 << 62], raw: []).floatValues() },
            .invalidTensor(tensor: "t", detail: "raw_data holds 0 bytes, but 4611686018427387904 FLOAT elements need more than \(Int.max)"))
        XCTAssertEqual(
            reason { try floatTensor(dims: [1]).int64Values() },
            .invalidTensor(tensor: "t", detail: "has data type FLOAT, but int64Values() needs INT64"))
        XCTAssertEqual(
            reason { try ONNXTensor(dims: [1], dataType: .int8, int32Data: [128]).int8Values() },
            .invalidTensor(tensor: "<unnamed>", detail: "int32_data[0] = 128 is out of range for INT8"))
        XCTAssertEqual(
            reason { try ONNXTensor(dims: [1], dataType: .uint8, int32Data: [-1]).uint8Values() },
            .invalidTensor(tensor: "<unnamed>", detail: "int32_data[0] = -1 is out of range for UINT8"))
        XCTAssertEqual(
            reason { try ONNXTensor(dims: [1], dataType: .float, rawData: [0, 0, 0, 0], isSegment: true).floatValues() },
            .invalidTensor(tensor: "<unnamed>", detail: "segmented tensors are not supported"))

        XCTAssertEqual(try floatTensor(dims: [0, 1 << 62]).floatValues(), [])
        XCTAssertEqual(try floatTensor(dims: [0], raw: []).floatValues(), [])
        XCTAssertEqual(try ONNXTensor(dims: [3], dataType: .uint8, rawData: [0, 128, 255]).uint8Values(), [0, 128, 255])
        XCTAssertEqual(try ONNXTensor(dims: [2], dataType: .uint8, int32Data: [0, 255]).uint8Values(), [0, 255])
    }

    // MARK: Malformed corpus

    func testEveryTruncationDecodesOrThrows() throws {
        for bytes in [sampleModel(), try tinyONNXBytes()] {
            var decodedCount = 0
            for length in 0..<bytes.count {
                switch decodeResult(Array(bytes[..<length])) {
                case let .success(model):
                    decodedCount += 1
                    exercise(model)
                case let .failure(error):
                    XCTAssertFalse(error.description.isEmpty)
                    if let offset = error.offset { XCTAssertLessThanOrEqual(offset, length) }
                }
            }
            XCTAssertNoThrow(try ONNXModel.decode(bytes))
            // Cutting inside the graph must fail; only cuts after the graph may still decode.
            XCTAssertLessThan(decodedCount, bytes.count / 2)
        }
    }

    func testEveryByteFlipDecodesOrThrows() throws {
        for bytes in [sampleModel(), try tinyONNXBytes()] {
            var failures = 0
            for position in bytes.indices {
                for pattern: UInt8 in [0xFF, 0x80, 0x01, 0x7F] {
                    var mutated = bytes
                    mutated[position] ^= pattern
                    switch decodeResult(mutated) {
                    case let .success(model): exercise(model)
                    case .failure: failures += 1
                    }
                }
                for value: UInt8 in [0x00, 0xFF] where bytes[position] != value {
                    var mutated = bytes
                    mutated[position] = value
                    if case let .success(model) = decodeResult(mutated) { exercise(model) }
                }
            }
            XCTAssertGreaterThan(failures, 0)
        }
    }

    func testSeededRandomMutationsDecodeOrThrow() throws {
        var random = SplitMix64(state: 0x5EED_0000_0000_0001)
        let originals = [sampleModel(), try tinyONNXBytes()]
        for round in 0..<3_000 {
            var bytes = originals[round % originals.count]
            for _ in 0..<Int.random(in: 1...6, using: &random) {
                switch Int.random(in: 0..<4, using: &random) {
                case 0:  // overwrite a byte
                    bytes[Int.random(in: bytes.indices, using: &random)] = UInt8.random(in: 0...255, using: &random)
                case 1:  // delete a run
                    let start = Int.random(in: bytes.indices, using: &random)
                    bytes.removeSubrange(start..<min(bytes.count, start + Int.random(in: 1...8, using: &random)))
                case 2:  // insert random bytes
                    let start = Int.random(in: 0...bytes.count, using: &random)
                    bytes.insert(contentsOf: (0..<Int.random(in: 1...8, using: &random)).map { _ in
                        UInt8.random(in: 0...255, using: &random)
                    }, at: start)
                default:  // duplicate a run
                    let start = Int.random(in: bytes.indices, using: &random)
                    let run = bytes[start..<min(bytes.count, start + Int.random(in: 1...32, using: &random))]
                    bytes.insert(contentsOf: Array(run), at: Int.random(in: 0...bytes.count, using: &random))
                }
                if bytes.isEmpty { break }
            }
            if case let .success(model) = decodeResult(bytes) { exercise(model) }
        }
    }

    func testDeepSubgraphNestingIsRefusedNotAStackOverflow() {
        // graph.node[0].attribute[0].g, repeated 10,000 times (30,000 nested messages).
        let bytes = nested(levels: 30_000, cycle: [6, 5, 1], outer: [7])
        let error = decodeError(bytes)
        XCTAssertEqual(error?.reason, .nestingTooDeep(limit: ProtobufReader.maxDepth))
        XCTAssertTrue(
            error?.path.hasPrefix("ModelProto.graph.node[0].attribute[0].g.node[0].attribute[0].g") ?? false,
            error?.path ?? "")
        XCTAssertTrue(error?.description.contains("messages nested deeper than 64 levels at byte") ?? false)
    }

    func testNestingWithinTheLimitDecodes() throws {
        // 20 subgraph levels are 60 messages below the model, inside the limit of 64.
        let bytes = nested(levels: 60, cycle: [6, 5, 1], outer: [7])
        var graph = try ONNXModel.decode(bytes).graph
        var depth = 0
        while let subgraph = graph.nodes.first?.attributes.first?.g {
            graph = subgraph
            depth += 1
        }
        XCTAssertEqual(depth, 20)
    }

    func testDeepNestingInSkippedFieldsIsSkippedWithoutRecursion() throws {
        // 10,000 nested unknown fields inside the graph, and a 10,000-deep sequence type.
        let unknown = nested(levels: 10_000, cycle: [15], outer: [7])
        XCTAssertEqual(try ONNXModel.decode(unknown).graph, ONNXGraph())
        let sequences = nested(levels: 10_000, cycle: [1, 4], outer: [2, 13, 7])
        XCTAssertEqual(try ONNXModel.decode(sequences).graph.valueInfo, [ONNXValueInfo()])
    }

    // MARK: A real ONNX file

    /// The bytes of `Fixtures/onnx/tiny.onnx`, written by Training/make_onnx_decoder_fixtures.py.
    private func tinyONNXURL() throws -> URL {
        try XCTUnwrap(Bundle.module.resourceURL).appendingPathComponent("Fixtures/onnx/tiny.onnx")
    }

    private func tinyONNXBytes() throws -> [UInt8] {
        [UInt8](try Data(contentsOf: tinyONNXURL()))
    }

    func testRealONNXFileFromOnnxHelper() throws {
        let decoded = try ONNXModel(contentsOf: tinyONNXURL())
        XCTAssertEqual(decoded.irVersion, 8)
        XCTAssertEqual(decoded.producerName, "make_onnx_decoder_fixtures")
        XCTAssertEqual(decoded.producerVersion, "1")
        XCTAssertEqual(decoded.defaultOpsetVersion, 17)

        let graph = decoded.graph
        XCTAssertEqual(graph.name, "tiny")
        XCTAssertEqual(graph.nodes.map(\.opType), ["Conv", "Relu", "Reshape", "Gemm"])
        XCTAssertEqual(graph.nodes.map(\.name), ["conv", "relu", "flatten", "fc"])
        XCTAssertEqual(graph.nodes.map(\.inputs), [
            ["input", "conv.W", "conv.B"], ["conv_out"], ["relu_out", "shape"], ["flat", "fc.W", "fc.B"],
        ])
        XCTAssertEqual(graph.nodes.map(\.outputs), [["conv_out"], ["relu_out"], ["flat"], ["logits"]])

        let conv = graph.nodes[0]
        XCTAssertEqual(try conv.ints("kernel_shape"), [3, 3])
        XCTAssertEqual(try conv.ints("pads"), [1, 1, 1, 1])
        XCTAssertEqual(try conv.ints("strides"), [1, 1])
        XCTAssertEqual(try conv.string("auto_pad"), "NOTSET")
        let gemm = graph.nodes[3]
        XCTAssertEqual(try gemm.float("alpha"), 1)
        XCTAssertEqual(try gemm.float("beta"), 1)
        XCTAssertEqual(try gemm.int("transB"), 1)
        XCTAssertNil(try gemm.int("transA"))

        XCTAssertEqual(graph.initializers.map(\.name), ["conv.W", "conv.B", "shape", "fc.W", "fc.B"])
        let convW = try XCTUnwrap(graph.initializer(named: "conv.W"))
        XCTAssertEqual(convW.dims, [2, 1, 3, 3])
        XCTAssertNotNil(convW.rawData)
        XCTAssertEqual(try convW.floatValues(), (0..<18).map { Float($0 % 7 - 3) * 0.125 })
        let convB = try XCTUnwrap(graph.initializer(named: "conv.B"))
        XCTAssertNil(convB.rawData)
        XCTAssertEqual(try convB.floatValues(), [0.5, -0.25])
        XCTAssertEqual(try graph.initializer(named: "shape")?.int64Values(), [0, -1])
        let fcW = try XCTUnwrap(graph.initializer(named: "fc.W"))
        XCTAssertEqual(fcW.dims, [3, 32])
        XCTAssertEqual(try fcW.floatValues(), (0..<96).map { Float($0 % 5 - 2) * 0.0625 })
        XCTAssertEqual(try graph.initializer(named: "fc.B")?.floatValues(), [-1.5, 0.25, 2.0])

        XCTAssertEqual(graph.inputs, [
            ONNXValueInfo(
                name: "input", elementType: .float, shape: [.symbolic("batch"), .value(1), .value(4), .value(4)],
                hasShape: true),
        ])
        XCTAssertEqual(graph.outputs, [
            ONNXValueInfo(name: "logits", elementType: .float, shape: [.symbolic("batch"), .value(3)], hasShape: true),
        ])
        XCTAssertEqual(graph.valueInfo.map(\.name), ["conv_out"])
    }

    func testUnreadableFileIsAnONNXError() {
        let url = URL(fileURLWithPath: "/nonexistent/model.onnx")
        let error = capture { try ONNXModel(contentsOf: url) }
        guard case let .unreadableFile(path, _)? = error?.reason else {
            return XCTFail("expected unreadableFile, got \(String(describing: error))")
        }
        XCTAssertEqual(path, "/nonexistent/model.onnx")
    }
}
