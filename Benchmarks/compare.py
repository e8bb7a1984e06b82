#!/usr/bin/env python3
"""Batch-1, one-thread latency of the same networks in onnxruntime and EarlyExit, side by side.

    Benchmarks/compare.sh [options]          # installs numpy/onnx/onnxruntime, builds, runs this
    python3 Benchmarks/compare.py [options]  # when the packages and release builds are there

Networks:
  1. the bundled attention WRN (Models/fashion-attn-wrn.onnx and its .eem / int8 .eem), on the
     bundled Fashion-MNIST test sample;
  2. a second network of another shape: Benchmarks/models/attn-wrn-rgb32.onnx (3x32x32, widths
     32/64/128, random weights, made by Benchmarks/make_second_network.py), on random pixels.

onnxruntime: InferenceSession with intra_op_num_threads=1, inter_op_num_threads=1, sequential
execution, all graph optimizations, CPU provider, one run per image; float32, and int8 as a u8s8
QDQ model from onnxruntime.quantization.quantize_static (per-channel weights) calibrated on the
same images EarlyExit's int8 model was (the first 500 of the validation split; random pixels
for the second network).
EarlyExit: the README's build (`swift build -c release`: kernels chosen at run time) with each
kernel set this CPU supports forced by EARLYEXIT_KERNELS, through EarlyExitBenchmarks: the full
network and the early exit (the model's stored thresholds) alternating image by image.

Every figure is per image: thread CPU time (this thread's time on the CPU, steady on a shared
machine) and wall time, mean and median (p50), after a warm-up. Ratios are of CPU-time means.
The per-convolution GMAC/s (fastest thread CPU time over many runs, `EarlyExitBenchmarks
--layers`) are set against the core's measured peak (`EarlyExitBenchmarks --peak`).
Not part of CI; it never asserts a time. --update-readme rewrites the README's comparison
block (between <!-- compare:begin --> and <!-- compare:end -->).
"""
from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WORK = os.path.join(ROOT, ".build-compare")
CLI = os.path.join(ROOT, ".build", "release", "early-exit")
BENCH = os.path.join(ROOT, ".build", "release", "EarlyExitBenchmarks")


def read_idx(path):
    with open(path, "rb") as f:
        data = f.read()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
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


def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cpu_flags():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags") or line.startswith("Features"):
                    return line.split(":", 1)[1].split()
    except OSError:
        pass
    return []


def run(command, env=None, capture=True):
    environment = dict(os.environ)
    if env:
        environment.update(env)
    result = subprocess.run(command, env=environment, capture_output=capture, text=True)
    if result.returncode != 0:
        sys.stderr.write(f"error: {' '.join(command)} failed ({result.returncode}):\n{result.stderr}\n")
        sys.exit(1)
    return result.stdout


