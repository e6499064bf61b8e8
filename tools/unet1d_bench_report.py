#!/usr/bin/python3
"""Summarises tools/unet1d_bench.sh's asd bench JSON files (policy.json, deploy-f32.json, deploy-f16.json in DIR)
into DIR/summary.md and DIR/summary.json: T(B) native vs ONNX Runtime, DDPM per call against the weight-stream and
compute bounds, ASD against DDPM, and each goal of issue 15 with its measured value. Nothing here is timed: every
number is read from the bench files or computed from them (the formulas are in the table headers).

Usage: /usr/bin/python3 tools/unet1d_bench_report.py docs/bench/unet1d
"""
import json
import os
import sys

RUNS = [("policy", "trained policy (models/unet-policy, F16 weights)"),
        ("deploy-f32", "deployment size, F32 weights (seeded)"),
        ("deploy-f16", "deployment size, F16 weights (seeded)")]
SIZES = [1, 2, 4, 6, 8, 12, 16]


def load(d, name):
    path = os.path.join(d, name + ".json")
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)


def row(r, sampler, spec_len="-"):
    for x in r["rows"]:
        if x["sampler"] == sampler and x["spec_len"] == spec_len:
            return x
    return None


def facts(r):
    """The derived numbers of one run (None where the run lacks them)."""
    k = r["steps"]
    ddpm = row(r, "ddpm")
    ort = row(r, "ddpm-onnxruntime")
    curve = r["cost_curve_seconds"]
    ort_curve = r.get("onnxruntime_cost_curve_seconds")
    f = {
        "model": r["model"], "machine": r["machine"], "steps": k, "threads": r["threads"], "repeats": r["repeats"],
        "ddpm_call_s": ddpm["wall_seconds_per_sample"] / k,
        "ort_ddpm_call_s": ort["wall_seconds_per_sample"] / k if ort else None,
        "t": {b: curve[b - 1] for b in SIZES if b <= len(curve)},
        "ort_t": {b: ort_curve[b - 1] for b in SIZES if ort_curve and b <= len(ort_curve)},
        "ceiling": r["ceiling_wall_speedup"], "ceiling_len": r["ceiling_spec_len"],
        "given_ceiling": r.get("given_acceptance_ceiling_wall_speedup"),
        "given_ceiling_len": r.get("given_acceptance_ceiling_spec_len"),
        "given_source": r.get("given_acceptance_source"),
        "bounds_ceiling": r.get("bounds_ceiling_wall_speedup"), "bounds_ceiling_len": r.get("bounds_ceiling_spec_len"),
        "given_bounds_ceiling": r.get("given_acceptance_bounds_ceiling_wall_speedup"),
        "given_bounds_ceiling_len": r.get("given_acceptance_bounds_ceiling_spec_len"),
        "asd": [{"spec_len": x["spec_len"], "calls": x["sequential_model_calls"], "alg": x["algorithmic_speedup"],
                 "wall_s": x["wall_seconds_per_sample"], "wall": x["wall_speedup"]} for x in r["rows"] if x["sampler"] == "asd"],
    }
    if "weight_bytes" in r:
        f.update(weight_bytes=r["weight_bytes"], precision=r["weight_precision"], flops=r["flops_per_sample"],
                 bandwidth=r["read_bandwidth_bytes_per_second"], peak=r["fma_peak_flops"],
                 stream_s=r["weight_stream_bound_seconds"], probes=r.get("read_bandwidth_probes") or 0,
                 bandwidth_low=r.get("read_bandwidth_low_bytes_per_second"),
                 bandwidth_high=r.get("read_bandwidth_high_bytes_per_second"))
    return f


def probe_note(f):
    """Where the bound's bandwidth came from: probes between the repeats (median, range) or one probe before them."""
    if f.get("probes"):
        return "read bandwidth %.1f GB/s: median of %d probes between the repeats (%.1f-%.1f)" % (
            f["bandwidth"] / 1e9, f["probes"], f["bandwidth_low"] / 1e9, f["bandwidth_high"] / 1e9)
    return "read bandwidth %.1f GB/s: one probe before the repeats" % (f["bandwidth"] / 1e9)


