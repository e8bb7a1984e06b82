#!/usr/bin/env python3
"""Export a trained AttnWRN to ONNX (static input [1,C,H,W] named `input`).

Outputs, in order: exit1_logits [1,classes], exit1_gate [1,1], ..., exitN_logits,
exitN_gate (attention modules in depth order), final_logits, final_gate.
The eq. 9 combination is NOT in the graph (the runtime computes it).

    python Training/export.py --run Training/runs/main --out Models/fashion-attn-wrn.onnx --exporter legacy
    python Training/export.py --run Training/runs/main --out /tmp/m-dynamo.onnx --exporter dynamo

Both exporters are supported: `dynamo` (torch.onnx.export(dynamo=True), needs onnxscript)
and `legacy` (dynamo=False, TorchScript-based). After exporting, the script checks the
model (onnx.checker), verifies that all weights are inside the file, prints the histogram
of ONNX op types, flags ops outside the runtime's supported set, and compares onnxruntime
against PyTorch.
"""
from __future__ import annotations

import argparse
import collections
import glob
import os
import sys
import warnings

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from model import AttnWRN, ExportWrapper, ModelConfig, output_names  # noqa: E402

SUPPORTED_OPS = {"Conv", "BatchNormalization", "Relu", "Add", "Mul", "MatMul", "Gemm", "Reshape",
                 "Flatten", "Transpose", "Softmax", "Tanh", "GlobalAveragePool", "ReduceMean",
                 "AveragePool", "MaxPool", "Concat", "Constant", "Shape", "Gather", "Unsqueeze",
                 "Squeeze", "Identity", "Sigmoid"}


def load_checkpoint(path):
    ck = torch.load(path, map_location="cpu", weights_only=False)
    cfg = ModelConfig.from_dict(ck["config"])
    model = AttnWRN(cfg)
    model.load_state_dict(ck["state_dict"])
    model.eval()
    return model


def op_histogram(onnx_model):
    """Histogram of op types over the main graph and any subgraphs / local functions."""
    hist = collections.Counter()

    def walk(graph):
        for node in graph.node:
            hist[node.op_type] += 1
            for attr in node.attribute:
                if attr.g is not None and attr.g.node:
                    walk(attr.g)
                for g in attr.graphs:
                    walk(g)

    walk(onnx_model.graph)
    for fn in onnx_model.functions:
        for node in fn.node:
            hist[f"{fn.name}/{node.op_type}"] += 1
    return dict(sorted(hist.items()))


def export_model(model: AttnWRN, path: str, exporter: str = "legacy", opset: int | None = None,
                 verbose: bool = True):
    """Exports `model` (eval mode) to `path` with all weights inside the file. Returns the onnx ModelProto."""
    import onnx

    model = model.eval()
    cfg = model.cfg
    wrapper = ExportWrapper(model).eval()
    x = torch.zeros(1, cfg.in_ch, cfg.in_hw, cfg.in_hw)
    names = output_names(model.num_exits)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    for stale in glob.glob(path + ".data"):
        os.remove(stale)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if exporter == "legacy":
            torch.onnx.export(wrapper, (x,), path, dynamo=False, opset_version=opset or 17,
                              input_names=["input"], output_names=names, do_constant_folding=True,
                              training=torch.onnx.TrainingMode.EVAL)
        elif exporter == "dynamo":
            kw = {"opset_version": opset} if opset else {}
            prog = torch.onnx.export(wrapper, (x,), dynamo=True, input_names=["input"],
                                     output_names=names, optimize=True, verbose=False, **kw)
            prog.save(path, external_data=False)
        else:
            raise ValueError(exporter)
    m = onnx.load(path, load_external_data=False)
    onnx.checker.check_model(m)
    for init in m.graph.initializer:
        if init.data_location == onnx.TensorProto.EXTERNAL:
            raise RuntimeError(f"{path}: initializer {init.name} uses external data")
    if os.path.exists(path + ".data"):
        raise RuntimeError(f"{path}: external data file written")
    got_in = [i.name for i in m.graph.input]
    got_out = [o.name for o in m.graph.output]
    if got_in != ["input"] or got_out != names:
        raise RuntimeError(f"{path}: unexpected names: inputs {got_in} outputs {got_out}")
    if verbose:
        hist = op_histogram(m)
        opset_v = {o.domain or "ai.onnx": o.version for o in m.opset_import}
        print(f"{path}: exporter={exporter} opset={opset_v} size={os.path.getsize(path)} bytes")
        print("  op histogram: " + ", ".join(f"{k}:{v}" for k, v in hist.items()))
        bad = sorted(k for k in hist if k not in SUPPORTED_OPS)
        if bad:
            print(f"  WARNING: ops outside the runtime's supported set: {bad}")
    return m


def run_onnxruntime(path, x: np.ndarray):
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    names = [o.name for o in sess.get_outputs()]
    outs = sess.run(names, {"input": x.astype(np.float32)})
    return dict(zip(names, outs))


def compare_with_torch(model: AttnWRN, path: str, x: np.ndarray):
    ref = ExportWrapper(model.eval())(torch.from_numpy(x))
    names = output_names(model.num_exits)
    got = run_onnxruntime(path, x)
    worst = 0.0
    for n, r in zip(names, ref):
        d = float(np.max(np.abs(got[n] - r.detach().numpy())))
        worst = max(worst, d)
    return worst


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--run", help="training run directory (uses <run>/model.pt)")
    p.add_argument("--checkpoint", help="path to model.pt (alternative to --run)")
    p.add_argument("--out", required=True)
    p.add_argument("--exporter", choices=["legacy", "dynamo"], default="legacy")
    p.add_argument("--opset", type=int, default=None, help="default: 17 for legacy, exporter default for dynamo")
    a = p.parse_args()
    torch.set_num_threads(2)
    ck = a.checkpoint or os.path.join(a.run, "model.pt")
    model = load_checkpoint(ck)
    export_model(model, a.out, a.exporter, a.opset)
    rng = np.random.RandomState(0)
    x = rng.randn(1, model.cfg.in_ch, model.cfg.in_hw, model.cfg.in_hw).astype(np.float32)
    print(f"  max |onnxruntime - torch| over all outputs: {compare_with_torch(model, a.out, x):.3g}")


if __name__ == "__main__":
    main()