def summarize(values):
    values = sorted(values)
    return {"mean_us": sum(values) / len(values) / 1000, "p50_us": values[len(values) // 2] / 1000, "runs": len(values)}


# MARK: Networks and inputs

def normalization(onnx_path):
    import onnx
    model = onnx.load(onnx_path, load_external_data=False)
    props = {p.key: p.value for p in model.metadata_props}
    mean = [float(v) for v in props.get("earlyexit.mean", "0").split(",")]
    std = [float(v) for v in props.get("earlyexit.std", "1").split(",")]
    return np.array(mean, dtype=np.float32), np.array(std, dtype=np.float32)


def normalized(pixels, mean, std):
    """uint8 [N, C*H*W] (NCHW order) -> float32 [N, C, H, W] with the per-channel normalization."""
    x = pixels.astype(np.float32) / 255
    channels = len(mean) if len(mean) > 1 else 1
    x = x.reshape(len(pixels), channels, -1)
    x = (x - mean.reshape(1, -1, 1)) / std.reshape(1, -1, 1)
    return x


def networks(limit):
    """name, onnx, float .eem, int8 .eem, calibration IDX, image batch [N, 1, C, H, W], IDX images (or None)."""
    os.makedirs(WORK, exist_ok=True)
    out = []
    # 1. The bundled model on the bundled sample.
    onnx_path = os.path.join(ROOT, "Models", "fashion-attn-wrn.onnx")
    mean, std = normalization(onnx_path)
    sample = read_idx(os.path.join(ROOT, "Models", "fashion-test-sample-images-idx3-ubyte.gz"))[:limit]
    x = normalized(sample.reshape(len(sample), -1), mean, std).reshape(len(sample), 1, 1, 28, 28)
    out.append({"name": "bundled 1x28x28 attention WRN (57.0 M MACs)", "onnx": onnx_path,
                "eem": os.path.join(ROOT, "Models", "fashion-attn-wrn.eem"),
                "int8": os.path.join(ROOT, "Models", "fashion-attn-wrn-int8.eem"),
                "calibration": os.path.join(ROOT, "Models", "fashion-val-images-idx3-ubyte.gz"),
                "inputs": x, "images": os.path.join(ROOT, "Models", "fashion-test-sample-images-idx3-ubyte.gz"),
                "labels": os.path.join(ROOT, "Models", "fashion-test-sample-labels-idx1-ubyte.gz")})
    # 2. The second network, converted and quantized here, on random pixels.
    onnx_path = os.path.join(ROOT, "Benchmarks", "models", "attn-wrn-rgb32.onnx")
    mean, std = normalization(onnx_path)
    rng = np.random.default_rng(11)
    calibration = rng.integers(0, 256, size=(500, 3 * 32 * 32), dtype=np.uint8)
    calibration_path = os.path.join(WORK, "rgb32-calibration-idx3-ubyte")
    write_idx(calibration_path, calibration.reshape(500, 3, 32, 32))
    pixels = rng.integers(0, 256, size=(min(limit, 500), 3 * 32 * 32), dtype=np.uint8)
    eem = os.path.join(WORK, "attn-wrn-rgb32.eem")
    int8 = os.path.join(WORK, "attn-wrn-rgb32-int8.eem")
    run([CLI, "convert", onnx_path, "-o", eem])
    run([CLI, "quantize", eem, "--calibration", calibration_path, "-o", int8])
    out.append({"name": "second network: 3x32x32 attention WRN, widths 32/64/128, random weights (106.3 M MACs)",
                "onnx": onnx_path, "eem": eem, "int8": int8, "calibration": calibration_path,
                "inputs": normalized(pixels, mean, std).reshape(len(pixels), 1, 3, 32, 32), "images": None, "labels": None})
    return out


# MARK: onnxruntime

def ort_session(path):
    import onnxruntime as ort
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])


def qdq_model(network):
    """The u8s8 QDQ int8 model onnxruntime's quantize_static makes from the same calibration images."""
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    target = os.path.join(WORK, os.path.basename(network["onnx"]).replace(".onnx", "-qdq.onnx"))
    if os.path.exists(target) and os.path.getmtime(target) > os.path.getmtime(network["onnx"]):
        return target
    mean, std = normalization(network["onnx"])
    pixels = read_idx(network["calibration"])[:500]
    shape = [1] + list(network["inputs"].shape[2:])
    calibration = normalized(pixels.reshape(len(pixels), -1), mean, std).reshape([len(pixels)] + shape)

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.index = 0

        def get_next(self):
            if self.index >= len(calibration):
                return None
            self.index += 1
            return {"input": calibration[self.index - 1]}

    quantize_static(network["onnx"], target, Reader(), quant_format=QuantFormat.QDQ, activation_type=QuantType.QUInt8,
                    weight_type=QuantType.QInt8, per_channel=True)
    return target


def time_ort(path, inputs, warmup=30, passes=3):
    session = ort_session(path)
    name = session.get_inputs()[0].name
    for i in range(warmup):
        session.run(None, {name: inputs[i % len(inputs)]})
    cpu, wall = [], []
    for _ in range(passes):
        for x in inputs:
            c0, w0 = time.thread_time_ns(), time.perf_counter_ns()
            session.run(None, {name: x})
            w1, c1 = time.perf_counter_ns(), time.thread_time_ns()
            cpu.append(c1 - c0)
            wall.append(w1 - w0)
    return {"cpu": summarize(cpu), "wall": summarize(wall)}


# MARK: EarlyExit

def kernel_sets():
    out = run([CLI, "--version"])
    for line in out.splitlines():
        if line.startswith("kernels:") and "this CPU supports:" in line:
            return [s.strip() for s in line.split("this CPU supports:")[1].split(",")]
    return []


