// Kernels that do not depend on the element type: expand, slice, pad, reductions and
// nearest-neighbour resize, over shapes of up to four axes (right-aligned, leading axes 1).

/// A shape right-aligned into four axes, with row-major element strides.
struct Axes4 {
    var dims: SIMD4<Int>
    var strides: SIMD4<Int>

    init(_ shape: TensorShape) {
        let pad = 4 - shape.rank
        dims = SIMD4(repeating: 1)
        for axis in 0..<shape.rank { dims[axis + pad] = shape[axis] }
        strides = SIMD4(dims[1] * dims[2] * dims[3], dims[2] * dims[3], dims[3], 1)
    }

    /// Strides with 0 on the axes where this shape is 1 (NumPy broadcasting).
    var broadcastStrides: SIMD4<Int> {
        var s = strides
        for axis in 0..<4 where dims[axis] == 1 { s[axis] = 0 }
        return s
    }
}

/// How `pad` fills the border (ONNX Pad's modes).
public enum PadMode: Int32, Sendable {
    case constant = 0, reflect = 1, edge = 2, wrap = 3
}

/// Which output positions a resize reads: for output row (or column) i, source indices
/// `index0[i]`, `index1[i]` and the weight of the second, in float (`weight`) and in Q15
/// (`fixedWeight`, the first's weight being 2^15 minus it). Nearest uses `index0` only.
public struct ResizeAxis {
    public let index0: UnsafePointer<Int32>
    public let index1: UnsafePointer<Int32>
    public let weight: UnsafePointer<Float>
    public let fixedWeight: UnsafePointer<Int32>
}

extension DataMovement {
    /// `// x -> y`: x broadcast (NumPy rules) to the output's shape.
    public static func expand<Element>(_ x: UnsafePointer<Element>, y: UnsafeMutablePointer<Element>, input: TensorShape, output: TensorShape) {
        let o = Axes4(output), s = Axes4(input).broadcastStrides
        var target = y
        for a0 in 0..<o.dims[0] {
            for a1 in 0..<o.dims[1] {
                for a2 in 0..<o.dims[2] {
                    let base = x + a0 * s[0] + a1 * s[1] + a2 * s[2]
                    if s[3] == 0 {
                        target.update(repeating: base.pointee, count: o.dims[3])
                    } else {
                        target.update(from: base, count: o.dims[3])
                    }
                    target += o.dims[3]
                }
            }
        }
    }

    /// `// x -> y`: along each axis, elements `start + i·step` for i in 0..<output extent
    /// (steps may be negative; everything was checked to lie inside the input at load).
    public static func slice<Element>(_ x: UnsafePointer<Element>, y: UnsafeMutablePointer<Element>, input: TensorShape,
                                      output: TensorShape, starts: SIMD4<Int>, steps: SIMD4<Int>) {
        let o = Axes4(output), s = Axes4(input).strides
        let origin = x + (starts &* s).wrappedSum()
        let step = steps &* s
        var target = y
        for a0 in 0..<o.dims[0] {
            for a1 in 0..<o.dims[1] {
                for a2 in 0..<o.dims[2] {
                    var source = origin + a0 * step[0] + a1 * step[1] + a2 * step[2]
                    if step[3] == 1 {
                        target.update(from: source, count: o.dims[3])
                        target += o.dims[3]
                    } else {
                        for _ in 0..<o.dims[3] {
                            target.pointee = source.pointee
                            target += 1
                            source += step[3]
                        }
                    }
                }
            }
        }
    }

    /// The input coordinate that output coordinate `o` reads along an axis of `extent` with
    /// `begin` elements of padding before it, or −1 for the constant.
    @inline(__always)
    static func padSource(_ o: Int, begin: Int, extent: Int, mode: PadMode) -> Int {
        let c = o - begin
        if c >= 0 && c < extent { return c }
        switch mode {
        case .constant: return -1
        case .edge: return c < 0 ? 0 : extent - 1
        case .wrap:
            let r = c % extent
            return r < 0 ? r + extent : r
        case .reflect:
            // Reflection without repeating the edge; the loader keeps padding below the extent.
            if extent == 1 { return 0 }
            let period = 2 * (extent - 1)
            var r = c % period
            if r < 0 { r += period }
            return r < extent ? r : period - r
        }
    }