def repeated_runs(d):
    """(label, facts) of each earlier deploy-f32 run kept in DIR/runs/ (deploy-f32-HHMM.json) and the latest one."""
    out = []
    runs_dir = os.path.join(d, "runs")
    if os.path.isdir(runs_dir):
        for name in sorted(os.listdir(runs_dir)):
            if name.startswith("deploy-f32-") and name.endswith(".json"):
                with open(os.path.join(runs_dir, name)) as f:
                    r = json.load(f)
                hhmm = name[len("deploy-f32-"):-len(".json")]
                out.append(("%s:%s UTC" % (hhmm[:2], hhmm[2:]), facts(r)))
    latest = load(d, "deploy-f32")
    if out and latest:
        out.append(("latest (deploy-f32.json)", facts(latest)))
    # A median over runs on different CPUs would describe no machine: only the latest run's machine counts.
    machine = out[-1][1]["machine"] if out else None
    return [(label, f) for label, f in out if "stream_s" in f and f["machine"] == machine]


def acceptance(r):
    """q_k = accepted / attempts by draft position; a position without attempts takes the q of the last one before it
    that has some, 1 if none (asd bench's MeasuredAcceptance)."""
    q = {p["position"]: p["accepted"] / p["attempts"] for p in r["acceptance_by_position"] if p["attempts"] > 0}

    def at(k):
        before = [v for j, v in sorted(q.items()) if j <= k]
        return before[-1] if before else 1.0
    return at


def ceiling_at_bounds(r, q):
    """asd bench's ceiling at the bounds (README, "asd bench"), one chain: the best over L = 2 .. K - 1 of
    T(1) E[steps](L) / (T(L) + (1 - reach(L)) T(1)), against L = 1 at 1x, with T(B) = max(weight stream, B rows at
    the FMA peak). Returns (speedup, L)."""
    stream = r["weight_bytes"] / r["read_bandwidth_bytes_per_second"]
    row_s = r["flops_per_sample"] / r["fma_peak_flops"]

    def t(b):
        return max(stream, b * row_s)
    best, best_len = 1.0, 1
    for length in range(2, min(r["steps"] - 1, 256) + 1):
        steps, reach = 1.0, 1.0
        for j in range(1, length):
            steps += reach
            reach *= q(j)
        speedup = t(1) * steps / (t(length) + (1 - reach) * t(1))
        if speedup > best * (1 + 1e-12):
            best, best_len = speedup, length
    return best, best_len


def add_bounds_ceilings(f, r, given):
    """The ceilings at the bounds, with the run's acceptance and with the one --acceptance-from gave (given: that
    bench's JSON, policy.json beside it). A JSON from before asd bench wrote them gets them computed here, marked
    as such; where the JSON has them, this computation must agree with it (a check of this port of the formula)."""
    if "weight_bytes" not in r:
        return
    own = ceiling_at_bounds(r, acceptance(r))
    other = ceiling_at_bounds(r, acceptance(given)) if given is not None and r.get("given_acceptance_source") else None
    if r.get("bounds_ceiling_wall_speedup") is not None:
        written = [(r["bounds_ceiling_wall_speedup"], r["bounds_ceiling_spec_len"])]
        mine = [own]
        if r.get("given_acceptance_bounds_ceiling_wall_speedup") is not None:
            written.append((r["given_acceptance_bounds_ceiling_wall_speedup"], r["given_acceptance_bounds_ceiling_spec_len"]))
            mine.append(other)
        for (ws, wl), m in zip(written, mine):
            if m is None or wl != m[1] or abs(ws - m[0]) > 1e-9 * ws:
                sys.exit("the ceiling at the bounds computed here (%s) differs from asd bench's (%s, L = %d)" % (m, ws, wl))
    f.update(bounds_ceiling=own[0], bounds_ceiling_len=own[1], bounds_recomputed="bounds_ceiling_wall_speedup" not in r)
    if other:
        f.update(given_bounds_ceiling=other[0], given_bounds_ceiling_len=other[1])