def time_earlyexit(network, kernels, limit):
    """Full network and early exit (stored thresholds) for the float32 and int8 models."""
    command = [BENCH, "--no-kernels", "--no-synthetic", "--models", os.path.join(WORK, "none"), "--model", network["eem"],
               "--model", network["int8"], "--limit", str(limit), "--json"]
    if network["images"]:
        command += ["--images", network["images"], "--labels", network["labels"]]
    else:
        command += ["--images", os.path.join(WORK, "none"), "--labels", os.path.join(WORK, "none")]
    env = {"EARLYEXIT_KERNELS": kernels} if kernels else {}
    report = json.loads(run(command, env=env))
    out = {}
    for model in report["models"]:
        precision = "int8" if model["path"] == network["int8"] else "float32"
        for c in model["configurations"]:
            key = (precision, "full" if c["name"] == "full network" else "early")
            out[key] = {"cpu": {"mean_us": c["cpu_ns_mean"] / 1000, "p50_us": c["cpu_ns_p50"] / 1000},
                        "wall": {"mean_us": c["latency_ns_mean"] / 1000, "p50_us": c["latency_ns_p50"] / 1000},
                        "macs": c["mean_macs"], "accuracy": c["accuracy"]}
    return out


def layers(paths, sets, runs):
    command = [BENCH, "--peak", "--layers", "--json", "--runs", str(runs)]
    for path in paths:
        command += ["--model", path]
    for s in sets:
        command += ["--kernels", s]
    return json.loads(run(command))


# MARK: Report

def ratio(a, b):
    return f"{a / b:.2f}×" if b else "-"


