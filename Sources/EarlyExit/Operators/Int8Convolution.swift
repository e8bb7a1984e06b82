// The int8 convolution paths with one group on the native kernels: an implicit GEMM (or a
// pointwise GEMM) over a channels-last copy of the input, with VNNI or AVX2 tile kernels.

import EarlyExitKernels
import EarlyExitNativeKernels

/// An int8 convolution prepared for the native tile kernels (`Kernels/Native`).
///
/// Arithmetic: the reference computes `Σ (x − zp)·w + bias` in wrapping int32 and requantizes.
/// The VNNI kernels multiply unsigned bytes, so the input is copied as `u = x XOR 0x80 = x + 128`
/// and the bias folded as `bias − (zp + 128)·Σw`; the AVX2 kernel multiplies the input widened to
/// int16, with `bias − zp·Σw`. Both give the reference's accumulator modulo 2^32, so the
/// requantized outputs are identical bit for bit (the tests compare every path).
///
/// Scratch: the converted input `[pixels][k]` (u8 or int16, `k` = input channels rounded up to
/// the kernel's 4 or 2; the padding channels meet zero weights). With fewer input channels than
/// that group (a first layer on a one-channel image), the copy is image-to-column instead: one
/// row of every tap's inputs per output pixel, and the GEMM runs with one tap.
struct Int8Convolution {
    let kernels: KernelSet.Int8Path
    /// The converted input: 0 u8 (x + 128), 1 int16, 2 int8 (`Int8KernelTable.inputForm`).
    let inputForm: Int
    let geometry: WindowGeometry
    let path: ConvolutionPath
    let blocking: ColumnBlocking
    /// Values per input row (input channels rounded up) and their byte size (1 or 2).
    let rowLength: Int
    let elementBytes: Int
    let weights: UnsafePointer<Int8>
    let bias: UnsafePointer<Int32>
    let multipliers: UnsafePointer<Int32>, leftShifts: UnsafePointer<Int32>, rightShifts: UnsafePointer<Int32>,
        shifts: UnsafePointer<Int32>
    let outputZeroPoint: Int32, minimum: Int32, maximum: Int32
    let singleRounding: Bool
    /// `[pixels][taps]` element offsets into the converted input, −1 for padding; for the
    /// image-to-column path, the input pixel index of every (output pixel, tap), −1 for padding.
    let indirection: UnsafePointer<Int32>?
    /// Taps the GEMM runs (1 for the pointwise and image-to-column paths).
    let gemmTaps: Int
    let inputZeroPoint: Int8
    /// One row of the padding value in the converted form.
    let zeroRow: UnsafeRawPointer
    let inputChannelsLast: Bool
    let outputChannelsLast: Bool
    /// One channel, no dilation, byte rows: the zero-point-padded plane the image-to-column rows
    /// are copied from (`ee_qs8_im2col_plane_u8`, `geometry.singleChannelPlane`), at this
    /// scratch offset; −1 otherwise.
    let planeOffset: Int
    /// AVX-512 VNNI with at most 16 output channels: the pixel-lanes kernel instead of the tiles.
    let pixelLanes: PixelLanes?
    let scratchBytes: Int

    /// The pixel-lanes form (`ee_qs8_pixel_conv`): lanes are 16 output pixels, one accumulator per
    /// output channel, the input copied to planes of 4 channels (u8) with the padding included,
    /// so that each tap of 16 consecutive output pixels is one unaligned load. It pays where the
    /// tiles have a single column vector (one broadcast input per vpdpbusd): 16 → 16 at 28×28
    /// 9.4 → 6.6 µs, 16 → 2 pointwise 4.2 → 0.9 µs (fastest of 4000 runs, conversion included).
    struct PixelLanes {
        /// `[tap][k/4][slots]` 4-byte weight groups, slots = output channels rounded up to 2, 4, 8, 16.
        let weights: UnsafePointer<Int32>
        /// One input channel (a grayscale stem): the planes hold 4 taps per pixel
        /// (`ee_qs8_tap_planes_u8_avx512`) and the kernel runs them as a 1×1 convolution.
        let tapPlanes: Bool
        let kernelHeight: Int, kernelWidth: Int
        let groups: Int, planeHeight: Int, planeWidth: Int, planePixels: Int
        /// The input as the planes see it (one row of all pixels for an unpadded 1×1 convolution).
        let height: Int, width: Int, padTop: Int, padLeft: Int
        let outHeight: Int, outWidth: Int

