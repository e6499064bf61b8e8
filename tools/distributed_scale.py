#!/usr/bin/env python3
"""
Scale figure for asd.distributed (README "More than one machine"): samples per second with 1 and 2 Dask worker
processes (LocalCluster on 127.0.0.1, one thread each, models with threads=1) against one process, and the
overhead per task. Run with Debian's python3 and the package on the path (or installed):

    /work/bin/quiet env PYTHONPATH=Asd.Interop/python /usr/bin/python3 tools/distributed_scale.py

Writes docs/bench/distributed/scale.md and scale.json. Every timed run follows an untimed one of the same shape (the
workers open the model and fill their sampler caches); the figure is the median of the repeats.
"""

import argparse
import json
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
    args = ap.parse_args()

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
            x, st = ad.sample(spec, n, chains_per_task=c, client=client, **work)
            return client.gather(client.compute([x, st]))

        x, st = run()
        assert x.tobytes() == ref.tobytes(), "the cluster's samples differ from one process's"
        sec, all_times = median_seconds(run, args.repeats)
        rows.append({"setting": f"{workers} worker process(es) x 1 thread, {n // c} tasks of {c} chains",
                     "workers": workers, "seconds": sec, "times": all_times, "samples_per_second": n / sec,
                     "task_seconds": st["distributed"]["task_seconds"]})

        # Overhead per task: tasks of one chain of the 2-D mixture, K = 2 (the sampling itself takes microseconds).
        m_tiny = args.tiny_tasks

        def tiny_run():
            x, st = ad.sample("builtin:mixture", m_tiny, steps=2, spec_len=1, chains_per_task=1, client=client)
            return client.gather(client.compute([x, st]))

        tsec, ttimes = median_seconds(tiny_run, args.repeats)
        _, tst = tiny_run()
        tiny[workers] = {"tasks": m_tiny, "seconds": tsec, "times": ttimes, "ms_per_task": 1e3 * tsec / m_tiny,
                         "tasks_per_second": m_tiny / tsec,
                         "sampling_ms_per_task": 1e3 * tst["distributed"]["task_seconds"] / m_tiny}
        client.close()
        cluster.close()

    base = rows[0]["samples_per_second"]
    result = {"machine": f"{cpu_name()}, {os.cpu_count()} logical cores, {asd.cpu_features()['active']} kernels",
              "model": spec, "steps": 100, "spec_len": 8, "chains": n, "chains_per_task": c, "repeats": args.repeats,
              "rows": rows, "tiny_tasks": tiny}
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "scale.json"), "w", encoding="utf-8") as f:
        json.dump(result, f, indent=1)
    lines = [f"`{spec}`, K = 100, ASD L = 8, {n} chains (one observation each), median of {args.repeats} runs after "
             f"an untimed one; machine: {result['machine']}.", "",
             "| setting | wall | samples / s | vs one process, 1 thread |", "|---|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['setting']} | {r['seconds']:.3f} s | {r['samples_per_second']:.0f} | "
                     f"{r['samples_per_second'] / base:.2f}x |")
    lines += ["", f"Overhead per task ({args.tiny_tasks} tasks of one chain of `builtin:mixture`, K = 2):", "",
              "| workers | ms per task (wall / tasks) | tasks / s | of which sampling |", "|---:|---:|---:|---:|"]
    for w, t in tiny.items():
        lines.append(f"| {w} | {t['ms_per_task']:.2f} | {t['tasks_per_second']:.0f} | {t['sampling_ms_per_task']:.3f} ms |")
    text = "\n".join(lines) + "\n"
    with open(os.path.join(args.out, "scale.md"), "w", encoding="utf-8") as f:
        f.write(text)
    print(text)


if __name__ == "__main__":
    main()
