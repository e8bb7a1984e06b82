// Small attention-augmented CNNs with seeded random weights, for tests, demos and benchmarks.
import EarlyExit

/// A SplitMix64 generator: deterministic, seedable, good enough for test weights.
public struct SeededGenerator: RandomNumberGenerator {
    private var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15 // the SplitMix64 increment; wrapping is the algorithm
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A uniform float in [-scale, scale).
    public mutating func uniform(_ scale: Float) -> Float {
        Float(next() >> 40) / Float(1 << 24) * 2 * scale - scale
    }

    public mutating func uniforms(_ count: Int, scale: Float) -> [Float] {
        (0..<count).map { _ in uniform(scale) }
    }
}

/// Builders of synthetic attention networks in the seed paper's shape.
public enum SyntheticModels {
    /// Adds one attention module over `z` ([1, C, H, W]): K spatial-softmax masks from a 1×1
    /// conv, attention pooling `Σ_xy M_k(x,y) Z(c,x,y)`, then a logits head and a tanh gate.
    /// Returns (logits, gate); the gate's tanh is the last operator added.
    public static func addAttentionModule(_ b: inout ModelBuilder, _ z: Int, channels: Int, height: Int, width: Int,
                                          heads: Int, classes: Int, rng: inout SeededGenerator) -> (Int, Int) {
        let pixels = height * width
        let maskWeights = b.addConstant(rng.uniforms(heads * channels, scale: 1 / Float(channels).squareRoot()), shape: [heads, channels, 1, 1])
        let maskBias = b.addConstant(rng.uniforms(heads, scale: 0.1), shape: [heads])
        let scores = b.add(.conv2d, [z, maskWeights, maskBias], shape: [1, heads, height, width], attributes: [1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1])
        let flatScores = b.add(.reshape, [scores], shape: [1, heads, pixels])
        let masks = b.add(.softmax, [flatScores], shape: [1, heads, pixels], attributes: [2])
        let flatZ = b.add(.reshape, [z], shape: [1, channels, pixels])
        let zT = b.add(.transpose, [flatZ], shape: [1, pixels, channels], attributes: [0, 2, 1])
        let pooled = b.add(.matmul, [masks, zT], shape: [1, heads, channels])
        let features = b.add(.reshape, [pooled], shape: [1, heads * channels])
        let scale = 1 / Float(heads * channels).squareRoot()
        let outWeights = b.addConstant(rng.uniforms(classes * heads * channels, scale: 2 * scale), shape: [classes, heads * channels])
        let outBias = b.addConstant(rng.uniforms(classes, scale: 0.1), shape: [classes])
        let logits = b.add(.fullyConnected, [features, outWeights, outBias], shape: [1, classes])
        let gateWeights = b.addConstant(rng.uniforms(heads * channels, scale: 2 * scale), shape: [1, heads * channels])
        let gateBias = b.addConstant([rng.uniform(0.1)], shape: [1])
        let gateScore = b.add(.fullyConnected, [features, gateWeights, gateBias], shape: [1, 1])
        let gate = b.add(.tanh, [gateScore], shape: [1, 1])
        return (logits, gate)
    }

    static func conv(_ b: inout ModelBuilder, _ x: Int, cin: Int, cout: Int, size: Int, kernel: Int, stride: Int,
                     relu: Bool, rng: inout SeededGenerator) -> (Int, Int) {
        let pad = kernel / 2
        let out = (size + 2 * pad - kernel) / stride + 1
        let w = b.addConstant(rng.uniforms(cout * cin * kernel * kernel, scale: (6 / Float(cin * kernel * kernel)).squareRoot()),
                              shape: [cout, cin, kernel, kernel])
        let bias = b.addConstant(rng.uniforms(cout, scale: 0.1), shape: [cout])
        let y = b.add(.conv2d, [x, w, bias], shape: [1, cout, out, out],
                      attributes: [Int32(kernel), Int32(kernel), Int32(stride), Int32(stride), Int32(pad), Int32(pad), Int32(pad), Int32(pad), 1, 1, 1],
                      activation: relu ? .relu : .none)
        return (y, out)
    }

    /// A three-exit attention CNN: stem → exit 1 → residual block at half resolution → max
    /// pool → exit 2 → global average pool → final head. Every operator kind of the seed
    /// paper's networks appears (conv 3×3 and 1×1, batch norm, add, max pool, spatial softmax,
    /// transpose, matmul, fully connected, tanh, global average pool).
    public static func attentionNetwork(channels: Int = 1, size: Int = 16, width: Int = 8, heads: Int = 2,
                                        classes: Int = 10, seed: UInt64 = 7) -> ModelBuilder {
        var rng = SeededGenerator(seed: seed)
        var b = ModelBuilder()
        let x = b.addInput(shape: [1, channels, size, size])
        let (z1, s1) = conv(&b, x, cin: channels, cout: width, size: size, kernel: 3, stride: 1, relu: true, rng: &rng)
        let exit1 = addAttentionModule(&b, z1, channels: width, height: s1, width: s1, heads: heads, classes: classes, rng: &rng)
        b.addExit(logits: exit1.0, gate: exit1.1)

        let (y2, s2) = conv(&b, z1, cin: width, cout: 2 * width, size: s1, kernel: 3, stride: 2, relu: false, rng: &rng)
        let scale = b.addConstant(rng.uniforms(2 * width, scale: 0.5).map { 1 + $0 }, shape: [2 * width])
        let shift = b.addConstant(rng.uniforms(2 * width, scale: 0.2), shape: [2 * width])
        let z2 = b.add(.batchNorm, [y2, scale, shift], shape: [1, 2 * width, s2, s2], activation: .relu)
        let (y3, _) = conv(&b, z2, cin: 2 * width, cout: 2 * width, size: s2, kernel: 3, stride: 1, relu: false, rng: &rng)
        let sum = b.add(.add, [z2, y3], shape: [1, 2 * width, s2, s2], activation: .relu)
        let s3 = s2 / 2
        let pooled = b.add(.maxPool, [sum], shape: [1, 2 * width, s3, s3], attributes: [2, 2, 2, 2, 0, 0, 0, 0, 0])
        let exit2 = addAttentionModule(&b, pooled, channels: 2 * width, height: s3, width: s3, heads: heads, classes: classes, rng: &rng)
        b.addExit(logits: exit2.0, gate: exit2.1)

        let global = b.add(.globalAvgPool, [pooled], shape: [1, 2 * width])
        let w = b.addConstant(rng.uniforms(classes * 2 * width, scale: 0.5), shape: [classes, 2 * width])
        let bias = b.addConstant(rng.uniforms(classes, scale: 0.1), shape: [classes])
        let logits = b.add(.fullyConnected, [global, w, bias], shape: [1, classes])
        let gw = b.addConstant(rng.uniforms(2 * width, scale: 0.5), shape: [1, 2 * width])
        let gb = b.addConstant([0.1], shape: [1])
        let gateScore = b.add(.fullyConnected, [global, gw, gb], shape: [1, 1])
        let gate = b.add(.tanh, [gateScore], shape: [1, 1])
        b.addExit(logits: logits, gate: gate)
        b.thresholds = [Float](repeating: 0.5, count: 2)
        b.metadata = ModelMetadata(mean: [0.5], std: [0.25], classNames: (0..<classes).map { "class\($0)" }, name: "synthetic-attention-cnn")
        return b
    }
}
