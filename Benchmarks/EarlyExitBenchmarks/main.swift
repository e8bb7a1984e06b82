// EarlyExitBenchmarks: kernel throughput (GMAC/s) at the shapes of a Fashion-MNIST attention WRN,
// and end-to-end latency of the bundled models, early exit vs the full network.
//
//   swift run -c release EarlyExitBenchmarks [--json] [--quick] [--min-time S] [--samples N]
//                                            [--filter TEXT] [--models DIR] [--model FILE.eem]...
//                                            [--images IDX --labels IDX] [--limit N] [--no-kernels] [--no-models]
//
// Every measurement repeats its body until one batch takes at least --min-time (0.2 s), after a
// warm-up, and reports the median of --samples (5) batches. Nothing here asserts a time.
import EarlyExit
import EarlyExitTools
import Foundation

// MARK: Options

struct Options {
    var json = false
    var jsonOut: String?
    var minTime = 0.2
    var samples = 5
    var warmup = 0.05
    var filter: String?
    var modelsDirectory = "Models"
    var modelPaths: [String] = []
    var images = "Models/fashion-test-sample-images-idx3-ubyte.gz"
    var labels = "Models/fashion-test-sample-labels-idx1-ubyte.gz"
    var limit = 1000
    var kernels = true
    var models = true
    var synthetic = true
    var single = true
    /// `--layers`: per-operator profiles of these models under these kernel sets.
    var layers = false
    var kernelSets: [String] = []
    var runs = 200
    /// `--peak`: the multiply-accumulate peak of this core, then exit (with --layers: both).
    var peak = false
}

let usage = """
    usage: EarlyExitBenchmarks [options]
      --json               print JSON instead of tables
      --json-out FILE      print the tables and also write the JSON to FILE
      --quick              short runs (min time 0.02 s, 3 samples, 200 images) for smoke tests
      --min-time S         seconds each timed batch must last (default 0.2)
      --samples N          timed batches per measurement; the median is reported (default 5)
      --filter TEXT        only kernels whose name or shape contains TEXT
      --models DIR         directory of bundled .eem models (default Models)
      --model FILE         an extra .eem model (repeatable)
      --images IDX         images for end-to-end runs (default the bundled test sample)
      --labels IDX         labels for end-to-end runs
      --limit N            images per end-to-end configuration (default 1000)
      --no-kernels         skip the kernel table
      --no-models          skip the end-to-end table
      --no-synthetic       skip the synthetic model in the end-to-end table
      --pairs-only         of the end-to-end runs, only the int8 vs float32 table
      --layers             per-operator profile (fastest thread CPU time over --runs runs) of each
                           --model (default the bundled float32 and int8 models), then exit
      --kernels NAME       kernel set for --layers (repeatable; default: the detected one)
      --runs N             full-network runs for --layers (default 200)
      --peak               the core's multiply-accumulate peak per instruction the kernels use
                           (and, with --layers, before the profiles), then exit
    """

func parseOptions() -> Options {
    var options = Options()
    var arguments = Array(CommandLine.arguments.dropFirst())
    func value(_ name: String) -> String {
        guard !arguments.isEmpty else {
            FileHandle.standardError.write("error: \(name) needs a value\n\(usage)\n".data(using: .utf8)!)
            exit(2)
        }
        return arguments.removeFirst()
    }
    func number(_ name: String) -> Double {
        let text = value(name)
        guard let number = Double(text), number > 0 else {
            FileHandle.standardError.write("error: \(name) needs a positive number, got '\(text)'\n".data(using: .utf8)!)
            exit(2)
        }
        return number
    }
    while !arguments.isEmpty {
        let argument = arguments.removeFirst()
        switch argument {
        case "--json": options.json = true
        case "--json-out": options.jsonOut = value(argument)
        case "--quick": options.minTime = 0.02; options.samples = 3; options.warmup = 0.01; options.limit = 200
        case "--min-time": options.minTime = number(argument)
        case "--samples": options.samples = max(1, Int(number(argument)))
        case "--filter": options.filter = value(argument)
        case "--models": options.modelsDirectory = value(argument)
        case "--model": options.modelPaths.append(value(argument))
        case "--images": options.images = value(argument)
        case "--labels": options.labels = value(argument)
        case "--limit": options.limit = max(1, Int(number(argument)))
        case "--no-kernels": options.kernels = false
        case "--no-models": options.models = false
        case "--no-synthetic": options.synthetic = false
        case "--pairs-only": options.single = false
        case "--layers": options.layers = true
        case "--peak": options.peak = true
        case "--kernels": options.kernelSets.append(value(argument))
        case "--runs": options.runs = max(1, Int(number(argument)))
        case "--help", "-h": print(usage); exit(0)
        default:
            FileHandle.standardError.write("error: unknown option '\(argument)'\n\(usage)\n".data(using: .utf8)!)
            exit(2)
        }
    }
    return options
}

// MARK: Timing

struct Timing {
    /// Wall-clock nanoseconds per call: the median, fastest and slowest of the timed batches.
    var median: Double
    var minimum: Double
    var maximum: Double
    /// This thread's CPU time per call (median batch): unlike wall time it leaves out the time
    /// the thread waits while other processes run, so it is steadier on a shared machine.
    var medianCPU: Double
    var callsPerBatch: Int
}

