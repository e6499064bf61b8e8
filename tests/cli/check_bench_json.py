#!/usr/bin/python3
"""Checks an `asd bench --json` file against the schema outside checks rely on (README, "asd bench")."""
import json
import sys

d = json.load(open(sys.argv[1]))
assert {"machine", "model", "steps", "ceiling_wall_speedup", "rows"} <= set(d), sorted(d)
assert isinstance(d["machine"], str) and d["machine"], d["machine"]
assert isinstance(d["steps"], int) and d["steps"] > 0
assert d["ceiling_wall_speedup"] > 0, d["ceiling_wall_speedup"]
fields = ["sampler", "spec_len", "sequential_model_calls", "algorithmic_speedup", "rows_per_step",
          "wall_seconds_per_sample", "wall_speedup"]
lens = [r["spec_len"] for r in d["rows"]]
assert lens == ["-", "1", "2", "4", "8", "16", "inf", "auto"], lens
for r in d["rows"]:
    assert list(r) == fields, list(r)
    assert r["sampler"] in ("ddpm", "asd", "ddpm-onnxruntime"), r
    assert all(isinstance(r[f], (int, float)) and r[f] > 0 for f in fields[2:]), r
assert d["rows"][0]["sampler"] == "ddpm" and d["rows"][0]["wall_speedup"] == 1.0
print("bench JSON ok:", len(d["rows"]), "rows")
