#!/usr/bin/env python3
"""Write the data files bundled in Models/ (raw uint8 pixels, IDX format, gzipped):

  fashion-val-images-idx3-ubyte.gz / fashion-val-labels-idx1-ubyte.gz
      the exact 5,000-image validation split held out of the 60,000 training images
      (data.split_indices(): RandomState(20240) permutation, first 5,000, sorted by index)
  fashion-test-sample-images-idx3-ubyte.gz / fashion-test-sample-labels-idx1-ubyte.gz
      the first 1,000 images of the official test set (t10k)
  fashion-classes.txt
      the 10 class names, one per line, in label order

    python Training/make_dataset_files.py [--out Models]

With --clutter it writes the Cluttered Translated variant instead (40x40, data.clutter), as
clutter-val-*, clutter-test-* (the whole test set) and no class file, for trying a
`train.py --clutter` network in the runtime:

    python Training/make_dataset_files.py --clutter --out /tmp/clutter
"""
from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import data  # noqa: E402


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default=os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "Models"))
    p.add_argument("--test-count", type=int, default=1000)
    p.add_argument("--clutter", action="store_true")
    a = p.parse_args()
    os.makedirs(a.out, exist_ok=True)
    if a.clutter:
        s = data.load_cluttered_splits()
        files = {"clutter-val-images-idx3-ubyte.gz": s["val"][0], "clutter-val-labels-idx1-ubyte.gz": s["val"][1],
                 "clutter-test-images-idx3-ubyte.gz": s["test"][0], "clutter-test-labels-idx1-ubyte.gz": s["test"][1]}
        for name, arr in files.items():
            path = os.path.join(a.out, name)
            data.write_idx(path, arr)
            print(f"{path}: shape {list(arr.shape)} {os.path.getsize(path)} bytes")
        return
    s = data.load_splits()
    xv, yv = s["val"]
    xt, yt = s["test"]
    files = {
        "fashion-val-images-idx3-ubyte.gz": xv,
        "fashion-val-labels-idx1-ubyte.gz": yv,
        "fashion-test-sample-images-idx3-ubyte.gz": xt[:a.test_count],
        "fashion-test-sample-labels-idx1-ubyte.gz": yt[:a.test_count],
    }
    for name, arr in files.items():
        path = os.path.join(a.out, name)
        data.write_idx(path, arr)
        back = data.read_idx(path)
        assert (back == arr).all()
        print(f"{path}: shape {list(arr.shape)} {os.path.getsize(path)} bytes")
    with open(os.path.join(a.out, "fashion-classes.txt"), "w") as f:
        f.write("\n".join(data.CLASSES) + "\n")
    print(f"{os.path.join(a.out, 'fashion-classes.txt')}: {len(data.CLASSES)} classes")


if __name__ == "__main__":
    main()