@inline(__always)
func now() -> UInt64 { DispatchTime.now().uptimeNanoseconds }

/// CPU time consumed by the calling thread, in nanoseconds.
func threadCPUTime() -> UInt64 {
    var spec = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &spec)
    return UInt64(spec.tv_sec) * 1_000_000_000 + UInt64(spec.tv_nsec)
}

/// Warms up for `options.warmup` seconds, finds a batch size lasting at least `options.minTime`,
/// then times `options.samples` batches of that size.
func measure(_ options: Options, _ body: () -> Void) -> Timing {
    let warmupEnd = now() + UInt64(options.warmup * 1e9)
    var calls = 0
    while calls < 3 || now() < warmupEnd { body(); calls += 1 }
    let target = options.minTime * 1e9
    var batch = 1
    while true {
        let start = now()
        for _ in 0..<batch { body() }
        let elapsed = Double(now() - start)
        if elapsed >= target { break }
        // Grow towards the target with some margin; at least double when the batch was very short.
        let factor = elapsed > 0 ? min(max(target / elapsed * 1.2, 1.2), 100) : 100
        batch = max(batch + 1, Int(Double(batch) * factor))
    }
    var perCall: [Double] = []
    var cpuPerCall: [Double] = []
    for _ in 0..<options.samples {
        let cpuStart = threadCPUTime()
        let start = now()
        for _ in 0..<batch { body() }
        let end = now()
        perCall.append(Double(end - start) / Double(batch))
        cpuPerCall.append(Double(threadCPUTime() - cpuStart) / Double(batch))
    }
    perCall.sort()
    cpuPerCall.sort()
    return Timing(median: perCall[perCall.count / 2], minimum: perCall[0], maximum: perCall[perCall.count - 1],
                  medianCPU: cpuPerCall[cpuPerCall.count / 2], callsPerBatch: batch)
}

// MARK: Kernels

/// One kernel at one shape: a direct `FloatKernels` call, and the same operator in a model
/// run by the interpreter (input copy, dispatch, a tiny read-out and the exit logic included).
struct KernelCase {
    var name: String
    var shape: String
    var macs: Int
    var direct: () -> Void
    var model: Model?
    var interpreterInput: [Float]
}

struct KernelResult {
    var name: String
    var shape: String
    var macs: Int
    var direct: Timing
    var interpreter: Timing?
}

nonisolated(unsafe) var rng = SeededGenerator(seed: 2024)

/// A buffer that lives for the whole program (kernels take raw pointers).
func buffer(_ count: Int, random: Bool = true) -> UnsafeMutablePointer<Float> {
    let pointer = UnsafeMutablePointer<Float>.allocate(capacity: max(count, 1))
    for index in 0..<count { pointer[index] = random ? rng.uniform(1) : 0 }
    return pointer
}

/// Appends the read-out every exit needs — logits [1, classes] and a one-element gate — after an
/// operator whose output is `y`: global average pool (for feature maps) and two small FCs.
func addReadout(_ b: inout ModelBuilder, _ y: Int, shape: [Int]) {
    var features = y
    var width = shape.reduce(1, *)
    if shape.count == 4 {
        features = b.add(.globalAvgPool, [y], shape: [1, shape[1]])
        width = shape[1]
    } else if shape.count != 2 {
        features = b.add(.reshape, [y], shape: [1, width])
    }
    let logits = b.add(.fullyConnected, [features, b.addConstant(rng.uniforms(2 * width, scale: 0.1), shape: [2, width])], shape: [1, 2])
    let gate = b.add(.fullyConnected, [features, b.addConstant(rng.uniforms(width, scale: 0.1), shape: [1, width])], shape: [1, 1])
    b.addExit(logits: logits, gate: gate)
}

func loadBuilt(_ b: ModelBuilder, _ what: String) -> Model? {
    do {
        return try Model(bytes: b.serialize())
    } catch {
        FileHandle.standardError.write("warning: cannot build the one-operator model for \(what): \(error)\n".data(using: .utf8)!)
        return nil
    }
}

