#!/usr/bin/python3
"""The README's "Native MLP against ONNX Runtime" table from BenchmarkDotNet's MlpForwardBenchmarks report.

Usage: /usr/bin/python3 tools/mlp_bdn_table.py [docs/bench/Asd.Bench.MlpForwardBenchmarks-report-github.md]
Prints one markdown row per batch size and weight type: the mean time per call of the engine (asd) and of ONNX
Runtime (ORT) on 1 and 2 threads, and ORT / asd, the ratio of the two means. Nothing is timed here.
"""
import sys

path = sys.argv[1] if len(sys.argv) > 1 else "docs/bench/Asd.Bench.MlpForwardBenchmarks-report-github.md"
cells = {}
for line in open(path):
    if not line.startswith("|") or "Method" in line or "---" in line:
        continue
    c = [x.strip().replace("*", "") for x in line.strip().strip("|").split("|")]
    if not c[0]:
        continue
    method, batch, threads, weights, mean, ratio = c[0], int(c[1]), int(c[2]), c[3], c[4], c[7]
    value, unit = mean.split()
    seconds = float(value.replace(",", "")) * {"ns": 1e-9, "μs": 1e-6, "us": 1e-6, "ms": 1e-3, "s": 1.0}[unit]
    cells[(batch, weights, threads, method)] = (mean.replace("μs", "us"), seconds)
print("| rows | weights | 1 thread: asd | ORT | ORT / asd | 2 threads: asd | ORT | ORT / asd |")
print("|---:|---|---:|---:|---:|---:|---:|---:|")
for batch in sorted({k[0] for k in cells}):
    for weights in ("float32", "float16"):
        row = ["%d" % batch, weights]
        for threads in (1, 2):
            asd, ort = cells.get((batch, weights, threads, "Asd")), cells.get((batch, weights, threads, "OnnxRuntime"))
            if asd and ort:
                row += [asd[0], ort[0], "%.2fx" % (ort[1] / asd[1])]
            else:
                row += ["-", "-", "-"]
        print("| " + " | ".join(row) + " |")
