// The float32 convolution paths with one group: Winograd F(2×2, 3×3), implicit GEMM, and

import EarlyExitKernels
// pointwise; weights packed at load for the model's kernel set.

/// A float32 convolution prepared for the fast kernels: packed weights, padded bias, the
/// indirection table, and where its scratch sections lie.
///
/// Scratch, in order (each 64-byte aligned): the input converted to channels-last (only when
/// the input is stored in the standard layout), the GEMM's row pointers, the tile buffer of a
/// standard-layout output, and for Winograd the transformed inputs and the 16 products, or for
/// image-to-column (fewer than 4 input channels: per-tap rows would be too short to pay for
/// their pointers) the rows of every tap's inputs per output pixel, and with one input channel
/// and no dilation a zero-padded copy of the input plane the rows are copied from.
struct FloatConvolution {
    let path: ConvolutionPath
    let kernels: KernelSet.Float32Path
    let geometry: WindowGeometry
    let weights: UnsafePointer<Float>
    let bias: UnsafePointer<Float>?
    /// `[pixels][taps]` element offsets into the channels-last input, −1 for padding.
    let indirection: UnsafePointer<Int32>?
    let zeroRow: UnsafePointer<Float>
    let convertsInput: Bool
    /// Pointwise to fewer output channels than half a vector: dot products per pixel on the
    /// model's own weights (`raw`) instead of a mostly padded column block.
    let fewOutputs: Bool
    let rawWeights: UnsafePointer<Float>
    let rawBias: UnsafePointer<Float>?
    let inputChannelsLast: Bool
    let outputChannelsLast: Bool
    let paddedChannelsOut: Int
    let convertedOffset: Int, pointersOffset: Int, tileOffset: Int, transformedOffset: Int, productsOffset: Int
    /// Winograd's tiles per block (`winogradBlocked`).
    let blockTiles: Int
    /// The zero-padded input plane of a one-channel image-to-column
    /// (`geometry.singleChannelPlane`, and 4 more floats that a last 4-float load may read), or −1.
    let planeOffset: Int
    let scratchBytes: Int

    /// Winograd pays once both channel counts reach this.
    static let winogradMinimumChannels = 8

