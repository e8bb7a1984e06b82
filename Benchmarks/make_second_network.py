#!/usr/bin/env python3
"""Writes Benchmarks/models/attn-wrn-rgb32.onnx: the second network of Benchmarks/compare.sh, an
attention WRN from the training recipe (Training/model.py) on 3x32x32 inputs (CIFAR-shaped),
widths 32/64/128, two blocks per group, the recipe's three attention exits, random weights
(seed 7; batch-norm statistics randomized too so that no layer is an identity). Timing only:
its classes mean nothing. Needs torch and onnx (the training environment); compare.sh uses the
committed file and never needs torch.

    python3 Benchmarks/make_second_network.py
"""
import os
import sys

import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "Training"))
from model import AttnWRN, ModelConfig  # noqa: E402
from export import export_model  # noqa: E402


def main():
    torch.manual_seed(7)
    cfg = ModelConfig(in_ch=3, in_hw=32, classes=10, stem_width=32, widths=(32, 64, 128), blocks=(2, 2, 2))
    model = AttnWRN(cfg).eval()
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.5, 1.5)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.1, 0.1)
    path = os.path.join(ROOT, "Benchmarks", "models", "attn-wrn-rgb32.onnx")
    export_model(model, path, exporter="legacy", mean=[0.5, 0.5, 0.5], std=[0.25, 0.25, 0.25])
    print("wrote", path, os.path.getsize(path), "bytes")


if __name__ == "__main__":
    main()
