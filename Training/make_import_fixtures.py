#!/usr/bin/env python3
"""Import fixtures: the networks PyTorch users actually export, through both exporters as used by default.

    python Training/make_import_fixtures.py            # writes Tests/EarlyExitToolsTests/Fixtures/import/
    python Training/make_import_fixtures.py --list     # only prints the cases
    python Training/make_import_fixtures.py --operators   # single-operator cases -> Fixtures/import-operators/

Networks (random weights, fixed seeds, small widths and inputs so that each file stays small):
  ltpa_dot        seed 003 "Learn To Pay Attention", dot-product compatibility <l, g>
  ltpa_pc         seed 003, parametrised (additive) compatibility <u, l + g>
                  both written like the paper's reference code: a.expand_as(l), g_a = sum(a * l)
  ran             seed 004 "Residual Attention Network": trunk branch and soft-mask branch
                  (max-pool down, residual units, bilinear up, 1x1 convs, sigmoid), output (1 + M) * T;
                  module 1 upsamples with nn.UpsamplingBilinear2d (align_corners=True), module 2 with
                  F.interpolate(mode="bilinear") (half_pixel)
  einsum_pool     attention pooling torch.einsum('bkn,bcn->bkc', masks, features)
  resnet18        torchvision resnet18 (its own classes), widths 4/8/16/32, 3x32x32, 10 classes
  mobilenet_v2    torchvision mobilenet_v2(width_mult=0.25), 3x32x32, 10 classes
  mobilenet_v3_small  torchvision mobilenet_v3_small(width_mult=0.25), 3x32x32, 10 classes
The seed networks have exit heads named by the README's convention (exit{i}_logits, exit{i}_gate, ...,
final_logits, final_gate); the torchvision classifiers keep the single output their exporter names.

Exporters, each with its defaults:
  dynamo          torch.onnx.export(model, (x,), path, dynamo=True)   (weights in <model>.onnx.data)
  legacy17        torch.onnx.export(..., dynamo=False, opset_version=17)
  legacy18        torch.onnx.export(..., dynamo=False, opset_version=18)

Each case is a directory Fixtures/import/<network>_<exporter>/ with model.onnx (and model.onnx.data
for the dynamo exporter), input.npy (float32, fixed seed), <output>.npy for every graph output as
computed by onnxruntime (CPUExecutionProvider, one thread), and manifest.json (outputs, exporter,
opsets, operator histogram, the attributes of the operators the converter may not support yet,
max |onnxruntime - torch|, file sizes). Fixtures/import/manifest.json records the package versions,
the seeds and the cases. Everything is deterministic: the same versions give the same numbers.
"""
from __future__ import annotations

import argparse
import collections
import hashlib
import json
import os
import platform
import shutil
import sys
import warnings

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
FIXTURES = os.path.join(REPO, "Tests", "EarlyExitToolsTests", "Fixtures", "import")
# Operators whose attributes the manifest records (what a converter must handle).
WATCHED = {"Resize", "Upsample", "Clip", "Expand", "ReduceSum", "ReduceMax", "ReduceMean", "Slice", "Einsum",
           "HardSigmoid", "HardSwish", "Pad", "GlobalMaxPool", "LeakyRelu", "Split", "CastLike", "Cast",
           "Sub", "Div", "Mul", "Concat", "Gather", "Range", "ConstantOfShape", "Where", "Equal"}


def exit_names(n_early):
    names = []
    for i in range(1, n_early + 1):
        names += [f"exit{i}_logits", f"exit{i}_gate"]
    return names + ["final_logits", "final_gate"]


# --------------------------------------------------------------------------------------------
# Seed 003: Learn To Pay Attention (Jetley et al., 2018), written like its reference code.

class LinearAttentionBlock(nn.Module):
    """Compatibility scores c_i, attention a = softmax(c), and g_a = sum_i a_i l_i."""

    def __init__(self, channels, mode):
        super().__init__()
        self.mode = mode
        if mode == "pc":
            self.u = nn.Conv2d(channels, 1, kernel_size=1, bias=False)    # <u, l + g>

    def forward(self, l, g):
        N, C, H, W = l.size()
        if self.mode == "pc":
            c = self.u(l + g)                                              # [N,1,H,W], g broadcast [N,C,1,1]
        else:
            c = (l * g).sum(dim=1, keepdim=True)                           # <l, g>
        a = F.softmax(c.view(N, 1, -1), dim=2).view(N, 1, H, W)
        g_a = torch.mul(a.expand_as(l), l)
        g_a = g_a.view(N, C, -1).sum(dim=2)                                # [N,C]
        return a, g_a


