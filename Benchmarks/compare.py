#!/usr/bin/env python3
"""Batch-1, one-thread latency of the same attention WRN in onnxruntime, PyTorch and EarlyExit.

    Benchmarks/compare.sh [options]          # installs what is missing, builds early-exit, runs this
    python3 Benchmarks/compare.py [options]  # when the packages and builds are already there

The model (first that applies):
  1. --onnx PATH
  2. Models/fashion-attn-wrn.onnx (the bundled, trained model)
  3. the training checkpoint (--checkpoint, default Training/runs/main/model.pt) exported to ONNX
     with Training/export.py into a temporary directory, so that all three runtimes run exactly
     the same network (skip with --no-export)
  4. a conformance fixture: Tests/EarlyExitToolsTests/Fixtures/conformance/*/model.onnx (the
     28x28 gray one with the bundled layout if present)

onnxruntime: InferenceSession with intra_op_num_threads=1, inter_op_num_threads=1, sequential
execution, all graph optimizations, CPU provider; one sess.run per image.
PyTorch: torch.set_num_threads(1), the model rebuilt by Training/model.py from the checkpoint, in
eval mode under torch.inference_mode(); skipped with a message when there is no checkpoint (there
is no ONNX-to-PyTorch path here). When the ONNX model does not come from that checkpoint the
outputs differ and the script says so: the PyTorch figure is then for another network.
EarlyExit: `early-exit convert` (mean/std of Training/data.py), thresholds stored in the bundled
.eem when it is the same model, else tuned on the validation split (`early-exit tune --max-drop`),
then `early-exit bench --json`: the full network and the early-exit policy, alternating per image.

All runtimes see the same images (the bundled Fashion-MNIST test sample, normalized
(x/255 - 0.2860)/0.3530) in the same order, after a warm-up. Timing: wall clock around each
call (time.perf_counter_ns in Python; DispatchTime inside early-exit, which excludes process
and Python overhead). Not part of CI; it never asserts a time.
"""
from __future__ import annotations

import argparse
import glob
import gzip
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MEAN, STD = 0.2860, 0.3530


def read_idx(path):
    with open(path, "rb") as f:
        data = f.read()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    if data[0] != 0 or data[1] != 0 or data[2] != 8:
        raise ValueError(f"{path}: not an unsigned-byte IDX file")
    rank = data[3]
    dims = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(rank)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * rank).reshape(dims)


def write_idx(path, array):
    array = np.ascontiguousarray(array, dtype=np.uint8)
    with open(path, "wb") as f:
        f.write(bytes([0, 0, 8, array.ndim]))
        for d in array.shape:
            f.write(int(d).to_bytes(4, "big"))
        f.write(array.tobytes())


def summarize(ns):
    ns = sorted(ns)
    q = lambda p: ns[min(len(ns) - 1, max(0, int(np.ceil(p * len(ns))) - 1))]
    return {"mean_us": sum(ns) / len(ns) / 1000, "p50_us": q(0.5) / 1000, "p90_us": q(0.9) / 1000, "runs": len(ns)}


def combine(outputs):
    """Eq. 9: softmax over the gates weighting each exit's log-softmax; returns the class."""
    logits = [o for o in outputs[0::2]]
    gates = np.concatenate([g.reshape(1, 1) for g in outputs[1::2]], axis=1)
    g = np.exp(gates - gates.max()); g /= g.sum()
    total = 0
    for i, o in enumerate(logits):
        o = o.reshape(-1).astype(np.float64)
        lse = o.max() + np.log(np.exp(o - o.max()).sum())
        total = total + g[0, i] * (o - lse)
    return int(np.argmax(total))


def same_layer_shapes(onnx_path, model):
    """True when the ONNX file's 4-D and 2-D initializers (conv and linear weights; folding batch
    norms changes their values, not their shapes) have the same shapes as the PyTorch model's
    conv and linear weights."""
    try:
        import onnx
        import torch.nn as nn
        m = onnx.load(onnx_path, load_external_data=False)
        onnx_shapes = sorted(tuple(i.dims) for i in m.graph.initializer if len(i.dims) in (2, 4))
        torch_shapes = sorted(tuple(mod.weight.shape) for mod in model.modules() if isinstance(mod, (nn.Conv2d, nn.Linear)))
        return onnx_shapes == torch_shapes
    except Exception:  # noqa: BLE001
        return False


