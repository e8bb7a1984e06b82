#!/usr/bin/env python3
"""Where the int8 exit disagreement comes from: a fake-quantization simulation in PyTorch.

Not the runtime's integer path: every tensor the runtime stores as int8 is rounded here to
the same grid (asymmetric per tensor, min/max ranges from the first 500 validation images)
and every conv / linear weight to int8 per output channel (symmetric, +-127), then computed in
float. The attention pooling reads the unrounded softmax and the exit decision reads the gate
before tanh, as the runtime's int8 path does. Exit decisions follow the `gate` policy with the
given thresholds (the bundled model's: `early-exit info Models/fashion-attn-wrn.eem`).

    python Training/quant_noise.py --run Training/runs/main30t \\
        --thresholds 0.9840345,0.93723613,0.89969057 --count 3000

Prints the share of test images whose exit matches float32 and the standard deviation of the
gate pre-activation error at each exit for: everything quantized; weights only; activations
only; 16-bit activations; one tensor (and its weights) at a time; wider precision for the
first blocks; per-channel activation ranges (the limit of cross-layer equalization); GPTQ-style
weight rounding (error feedback through each layer's inverse input Hessian, from `--gptq-images`
validation images).
"""
from __future__ import annotations

import argparse
import os
import sys

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import copy  # noqa: E402

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import data  # noqa: E402
from model import AttnWRN, ModelConfig  # noqa: E402


def weight_grid(w, bits):
    if bits is None:
        return w
    m = 2 ** (bits - 1) - 1
    flat = w.reshape(w.shape[0], -1)
    scale = flat.abs().max(1).values.clamp_min(1e-12) / m
    return (torch.round(flat / scale[:, None]).clamp(-m, m) * scale[:, None]).reshape(w.shape)


class Grid:
    """Rounds the named tensors. mode 'calib' records ranges, 'float' does nothing."""

    def __init__(self, mode, ranges=None, act_bits=8, weight_bits=8, only=None, wide=(), wide_bits=16):
        self.mode, self.ranges = mode, ({} if ranges is None else ranges)
        self.act_bits, self.weight_bits, self.only = act_bits, weight_bits, only
        self.wide, self.wide_bits = set(wide), wide_bits

    def _active(self, name):
        return self.mode == "q" and (self.only is None or name in self.only)

    def act(self, name, x):
        if self.mode == "calib":
            lo, hi = self.ranges.get(name, (0.0, 0.0))
            self.ranges[name] = (min(lo, x.min().item()), max(hi, x.max().item()))
            return x
        bits = self.wide_bits if name in self.wide else self.act_bits
        if not self._active(name) or bits is None:
            return x
        lo, hi = self.ranges[name]
        levels = 2 ** bits - 1
        scale = (hi - lo) / levels
        if scale == 0:
            return x
        zp = round(-lo / scale)
        return (torch.clamp(torch.round(x / scale) + zp, 0, levels) - zp) * scale

    def weight(self, name, w):
        bits = self.wide_bits if name + ".w" in self.wide else self.weight_bits
        return weight_grid(w, bits) if self._active(name + ".w") else w


class PerChannelGrid(Grid):
    """Like Grid, with one int8 range per channel (dimension 1) of every activation."""

    def act(self, name, x):
        if self.mode == "calib":
            dims = [0] + list(range(2, x.dim()))
            lo, hi = x.amin(dim=dims), x.amax(dim=dims)
            if name in self.ranges:
                lo, hi = torch.minimum(lo, self.ranges[name][0]), torch.maximum(hi, self.ranges[name][1])
            self.ranges[name] = (lo, hi)
            return x
        if not self._active(name) or self.act_bits is None:
            return x
        lo, hi = self.ranges[name]
        lo, hi = lo.clamp_max(0), hi.clamp_min(0)
        scale = ((hi - lo) / 255).clamp_min(1e-12)
        shape = [1, -1] + [1] * (x.dim() - 2)
        s, zp = scale.reshape(shape), torch.round(-lo / scale).reshape(shape)
        return (torch.clamp(torch.round(x / s) + zp, 0, 255) - zp) * s