class LTPA(nn.Module):
    """A small VGG-like network with three attention estimators on local features l1, l2, l3
    (projected to the global feature's width) and the global feature g from the network's end.
    Each estimator's g_a^s has an exit head (logits, tanh gate); the final head classifies
    concat(g_a^1, g_a^2, g_a^3) as in the paper."""

    def __init__(self, mode, classes=10, width=16):
        super().__init__()
        w = width

        def block(cin, cout):
            return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))

        self.conv1 = nn.Sequential(block(3, w), block(w, w))                  # 32x32
        self.conv2 = nn.Sequential(block(w, 2 * w), block(2 * w, 2 * w))      # 16x16 (after pool)
        self.conv3 = nn.Sequential(block(2 * w, 2 * w), block(2 * w, 2 * w))  # 8x8
        self.conv4 = nn.Sequential(block(2 * w, 2 * w), nn.MaxPool2d(2, 2), block(2 * w, 2 * w), nn.MaxPool2d(2, 2))  # 2x2
        self.dense = nn.Conv2d(2 * w, 2 * w, kernel_size=2, bias=True)     # g: [N,2w,1,1]
        self.projector = nn.Conv2d(w, 2 * w, kernel_size=1, bias=False)
        self.attn = nn.ModuleList([LinearAttentionBlock(2 * w, mode) for _ in range(3)])
        self.heads = nn.ModuleList([nn.Linear(2 * w, classes) for _ in range(3)])
        self.gates = nn.ModuleList([nn.Linear(2 * w, 1) for _ in range(3)])
        self.classify = nn.Linear(6 * w, classes)
        self.final_gate = nn.Linear(6 * w, 1)

    def forward(self, x):
        l1 = self.conv1(x)                                   # [N,w,32,32]
        l2 = self.conv2(F.max_pool2d(l1, 2, 2))              # [N,2w,16,16]
        l3 = self.conv3(F.max_pool2d(l2, 2, 2))              # [N,2w,8,8]
        g = self.dense(self.conv4(l3))                       # [N,2w,1,1]
        locals_ = [F.max_pool2d(self.projector(l1), 2, 2), l2, l3]
        outs, gs = [], []
        for s, l in enumerate(locals_):
            _, g_a = self.attn[s](l, g)
            gs.append(g_a)
            outs += [self.heads[s](g_a), torch.tanh(self.gates[s](g_a))]
        joint = torch.cat(gs, dim=1)
        return tuple(outs + [self.classify(joint), torch.tanh(self.final_gate(joint))])


# --------------------------------------------------------------------------------------------
# Seed 004: Residual Attention Network (Wang et al., 2017), p = 1, t = 2, r = 1.

