"""Pre-activation Wide ResNet with attention modules ("attend and rectify",
seed paper 002, equations 1-9) and one exit per attention module.

Shared by train.py, export.py and make_fixtures.py.

Attention module on a feature map Z [B,C,H,W] (Z = ReLU(BN(x)) of the residual
stream x at that depth, because a pre-activation network's stream is not
normalised):
    a      = conv(Z)                                      [B,K,H,W]  (eq. 1, W_H)
    M      = softmax(a.reshape(B,K,H*W), dim=-1)          per-head spatial softmax
    Hpool  = matmul(M, Z.reshape(B,C,H*W).transpose(1,2)) [B,K,C]    (eq. 2 + 5, F = spatial sum)
    f      = Hpool.flatten(1)                             [B,K*C]
    logits = Linear(K*C -> classes)(f)                    (eq. 6)
    gate   = tanh(Linear(K*C -> 1)(f))                    (eq. 7, one gate per module)
The network head: BN-ReLU, global average pool, Linear -> final_logits,
final_gate = tanh(Linear(C -> 1)(pooled)).
The eq. 8-9 combination (softmax over the gates weighting each head's
log_softmax) is computed by `combine()`; the exported graph returns only the
raw heads and gates.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field, asdict

import torch
import torch.nn as nn
import torch.nn.functional as F


@dataclass
class ModelConfig:
    in_ch: int = 1
    in_hw: int = 28
    classes: int = 10
    stem_width: int = 16
    widths: tuple = (16, 48, 96)
    blocks: tuple = (2, 2, 2)
    strides: tuple = (1, 2, 2)        # stride of the first block of each group
    stem_stride: int = 1
    stem_pool: str = "none"           # none | max | avg (2x2, stride 2, after the stem conv)
    exits: tuple = ("1.1", "1.end", "2.end")  # attention positions "group.block" (1-based), "end" = last block
    heads: int = 2                    # AW: attention heads per module
    att_kernel: int = 1               # 1 (paper) or 3 (padding 1)
    dropout: float = 0.0

    def to_json(self) -> str:
        d = asdict(self)
        return json.dumps(d, indent=1)

    @staticmethod
    def from_dict(d: dict) -> "ModelConfig":
        d = dict(d)
        for k in ("widths", "blocks", "strides", "exits"):
            if k in d:
                d[k] = tuple(d[k])
        return ModelConfig(**d)


def resolve_exits(cfg: ModelConfig):
    """Return the sorted list of (group_index, block_index) 0-based positions."""
    pos = []
    for e in cfg.exits:
        g, b = e.split(".")
        g = int(g) - 1
        if not 0 <= g < len(cfg.blocks):
            raise ValueError(f"exit {e}: no group {g + 1}")
        b = cfg.blocks[g] - 1 if b == "end" else int(b) - 1
        if not 0 <= b < cfg.blocks[g]:
            raise ValueError(f"exit {e}: group {g + 1} has {cfg.blocks[g]} blocks")
        if (g, b) not in pos:
            pos.append((g, b))
    return sorted(pos)


class PreActBlock(nn.Module):
    def __init__(self, cin, cout, stride, dropout=0.0):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(cin)
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.dropout = dropout
        self.shortcut = None
        if stride != 1 or cin != cout:
            self.shortcut = nn.Conv2d(cin, cout, 1, stride, 0, bias=False)

    def forward(self, x):
        o = F.relu(self.bn1(x))
        sc = x if self.shortcut is None else self.shortcut(o)
        y = self.conv1(o)
        y = F.relu(self.bn2(y))
        if self.dropout > 0:
            y = F.dropout(y, self.dropout, self.training)
        y = self.conv2(y)
        return y + sc


class AttentionModule(nn.Module):
    """K attention heads + one output head + one gate (eq. 1, 2, 5, 6, 7)."""

    def __init__(self, channels, heads, classes, kernel=1):
        super().__init__()
        self.bn = nn.BatchNorm2d(channels)
        self.att = nn.Conv2d(channels, heads, kernel, 1, kernel // 2, bias=True)   # W_H
        self.out = nn.Linear(heads * channels, classes)                              # W_O
        self.gate = nn.Linear(heads * channels, 1)                                   # W_G
        self.heads = heads
        self.channels = channels
        self.last_masks = None

    def forward(self, x):
        z = F.relu(self.bn(x))
        B, C, H, W = z.shape
        a = self.att(z)                                              # [B,K,H,W]
        m = torch.softmax(a.reshape(B, self.heads, H * W), dim=-1)   # [B,K,HW]
        self.last_masks = m
        hpool = torch.matmul(m, z.reshape(B, C, H * W).transpose(1, 2))  # [B,K,C]
        f = hpool.flatten(1)                                         # [B,K*C]
        return self.out(f), self.gate(f)            # gate pre-activation; tanh applied by AttnWRN


class AttnWRN(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        self.stem = nn.Conv2d(cfg.in_ch, cfg.stem_width, 3, cfg.stem_stride, 1, bias=False)
        if cfg.stem_pool == "max":
            self.stem_pool = nn.MaxPool2d(2, 2)
        elif cfg.stem_pool == "avg":
            self.stem_pool = nn.AvgPool2d(2, 2)
        elif cfg.stem_pool == "none":
            self.stem_pool = None
        else:
            raise ValueError(cfg.stem_pool)
        self.exit_pos = resolve_exits(cfg)
        blocks = []
        atts = {}
        cin = cfg.stem_width
        for g, (w, n, s) in enumerate(zip(cfg.widths, cfg.blocks, cfg.strides)):
            for b in range(n):
                blocks.append(PreActBlock(cin, w, s if b == 0 else 1, cfg.dropout))
                cin = w
                if (g, b) in self.exit_pos:
                    atts[len(blocks) - 1] = AttentionModule(w, cfg.heads, cfg.classes, cfg.att_kernel)
        self.blocks = nn.ModuleList(blocks)
        # exit modules in order of depth; att_after[i] = index of the block they follow
        order = sorted(atts)
        self.att_after = order
        self.atts = nn.ModuleList([atts[i] for i in order])
        self.bn = nn.BatchNorm2d(cin)
        self.fc = nn.Linear(cin, cfg.classes)
        self.final_gate = nn.Linear(cin, 1)

    @property
    def num_exits(self):
        return len(self.atts)

    def forward(self, x, raw_gates: bool = False):
        """Returns (list of logits, list of gates): attention exits in depth order, then the final head.
        Gates are tanh(.) in [-1,1]; with raw_gates=True the pre-tanh values are returned instead."""
        logits, gates = [], []
        x = self.stem(x)
        if self.stem_pool is not None:
            x = self.stem_pool(x)
        ai = 0
        for i, blk in enumerate(self.blocks):
            x = blk(x)
            if ai < len(self.att_after) and self.att_after[ai] == i:
                o, c = self.atts[ai](x)
                logits.append(o)
                gates.append(c if raw_gates else torch.tanh(c))
                ai += 1
        z = F.relu(self.bn(x))
        pooled = F.adaptive_avg_pool2d(z, 1).flatten(1)
        logits.append(self.fc(pooled))
        c = self.final_gate(pooled)
        gates.append(c if raw_gates else torch.tanh(c))
        return logits, gates

    def masks(self):
        return [a.last_masks for a in self.atts]


def combine(logits, gates):
    """Eq. 8-9: g = softmax over the gates (one per head), output = sum_i g_i * log_softmax(o_i).
    Returns log-probability-like scores [B,classes]."""
    c = torch.cat(gates, dim=1)                      # [B,E]
    g = torch.softmax(c, dim=1)                      # eq. 8
    lp = torch.stack([F.log_softmax(o, dim=1) for o in logits], dim=1)  # [B,E,classes]
    return (g.unsqueeze(-1) * lp).sum(1)


def mask_regularizer(masks):
    """Eq. 3: sum over pairs i != j of (m_i . m_j)^2, per module, averaged over the batch, summed over modules."""
    total = 0.0
    for m in masks:
        if m is None or m.shape[1] < 2:
            continue
        gram = torch.matmul(m, m.transpose(1, 2))    # [B,K,K]
        k = gram.shape[1]
        off = gram * (1 - torch.eye(k, device=gram.device, dtype=gram.dtype))
        total = total + (off ** 2).sum((1, 2)).mean()
    return total


class ExportWrapper(nn.Module):
    """Returns exit1_logits, exit1_gate, ..., final_logits, final_gate (flat tuple)."""

    def __init__(self, model: AttnWRN):
        super().__init__()
        self.model = model

    def forward(self, input):
        logits, gates = self.model(input)
        out = []
        for o, c in zip(logits, gates):
            out += [o, c]
        return tuple(out)


def output_names(num_exits):
    names = []
    for i in range(1, num_exits + 1):
        names += [f"exit{i}_logits", f"exit{i}_gate"]
    return names + ["final_logits", "final_gate"]


def count_params(model):
    return sum(p.numel() for p in model.parameters())


def mac_profile(model: AttnWRN):
    """Multiply-accumulates of one image (conv, linear, attention matmul; BN, activations,
    softmax, pooling and additions are not counted).

    Returns dict with per-exit cumulative MACs: the cost of producing exit i's output when
    running from the input (backbone prefix + every attention module up to and including i),
    and the total for the full network.
    """
    cfg = model.cfg
    running = [0]
    marks = []
    hooks = []

    def conv_hook(m, inp, out):
        k = m.kernel_size[0] * m.kernel_size[1] * (m.in_channels // m.groups)
        running[0] += out.numel() // out.shape[0] * k

    def lin_hook(m, inp, out):
        running[0] += m.in_features * m.out_features

    def att_hook(m, inp, out):
        x = inp[0]
        _, C, H, W = x.shape
        running[0] += m.heads * H * W * C      # the attention matmul
        marks.append(running[0])

    for mod in model.modules():
        if isinstance(mod, nn.Conv2d):
            hooks.append(mod.register_forward_hook(conv_hook))
        elif isinstance(mod, nn.Linear):
            hooks.append(mod.register_forward_hook(lin_hook))
        elif isinstance(mod, AttentionModule):
            hooks.append(mod.register_forward_hook(att_hook))
    was = model.training
    model.eval()
    with torch.no_grad():
        model(torch.zeros(1, cfg.in_ch, cfg.in_hw, cfg.in_hw))
    model.train(was)
    for h in hooks:
        h.remove()
    total = running[0]
    return {"exits": marks, "total": total}
