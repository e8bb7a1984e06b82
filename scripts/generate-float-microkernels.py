#!/usr/bin/env python3
"""Writes Sources/EarlyExit/Kernels/Generic/FloatMicrokernels.swift: the float32 GEMM microkernels,
one function per tile shape (column vectors x rows), unrolled so that every accumulator is a named
local that the compiler keeps in a register. Each is generic over `FloatArithmetic` (the vector
type and its multiply-add), so one source compiles to SSE2, AVX2, AVX-512 and NEON code in the
per-ISA modules. Rerun after editing this file:

    python3 scripts/generate-float-microkernels.py
"""
import os

SHAPES = [(4, 6), (2, 12), (2, 6), (1, 12), (1, 6)]  # (column vectors, rows)

def kernel(mv, nr):
    name = f"microkernel{mv}x{nr}"
    L = []
    a = L.append
    a(f"/// `// rows ({nr}, taps·k) · W (taps·k, {mv}·V) -> C ({nr}, {mv}·V)`: {mv} column vector(s) × {nr} rows, {mv * nr} accumulators.")
    a("@inlinable @inline(__always)")
    a(f"public func {name}<A: FloatArithmetic>(_: A.Type, _ tile: GEMMTile) {{")
    a("    typealias V = A.Vector")
    a("    let w = V.scalarCount")
    for m in range(mv):
        a(f"    let bias{m}: V = tile.bias.map {{ loadVector($0 + {m} * w) }} ?? V()")
    for j in range(nr):
        a("    var " + ", ".join(f"c{j}_{m} = bias{m}" for m in range(mv)))
    a("    var weights = tile.weights")
    a("    var rowPointers = tile.rows")
    a("    for _ in 0..<tile.taps {")
    for j in range(nr):
        a(f"        let r{j} = rowPointers[{j}]")
    a("        var p = 0")
    a("        while p < tile.k {")
    a("            " + "; ".join(f"let b{m}: V = loadVector(weights + {m} * w)" for m in range(mv)))
    for j in range(nr):
        a(f"            let x{j} = V(repeating: r{j}[p])")
        a("            " + "; ".join(f"c{j}_{m} = A.multiplyAdd(x{j}, b{m}, c{j}_{m})" for m in range(mv)))
    a(f"            weights += {mv} * w")
    a("            p += 1")
    a("        }")
    a(f"        rowPointers += {nr}")
    a("    }")
    # Full tiles without a residual (Winograd products, most convolution tiles): plain stores.
    a(f"    if tile.residual == nil && tile.rowCount == {nr} && tile.columnCount == {mv} * w {{")
    a("        let out = tile.output, stride = tile.outputStride")
    a("        if tile.relu {")
    for j in range(nr):
        a("            " + "; ".join(f"c{j}_{m} = A.relu(c{j}_{m})" for m in range(mv)))
    a("        }")
    for j in range(nr):
        a("        " + "; ".join(f"store(c{j}_{m}, out + ({j} &* stride &+ {m} &* w))" for m in range(mv)))
    a("        return")
    a("    }")
    for j in range(nr):
        args = ", ".join(f"c{j}_{m}" for m in range(mv))
        a(f"    if {j} < tile.rowCount {{ storeRow{mv}(A.self, tile, row: {j}, {args}) }}")
    a("}")
    return "\n".join(L)

def store(mv):
    params = ", ".join(f"_ v{m}: A.Vector" for m in range(mv))
    L = []
    a = L.append
    a(f"/// Stores one row of a {mv}-vector tile: residual added, ReLU applied, partial columns lane by lane.")
    a("@inlinable @inline(__always)")
    a(f"func storeRow{mv}<A: FloatArithmetic>(_: A.Type, _ tile: GEMMTile, row: Int, {params}) {{")
    a("    let w = A.Vector.scalarCount")
    a("    let out = tile.output + row * tile.outputStride")
    a("    let residual = tile.residual.map { $0 + row * tile.residualStride }")
    for m in range(mv):
        a(f"    storeVector(A.self, v{m}, out + {m} * w, residual: residual.map {{ $0 + {m} * w }}, relu: tile.relu, lanes: tile.columnCount - {m} * w)")
    a("}")
    return "\n".join(L)

def few_outputs_block(w):
    """The transposed block of pointwiseFewOutputs for vectors of w lanes."""
    import math
    L = []
    a = L.append
    a(f"/// One {w}×{w} block of `pointwiseFewOutputs` (vectors of {w} lanes): the rows of {w} pixels at")
    a(f"/// `x` (`stride` floats apart, {w} channels from `c0`) transposed in registers by {int(math.log2(w))} perfect-shuffle")
    a("/// rounds (vectors 2j and 2j+1 give their even lanes to vector j and their odd lanes to vector")
    a("/// j + w/2: one two-source shuffle each), then each output channel's plane gains")
    a("/// Σ_c channel vector c · its weight for these channels, seeded with the bias at `c0` = 0.")
    a("@inlinable @inline(__always)")
    a(f"func fewOutputsBlock{w}<A: FloatArithmetic>(_: A.Type, _ x: UnsafePointer<Float>, stride: Int, weights: UnsafePointer<Float>,")
    a("                                      channelsIn: Int, c0: Int, bias: UnsafePointer<Float>?, y: UnsafeMutablePointer<Float>,")
    a("                                      pixels: Int, p: Int, channelsOut: Int, last: Bool, relu: Bool) {")
    a("    typealias V = A.Vector")
    names = [f"v{i}" for i in range(w)]
    for i in range(w):
        a(f"    let {names[i]}: V = loadVector(x + {i} &* stride)")
    for r in range(1, int(math.log2(w)) + 1):
        new = [f"r{r}_{i}" for i in range(w)]
        for j in range(w // 2):
            a(f"    let {new[j]} = V(evenLanesOf: {names[2*j]}, {names[2*j+1]}), {new[w//2+j]} = V(oddLanesOf: {names[2*j]}, {names[2*j+1]})")
        names = new
    a("    for co in 0..<channelsOut {")
    a("        let out = y + (co &* pixels &+ p)")
    a("        var acc: V = c0 == 0 ? V(repeating: bias?[co] ?? 0) : loadVector(out)")
    a("        let f = weights + (co &* channelsIn &+ c0)")
    for i in range(w):
        a(f"        acc = A.multiplyAdd({names[i]}, V(repeating: f[{i}]), acc)")
    a("        if last && relu { acc = A.relu(acc) }")
    a("        store(acc, out)")
    a("    }")
    a("}")
    return "\n".join(L)


header = '''// GENERATED by scripts/generate-float-microkernels.py; do not edit by hand.
// float32 GEMM microkernels: a tile of rows (output pixels or Winograd tiles) times a block of
// packed weight columns (output channels), every accumulator a named local; and the transposed
// blocks of the 1×1 convolutions to few output channels.

'''
body = "\n\n".join([kernel(mv, nr) for mv, nr in SHAPES] + [store(mv) for mv in (1, 2, 4)]
                   + [few_outputs_block(w) for w in (4, 8, 16)])
root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
path = os.path.join(root, "Sources/EarlyExit/Kernels/Generic/FloatMicrokernels.swift")
with open(path, "w") as f:
    f.write(header + body + "\n")
print("wrote", path)