def choose_model(a, tmp):
    """Returns (onnx path, description, checkpoint-it-came-from or None)."""
    if a.onnx:
        return a.onnx, "--onnx", None
    bundled = os.path.join(ROOT, "Models", "fashion-attn-wrn.onnx")
    if os.path.exists(bundled):
        return bundled, "the bundled trained model", None
    if not a.no_export and os.path.exists(a.checkpoint):
        try:
            sys.path.insert(0, os.path.join(ROOT, "Training"))
            import torch  # noqa: F401
            from export import export_model, load_checkpoint
            path = os.path.join(tmp, "checkpoint.onnx")
            export_model(load_checkpoint(a.checkpoint), path, "legacy", verbose=False)
            return path, f"exported from {os.path.relpath(a.checkpoint, ROOT)} (Training/export.py, legacy exporter)", a.checkpoint
        except Exception as e:  # noqa: BLE001
            print(f"note: cannot export {a.checkpoint} ({e}); using a conformance fixture", file=sys.stderr)
    fixtures = sorted(glob.glob(os.path.join(ROOT, "Tests/EarlyExitToolsTests/Fixtures/conformance/*/model.onnx")))
    preferred = [f for f in fixtures if "gray28" in f]
    if not (preferred or fixtures):
        sys.exit("error: no ONNX model: give --onnx, or add Models/fashion-attn-wrn.onnx")
    path = (preferred or fixtures)[0]
    return path, "conformance fixture " + os.path.basename(os.path.dirname(path)) + " (random weights)", None


