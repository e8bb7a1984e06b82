#!/usr/bin/env python3
"""Train a pre-activation Wide ResNet with attention exits on Fashion-MNIST (CPU).

Example (the bundled model):
    python Training/train.py --out Training/runs/main
Ablation (same backbone, no attention modules, only the final head):
    python Training/train.py --out Training/runs/ablation --ad 0
Paper-faithful loss only (eq. 9 NLL + gamma * L_R):
    python Training/train.py --out Training/runs/paper --loss paper

Last step (unless --no-temper): one temperature for the attention exits' hypotheses in eq. 9 is
chosen on the validation split and folded into their output layers (temper.py); the untempered
weights stay in model_untempered.pt.

Writes into --out: log lines on stdout, model.pt (state dict + config), config.json,
history.json (per epoch), outputs_val.npz / outputs_test.npz (every head's logits and
gate for every image) and summary.json (accuracies, parameters, MACs, wall time).
"""
from __future__ import annotations

import argparse
import contextlib
import copy
import json
import math
import os
import sys
import time

# Passive OpenMP waiting: on shared, oversubscribed cores, spinning worker threads made
# 2-thread training up to ~10x slower (measured). Must be set before torch is imported.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import data  # noqa: E402
from model import (AttnWRN, ModelConfig, combine, count_params, mac_profile,  # noqa: E402
                   mask_regularizer)

DEFAULT_EXITS = {0: [], 1: ["2.end"], 2: ["1.end", "2.end"], 3: ["1.1", "1.end", "2.end"],
                 4: ["1.1", "1.end", "2.1", "2.end"]}


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", required=True)
    p.add_argument("--epochs", type=int, default=18)
    p.add_argument("--stem-width", type=int, default=16)
    p.add_argument("--widths", default="16,64,128", help="channels of the three groups")
    p.add_argument("--blocks", default="2,2,2", help="pre-activation blocks per group")
    p.add_argument("--ad", type=int, default=3, help="attention depth (number of attention modules); "
                   "positions from a default list unless --exits is given")
    p.add_argument("--exits", default=None, help="explicit attention positions, e.g. 1.1,1.end,2.end")
    p.add_argument("--aw", type=int, default=2, help="attention width: heads per module")
    p.add_argument("--att-kernel", type=int, default=1, choices=[1, 3])
    p.add_argument("--loss", choices=["exit", "paper"], default="exit")
    p.add_argument("--gamma", type=float, default=0.1, help="weight of the mask regulariser L_R (eq. 3-4)")
    p.add_argument("--gate-weight", type=float, default=1.0)
    p.add_argument("--exit-ce-weight", type=float, default=1.0,
                   help="weight of the attention exits' cross-entropy terms (the final head's is 1)")
    p.add_argument("--label-smoothing", type=float, default=0.05, help="for the per-exit CE terms")
    p.add_argument("--opt", choices=["sgd", "adamw"], default="sgd")
    p.add_argument("--lr", type=float, default=0.1, help="peak learning rate")
    p.add_argument("--wd", type=float, default=5e-4)
    p.add_argument("--sched", choices=["onecycle", "cosine"], default="onecycle")
    p.add_argument("--bs", type=int, default=128)
    p.add_argument("--pad", type=int, default=2, help="random-crop padding (0 = no crop)")
    p.add_argument("--no-flip", action="store_true")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--time-batches", type=int, default=0,
                   help="only time this many training batches, print the estimated epoch time, and exit")
    p.add_argument("--no-channels-last", action="store_true", help="use NCHW instead of channels_last (slower on CPU)")
    p.add_argument("--max-batches", type=int, default=0, help="debug: limit batches per epoch")
    p.add_argument("--bf16", action="store_true",
                   help="bfloat16 autocast for the forward pass (CPUs with AVX512_BF16/AMX; weights stay float32)")
    p.add_argument("--init", default=None,
                   help="start from this checkpoint's weights (model.pt of an earlier run with the same architecture): "
                        "fine-tuning")
    p.add_argument("--nll9-weight", type=float, default=1.0, help="weight of the eq. 9 output's NLL term")
    p.add_argument("--val-size", type=int, default=data.VAL_SIZE,
                   help="images of the fixed permutation held out as the validation split (default %(default)s, the "
                        "bundle's; 15000 was tried for issue 15 and not bundled: Training/RESULTS.md)")
    p.add_argument("--clutter", action="store_true",
                   help="train and evaluate on the Cluttered Translated variant (40x40 canvas, random placement, "
                        "four 8x8 distractor patches; data.clutter)")
    p.add_argument("--no-temper", action="store_true",
                   help="skip the last step: choosing the exits' eq. 9 temperature on the validation split "
                        "and folding it into their output layers (temper.py)")
    p.add_argument("--ema", type=float, default=0.0,
                   help="keep an exponential moving average of the weights with this decay (e.g. 0.999) and "
                        "evaluate, save and export the averaged model")
    return p.parse_args(argv)


