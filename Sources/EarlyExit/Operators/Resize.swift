// resize: nearest-neighbour and bilinear resizing of [1, C, H, W] maps, float32 and int8.

/// How a resized coordinate maps back to the input (ONNX Resize's
/// coordinate_transformation_mode).
public enum ResizeCoordinates: Int32, Sendable {
    case halfPixel = 0, alignCorners = 1, asymmetric = 2, pytorchHalfPixel = 3
}

/// How nearest-neighbour resizing rounds an input coordinate (ONNX's nearest_mode).
public enum ResizeRounding: Int32, Sendable {
    case roundPreferFloor = 0, roundPreferCeil = 1, floor = 2, ceil = 3
}

/// A prepared spatial resize `[1, C, H, W] -> [1, C, Ho, Wo]`.
///
/// Attribute words: 0 the mode (0 nearest, 1 linear), 1 the coordinate transformation (0
/// half_pixel, 1 align_corners, 2 asymmetric, 3 pytorch_half_pixel), 2 the nearest rounding (0
/// round_prefer_floor, 1 round_prefer_ceil, 2 floor, 3 ceil; 0 for linear), 3–4 the height
/// and width scales as IEEE-754 bits (positive, finite: the scale the coordinate
/// transformation divides by; ONNX's `scales`, or output/input size when `sizes` were given).
/// Output extents 1…65,536. int8: input and output share scale and zero point; linear
/// interpolates with Q15 weights. MACs: 4 per output element for linear, 0 for nearest.
///
/// Coordinates follow ONNX (computed in float32 as onnxruntime does): half_pixel
/// `(o + ½)/scale − ½`, pytorch_half_pixel the same but 0 when the output extent is 1,
/// align_corners `o·(in − 1)/(out − 1)` (0 when out is 1), asymmetric `o/scale`. Linear clamps the
/// coordinate to `[0, in − 1]` and blends its two neighbours; nearest rounds it and clamps the index.
struct Resize {
    let input: Int, output: Int
    let channels: Int, height: Int, width: Int, heightOut: Int, widthOut: Int
    let linear: Bool
    let quantized: Bool
    let zeroPoint: Int32
    let rows: ResizeAxis, columns: ResizeAxis

    static func validate(_ v: inout OperatorValidation) throws(ModelError) {
        let a = v.attributes
        try v.arity(1...1)
        try v.attributesZero(from: 5)
        let x = try v.feature(v.op.inputs[0])
        let y = v.outputShape
        if y.rank != 4 || y[0] != 1 || y[1] != x[1] { throw v.fail("output tensor \(v.output) has shape \(y); [1, \(x[1]), Ho, Wo] is required") }
        if y[2] > 65_536 || y[3] > 65_536 { throw v.fail("output extents \(y[2])×\(y[3]) exceed 65536") }
        if a[0] != 0 && a[0] != 1 { throw v.fail("mode \(a[0]) is not 0 (nearest) or 1 (linear)") }
        if ResizeCoordinates(rawValue: a[1]) == nil { throw v.fail("coordinate transformation \(a[1]) is not 0…3") }
        if ResizeRounding(rawValue: a[2]) == nil || (a[0] == 1 && a[2] != 0) {
            throw v.fail("nearest rounding \(a[2]) is not 0…3 (0 for linear)")
        }
        for word in 3...4 {
            let scale = PiecewiseActivation.float(a[word])
            if !(scale > 0) || !scale.isFinite { throw v.fail("scale \(scale) (attribute \(word)) must be positive and finite") }
        }
        if v.quantized { try v.sameQuantization(v.op.inputs[0]) }
        v.op.macs = a[0] == 1 ? 4 * y.elementCount : 0
    }

    /// The input coordinate of output coordinate `o` along an axis (float32, as onnxruntime).
    static func sourceCoordinate(_ o: Int, scale: Float, extentIn: Int, extentOut: Int, _ mode: ResizeCoordinates) -> Float {
        let x = Float(o)
        switch mode {
        case .halfPixel: return (x + 0.5) / scale - 0.5
        case .pytorchHalfPixel: return extentOut > 1 ? (x + 0.5) / scale - 0.5 : 0
        case .alignCorners: return extentOut == 1 ? 0 : x * Float(extentIn - 1) / Float(extentOut - 1)
        case .asymmetric: return x / scale
        }
    }