    static func prepare(_ p: PrepareContext, _ index: Int) -> FloatConvolution {
        let op = p.operators[index]
        let g = op.geometry
        let kernels = p.kernels.float32
        let taps = g.kernelHeight * g.kernelWidth
        let pixels = g.heightOut * g.widthOut
        let blocking = FloatKernelTable.blocking(columns: g.channelsOut, kernels)
        let padded = blocking.paddedColumns
        let w = p.constantFloats(op.inputs[1])
        let unit = g.strideHeight == 1 && g.strideWidth == 1 && g.dilationHeight == 1 && g.dilationWidth == 1
        let path: ConvolutionPath
        if taps == 9 && g.kernelHeight == 3 && unit && p.kernels.winograd
            && g.channelsIn >= winogradMinimumChannels && g.channelsOut >= winogradMinimumChannels {
            path = .winograd
        } else if taps == 1 && g.strideHeight == 1 && g.strideWidth == 1 && g.isUnpadded {
            path = .pointwise
        } else if g.channelsIn < 4 {
            path = .im2col
        } else {
            path = .implicitGEMM
        }
        // Packed weights.
        let packed: UnsafeMutablePointer<Float>
        if path == .winograd {
            let perPosition = FloatPacking.packedCount(depth: g.channelsIn, blocking: blocking)
            packed = p.storage.allocate(Float.self, count: 16 * perPosition)
            // U = G g Gᵀ for every (output, input) channel pair, in Double.
            var transformed = [Float](repeating: 0, count: 16 * g.channelsOut * g.channelsIn) // freed after packing
            for co in 0..<g.channelsOut {
                for ci in 0..<g.channelsIn {
                    let f = w + (co * g.channelsIn + ci) * 9
                    var gg = [Double](repeating: 0, count: 12) // G g: 4×3
                    for column in 0..<3 {
                        let a = Double(f[column]), b = Double(f[3 + column]), c = Double(f[6 + column])
                        gg[column] = a
                        gg[3 + column] = 0.5 * (a + b + c)
                        gg[6 + column] = 0.5 * (a - b + c)
                        gg[9 + column] = c
                    }
                    for row in 0..<4 {
                        let a = gg[row * 3], b = gg[row * 3 + 1], c = gg[row * 3 + 2]
                        let u = [a, 0.5 * (a + b + c), 0.5 * (a - b + c), c]
                        for column in 0..<4 {
                            transformed[((row * 4 + column) * g.channelsOut + co) * g.channelsIn + ci] = Float(u[column])
                        }
                    }
                }
            }
            transformed.withUnsafeBufferPointer { all in
                for position in 0..<16 {
                    let u = all.baseAddress! + position * g.channelsOut * g.channelsIn
                    FloatPacking.pack(depth: g.channelsIn, columns: g.channelsOut, blocking: blocking, into: packed + position * perPosition) { ci, co in
                        u[co * g.channelsIn + ci]
                    }
                }
            }
        } else {
            packed = p.storage.allocate(Float.self, count: FloatPacking.packedCount(depth: taps * g.channelsIn, blocking: blocking))
            FloatPacking.pack(depth: taps * g.channelsIn, columns: g.channelsOut, blocking: blocking, into: packed) { d, co in
                let tap = d / g.channelsIn, ci = d % g.channelsIn
                return w[((co * g.channelsIn + ci) * g.kernelHeight + tap / g.kernelWidth) * g.kernelWidth + tap % g.kernelWidth]
            }
        }
        var bias: UnsafePointer<Float>?
        if op.inputs.count == 3 {
            let values = p.constantFloats(op.inputs[2])
            let storage = p.storage.allocate(Float.self, count: padded)
            for c in 0..<padded { storage[c] = c < g.channelsOut ? values[c] : 0 }
            bias = UnsafePointer(storage)
        }
        // The indirection table of an implicit GEMM (element offsets into the channels-last
        // input), or for image-to-column the input pixel of every (output pixel, tap).
        var indirection: UnsafePointer<Int32>?
        if path == .implicitGEMM || path == .im2col {
            let table = p.storage.allocate(Int32.self, count: pixels * taps)
            var slot = 0
            for oy in 0..<g.heightOut {
                for ox in 0..<g.widthOut {
                    for ky in 0..<g.kernelHeight {
                        for kx in 0..<g.kernelWidth {
                            let iy = oy * g.strideHeight - g.padTop + ky * g.dilationHeight
                            let ix = ox * g.strideWidth - g.padLeft + kx * g.dilationWidth
                            let inside = iy >= 0 && iy < g.heightIn && ix >= 0 && ix < g.widthIn
                            let pixel = iy * g.widthIn + ix
                            table[slot] = inside ? Int32(path == .im2col ? pixel : pixel * g.channelsIn) : -1
                            slot += 1
                        }
                    }
                }
            }
            indirection = UnsafePointer(table)
        }
        // Scratch sections.
        let spatialIn = g.heightIn * g.widthIn
        let convertsInput = path != .im2col && p.layouts[op.inputs[0]] == .standard && g.channelsIn > 1 && spatialIn > 1
        let inputChannelsLast = p.layouts[op.inputs[0]] == .channelsLast
        let outputChannelsLast = p.layouts[op.output] == .channelsLast
        func aligned(_ bytes: Int) -> Int { (bytes + 63) / 64 * 64 }
        var offset = 0
        let convertedOffset = offset
        if convertsInput { offset += aligned(g.channelsIn * spatialIn * 4) }
        let pointersOffset = offset
        offset += aligned(FloatGEMMJob.pointerCount(taps: path == .implicitGEMM ? taps : 1) * MemoryLayout<UnsafePointer<Float>>.stride)
        let tileOffset = offset
        if !outputChannelsLast { offset += aligned(12 * padded * 4) }
        let transformedOffset = offset
        var productsOffset = offset
        var blockTiles = 0
        if path == .winograd {
            blockTiles = blocking.rowsPerTile
            offset += aligned(16 * blockTiles * g.channelsIn * 4)
            productsOffset = offset
            offset += aligned(16 * blockTiles * padded * 4)
        } else if path == .im2col {
            // 4 floats past the rows: the last pixel's last 4-float store writes one beyond.
            offset += aligned((pixels * taps * g.channelsIn + 4) * 4)
        }
        // One channel, no dilation: the rows are runs of `kernelWidth` values of the zero-padded
        // plane, so no per-value padding test is needed.
        var planeOffset = -1
        if path == .im2col, let plane = g.singleChannelPlane {
            planeOffset = offset
            offset += aligned((plane.width * plane.height + 4) * 4)
        }
        return FloatConvolution(path: path, kernels: kernels, geometry: g, weights: UnsafePointer(packed), bias: bias,
                                indirection: indirection, zeroRow: p.storage.zeros(g.channelsIn), convertsInput: convertsInput,
                                fewOutputs: path == .pointwise && 2 * g.channelsOut <= FloatKernelTable.vectorWidth(kernels),
                                rawWeights: w, rawBias: op.inputs.count == 3 ? p.constantFloats(op.inputs[2]) : nil,
                                inputChannelsLast: inputChannelsLast, outputChannelsLast: outputChannelsLast, paddedChannelsOut: padded, convertedOffset: convertedOffset,
                                pointersOffset: pointersOffset, tileOffset: tileOffset, transformedOffset: transformedOffset,
                                productsOffset: productsOffset, blockTiles: blockTiles, planeOffset: planeOffset,
                                scratchBytes: offset)
    }

