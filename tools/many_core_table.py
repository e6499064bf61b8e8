#!/usr/bin/env python3
"""Markdown table of tools/bench_many_core.sh results: per run and model, every configuration's DDPM and auto wall
time per request, auto against its own DDPM (side by side) and against the best DDPM configuration of that run (the
fastest DDPM of any configuration, row-parallel lanes or intra-op on 1..N threads), which is what issue 17's goal
compares with.
Usage: tools/many_core_table.py RUN_DIR [RUN_DIR ...]   (each holding the *.json and machine.txt of one run)"""
import json
import pathlib
import re
import sys


def config_of(name):
    m = re.match(r"(?P<model>[^-]+)-t(?P<t>\d+)-rowpar-(?P<mode>on|off)$", name)
    if not m:
        return None
    mode = "row-parallel lanes" if m["mode"] == "on" else "intra-op"
    return m["model"], int(m["t"]), mode


def one_row_choice(txt):
    for line in txt.read_text().splitlines():
        if line.startswith("row-parallel: calls of one row run on "):
            return line[len("row-parallel: calls of one row run on "):]
    return ""


def main(dirs):
    for d in map(pathlib.Path, dirs):
        stamp = next((ln for ln in (d / "machine.txt").read_text().splitlines() if ln.startswith("20")), "?")
        runs = {}
        for js in sorted(d.glob("*.json")):
            cfg = config_of(js.stem)
            if cfg is None:
                continue
            rows = {r["spec_len"]: r for r in json.loads(js.read_text())["rows"]}
            if "-" not in rows or "auto" not in rows:
                raise SystemExit(f"{js}: no DDPM or auto row")
            fixed = [r for k, r in rows.items() if k not in ("-", "auto")]
            best = max(fixed, key=lambda r: r["wall_speedup"]) if fixed else None
            runs.setdefault(cfg[0], []).append((cfg, rows["-"]["wall_seconds_per_sample"],
                                                rows["auto"]["wall_seconds_per_sample"], best,
                                                one_row_choice(js.with_suffix(".txt"))))
        print(f"\nRun started {stamp} ({d.name}):\n")
        print("| model | threads, mode | DDPM ms | auto ms | auto / own DDPM | auto / best DDPM of the run "
              "| best fixed L (vs own DDPM) | calls of one row |")
        print("|---|---|---:|---:|---:|---:|---|---|")
        for model, cfgs in sorted(runs.items()):
            best_ddpm = min(c[1] for c in cfgs)
            for (m, t, mode), ddpm, auto, best, choice in sorted(cfgs, key=lambda c: (c[0][2], -c[0][1])):
                mark = " (best DDPM)" if ddpm == best_ddpm else ""
                fixed = f"L = {best['spec_len']} ({best['wall_speedup']:.2f}x)" if best else ""
                print(f"| {m} | {t}, {mode} | {ddpm * 1e3:.2f}{mark} | {auto * 1e3:.2f} | {ddpm / auto:.2f}x "
                      f"| {best_ddpm / auto:.2f}x | {fixed} | {choice} |")


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    main(sys.argv[1:])
