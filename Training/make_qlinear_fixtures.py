#!/usr/bin/env python3
"""Write the onnxruntime QLinearConv / QLinearMatMul fixtures used by
Tests/EarlyExitToolsTests/QLinearConformanceTests.swift.

    python3 Training/make_qlinear_fixtures.py [--out Tests/EarlyExitToolsTests/Fixtures/qlinear]

Each case is a one-node ONNX model (opset 13) with int8 activations, built here with
onnx.helper and run with onnxruntime's CPU provider:

  QLinearConv    x int8 (per-tensor scale/zero point), w int8 [Cout, Cin/G, kH, kW] with
                 per-output-channel scales and zero points 0, bias int32 [Cout] (scale
                 x_scale * w_scale[c]), y int8 (per-tensor scale/zero point).
  QLinearMatMul  a int8 [B, M, K] (graph input), b int8 [1, K, N] (initializer), both
                 per-tensor with nonzero zero points, y int8.

Inputs, weights and biases come from numpy's default_rng with a fixed seed per case. The
output scale is chosen from the exact integer accumulators so that a few outputs saturate.

Every case directory holds:
  x.npy (int8 input), w.npy (int8 weights; the matmul's b), y.npy (onnxruntime's int8 output),
  params.json (op, geometry, scales as exact float32 values, zero points, int32 biases, shapes).
manifest.json lists the cases and the library versions. The script also prints, per case,
the histogram of onnxruntime minus a float64 reference rounded half to even (a sanity check:
it must lie within +-1).
"""
from __future__ import annotations

import argparse
import json
import os

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

OPSET = 13


def f32(value: float) -> float:
    """The exact double value of the float32 nearest to `value` (what ONNX stores)."""
    return float(np.float32(value))


def run(model: onnx.ModelProto, feeds: dict) -> np.ndarray:
    onnx.checker.check_model(model)
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    return session.run(None, feeds)[0]


def output_parameters(real: np.ndarray, rng: np.random.Generator) -> tuple[float, int]:
    """A per-tensor output scale covering ~90% of the real range (so some outputs saturate)."""
    span = float(np.percentile(real, 99.5) - np.percentile(real, 0.5))
    scale = f32(max(span, 1e-6) / 255 * 0.9)
    zero_point = int(rng.integers(-12, 13))
    return scale, zero_point


