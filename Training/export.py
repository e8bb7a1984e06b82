#!/usr/bin/env python3
"""Export a trained AttnWRN to ONNX (static input [1,C,H,W] named `input`).

Outputs, in order: exit1_logits [1,classes], exit1_gate [1,1], ..., exitN_logits,
exitN_gate (attention modules in depth order), final_logits, final_gate.
The eq. 9 combination is NOT in the graph (the runtime computes it).

    python Training/export.py --run Training/runs/main --out Models/fashion-attn-wrn.onnx --exporter legacy
    python Training/export.py --run Training/runs/main --out /tmp/m-dynamo.onnx --exporter dynamo

Both exporters are supported: `dynamo` (torch.onnx.export(dynamo=True), needs onnxscript)
and `legacy` (dynamo=False, TorchScript-based). This script keeps every weight inside the
.onnx file; `dynamo-default` exports as torch.onnx.export(..., dynamo=True) does by default,
with the weights in a side file <out>.data (the converter reads it from the same folder).
After exporting, the script writes the input normalization into the file's metadata_props
(`earlyexit.mean`, `earlyexit.std`: applied after x/255; `convert` reads them, its flags
override them), checks the model (onnx.checker), prints the histogram of ONNX op types,
flags ops outside the runtime's supported set, and compares onnxruntime against PyTorch.

    python Training/export.py --add-normalization Models/fashion-attn-wrn.onnx   # metadata only
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


MEAN_KEY, STD_KEY = "earlyexit.mean", "earlyexit.std"


def add_normalization(path: str, mean, std):
    """Writes the input normalization into the ONNX file's metadata_props (comma-separated,
    per channel or one value; applied after x/255), keeping every other byte's meaning. A model
    whose weights are in a side file keeps them there."""
    import onnx

    m = onnx.load(path, load_external_data=False)
    props = [p for p in m.metadata_props if p.key not in (MEAN_KEY, STD_KEY)]
    del m.metadata_props[:]
    m.metadata_props.extend(props)
    for key, values in ((MEAN_KEY, mean), (STD_KEY, std)):
        entry = m.metadata_props.add()
        entry.key = key
        entry.value = ",".join(f"{float(v):.6g}" for v in values)
    onnx.save(m, path)
    return m


def export_model(model: AttnWRN, path: str, exporter: str = "legacy", opset: int | None = None,
                 verbose: bool = True, mean=None, std=None):
    """Exports `model` (eval mode) to `path` (all weights inside the file, except with the
    `dynamo-default` exporter) and records `mean`/`std` in its metadata_props when given.
    Returns the onnx ModelProto."""
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
        elif exporter == "dynamo-default":
            kw = {"opset_version": opset} if opset else {}
            torch.onnx.export(wrapper, (x,), path, dynamo=True, input_names=["input"], output_names=names,
                              verbose=False, **kw)
        else:
            raise ValueError(exporter)
    if mean is not None and std is not None:
        add_normalization(path, mean, std)
    m = onnx.load(path, load_external_data=False)
    onnx.checker.check_model(path)
    if exporter != "dynamo-default":
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
    p.add_argument("--out")
    p.add_argument("--exporter", choices=["legacy", "dynamo", "dynamo-default"], default="legacy")
    p.add_argument("--opset", type=int, default=None, help="default: 17 for legacy, exporter default for dynamo")
    p.add_argument("--mean", default=None, help="input normalization mean(s), comma-separated (default: the data set's)")
    p.add_argument("--std", default=None, help="input normalization std(s), comma-separated (default: the data set's)")
    p.add_argument("--add-normalization", metavar="ONNX",
                   help="only write the normalization into an existing ONNX file's metadata_props")
    a = p.parse_args()
    import data
    mean = [float(v) for v in a.mean.split(",")] if a.mean else [data.MEAN]
    std = [float(v) for v in a.std.split(",")] if a.std else [data.STD]
    if a.add_normalization:
        add_normalization(a.add_normalization, mean, std)
        print(f"{a.add_normalization}: metadata_props {MEAN_KEY}={mean} {STD_KEY}={std}")
        return
    if not a.out:
        p.error("--out is required")
    torch.set_num_threads(2)
    ck = a.checkpoint or os.path.join(a.run, "model.pt")
    model = load_checkpoint(ck)
    export_model(model, a.out, a.exporter, a.opset, mean=mean, std=std)
    rng = np.random.RandomState(0)
    x = rng.randn(1, model.cfg.in_ch, model.cfg.in_hw, model.cfg.in_hw).astype(np.float32)
    print(f"  max |onnxruntime - torch| over all outputs: {compare_with_torch(model, a.out, x):.3g}")


if __name__ == "__main__":
    main()