    /// `// x -> y`: ONNX Pad (constant, reflect, edge or wrap) with `begins` elements before
    /// each axis; the output shape gives the rest.
    public static func pad<Element>(_ x: UnsafePointer<Element>, y: UnsafeMutablePointer<Element>, input: TensorShape,
                                    output: TensorShape, begins: SIMD4<Int>, mode: PadMode, value: Element) {
        let o = Axes4(output), i = Axes4(input)
        var target = y
        for a0 in 0..<o.dims[0] {
            let c0 = padSource(a0, begin: begins[0], extent: i.dims[0], mode: mode)
            for a1 in 0..<o.dims[1] {
                let c1 = padSource(a1, begin: begins[1], extent: i.dims[1], mode: mode)
                for a2 in 0..<o.dims[2] {
                    let c2 = padSource(a2, begin: begins[2], extent: i.dims[2], mode: mode)
                    if c0 < 0 || c1 < 0 || c2 < 0 {
                        target.update(repeating: value, count: o.dims[3])
                        target += o.dims[3]
                        continue
                    }
                    let row = x + c0 * i.strides[0] + c1 * i.strides[1] + c2 * i.strides[2]
                    for a3 in 0..<o.dims[3] {
                        let c3 = padSource(a3, begin: begins[3], extent: i.dims[3], mode: mode)
                        target.pointee = c3 < 0 ? value : row[c3]
                        target += 1
                    }
                }
            }
        }
    }

    /// `// x -> y`: reduces the axes flagged in `reduced` (right-aligned like the shape): for
    /// each output element, `finish(accumulate(…accumulate(initial, x₀)…, xₙ))` over the
    /// reduced elements in row-major order. The output's elements follow the kept axes in order.
    @inline(__always)
    static func reduce<Element, Accumulator>(_ x: UnsafePointer<Element>, y: UnsafeMutablePointer<Element>, input: TensorShape,
                                             reduced: SIMD4<Int>, initial: Accumulator,
                                             _ accumulate: (Accumulator, Element) -> Accumulator,
                                             _ finish: (Accumulator) -> Element) {
        let i = Axes4(input)
        var outer = i.dims, inner = SIMD4<Int>(repeating: 1)
        for axis in 0..<4 where reduced[axis] != 0 { outer[axis] = 1; inner[axis] = i.dims[axis] }
        let s = i.strides
        var target = y
        for a0 in 0..<outer[0] {
            for a1 in 0..<outer[1] {
                for a2 in 0..<outer[2] {
                    for a3 in 0..<outer[3] {
                        let base = x + a0 * s[0] + a1 * s[1] + a2 * s[2] + a3 * s[3]
                        var acc = initial
                        for b0 in 0..<inner[0] {
                            for b1 in 0..<inner[1] {
                                for b2 in 0..<inner[2] {
                                    let row = base + b0 * s[0] + b1 * s[1] + b2 * s[2]
                                    for b3 in 0..<inner[3] { acc = accumulate(acc, row[b3]) }
                                }
                            }
                        }
                        target.pointee = finish(acc)
                        target += 1
                    }
                }
            }
        }
    }

    /// `// x (C,H,W) -> y (C,Ho,Wo)`: nearest-neighbour resize from the prepared source rows
    /// and columns.
    public static func resizeNearest<Element>(_ x: UnsafePointer<Element>, y: UnsafeMutablePointer<Element>, channels: Int,
                                              height: Int, width: Int, rows: ResizeAxis, heightOut: Int,
                                              columns: ResizeAxis, widthOut: Int) {
        var target = y
        for c in 0..<channels {
            let plane = x + c * height * width
            for oy in 0..<heightOut {
                let row = plane + Int(rows.index0[oy]) * width
                for ox in 0..<widthOut { target[ox] = row[Int(columns.index0[ox])] }
                target += widthOut
            }
        }
    }
}

extension FloatKernels {
    /// `// x (C,H,W) -> y (C,Ho,Wo)`: bilinear resize from the prepared source rows, columns
    /// and weights: (1−wy)·((1−wx)·a + wx·b) + wy·((1−wx)·c + wx·d).
    public static func resizeLinear(_ x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>, channels: Int, height: Int,
                                    width: Int, rows: ResizeAxis, heightOut: Int, columns: ResizeAxis, widthOut: Int) {
        var target = y
        for c in 0..<channels {
            let plane = x + c * height * width
            for oy in 0..<heightOut {
                let top = plane + Int(rows.index0[oy]) * width, bottom = plane + Int(rows.index1[oy]) * width
                let wy = rows.weight[oy]
                for ox in 0..<widthOut {
                    let x0 = Int(columns.index0[ox]), x1 = Int(columns.index1[ox])
                    let wx = columns.weight[ox]
                    let upper = (1 - wx) * top[x0] + wx * top[x1]
                    let lower = (1 - wx) * bottom[x0] + wx * bottom[x1]
                    target[ox] = (1 - wy) * upper + wy * lower
                }
                target += widthOut
            }
        }
    }

    /// `// x -> y`: the sum over the flagged axes.
    public static func reduceSum(_ x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>, input: TensorShape, reduced: SIMD4<Int>) {
        DataMovement.reduce(x, y: y, input: input, reduced: reduced, initial: Float(0), { $0 + $1 }, { $0 })
    }

    /// `// x -> y`: the maximum over the flagged axes.
    public static func reduceMax(_ x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>, input: TensorShape, reduced: SIMD4<Int>) {
        DataMovement.reduce(x, y: y, input: input, reduced: reduced, initial: -Float.infinity, { max($0, $1) }, { $0 })
    }
}
