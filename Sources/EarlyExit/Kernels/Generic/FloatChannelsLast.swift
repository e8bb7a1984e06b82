// Element-wise float32 kernels over channels-last maps, and the layout conversions.

/// `// x (P, C) · scale (C) + shift (C) -> y (P, C)`: batch normalization over channels-last pixels.
@inlinable
public func batchNormChannelsLast<A: FloatArithmetic>(_: A.Type, _ x: UnsafePointer<Float>, scale: UnsafePointer<Float>,
                                                       shift: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>,
                                                       channels: Int, pixels: Int, relu applyRelu: Bool) {
    typealias V = A.Vector
    let w = V.scalarCount
    var c = 0
    while c + w <= channels {
        let s: V = loadVector(scale + c), t: V = loadVector(shift + c)
        var input = x + c, output = y + c
        for _ in 0..<pixels {
            var v = A.multiplyAdd(loadVector(input), s, t)
            if applyRelu { v = A.relu(v) }
            store(v, output)
            input += channels
            output += channels
        }
        c += w
    }
    while c < channels {
        let s = scale[c], t = shift[c]
        for p in 0..<pixels {
            let v = x[p * channels + c] * s + t
            y[p * channels + c] = applyRelu ? max(v, 0) : v
        }
        c += 1
    }
}

/// `// a + b -> y` (or a·b), element by element over `count` values, optional ReLU.
@inlinable
public func elementwise<A: FloatArithmetic>(_: A.Type, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>,
                                            y: UnsafeMutablePointer<Float>, count: Int, multiply: Bool, relu applyRelu: Bool) {
    typealias V = A.Vector
    let w = V.scalarCount
    var i = 0
    while i + w <= count {
        let l: V = loadVector(a + i), r: V = loadVector(b + i)
        var v = multiply ? l * r : l + r
        if applyRelu { v = A.relu(v) }
        store(v, y + i)
        i += w
    }
    while i < count {
        let v = multiply ? a[i] * b[i] : a[i] + b[i]
        y[i] = applyRelu ? max(v, 0) : v
        i += 1
    }
}

/// `// max(x, 0) -> y` over `count` values.
@inlinable
public func reluVectors<A: FloatArithmetic>(_: A.Type, _ x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>, count: Int) {
    typealias V = A.Vector
    let w = V.scalarCount
    var i = 0
    while i + w <= count {
        store(A.relu(loadVector(x + i)), y + i)
        i += w
    }
    while i < count { y[i] = max(x[i], 0); i += 1 }
}

/// `// x (P, C) -> y (C)`: the mean over channels-last pixels.
@inlinable
public func globalAveragePoolChannelsLast<A: FloatArithmetic>(_: A.Type, _ x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>,
                                                               channels: Int, pixels: Int) {
    typealias V = A.Vector
    let w = V.scalarCount
    let scale = 1 / Float(pixels)
    var c = 0
    while c + w <= channels {
        var sum = V()
        var input = x + c
        for _ in 0..<pixels {
            sum += loadVector(input)
            input += channels
        }
        store(sum * scale, y + c)
        c += w
    }
    while c < channels {
        var sum: Float = 0
        for p in 0..<pixels { sum += x[p * channels + c] }
        y[c] = sum * scale
        c += 1
    }
}

/// `// x (C, P) -> y (P, C)`: NCHW to channels-last (and, with the roles swapped, back).
@inlinable
public func transposePlanes(_ x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>, rows: Int, columns: Int) {
    // Blocks of 8×8 keep both sides' cache lines in use.
    var r0 = 0
    while r0 < rows {
        let r1 = min(r0 + 8, rows)
        var c0 = 0
        while c0 < columns {
            let c1 = min(c0 + 8, columns)
            for r in r0..<r1 {
                for c in c0..<c1 { y[c * rows + r] = x[r * columns + c] }
            }
            c0 = c1
        }
        r0 = r1
    }
}