def build_report(args):
    sets = kernel_sets()
    forced = sets if args.kernels == "all" else [] if args.kernels == "auto" else args.kernels.split(",")
    detected = sets[0] if sets else "?"
    lines = []
    data = {"cpu": cpu_name(), "flags": [f for f in cpu_flags() if "avx" in f or "fma" in f or "vnni" in f or f in ("asimddp", "asimd")],
            "kernel_sets": sets, "networks": []}
    nets = networks(args.limit)
    profile = layers([n["eem"] for n in nets] + [n["int8"] for n in nets], [detected] + [s for s in forced if s != detected],
                     args.runs)
    data["peaks"] = profile["peaks"]
    peak = {p["kernels"]: p["gmacs"] for p in profile["peaks"]}
    lines.append(f"CPU: {cpu_name()}; this CPU's kernel sets: {', '.join(sets)} (the README build picks {detected}).")
    lines.append("One thread, batch 1, per image; thread CPU time and wall time, mean / median; × = CPU-time mean ratio.")
    lines.append("")
    for network in nets:
        entry = {"name": network["name"], "rows": []}
        inputs = network["inputs"]
        ort_float = time_ort(network["onnx"], inputs)
        ort_int8 = time_ort(qdq_model(network), inputs)
        base, base8 = ort_float["cpu"]["mean_us"], ort_int8["cpu"]["mean_us"]
        lines.append(f"**{network['name']}**")
        lines.append("")
        lines.append("| runtime | kernels | precision | configuration | CPU mean µs | CPU p50 µs | wall mean µs | wall p50 µs | × onnxruntime float32 | × onnxruntime int8 | × own float32 |")
        lines.append("|---|---|---|---|---|---|---|---|---|---|---|")

        def row(runtime, kernels, precision, configuration, t, own=None):
            cells = [runtime, kernels, precision, configuration, f"{t['cpu']['mean_us']:.0f}", f"{t['cpu']['p50_us']:.0f}",
                     f"{t['wall']['mean_us']:.0f}", f"{t['wall']['p50_us']:.0f}", ratio(t["cpu"]["mean_us"], base),
                     ratio(t["cpu"]["mean_us"], base8) if precision == "int8" else "",
                     ratio(t["cpu"]["mean_us"], own) if own else ""]
            lines.append("| " + " | ".join(cells) + " |")
            entry["rows"].append({"runtime": runtime, "kernels": kernels, "precision": precision, "configuration": configuration,
                                  "cpu": t["cpu"], "wall": t["wall"]})

        import onnxruntime
        row(f"onnxruntime {onnxruntime.__version__}", "MLAS", "float32", "full network", ort_float)
        row(f"onnxruntime {onnxruntime.__version__}", "MLAS", "int8", "full network (QDQ u8s8)", ort_int8)
        for kernels in [None] + forced:
            timing = time_earlyexit(network, kernels, args.limit)
            label = f"README build ({detected})" if kernels is None else kernels
            own = timing[("float32", "full")]["cpu"]["mean_us"]
            for precision in ("float32", "int8"):
                for configuration in ("full", "early"):
                    t = timing[(precision, configuration)]
                    name = "full network" if configuration == "full" else \
                        f"early exit ({100 * (1 - t['macs'] / timing[(precision, 'full')]['macs']):.0f}% MACs saved)"
                    row("EarlyExit", label, precision, name, t, own if precision == "int8" else None)
        lines.append("")
        data["networks"].append(entry)
    # Convolutions against the peak.
    lines.append("3×3 convolutions (fastest thread CPU time per operator, summed over the network; nominal MACs, and the")
    lines.append("MACs the kernels execute where Winograd F(2×2,3×3) needs fewer), against this core's measured peak:")
    lines.append("")
    lines.append("| model | kernels | 3×3 convs µs | nominal GMAC/s | executed GMAC/s | peak GMAC/s (instruction) | executed / peak |")
    lines.append("|---|---|---|---|---|---|---|")
    for p in profile["profiles"]:
        ops = [o for o in p["operators"] if o["kind"] == "conv2d" and o["window"] == "3x3"]
        if not ops:
            continue
        time_ns = sum(o["ns_min"] for o in ops)
        macs = sum(o["macs"] for o in ops)
        executed = sum(o["executed_macs"] for o in ops)
        precision = "int8" if "int8" in os.path.basename(p["model"]) else "float32"
        key = f"{p['kernels'].replace('-direct', '')} {precision}"
        # The instruction each set's kernels run on: avx512f has zmm FMA for float32 and AVX2's
        # vpmaddwd for int8; avx2-vnni's float32 is AVX2's.
        aliases = {"avx512f float32": "avx512 float32", "avx512f int8": "avx2 int8", "avx2-vnni float32": "avx2 float32"}
        ceiling = peak.get(key) or peak.get(aliases.get(key, "")) or peak.get(f"{p['kernels'].split('-')[0]} {precision}")
        lines.append(f"| {os.path.basename(p['model'])} | {p['kernels']} | {time_ns / 1000:.0f} | {macs / time_ns:.0f} | "
                     f"{executed / time_ns:.0f} | {ceiling:.0f} | {100 * executed / time_ns / ceiling:.0f}% |" if ceiling else
                     f"| {os.path.basename(p['model'])} | {p['kernels']} | {time_ns / 1000:.0f} | {macs / time_ns:.0f} | {executed / time_ns:.0f} | - | - |")
    lines.append("")
    lines.append("Peaks (`EarlyExitBenchmarks --peak`, 12 independent chains): " +
                 "; ".join(f"{p['name']} {p['gmacs']:.0f}" for p in profile["peaks"]) + " GMAC/s.")
    data["profiles"] = profile["profiles"]
    return "\n".join(lines), data


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--limit", type=int, default=1000, help="images per configuration (default 1000)")
    parser.add_argument("--runs", type=int, default=200, help="full-network runs of the per-operator profiles (default 200)")
    parser.add_argument("--kernels", default="all",
                        help="forced kernel sets besides the README build: all (default), auto (none), or NAME,NAME")
    parser.add_argument("--json-out", help="also write every figure as JSON to this file")
    parser.add_argument("--update-readme", action="store_true", help="rewrite the README's comparison block")
    args = parser.parse_args()
    for binary in (CLI, BENCH):
        if not os.path.exists(binary):
            sys.exit(f"error: {binary} is missing: run Benchmarks/compare.sh (it builds it)")
    text, data = build_report(args)
    print(text)
    if args.json_out:
        with open(args.json_out, "w") as f:
            json.dump(data, f, indent=1)
    if args.update_readme:
        path = os.path.join(ROOT, "README.md")
        with open(path) as f:
            readme = f.read()
        begin, end = "<!-- compare:begin -->", "<!-- compare:end -->"
        if begin not in readme or end not in readme:
            sys.exit("error: README.md has no <!-- compare:begin --> ... <!-- compare:end --> block")
        head, rest = readme.split(begin, 1)
        _, tail = rest.split(end, 1)
        with open(path, "w") as f:
            f.write(head + begin + "\n" + text + "\n" + end + tail)
        print("README.md updated")


if __name__ == "__main__":
    main()