func convolutionCase(_ label: String, cin: Int, cout: Int, size: Int, kernel: Int, stride: Int) -> KernelCase {
    let pad = kernel / 2
    var g = WindowGeometry()
    g.channelsIn = cin; g.heightIn = size; g.widthIn = size
    g.channelsOut = cout; g.kernelHeight = kernel; g.kernelWidth = kernel
    g.strideHeight = stride; g.strideWidth = stride
    g.padTop = pad; g.padLeft = pad; g.padBottom = pad; g.padRight = pad
    g.heightOut = (size + 2 * pad - kernel) / stride + 1
    g.widthOut = g.heightOut
    let pointwise = kernel == 1 && stride == 1
    let path: ConvolutionPath = pointwise ? .pointwise : .im2col
    let x = buffer(cin * size * size), w = buffer(cout * cin * kernel * kernel), bias = buffer(cout)
    let y = buffer(cout * g.heightOut * g.widthOut, random: false)
    let scratch = pointwise ? nil : buffer(cin * kernel * kernel * FloatKernels.paddedColumns(g.heightOut * g.widthOut), random: false)
    let macs = cout * g.heightOut * g.widthOut * cin * kernel * kernel

    var b = ModelBuilder()
    let input = b.addInput(shape: [1, cin, size, size])
    let weights = b.addConstant(Array(UnsafeBufferPointer(start: w, count: cout * cin * kernel * kernel)), shape: [cout, cin, kernel, kernel])
    let biasTensor = b.addConstant(Array(UnsafeBufferPointer(start: bias, count: cout)), shape: [cout])
    let outShape = [1, cout, g.heightOut, g.widthOut]
    let out = b.add(.conv2d, [input, weights, biasTensor], shape: outShape,
                    attributes: [Int32(kernel), Int32(kernel), Int32(stride), Int32(stride), Int32(pad), Int32(pad), Int32(pad), Int32(pad), 1, 1, 1],
                    activation: .relu)
    addReadout(&b, out, shape: outShape)
    b.thresholds = []
    let shape = "\(cin)→\(cout) \(size)×\(size)\(stride > 1 ? " s\(stride)" : "") → \(g.heightOut)×\(g.widthOut)"
    return KernelCase(name: label, shape: shape, macs: macs, direct: {
        FloatKernels.convolution(x, weights: w, bias: bias, g, path: path, scratch: scratch, y: y, relu: true)
    }, model: loadBuilt(b, label + " " + shape), interpreterInput: Array(UnsafeBufferPointer(start: x, count: cin * size * size)))
}

func fullyConnectedCase(inputs: Int, outputs: Int) -> KernelCase {
    let x = buffer(inputs), w = buffer(inputs * outputs), bias = buffer(outputs), y = buffer(outputs, random: false)
    var b = ModelBuilder()
    let input = b.addInput(shape: [1, inputs])
    let weights = b.addConstant(Array(UnsafeBufferPointer(start: w, count: inputs * outputs)), shape: [outputs, inputs])
    let biasTensor = b.addConstant(Array(UnsafeBufferPointer(start: bias, count: outputs)), shape: [outputs])
    let out = b.add(.fullyConnected, [input, weights, biasTensor], shape: [1, outputs])
    addReadout(&b, out, shape: [1, outputs])
    return KernelCase(name: "fully connected", shape: "\(inputs)→\(outputs)", macs: inputs * outputs, direct: {
        FloatKernels.fullyConnected(x, weights: w, bias: bias, inputs: inputs, outputs: outputs, y: y, relu: false)
    }, model: loadBuilt(b, "fully connected \(inputs)→\(outputs)"), interpreterInput: Array(UnsafeBufferPointer(start: x, count: inputs)))
}

/// The attention pooling `M [1,K,HW] · Zᵀ [1,HW,C] -> [1,K,C]`.
func matmulCase(heads: Int, pixels: Int, channels: Int) -> KernelCase {
    let a = buffer(heads * pixels), bMatrix = buffer(pixels * channels), c = buffer(heads * channels, random: false)
    let lhs = TensorShape([1, heads, pixels]), rhs = TensorShape([1, pixels, channels]), out = TensorShape([1, heads, channels])
    var b = ModelBuilder()
    let input = b.addInput(shape: [1, heads, pixels])
    let right = b.addConstant(Array(UnsafeBufferPointer(start: bMatrix, count: pixels * channels)), shape: [1, pixels, channels])
    let product = b.add(.matmul, [input, right], shape: [1, heads, channels])
    addReadout(&b, product, shape: [1, heads, channels])
    return KernelCase(name: "matmul (attention pooling)", shape: "[1,\(heads),\(pixels)]×[1,\(pixels),\(channels)]",
                      macs: heads * pixels * channels, direct: {
                          FloatKernels.matmul(a, bMatrix, c: c, lhs: lhs, rhs: rhs, out: out)
                      }, model: loadBuilt(b, "matmul"), interpreterInput: Array(UnsafeBufferPointer(start: a, count: heads * pixels)))
}

func kernelCases() -> [KernelCase] {
    [
        // The WRN for Fashion-MNIST: stem 16, groups 16/64/128 (strides 1/2/2), 28×28 input.
        convolutionCase("conv 3×3", cin: 1, cout: 16, size: 28, kernel: 3, stride: 1),
        convolutionCase("conv 3×3", cin: 16, cout: 16, size: 28, kernel: 3, stride: 1),
        convolutionCase("conv 3×3", cin: 16, cout: 64, size: 28, kernel: 3, stride: 2),
        convolutionCase("conv 3×3", cin: 64, cout: 64, size: 14, kernel: 3, stride: 1),
        convolutionCase("conv 3×3", cin: 64, cout: 128, size: 14, kernel: 3, stride: 2),
        convolutionCase("conv 3×3", cin: 128, cout: 128, size: 7, kernel: 3, stride: 1),
        // 1×1: attention score convs (K = 2 heads), a square pointwise, the strided shortcuts.
        convolutionCase("conv 1×1", cin: 16, cout: 2, size: 28, kernel: 1, stride: 1),
        convolutionCase("conv 1×1", cin: 64, cout: 2, size: 14, kernel: 1, stride: 1),
        convolutionCase("conv 1×1", cin: 128, cout: 2, size: 7, kernel: 1, stride: 1),
        convolutionCase("conv 1×1", cin: 64, cout: 64, size: 14, kernel: 1, stride: 1),
        convolutionCase("conv 1×1", cin: 16, cout: 64, size: 28, kernel: 1, stride: 2),
        convolutionCase("conv 1×1", cin: 64, cout: 128, size: 14, kernel: 1, stride: 2),
        // Exit heads (K·C → classes), a wider head, a square layer.
        fullyConnectedCase(inputs: 256, outputs: 10),
        fullyConnectedCase(inputs: 1024, outputs: 10),
        fullyConnectedCase(inputs: 128, outputs: 128),
        // Attention pooling at the three exits.
        matmulCase(heads: 2, pixels: 784, channels: 16),
        matmulCase(heads: 2, pixels: 196, channels: 64),
        matmulCase(heads: 2, pixels: 49, channels: 128),
    ]
}

