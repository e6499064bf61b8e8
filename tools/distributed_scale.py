#!/usr/bin/env python3
"""
Scale figure for asd.distributed (README "More than one machine"): samples per second with 1 and 2 Dask worker
processes (LocalCluster on 127.0.0.1, one thread each, models with threads=1) against one process, and the
overhead per task. Run with Debian's python3 and the package on the path (or installed):

    env PYTHONPATH=Asd.Interop/python /usr/bin/python3 tools/distributed_scale.py

Writes docs/bench/distributed/scale.md and scale.json, and copies scale.md into README.md between the
distributed-scale markers (tests/distributed/test_readme.py checks that the two agree). Every timed run follows an
untimed one of the same shape (the workers open the model and fill their sampler caches); the figure is the median
of the repeats. The note on N machines is arithmetic on these measurements, not a measurement of N machines.
"""

import argparse
import json
import math
import os
import platform
import statistics
import time

import numpy as np

import dask
import asd
import asd.distributed as ad
from distributed import Client, LocalCluster

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))


def cpu_name():
    with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
        for line in f:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor()


def _noop(i):
    return i


def median_seconds(fn, repeats):
    fn()  # untimed: opens models, fills caches
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), times


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--chains", type=int, default=2048)
    ap.add_argument("--chains-per-task", type=int, default=128)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--tiny-tasks", type=int, default=400)
    ap.add_argument("--out", default=os.path.join(ROOT, "docs", "bench", "distributed"))
    ap.add_argument("--no-readme", dest="readme", action="store_false", help="leave README.md alone")
    ap.add_argument("--from-json", help="rewrite scale.md (and the README block) from a saved scale.json, measuring nothing")
    args = ap.parse_args()
    if args.from_json:
        with open(args.from_json, encoding="utf-8") as f:
            result = json.load(f)
        result["tiny_tasks"] = {int(w): t for w, t in result["tiny_tasks"].items()}
    else:
        result = measure(args)
        os.makedirs(args.out, exist_ok=True)
        with open(os.path.join(args.out, "scale.json"), "w", encoding="utf-8") as f:
            json.dump(result, f, indent=1)
    text = render(result)
    with open(os.path.join(args.out, "scale.md"), "w", encoding="utf-8") as f:
        f.write(text)
    if args.readme:
        copy_into_readme(os.path.join(ROOT, "README.md"), text)
    print(text)


def loadavg():
    with open("/proc/loadavg", encoding="ascii") as f:
        return " ".join(f.read().split()[:3])


def measure(args):
    load_before = loadavg()
    n, c = args.chains, args.chains_per_task
    rng = np.random.default_rng(0)
    cond = rng.uniform(-0.8, 0.8, size=(n, 4)).astype(np.float32)      # one observation per chain
    work = dict(steps=100, spec_len=8, seed=1, cond=cond)
    spec = "builtin:policy"
    rows = []

    # One process, the engine's own threads: the baseline a cluster has to beat.
    for threads in (1, 2):
        with asd.Model(spec, threads=threads) as m:
            ref = m.sample(n, **work)[0]
            sec, all_times = median_seconds(lambda: m.sample(n, **work), args.repeats)
        rows.append({"setting": f"one process, {threads} thread(s)", "workers": 0, "seconds": sec, "times": all_times,
                     "samples_per_second": n / sec})

    tiny = {}
    for workers in (1, 2):
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                               dashboard_address="127.0.0.1:0", silence_logs=40)
        client = Client(cluster, set_as_default=False)
        client.wait_for_workers(workers)

        def run():
            return ad.sample(spec, n, chains_per_task=c, client=client, **work).compute(client)

        x, st = run()
        assert x.tobytes() == ref.tobytes(), "the cluster's samples differ from one process's"
        sec, all_times = median_seconds(run, args.repeats)
        rows.append({"setting": f"{workers} worker process(es) x 1 thread, {n // c} tasks of {c} chains",
                     "workers": workers, "seconds": sec, "times": all_times, "samples_per_second": n / sec,
                     "task_seconds": st["distributed"]["task_seconds"]})

        # Overhead per task: tasks of one chain of the 2-D mixture, K = 2 (the sampling itself takes microseconds).
        m_tiny = args.tiny_tasks

        def tiny_run():
            return ad.sample("builtin:mixture", m_tiny, steps=2, spec_len=1, chains_per_task=1, client=client).compute(client)

        tsec, ttimes = median_seconds(tiny_run, args.repeats)
        _, tst = tiny_run()

        # Dask's own cost: the same number of tasks that do nothing (no asd at all).
        def noop_run():
            return client.gather(client.compute([dask.delayed(_noop, pure=False)(i) for i in range(m_tiny)]))

        nsec, _ = median_seconds(noop_run, args.repeats)
        tiny[workers] = {"tasks": m_tiny, "seconds": tsec, "times": ttimes, "ms_per_task": 1e3 * tsec / m_tiny,
                         "tasks_per_second": m_tiny / tsec,
                         "sampling_ms_per_task": 1e3 * tst["distributed"]["task_seconds"] / m_tiny,
                         "noop_ms_per_task": 1e3 * nsec / m_tiny, "noop_tasks_per_second": m_tiny / nsec}
        client.close()
        cluster.close()

    return {"machine": f"{cpu_name()}, {os.cpu_count()} logical cores, {asd.cpu_features()['active']} kernels",
            "model": spec, "steps": 100, "spec_len": 8, "chains": n, "chains_per_task": c, "repeats": args.repeats,
            "rows": rows, "tiny_tasks": tiny, "loadavg": [load_before, loadavg()]}


