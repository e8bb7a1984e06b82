#!/usr/bin/env python3
"""Python-side estimate of early-exit savings from a training run's saved outputs.

    python Training/analyze.py Training/runs/main [--tolerance 0.003]

Uses <run>/outputs_val.npz and outputs_test.npz (every head's logits and tanh gate for
every image) and <run>/summary.json (cumulative MACs of each exit).

Policy (what the runtime does): run the network; at attention exit i, if signal_i >= t_i,
stop and answer head i's argmax; if no exit fires, answer the full-depth eq. 9
combination (softmax over all gates weighting each head's log_softmax). The cost of an
image is the cumulative MACs of the exit it leaves at (backbone prefix + every attention
module passed), or the full network's MACs.

Signals: the exit's gate c_i = tanh(.) in [-1,1], or the max softmax probability of head i.
Thresholds: exhaustive search over a grid of per-exit candidates (quantiles of the signal
on the validation split, plus "never"), choosing the cheapest setting whose validation
accuracy is within --tolerance of the full-depth validation accuracy. Then apply the chosen
thresholds unchanged to the test set.
"""
from __future__ import annotations

import argparse
import json
import os

import numpy as np


def softmax(x, axis=-1):
    x = x - x.max(axis, keepdims=True)
    e = np.exp(x)
    return e / e.sum(axis, keepdims=True)


def log_softmax(x, axis=-1):
    x = x - x.max(axis, keepdims=True)
    return x - np.log(np.exp(x).sum(axis, keepdims=True))


def load(path):
    z = np.load(path)
    return z["logits"].astype(np.float64), z["gates"].astype(np.float64), z["labels"]


def eq9_pred(logits, gates):
    g = softmax(gates, axis=0)                            # [E,N]
    return (g[:, :, None] * log_softmax(logits, 2)).sum(0).argmax(1)


def signals(logits, gates, kind):
    E = logits.shape[0] - 1                               # attention exits only
    if kind == "gate":
        return gates[:E]
    return softmax(logits[:E], 2).max(2)


def search(sig, corr, corr_full, cum, total, tol, T=81):
    """Exhaustive search over per-exit thresholds; returns (thresholds, val_acc, val_cost)."""
    E, N = sig.shape
    cands = []
    for e in range(E):
        q = np.quantile(sig[e], np.linspace(0, 1, T - 1))
        cands.append(np.concatenate([q, [np.inf]]))
    fires = [(sig[e][None, :] >= cands[e][:, None]).astype(np.float32) for e in range(E)]  # [T,N]
    R = np.ones((1, N), np.float32)
    acc = np.zeros(1)
    cost = np.zeros(1)
    for e in range(E):
        Fm = fires[e]
        acc = (acc[:, None] + (R * corr[e]) @ Fm.T).reshape(-1)
        cost = (cost[:, None] + cum[e] * (R @ Fm.T)).reshape(-1)
        if e < E - 1:
            R = (R[:, None, :] * (1 - Fm)[None]).reshape(-1, N)
        else:
            rest = (R * corr_full) @ (1 - Fm).T                 # [P,T]
            restn = R @ (1 - Fm).T
            acc = acc + rest.reshape(-1)
            cost = cost + total * restn.reshape(-1)
    acc /= N
    cost /= N
    full_acc = corr_full.mean()
    ok = acc >= full_acc - tol - 1e-12
    best = np.argmin(np.where(ok, cost, np.inf))
    idx = np.unravel_index(best, [T] * E)
    th = [float(cands[e][idx[e]]) for e in range(E)]
    return th, float(acc[best]), float(cost[best])


def apply(sig, preds, full_pred, labels, th, cum, total):
    E, N = sig.shape
    out = full_pred.copy()
    cost = np.full(N, float(total))
    where = np.full(N, E)
    done = np.zeros(N, bool)
    for e in range(E):
        f = (~done) & (sig[e] >= th[e])
        out[f] = preds[e][f]
        cost[f] = cum[e]
        where[f] = e
        done |= f
    return {"acc": float((out == labels).mean()), "mean_macs": float(cost.mean()),
            "savings": float(1 - cost.mean() / total),
            "exit_fraction": [float((where == e).mean()) for e in range(E + 1)]}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run")
    p.add_argument("--tolerance", type=float, nargs="*", default=[0.003, 0.005])
    a = p.parse_args()
    summ = json.load(open(os.path.join(a.run, "summary.json")))
    cum = np.array(summ["macs_exits"], np.float64)
    total = float(summ["macs_total"])
    vl, vg, vy = load(os.path.join(a.run, "outputs_val.npz"))
    tl, tg, ty = load(os.path.join(a.run, "outputs_test.npz"))
    E = vl.shape[0] - 1
    res = {"run": a.run, "macs_exits": cum.tolist(), "macs_total": total, "policies": []}
    vfull, tfull = eq9_pred(vl, vg), eq9_pred(tl, tg)
    res["val_full_acc"] = float((vfull == vy).mean())
    res["test_full_acc"] = float((tfull == ty).mean())
    res["test_final_head_acc"] = float((tl[-1].argmax(1) == ty).mean())
    res["test_exit_acc"] = [float((tl[e].argmax(1) == ty).mean()) for e in range(E)]
    res["val_exit_acc"] = [float((vl[e].argmax(1) == vy).mean()) for e in range(E)]
    print(f"{a.run}: full-depth (eq. 9) val {100 * res['val_full_acc']:.2f} test {100 * res['test_full_acc']:.2f}; "
          f"final head test {100 * res['test_final_head_acc']:.2f}")
    for e in range(E):
        print(f"  exit{e + 1}: test acc {100 * res['test_exit_acc'][e]:.2f}  cumulative MACs {cum[e]:.0f} "
              f"({100 * cum[e] / total:.1f}%)")
    if E == 0:
        print("  no attention exits")
    for kind in ("gate", "maxprob"):
        if E == 0:
            break
        vs, ts = signals(vl, vg, kind), signals(tl, tg, kind)
        vcorr = (vl[:E].argmax(2) == vy[None]).astype(np.float32)
        vcorr_full = (vfull == vy).astype(np.float32)
        for tol in a.tolerance:
            th, vacc, vcost = search(vs, vcorr, vcorr_full, cum, total, tol)
            vapp = apply(vs, vl[:E].argmax(2), vfull, vy, th, cum, total)
            tapp = apply(ts, tl[:E].argmax(2), tfull, ty, th, cum, total)
            assert abs(vapp["acc"] - vacc) < 1e-9 and abs(vapp["mean_macs"] - vcost) < 1e-3 * total
            rec = {"signal": kind, "tolerance": tol, "thresholds": th, "val": vapp, "test": tapp,
                   "test_acc_drop_pp": 100 * (res["test_full_acc"] - tapp["acc"])}
            res["policies"].append(rec)
            print(f"  {kind:7s} tol {100 * tol:.1f}pp thresholds {[round(t, 4) for t in th]}: "
                  f"val acc {100 * vapp['acc']:.2f} savings {100 * vapp['savings']:.1f}% | "
                  f"test acc {100 * tapp['acc']:.2f} (drop {rec['test_acc_drop_pp']:.2f} pp) "
                  f"savings {100 * tapp['savings']:.1f}% exit fractions "
                  + "/".join(f"{100 * f:.1f}" for f in tapp["exit_fraction"]))
    with open(os.path.join(a.run, "analysis.json"), "w") as f:
        json.dump(res, f, indent=1)


if __name__ == "__main__":
    main()
