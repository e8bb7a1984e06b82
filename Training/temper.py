#!/usr/bin/env python3
"""Choose the temperature of the early hypotheses in eq. 9 on the validation split and
fold it into the exits' output layers.

Eq. 9 weighs every head's log-softmax by the softmax over the gates. The gates lie in
[-1, 1] (tanh), so a weak early exit can never weigh less than e^-2 of the final head;
its confident mistakes pull the combination below the final head alone. Dividing an
exit's hypothesis o = F(M*Z) W_O by a temperature T > 1 flattens its log-softmax, so it
still votes but with less conviction. The exit's own prediction (argmax), its gate and
therefore every gate-based exit decision are unchanged; only eq. 9 (and the maximum
softmax probability, whose thresholds are tuned afterwards anyway) sees the change.

One temperature is shared by all attention exits (the network's own head keeps T = 1).
It is the grid value with the best eq. 9 accuracy on the 5,000 validation images (ties go
to the smaller T); the test set is evaluated only after the choice, for the report.
The temperature is folded into W_O and its bias (o/T = (W_O/T) f + b/T), so the tempered
network is an ordinary checkpoint: export.py, analyze.py and the runtime need nothing new.

    python Training/temper.py --run Training/runs/main30 --out Training/runs/main30t

train.py runs the same step at its end (unless --no-temper); this script tempers runs made before.

Writes into --out: model.pt, config.json, outputs_val.npz / outputs_test.npz (re-evaluated
with the folded weights) and summary.json (with the scan and the chosen temperature).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402
import torch  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import data  # noqa: E402
from model import AttnWRN, ModelConfig, combine  # noqa: E402
from train import evaluate, fmt_acc  # noqa: E402

GRID = (1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 8.0)


def eq9_accuracy(logits, gates, labels, temperature):
    """Eq. 9 accuracy with every attention exit's logits divided by `temperature`."""
    lg = torch.from_numpy(logits).double().clone()
    lg[:-1] /= temperature
    g = torch.from_numpy(gates).double()
    combo = combine(list(lg), list(g[:, :, None]))
    return (combo.argmax(1) == torch.from_numpy(labels)).double().mean().item()


def choose_and_fold(model, xva, yva, grid=GRID):
    """Choose the temperature on the validation images (xva, yva), divide every attention exit's
    W_O and bias by it in place, and return (temperature, scan, untempered validation accuracies)."""
    with torch.no_grad():
        vacc0, vl, vg = evaluate(model, xva, yva)
    scan = []
    for t in grid:
        acc = eq9_accuracy(vl, vg, yva.numpy(), t)
        scan.append({"temperature": t, "val_eq9": acc})
        print(f"T={t:g}: validation eq. 9 {100 * acc:.2f}%", flush=True)
    best = max(scan, key=lambda r: (r["val_eq9"], -r["temperature"]))
    T = best["temperature"]
    print(f"chosen T={T:g} (validation eq. 9 {100 * best['val_eq9']:.2f}%, "
          f"untempered {100 * vacc0['eq9']:.2f}%)", flush=True)
    with torch.no_grad():
        for att in model.atts:
            att.out.weight.div_(T)
            att.out.bias.div_(T)
    return T, scan, vacc0


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--run", required=True, help="a train.py output directory")
    p.add_argument("--out", required=True)
    p.add_argument("--grid", default=",".join(str(t) for t in GRID))
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    grid = sorted(float(t) for t in a.grid.split(","))
    if not grid or any(t <= 0 for t in grid):
        p.error("--grid: positive temperatures, comma-separated")

    ck = torch.load(os.path.join(a.run, "model.pt"), map_location="cpu", weights_only=False)
    cfg = ModelConfig.from_dict(ck["config"])
    model = AttnWRN(cfg)
    model.load_state_dict(ck["state_dict"])
    model.eval()
    if model.num_exits == 0:
        sys.exit("temper.py: the network has no attention exits; nothing to temper")
    if ck.get("args", {}).get("exit_temperature"):
        sys.exit(f"temper.py: {a.run}/model.pt is already tempered (T={ck['args']['exit_temperature']})")

    splits = data.load_cluttered_splits() if ck.get("args", {}).get("clutter") else data.load_splits()
    xva, yva = data.to_tensor(splits["val"][0]), torch.from_numpy(splits["val"][1])
    xte, yte = data.to_tensor(splits["test"][0]), torch.from_numpy(splits["test"][1])

    T, scan, _ = choose_and_fold(model, xva, yva, grid)
    with torch.no_grad():
        vacc, vl, vg = evaluate(model, xva, yva)
        tacc, tl, tg = evaluate(model, xte, yte)
    print(f"tempered: val {fmt_acc(vacc)} | test {fmt_acc(tacc)}", flush=True)

    os.makedirs(a.out, exist_ok=True)
    args = dict(ck.get("args", {}))
    args["exit_temperature"] = T
    torch.save({"config": ck["config"], "state_dict": model.state_dict(), "args": args},
               os.path.join(a.out, "model.pt"))
    with open(os.path.join(a.out, "config.json"), "w") as f:
        f.write(cfg.to_json())
    np.savez_compressed(os.path.join(a.out, "outputs_val.npz"), logits=vl, gates=vg, labels=yva.numpy())
    np.savez_compressed(os.path.join(a.out, "outputs_test.npz"), logits=tl, gates=tg, labels=yte.numpy())
    summary = {}
    src = os.path.join(a.run, "summary.json")
    if os.path.exists(src):
        with open(src) as f:
            summary = json.load(f)
        summary["untempered"] = {"val": summary.get("val"), "test": summary.get("test")}
    for name in ("history.json", "log.txt"):
        if os.path.exists(os.path.join(a.run, name)):
            shutil.copy(os.path.join(a.run, name), os.path.join(a.out, name))
    summary.update({"source_run": a.run, "exit_temperature": T, "temperature_scan": scan,
                    "val": vacc, "test": tacc})
    with open(os.path.join(a.out, "summary.json"), "w") as f:
        json.dump(summary, f, indent=1)


if __name__ == "__main__":
    main()