def fmt_ms(s):
    return "-" if s is None else "%.3f" % (s * 1e3)


def main():
    d = sys.argv[1] if len(sys.argv) > 1 else "docs/bench/unet1d"
    raw = {name: r for name, _ in RUNS if (r := load(d, name)) is not None}
    if not raw:
        sys.exit("no bench JSON in %s (run tools/unet1d_bench.sh)" % d)
    runs = {name: facts(r) for name, r in raw.items()}
    for name, r in raw.items():
        add_bounds_ceilings(runs[name], r, raw.get("policy"))
    titles = dict(RUNS)
    first = next(iter(runs.values()))
    # The script runs the AOT level of the machine: v4 where the kernels are AVX-512, else v3.
    level = "x86-64-v4" if "avx512" in first["machine"] else "x86-64-v3"
    md = ["# ConditionalUnet1D: native engine vs ONNX Runtime CPU",
          "",
          "Generated by `tools/unet1d_bench_report.py` from the `asd bench` JSON files beside it, which "
          "`tools/unet1d_bench.sh` writes (AOT %s build, `--threads 2`, one request, K = 100, settings "
          "interleaved). Do not edit by hand." % level,
          ""]
    md += ["Machine: %s." % first["machine"], ""]
    if os.path.exists(os.path.join(d, "load.txt")):
        # load.txt gains two lines per stage run; the tables come from each stage's latest run, so only its lines.
        latest = {}
        with open(os.path.join(d, "load.txt")) as f:
            for l in f:
                if ":" in l:
                    latest[l.split(":", 1)[0].strip()] = l.strip()
        md += ["Load averages around each stage's latest run: " + "; ".join(latest.values()) + ".", ""]

    md += ["## Bounds of one call", "",
           "Weight-stream bound = packed weight bytes / measured read bandwidth; compute bound of B rows = "
           "B x FLOP per row / measured FMA peak (both measured by `asd bench` with its 2 threads).", "",
           "| run | weights | packed MB | GFLOP per row | read bandwidth GB/s | FMA peak GFLOP/s | stream bound ms | compute bound of 6 rows ms | best possible T(6)/T(1) |",
           "|---|---|---|---|---|---|---|---|---|"]
    for name, f in runs.items():
        if "weight_bytes" not in f:
            continue
        c6 = 6 * f["flops"] / f["peak"]
        md.append("| %s | %s | %.1f | %.3f | %.1f | %.0f | %.2f | %.2f | %.2f |" % (
            titles[name], f["precision"], f["weight_bytes"] / 1e6, f["flops"] / 1e9, f["bandwidth"] / 1e9,
            f["peak"] / 1e9, f["stream_s"] * 1e3, c6 * 1e3, max(1.0, c6 / f["stream_s"])))
    md += ["", "The best possible T(6)/T(1) assumes T(1) at the stream bound and T(6) at the larger of the two bounds "
           "(perfect overlap of arithmetic with the stream).", ""]

    md += ["## T(B): one call of B rows, ms", "",
           "| run | engine | " + " | ".join("T(%d)" % b for b in SIZES) + " | T(6)/T(1) |",
           "|---|---|" + "---|" * len(SIZES) + "---|"]
    for name, f in runs.items():
        for engine, t in (("native", f["t"]), ("ONNX Runtime", f["ort_t"])):
            if not t:
                continue
            md.append("| %s | %s | %s | %s |" % (titles[name], engine, " | ".join(fmt_ms(t.get(b)) for b in SIZES),
                                                 "%.2f" % (t[6] / t[1]) if 6 in t and 1 in t else "-"))
    md.append("")

    md += ["## Per request (one sample, K = 100)", "",
           "| run | sampler | L | sequential calls | algorithmic speedup | wall ms | wall speedup vs own DDPM |",
           "|---|---|---|---|---|---|---|"]
    for name, f in runs.items():
        md.append("| %s | DDPM | - | %d | 1.00x | %.1f | 1.00x |" % (titles[name], f["steps"], f["ddpm_call_s"] * f["steps"] * 1e3))
        if f["ort_ddpm_call_s"]:
            md.append("| %s | DDPM, ONNX Runtime | - | %d | - | %.1f | %.2fx |" % (
                titles[name], f["steps"], f["ort_ddpm_call_s"] * f["steps"] * 1e3, f["ddpm_call_s"] / f["ort_ddpm_call_s"]))
        for a in f["asd"]:
            md.append("| %s | ASD | %s | %.1f | %.2fx | %.1f | %.2fx |" % (
                titles[name], a["spec_len"], a["calls"], a["alg"], a["wall_s"] * 1e3, a["wall"]))
        line = "| %s | cost-model ceiling | %d | | | | %.2fx |" % (titles[name], f["ceiling_len"], f["ceiling"])
        md.append(line)
        if f["given_ceiling"]:
            md.append("| %s | ceiling with the trained policy's acceptance | %d | | | | %.2fx |" % (
                titles[name], f["given_ceiling_len"], f["given_ceiling"]))
        if f["bounds_ceiling"]:
            md.append("| %s | ceiling at the bounds | %d | | | | %.2fx |" % (
                titles[name], f["bounds_ceiling_len"], f["bounds_ceiling"]))
        if f["given_bounds_ceiling"]:
            md.append("| %s | ceiling at the bounds with the trained policy's acceptance | %d | | | | %.2fx |" % (
                titles[name], f["given_bounds_ceiling_len"], f["given_bounds_ceiling"]))
    md.append("")
    md += ["The ceiling at the bounds is the cost model's with every call of B rows at the larger of the weight-stream "
           "bound and B rows at the FMA peak, nothing else: what ASD would gain with that acceptance on an engine that "
           "ran at this machine's limits (`asd bench`, README)." + (
               " These bench files predate it, so this report computed it from their bounds and acceptance with the "
               "same formula (checked against asd bench's on files that have both)."
               if any(f.get("bounds_recomputed") for f in runs.values()) else ""), ""]

    goals = []

    def goal(what, value, target, ok, note=""):
        goals.append({"goal": what, "measured": value, "target": target, "met": ok, "note": note})

    if "deploy-f32" in runs:
        f = runs["deploy-f32"]
        goal("deploy F32: T(6)/T(1)", "%.2f" % (f["t"][6] / f["t"][1]), "<= 1.3", f["t"][6] / f["t"][1] <= 1.3,
             "best possible here %.2f" % max(1.0, 6 * f["flops"] / f["peak"] / f["stream_s"]))
        ratio = f["ddpm_call_s"] / f["stream_s"]
        goal("deploy F32: DDPM per call / weight-stream bound", "%.2f (%.2f ms vs %.2f ms)" % (
            ratio, f["ddpm_call_s"] * 1e3, f["stream_s"] * 1e3), "<= 1.3", ratio <= 1.3, probe_note(f))
        if f["ort_ddpm_call_s"]:
            r = f["ort_ddpm_call_s"] / f["ddpm_call_s"]
            goal("deploy F32: ONNX Runtime DDPM per call / native", "%.2fx (%.2f ms vs %.2f ms)" % (
                r, f["ort_ddpm_call_s"] * 1e3, f["ddpm_call_s"] * 1e3), ">= 2x", r >= 2)
        auto = next((a for a in f["asd"] if a["spec_len"] == "auto"), None)
        if auto:
            goal("deploy F32: ASD auto vs own DDPM, seeded weights (measured)", "%.2fx (%.1f calls)" % (auto["wall"], auto["calls"]),
                 ">= 3.5x", auto["wall"] >= 3.5, "seeded weights' acceptance is not a trained policy's")
        if f["given_ceiling"]:
            goal("deploy F32: cost model, measured T(B) x trained policy's acceptance", "%.2fx (L = %d)" % (
                f["given_ceiling"], f["given_ceiling_len"]), ">= 3.5x", f["given_ceiling"] >= 3.5,
                "the ceiling of the cost model, not a timed run" + (
                    "; at the bounds %.2fx (L = %d)" % (f["given_bounds_ceiling"], f["given_bounds_ceiling_len"])
                    if f["given_bounds_ceiling"] else ""))
    if "deploy-f16" in runs:
        f = runs["deploy-f16"]
        ratio = f["ddpm_call_s"] / f["stream_s"]
        goal("deploy F16 (not a goal): DDPM per call / weight-stream bound", "%.2f (%.2f ms vs %.2f ms)" % (
            ratio, f["ddpm_call_s"] * 1e3, f["stream_s"] * 1e3), "-", None, probe_note(f))
    if "policy" in runs:
        f = runs["policy"]
        auto = next((a for a in f["asd"] if a["spec_len"] == "auto"), None)
        if auto:
            goal("trained policy: ASD auto vs DDPM", "%.2fx (%.1f calls)" % (auto["wall"], auto["calls"]), ">= 2.5x",
                 auto["wall"] >= 2.5, "ceiling %.2fx at L = %d" % (f["ceiling"], f["ceiling_len"]) + (
                     "; at the bounds %.2fx (L = %d)" % (f["bounds_ceiling"], f["bounds_ceiling_len"])
                     if f["bounds_ceiling"] else ""))
        if f["ort_ddpm_call_s"]:
            r = f["ort_ddpm_call_s"] / f["ddpm_call_s"]
            goal("trained policy (not a goal): ONNX Runtime DDPM per call / native", "%.2fx" % r, "-", None)

    md += ["## Goals (issue 15)", "", "| goal | measured | target | met | note |", "|---|---|---|---|---|"]
    for g in goals:
        md.append("| %s | %s | %s | %s | %s |" % (g["goal"], g["measured"], g["target"],
                                                {True: "yes", False: "no", None: "-"}[g["met"]], g["note"]))
    md.append("")
    repeated = repeated_runs(d)
    if repeated:
        md += ["## The float32 deployment-size stage, run after run", "",
               "The VM's memory speed moves by tens of percent within minutes, and with it both ratios of one call. Each row "
               "is one `tools/unet1d_bench.sh deploy-f32` run: earlier ones kept in `runs/` (named by their UTC time), "
               "the latest as `deploy-f32.json`; only runs on the latest run's machine.", "",
               "| run | read bandwidth GB/s (median of probes, range) | DDPM per call ms | / weight-stream bound | "
               "ONNX Runtime per call ms | ONNX Runtime / native |", "|---|---|---|---|---|---|"]
        for label, f in repeated:
            md.append("| %s | %.1f (%.1f-%.1f) | %.2f | %.2f | %s | %s |" % (
                label, f["bandwidth"] / 1e9, (f["bandwidth_low"] or f["bandwidth"]) / 1e9,
                (f["bandwidth_high"] or f["bandwidth"]) / 1e9, f["ddpm_call_s"] * 1e3, f["ddpm_call_s"] / f["stream_s"],
                fmt_ms(f["ort_ddpm_call_s"]), "-" if not f["ort_ddpm_call_s"] else "%.2fx" % (f["ort_ddpm_call_s"] / f["ddpm_call_s"])))
        ratios = sorted(f["ddpm_call_s"] / f["stream_s"] for _, f in repeated)
        orts = sorted(f["ort_ddpm_call_s"] / f["ddpm_call_s"] for _, f in repeated if f["ort_ddpm_call_s"])
        md += ["", "Median over the %d runs: DDPM per call %.2f times the weight-stream bound (%d of %d within 1.3); "
               "ONNX Runtime / native %.2fx (%d of %d at 2x or more)." % (
                   len(repeated), ratios[len(ratios) // 2], sum(x <= 1.3 for x in ratios), len(ratios),
                   orts[len(orts) // 2] if orts else float("nan"), sum(x >= 2 for x in orts), len(orts)), ""]
    with open(os.path.join(d, "summary.md"), "w") as f:
        f.write("\n".join(md))
    with open(os.path.join(d, "summary.json"), "w") as f:
        json.dump({"runs": runs, "goals": goals, "repeated_deploy_f32": [dict(run=label, **f) for label, f in repeated]},
                  f, indent=1, sort_keys=True)
        f.write("\n")
    print("\n".join(md))


if __name__ == "__main__":
    main()