    /// The image-to-column rows of a one-channel input without dilation: the plane copied into
    /// its zero-padded form, then each output pixel's taps as `kernelHeight` runs of
    /// `kernelWidth` values. Runs of 3 are copied as 4-float vectors whose fourth value is the
    /// next run's first (overwritten in order; the rows and the plane have room for the last).
    private func copyPlaneRows(_ source: UnsafePointer<Float>, rows: UnsafeMutablePointer<Float>, plane: UnsafeMutablePointer<Float>,
                               width: Int, height: Int) {
        let g = geometry
        let taps = g.kernelHeight &* g.kernelWidth
        plane.update(repeating: 0, count: width &* height &+ 4)
        for iy in 0..<g.heightIn {
            let py = iy &+ g.padTop
            if py >= height { break }
            let columns = min(g.widthIn, width &- g.padLeft)
            if columns <= 0 { break }
            (plane + (py &* width &+ g.padLeft)).update(from: source + iy &* g.widthIn, count: columns)
        }
        var destination = rows
        for oy in 0..<g.heightOut {
            let top = plane + oy &* g.strideHeight &* width
            for ox in 0..<g.widthOut {
                var run = UnsafePointer(top + ox &* g.strideWidth)
                if g.kernelWidth == 3 {
                    for ky in 0..<g.kernelHeight {
                        let values = UnsafeRawPointer(run).loadUnaligned(as: SIMD4<Float>.self)
                        UnsafeMutableRawPointer(destination + ky &* 3).storeBytes(of: values, as: SIMD4<Float>.self)
                        run += width
                    }
                } else {
                    for ky in 0..<g.kernelHeight {
                        for kx in 0..<g.kernelWidth { destination[ky &* g.kernelWidth &+ kx] = run[kx] }
                        run += width
                    }
                }
                destination += taps
            }
        }
    }

    /// True when the epilogue can add a residual: a channels-last output on the GEMM or
    /// Winograd paths.
    var canFuseResidual: Bool { outputChannelsLast && !fewOutputs }

    /// Multiply-accumulates the kernels execute (Winograd: its 16 products per tile and channel
    /// pair, instead of the nominal 36 per 2×2 outputs).
    var executedMACs: Int {
        let g = geometry
        if path == .winograd { return 16 * ((g.heightOut + 1) / 2) * ((g.widthOut + 1) / 2) * g.channelsIn * g.channelsOut }
        return g.heightOut * g.widthOut * g.kernelHeight * g.kernelWidth * g.channelsIn * g.channelsOut
    }

