#!/usr/bin/env python3
"""Conformance fixtures for the Swift runtime's ONNX importer.

    python Training/make_fixtures.py                 # random-weight architectures + the trained model
    python Training/make_fixtures.py --skip-trained  # random-weight architectures only

Each fixture is a directory Tests/EarlyExitToolsTests/Fixtures/conformance/<name>/ with
  model.onnx        the exported graph (weights inside the file)
  input.npy         float32 [1,C,H,W] (fixed random seed; for the trained model: a normalised test image)
  <output>.npy      one per graph output (exit1_logits.npy, exit1_gate.npy, ..., final_logits.npy,
                    final_gate.npy), computed by onnxruntime (CPUExecutionProvider, float32)
  manifest.json     {"outputs": [...], "exporter": ..., "description": ..., ...}

The random-weight models also get randomised batch-norm parameters and running statistics
(so BN is not the identity) and larger attention-conv weights (so the spatial softmax is
not nearly uniform).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys

import numpy as np
import torch
import torch.nn as nn

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import data  # noqa: E402
from export import export_model, op_histogram, run_onnxruntime  # noqa: E402
from model import AttnWRN, AttentionModule, ExportWrapper, ModelConfig, count_params, output_names  # noqa: E402

REPO = os.path.dirname(HERE)
FIXTURES = os.path.join(REPO, "Tests", "EarlyExitToolsTests", "Fixtures", "conformance")
MODELS = os.path.join(REPO, "Models")

# name -> (config, exporter, opset, seed, description)
RANDOM_FIXTURES = {
    "aw1_k1_gray16_legacy": (
        ModelConfig(in_ch=1, in_hw=16, classes=10, stem_width=8, widths=(8, 16), blocks=(1, 1),
                    strides=(1, 2), exits=("1.1",), heads=1, att_kernel=1),
        "legacy", 17, 101,
        "1x16x16 input, stem 8, two groups (8 stride 1, 16 stride 2 with 1x1 projection shortcut), "
        "one attention module (AW=1, 1x1 attention conv) after group 1; random weights and BN statistics"),
    "aw3_k3_rgb32_stride2_maxpool_dynamo": (
        ModelConfig(in_ch=3, in_hw=32, classes=7, stem_width=12, widths=(12, 16, 24), blocks=(1, 1, 1),
                    strides=(1, 2, 1), stem_stride=2, stem_pool="max", exits=("1.1", "2.1"), heads=3,
                    att_kernel=3),
        "dynamo", None, 202,
        "3x32x32 input, stride-2 stem conv then 2x2 max pool (-> 8x8), three groups (12, 16 stride 2, 24), "
        "two attention modules (AW=3, 3x3 attention conv with padding 1) after groups 1 and 2, 7 classes; "
        "random weights and BN statistics"),
    "aw2_k3_ch2_avgpool_ad4_legacy18": (
        ModelConfig(in_ch=2, in_hw=20, classes=5, stem_width=8, widths=(8, 16, 20), blocks=(2, 1, 2),
                    strides=(1, 2, 2), stem_pool="avg", exits=("1.1", "1.end", "2.1", "3.1"), heads=2,
                    att_kernel=3),
        "legacy", 18, 303,
        "2x20x20 input, stem then 2x2 average pool (-> 10x10), groups of 2/1/2 blocks (8, 16 stride 2, "
        "20 stride 2 -> 3x3), four attention modules (AW=2, 3x3 attention conv) incl. one in the middle of "
        "group 3, 5 classes; opset 18; random weights and BN statistics"),
    "aw2_k1_rgb32_dynamo": (
        ModelConfig(in_ch=3, in_hw=32, classes=10, stem_width=16, widths=(16, 24, 32), blocks=(1, 1, 1),
                    strides=(1, 2, 2), exits=("1.1", "2.1"), heads=2, att_kernel=1),
        "dynamo", None, 404,
        "3x32x32 input, stem 16, groups 16/24/32 (stride 1/2/2), two attention modules (AW=2, 1x1 "
        "attention conv) after groups 1 and 2; random weights and BN statistics"),
    "aw2_k1_gray28_same_as_bundled_layout_dynamo": (
        ModelConfig(in_ch=1, in_hw=28, classes=10, stem_width=4, widths=(4, 8, 12), blocks=(2, 2, 2),
                    strides=(1, 2, 2), exits=("1.1", "1.end", "2.end"), heads=2, att_kernel=1),
        "dynamo", None, 505,
        "the bundled model's layout (1x28x28, 2 blocks per group, exits after block 1 of group 1, group 1, "
        "group 2) at widths 4/8/12, exported with the default (dynamo) exporter; random weights and BN statistics"),
}


def randomize(model: AttnWRN, seed: int):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for mod in model.modules():
            if isinstance(mod, (nn.Conv2d, nn.Linear)):
                fan_in = mod.weight[0].numel()
                mod.weight.copy_(torch.randn(mod.weight.shape, generator=g) * (1.5 / fan_in) ** 0.5)
                if mod.bias is not None:
                    mod.bias.copy_(torch.randn(mod.bias.shape, generator=g) * 0.1)
            elif isinstance(mod, nn.BatchNorm2d):
                c = mod.num_features
                mod.running_mean.copy_(torch.randn(c, generator=g) * 0.5)
                mod.running_var.copy_(torch.rand(c, generator=g) * 1.5 + 0.5)
                mod.weight.copy_(torch.rand(c, generator=g) + 0.5)
                mod.bias.copy_(torch.randn(c, generator=g) * 0.3)
        for att in model.modules():
            if isinstance(att, AttentionModule):
                att.att.weight.mul_(4.0)   # sharper spatial softmax than a plain random init
    return model.eval()


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        h.update(f.read())
    return h.hexdigest()


def write_fixture(name, model_path, inputs, names, manifest, check_torch=None):
    """inputs: [1,C,H,W] float32. Runs onnxruntime and writes the .npy files + manifest."""
    d = os.path.join(FIXTURES, name)
    os.makedirs(d, exist_ok=True)
    np.save(os.path.join(d, "input.npy"), inputs.astype(np.float32))
    outs = run_onnxruntime(model_path, inputs)
    for n in names:
        np.save(os.path.join(d, f"{n}.npy"), outs[n].astype(np.float32))
    if check_torch is not None:
        ref = ExportWrapper(check_torch)(torch.from_numpy(inputs))
        manifest["max_abs_diff_onnxruntime_vs_torch"] = max(
            float(np.max(np.abs(outs[n] - r.detach().numpy()))) for n, r in zip(names, ref))
    manifest = {"outputs": names, **manifest}
    with open(os.path.join(d, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")
    total = sum(os.path.getsize(os.path.join(d, fn)) for fn in os.listdir(d))
    print(f"{name}: {total / 1024:.0f} KB, outputs " + ", ".join(f"{n}{list(outs[n].shape)}" for n in names))
    return outs


def exporter_label(exporter, m):
    opset = {o.domain or "ai.onnx": o.version for o in m.opset_import}.get("ai.onnx")
    flag = "dynamo=True" if exporter == "dynamo" else "dynamo=False"
    return f"torch.onnx.export({flag}) torch {torch.__version__}, opset {opset}"


def make_random(name):
    cfg, exporter, opset, seed, desc = RANDOM_FIXTURES[name]
    torch.manual_seed(seed)
    model = randomize(AttnWRN(cfg), seed)
    d = os.path.join(FIXTURES, name)
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, "model.onnx")
    m = export_model(model, path, exporter, opset)
    x = np.random.RandomState(seed).randn(1, cfg.in_ch, cfg.in_hw, cfg.in_hw).astype(np.float32)
    names = output_names(model.num_exits)
    write_fixture(name, path, x, names, {
        "exporter": exporter_label(exporter, m),
        "description": desc,
        "input_shape": list(x.shape),
        "input_seed": f"np.random.RandomState({seed}).randn(1,{cfg.in_ch},{cfg.in_hw},{cfg.in_hw}).astype(float32)",
        "weights_seed": seed,
        "parameters": count_params(model),
        "op_histogram": op_histogram(m),
        "config": json.loads(cfg.to_json()),
        "made_by": "python Training/make_fixtures.py",
    }, check_torch=model)


def make_trained(onnx_path, name="fashion_attn_wrn_trained", count=8):
    import onnx

    d = os.path.join(FIXTURES, name)
    os.makedirs(d, exist_ok=True)
    dst = os.path.join(d, "model.onnx")
    extra = {}
    if os.path.getsize(onnx_path) <= 2_000_000:
        shutil.copyfile(onnx_path, dst)
    else:
        # too big to duplicate: reference the bundled file (path relative to this directory)
        if os.path.exists(dst):
            os.remove(dst)
        extra["model"] = os.path.relpath(os.path.abspath(onnx_path), d)
        dst = onnx_path
    m = onnx.load(dst)
    names = [o.name for o in m.graph.output]
    imgs = data.read_idx(os.path.join(MODELS, "fashion-test-sample-images-idx3-ubyte.gz"))[:count]
    labels = data.read_idx(os.path.join(MODELS, "fashion-test-sample-labels-idx1-ubyte.gz"))[:count]
    x = data.to_tensor(imgs).numpy()                       # [count,1,28,28]
    outs0 = write_fixture(name, dst, x[:1], names, {
        "exporter": "torch.onnx.export(dynamo=False) torch %s, opset %d (Models/fashion-attn-wrn.onnx)"
                    % (torch.__version__, [o.version for o in m.opset_import if o.domain in ("", "ai.onnx")][0]),
        "description": "the bundled trained Fashion-MNIST model; input.npy and <output>.npy are test-sample "
                       "image 0; samples8_input.npy [8,1,28,28] and samples8_<output>.npy [8,...] hold the first "
                       f"{count} images of Models/fashion-test-sample-images-idx3-ubyte.gz (one onnxruntime run "
                       "per image, stacked along axis 0)",
        **extra,
        "source_model": "Models/fashion-attn-wrn.onnx",
        "source_model_sha256": sha256(onnx_path),
        "normalization": {"mean": data.MEAN, "std": data.STD, "formula": "(pixel / 255 - mean) / std"},
        "samples": count,
        "samples_labels": [int(v) for v in labels],
        "op_histogram": op_histogram(m),
        "made_by": "python Training/make_fixtures.py",
    })
    stacked = {n: [] for n in names}
    for i in range(count):
        o = run_onnxruntime(dst, x[i:i + 1])
        for n in names:
            stacked[n].append(o[n][0])
    np.save(os.path.join(d, "samples8_input.npy"), x.astype(np.float32))
    np.save(os.path.join(d, "samples8_labels.npy"), labels.astype(np.int64))
    for n in names:
        np.save(os.path.join(d, f"samples8_{n}.npy"), np.stack(stacked[n]).astype(np.float32))
        assert np.array_equal(np.stack(stacked[n])[0], outs0[n][0])
    preds = {n: np.stack(stacked[n]).argmax(1).tolist() for n in names if n.endswith("logits")}
    print(f"{name}: labels {labels.tolist()} predictions {preds}")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--only", nargs="*", help="names of random fixtures to (re)make")
    p.add_argument("--skip-trained", action="store_true")
    p.add_argument("--trained-model", default=os.path.join(MODELS, "fashion-attn-wrn.onnx"))
    a = p.parse_args()
    torch.set_num_threads(1)
    for name in (a.only if a.only is not None else RANDOM_FIXTURES):
        make_random(name)
    if not a.skip_trained:
        make_trained(a.trained_model)


if __name__ == "__main__":
    main()
