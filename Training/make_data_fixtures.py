#!/usr/bin/env python3
"""Write the gzip / IDX / NPY fixtures used by Tests/EarlyExitToolsTests/DataReaderTests.swift.

    python3 Training/make_data_fixtures.py [--out Tests/EarlyExitToolsTests/Fixtures/data]

Every payload is generated from a fixed seed with SplitMix64 (easy to re-implement, and the
Swift tests do re-derive each payload independently), compressed with Python's gzip/zlib
modules, and described in manifest.json (length, CRC-32, first bytes, generator recipe).
NPY fixtures are written by numpy (skipped with a message if numpy is missing).

Payload recipes (all use SplitMix64 with the given seed; `next()` returns a UInt64):
  random(seed, n)      n bytes: each next() contributes its 8 little-endian bytes, truncated to n.
  repetitive(seed, n)  a 4096-byte block of random(seed, 4096) bytes is emitted repeatedly; before each
                       copy one byte at next() % 4096 is set to next() & 0xFF; after each copy comes a run of
                       (next() % 600 + 1) copies of the byte next() & 0xFF (drawn in that order: length, byte);
                       truncated to n bytes.
  words(seed, n)       a 200-word vocabulary: word i has length 2 + next() % 8, letters chr(97 + next() % 26);
                       then words w = min(next() % 200, next() % 200) (first draw first), each followed by a
                       separator: '\n' if next() % 12 == 0 else ' '; truncated to n bytes.
"""
from __future__ import annotations

import argparse
import gzip
import io
import json
import os
import struct
import zlib

MASK = (1 << 64) - 1


class SplitMix64:
    def __init__(self, seed: int):
        self.state = seed & MASK

    def next(self) -> int:
        self.state = (self.state + 0x9E3779B97F4A7C15) & MASK
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
        return z ^ (z >> 31)


def random_bytes(seed: int, n: int) -> bytes:
    rng = SplitMix64(seed)
    out = bytearray()
    while len(out) < n:
        out += struct.pack("<Q", rng.next())
    return bytes(out[:n])


def repetitive_bytes(seed: int, n: int) -> bytes:
    block = bytearray(random_bytes(seed, 4096))
    rng = SplitMix64(seed ^ 0x5555)
    out = bytearray()
    while len(out) < n:
        position = rng.next() % 4096
        block[position] = rng.next() & 0xFF
        out += block
        run = rng.next() % 600 + 1
        byte = rng.next() & 0xFF
        out += bytes([byte]) * run
    return bytes(out[:n])


def word_bytes(seed: int, n: int) -> bytes:
    rng = SplitMix64(seed)
    vocabulary = []
    for _ in range(200):
        length = 2 + rng.next() % 8
        vocabulary.append(bytes(97 + rng.next() % 26 for _ in range(length)))
    out = bytearray()
    while len(out) < n:
        a = rng.next() % 200
        b = rng.next() % 200
        out += vocabulary[min(a, b)]
        out += b"\n" if rng.next() % 12 == 0 else b" "
    return bytes(out[:n])


def gzip_bytes(data: bytes, level: int = 9, name: str | None = None) -> bytes:
    """gzip module output with a fixed mtime so the fixtures are reproducible."""
    buffer = io.BytesIO()
    with gzip.GzipFile(filename=name or "", mode="wb", compresslevel=level, fileobj=buffer, mtime=0) as f:
        f.write(data)
    return buffer.getvalue()


def raw_deflate(data: bytes, level: int = 6, strategy: int = zlib.Z_DEFAULT_STRATEGY) -> bytes:
    c = zlib.compressobj(level, zlib.DEFLATED, -15, 8, strategy)
    return c.compress(data) + c.flush()


def gzip_with_all_header_fields(data: bytes) -> bytes:
    """A member with FTEXT|FHCRC|FEXTRA|FNAME|FCOMMENT (the gzip module writes only FNAME)."""
    flags = 0x01 | 0x02 | 0x04 | 0x08 | 0x10
    header = bytearray(b"\x1f\x8b\x08" + bytes([flags]) + struct.pack("<I", 1234567890) + b"\x02\x03")
    extra = b"AB" + struct.pack("<H", 5) + b"hello"  # one subfield: SI1 SI2, LEN, data
    header += struct.pack("<H", len(extra)) + extra
    header += b"payload.txt\x00"
    header += "a comment, in Latin-1: caf\xe9".encode("latin-1") + b"\x00"
    header += struct.pack("<H", zlib.crc32(bytes(header)) & 0xFFFF)
    return bytes(header) + raw_deflate(data, 9) + struct.pack("<II", zlib.crc32(data), len(data) & 0xFFFFFFFF)


def gzip_fixed_huffman(data: bytes) -> bytes:
    header = b"\x1f\x8b\x08\x00" + struct.pack("<I", 0) + b"\x00\xff"
    body = raw_deflate(data, 6, zlib.Z_FIXED)
    return header + body + struct.pack("<II", zlib.crc32(data), len(data) & 0xFFFFFFFF)


