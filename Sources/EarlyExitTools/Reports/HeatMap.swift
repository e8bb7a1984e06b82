// Pictures of attention masks: input images as RGB, resizing, a colour map and blending.

/// An 8-bit RGB picture, row-major, 3 bytes a pixel.
public struct RGBImage: Equatable, Sendable {
    public let width: Int
    public let height: Int
    public var pixels: [UInt8]

    public init(width: Int, height: Int, pixels: [UInt8]) {
        precondition(pixels.count == width * height * 3, "RGB image data must have width × height × 3 bytes")
        self.width = width
        self.height = height
        self.pixels = pixels
    }

    public func pixel(x: Int, y: Int) -> (UInt8, UInt8, UInt8) {
        let offset = (y * width + x) * 3
        return (pixels[offset], pixels[offset + 1], pixels[offset + 2])
    }

    /// The PNG file of this picture.
    public func png(compression: PNGWriter.Compression = .fixedHuffman) -> [UInt8] {
        PNGWriter.encode(width: width, height: height, rgb: pixels, compression: compression)
    }
}

/// Renders attention masks as heat maps over the (grayscale) input, as in the paper's Figure 3.
public enum HeatMap {
    /// An input image of `channels` planes (CHW bytes, as IDX stores them) as RGB: three
    /// channels are colour, any other count is shown as the mean of its channels.
    public static func inputPicture(_ chw: [UInt8], channels: Int, height: Int, width: Int) -> RGBImage {
        let plane = height * width
        var pixels = [UInt8](repeating: 0, count: plane * 3)
        for index in 0..<plane {
            if channels == 3 {
                for c in 0..<3 { pixels[index * 3 + c] = chw[c * plane + index] }
            } else {
                let gray = grayValue(chw, channels: channels, plane: plane, index: index)
                pixels[index * 3] = gray; pixels[index * 3 + 1] = gray; pixels[index * 3 + 2] = gray
            }
        }
        return RGBImage(width: width, height: height, pixels: pixels)
    }

    /// The grayscale version of an input: the only channel, the Rec. 601 luma of RGB, or the channel mean.
    public static func grayscale(_ chw: [UInt8], channels: Int, height: Int, width: Int) -> [UInt8] {
        let plane = height * width
        return (0..<plane).map { grayValue(chw, channels: channels, plane: plane, index: $0) }
    }

    static func grayValue(_ chw: [UInt8], channels: Int, plane: Int, index: Int) -> UInt8 {
        if channels == 1 { return chw[index] }
        if channels == 3 {
            let luma = 0.299 * Double(chw[index]) + 0.587 * Double(chw[plane + index]) + 0.114 * Double(chw[2 * plane + index])
            return UInt8(min(max(luma.rounded(), 0), 255))
        }
        var sum = 0
        for c in 0..<channels { sum += Int(chw[c * plane + index]) }
        return UInt8(sum / max(channels, 1))
    }

    /// Enlarges a picture by an integer factor, nearest neighbour (every pixel becomes a block).
    public static func upscale(_ image: RGBImage, by factor: Int) -> RGBImage {
        let width = image.width * factor, height = image.height * factor
        var pixels = [UInt8](repeating: 0, count: width * height * 3)
        for y in 0..<height {
            for x in 0..<width {
                let source = ((y / factor) * image.width + x / factor) * 3
                let target = (y * width + x) * 3
                pixels[target] = image.pixels[source]
                pixels[target + 1] = image.pixels[source + 1]
                pixels[target + 2] = image.pixels[source + 2]
            }
        }
        return RGBImage(width: width, height: height, pixels: pixels)
    }

    /// Bilinear resize of a `height × width` grid to `toHeight × toWidth`, with pixel centres
    /// aligned (source = (target + 0.5) · scale − 0.5, clamped at the borders), the convention
    /// of `torch.nn.functional.interpolate(align_corners=False)`.
    public static func resizeBilinear(_ values: [Float], height: Int, width: Int, toHeight: Int, toWidth: Int) -> [Float] {
        var out = [Float](repeating: 0, count: toHeight * toWidth)
        let scaleY = Double(height) / Double(toHeight), scaleX = Double(width) / Double(toWidth)
        for ty in 0..<toHeight {
            let sy = min(max((Double(ty) + 0.5) * scaleY - 0.5, 0), Double(height - 1))
            let y0 = Int(sy), y1 = min(y0 + 1, height - 1)
            let fy = sy - Double(y0)
            for tx in 0..<toWidth {
                let sx = min(max((Double(tx) + 0.5) * scaleX - 0.5, 0), Double(width - 1))
                let x0 = Int(sx), x1 = min(x0 + 1, width - 1)
                let fx = sx - Double(x0)
                let top = Double(values[y0 * width + x0]) * (1 - fx) + Double(values[y0 * width + x1]) * fx
                let bottom = Double(values[y1 * width + x0]) * (1 - fx) + Double(values[y1 * width + x1]) * fx
                out[ty * toWidth + tx] = Float(top * (1 - fy) + bottom * fy)
            }
        }
        return out
    }

    /// A mask value clamped to 0...1; NaN counts as 0 (a NaN would trap the UInt8 conversions).
    static func unitInterval(_ value: Float) -> Double { value.isNaN ? 0 : Double(min(max(value, 0), 1)) }