    /// Runs the convolution into `output`; with `residual` (a channels-last map of the output's
    /// shape), the epilogue adds it before the ReLU (a fused residual add).
    func evaluate(_ x: ExecutionContext, operator index: Int, input: Int, output: Int, relu: Bool, residual: Int = -1) {
        let g = geometry
        let scratch = x.scratch(index)
        var source = UnsafePointer(x.floats(input))
        if convertsInput {
            let converted = (scratch + convertedOffset).assumingMemoryBound(to: Float.self)
            transposePlanes(source, y: converted, rows: g.channelsIn, columns: g.heightIn * g.widthIn)
            source = UnsafePointer(converted)
        }
        let y = x.floats(output)
        let residualValues: UnsafePointer<Float>? = residual >= 0 ? UnsafePointer(x.floats(residual)) : nil
        let pointers = (scratch + pointersOffset).assumingMemoryBound(to: UnsafePointer<Float>.self)
        let pixels = g.heightOut * g.widthOut
        if fewOutputs {
            FloatKernelTable.pointwiseFewOutputs(kernels, source, weights: rawWeights, bias: rawBias, y: y, pixels: pixels,
                                                 channelsIn: g.channelsIn, channelsOut: g.channelsOut,
                                                 channelsLastOutput: outputChannelsLast, relu: relu)
            return
        }
        switch path {
        case .im2col:
            guard let indirection else { return }
            let taps = g.kernelHeight * g.kernelWidth, depth = taps * g.channelsIn, plane = g.heightIn * g.widthIn
            let rows = (scratch + transformedOffset).assumingMemoryBound(to: Float.self)
            // Element (pixel, c) of the input: channels last, or planes (the same for one channel).
            let cin = g.channelsIn
            let pixelStride = inputChannelsLast ? cin : 1, channelStride = inputChannelsLast ? 1 : plane
            var slot = 0, destination = rows
            if planeOffset >= 0, let plane = g.singleChannelPlane {
                copyPlaneRows(UnsafePointer(source), rows: rows, plane: (scratch + planeOffset).assumingMemoryBound(to: Float.self),
                              width: plane.width, height: plane.height)
                slot = pixels &* taps
            }
            while slot < pixels &* taps {
                let pixel = Int(indirection[slot])
                if pixel < 0 {
                    for c in 0..<cin { destination[c] = 0 }
                } else {
                    let from = source + pixel &* pixelStride
                    for c in 0..<cin { destination[c] = from[c &* channelStride] }
                }
                destination += cin
                slot &+= 1
            }
            let job = FloatGEMMJob(rows: pixels, taps: 1, k: depth, input: UnsafePointer(rows), inputStride: depth, indirection: nil,
                                   zeroRow: zeroRow, weights: weights, bias: bias, columns: g.channelsOut, output: y,
                                   outputStride: outputChannelsLast ? g.channelsOut : pixels, transposedOutput: !outputChannelsLast,
                                   residual: residualValues, residualStride: g.channelsOut, relu: relu, pointers: pointers,
                                   tileBuffer: (scratch + tileOffset).assumingMemoryBound(to: Float.self))
            FloatKernelTable.gemm(kernels, job)
        case .winograd:
            let job = WinogradJob(input: source, height: g.heightIn, width: g.widthIn, channelsIn: g.channelsIn, padTop: g.padTop,
                                  padLeft: g.padLeft, heightOut: g.heightOut, widthOut: g.widthOut, channelsOut: g.channelsOut,
                                  weights: weights, bias: bias, output: y, transposedOutput: !outputChannelsLast, residual: residualValues,
                                  relu: relu, transformed: (scratch + transformedOffset).assumingMemoryBound(to: Float.self),
                                  products: (scratch + productsOffset).assumingMemoryBound(to: Float.self), pointers: pointers,
                                  zeroRow: zeroRow, blockTiles: blockTiles)
            FloatKernelTable.winograd(kernels, job)
        default:
            let job = FloatGEMMJob(rows: pixels, taps: path == .implicitGEMM ? g.kernelHeight * g.kernelWidth : 1, k: g.channelsIn,
                                   input: source, inputStride: g.channelsIn, indirection: indirection, zeroRow: zeroRow,
                                   weights: weights, bias: bias, columns: g.channelsOut, output: y,
                                   outputStride: outputChannelsLast ? g.channelsOut : pixels, transposedOutput: !outputChannelsLast,
                                   residual: residualValues, residualStride: g.channelsOut, relu: relu, pointers: pointers,
                                   tileBuffer: (scratch + tileOffset).assumingMemoryBound(to: Float.self))
            FloatKernelTable.gemm(kernels, job)
        }
    }
}