func runKernels(_ options: Options) -> [KernelResult] {
    var results: [KernelResult] = []
    for kernel in kernelCases() {
        if let filter = options.filter, !(kernel.name + " " + kernel.shape).localizedCaseInsensitiveContains(filter) { continue }
        let direct = measure(options, kernel.direct)
        var interpreted: Timing?
        if let model = kernel.model {
            let interpreter = Interpreter(model: model)
            let input = kernel.interpreterInput
            interpreted = input.withUnsafeBufferPointer { pointer in
                measure(options) { _ = try? interpreter.run(pointer) }
            }
        }
        results.append(KernelResult(name: kernel.name, shape: kernel.shape, macs: kernel.macs, direct: direct, interpreter: interpreted))
        if !options.json {
            FileHandle.standardError.write(".".data(using: .utf8)!)
        }
    }
    if !options.json { FileHandle.standardError.write("\n".data(using: .utf8)!) }
    return results
}

// MARK: End to end

/// One policy's per-image measurements over the image set.
struct E2EConfiguration {
    var name: String
    var policy: ExitPolicy
    /// Per run: wall-clock and thread-CPU nanoseconds of `Interpreter.run`.
    var wall: [Double] = []
    var cpu: [Double] = []
    var runs = 0
    var correct = 0
    var totalMACs = 0
    var exitCounts: [Int]

    var accuracy: Double { Double(correct) / Double(max(runs, 1)) }
    var meanMACs: Double { Double(totalMACs) / Double(max(runs, 1)) }

    static func mean(_ values: [Double]) -> Double { values.reduce(0, +) / Double(max(values.count, 1)) }

    /// Nearest-rank quantile.
    static func quantile(_ values: [Double], _ q: Double) -> Double {
        guard !values.isEmpty else { return 0 }
        let sorted = values.sorted()
        return sorted[min(max(Int((q * Double(sorted.count)).rounded(.up)) - 1, 0), sorted.count - 1)]
    }
}

struct ModelResult {
    var label: String
    var path: String
    var weightTypes: String
    var macsFull: Int
    var images: Int
    var inputSource: String
    var configurations: [E2EConfiguration]
}

func weightTypes(_ model: Model) -> String {
    Set(model.tensors.filter(\.isConstant).map(\.dataType.name)).sorted().joined(separator: "+")
}

/// The bundled images when they fit the model, else seeded random inputs (labels 0).
func dataset(for model: Model, options: Options) -> (Dataset, String) {
    if FileManager.default.fileExists(atPath: options.images), FileManager.default.fileExists(atPath: options.labels),
       let data = try? ModelFiles.loadDataset(images: options.images, labels: options.labels, for: model, limit: options.limit) {
        return (data, options.images)
    }
    var generator = SeededGenerator(seed: 99)
    let count = min(options.limit, 200)
    let inputs = (0..<count).map { _ in generator.uniforms(model.input.elementCount, scale: 1) }
    return (Dataset(inputs: inputs, labels: [Int](repeating: 0, count: count)), "random inputs (accuracy meaningless)")
}

/// Runs every image with the stored policy and with the full network, alternating per image so
/// that machine noise hits both alike, and repeats the set until each configuration has run for
/// `min-time × samples` seconds. Times each run by wall clock and by this thread's CPU time.
func runModel(label: String, path: String, model: Model, options: Options) throws -> ModelResult {
    let (data, source) = dataset(for: model, options: options)
    let run = try runSideBySide([
        ("stored policy", model, model.defaultPolicy),
        ("full network", model, .fullNetwork(earlyExitCount: model.earlyExitCount)),
    ], data: data, options: options)
    return ModelResult(label: label, path: path, weightTypes: weightTypes(model), macsFull: model.totalMACs, images: data.count,
                       inputSource: source, configurations: run.results)
}