def render(result):
    rows, tiny, n, c = result["rows"], result["tiny_tasks"], result["chains"], result["chains_per_task"]
    base = rows[0]["samples_per_second"]
    m_tiny = next(iter(tiny.values()))["tasks"]
    lines = [f"`{result['model']}`, K = {result['steps']}, ASD L = {result['spec_len']}, {n} chains (one observation "
             f"each), median of {result['repeats']} runs after an untimed one; machine: {result['machine']}; load "
             f"average (1, 5, 15 min) before and after: {' / '.join(result.get('loadavg', ['?', '?']))}.", "",
             "| setting | wall | samples / s | vs one process, 1 thread |", "|---|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['setting']} | {r['seconds']:.3f} s | {r['samples_per_second']:.0f} | "
                     f"{r['samples_per_second'] / base:.2f}x |")
    lines += ["", f"Overhead per task ({m_tiny} tasks of one chain of `builtin:mixture`, K = 2):", "",
              "| workers | ms per task (wall / tasks) | tasks / s | of which sampling | Dask alone: no-op tasks, ms per task | no-op tasks / s |",
              "|---:|---:|---:|---:|---:|---:|"]
    for w, t in tiny.items():
        lines.append(f"| {w} | {t['ms_per_task']:.2f} | {t['tasks_per_second']:.0f} | {t['sampling_ms_per_task']:.3f} ms "
                     f"| {t['noop_ms_per_task']:.2f} | {t['noop_tasks_per_second']:.0f} |")
    lines += [""] + n_machines_note(result, n, c)
    return "\n".join(lines) + "\n"


def n_machines_note(result, n, c):
    """What N machines would give, on paper, from this run's numbers: the per-chain cost in a worker process, the
    per-task overhead, and the rate at which the scheduler hands out tasks that do nothing."""
    one = next(r for r in result["rows"] if r["workers"] == 1)
    t_chain = one["task_seconds"] / n                        # seconds of sampling per chain in one worker process
    t1, t2 = result["tiny_tasks"][1], result["tiny_tasks"][2]
    overhead = (t1["ms_per_task"] - t1["sampling_ms_per_task"]) / 1e3   # one worker: tasks run back to back
    rate = t2["noop_tasks_per_second"]                        # scheduler, client and 2 workers share 2 cores here
    c99 = math.ceil(99 * overhead / t_chain)                  # overhead <= 1% of a task's time
    two = next(r for r in result["rows"] if r["workers"] == 2)
    per_process = two["samples_per_second"] / 2               # measured, all costs included
    out = ["On paper, for N machines of P worker processes (arithmetic on the numbers above, not a measurement):",
           "",
           f"- A chain of this run costs t = {1e3 * t_chain:.2f} ms in a worker process, and a task adds o = "
           f"{1e3 * overhead:.1f} ms (one worker, tasks back to back, less their sampling). A task of c chains "
           f"spends c t / (c t + o) of its time sampling: {100 * c * t_chain / (c * t_chain + overhead):.1f}% "
           f"at c = {c}; c >= 99 o / t = {c99} keeps the overhead under 1%.",
           f"- The scheduler handed out {rate:.0f} no-op tasks/s here while sharing 2 cores with its workers and "
           "client (a lower bound for a scheduler with a core of its own). N P processes ask for N P / (c t + o) "
           "tasks/s; keeping that under half this rate needs c >= (2 N P / rate - o) / t:",
           "",
           "| N machines x P processes | samples / s, N P x the measured rate per process | samples / s, N P / (t + o / c) "
           f"| tasks / s at c = {c} | c for tasks / s <= {rate / 2:.0f} |",
           "|---|---:|---:|---:|---:|"]
    for machines, procs in ((1, 2), (10, 16), (100, 16), (1000, 16)):
        w = machines * procs
        need = max(1, math.ceil((2 * w / rate - overhead) / t_chain))
        out.append(f"| {machines} x {procs} | {w * per_process:,.0f} | {w / (t_chain + overhead / c):,.0f} "
                   f"| {w / (c * t_chain + overhead):,.0f} | {need:,} |")
    model_rate = 1 / (t_chain + overhead / c)
    if per_process >= 0.95 * model_rate:
        agreement = (f"agrees with 1 / (t + o / c) = {model_rate:.0f} (within 5%): t and o account for the wall time, "
                     "so the second column is the model's prediction and the first the measured one")
    else:
        agreement = (f"is below 1 / (t + o / c) = {model_rate:.0f}: wall time outside the tasks' sampling that t and o "
                     "do not capture (this script does not break it down); the first column is the safer guess")
    out += ["", f"The measured rate per process ({per_process:.0f} samples/s: 2 workers, all costs included) "
            f"{agreement}. Every process also needs tasks to stay busy: n >= N P c chains, better several tasks per "
            "process, so that a lost worker's retries and the last stragglers spread out."]
    return out


README_BEGIN = "<!-- distributed-scale: tools/distributed_scale.py copies docs/bench/distributed/scale.md here -->"
README_END = "<!-- /distributed-scale -->"


def copy_into_readme(path, text):
    with open(path, encoding="utf-8") as f:
        readme = f.read()
    a, b = readme.find(README_BEGIN), readme.find(README_END)
    if a < 0 or b < a:
        raise SystemExit(f"{path}: no {README_BEGIN} ... {README_END} block")
    readme = readme[:a + len(README_BEGIN)] + "\n" + text + readme[b:]
    with open(path, "w", encoding="utf-8") as f:
        f.write(readme)


if __name__ == "__main__":
    main()
