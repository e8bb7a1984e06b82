// The seed corpora of the fuzz targets: small synthetic models and the repository's own fixtures,
// written by `Fuzz/run.sh` (through EARLYEXIT_FUZZ_WRITE_SEEDS) before a run.
import EarlyExit
import EarlyExitTools
import Foundation

enum FuzzSeeds {
    /// Writes one directory of seeds per target under `directory`; returns the count per target.
    static func write(repository root: URL, to directory: URL) throws -> [(String, Int)] {
        let fixtures = root.appendingPathComponent("Tests/EarlyExitToolsTests/Fixtures")
        var seeds: [FuzzTarget: [(String, [UInt8])]] = [:]

        // .eem: small synthetic networks (every operator kind of the bundled models), the stored
        // policy in each signal, int8 quantizations, and small converted conformance fixtures.
        // The bundled models (2.6 MB and 0.7 MB, 57 M MACs) are left out on purpose: their
        // mutants spend the time in CRC-32 and the kernels, not in the loader.
        var models: [(String, [UInt8])] = []
        let shapes: [(channels: Int, size: Int, width: Int, heads: Int, classes: Int)] =
            [(1, 8, 2, 1, 3), (1, 8, 4, 2, 5), (3, 8, 4, 2, 10), (1, 16, 8, 2, 10), (1, 12, 16, 2, 10)]
        for (index, shape) in shapes.enumerated() {
            let bytes = try SyntheticModels.attentionNetwork(channels: shape.channels, size: shape.size, width: shape.width,
                                                            heads: shape.heads, classes: shape.classes, seed: UInt64(index + 1)).serialize()
            models.append(("synthetic-\(shape.channels)x\(shape.size)-w\(shape.width)-h\(shape.heads)-c\(shape.classes).eem", bytes))
        }
        let base = models[1].1
        for (name, policy) in [("none", ExitPolicy(signal: .none, thresholds: [0, 0])),
                               ("maxprob-combine", ExitPolicy(signal: .maxProbability, thresholds: [0.4, 0.6], combineSeenExits: true)),
                               ("entropy", ExitPolicy(signal: .entropy, thresholds: [0.9, 0.5]))] {
            models.append(("synthetic-policy-\(name).eem", try ModelPatcher.settingPolicy(policy, in: base)))
        }
        for fixture in ["aw1_k1_gray16_legacy", "aw2_k3_ch2_avgpool_ad4_legacy18"] {
            let onnx = try bytes(fixtures.appendingPathComponent("conformance/\(fixture)/model.onnx"))
            models.append(("\(fixture).eem", try ONNXConverter.convert(onnx: onnx, options: ConversionOptions()).bytes))
        }
        // The last list entry: 16 channels, so that the int8 16 → 16 convolutions and the
        // attention logits take the AVX-512 VNNI pixel-lanes kernel.
        for (name, bytes) in [models[1], models[2], models[models.count - 2], models[shapes.count - 1]] {
            let model = try Model(bytes: bytes)
            var rng = SeededGenerator(seed: 5)
            let calibration = (0..<4).map { _ in rng.uniforms(model.input.elementCount, scale: 2) }
            let int8 = try Quantizer.quantize(model: model, calibration: calibration, method: .minmax).bytes
            models.append((name.replacingOccurrences(of: ".eem", with: "-int8.eem"), int8))
        }
        seeds[.eem] = models
        seeds[.eemCRC] = models

        // ONNX: the conformance fixtures' models and the decoder's small fixture.
        var onnx: [(String, [UInt8])] = [("tiny.onnx", try bytes(fixtures.appendingPathComponent("onnx/tiny.onnx")))]
        let conformance = fixtures.appendingPathComponent("conformance")
        for name in try FileManager.default.contentsOfDirectory(atPath: conformance.path).sorted() {
            let file = conformance.appendingPathComponent(name).appendingPathComponent("model.onnx")
            if FileManager.default.fileExists(atPath: file.path) { onnx.append(("\(name).onnx", try bytes(file))) }
        }
        // The converter's import fixtures (networks PyTorch users export) with their weights
        // inside the file, and those whose weights are in a side file for `onnx-external`.
        let imports = fixtures.appendingPathComponent("import")
        for name in ["einsum_pool_legacy17", "einsum_pool_legacy18", "ran_legacy18", "resnet18_legacy18",
                     "ltpa_dot_legacy18", "ltpa_pc_legacy18"] {
            let file = imports.appendingPathComponent(name).appendingPathComponent("model.onnx")
            if FileManager.default.fileExists(atPath: file.path) { onnx.append(("\(name).onnx", try bytes(file))) }
        }
        seeds[.onnx] = onnx
        var external: [(String, [UInt8])] = []
        for name in ["einsum_pool_dynamo", "resnet18_dynamo", "ltpa_dot_dynamo", "ltpa_pc_dynamo"] {
            let file = imports.appendingPathComponent(name).appendingPathComponent("model.onnx")
            let side = imports.appendingPathComponent(name).appendingPathComponent("model.onnx.data")
            guard FileManager.default.fileExists(atPath: side.path) else { continue }
            let model = try bytes(file)
            let length = UInt32(model.count)
            let prefix = (0..<4).map { UInt8(truncatingIfNeeded: length >> (8 * UInt32($0))) }
            external.append(("\(name).onnx+data", prefix + model + (try bytes(side))))
        }
        seeds[.onnxExternal] = external

        // gzip and raw DEFLATE: the reader's fixtures (the 98 KB incompressible one aside) and
        // the bundled label files; the raw streams are the gzip members' DEFLATE data.
        let data = fixtures.appendingPathComponent("data")
        var gzip: [(String, [UInt8])] = []
        for name in try FileManager.default.contentsOfDirectory(atPath: data.path).sorted() where name.hasSuffix(".gz") && name != "random.gz" {
            gzip.append((name, try bytes(data.appendingPathComponent(name))))
        }
        for name in ["fashion-test-sample-labels-idx1-ubyte.gz", "fashion-val-labels-idx1-ubyte.gz"] {
            gzip.append((name, try bytes(root.appendingPathComponent("Models/\(name)"))))
        }
        seeds[.gzip] = gzip
        seeds[.inflate] = gzip.compactMap { name, bytes in deflateStream(of: bytes).map { (name.replacingOccurrences(of: ".gz", with: ".deflate"), $0) } }

        // IDX: the fixtures, plain and gzipped, and the first images and labels of the bundled sample.
        let images = try IDXFile.parse(try bytes(root.appendingPathComponent("Models/fashion-test-sample-images-idx3-ubyte.gz")), source: "images")
        let labels = try IDXFile.parse(try bytes(root.appendingPathComponent("Models/fashion-test-sample-labels-idx1-ubyte.gz")), source: "labels")
        let smallImages = try bytes(data.appendingPathComponent("images-7x4x5-idx3-ubyte.gz"))
        seeds[.idx] = [
            ("labels-7-idx1-ubyte", try bytes(data.appendingPathComponent("labels-7-idx1-ubyte"))),
            ("images-7x4x5-idx3-ubyte.gz", smallImages),
            ("images-7x4x5-idx3-ubyte", try Gzip.decompress(smallImages)),
            ("sample-images-3-idx3-ubyte", IDXFile.encode(dimensions: [3, 28, 28], payload: Array(images.payload.prefix(3 * 784)))),
            ("sample-labels-16-idx1-ubyte", IDXFile.encode(dimensions: [16], payload: Array(labels.payload.prefix(16)))),
        ]

        // NPY: every small .npy fixture (the reader's, the qlinear and conformance inputs).
        var npy: [(String, [UInt8])] = []
        if let walker = FileManager.default.enumerator(atPath: fixtures.path) {
            for case let path as String in walker where path.hasSuffix(".npy") {
                let file = try bytes(fixtures.appendingPathComponent(path))
                if file.count <= 4096 { npy.append((path.replacingOccurrences(of: "/", with: "_"), file)) }
            }
        }
        seeds[.npy] = npy.sorted { $0.0 < $1.0 }

        // C API: parameter blocks on each built-in model, and model bytes carried by the input.
        var capi: [(String, [UInt8])] = []
        var rng = SeededGenerator(seed: 0xCA91)
        for model in 0..<FuzzTargets.builtInModels.count {
            capi.append(("model\(model)-defaults", [UInt8(model)] + [UInt8](repeating: 0, count: 127)))
            for variant in 0..<6 {
                capi.append(("model\(model)-random\(variant)", [UInt8(model), 0, 3, 0] + (0..<124).map { _ in UInt8(truncatingIfNeeded: rng.next()) }))
            }
        }
        for (index, model) in FuzzTargets.builtInModels.enumerated() {
            var block = [UInt8](repeating: 0, count: 64)
            block[0] = UInt8(FuzzTargets.builtInModels.count)
            capi.append(("bytes-of-model\(index)", block + model))
        }
        seeds[.capi] = capi

        var counts: [(String, Int)] = []
        for target in FuzzTarget.allCases {
            let folder = directory.appendingPathComponent(target.rawValue)
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            for (name, content) in seeds[target] ?? [] {
                try Data(content).write(to: folder.appendingPathComponent(name))
            }
            counts.append((target.rawValue, seeds[target]?.count ?? 0))
        }
        return counts
    }

    static func bytes(_ url: URL) throws -> [UInt8] { [UInt8](try Data(contentsOf: url)) }

    /// The DEFLATE data of a gzip file's first member (RFC 1952 header fields skipped), or nil.
    static func deflateStream(of gzip: [UInt8]) -> [UInt8]? {
        guard gzip.count >= 18, gzip[0] == 0x1F, gzip[1] == 0x8B, gzip[2] == 8 else { return nil }
        let flags = gzip[3]
        var position = 10
        if flags & 0x04 != 0 {
            guard position + 2 <= gzip.count else { return nil }
            position += 2 + Int(gzip[position]) + Int(gzip[position + 1]) << 8
        }
        for flag in [UInt8(0x08), 0x10] where flags & flag != 0 {
            while position < gzip.count && gzip[position] != 0 { position += 1 }
            position += 1
        }
        if flags & 0x02 != 0 { position += 2 }
        guard position < gzip.count - 8 else { return nil }
        return Array(gzip[position..<(gzip.count - 8)])
    }
}
