"""Fashion-MNIST from Debian's dataset-fashion-mnist package (gzipped IDX files).

Split: a fixed-seed permutation of the 60,000 training images; 5,000 of them
(VAL_SEED, sorted by original index) form the validation split used for
threshold tuning; the other 55,000 are for training. The 10,000 test images
are only used for final reports.

Normalisation (fixed, documented): x = (pixel / 255 - MEAN) / STD with
MEAN = 0.2860, STD = 0.3530 (the Fashion-MNIST training-set mean/std).
"""
from __future__ import annotations

import gzip
import os
import struct

import numpy as np
import torch

DATA_DIR = os.environ.get("FASHION_MNIST_DIR", "/usr/share/datasets/fashion-mnist")
MEAN = 0.2860
STD = 0.3530
VAL_SIZE = 5000
VAL_SEED = 20240
CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
           "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    zero, dtype, ndim = struct.unpack(">HBB", data[:4])
    assert zero == 0 and dtype == 0x08, (path, zero, dtype)
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    return np.frombuffer(data, np.uint8, offset=4 + 4 * ndim).reshape(dims)


def write_idx(path, arr: np.ndarray):
    arr = np.ascontiguousarray(arr, dtype=np.uint8)
    header = struct.pack(">HBB", 0, 0x08, arr.ndim) + struct.pack(">" + "I" * arr.ndim, *arr.shape)
    # mtime=0 -> byte-identical output for identical data
    with open(path, "wb") as raw:
        with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as f:
            f.write(header + arr.tobytes())


def load_raw(split):
    pre = "train" if split == "train" else "t10k"
    x = read_idx(os.path.join(DATA_DIR, f"{pre}-images-idx3-ubyte.gz"))
    y = read_idx(os.path.join(DATA_DIR, f"{pre}-labels-idx1-ubyte.gz"))
    return x, y


def split_indices():
    perm = np.random.RandomState(VAL_SEED).permutation(60000)
    val = np.sort(perm[:VAL_SIZE])
    train = np.sort(perm[VAL_SIZE:])
    return train, val


def load_splits():
    """Returns dict name -> (uint8 images [N,28,28], int64 labels [N]) for train/val/test."""
    xtr, ytr = load_raw("train")
    xte, yte = load_raw("test")
    tr, va = split_indices()
    return {
        "train": (xtr[tr], ytr[tr].astype(np.int64)),
        "val": (xtr[va], ytr[va].astype(np.int64)),
        "test": (xte, yte.astype(np.int64)),
    }


def to_tensor(x_uint8):
    x = torch.from_numpy(x_uint8.astype(np.float32) / 255.0)
    return ((x - MEAN) / STD).unsqueeze(1)  # [N,1,28,28]


CLUTTER_CANVAS = 40
CLUTTER_PATCHES = 4
CLUTTER_PATCH = 8
CLUTTER_SEEDS = {"train": 101, "val": 102, "test": 103}


def clutter(x_uint8, seed, canvas=CLUTTER_CANVAS, patches=CLUTTER_PATCHES, patch=CLUTTER_PATCH):
    """Cluttered Translated variant (seed paper 002, section 4.1) of a set of 28x28 images.

    Each image is placed at a uniformly random position of a `canvas` x `canvas` black canvas,
    together with `patches` distractors: `patch` x `patch` crops taken at random places from
    random other images of the same set, at random canvas positions. Pixels combine by maximum
    (the distractors never hide the object, as in cluttered MNIST). Deterministic for a seed."""
    n, h, w = x_uint8.shape
    rng = np.random.RandomState(seed)
    out = np.zeros((n, canvas, canvas), np.uint8)
    src = rng.randint(0, n, size=(n, patches))
    sy = rng.randint(0, h - patch + 1, size=(n, patches))
    sx = rng.randint(0, w - patch + 1, size=(n, patches))
    dy = rng.randint(0, canvas - patch + 1, size=(n, patches))
    dx = rng.randint(0, canvas - patch + 1, size=(n, patches))
    oy = rng.randint(0, canvas - h + 1, size=n)
    ox = rng.randint(0, canvas - w + 1, size=n)
    for i in range(n):
        c = out[i]
        for k in range(patches):
            p = x_uint8[src[i, k], sy[i, k]:sy[i, k] + patch, sx[i, k]:sx[i, k] + patch]
            np.maximum(c[dy[i, k]:dy[i, k] + patch, dx[i, k]:dx[i, k] + patch], p,
                       out=c[dy[i, k]:dy[i, k] + patch, dx[i, k]:dx[i, k] + patch])
        np.maximum(c[oy[i]:oy[i] + h, ox[i]:ox[i] + w], x_uint8[i], out=c[oy[i]:oy[i] + h, ox[i]:ox[i] + w])
    return out


def load_cluttered_splits():
    """load_splits() with every split turned into its Cluttered Translated variant (40x40)."""
    return {k: (clutter(x, CLUTTER_SEEDS[k]), y) for k, (x, y) in load_splits().items()}