/// Runs each (name, model, policy) on every image, all configurations one after the other per
/// image; returns the measurements and, from the first pass over the images, every run's exit
/// index and class per configuration.
func runSideBySide(_ setups: [(String, Model, ExitPolicy)], data: Dataset, options: Options) throws
    -> (results: [E2EConfiguration], decisions: [[(exit: Int, label: Int)]]) {
    var configurations = setups.map { name, model, policy in
        E2EConfiguration(name: name, policy: policy, exitCounts: [Int](repeating: 0, count: model.exits.count))
    }
    let interpreters = try setups.map { _, model, policy -> Interpreter in
        let interpreter = Interpreter(model: model)
        try interpreter.setPolicy(policy)
        return interpreter
    }
    for round in 0..<min(50, data.count) {
        for interpreter in interpreters { _ = try interpreter.run(data.inputs[round]) }
    }
    var decisions = [[(exit: Int, label: Int)]](repeating: [], count: setups.count)
    let target = options.minTime * Double(options.samples) * 1e9
    var elapsed = 0.0
    var pass = 0
    repeat {
        for image in 0..<data.count {
            try data.inputs[image].withUnsafeBufferPointer { input in
                for (slot, interpreter) in interpreters.enumerated() {
                    let cpuStart = threadCPUTime()
                    let start = now()
                    let summary = try interpreter.run(input)
                    let end = now()
                    let cpuEnd = threadCPUTime()
                    configurations[slot].wall.append(Double(end - start))
                    configurations[slot].cpu.append(Double(cpuEnd - cpuStart))
                    configurations[slot].runs += 1
                    configurations[slot].correct += summary.classIndex == data.labels[image] ? 1 : 0
                    configurations[slot].totalMACs += summary.macs
                    configurations[slot].exitCounts[summary.exitIndex] += 1
                    if pass == 0 { decisions[slot].append((summary.exitIndex, summary.classIndex)) }
                }
            }
        }
        pass += 1
        elapsed = configurations.map { $0.wall.reduce(0, +) }.max() ?? 0
    } while elapsed < target && data.count > 0
    return (configurations, decisions)
}

/// float32 and int8 builds of one network (`X.eem` and `X-int8.eem`), timed side by side.
struct PairResult {
    var label: String
    var images: Int
    var inputSource: String
    /// float early, int8 early (both with the int8 model's stored thresholds), float full, int8 full,
    /// then, when the float32 model stores other thresholds, float early and int8 early with those.
    var configurations: [E2EConfiguration]
    var sameExit: Double                      // int8 early exit == float32's, the int8 model's thresholds
    var sameClass: Double                     // int8 early class == float32's, the int8 model's thresholds
    /// The same with the float32 model's stored thresholds, when they differ from the int8 model's.
    var sameExitFloatPolicy: Double?, sameClassFloatPolicy: Double?
    var floatWeightBytes: Int, int8WeightBytes: Int
    var floatArena: Int, int8Arena: Int
}

/// Every `X-int8.eem` in the models directory with its `X.eem`.
func runPairs(_ options: Options) -> [PairResult] {
    guard let names = try? FileManager.default.contentsOfDirectory(atPath: options.modelsDirectory) else { return [] }
    var results: [PairResult] = []
    for name in names.sorted() where name.hasSuffix("-int8.eem") {
        let floatName = String(name.dropLast("-int8.eem".count)) + ".eem"
        guard names.contains(floatName) else { continue }
        do {
            let floatModel = try ModelFiles.loadModel(options.modelsDirectory + "/" + floatName)
            let int8Model = try ModelFiles.loadModel(options.modelsDirectory + "/" + name)
            let (data, source) = dataset(for: floatModel, options: options)
            // Exit agreement compares the two precisions under one decision rule: the int8 model's
            // stored thresholds (tuned with `tune --agree-with`), applied to both.
            var setups: [(String, Model, ExitPolicy)] = [
                ("float32 early", floatModel, int8Model.defaultPolicy), ("int8 early", int8Model, int8Model.defaultPolicy),
                ("float32 full", floatModel, .fullNetwork(earlyExitCount: floatModel.earlyExitCount)),
                ("int8 full", int8Model, .fullNetwork(earlyExitCount: int8Model.earlyExitCount)),
            ]
            let otherPolicy = floatModel.defaultPolicy != int8Model.defaultPolicy
            if otherPolicy {
                setups += [("float32 early*", floatModel, floatModel.defaultPolicy), ("int8 early*", int8Model, floatModel.defaultPolicy)]
            }
            let run = try runSideBySide(setups, data: data, options: options)
            let n = Double(max(data.count, 1))
            func agreement(_ a: Int, _ b: Int) -> (exit: Double, label: Double) {
                let decided = zip(run.decisions[a], run.decisions[b])
                return (Double(decided.filter { $0.0.exit == $0.1.exit }.count) / n, Double(decided.filter { $0.0.label == $0.1.label }.count) / n)
            }
            let same = agreement(0, 1), sameFloatPolicy = otherPolicy ? agreement(4, 5) : nil
            results.append(PairResult(label: String(floatName.dropLast(4)), images: data.count, inputSource: source,
                                      configurations: run.results, sameExit: same.exit, sameClass: same.label,
                                      sameExitFloatPolicy: sameFloatPolicy?.exit, sameClassFloatPolicy: sameFloatPolicy?.label,
                                      floatWeightBytes: floatModel.weightBytes, int8WeightBytes: int8Model.weightBytes,
                                      floatArena: floatModel.plan.arenaBytes, int8Arena: int8Model.plan.arenaBytes))
        } catch {
            FileHandle.standardError.write("warning: skipping the pair \(name): \(error)\n".data(using: .utf8)!)
        }
    }
    return results
}