    /// The source indices and weights of every output position along one axis.
    static func axis(_ p: PrepareContext, extentIn: Int, extentOut: Int, scale: Float, linear: Bool,
                     _ mode: ResizeCoordinates, _ rounding: ResizeRounding) -> ResizeAxis {
        let index0 = p.storage.allocate(Int32.self, count: extentOut), index1 = p.storage.allocate(Int32.self, count: extentOut)
        let weight = p.storage.allocate(Float.self, count: extentOut), fixed = p.storage.allocate(Int32.self, count: extentOut)
        for o in 0..<extentOut {
            let c = sourceCoordinate(o, scale: scale, extentIn: extentIn, extentOut: extentOut, mode)
            if linear {
                let clamped = min(max(c, 0), Float(extentIn - 1))
                let first = min(Int(clamped), extentIn - 1)
                let w = clamped - Float(first)
                index0[o] = Int32(first)
                index1[o] = Int32(min(first + 1, extentIn - 1))
                weight[o] = w
                fixed[o] = Int32((w * 32768).rounded())
            } else {
                var n: Float
                switch rounding {
                case .floor: n = c.rounded(.down)
                case .ceil: n = c.rounded(.up)
                case .roundPreferCeil: n = c.rounded(.toNearestOrAwayFromZero)
                case .roundPreferFloor: n = c == c.rounded(.down) + 0.5 ? c.rounded(.down) : c.rounded(.toNearestOrAwayFromZero)
                }
                n = min(max(n, 0), Float(extentIn - 1))
                index0[o] = Int32(n)
                index1[o] = Int32(n)
                weight[o] = 0
                fixed[o] = 0
            }
        }
        return ResizeAxis(index0: index0, index1: index1, weight: weight, fixedWeight: fixed)
    }

    static func prepare(_ p: PrepareContext, _ index: Int) -> Resize {
        let op = p.operators[index]
        let a = op.attributes
        let x = p.tensors[op.inputs[0]].shape, y = p.tensors[op.output].shape
        let linear = a[0] == 1
        let mode = ResizeCoordinates(rawValue: a[1]) ?? .halfPixel, rounding = ResizeRounding(rawValue: a[2]) ?? .roundPreferFloor
        let quantized = p.tensors[op.output].dataType == .int8
        return Resize(input: op.inputs[0], output: op.output, channels: x[1], height: x[2], width: x[3], heightOut: y[2], widthOut: y[3],
                      linear: linear, quantized: quantized, zeroPoint: quantized ? p.zeroPoint(op.output) : 0,
                      rows: axis(p, extentIn: x[2], extentOut: y[2], scale: PiecewiseActivation.float(a[3]), linear: linear, mode, rounding),
                      columns: axis(p, extentIn: x[3], extentOut: y[3], scale: PiecewiseActivation.float(a[4]), linear: linear, mode, rounding))
    }

    func evaluate(_ x: ExecutionContext) {
        if quantized {
            if linear {
                Int8Kernels.resizeLinear(x.int8s(input), zeroPoint: zeroPoint, y: x.int8s(output), channels: channels, height: height,
                                         width: width, rows: rows, heightOut: heightOut, columns: columns, widthOut: widthOut)
            } else {
                DataMovement.resizeNearest(x.int8s(input), y: x.int8s(output), channels: channels, height: height, width: width,
                                           rows: rows, heightOut: heightOut, columns: columns, widthOut: widthOut)
            }
        } else if linear {
            FloatKernels.resizeLinear(x.floats(input), y: x.floats(output), channels: channels, height: height, width: width,
                                      rows: rows, heightOut: heightOut, columns: columns, widthOut: widthOut)
        } else {
            DataMovement.resizeNearest(x.floats(input), y: x.floats(output), channels: channels, height: height, width: width,
                                       rows: rows, heightOut: heightOut, columns: columns, widthOut: widthOut)
        }
    }
}