def conv_case(name: str, seed: int, cin: int, h: int, w: int, cout: int, kernel: int, stride: int,
              pads: list[int], group: int = 1) -> dict:
    rng = np.random.default_rng(seed)
    x = rng.integers(-128, 128, size=(1, cin, h, w), dtype=np.int8)
    weights = rng.integers(-127, 128, size=(cout, cin // group, kernel, kernel), dtype=np.int8)
    x_scale = f32(rng.uniform(0.01, 0.05))
    x_zero_point = int(rng.integers(-20, 21))
    w_scales = np.array([f32(v) for v in rng.uniform(0.002, 0.02, size=cout)], dtype=np.float32)
    bias = rng.integers(-3000, 3001, size=cout, dtype=np.int32)

    # Exact accumulators (int64) for choosing the output scale and for the sanity reference.
    top, left, bottom, right = pads
    padded = np.full((cin, h + top + bottom, w + left + right), x_zero_point, dtype=np.int64)
    padded[:, top:top + h, left:left + w] = x[0].astype(np.int64)
    ho = (h + top + bottom - kernel) // stride + 1
    wo = (w + left + right - kernel) // stride + 1
    acc = np.zeros((cout, ho, wo), dtype=np.int64)
    in_per_group, out_per_group = cin // group, cout // group
    for co in range(cout):
        g = co // out_per_group
        for oy in range(ho):
            for ox in range(wo):
                patch = padded[g * in_per_group:(g + 1) * in_per_group,
                               oy * stride:oy * stride + kernel, ox * stride:ox * stride + kernel]
                acc[co, oy, ox] = np.sum((patch - x_zero_point) * weights[co].astype(np.int64)) + int(bias[co])
    real = acc * (np.float64(x_scale) * w_scales.astype(np.float64))[:, None, None]
    y_scale, y_zero_point = output_parameters(real, rng)

    nodes = [helper.make_node(
        "QLinearConv",
        ["x", "x_scale", "x_zero_point", "w", "w_scale", "w_zero_point", "y_scale", "y_zero_point", "B"], ["y"],
        kernel_shape=[kernel, kernel], strides=[stride, stride], pads=[top, left, bottom, right], group=group)]
    initializers = [
        numpy_helper.from_array(np.array(x_scale, dtype=np.float32), "x_scale"),
        numpy_helper.from_array(np.array(x_zero_point, dtype=np.int8), "x_zero_point"),
        numpy_helper.from_array(weights, "w"),
        numpy_helper.from_array(w_scales, "w_scale"),
        numpy_helper.from_array(np.zeros(cout, dtype=np.int8), "w_zero_point"),
        numpy_helper.from_array(np.array(y_scale, dtype=np.float32), "y_scale"),
        numpy_helper.from_array(np.array(y_zero_point, dtype=np.int8), "y_zero_point"),
        numpy_helper.from_array(bias, "B"),
    ]
    graph = helper.make_graph(nodes, name, [helper.make_tensor_value_info("x", TensorProto.INT8, list(x.shape))],
                              [helper.make_tensor_value_info("y", TensorProto.INT8, [1, cout, ho, wo])], initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], ir_version=8)
    y = run(model, {"x": x})
    reference = np.clip(np.rint(real / y_scale) + y_zero_point, -128, 127)
    params = {
        "op": "conv", "x_shape": list(x.shape), "w_shape": list(weights.shape), "y_shape": list(y.shape),
        "kernel": kernel, "stride": stride, "pads": [top, left, bottom, right], "group": group,
        "x_scale": x_scale, "x_zero_point": x_zero_point, "w_scales": [float(v) for v in w_scales],
        "y_scale": y_scale, "y_zero_point": y_zero_point, "bias": [int(v) for v in bias], "seed": seed,
    }
    return {"name": name, "x": x, "w": weights, "y": y, "params": params, "reference": reference}


def matmul_case(name: str, seed: int, batch: int, m: int, k: int, n: int) -> dict:
    rng = np.random.default_rng(seed)
    a = rng.integers(-128, 128, size=(batch, m, k), dtype=np.int8)
    b = rng.integers(-128, 128, size=(1, k, n), dtype=np.int8)
    a_scale, b_scale = f32(rng.uniform(0.01, 0.05)), f32(rng.uniform(0.01, 0.05))
    a_zero_point, b_zero_point = int(rng.integers(-20, 21)), int(rng.integers(-20, 21))
    acc = np.matmul(a.astype(np.int64) - a_zero_point, b.astype(np.int64) - b_zero_point)
    real = acc * (np.float64(a_scale) * np.float64(b_scale))
    y_scale, y_zero_point = output_parameters(real, rng)
    nodes = [helper.make_node("QLinearMatMul", ["a", "a_scale", "a_zero_point", "b", "b_scale", "b_zero_point",
                                                 "y_scale", "y_zero_point"], ["y"])]
    initializers = [
        numpy_helper.from_array(np.array(a_scale, dtype=np.float32), "a_scale"),
        numpy_helper.from_array(np.array(a_zero_point, dtype=np.int8), "a_zero_point"),
        numpy_helper.from_array(b, "b"),
        numpy_helper.from_array(np.array(b_scale, dtype=np.float32), "b_scale"),
        numpy_helper.from_array(np.array(b_zero_point, dtype=np.int8), "b_zero_point"),
        numpy_helper.from_array(np.array(y_scale, dtype=np.float32), "y_scale"),
        numpy_helper.from_array(np.array(y_zero_point, dtype=np.int8), "y_zero_point"),
    ]
    graph = helper.make_graph(nodes, name, [helper.make_tensor_value_info("a", TensorProto.INT8, list(a.shape))],
                              [helper.make_tensor_value_info("y", TensorProto.INT8, [batch, m, n])], initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], ir_version=8)
    y = run(model, {"a": a})
    reference = np.clip(np.rint(real / y_scale) + y_zero_point, -128, 127)
    params = {
        "op": "matmul", "x_shape": list(a.shape), "w_shape": list(b.shape), "y_shape": list(y.shape),
        "x_scale": a_scale, "x_zero_point": a_zero_point, "w_scale": b_scale, "w_zero_point": b_zero_point,
        "y_scale": y_scale, "y_zero_point": y_zero_point, "seed": seed,
    }
    return {"name": name, "x": a, "w": b, "y": y, "params": params, "reference": reference}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "Tests", "EarlyExitToolsTests",
                                                      "Fixtures", "qlinear"))
    args = parser.parse_args()
    cases = [
        # 3x3 pad 1: K = 27 (odd), Cout = 6 (not a multiple of 4), 9x11 = 99 outputs (not a multiple of 16).
        conv_case("conv3x3_pad1", 101, cin=3, h=9, w=11, cout=6, kernel=3, stride=1, pads=[1, 1, 1, 1]),
        # 3x3 stride 2 with asymmetric padding (top 1, left 0, bottom 1, right 1).
        conv_case("conv3x3_stride2", 102, cin=4, h=13, w=12, cout=5, kernel=3, stride=2, pads=[1, 0, 1, 1]),
        # 1x1 (the pointwise path): Cout = 11, 7x9 = 63 outputs.
        conv_case("conv1x1", 103, cin=8, h=7, w=9, cout=11, kernel=1, stride=1, pads=[0, 0, 0, 0]),
        # Depthwise 3x3 pad 1 (group = Cin = Cout).
        conv_case("conv3x3_depthwise", 104, cin=6, h=8, w=7, cout=6, kernel=3, stride=1, pads=[1, 1, 1, 1], group=6),
        # Batched matmul, b broadcast over the batch: [2, 5, 24] x [1, 24, 7].
        matmul_case("matmul_batch", 105, batch=2, m=5, k=24, n=7),
    ]
    os.makedirs(args.out, exist_ok=True)
    for case in cases:
        directory = os.path.join(args.out, case["name"])
        os.makedirs(directory, exist_ok=True)
        np.save(os.path.join(directory, "x.npy"), case["x"])
        np.save(os.path.join(directory, "w.npy"), case["w"])
        np.save(os.path.join(directory, "y.npy"), case["y"])
        with open(os.path.join(directory, "params.json"), "w") as handle:
            json.dump(case["params"], handle, indent=1)
            handle.write("\n")
        difference = case["y"].astype(np.int64) - case["reference"].astype(np.int64)
        values, counts = np.unique(difference, return_counts=True)
        histogram = {int(v): int(c) for v, c in zip(values, counts)}
        print(f"{case['name']}: {case['y'].size} outputs, onnxruntime - float64 reference: {histogram}")
        assert np.all(np.abs(difference) <= 1), case["name"]
    manifest = {
        "cases": [case["name"] for case in cases],
        "onnx": onnx.__version__, "onnxruntime": ort.__version__, "numpy": np.__version__, "opset": OPSET,
        "generator": "Training/make_qlinear_fixtures.py",
    }
    with open(os.path.join(args.out, "manifest.json"), "w") as handle:
        json.dump(manifest, handle, indent=1)
        handle.write("\n")


if __name__ == "__main__":
    main()