func runModels(_ options: Options) -> [ModelResult] {
    var paths = options.modelPaths
    if let names = try? FileManager.default.contentsOfDirectory(atPath: options.modelsDirectory) {
        paths += names.filter { $0.hasSuffix(".eem") }.sorted().map { options.modelsDirectory + "/" + $0 }
    }
    var results: [ModelResult] = []
    for path in paths {
        do {
            let model = try ModelFiles.loadModel(path)
            results.append(try runModel(label: URL(fileURLWithPath: path).lastPathComponent, path: path, model: model, options: options))
        } catch {
            FileHandle.standardError.write("warning: skipping \(path): \(error)\n".data(using: .utf8)!)
        }
    }
    if options.synthetic {
        // Always one model, so the section is never empty: the synthetic attention CNN at 28×28.
        do {
            let model = try Model(bytes: SyntheticModels.attentionNetwork(size: 28, width: 16).serialize())
            results.append(try runModel(label: "synthetic CNN 28×28 w16", path: "", model: model, options: options))
        } catch {
            FileHandle.standardError.write("warning: synthetic model: \(error)\n".data(using: .utf8)!)
        }
    }
    return results
}

// MARK: Output

func cpuModel() -> String {
    guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) else { return "unknown" }
    for line in text.split(separator: "\n") where line.hasPrefix("model name") {
        if let colon = line.firstIndex(of: ":") { return line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces) }
    }
    return "unknown"
}

func cpuFeatures() -> [String] {
    guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) else { return [] }
    for line in text.split(separator: "\n") where line.hasPrefix("flags") {
        let flags = Set(line.split(separator: " ").map(String.init))
        return ["sse4_2", "avx", "avx2", "fma", "avx512f", "avx512_fp16"].filter { flags.contains($0) }
    }
    return []
}

func fixed(_ value: Double, _ decimals: Int) -> String {
    String(format: "%.\(decimals)f", value)
}

func padded(_ text: String, _ width: Int, right: Bool = false) -> String {
    let count = text.count
    if count >= width { return text }
    let fill = String(repeating: " ", count: width - count)
    return right ? fill + text : text + fill
}

func gmacs(_ macs: Int, _ ns: Double) -> Double { Double(macs) / max(ns, 1e-9) }

func timingJSON(_ t: Timing, macs: Int) -> JSON {
    .object([("ns_median", .number(t.median)), ("ns_min", .number(t.minimum)), ("ns_max", .number(t.maximum)),
             ("cpu_ns_median", .number(t.medianCPU)), ("calls_per_batch", .int(t.callsPerBatch)),
             ("gmacs_per_s", .number(gmacs(macs, t.median))), ("gmacs_per_cpu_s", .number(gmacs(macs, t.medianCPU)))])
}

func report(_ options: Options, kernels: [KernelResult], models: [ModelResult]) -> JSON {
    JSON.object([
        ("build", .string(BuildInfo.description)),
        ("cpu", .string(cpuModel())),
        ("cpu_features", .array(cpuFeatures().map { .string($0) })),
        ("min_time_s", .number(options.minTime)),
        ("samples", .int(options.samples)),
        ("kernels", .array(kernels.map { k in
            .object([("name", .string(k.name)), ("shape", .string(k.shape)), ("macs", .int(k.macs)),
                     ("direct", timingJSON(k.direct, macs: k.macs)),
                     ("interpreter", k.interpreter.map { timingJSON($0, macs: k.macs) } ?? .null)])
        })),
        ("models", .array(models.map { m in
            .object([("name", .string(m.label)), ("path", .string(m.path)), ("weights", .string(m.weightTypes)),
                     ("macs_full", .int(m.macsFull)), ("images", .int(m.images)), ("input_source", .string(m.inputSource)),
                     ("configurations", .array(m.configurations.map { r in
                         .object([("name", .string(r.name)), ("policy", .string(r.policy.signal.name)),
                                  ("thresholds", .floats(r.policy.thresholds)), ("runs", .int(r.runs)),
                                  ("accuracy", .number(r.accuracy)), ("mean_macs", .number(r.meanMACs)),
                                  ("latency_ns_mean", .number(E2EConfiguration.mean(r.wall))),
                                  ("latency_ns_p50", .number(E2EConfiguration.quantile(r.wall, 0.5))),
                                  ("latency_ns_p90", .number(E2EConfiguration.quantile(r.wall, 0.9))),
                                  ("latency_ns_p99", .number(E2EConfiguration.quantile(r.wall, 0.99))),
                                  ("cpu_ns_mean", .number(E2EConfiguration.mean(r.cpu))),
                                  ("cpu_ns_p50", .number(E2EConfiguration.quantile(r.cpu, 0.5))),
                                  ("exit_share", .array(r.exitCounts.map { .number(Double($0) / Double(max(r.runs, 1))) }))])
                     }))])
        })),
    ])
}