def idx_bytes(array_bytes: bytes, dims: list[int], dtype: int = 0x08) -> bytes:
    return bytes([0, 0, dtype, len(dims)]) + b"".join(struct.pack(">I", d) for d in dims) + array_bytes


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default=os.path.join(root, "Tests", "EarlyExitToolsTests", "Fixtures", "data"))
    a = p.parse_args()
    os.makedirs(a.out, exist_ok=True)

    text = b"The quick brown fox jumps over the lazy dog.\nEarlyExit reads gzip, IDX and NPY files.\n"
    payloads = {
        "empty": (b"", {"recipe": "empty"}),
        "text": (text, {"recipe": "literal", "text": text.decode()}),
        "random": (random_bytes(1, 96 * 1024), {"recipe": "random", "seed": 1, "length": 96 * 1024}),
        "repetitive": (repetitive_bytes(2, 1 << 20), {"recipe": "repetitive", "seed": 2, "length": 1 << 20}),
        "words": (word_bytes(3, 160 * 1024), {"recipe": "words", "seed": 3, "length": 160 * 1024}),
        "words-small": (word_bytes(4, 24 * 1024), {"recipe": "words", "seed": 4, "length": 24 * 1024}),
    }
    files = {
        "empty.gz": ("empty", gzip_bytes(payloads["empty"][0])),
        "text.gz": ("text", gzip_bytes(text, 9, name="text.txt")),
        "random.gz": ("random", gzip_bytes(payloads["random"][0], 6)),
        "repetitive.gz": ("repetitive", gzip_bytes(payloads["repetitive"][0], 6)),
        "words-level1.gz": ("words", gzip_bytes(payloads["words"][0], 1)),
        "words-level9.gz": ("words", gzip_bytes(payloads["words"][0], 9)),
        "words-fixed.gz": ("words-small", gzip_fixed_huffman(payloads["words-small"][0])),
        "header-fields.gz": ("text", gzip_with_all_header_fields(text)),
        "two-members.gz": ("text+words-small",
                           gzip_bytes(text, 9) + gzip_bytes(payloads["words-small"][0], 6)),
    }
    payloads["text+words-small"] = (text + payloads["words-small"][0],
                                    {"recipe": "concatenation", "parts": ["text", "words-small"]})

    manifest = {"payloads": {}, "files": {}}
    for name, (data, recipe) in payloads.items():
        manifest["payloads"][name] = dict(recipe, length=len(data), crc32=zlib.crc32(data),
                                          head=data[:16].hex(), tail=data[-16:].hex())
    for name, (payload, blob) in files.items():
        assert gzip.decompress(blob) == payloads[payload][0], name
        with open(os.path.join(a.out, name), "wb") as f:
            f.write(blob)
        manifest["files"][name] = {"payload": payload, "compressed_length": len(blob)}
        print(f"{name}: {len(blob)} bytes -> {len(payloads[payload][0])}")

    # IDX: a gzipped 3-D unsigned-byte file (7 images of 4×5) and a plain 1-D label file.
    images = bytes((i * 7 + 3) & 0xFF for i in range(7 * 4 * 5))
    with open(os.path.join(a.out, "images-7x4x5-idx3-ubyte.gz"), "wb") as f:
        f.write(gzip_bytes(idx_bytes(images, [7, 4, 5]), 9))
    labels = bytes([9, 2, 1, 1, 6, 1, 4])
    with open(os.path.join(a.out, "labels-7-idx1-ubyte"), "wb") as f:
        f.write(idx_bytes(labels, [7]))
    manifest["idx"] = {"images-7x4x5-idx3-ubyte.gz": "pixel i of the flattened payload is (i * 7 + 3) & 0xFF",
                       "labels-7-idx1-ubyte": list(labels)}

    try:
        import numpy as np
    except ImportError:
        print("numpy is not installed: NPY fixtures not written")
    else:
        write_npy_fixtures(np, a.out, manifest)

    with open(os.path.join(a.out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1, sort_keys=True)
        f.write("\n")
    total = sum(os.path.getsize(os.path.join(a.out, n)) for n in os.listdir(a.out))
    print(f"{a.out}: {len(os.listdir(a.out))} files, {total} bytes")


def write_npy_fixtures(np, out: str, manifest: dict):
    def save(name, array, version=None):
        with open(os.path.join(out, name), "wb") as f:
            np.lib.format.write_array(f, array, version=version, allow_pickle=False)

    # float32 [1,1,28,28]: value i of the flattened array is (i - 392) * 0.25 (exact in float32).
    save("f32-1x1x28x28.npy", ((np.arange(784) - 392) * 0.25).astype("<f4").reshape(1, 1, 28, 28))
    save("f64-vector.npy", np.array([0.1, -2.5, 1e10, 3.0, -0.0], dtype="<f8"))
    save("i64-2x3.npy", np.array([[1, -2, 3], [4, 5, -6]], dtype="<i8"))
    save("i32-4.npy", np.array([-2147483648, -1, 0, 16777216], dtype="<i4"))
    save("u8-2x2.npy", np.array([[0, 1], [254, 255]], dtype="|u1"))
    save("i8-3.npy", np.array([-128, 0, 127], dtype="|i1"))
    save("f32-scalar.npy", np.array(3.5, dtype="<f4"))
    save("f32-empty-0x3.npy", np.zeros((0, 3), dtype="<f4"))
    save("f32-v2.npy", np.arange(6, dtype="<f4").reshape(2, 3), version=(2, 0))
    save("f32-v3.npy", np.arange(4, dtype="<f4"), version=(3, 0))
    save("f32-fortran.npy", np.asfortranarray(np.arange(6, dtype="<f4").reshape(2, 3)))
    save("f32-bigendian.npy", np.arange(3, dtype=">f4"))
    # What numpy itself writes for a shape the Swift encoder must reproduce byte for byte.
    save("f32-numpy-1x3.npy", np.array([[1.0, -2.0, 0.5]], dtype="<f4"))
    manifest["npy"] = {
        "f32-1x1x28x28.npy": "value i of the flattened array is (i - 392) * 0.25",
        "numpy": np.__version__,
    }


if __name__ == "__main__":
    main()