        /// Whether the pixel-lanes kernel takes this convolution: AVX-512 VNNI, one group, stride and
        /// dilation 1, at least 4 input and at most 16 output channels (exactly 16 when the output is
        /// channels-last), and, with more than 8 outputs, runs of output pixels that fill at least
        /// 3/4 of their vectors (a 9-wide map leaves 7 of 16 lanes idle and runs slower).
        static func applies(_ g: WindowGeometry, kernels: KernelSet.Int8Path, inputChannelsLast: Bool,
                            outputChannelsLast: Bool) -> Bool {
            guard kernels == .avx512VNNI, g.groups == 1, g.strideHeight == 1, g.strideWidth == 1,
                  g.dilationHeight == 1, g.dilationWidth == 1, g.channelsOut <= 16, g.channelsIn >= 4 else { return false }
            // The vector input copy takes channels-last maps of whole 16-channel blocks; NCHW
            // inputs are copied value by value (as the tiles' copy does).
            if inputChannelsLast && g.channelsIn % 16 != 0 { return false }
            if outputChannelsLast && g.channelsOut != 16 { return false }
            let flat = g.kernelHeight == 1 && g.kernelWidth == 1 && g.isUnpadded
            let run = flat ? g.heightOut * g.widthOut : g.widthOut
            return g.channelsOut <= 8 || run * 4 >= (run + 15) / 16 * 16 * 3
        }

        /// One input channel, stride and dilation 1, at most 16 taps: the tap planes (the bundled
        /// stem, 1 → 16 3×3 at 28×28: 9.5 → 2.x µs).
        static func appliesToOneChannel(_ g: WindowGeometry, kernels: KernelSet.Int8Path, outputChannelsLast: Bool) -> Bool {
            guard kernels == .avx512VNNI, g.groups == 1, g.channelsIn == 1, g.strideHeight == 1, g.strideWidth == 1,
                  g.dilationHeight == 1, g.dilationWidth == 1, g.kernelHeight * g.kernelWidth <= 16, g.singleChannelPlane != nil,
                  g.channelsOut <= 16, !outputChannelsLast || g.channelsOut == 16 else { return false }
            let run = g.heightOut * g.widthOut
            return g.channelsOut <= 8 || run * 4 >= (run + 15) / 16 * 16 * 3
        }
    }

    /// True when the kernel set has native int8 convolution kernels.
    static func supported(_ kernels: KernelSet) -> Bool { Int8KernelTable.hasNativeKernels(kernels.int8) }

