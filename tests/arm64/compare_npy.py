#!/usr/bin/env python3
"""
Compares float32 .npy files written by `asd sample` (no numpy needed: CI's arm64 stage may run before it is installed).

  compare_npy.py elements A B --atol T            every element |a - b| <= T (DDPM: one fixed path per chain)
  compare_npy.py chains A B --atol T --min-share S
                                                  share of chains (rows) whose every element is within T >= S
                                                  (ASD: a flipped accept/reject sends a chain down another path,
                                                  so chains are counted, not elements)
  compare_npy.py finite A --shape 2,1,16,16       the shape is as given and every value is finite

Prints one line of numbers; exits 0 when the claim holds, 1 otherwise.
"""
import argparse
import ast
import math
import struct
import sys
from array import array


def read_npy(path):
    with open(path, "rb") as f:
        data = f.read()
    if data[:6] != b"\x93NUMPY":
        raise SystemExit(f"{path}: not a .npy file")
    major = data[6]
    if major == 1:
        (hlen,), start = struct.unpack("<H", data[8:10]), 10
    else:
        (hlen,), start = struct.unpack("<I", data[8:12]), 12
    header = ast.literal_eval(data[start:start + hlen].decode("latin1"))
    if header["descr"] not in ("<f4", "=f4", "|f4", ">f4") or header["fortran_order"]:
        raise SystemExit(f"{path}: expected C-ordered float32, got {header}")
    values = array("f")
    values.frombytes(data[start + hlen:])
    if (header["descr"] == ">f4") != (sys.byteorder == "big"):
        values.byteswap()
    shape = tuple(header["shape"])
    if math.prod(shape) != len(values):
        raise SystemExit(f"{path}: shape {shape} but {len(values)} values")
    return values, shape


def main():
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["elements", "chains", "finite"])
    p.add_argument("files", nargs="+")
    p.add_argument("--atol", type=float, default=0.0)
    p.add_argument("--min-share", type=float, default=1.0)
    p.add_argument("--shape", default=None)
    a = p.parse_args()

    if a.mode == "finite":
        values, shape = read_npy(a.files[0])
        want = tuple(int(s) for s in a.shape.split(",")) if a.shape else shape
        finite = all(math.isfinite(v) for v in values)
        print(f"shape {list(shape)} (expected {list(want)}), all finite: {finite}, range "
              f"[{min(values):.4f}, {max(values):.4f}]")
        return 0 if shape == want and finite else 1

    (x, sx), (y, sy) = read_npy(a.files[0]), read_npy(a.files[1])
    if sx != sy:
        print(f"shapes differ: {list(sx)} vs {list(sy)}")
        return 1
    diffs = [abs(u - v) if not (math.isnan(u) and math.isnan(v)) else 0.0 for u, v in zip(x, y)]
    diffs = [d if not math.isnan(d) else math.inf for d in diffs]
    identical = sum(1 for u, v in zip(x, y) if struct.pack("<f", u) == struct.pack("<f", v))
    worst = max(diffs, default=0.0)
    if a.mode == "elements":
        print(f"{len(x)} elements: max |arm64 - x64| = {worst:.3g} (tolerance {a.atol:g}), "
              f"{identical} of {len(x)} bit-identical")
        return 0 if worst <= a.atol else 1

    rows = sx[0]
    per = len(x) // rows if rows else 0
    same = sum(1 for r in range(rows) if max(diffs[r * per:(r + 1) * per], default=0.0) <= a.atol)
    exact = sum(1 for r in range(rows)
                if x[r * per:(r + 1) * per].tobytes() == y[r * per:(r + 1) * per].tobytes())
    share = same / rows if rows else 0.0
    print(f"{rows} chains: {same} identical to x64 within {a.atol:g} ({share:.1%}, need {a.min_share:.0%}), "
          f"{exact} bit-identical; max |arm64 - x64| over all elements {worst:.3g}")
    return 0 if share >= a.min_share else 1


if __name__ == "__main__":
    sys.exit(main())