class ResidualUnit(nn.Module):
    """Pre-activation bottleneck residual unit, as in the paper's code."""

    def __init__(self, cin, cout, stride=1):
        super().__init__()
        mid = max(cout // 4, 1)
        self.bn1 = nn.BatchNorm2d(cin)
        self.conv1 = nn.Conv2d(cin, mid, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(mid)
        self.conv2 = nn.Conv2d(mid, mid, 3, stride, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(mid)
        self.conv3 = nn.Conv2d(mid, cout, 1, bias=False)
        self.shortcut = nn.Conv2d(cin, cout, 1, stride, bias=False) if (cin != cout or stride != 1) else None

    def forward(self, x):
        o = F.relu(self.bn1(x))
        sc = x if self.shortcut is None else self.shortcut(o)
        y = self.conv1(o)
        y = self.conv2(F.relu(self.bn2(y)))
        y = self.conv3(F.relu(self.bn3(y)))
        return y + sc


class AttentionModuleRAN(nn.Module):
    """Trunk T(x) (t = 2 units) and soft mask M(x): max-pool down, r = 1 unit, bilinear up, a skip
    from the pre-pool resolution, two 1x1 convs, sigmoid. Output (1 + M) * T (attention residual learning)."""

    def __init__(self, channels, size, upsample):
        super().__init__()
        self.pre = ResidualUnit(channels, channels)                       # p = 1
        self.trunk = nn.Sequential(ResidualUnit(channels, channels), ResidualUnit(channels, channels))
        self.down1 = ResidualUnit(channels, channels)
        self.skip = ResidualUnit(channels, channels)
        self.down2 = nn.Sequential(ResidualUnit(channels, channels), ResidualUnit(channels, channels))
        self.up1 = ResidualUnit(channels, channels)
        self.upsample = upsample
        if upsample == "align_corners":
            self.up_a = nn.UpsamplingBilinear2d(size=(size // 2, size // 2))
            self.up_b = nn.UpsamplingBilinear2d(size=(size, size))
        self.mask_out = nn.Sequential(nn.BatchNorm2d(channels), nn.ReLU(inplace=True),
                                      nn.Conv2d(channels, channels, 1, bias=False), nn.BatchNorm2d(channels),
                                      nn.ReLU(inplace=True), nn.Conv2d(channels, channels, 1, bias=False), nn.Sigmoid())
        self.post = ResidualUnit(channels, channels)

    def up(self, x, which):
        if self.upsample == "align_corners":
            return (self.up_a if which == 0 else self.up_b)(x)
        return F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)

    def forward(self, x):
        x = self.pre(x)
        t = self.trunk(x)
        m1 = self.down1(F.max_pool2d(x, 3, 2, 1))                          # size/2
        skip = self.skip(m1)
        m2 = self.down2(F.max_pool2d(m1, 3, 2, 1))                         # size/4
        u1 = self.up(m2, 0) + m1 + skip                                    # size/2
        u1 = self.up1(u1)
        m = self.mask_out(self.up(u1, 1))                                  # size
        return self.post((1 + m) * t)


class RAN(nn.Module):
    def __init__(self, classes=10, width=8):
        super().__init__()
        w = width
        self.stem = nn.Sequential(nn.Conv2d(3, w, 3, padding=1, bias=False), nn.BatchNorm2d(w), nn.ReLU(inplace=True))
        self.unit1 = ResidualUnit(w, 2 * w)                                # 16x16 input below
        self.att1 = AttentionModuleRAN(2 * w, 16, "align_corners")
        self.unit2 = ResidualUnit(2 * w, 4 * w, stride=2)                  # 8x8
        self.att2 = AttentionModuleRAN(4 * w, 8, "half_pixel")
        self.unit3 = ResidualUnit(4 * w, 4 * w, stride=2)                  # 4x4
        self.bn = nn.BatchNorm2d(4 * w)
        self.exit_heads = nn.ModuleList([nn.Linear(2 * w, classes), nn.Linear(4 * w, classes)])
        self.exit_gates = nn.ModuleList([nn.Linear(2 * w, 1), nn.Linear(4 * w, 1)])
        self.fc = nn.Linear(4 * w, classes)
        self.final_gate = nn.Linear(4 * w, 1)

    def forward(self, x):
        x = self.unit1(self.stem(x))
        outs = []
        x = self.att1(x)
        p = x.mean((2, 3))
        outs += [self.exit_heads[0](p), torch.tanh(self.exit_gates[0](p))]
        x = self.att2(self.unit2(x))
        p = x.mean((2, 3))
        outs += [self.exit_heads[1](p), torch.tanh(self.exit_gates[1](p))]
        x = F.relu(self.bn(self.unit3(x)))
        p = F.adaptive_avg_pool2d(x, 1).flatten(1)
        return tuple(outs + [self.fc(p), torch.tanh(self.final_gate(p))])


# --------------------------------------------------------------------------------------------
# Attention pooling written with einsum.

class EinsumPool(nn.Module):
    def __init__(self, classes=10, width=12, heads=2):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(3, width, 3, 2, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU(inplace=True),
                                      nn.Conv2d(width, width, 3, 1, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU(inplace=True))
        self.att = nn.Conv2d(width, heads, 1)
        self.fc = nn.Linear(heads * width, classes)
        self.gate = nn.Linear(heads * width, 1)

    def forward(self, x):
        f = self.features(x)
        B, C, H, W = f.shape
        masks = torch.softmax(self.att(f).reshape(B, -1, H * W), dim=-1)          # [B,K,N]
        pooled = torch.einsum('bkn,bcn->bkc', masks, f.reshape(B, C, H * W))       # [B,K,C]
        z = pooled.flatten(1)
        return self.fc(z), torch.tanh(self.gate(z))


# --------------------------------------------------------------------------------------------
# torchvision classifiers at small widths (their own classes and forward()).

def small_resnet18(classes=10, widths=(4, 8, 16, 32)):
    from torchvision.models import resnet18
    from torchvision.models.resnet import BasicBlock
    m = resnet18(weights=None, num_classes=classes)
    m.inplanes = widths[0]
    m.conv1 = nn.Conv2d(3, widths[0], kernel_size=7, stride=2, padding=3, bias=False)
    m.bn1 = nn.BatchNorm2d(widths[0])
    m.layer1 = m._make_layer(BasicBlock, widths[0], 2)
    m.layer2 = m._make_layer(BasicBlock, widths[1], 2, stride=2)
    m.layer3 = m._make_layer(BasicBlock, widths[2], 2, stride=2)
    m.layer4 = m._make_layer(BasicBlock, widths[3], 2, stride=2)
    m.fc = nn.Linear(widths[3], classes)
    return m


def small_mobilenet_v2(classes=10):
    from torchvision.models import mobilenet_v2
    m = mobilenet_v2(weights=None, num_classes=classes, width_mult=0.25)
    # last_channel stays 1280 at width 0.25; a 128-wide last layer keeps the file small.
    last = m.features[-1]
    cin = last[0].in_channels
    m.features[-1] = type(last)(cin, 128, kernel_size=1, norm_layer=nn.BatchNorm2d, activation_layer=nn.ReLU6)
    m.classifier[1] = nn.Linear(128, classes)
    return m


def small_mobilenet_v3_small(classes=10):
    from torchvision.models import mobilenet_v3_small
    m = mobilenet_v3_small(weights=None, num_classes=classes, width_mult=0.25)
    hidden = m.classifier[0]
    m.classifier[0] = nn.Linear(hidden.in_features, 64)
    m.classifier[3] = nn.Linear(64, classes)
    return m


# name -> (constructor, input shape, output names or None (exporter's), seed, description)
NETWORKS = {
    "ltpa_dot": (lambda: LTPA("dot"), (1, 3, 32, 32), exit_names(3), 3001,
                 "seed 003 Learn To Pay Attention, dot-product compatibility <l, g>; VGG-like, width 16/32, "
                 "three attention estimators (l1 projected by a 1x1 conv), exit head per estimator, final head on concat(g_a)"),
    "ltpa_pc": (lambda: LTPA("pc"), (1, 3, 32, 32), exit_names(3), 3002,
                "seed 003 Learn To Pay Attention, parametrised compatibility <u, l + g>; otherwise as ltpa_dot"),
    "ran": (lambda: RAN(), (1, 3, 16, 16), exit_names(2), 4001,
            "seed 004 Residual Attention Network (p=1, t=2, r=1), two attention modules: module 1 upsamples with "
            "nn.UpsamplingBilinear2d (align_corners), module 2 with F.interpolate bilinear (half_pixel); (1 + M) * T; "
            "exit head after each module"),
    "einsum_pool": (lambda: EinsumPool(), (1, 3, 16, 16), ["final_logits", "final_gate"], 5001,
                    "attention pooling torch.einsum('bkn,bcn->bkc', masks, features), two heads, width 12"),
    "resnet18": (small_resnet18, (1, 3, 32, 32), None, 6001,
                 "torchvision resnet18 (its BasicBlock and forward), widths 4/8/16/32, 10 classes, one output"),
    "mobilenet_v2": (small_mobilenet_v2, (1, 3, 32, 32), None, 6002,
                     "torchvision mobilenet_v2(width_mult=0.25), last layer 128 wide, 10 classes, one output"),
    "mobilenet_v3_small": (small_mobilenet_v3_small, (1, 3, 32, 32), None, 6003,
                           "torchvision mobilenet_v3_small(width_mult=0.25), classifier hidden 64, 10 classes, one output"),
}
EXPORTERS = ["dynamo", "legacy17", "legacy18"]


def randomize(model, seed):
    """Random weights, and batch norms with random affine parameters and running statistics
    (so that BN is not the identity); attention convolutions a little sharper."""
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
                mod.running_mean.copy_(torch.randn(c, generator=g) * 0.3)
                mod.running_var.copy_(torch.rand(c, generator=g) * 1.0 + 0.5)
                mod.weight.copy_(torch.rand(c, generator=g) * 0.5 + 0.75)
                mod.bias.copy_(torch.randn(c, generator=g) * 0.2)
    return model.eval()


def export(model, x, path, exporter, output_names):
    kw = {"input_names": ["input"]}
    if output_names:
        kw["output_names"] = output_names
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if exporter == "dynamo":
            # The defaults: weights go to <path>.data (external data), the graph is optimized.
            torch.onnx.export(model, (x,), path, dynamo=True, verbose=False, **kw)
        else:
            torch.onnx.export(model, (x,), path, dynamo=False, opset_version=int(exporter[-2:]), **kw)


def attribute_value(attr):
    import onnx
    from onnx import helper
    v = helper.get_attribute_value(attr)
    if isinstance(v, bytes):
        return v.decode()
    if isinstance(v, (list, tuple)):
        return [x.decode() if isinstance(x, bytes) else x for x in v]
    if isinstance(v, onnx.TensorProto):
        return f"tensor{list(v.dims)}"
    return v


def describe_graph(m):
    """Operator histogram and the attributes (and constant inputs) of watched operators."""
    from onnx import numpy_helper
    hist = collections.Counter(n.op_type for n in m.graph.node)
    consts = {i.name: numpy_helper.to_array(i) for i in m.graph.initializer}
    for n in m.graph.node:
        if n.op_type == "Constant" and n.attribute and n.attribute[0].name == "value":
            consts[n.output[0]] = numpy_helper.to_array(n.attribute[0].t)
    seen = collections.OrderedDict()
    for n in m.graph.node:
        if n.op_type not in WATCHED:
            continue
        attrs = {a.name: attribute_value(a) for a in n.attribute}
        inputs = []
        for i in n.input:
            if i in consts and consts[i].size <= 8:
                inputs.append(consts[i].tolist())
            elif i in consts:
                inputs.append(f"const{list(consts[i].shape)}")
            else:
                inputs.append("" if i == "" else "x")
        key = json.dumps([n.op_type, attrs, inputs], sort_keys=True, default=str)
        seen[key] = seen.get(key, 0) + 1
    watched = [dict(zip(["op", "attributes", "inputs"], json.loads(k)), count=c) for k, c in seen.items()]
    return dict(sorted(hist.items())), watched


def run_onnxruntime(path, x):
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    names = [o.name for o in sess.get_outputs()]
    return names, sess.run(names, {sess.get_inputs()[0].name: x})


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def make_case(network, exporter, out_root):
    import onnx
    ctor, shape, names, seed, description = NETWORKS[network]
    torch.manual_seed(seed)
    model = randomize(ctor(), seed)
    x = np.random.RandomState(seed).randn(*shape).astype(np.float32)
    case = f"{network}_{exporter}"
    directory = os.path.join(out_root, case)
    shutil.rmtree(directory, ignore_errors=True)
    os.makedirs(directory)
    path = os.path.join(directory, "model.onnx")
    export(model, torch.from_numpy(x), path, exporter, names)
    m = onnx.load(path, load_external_data=False)
    external = sorted({e.value for t in m.graph.initializer for e in t.external_data if e.key == "location"})
    full = onnx.load(path)
    onnx.checker.check_model(full)
    out_names, outs = run_onnxruntime(path, x)
    with torch.no_grad():
        ref = model(torch.from_numpy(x))
    ref = ref if isinstance(ref, tuple) else (ref,)
    torch_diff = max(float(np.max(np.abs(o - r.numpy()))) for o, r in zip(outs, ref))
    np.save(os.path.join(directory, "input.npy"), x)
    for n, o in zip(out_names, outs):
        np.save(os.path.join(directory, f"{n}.npy"), o.astype(np.float32))
    hist, watched = describe_graph(full)
    files = sorted(os.listdir(directory))
    manifest = {
        "case": case, "network": network, "exporter": exporter, "description": description,
        "input": "input.npy", "input_shape": list(shape), "seed": seed,
        "outputs": out_names,
        "opset_import": {o.domain or "ai.onnx": o.version for o in m.opset_import},
        "external_data_files": external,
        "operators": hist, "watched_operators": watched,
        "max_abs_onnxruntime_vs_torch": torch_diff,
        "files": {f: {"bytes": os.path.getsize(os.path.join(directory, f)), "sha256": sha256(os.path.join(directory, f))}
                  for f in files},
    }
    with open(os.path.join(directory, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1, sort_keys=False)
        f.write("\n")
    size = sum(os.path.getsize(os.path.join(directory, f)) for f in os.listdir(directory))
    print(f"{case}: {size} bytes, opset {manifest['opset_import']}, external {external}, "
          f"|ort - torch| {torch_diff:.2e}, ops {', '.join(f'{k}:{v}' for k, v in hist.items())}")
    return manifest, size


# --------------------------------------------------------------------------------------------
# Single-operator cases: the modes the networks above do not reach, built with onnx.helper so
# that each attribute is exactly what the case names. Each graph takes X [1, C, H, W] and ends in
# Flatten (a plain classifier's [1, N] output), and is run by onnxruntime.

OPERATOR_FIXTURES = os.path.join(REPO, "Tests", "EarlyExitToolsTests", "Fixtures", "import-operators")


def operator_cases():
    """name -> (opset, input shape, build(helper, numpy_helper, X) -> (nodes, initializers, last value), description)."""
    from onnx import TensorProto

    def const(helper, name, values, dtype=np.float32):
        from onnx import numpy_helper
        return numpy_helper.from_array(np.array(values, dtype=dtype), name)

    cases = {}

    def resize(name, opset, shape, mode, coords, nearest, scales=None, sizes=None, description=""):
        def build(h, X):
            inits = [const(h, "roi", [], np.float32)]
            ins = [X, "roi"]
            if scales is not None:
                inits.append(const(h, "scales", scales))
                ins.append("scales")
            else:
                inits.append(const(h, "sizes", sizes, np.int64))
                ins += ["", "sizes"]
            node = h.make_node("Resize", ins, ["r"], mode=mode, coordinate_transformation_mode=coords, nearest_mode=nearest)
            return [node], inits, "r"
        cases[name] = (opset, shape, build, description or f"Resize {mode} {coords} {nearest}")

    resize("resize_nearest_asymmetric_floor", 13, [1, 2, 4, 3], "nearest", "asymmetric", "floor", scales=[1, 1, 2, 2],
           description="Resize nearest, asymmetric, floor, scales x2 (F.interpolate(mode='nearest') as exported)")
    resize("resize_nearest_half_pixel_prefer_floor", 13, [1, 2, 4, 3], "nearest", "half_pixel", "round_prefer_floor",
           sizes=[1, 2, 7, 5], description="Resize nearest, half_pixel, round_prefer_floor, sizes 4x3 -> 7x5")
    resize("resize_nearest_pytorch_half_pixel_prefer_ceil", 13, [1, 2, 6, 7], "nearest", "pytorch_half_pixel",
           "round_prefer_ceil", scales=[1, 1, 0.5, 1.5], description="Resize nearest, pytorch_half_pixel, round_prefer_ceil, scales 0.5 and 1.5")
    resize("resize_nearest_align_corners_ceil", 13, [1, 2, 4, 5], "nearest", "align_corners", "ceil", sizes=[1, 2, 7, 3],
           description="Resize nearest, align_corners, ceil, sizes 4x5 -> 7x3")
    resize("resize_linear_asymmetric", 13, [1, 3, 4, 5], "linear", "asymmetric", "floor", scales=[1, 1, 2, 1.5],
           description="Resize linear, asymmetric, scales 2 and 1.5")
    resize("resize_linear_pytorch_half_pixel", 13, [1, 3, 6, 5], "linear", "pytorch_half_pixel", "floor", sizes=[1, 3, 1, 9],
           description="Resize linear, pytorch_half_pixel, sizes 6x5 -> 1x9 (an output extent of 1)")
    resize("resize_linear_half_pixel_down", 18, [1, 2, 9, 8], "linear", "half_pixel", "round_prefer_floor", scales=[1, 1, 0.6, 0.5],
           description="Resize linear, half_pixel, downsampling by 0.6 and 0.5 (opset 18)")

    def pad(name, opset, mode, pads, value=None, axes=None, description=""):
        def build(h, X):
            inits = [const(h, "pads", pads, np.int64)]
            ins = [X, "pads"]
            if value is not None or axes is not None:
                if value is not None:
                    inits.append(const(h, "value", value))
                    ins.append("value")
                else:
                    ins.append("")
            if axes is not None:
                inits.append(const(h, "axes", axes, np.int64))
                ins.append("axes")
            return [h.make_node("Pad", ins, ["p"], mode=mode)], inits, "p"
        cases[name] = (opset, [1, 2, 4, 5], build, description)

    pad("pad_constant", 13, "constant", [0, 0, 1, 2, 0, 1, 2, 1], value=0.7, description="Pad constant 0.7 on every side (F.pad)")
    pad("pad_reflect", 13, "reflect", [0, 0, 3, 2, 0, 0, 1, 4], description="Pad reflect (nn.ReflectionPad2d)")
    pad("pad_edge", 13, "edge", [0, 1, 2, 0, 0, 0, 3, 1], description="Pad edge (nn.ReplicationPad2d), channels too")
    pad("pad_wrap_axes", 19, "wrap", [2, 1, 3, 5], axes=[2, 3], description="Pad wrap with an axes input (opset 19)")

    def simple(name, opset, shape, build, description):
        cases[name] = (opset, shape, build, description)

    simple("global_max_pool", 13, [1, 4, 5, 6], lambda h, X: ([h.make_node("GlobalMaxPool", [X], ["g"])], [], "g"),
           "GlobalMaxPool (F.adaptive_max_pool2d(x, 1))")
    simple("leaky_relu", 13, [1, 3, 4, 5], lambda h, X: ([h.make_node("LeakyRelu", [X], ["l"], alpha=0.05)], [], "l"),
           "LeakyRelu alpha 0.05")
    simple("hard_sigmoid_default_clip_min", 13, [1, 3, 4, 5],
           lambda h, X: ([h.make_node("HardSigmoid", [X], ["s"]), h.make_node("Clip", ["s", "lo"], ["c"])],
                         [const(h, "lo", 0.3)], "c"),
           "HardSigmoid with the default alpha 0.2, then Clip with only a minimum")

    def split13(h, X):
        return ([h.make_node("Split", [X, "split"], ["a", "b", "c"], axis=1),
                 h.make_node("Sub", ["a", "c"], ["d"]), h.make_node("Concat", ["d", "b"], ["s"], axis=1)],
                [const(h, "split", [2, 3, 2], np.int64)], "s")
    simple("split_sizes", 13, [1, 7, 3, 4], split13, "Split into 2, 3, 2 channels (sizes input), Sub and Concat of the parts")

    def split18(h, X):
        return ([h.make_node("Split", [X], ["a", "b", "c"], axis=3, num_outputs=3), h.make_node("Mul", ["b", "b"], ["bb"]),
                 h.make_node("Add", ["bb", "one"], ["den"]), h.make_node("Div", ["a", "den"], ["q"]),
                 h.make_node("Concat", ["q", "c"], ["s"], axis=3)],
                [const(h, "one", [1.0])], "s")
    simple("split_num_outputs_div", 18, [1, 2, 3, 8], split18,
           "Split into 3 along the width with num_outputs (opset 18; parts 3, 3, 2), Div of two activations")

    def broadcast(h, X):
        return ([h.make_node("ReduceMean", [X], ["m"], axes=[2, 3], keepdims=1), h.make_node("Sub", [X, "m"], ["d"]),
                 h.make_node("ReduceMax", [X], ["mx"], axes=[1], keepdims=1), h.make_node("Sigmoid", ["mx"], ["sg"]),
                 h.make_node("Add", ["sg", "half"], ["den"]), h.make_node("Div", ["d", "den"], ["q"]),
                 h.make_node("Sub", ["half", "q"], ["r"])],
                [const(h, "half", [0.5])], "r")
    simple("sub_div_broadcast", 13, [1, 3, 4, 5], broadcast,
           "Sub and Div of activations with general broadcasting ([1,3,4,5] with [1,3,1,1] and [1,1,4,5]), constant minus activation")

    def reduces(h, X):
        return ([h.make_node("ReduceSum", [X], ["s"], axes=[2, 3], keepdims=1),
                 h.make_node("ReduceMax", [X], ["m"], axes=[1], keepdims=0),
                 h.make_node("Flatten", ["s"], ["fs"]), h.make_node("Flatten", ["m"], ["fm"]),
                 h.make_node("Concat", ["fs", "fm"], ["c"], axis=1)], [], "c")
    simple("reduce_sum_max_attribute_axes", 11, [1, 3, 4, 5], reduces,
           "ReduceSum over [2, 3] keepdims and ReduceMax over [1] without keepdims, axes as attributes (opset 11)")

    def reduce18(h, X):
        return ([h.make_node("ReduceMax", [X, "axes"], ["m"], keepdims=1), h.make_node("ReduceSum", ["m", "axes2"], ["s"], keepdims=0)],
                [const(h, "axes", [-1], np.int64), const(h, "axes2", [1], np.int64)], "s")
    simple("reduce_max_sum_input_axes", 18, [1, 3, 4, 5], reduce18, "ReduceMax over [-1] and ReduceSum over [1], axes as inputs (opset 18)")

    simple("reduce_mean_channels", 13, [1, 3, 4, 5],
           lambda h, X: ([h.make_node("ReduceMean", [X], ["m"], axes=[1], keepdims=1)], [], "m"),
           "ReduceMean over the channels (not the spatial axes): a sum and a scale")

    def slices(h, X):
        return ([h.make_node("Slice", [X, "st", "en", "ax", "sp"], ["s"])],
                [const(h, "st", [-1, 1], np.int64), const(h, "en", [-1000, 100], np.int64), const(h, "ax", [3, 1], np.int64),
                 const(h, "sp", [-2, 2], np.int64)], "s")
    simple("slice_steps", 13, [1, 5, 3, 7], slices, "Slice of an activation: width backwards by 2 from the end, channels 1, 3")

    def einsums(h, X):
        return ([h.make_node("Reshape", [X, "shape"], ["r"]),
                 h.make_node("Einsum", ["r", "r"], ["g"], equation="bij,bkj->bik"),
                 h.make_node("Einsum", ["g", "w"], ["p"], equation="bik,kc->bic"),
                 h.make_node("Einsum", [X], ["t"], equation="bchw->bwhc"),
                 h.make_node("Einsum", ["t", "v"], ["u"], equation="bwhc,c->bwh"),
                 h.make_node("Flatten", ["p"], ["fp"]), h.make_node("Flatten", ["u"], ["fu"]),
                 h.make_node("Concat", ["fp", "fu"], ["c"], axis=1)],
                [const(h, "shape", [1, 3, 20], np.int64), const(h, "w", np.linspace(-1, 1, 9).reshape(3, 3)),
                 const(h, "v", [0.5, -1.0, 2.0])], "c")
    simple("einsum_forms", 13, [1, 3, 4, 5], einsums,
           "Einsum: a Gram matrix 'bij,bkj->bik', a constant right operand 'bik,kc->bic', a transpose 'bchw->bwhc', a contraction with a vector")

    def folded(h, X):
        # Shape -> Slice -> Cast -> CastLike -> ConstantOfShape/Expand of constants, folded at conversion.
        return ([h.make_node("Shape", [X], ["shp"]), h.make_node("Slice", ["shp", "s0", "s1"], ["hw"]),
                 h.make_node("Cast", ["hw"], ["hwf"], to=TensorProto.FLOAT), h.make_node("CastLike", ["hwf", "i64"], ["hwi"]),
                 h.make_node("ConstantOfShape", ["hwi"], ["ones"], value=const(h, "v", [0.25])),
                 h.make_node("Expand", ["bias", "hwi"], ["bx"]), h.make_node("Add", ["ones", "bx"], ["k"]),
                 h.make_node("Mul", [X, "k"], ["y"]), h.make_node("Expand", ["y", "full"], ["e"])],
                [const(h, "s0", [2], np.int64), const(h, "s1", [4], np.int64), const(h, "i64", [0], np.int64),
                 const(h, "bias", [[1.0], [2.0], [3.0], [4.0]]), const(h, "full", [1, 2, 4, 5], np.int64)], "e")
    simple("constant_folding_expand", 15, [1, 1, 4, 5], folded,
           "Shape -> Slice -> Cast -> CastLike -> ConstantOfShape and Expand of constants (all folded), then Expand of an activation")
    return cases


def make_operator_case(name, out_root):
    import onnx
    from onnx import helper, TensorProto
    opset, shape, build, description = operator_cases()[name]
    nodes, inits, last = build(helper, "X")
    nodes = nodes + [helper.make_node("Flatten", [last], ["Y"], axis=1)]
    graph = helper.make_graph(nodes, name, [helper.make_tensor_value_info("X", TensorProto.FLOAT, shape)],
                              [helper.make_tensor_value_info("Y", TensorProto.FLOAT, ["batch", "features"])], initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], producer_name="make_import_fixtures.py")
    model.ir_version = 8 if opset < 19 else 9
    onnx.checker.check_model(model, full_check=True)
    directory = os.path.join(out_root, name)
    shutil.rmtree(directory, ignore_errors=True)
    os.makedirs(directory)
    path = os.path.join(directory, "model.onnx")
    onnx.save(model, path)
    seed = int(hashlib.sha256(name.encode()).hexdigest()[:8], 16)
    x = np.random.RandomState(seed).randn(*shape).astype(np.float32) * 2
    _, outs = run_onnxruntime(path, x)
    np.save(os.path.join(directory, "input.npy"), x)
    np.save(os.path.join(directory, "Y.npy"), outs[0].astype(np.float32))
    hist, watched = describe_graph(model)
    manifest = {"case": name, "description": description, "opset": opset, "input_shape": shape, "seed": seed,
                "outputs": ["Y"], "output_shape": list(outs[0].shape), "operators": hist, "watched_operators": watched}
    with open(os.path.join(directory, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")
    print(f"{name}: opset {opset}, output {list(outs[0].shape)}, ops {', '.join(f'{k}:{v}' for k, v in hist.items())}")
    return manifest


def make_operator_fixtures(out_root):
    import onnx
    import onnxruntime
    os.makedirs(out_root, exist_ok=True)
    names = sorted(operator_cases())
    for name in names:
        make_operator_case(name, out_root)
    top = {"generator": "Training/make_import_fixtures.py --operators",
           "versions": {"onnx": onnx.__version__, "onnxruntime": onnxruntime.__version__, "numpy": np.__version__},
           "cases": names}
    with open(os.path.join(out_root, "manifest.json"), "w") as f:
        json.dump(top, f, indent=1)
        f.write("\n")
    print(f"{len(names)} operator cases in {out_root}")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default=None)
    p.add_argument("--only", nargs="*", help="network names (default: all)")
    p.add_argument("--list", action="store_true")
    p.add_argument("--operators", action="store_true",
                   help="write the single-operator cases (Fixtures/import-operators/) instead of the networks")
    a = p.parse_args()
    if a.operators:
        if a.list:
            print("\n".join(sorted(operator_cases())))
        else:
            make_operator_fixtures(a.out or OPERATOR_FIXTURES)
        return
    a.out = a.out or FIXTURES
    networks = a.only or list(NETWORKS)
    if a.list:
        for n in networks:
            for e in EXPORTERS:
                print(f"{n}_{e}")
        return
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    import onnx
    import onnxruntime
    import onnxscript
    import torchvision
    os.makedirs(a.out, exist_ok=True)
    cases, total = [], 0
    for n in networks:
        for e in EXPORTERS:
            manifest, size = make_case(n, e, a.out)
            cases.append({"case": manifest["case"], "network": n, "exporter": e, "bytes": size,
                          "outputs": manifest["outputs"]})
            total += size
    top = {
        "generator": "Training/make_import_fixtures.py",
        "versions": {"python": platform.python_version(), "torch": torch.__version__,
                     "torchvision": torchvision.__version__, "onnx": onnx.__version__,
                     "onnxruntime": onnxruntime.__version__, "onnxscript": onnxscript.__version__,
                     "numpy": np.__version__},
        "exporters": {"dynamo": "torch.onnx.export(model, (x,), path, dynamo=True) with its defaults",
                      "legacy17": "torch.onnx.export(model, (x,), path, dynamo=False, opset_version=17)",
                      "legacy18": "torch.onnx.export(model, (x,), path, dynamo=False, opset_version=18)"},
        "networks": {n: {"seed": NETWORKS[n][3], "input_shape": list(NETWORKS[n][1]), "description": NETWORKS[n][4]}
                     for n in networks},
        "cases": cases,
        "total_bytes": total,
    }
    with open(os.path.join(a.out, "manifest.json"), "w") as f:
        json.dump(top, f, indent=1)
        f.write("\n")
    print(f"{len(cases)} cases, {total} bytes in {a.out}")


if __name__ == "__main__":
    main()