def build_config(a) -> ModelConfig:
    exits = a.exits.split(",") if a.exits else DEFAULT_EXITS[a.ad]
    return ModelConfig(in_ch=1, in_hw=data.CLUTTER_CANVAS if a.clutter else 28, classes=10, stem_width=a.stem_width,
                       widths=tuple(int(v) for v in a.widths.split(",")),
                       blocks=tuple(int(v) for v in a.blocks.split(",")),
                       exits=tuple(exits), heads=a.aw, att_kernel=a.att_kernel)


MEMFMT = torch.contiguous_format


def augment(x, pad, flip, gen):
    B, _, H, W = x.shape
    if pad > 0:
        bg = (0.0 - data.MEAN) / data.STD
        xp = F.pad(x, (pad, pad, pad, pad), value=bg)
        oy = torch.randint(0, 2 * pad + 1, (B,), generator=gen)
        ox = torch.randint(0, 2 * pad + 1, (B,), generator=gen)
        rows = (oy[:, None] + torch.arange(H))[:, :, None]          # [B,H,1]
        cols = (ox[:, None] + torch.arange(W))[:, None, :]          # [B,1,W]
        x = xp[torch.arange(B)[:, None, None], 0, rows, cols].unsqueeze(1)
    if flip:
        m = torch.rand(B, generator=gen) < 0.5
        x = torch.where(m[:, None, None, None], x.flip(3), x)
    return x.contiguous(memory_format=MEMFMT)


def compute_loss(model, logits, gates_raw, y, a):
    gates = [torch.tanh(g) for g in gates_raw]
    combo = combine(logits, gates)
    loss_paper = F.nll_loss(combo, y)
    lr_reg = mask_regularizer(model.masks())
    loss = a.nll9_weight * loss_paper + a.gamma * lr_reg
    parts = {"nll9": loss_paper.item(), "L_R": float(lr_reg.detach()) if torch.is_tensor(lr_reg) else float(lr_reg)}
    if a.loss == "exit":
        ce = sum((1.0 if i == len(logits) - 1 else a.exit_ce_weight)
                 * F.cross_entropy(o, y, label_smoothing=a.label_smoothing) for i, o in enumerate(logits))
        # gate as exit confidence: BCE between (c+1)/2 = sigmoid(2*z) and "this head is right"
        gl = sum(F.binary_cross_entropy_with_logits(2 * z.squeeze(1), (o.argmax(1) == y).float().detach())
                 for o, z in zip(logits, gates_raw))
        loss = loss + ce + a.gate_weight * gl
        parts["ce"] = ce.item()
        parts["gate"] = gl.item()
    return loss, combo, parts


def float_list(ts):
    return [t.float() for t in ts]


class WeightAverage:
    """Exponential moving average of the parameters and the batch-norm running statistics."""

    def __init__(self, model, decay):
        self.decay = decay
        self.model = copy.deepcopy(model).eval()
        for p_ in self.model.parameters():
            p_.requires_grad_(False)
        self.steps = 0

    @torch.no_grad()
    def update(self, model):
        self.steps += 1
        d = min(self.decay, (1 + self.steps) / (10 + self.steps))   # short warm-up
        for pe, pm in zip(self.model.parameters(), model.parameters()):
            pe.mul_(d).add_(pm.detach(), alpha=1 - d)
        for be, bm in zip(self.model.buffers(), model.buffers()):
            if be.dtype.is_floating_point:
                be.mul_(d).add_(bm, alpha=1 - d)
            else:
                be.copy_(bm)


@torch.no_grad()
def evaluate(model, x, y, bs=500):
    model.eval()
    L, G = [], []
    for i in range(0, len(x), bs):
        logits, gates = model(x[i:i + bs].contiguous(memory_format=MEMFMT))
        L.append(torch.stack(logits))            # [E,b,C]
        G.append(torch.cat(gates, 1).T)          # [E,b]
    logits = torch.cat(L, 1)
    gates = torch.cat(G, 1)
    combo = combine(list(logits), list(gates[:, :, None]))
    acc = {"eq9": (combo.argmax(1) == y).float().mean().item()}
    E = logits.shape[0]
    for e in range(E):
        name = "final" if e == E - 1 else f"exit{e + 1}"
        acc[name] = (logits[e].argmax(1) == y).float().mean().item()
    return acc, logits.numpy(), gates.numpy()