func printTables(_ options: Options, kernels: [KernelResult], models: [ModelResult]) {
    if !kernels.isEmpty {
        print("kernels (median of \(options.samples) batches of ≥ \(options.minTime) s; GMAC/s = MACs / median wall time, cpu = MACs / median thread CPU time)")
        print("\(padded("kernel", 27)) \(padded("shape", 24)) \(padded("MACs", 9, right: true)) \(padded("direct µs", 11, right: true)) \(padded("GMAC/s", 7, right: true)) \(padded("cpu", 7, right: true)) \(padded("interp µs", 11, right: true)) \(padded("GMAC/s", 7, right: true)) \(padded("cpu", 7, right: true)) \(padded("overhead", 9, right: true))")
        for k in kernels {
            var line = "\(padded(k.name, 27)) \(padded(k.shape, 24)) \(padded("\(k.macs)", 9, right: true)) "
            line += "\(padded(fixed(k.direct.median / 1000, 2), 11, right: true)) \(padded(fixed(gmacs(k.macs, k.direct.median), 2), 7, right: true))"
            line += " \(padded(fixed(gmacs(k.macs, k.direct.medianCPU), 2), 7, right: true))"
            if let t = k.interpreter {
                line += " \(padded(fixed(t.median / 1000, 2), 11, right: true)) \(padded(fixed(gmacs(k.macs, t.median), 2), 7, right: true))"
                line += " \(padded(fixed(gmacs(k.macs, t.medianCPU), 2), 7, right: true))"
                line += " \(padded(fixed((t.medianCPU / k.direct.medianCPU - 1) * 100, 0) + "%", 9, right: true))"
            }
            print(line)
        }
        print("")
    }
    if !models.isEmpty {
        print("end to end (per image, one thread; stored policy vs full network on the same images, alternating; wall clock, and thread CPU time)")
        print("\(padded("model", 30)) \(padded("weights", 10)) \(padded("configuration", 14)) \(padded("mean µs", 9, right: true)) \(padded("p50 µs", 9, right: true)) \(padded("p90 µs", 9, right: true)) \(padded("cpu mean", 9, right: true)) \(padded("cpu p50", 9, right: true)) \(padded("mean MACs", 10, right: true)) \(padded("accuracy", 9, right: true))  exits taken")
        for m in models {
            for r in m.configurations {
                let exits = r.exitCounts.map { fixed(Double($0) * 100 / Double(max(r.runs, 1)), 0) + "%" }.joined(separator: "/")
                var line = "\(padded(m.label, 30)) \(padded(m.weightTypes, 10)) \(padded(r.name, 14))"
                for value in [E2EConfiguration.mean(r.wall), E2EConfiguration.quantile(r.wall, 0.5), E2EConfiguration.quantile(r.wall, 0.9),
                              E2EConfiguration.mean(r.cpu), E2EConfiguration.quantile(r.cpu, 0.5)] {
                    line += " \(padded(fixed(value / 1000, 1), 9, right: true))"
                }
                line += " \(padded(fixed(r.meanMACs, 0), 10, right: true)) \(padded(fixed(r.accuracy * 100, 2) + "%", 9, right: true))  \(exits)"
                print(line)
            }
            if m.configurations.count == 2 {
                let early = m.configurations[0], full = m.configurations[1]
                let wallRatio = E2EConfiguration.quantile(early.wall, 0.5) / max(E2EConfiguration.quantile(full.wall, 0.5), 1)
                let cpuRatio = E2EConfiguration.mean(early.cpu) / max(E2EConfiguration.mean(full.cpu), 1)
                print("\(padded("", 30)) early exit / full network: p50 \(fixed(wallRatio, 3))×, mean CPU \(fixed(cpuRatio, 3))×, MACs \(fixed(early.meanMACs / max(full.meanMACs, 1), 3))×; \(m.images) images from \(m.inputSource), \(early.runs) runs each")
            }
        }
    }
}

func printPairs(_ pairs: [PairResult]) {
    guard !pairs.isEmpty else { return }
    print("")
    print("int8 vs float32 (the same images; the configurations run one after the other per image; wall clock, and thread CPU time)")
    print("\(padded("model", 20)) \(padded("configuration", 14)) \(padded("mean µs", 9, right: true)) \(padded("p50 µs", 9, right: true)) \(padded("p90 µs", 9, right: true)) \(padded("cpu mean", 9, right: true)) \(padded("accuracy", 9, right: true)) \(padded("MACs saved", 10, right: true))  exits taken")
    for p in pairs {
        let fullMACs = max(p.configurations[2].meanMACs, 1)
        for r in p.configurations {
            let exits = r.exitCounts.map { fixed(Double($0) * 100 / Double(max(r.runs, 1)), 0) + "%" }.joined(separator: "/")
            var line = "\(padded(p.label, 20)) \(padded(r.name, 14))"
            for value in [E2EConfiguration.mean(r.wall), E2EConfiguration.quantile(r.wall, 0.5), E2EConfiguration.quantile(r.wall, 0.9),
                          E2EConfiguration.mean(r.cpu)] {
                line += " \(padded(fixed(value / 1000, 1), 9, right: true))"
            }
            print(line + " \(padded(fixed(r.accuracy * 100, 2) + "%", 9, right: true)) \(padded(fixed((1 - r.meanMACs / fullMACs) * 100, 1) + "%", 10, right: true))  \(exits)")
        }
        let c = p.configurations
        let full = E2EConfiguration.quantile(c[3].wall, 0.5) / max(E2EConfiguration.quantile(c[2].wall, 0.5), 1)
        let fullCPU = E2EConfiguration.mean(c[3].cpu) / max(E2EConfiguration.mean(c[2].cpu), 1)
        let early = E2EConfiguration.quantile(c[1].wall, 0.5) / max(E2EConfiguration.quantile(c[0].wall, 0.5), 1)
        let earlyCPU = E2EConfiguration.mean(c[1].cpu) / max(E2EConfiguration.mean(c[0].cpu), 1)
        print("\(padded("", 20)) int8 / float32: full network p50 \(fixed(full, 3))×, mean CPU \(fixed(fullCPU, 3))×; early exit p50 \(fixed(early, 3))×, mean CPU \(fixed(earlyCPU, 3))×")
        print("\(padded("", 20)) same exit as float32 \(fixed(p.sameExit * 100, 2))%, same class \(fixed(p.sameClass * 100, 2))% (the int8 model's stored thresholds for both; \(p.images) images from \(p.inputSource))")
        if let exit = p.sameExitFloatPolicy, let label = p.sameClassFloatPolicy {
            print("\(padded("", 20)) *with the float32 model's stored thresholds for both: same exit \(fixed(exit * 100, 2))%, same class \(fixed(label * 100, 2))%")
        }
        print("\(padded("", 20)) constants \(p.floatWeightBytes) → \(p.int8WeightBytes) B (\(fixed(Double(p.floatWeightBytes) / Double(max(p.int8WeightBytes, 1)), 2))× smaller); arena \(p.floatArena) → \(p.int8Arena) B")
    }
}