    static func prepare(_ p: PrepareContext, _ index: Int) throws(ModelError) -> Int8Convolution {
        let op = p.operators[index]
        let g = op.geometry
        let kernels = p.kernels.int8
        let (form, group, rowMultiple) = Int8KernelTable.inputForm(kernels)
        let vnni = form != 1 // byte rows and byte weights (VNNI u8, sdot s8); else int16
        let (lanes, registers) = Int8KernelTable.tileShape(kernels)
        let blocking = ColumnBlocking(columns: g.channelsOut, vectorWidth: lanes, registerCount: registers)
        let taps = g.kernelHeight * g.kernelWidth
        let unitStride = g.strideHeight == 1 && g.strideWidth == 1
        let path: ConvolutionPath = taps == 1 && unitStride && g.isUnpadded ? .pointwise
            : g.channelsIn < group ? .im2col : .implicitGEMM
        // The depth of one GEMM row: every tap's channels (image-to-column) or one tap's.
        let depth = path == .im2col ? taps * g.channelsIn : g.channelsIn
        let gemmTaps = path == .implicitGEMM ? taps : 1
        let rowLength = (depth + rowMultiple - 1) / rowMultiple * rowMultiple
        let padded = blocking.paddedColumns
        let w = p.constantInt8(op.inputs[1])
        let inputZeroPoint = Int64(p.zeroPoint(op.inputs[0]))
        // The reference's folded bias must fit int32 (the same load check on every kernel set).
        _ = try p.foldedBias(index, channels: g.channelsOut)
        try p.checkChannelRequantization(index, channels: g.channelsOut)
        /// The weight of output channel `co` at GEMM row position `k` of GEMM tap `tap`.
        func weight(_ co: Int, _ k: Int, _ tap: Int) -> Int8 {
            guard co < g.channelsOut && k < depth else { return 0 }
            let (ci, t) = path == .im2col ? (k % g.channelsIn, k / g.channelsIn) : (k, tap)
            return w[(co * g.channelsIn + ci) * taps + t]
        }
        // Packed weights: for each column block, [tap][k/group][vectors·lanes][group].
        let inputChannelsLast = p.layouts[op.inputs[0]] == .channelsLast
        let outputChannelsLast = p.layouts[op.output] == .channelsLast
        let tapPlanes = PixelLanes.appliesToOneChannel(g, kernels: kernels, outputChannelsLast: outputChannelsLast)
        let usePixelLanes = tapPlanes || PixelLanes.applies(g, kernels: kernels, inputChannelsLast: inputChannelsLast,
                                                            outputChannelsLast: outputChannelsLast)
        let groups = usePixelLanes ? 0 : rowLength / group // (no tile weights for the pixel-lanes form)
        let packedBytes = gemmTaps * groups * padded * group * (vnni ? 1 : 2)
        let packed = p.storage.allocate(Int8.self, count: packedBytes)
        var cursor = 0
        var start = 0
        while start * lanes < padded {
            let vectors = blocking.vectors(at: start)
            for tap in 0..<gemmTaps {
                for kg in 0..<groups {
                    for lane in 0..<(vectors * lanes) {
                        let co = start * lanes + lane
                        for e in 0..<group {
                            let value = weight(co, kg * group + e, tap)
                            if vnni {
                                packed[cursor] = value
                                cursor += 1
                            } else {
                                let wide = Int16(value)
                                packed[cursor] = Int8(truncatingIfNeeded: wide)
                                packed[cursor + 1] = Int8(truncatingIfNeeded: wide >> 8)
                                cursor += 2
                            }
                        }
                    }
                }
            }
            start += vectors
        }
        // Folded bias and requantization arrays, padded to the packed width.
        let bias = p.storage.allocate(Int32.self, count: padded)
        let multipliers = p.storage.allocate(Int32.self, count: padded)
        let leftShifts = p.storage.allocate(Int32.self, count: padded)
        let rightShifts = p.storage.allocate(Int32.self, count: padded)
        let shifts = p.storage.allocate(Int32.self, count: padded)
        let rawBias = p.constantInt32(op.inputs[2]), rawMultipliers = p.constantInt32(op.inputs[3]), rawShifts = p.constantInt32(op.inputs[4])
        let offset = form == 0 ? inputZeroPoint + 128 : inputZeroPoint
        for c in 0..<padded {
            guard c < g.channelsOut else {
                bias[c] = 0; multipliers[c] = 0; leftShifts[c] = 0; rightShifts[c] = 0; shifts[c] = 0
                continue
            }
            var sum: Int64 = 0
            for k in 0..<(taps * g.channelsIn) { sum += Int64(w[c * taps * g.channelsIn + k]) }
            // Modulo 2^32, as the reference's wrapping accumulator.
            bias[c] = Int32(truncatingIfNeeded: Int64(rawBias[c]) &- offset &* sum)
            multipliers[c] = rawMultipliers[c]
            shifts[c] = rawShifts[c]
            leftShifts[c] = min(max(rawShifts[c], 0), 31)
            rightShifts[c] = -min(max(rawShifts[c], -31), 0)
        }
        var pixelLanes: PixelLanes?
        if usePixelLanes {
            let slots = g.channelsOut > 8 ? 16 : g.channelsOut > 4 ? 8 : g.channelsOut > 2 ? 4 : 2
            // The kernel's taps and 4-byte groups: tap planes are one tap of ⌈taps / 4⌉ groups.
            let laneTaps = tapPlanes ? 1 : taps
            let groups = tapPlanes ? (taps + 3) / 4 : (g.channelsIn + 3) / 4
            let table = p.storage.allocate(Int32.self, count: laneTaps * groups * slots)
            for tap in 0..<laneTaps {
                for kg in 0..<groups {
                    for c in 0..<slots {
                        var word: UInt32 = 0
                        for e in 0..<4 {
                            var value: Int8 = 0
                            if tapPlanes {
                                if c < g.channelsOut && kg * 4 + e < taps { value = w[c * taps + kg * 4 + e] }
                            } else {
                                let ci = kg * 4 + e
                                if c < g.channelsOut && ci < g.channelsIn { value = w[(c * g.channelsIn + ci) * taps + tap] }
                            }
                            word |= UInt32(UInt8(bitPattern: value)) << UInt32(8 * e)
                        }
                        table[(tap * groups + kg) * slots + c] = Int32(bitPattern: word)
                    }
                }
            }
            let flat = tapPlanes || (taps == 1 && g.isUnpadded)
            let (height, width) = flat ? (1, g.heightIn * g.widthIn) : (g.heightIn, g.widthIn)
            let (outHeight, outWidth) = flat ? (1, g.heightOut * g.widthOut) : (g.heightOut, g.widthOut)
            let (kernelHeight, kernelWidth) = tapPlanes ? (1, 1) : (g.kernelHeight, g.kernelWidth)
            let planeHeight = outHeight + kernelHeight - 1, planeWidth = outWidth + kernelWidth - 1
            // 16 pixels of slack: the last vector of the last row reads up to 15 pixels past it.
            let planePixels = (planeHeight * planeWidth + 16 + 15) / 16 * 16
            pixelLanes = PixelLanes(weights: UnsafePointer(table), tapPlanes: tapPlanes, kernelHeight: kernelHeight,
                                    kernelWidth: kernelWidth, groups: groups, planeHeight: planeHeight, planeWidth: planeWidth,
                                    planePixels: planePixels, height: height, width: width, padTop: flat ? 0 : g.padTop,
                                    padLeft: flat ? 0 : g.padLeft, outHeight: outHeight, outWidth: outWidth)
        }
        // The indirection table (offsets into the converted rows, or input pixel indices).
        var indirection: UnsafePointer<Int32>?
        if path != .pointwise && pixelLanes == nil {
            let table = p.storage.allocate(Int32.self, count: g.heightOut * g.widthOut * taps)
            var slot = 0
            for oy in 0..<g.heightOut {
                for ox in 0..<g.widthOut {
                    for ky in 0..<g.kernelHeight {
                        for kx in 0..<g.kernelWidth {
                            let iy = oy * g.strideHeight - g.padTop + ky * g.dilationHeight
                            let ix = ox * g.strideWidth - g.padLeft + kx * g.dilationWidth
                            let inside = iy >= 0 && iy < g.heightIn && ix >= 0 && ix < g.widthIn
                            let pixel = iy * g.widthIn + ix
                            table[slot] = inside ? Int32(path == .im2col ? pixel : pixel * rowLength) : -1
                            slot += 1
                        }
                    }
                }
            }
            indirection = UnsafePointer(table)
        }
        // The padding row: the input zero point (the real 0) in the converted form.
        let zero = p.storage.allocate(Int16.self, count: rowLength)
        let zeroBytes = UnsafeMutableRawPointer(zero)
        for i in 0..<rowLength {
            if form == 0 {
                zeroBytes.storeBytes(of: UInt8(truncatingIfNeeded: inputZeroPoint + 128), toByteOffset: i, as: UInt8.self)
            } else if form == 2 {
                zeroBytes.storeBytes(of: UInt8(truncatingIfNeeded: inputZeroPoint), toByteOffset: i, as: UInt8.self)
            } else {
                zero[i] = Int16(inputZeroPoint)
            }
        }
        let elementBytes = vnni ? 1 : 2
        let pixelsIn = g.heightIn * g.widthIn
        let convertedRows = path == .im2col ? g.heightOut * g.widthOut : pixelsIn
        // 4 bytes of room past the rows: the plane copy writes runs of 3 as 4 bytes.
        let convertedBytes = (convertedRows * rowLength * elementBytes + 4 + 63) / 64 * 64
        var planeOffset = -1, planeBytes = 0
        if path == .im2col && vnni, let plane = g.singleChannelPlane {
            planeOffset = convertedBytes
            planeBytes = (plane.width * plane.height + 4 + 63) / 64 * 64
        }
        let zp = p.zeroPoint(op.output)
        // The pixel-lanes planes, then (tap planes) the zero-point-padded input plane.
        let scratchBytes = pixelLanes.map { $0.groups * $0.planePixels * 4 + ($0.tapPlanes ? planeBytes : 0) }
            ?? convertedBytes + planeBytes
        return Int8Convolution(kernels: kernels, inputForm: form, geometry: g, path: path, blocking: blocking, rowLength: rowLength,
                               elementBytes: elementBytes, weights: UnsafePointer(packed), bias: UnsafePointer(bias),
                               multipliers: UnsafePointer(multipliers), leftShifts: UnsafePointer(leftShifts),
                               rightShifts: UnsafePointer(rightShifts), shifts: UnsafePointer(shifts), outputZeroPoint: zp,
                               minimum: op.activation == .relu ? max(-128, zp) : -128, maximum: 127,
                               singleRounding: op.attributes[11] == 1, indirection: indirection, gemmTaps: gemmTaps,
                               inputZeroPoint: Int8(truncatingIfNeeded: inputZeroPoint), zeroRow: UnsafeRawPointer(zero),
                               inputChannelsLast: inputChannelsLast, outputChannelsLast: outputChannelsLast,
                               planeOffset: planeOffset, pixelLanes: pixelLanes, scratchBytes: scratchBytes)
    }