def run(cmd, **kw):
    result = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if result.returncode != 0:
        sys.exit(f"error: {' '.join(cmd)} failed ({result.returncode}):\n{result.stdout}{result.stderr}")
    return result.stdout


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--onnx", help="the ONNX model (default: see above)")
    p.add_argument("--eem", help="the .eem to benchmark in EarlyExit (default: convert the ONNX model)")
    p.add_argument("--checkpoint", default=os.path.join(ROOT, "Training/runs/main/model.pt"), help="PyTorch checkpoint (Training/train.py)")
    p.add_argument("--no-export", action="store_true", help="do not export the checkpoint when Models/fashion-attn-wrn.onnx is missing")
    p.add_argument("--images", default=os.path.join(ROOT, "Models/fashion-test-sample-images-idx3-ubyte.gz"))
    p.add_argument("--labels", default=os.path.join(ROOT, "Models/fashion-test-sample-labels-idx1-ubyte.gz"))
    p.add_argument("--val-images", default=os.path.join(ROOT, "Models/fashion-val-images-idx3-ubyte.gz"))
    p.add_argument("--val-labels", default=os.path.join(ROOT, "Models/fashion-val-labels-idx1-ubyte.gz"))
    p.add_argument("--max-drop", type=float, default=0.5, help="accuracy drop (pp) allowed when tuning thresholds (default 0.5)")
    p.add_argument("--limit", type=int, default=1000, help="images (default 1000)")
    p.add_argument("--warmup", type=int, default=50)
    p.add_argument("--early-exit", action="append", default=[], metavar="NAME=PATH",
                   help="an early-exit binary to measure (repeatable; default: the release builds of Benchmarks/run.sh that exist)")
    p.add_argument("--json-out", help="also write the results as JSON here")
    a = p.parse_args()

    import onnxruntime as ort
    tmp = tempfile.mkdtemp(prefix="earlyexit-compare-")
    try:
        results = compare(a, ort, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if a.json_out:
        with open(a.json_out, "w") as f:
            json.dump(results, f, indent=1)


def compare(a, ort, tmp):
    onnx_path, origin, from_checkpoint = choose_model(a, tmp)
    cpu = "unknown"
    try:
        cpu = next(l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name"))
    except (OSError, StopIteration):
        pass
    print(f"model: {onnx_path}\n       {origin}")
    print(f"CPU:   {cpu}; python {platform.python_version()}, numpy {np.__version__}, onnxruntime {ort.__version__}")

    # Inputs: the bundled images when they fit the model, else seeded random images of its shape.
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    sess = ort.InferenceSession(onnx_path, so, providers=["CPUExecutionProvider"])
    inp = sess.get_inputs()[0]
    shape = [d if isinstance(d, int) else 1 for d in inp.shape]
    pixels = read_idx(a.images)
    labels = read_idx(a.labels)
    images_path, labels_path = a.images, a.labels
    if list(pixels.shape[1:]) != shape[1:] and not (shape[1] == 1 and list(pixels.shape[1:]) == shape[2:]):
        rng = np.random.RandomState(0)
        pixels = rng.randint(0, 256, size=[a.limit] + shape[1:]).astype(np.uint8)
        labels = (np.arange(a.limit) % 10).astype(np.uint8)
        images_path, labels_path = os.path.join(tmp, "images-idx3-ubyte"), os.path.join(tmp, "labels-idx1-ubyte")
        write_idx(images_path, pixels)
        write_idx(labels_path, labels)
        print(f"note: the model takes {shape}; using {a.limit} random images instead of {a.images} (accuracy meaningless)")
    count = min(a.limit, len(pixels))
    pixels, labels = pixels[:count], labels[:count]
    xs = [np.ascontiguousarray(((pixels[i].astype(np.float32) / 255 - MEAN) / STD).reshape(shape)) for i in range(count)]
    print(f"images: {count} from {os.path.relpath(images_path, ROOT) if images_path.startswith(ROOT) else images_path}, batch 1, one thread\n")

    rows = []

    # onnxruntime
    feeds = [{inp.name: x} for x in xs]
    for i in range(a.warmup):
        sess.run(None, feeds[i % count])
    times, correct, ort_outputs = [], 0, []
    for i in range(count):
        t0 = time.perf_counter_ns()
        out = sess.run(None, feeds[i])
        times.append(time.perf_counter_ns() - t0)
        ort_outputs.append(out)
        correct += combine(out) == labels[i]
    rows.append({"runtime": f"onnxruntime {ort.__version__}", "config": "full network", **summarize(times), "accuracy": correct / count})

    # PyTorch
    torch_row = None
    if os.path.exists(a.checkpoint):
        try:
            import torch
            torch.set_num_threads(1)
            try:
                torch.set_num_interop_threads(1)
            except RuntimeError:
                pass
            sys.path.insert(0, os.path.join(ROOT, "Training"))
            from export import load_checkpoint
            model = load_checkpoint(a.checkpoint)
            txs = [torch.from_numpy(x) for x in xs]
            with torch.inference_mode():
                first = model(txs[0])
                flat = [t.numpy() for pair in zip(*first) for t in pair]
                same = len(flat) == len(ort_outputs[0]) and all(f.shape == o.shape for f, o in zip(flat, ort_outputs[0]))
                diff = max(float(np.max(np.abs(f - o))) for f, o in zip(flat, ort_outputs[0])) if same else float("inf")
                for i in range(a.warmup):
                    model(txs[i % count])
                times, correct = [], 0
                for i in range(count):
                    t0 = time.perf_counter_ns()
                    logits, gates = model(txs[i])
                    times.append(time.perf_counter_ns() - t0)
                    correct += combine([t.numpy() for pair in zip(logits, gates) for t in pair]) == labels[i]
            if diff < 1e-3:
                note = f"same network as the ONNX model (max |torch - onnxruntime| {diff:.2g})"
            elif same_layer_shapes(onnx_path, model):
                note = (f"the checkpoint has other weights than the ONNX model (max |torch - onnxruntime| {diff:.3g}) "
                        "but the same conv/linear weight shapes: the same computation, so the latencies compare")
            else:
                note = (f"NOT the ONNX model's architecture (max |torch - onnxruntime| {diff:.3g}); "
                        "this is the latency of the checkpoint's network")
            torch_row = {"runtime": f"PyTorch {torch.__version__}", "config": "full network", **summarize(times),
                         "accuracy": correct / count, "note": note}
            rows.append(torch_row)
        except Exception as e:  # noqa: BLE001
            print(f"PyTorch skipped: {e}")
    else:
        print(f"PyTorch skipped: no checkpoint at {a.checkpoint} (train with Training/train.py; the ONNX model cannot be loaded into PyTorch here)")

    # EarlyExit
    binaries = []
    for spec in a.early_exit:
        name, _, path = spec.partition("=")
        binaries.append((name, path) if path else (os.path.basename(os.path.dirname(os.path.dirname(spec))), spec))
    if not binaries:
        for name, scratch in [("baseline", ".build-bench-base"), ("x86-64-v3 (haswell)", ".build-bench-v3"),
                              ("avx512", ".build-bench-avx512"), ("release", ".build")]:
            path = os.path.join(ROOT, scratch, "release", "early-exit")
            if os.path.exists(path):
                binaries.append((name, path))
    if not binaries:
        print("EarlyExit skipped: no release build of early-exit (run Benchmarks/compare.sh, or swift build -c release)")
    eem, thresholds_note = None, ""
    if binaries:
        tool = binaries[0][1]
        bundled_eem = os.path.join(ROOT, "Models", "fashion-attn-wrn.eem")
        if a.eem:
            eem, thresholds_note = a.eem, "thresholds stored in --eem"
        elif onnx_path == os.path.join(ROOT, "Models", "fashion-attn-wrn.onnx") and os.path.exists(bundled_eem):
            eem, thresholds_note = bundled_eem, "thresholds stored in Models/fashion-attn-wrn.eem"
        else:
            eem = os.path.join(tmp, "model.eem")
            cmd = [tool, "convert", onnx_path, "-o", eem, "--mean", str(MEAN), "--std", str(STD)]
            classes = os.path.join(ROOT, "Models", "fashion-classes.txt")
            if os.path.exists(classes) and shape[1] == 1:
                cmd += ["--classes", classes]
            run(cmd)
            thresholds_note = "converter default gate thresholds (0.9)"
            if os.path.exists(a.val_images) and images_path == a.images:
                tuned = json.loads(run([tool, "tune", eem, "--images", a.val_images, "--labels", a.val_labels,
                                        "--max-drop", str(a.max_drop), "--write", "--json"]))
                thresholds_note = (f"gate thresholds tuned on the validation split (--max-drop {a.max_drop}): "
                                   + ", ".join(f"{t:.4g}" for t in tuned["thresholds"]))
    for name, tool in binaries:
        bench = json.loads(run([tool, "bench", eem, "--images", images_path, "--labels", labels_path,
                                "--limit", str(count), "--warmup", str(a.warmup), "--json"]))
        for c in bench["configurations"]:
            rows.append({"runtime": f"EarlyExit {name}", "config": "full network" if c["policy"] == "none" else "early exit",
                         "mean_us": c["latency_ns_mean"] / 1000, "p50_us": c["latency_ns_p50"] / 1000,
                         "p90_us": c["latency_ns_p90"] / 1000, "runs": bench["images"], "accuracy": c["accuracy"],
                         "mean_macs": c["mean_macs"], "build": bench["build"]})

    # Report
    print(f"{'runtime':34s} {'configuration':14s} {'mean µs':>9s} {'p50 µs':>9s} {'p90 µs':>9s} {'accuracy':>9s}  mean MACs")
    for r in rows:
        macs = f"{r['mean_macs']:.0f}" if "mean_macs" in r else ""
        print(f"{r['runtime']:34s} {r['config']:14s} {r['mean_us']:9.1f} {r['p50_us']:9.1f} {r['p90_us']:9.1f} {100 * r['accuracy']:8.2f}%  {macs}")
    if torch_row:
        print(f"PyTorch: {torch_row['note']}")
    if thresholds_note:
        print(f"EarlyExit early exit: {thresholds_note}")
    base = rows[0]
    print("\nlatency ratios (mean; p50 in brackets), onnxruntime = 1:")
    ratios = {}
    for r in rows[1:]:
        key = f"{r['runtime']} {r['config']}"
        ratios[key] = {"mean": r["mean_us"] / base["mean_us"], "p50": r["p50_us"] / base["p50_us"]}
        label = {"full network": "full", "early exit": "early-exit"}[r["config"]]
        print(f"  {r['runtime'] + ' ' + label:48s} / onnxruntime = {ratios[key]['mean']:.3f}  ({ratios[key]['p50']:.3f})")
    print("\nPython timings include the interpreter's call overhead (a few µs per sess.run / forward);")
    print("EarlyExit's are measured inside the process around Interpreter.run.")
    return {"model": onnx_path, "origin": origin, "cpu": cpu, "images": count, "rows": rows, "ratios": ratios,
            "thresholds": thresholds_note}


if __name__ == "__main__":
    main()