    /// The "jet" colour map: 0 dark blue, 0.5 green-yellow, 1 dark red.
    public static func color(_ value: Float) -> (UInt8, UInt8, UInt8) {
        let v = unitInterval(value)
        func channel(_ centre: Double) -> UInt8 {
            UInt8((min(max(1.5 - abs(4 * v - centre), 0), 1) * 255).rounded())
        }
        return (channel(3), channel(2), channel(1))
    }

    /// Blends the colour of a normalized mask value (0...1) over a gray pixel. The colour's
    /// weight grows with the value (0.3 at 0, 0.85 at 1), so the image shows through where
    /// the head does not look.
    public static func blend(gray: UInt8, value: Float) -> (UInt8, UInt8, UInt8) {
        let v = unitInterval(value)
        let alpha = 0.3 + 0.55 * v
        let (r, g, b) = color(value)
        func mix(_ c: UInt8) -> UInt8 { UInt8((Double(gray) * (1 - alpha) + Double(c) * alpha).rounded()) }
        return (mix(r), mix(g), mix(b))
    }

    /// A mask of `maskHeight × maskWidth` probabilities drawn over the grayscale input
    /// (`inputHeight × inputWidth`), both enlarged to `factor` times the input size: the mask is
    /// divided by its maximum (so the brightest place is 1), resized bilinearly and blended.
    public static func overlay(mask: [Float], maskHeight: Int, maskWidth: Int, gray: [UInt8], inputHeight: Int, inputWidth: Int,
                               factor: Int) -> RGBImage {
        let width = inputWidth * factor, height = inputHeight * factor
        let peak = mask.max() ?? 0
        let normalized = peak > 0 ? mask.map { $0 / peak } : mask
        let resized = resizeBilinear(normalized, height: maskHeight, width: maskWidth, toHeight: height, toWidth: width)
        var pixels = [UInt8](repeating: 0, count: width * height * 3)
        for y in 0..<height {
            for x in 0..<width {
                let (r, g, b) = blend(gray: gray[(y / factor) * inputWidth + x / factor], value: resized[y * width + x])
                let target = (y * width + x) * 3
                pixels[target] = r; pixels[target + 1] = g; pixels[target + 2] = b
            }
        }
        return RGBImage(width: width, height: height, pixels: pixels)
    }
}

/// The colour scale drawn under every mask picture: a bar of the colour map from 0 (left) to 1
/// (right; the mask's maximum, since pictures are divided by it), labelled "0" and "1".
public enum ColorBar {
    /// Layout for a picture `width` pixels wide: gap, bar, gap, labels, margin (rows).
    public struct Layout: Equatable, Sendable {
        public var gap: Int
        public var barHeight: Int
        public var labelScale: Int
        public var margin: Int
        /// The bar's first and last columns.
        public var left: Int
        public var right: Int
        /// Rows added under the picture.
        public var height: Int { gap + barHeight + gap + 5 * labelScale + margin }
    }

    public static func layout(width: Int) -> Layout {
        let scale = max(1, width / 112)
        let margin = min(2 * scale, max(width / 8, 0))
        return Layout(gap: 2 * scale, barHeight: max(4, width / 16), labelScale: scale, margin: margin,
                      left: margin, right: max(width - 1 - margin, margin))
    }

    /// The mask value the bar shows in column `x` (0 at `left`, 1 at `right`).
    public static func value(x: Int, layout: Layout) -> Float {
        let span = max(layout.right - layout.left, 1)
        return Float(min(max(x - layout.left, 0), span)) / Float(span)
    }

    /// 3×5 glyphs of the labels, one row per string, "#" for a lit pixel.
    static let glyphs: [Character: [String]] = [
        "0": ["###", "#.#", "#.#", "#.#", "###"],
        "1": [".#.", "##.", ".#.", ".#.", "###"],
    ]

    /// `image` with the colour bar and its labels added under it, on a white background.
    public static func appended(to image: RGBImage) -> RGBImage {
        let layout = self.layout(width: image.width)
        let width = image.width, height = image.height + layout.height
        var pixels = image.pixels + [UInt8](repeating: 255, count: width * layout.height * 3)
        func set(_ x: Int, _ y: Int, _ color: (UInt8, UInt8, UInt8)) {
            guard x >= 0, x < width, y >= 0, y < height else { return }
            let offset = (y * width + x) * 3
            pixels[offset] = color.0; pixels[offset + 1] = color.1; pixels[offset + 2] = color.2
        }
        let barTop = image.height + layout.gap
        for x in layout.left...layout.right {
            let color = HeatMap.color(value(x: x, layout: layout))
            for y in barTop..<(barTop + layout.barHeight) { set(x, y, color) }
        }
        let labelTop = barTop + layout.barHeight + layout.gap
        let k = layout.labelScale
        for (label, x0) in [("0" as Character, layout.left), ("1" as Character, layout.right - 3 * k + 1)] {
            guard let rows = glyphs[label] else { continue }
            for (row, line) in rows.enumerated() {
                for (column, mark) in line.enumerated() where mark == "#" {
                    for dy in 0..<k { for dx in 0..<k { set(x0 + column * k + dx, labelTop + row * k + dy, (0, 0, 0)) } }
                }
            }
        }
        return RGBImage(width: width, height: height, pixels: pixels)
    }
}