    func evaluate(_ x: ExecutionContext, operator index: Int, input: Int, output: Int) {
        let g = geometry
        let scratch = x.scratch(index)
        let source = x.int8s(input)
        let pixelsIn = g.heightIn * g.widthIn
        let pixels = g.heightOut * g.widthOut
        let channelsLast: Int32 = inputChannelsLast ? 1 : 0
        if let lanes = pixelLanes {
            let planes = scratch.assumingMemoryBound(to: UInt8.self)
            // The plane copies are x86 C functions; the pixel-lanes form is chosen on AVX-512 VNNI only.
            #if arch(x86_64)
            if lanes.tapPlanes, let plane = g.singleChannelPlane {
                var geometry = ee_qs8_plane_geometry(height: g.heightIn, width: g.widthIn, pad_top: g.padTop, pad_left: g.padLeft,
                                                     stride_height: 1, stride_width: 1, kernel_height: g.kernelHeight,
                                                     kernel_width: g.kernelWidth, out_height: g.heightOut, out_width: g.widthOut,
                                                     plane_height: plane.height, plane_width: plane.width)
                let padded = (scratch + lanes.groups * lanes.planePixels * 4).assumingMemoryBound(to: UInt8.self)
                ee_qs8_tap_planes_u8_avx512(source, &geometry, inputZeroPoint, lanes.planePixels, padded, planes)
            } else {
                ee_qs8_convert_planes_u8_avx512(source, lanes.height, lanes.width, g.channelsIn, channelsLast, lanes.padTop,
                                                lanes.padLeft, lanes.planeHeight, lanes.planeWidth, lanes.planePixels, inputZeroPoint,
                                                planes)
            }
            #endif
            var conv = ee_qs8_pixel_conv()
            conv.planes = UnsafePointer(planes)
            conv.groups = lanes.groups
            conv.plane_pixels = lanes.planePixels
            conv.plane_width = lanes.planeWidth
            conv.kernel_height = lanes.kernelHeight
            conv.kernel_width = lanes.kernelWidth
            conv.out_height = lanes.outHeight
            conv.out_width = lanes.outWidth
            conv.weights = lanes.weights
            conv.channels = g.channelsOut
            conv.bias = bias
            conv.requantization = ee_requantization(multipliers: multipliers, left_shifts: leftShifts, right_shifts: rightShifts,
                                                    shifts: shifts, output_zero_point: outputZeroPoint, minimum: minimum,
                                                    maximum: maximum, single_rounding: singleRounding ? 1 : 0)
            conv.output = x.int8s(output)
            conv.channels_last = outputChannelsLast ? 1 : 0
            Int8KernelTable.pixelConvolution(kernels, &conv)
            return
        }
        // The converted input: u8 (x + 128) or int16 rows of `rowLength`, channels-last, or
        // image-to-column rows.
        if path == .im2col, let indirection, elementBytes == 1 {
            // u8 image-to-column rows: from the zero-point-padded plane (one channel, no
            // dilation) or through the table; the plain int8 form shifts them back by 128.
            let rows = scratch.assumingMemoryBound(to: UInt8.self)
            if planeOffset >= 0, let plane = g.singleChannelPlane {
                var geometry = ee_qs8_plane_geometry(height: g.heightIn, width: g.widthIn, pad_top: g.padTop, pad_left: g.padLeft,
                                                     stride_height: g.strideHeight, stride_width: g.strideWidth,
                                                     kernel_height: g.kernelHeight, kernel_width: g.kernelWidth,
                                                     out_height: g.heightOut, out_width: g.widthOut,
                                                     plane_height: plane.height, plane_width: plane.width)
                ee_qs8_im2col_plane_u8(source, &geometry, inputZeroPoint, rowLength, (scratch + planeOffset).assumingMemoryBound(to: UInt8.self), rows)
            } else {
                ee_qs8_im2col_u8(source, indirection, pixels, g.kernelHeight * g.kernelWidth, g.channelsIn, pixelsIn, channelsLast,
                                 inputZeroPoint, rowLength, rows)
            }
            if inputForm == 2 { for i in 0..<(pixels * rowLength) { rows[i] ^= 0x80 } }
        } else if path == .im2col, let indirection {
            ee_qs8_im2col_i16(source, indirection, pixels, g.kernelHeight * g.kernelWidth, g.channelsIn, pixelsIn, channelsLast,
                              inputZeroPoint, rowLength, scratch.assumingMemoryBound(to: Int16.self))
        } else if inputForm == 2 {
            ee_qs8_convert_rows_s8(source, pixelsIn, g.channelsIn, rowLength, channelsLast, scratch.assumingMemoryBound(to: Int8.self))
        } else if elementBytes == 1 {
            ee_qs8_convert_rows_u8(source, pixelsIn, g.channelsIn, rowLength, channelsLast, scratch.assumingMemoryBound(to: UInt8.self))
        } else {
            ee_qs8_convert_rows_i16(source, pixelsIn, g.channelsIn, rowLength, channelsLast, scratch.assumingMemoryBound(to: Int16.self))
        }
        let lanes = blocking.width
        let y = x.int8s(output)
        var tile = ee_qs8_tile()
        tile.input = UnsafePointer(scratch.assumingMemoryBound(to: UInt8.self))
        tile.indirection = path == .implicitGEMM ? indirection : nil
        tile.zero_row = zeroRow
        tile.element_bytes = elementBytes
        tile.taps = gemmTaps
        tile.k = rowLength
        tile.requantization = ee_requantization(multipliers: multipliers, left_shifts: leftShifts, right_shifts: rightShifts,
                                                shifts: shifts, output_zero_point: outputZeroPoint, minimum: minimum,
                                                maximum: maximum, single_rounding: singleRounding ? 1 : 0)
        tile.output_row_stride = outputChannelsLast ? g.channelsOut : 1
        tile.output_column_stride = outputChannelsLast ? 1 : pixels
        tile.row_tile = blocking.rowsPerTile
        let weightBytesPerColumn = gemmTaps * rowLength * elementBytes
        var row0 = 0
        while row0 < pixels {
            tile.first_row = row0
            tile.row_count = min(blocking.rowsPerTile, pixels - row0)
            var start = 0
            while start * lanes < blocking.paddedColumns {
                let vectors = blocking.vectors(at: start)
                let column = start * lanes
                tile.vectors = vectors
                tile.weights = weights + column * weightBytesPerColumn
                tile.requantization.multipliers = multipliers + column
                tile.requantization.left_shifts = leftShifts + column
                tile.requantization.right_shifts = rightShifts + column
                tile.requantization.shifts = shifts + column
                tile.bias = bias + column
                tile.output = y + row0 * tile.output_row_stride + column * tile.output_column_stride
                tile.column_count = min(vectors * lanes, g.channelsOut - column)
                Int8KernelTable.tile(kernels, &tile)
                start += vectors
            }
            row0 += blocking.rowsPerTile
        }
    }
}

extension Model {
    /// Whether int8 convolution `index` runs the pixel-lanes kernel (for tests).
    func int8PixelLanes(of index: Int) -> Bool {
        if case let .conv2d(op) = prepared[index] { return op.native?.pixelLanes != nil }
        return false
    }
}