let options = parseOptions()
if !options.json {
    print("EarlyExitBenchmarks")
    print("build: \(BuildInfo.description)")
    print("CPU:   \(cpuModel()) (\(cpuFeatures().joined(separator: " ")))")
    print("")
}
var peakResults: [PeakResult] = []
var layerReports: [LayersReport] = []
if options.peak {
    peakResults = measurePeaks()
    if !options.json { printPeaks(peakResults) }
}
if options.peak && !options.layers {
    if options.json { print(layersJSON(peaks: peakResults, reports: []).text) }
    exit(0)
}
if options.layers {
    do {
        let paths = options.modelPaths.isEmpty
            ? ["fashion-attn-wrn.eem", "fashion-attn-wrn-int8.eem"].map { options.modelsDirectory + "/" + $0 } : options.modelPaths
        let sets = try options.kernelSets.isEmpty ? [KernelSet.detected] : options.kernelSets.map { try KernelSet.require($0) }
        for path in paths {
            let probe = try Model(bytes: [UInt8](Data(contentsOf: URL(fileURLWithPath: path))))
            var limited = options
            limited.limit = 64
            let inputs = dataset(for: probe, options: limited).0.inputs
            for set in sets {
                let report = try profileLayers(path: path, kernels: set, images: inputs, runs: options.runs)
                if options.json { layerReports.append(report) } else { printLayers(report) }
            }
        }
    } catch {
        FileHandle.standardError.write("error: \(error)\n".data(using: .utf8)!)
        exit(1)
    }
    if options.json { print(layersJSON(peaks: peakResults, reports: layerReports).text) }
    exit(0)
}
let kernelResults = options.kernels ? runKernels(options) : []
let modelResults = options.models && options.single ? runModels(options) : []
let pairResults = options.models ? runPairs(options) : []
var json = report(options, kernels: kernelResults, models: modelResults)
if case .object(var fields) = json {
    fields.append(("int8_vs_float32", .array(pairResults.map { p in
        let c = p.configurations
        func ratio(_ a: E2EConfiguration, _ b: E2EConfiguration, p50: Bool) -> Double {
            p50 ? E2EConfiguration.quantile(a.wall, 0.5) / max(E2EConfiguration.quantile(b.wall, 0.5), 1)
                : E2EConfiguration.mean(a.cpu) / max(E2EConfiguration.mean(b.cpu), 1)
        }
        return .object([("model", .string(p.label)), ("images", .int(p.images)),
                        ("configurations", .array(c.map { .string($0.name) })),
                        ("accuracy", .array(c.map { .number($0.accuracy) })),
                        ("latency_ns_p50", .array(c.map { .number(E2EConfiguration.quantile($0.wall, 0.5)) })),
                        ("cpu_ns_mean", .array(c.map { .number(E2EConfiguration.mean($0.cpu)) })),
                        ("full_p50_ratio", .number(ratio(c[3], c[2], p50: true))),
                        ("full_mean_cpu_ratio", .number(ratio(c[3], c[2], p50: false))),
                        ("early_p50_ratio", .number(ratio(c[1], c[0], p50: true))),
                        ("early_mean_cpu_ratio", .number(ratio(c[1], c[0], p50: false))),
                        ("same_exit", .number(p.sameExit)), ("same_class", .number(p.sameClass)),
                        ("same_exit_float_policy", p.sameExitFloatPolicy.map { .number($0) } ?? .null),
                        ("same_class_float_policy", p.sameClassFloatPolicy.map { .number($0) } ?? .null),
                        ("weight_bytes", .array([.int(p.floatWeightBytes), .int(p.int8WeightBytes)])),
                        ("arena_bytes", .array([.int(p.floatArena), .int(p.int8Arena)]))])
    })))
    json = .object(fields)
}

if options.json {
    print(json.text)
} else {
    printTables(options, kernels: kernelResults, models: modelResults)
    printPairs(pairResults)
}
if let path = options.jsonOut {
    do {
        try Data((json.text + "\n").utf8).write(to: URL(fileURLWithPath: path))
    } catch {
        FileHandle.standardError.write("error: cannot write '\(path)': \(error.localizedDescription)\n".data(using: .utf8)!)
        exit(1)
    }
}
