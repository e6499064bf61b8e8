#!/usr/bin/python3
"""The cost of the Ctrl-C watch of asd's Python package (docs/libasd.md): a main-thread sample() with Python's default
SIGINT handler installs a progress callback that cancels the run on Ctrl-C; with a handler of the caller's own it does
not. 1000 DDPM calls of builtin:mixture (tiny calls, so the callback's share shows), both ways interleaved, medians.
    ASD_LIBRARY=artifacts/libasd/linux-x64-v3 PYTHONPATH=Asd.Interop/python /usr/bin/python3 tools/python_ctrl_c_cost.py
"""
import signal
import statistics
import time

import asd

CALLS, RUNS = 1000, 100
with asd.Model("builtin:mixture", threads=1) as m, m.sampler(sampler="ddpm", steps=CALLS) as s:
    s.sample(1)
    watched, unwatched = [], []
    for i in range(RUNS):
        signal.signal(signal.SIGINT, signal.default_int_handler)  # watched: the package installs its callback
        t0 = time.perf_counter()
        s.sample(1, seed=i)
        watched.append(time.perf_counter() - t0)
        signal.signal(signal.SIGINT, lambda *_: None)  # a handler of the caller's own: left alone, no callback
        t0 = time.perf_counter()
        s.sample(1, seed=i)
        unwatched.append(time.perf_counter() - t0)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    a, b = statistics.median(watched), statistics.median(unwatched)
    print(f"{CALLS} DDPM calls, median of {RUNS}: watched {a * 1e3:.3f} ms, unwatched {b * 1e3:.3f} ms -> "
          f"{(a - b) * 1e6 / CALLS:.2f} us per model call")