def gptq_rounded(model, x, damp=0.01):
    """A copy of `model` whose conv and linear weights are rounded to their per-channel int8 grid
    column by column, each column's rounding error compensated in the columns not yet rounded
    through the inverse of the layer's input Hessian H = sum x x^T over the images `x` (GPTQ,
    Frantar et al. 2022). Rows scaled per channel afterwards (the exporter's folded batch norm)
    keep their rounding, as with round-to-nearest."""
    layers = [(n, m) for n, m in model.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    hessians = {}

    def hook(name):
        def record(module, inputs, output):
            v = inputs[0]
            if isinstance(module, nn.Conv2d):
                v = F.unfold(v, module.kernel_size, padding=module.padding, stride=module.stride)
                v = v.transpose(0, 1).reshape(v.shape[1], -1)
            else:
                v = v.reshape(-1, v.shape[-1]).t()
            v = v.double()
            hessians[name] = hessians.get(name, 0) + v @ v.t()
        return record

    handles = [m.register_forward_hook(hook(n)) for n, m in layers]
    with torch.no_grad():
        for i in range(0, len(x), 64):
            model(x[i:i + 64])
    for h in handles:
        h.remove()
    rounded = copy.deepcopy(model)
    for name, module in rounded.named_modules():
        if not isinstance(module, (nn.Conv2d, nn.Linear)):
            continue
        w = module.weight.data.double().reshape(module.weight.shape[0], -1).clone()
        scale = w.abs().max(1).values.clamp_min(1e-12) / 127
        h = hessians[name].clone()
        dead = torch.diag(h) == 0
        h[dead, dead] = 1
        w[:, dead] = 0
        h += damp * torch.diag(h).mean() * torch.eye(h.shape[0], dtype=h.dtype)
        u = torch.linalg.cholesky(torch.cholesky_inverse(torch.linalg.cholesky(h)), upper=True)
        q = torch.zeros_like(w)
        for i in range(w.shape[1]):
            q[:, i] = torch.clamp(torch.round(w[:, i] / scale), -127, 127) * scale
            err = (w[:, i] - q[:, i]) / u[i, i]
            w[:, i + 1:] -= err[:, None] * u[i, i + 1:][None, :]
        module.weight.data = q.reshape(module.weight.shape).float()
    return rounded


def bn_relu(g, name, bn, x):
    s = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    b = bn.bias - bn.running_mean * s
    return g.act(name, F.relu(x * s[None, :, None, None] + b[None, :, None, None]))


def conv(g, name, m, x, stored=True):
    y = F.conv2d(x, g.weight(name, m.weight), m.bias, m.stride, m.padding)
    return g.act(name, y) if stored else y


def forward(model, g, x):
    """The network as the runtime schedules it, with every stored tensor passed through g."""
    x = conv(g, "stem", model.stem, g.act("input", x))
    logits, gates, ai = [], [], 0
    for i, blk in enumerate(model.blocks):
        o = bn_relu(g, f"b{i}.bn1", blk.bn1, x)
        sc = x if blk.shortcut is None else conv(g, f"b{i}.sc", blk.shortcut, o)
        # PyTorch's exporter folds bn2 into conv1: the runtime stores only ReLU(BN(conv1)), so
        # conv1's output is not rounded on its own (rounding W*s per channel = s * rounding W).
        y = bn_relu(g, f"b{i}.bn2", blk.bn2, conv(g, f"b{i}.c1", blk.conv1, o, stored=False))
        x = g.act(f"b{i}.add", conv(g, f"b{i}.c2", blk.conv2, y) + sc)
        if ai < len(model.att_after) and model.att_after[ai] == i:
            at, n = model.atts[ai], f"att{ai}"
            z = bn_relu(g, n + ".z", at.bn, x)
            a = conv(g, n + ".a", at.att, z)
            B, C, H, W = z.shape
            m = torch.softmax(a.reshape(B, at.heads, H * W), -1)
            hp = g.act(n + ".pool", torch.matmul(m, z.reshape(B, C, H * W).transpose(1, 2))).flatten(1)
            logits.append(g.act(n + ".logits", F.linear(hp, g.weight(n + ".out", at.out.weight), at.out.bias)))
            gates.append(F.linear(hp, g.weight(n + ".gate", at.gate.weight), at.gate.bias)[:, 0])
            ai += 1
    p = g.act("final.gap", bn_relu(g, "final.z", model.bn, x).mean((2, 3)))
    logits.append(g.act("final.logits", F.linear(p, g.weight("final.fc", model.fc.weight), model.fc.bias)))
    gates.append(F.linear(p, g.weight("final.gate", model.final_gate.weight), model.final_gate.bias)[:, 0])
    return torch.stack(logits), torch.stack(gates)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--run", required=True)
    p.add_argument("--thresholds", required=True, help="gate thresholds of the attention exits, comma-separated")
    p.add_argument("--count", type=int, default=3000, help="test images")
    p.add_argument("--calibration", type=int, default=500, help="validation images for the ranges")
    p.add_argument("--gptq-images", type=int, default=256, help="validation images for GPTQ's Hessians")
    p.add_argument("--threads", type=int, default=1)
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    ck = torch.load(os.path.join(a.run, "model.pt"), map_location="cpu", weights_only=False)
    model = AttnWRN(ModelConfig.from_dict(ck["config"]))
    model.load_state_dict(ck["state_dict"])
    model.eval()
    th = torch.tensor([float(t) for t in a.thresholds.split(",")])
    if len(th) != model.num_exits:
        p.error(f"--thresholds: {model.num_exits} values needed, {len(th)} given")
    splits = data.load_cluttered_splits() if ck.get("args", {}).get("clutter") else data.load_splits()
    xcal = data.to_tensor(splits["val"][0][:a.calibration])
    xte = data.to_tensor(splits["test"][0][:a.count])

    @torch.no_grad()
    def run(g, xs, bs=500, net=None):
        outs = [forward(net or model, g, xs[i:i + bs]) for i in range(0, len(xs), bs)]
        return torch.cat([o[0] for o in outs], 1), torch.cat([o[1] for o in outs], 1)

    def exits(gate_pre):
        e = torch.full((gate_pre.shape[1],), len(th))
        for i in reversed(range(len(th))):
            e = torch.where(torch.tanh(gate_pre[i]) >= th[i], torch.tensor(i), e)
        return e

    calib = Grid("calib")
    run(calib, xcal)
    ranges = calib.ranges
    _, g_float = run(Grid("float"), xte)
    e_float = exits(g_float)

    def report(tag, g, net=None):
        _, gq = run(g, xte, net=net)
        same = (exits(gq) == e_float).float().mean().item()
        sd = (gq - g_float).std(1)
        print(f"{tag:46s} same exit {100 * same:6.2f}%   gate error sd "
              + " ".join(f"{v:.3f}" for v in sd.tolist()), flush=True)

    print(f"{a.count} test images, ranges from {a.calibration} validation images")
    report("int8 everywhere", Grid("q", ranges))
    report("int8 weights only", Grid("q", ranges, act_bits=None))
    report("int8 activations only", Grid("q", ranges, weight_bits=None))
    report("int16 activations, int8 weights", Grid("q", ranges, act_bits=16))
    for name in ranges:
        report(f"only {name} (and its weights)", Grid("q", ranges, only={name, name + ".w"}))
    for i in range(len(model.blocks)):
        report(f"only b{i}.c1's weights", Grid("q", ranges, only={f"b{i}.c1.w"}))
    first = ["input", "stem", "stem.w"] + [f"b0.{t}" for t in ("bn1", "c1", "c1.w", "bn2", "c2", "c2.w", "add")]
    second = [f"b1.{t}" for t in ("bn1", "c1", "c1.w", "bn2", "c2", "c2.w", "add")]
    atts = [f"att{i}.{t}" for i in (0, 1) for t in ("z", "a", "a.w", "pool")]
    report("16 bits: input, stem, block 1", Grid("q", ranges, wide=first))
    report("16 bits: ... and block 2", Grid("q", ranges, wide=first + second))
    report("16 bits: ... and attention modules 1, 2", Grid("q", ranges, wide=first + second + atts))
    report("16 bits everywhere", Grid("q", ranges, act_bits=16, weight_bits=16))
    per_channel = PerChannelGrid("calib")
    run(per_channel, xcal)
    report("per-channel activation ranges, float weights", PerChannelGrid("q", per_channel.ranges, weight_bits=None))
    report("per-channel activation ranges, int8 weights", PerChannelGrid("q", per_channel.ranges))
    rounded = gptq_rounded(model, data.to_tensor(splits["val"][0][:a.gptq_images]))
    report("GPTQ int8 weights only", Grid("q", ranges, act_bits=None, weight_bits=None), rounded)
    report("GPTQ int8 weights, int8 activations", Grid("q", ranges, weight_bits=None), rounded)


if __name__ == "__main__":
    main()
