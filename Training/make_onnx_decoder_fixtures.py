#!/usr/bin/env python3
"""Write the tiny ONNX fixture that the Swift ONNX decoder tests read.

    python Training/make_onnx_decoder_fixtures.py

Writes Tests/EarlyExitToolsTests/Fixtures/onnx/tiny.onnx: Conv(3x3, pad 1) -> Relu ->
Reshape(shape initializer [0, -1]) -> Gemm(transB=1), opset 17, IR version 8, with every
weight inside the file. The weights follow closed-form patterns so the Swift tests can
recompute them; keep ONNXDecoderTests.swift in step when changing anything here:

    conv.W [2,1,3,3] raw_data    W[i]  = ((i % 7) - 3) * 0.125
    conv.B [2]       float_data  [0.5, -0.25]
    shape  [2]       INT64 raw   [0, -1]
    fc.W   [3,32]    raw_data    W[i]  = ((i % 5) - 2) * 0.0625
    fc.B   [3]       float_data  [-1.5, 0.25, 2.0]

The model is checked with onnx.checker and, when onnxruntime is installed, run once.
"""
from __future__ import annotations

import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "Tests", "EarlyExitToolsTests", "Fixtures", "onnx", "tiny.onnx")


def build() -> onnx.ModelProto:
    conv_w = (((np.arange(18) % 7) - 3) * 0.125).astype(np.float32).reshape(2, 1, 3, 3)
    fc_w = (((np.arange(96) % 5) - 2) * 0.0625).astype(np.float32).reshape(3, 32)
    initializers = [
        numpy_helper.from_array(conv_w, "conv.W"),  # raw_data
        helper.make_tensor("conv.B", TensorProto.FLOAT, [2], [0.5, -0.25]),  # float_data
        numpy_helper.from_array(np.array([0, -1], dtype=np.int64), "shape"),  # raw_data
        numpy_helper.from_array(fc_w, "fc.W"),  # raw_data
        helper.make_tensor("fc.B", TensorProto.FLOAT, [3], [-1.5, 0.25, 2.0]),  # float_data
    ]
    nodes = [
        helper.make_node(
            "Conv", ["input", "conv.W", "conv.B"], ["conv_out"], name="conv",
            kernel_shape=[3, 3], pads=[1, 1, 1, 1], strides=[1, 1], auto_pad="NOTSET"),
        helper.make_node("Relu", ["conv_out"], ["relu_out"], name="relu"),
        helper.make_node("Reshape", ["relu_out", "shape"], ["flat"], name="flatten"),
        helper.make_node(
            "Gemm", ["flat", "fc.W", "fc.B"], ["logits"], name="fc", alpha=1.0, beta=1.0, transB=1),
    ]
    graph = helper.make_graph(
        nodes, "tiny",
        inputs=[helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", 1, 4, 4])],
        outputs=[helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 3])],
        initializer=initializers,
        value_info=[helper.make_tensor_value_info("conv_out", TensorProto.FLOAT, ["batch", 2, 4, 4])],
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", 17)],
        producer_name="make_onnx_decoder_fixtures", producer_version="1")
    model.ir_version = 8
    onnx.checker.check_model(model, full_check=True)
    return model


def main() -> None:
    model = build()
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    data = model.SerializeToString(deterministic=True)
    with open(OUT, "wb") as file:
        file.write(data)
    print(f"wrote {os.path.normpath(OUT)} ({len(data)} bytes)")
    try:
        import onnxruntime as ort
    except ImportError:
        return
    session = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    x = (np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4) - 8) / 4
    print("onnxruntime logits for input (arange(16) - 8) / 4:", session.run(None, {"input": x})[0])


if __name__ == "__main__":
    main()