def fmt_acc(acc):
    return " ".join(f"{k}={100 * v:.2f}" for k, v in acc.items())


def main(argv=None):
    a = parse_args(argv)
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    np.random.seed(a.seed)
    os.makedirs(a.out, exist_ok=True)
    cfg = build_config(a)
    model = AttnWRN(cfg)
    if a.init:
        state = torch.load(a.init, map_location="cpu")
        model.load_state_dict(state["state_dict"])
        print(f"initialised from {a.init}", flush=True)
    params = count_params(model)
    macs = mac_profile(model)
    global MEMFMT
    if not a.no_channels_last:
        MEMFMT = torch.channels_last
        model = model.to(memory_format=MEMFMT)
    print(f"config: {cfg}", flush=True)
    print(f"args: {vars(a)}", flush=True)
    print(f"parameters: {params}  MACs/image: {macs['total']}  exits cumulative MACs: "
          + ", ".join(f"{m} ({100 * m / macs['total']:.1f}%)" for m in macs["exits"]), flush=True)

    with open(os.path.join(a.out, "config.json"), "w") as f:
        f.write(cfg.to_json())
    data.VAL_SIZE = a.val_size  # the first val_size images of the fixed permutation (data.split_indices)
    splits = data.load_cluttered_splits() if a.clutter else data.load_splits()
    xtr, ytr = data.to_tensor(splits["train"][0]), torch.from_numpy(splits["train"][1])
    xva, yva = data.to_tensor(splits["val"][0]), torch.from_numpy(splits["val"][1])
    xte, yte = data.to_tensor(splits["test"][0]), torch.from_numpy(splits["test"][1])
    n = len(xtr)
    steps = n // a.bs
    if a.max_batches:
        steps = min(steps, a.max_batches)

    decay, no_decay = [], []
    for name, p_ in model.named_parameters():
        (no_decay if p_.ndim <= 1 else decay).append(p_)
    groups = [{"params": decay, "weight_decay": a.wd}, {"params": no_decay, "weight_decay": 0.0}]
    if a.opt == "sgd":
        opt = torch.optim.SGD(groups, lr=a.lr, momentum=0.9, nesterov=True)
    else:
        opt = torch.optim.AdamW(groups, lr=a.lr)
    total_steps = a.epochs * steps
    if a.sched == "onecycle":
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=a.lr, total_steps=total_steps,
                                                    pct_start=0.25, div_factor=10, final_div_factor=100)
    else:
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 0.5 * (1 + math.cos(math.pi * s / total_steps)))

    gen = torch.Generator().manual_seed(a.seed)
    autocast = (torch.autocast("cpu", dtype=torch.bfloat16) if a.bf16 else contextlib.nullcontext())
    ema = WeightAverage(model, a.ema) if a.ema > 0 else None
    history = []
    t_start = time.time()

    if a.time_batches:
        model.train()
        perm = torch.randperm(n, generator=gen)
        t0 = None
        for s in range(a.time_batches + 2):
            if s == 2:
                t0 = time.time()      # skip warm-up batches
            idx = perm[s * a.bs:(s + 1) * a.bs]
            xb = augment(xtr[idx], a.pad, not a.no_flip, gen)
            with autocast:
                logits, gates_raw = model(xb, raw_gates=True)
            loss, _, _ = compute_loss(model, float_list(logits), float_list(gates_raw), ytr[idx], a)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        dt = (time.time() - t0) / a.time_batches
        print(f"TIMING {dt:.3f} s/batch (bs {a.bs}) -> {dt * (n // a.bs):.0f} s/epoch "
              f"params={params} macs={macs['total']}", flush=True)
        return

    for ep in range(1, a.epochs + 1):
        model.train()
        t0 = time.time()
        perm = torch.randperm(n, generator=gen)
        tot_loss = tot_correct = tot_n = 0
        parts_acc = {}
        for s in range(steps):
            idx = perm[s * a.bs:(s + 1) * a.bs]
            xb = augment(xtr[idx], a.pad, not a.no_flip, gen)
            yb = ytr[idx]
            with autocast:
                logits, gates_raw = model(xb, raw_gates=True)
            loss, combo, parts = compute_loss(model, float_list(logits), float_list(gates_raw), yb, a)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            if ema is not None:
                ema.update(model)
            b = len(yb)
            tot_loss += loss.item() * b
            tot_correct += (combo.argmax(1) == yb).sum().item()
            tot_n += b
            for k, v in parts.items():
                parts_acc[k] = parts_acc.get(k, 0.0) + v * b
            if (s + 1) % max(1, steps // 10) == 0 or s + 1 == steps:
                el = time.time() - t0
                print(f"  epoch {ep} [{s + 1:4d}/{steps}] {100 * (s + 1) / steps:5.1f}% "
                      f"loss {tot_loss / tot_n:.4f} acc {100 * tot_correct / tot_n:.2f} "
                      f"{el:.0f}s (eta {el / (s + 1) * (steps - s - 1):.0f}s)", flush=True)
        train_time = time.time() - t0
        vacc, _, _ = evaluate(ema.model if ema else model, xva, yva)
        rec = {"epoch": ep, "loss": tot_loss / tot_n, "train_acc_eq9": tot_correct / tot_n,
               "parts": {k: v / tot_n for k, v in parts_acc.items()}, "val": vacc,
               "epoch_seconds": train_time, "lr": sched.get_last_lr()[0]}
        history.append(rec)
        print(f"epoch {ep}/{a.epochs} loss {rec['loss']:.4f} "
              + " ".join(f"{k} {v:.3g}" for k, v in rec["parts"].items())
              + f" train_acc {100 * rec['train_acc_eq9']:.2f} | val {fmt_acc(vacc)} | "
              f"{train_time:.0f}s (+{time.time() - t0 - train_time:.0f}s eval) total {time.time() - t_start:.0f}s",
              flush=True)
        with open(os.path.join(a.out, "history.json"), "w") as f:
            json.dump(history, f, indent=1)
        torch.save({"config": cfg.__dict__, "state_dict": (ema.model if ema else model).state_dict(), "args": vars(a)},
                   os.path.join(a.out, "model.pt"))

    wall = time.time() - t_start
    final_model = ema.model if ema else model
    extra = {}
    if not a.no_temper and final_model.num_exits > 0:
        import temper   # noqa: E402  (imports this module; only needed at the end)
        torch.save({"config": cfg.__dict__, "state_dict": final_model.state_dict(), "args": vars(a)},
                   os.path.join(a.out, "model_untempered.pt"))
        untempered_test = evaluate(final_model, xte, yte)[0]
        T, scan, untempered_val = temper.choose_and_fold(final_model, xva, yva)
        extra["untempered"] = {"val": untempered_val, "test": untempered_test}
        extra.update({"exit_temperature": T, "temperature_scan": scan})
        torch.save({"config": cfg.__dict__, "state_dict": final_model.state_dict(),
                    "args": {**vars(a), "exit_temperature": T}}, os.path.join(a.out, "model.pt"))
    vacc, vl, vg = evaluate(final_model, xva, yva)
    tacc, tl, tg = evaluate(final_model, xte, yte)
    np.savez_compressed(os.path.join(a.out, "outputs_val.npz"), logits=vl, gates=vg, labels=yva.numpy())
    np.savez_compressed(os.path.join(a.out, "outputs_test.npz"), logits=tl, gates=tg, labels=yte.numpy())
    if ema is not None:   # the raw (non-averaged) weights, for comparison
        extra["raw_weights"] = {"val": evaluate(model, xva, yva)[0], "test": evaluate(model, xte, yte)[0]}
        torch.save({"config": cfg.__dict__, "state_dict": model.state_dict(), "args": vars(a)},
                   os.path.join(a.out, "model_raw.pt"))
    summary = {**extra, "params": params, "macs_total": macs["total"], "macs_exits": macs["exits"],
               "wall_seconds": wall, "mean_epoch_seconds": float(np.mean([h["epoch_seconds"] for h in history])),
               "val": vacc, "test": tacc, "config": cfg.__dict__, "args": vars(a),
               "torch": torch.__version__, "threads": torch.get_num_threads()}
    with open(os.path.join(a.out, "summary.json"), "w") as f:
        json.dump(summary, f, indent=1)
    with open(os.path.join(a.out, "config.json"), "w") as f:
        f.write(cfg.to_json())
    print(f"FINAL wall {wall:.0f}s params {params} | val {fmt_acc(vacc)} | test {fmt_acc(tacc)}", flush=True)


if __name__ == "__main__":
    main()
