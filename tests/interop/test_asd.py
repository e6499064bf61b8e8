"""pytest for the Python package `asd` (ctypes + numpy over libasd.so). Every determinism test uses a fixed spec_len."""

import json
import os
import re
import subprocess
import sys
import threading

import numpy as np
import pytest

import asd

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
MLP = os.path.join(ROOT, "tests", "fixtures", "mlp_small", "mlp_small.json")
STATS_FIELDS = {"model", "sampler", "steps", "spec_len", "spec_len_effective", "samples", "sequential_model_calls",
                "sequential_model_calls_max", "algorithmic_speedup", "denoiser_invocations", "rows_evaluated", "rounds",
                "acceptance_by_position", "round_lengths", "wall_seconds", "rng"}


@pytest.fixture(scope="module")
def mixture():
    with asd.Model("builtin:mixture?dim=32", threads=1) as m:
        yield m


@pytest.fixture(scope="module")
def mlp():
    with asd.Model(MLP, threads=1) as m:
        yield m


# ------------------------------------------------------------------------------------------ shapes, dtype, model

def test_model_properties(mixture, mlp):
    assert mixture.sample_shape == (32,)
    assert mixture.cond_shape == (0,)
    assert mixture.train_steps == 1000
    assert mixture.name == "builtin:mixture?dim=32"
    assert mlp.sample_shape == (3, 2)
    assert mlp.cond_shape == (3,)
    assert mlp.train_steps == 1000
    assert not mixture.has_guidance


@pytest.mark.parametrize("spec,n", [("builtin:mixture", 5), ("builtin:mixture?dim=32", 3)])
def test_shape_and_dtype(spec, n):
    with asd.Model(spec, threads=1) as m:
        x, stats = m.sample(n, steps=20, spec_len=4)
        shape = m.sample_shape
    assert isinstance(x, np.ndarray)
    assert x.dtype == np.float32
    assert x.shape == (n,) + shape
    assert x.flags.c_contiguous
    assert np.isfinite(x).all()
    assert isinstance(stats, dict) and stats["samples"] == n


def test_conditional_shape(mlp):
    x, _ = mlp.sample(4, steps=10, spec_len=3, cond=[0.5, -0.25, 1.0])
    assert x.shape == (4, 3, 2) and x.dtype == np.float32
    per_chain = np.tile(np.array([0.5, -0.25, 1.0], dtype=np.float32), (4, 1))
    y, _ = mlp.sample(4, steps=10, spec_len=3, cond=per_chain)
    np.testing.assert_array_equal(x, y)


def test_mixture_samples_lie_on_the_ring():
    # 8 components with |mu| = 4 and variance 0.05: radii concentrate near 4.
    with asd.Model("builtin:mixture", threads=1) as m:
        x, _ = m.sample(256, steps=100, spec_len=8, seed=3)
    r = np.linalg.norm(x, axis=1)
    assert 3.3 < np.median(r) < 4.7


# ------------------------------------------------------------------------------------------ determinism

@pytest.mark.parametrize("spec_len", [1, 8, "inf"])
def test_same_seed_same_array(mixture, spec_len):
    a, _ = mixture.sample(12, steps=50, spec_len=spec_len, seed=11)
    b, _ = mixture.sample(12, steps=50, spec_len=spec_len, seed=11)
    c, _ = mixture.sample(12, steps=50, spec_len=spec_len, seed=12)
    assert a.tobytes() == b.tobytes()
    assert not np.array_equal(a, c)


@pytest.mark.parametrize("sampler,spec_len", [("asd", 8), ("asd", "inf"), ("ddpm", 8)])
def test_chain_offset_split_equals_one_run(mixture, sampler, spec_len):
    whole, _ = mixture.sample(10, steps=60, spec_len=spec_len, sampler=sampler, seed=5)
    head, _ = mixture.sample(4, steps=60, spec_len=spec_len, sampler=sampler, seed=5, chain_offset=0)
    tail, _ = mixture.sample(6, steps=60, spec_len=spec_len, sampler=sampler, seed=5, chain_offset=4)
    assert np.concatenate([head, tail]).tobytes() == whole.tobytes()


def test_chain_offset_split_conditional(mlp):
    cond = np.linspace(-1, 1, 8 * 3, dtype=np.float32).reshape(8, 3)
    whole, _ = mlp.sample(8, steps=30, spec_len=4, seed=9, cond=cond)
    head, _ = mlp.sample(3, steps=30, spec_len=4, seed=9, cond=cond[:3])
    tail, _ = mlp.sample(5, steps=30, spec_len=4, seed=9, cond=cond[3:], chain_offset=3)
    assert np.concatenate([head, tail]).tobytes() == whole.tobytes()


def test_asd_with_l1_gives_ddpm_bytes(mixture):
    asd1, _ = mixture.sample(6, steps=40, spec_len=1, seed=2)
    ddpm, _ = mixture.sample(6, steps=40, sampler="ddpm", seed=2)
    assert asd1.tobytes() == ddpm.tobytes()


def test_threads_and_row_cap_do_not_change_bytes():
    with asd.Model("builtin:mixture?dim=32", threads=1) as one, asd.Model("builtin:mixture?dim=32", threads=2) as two:
        a, _ = one.sample(20, steps=50, spec_len=8, seed=4)
        b, _ = two.sample(20, steps=50, spec_len=8, seed=4, max_batch_rows=7)
    assert a.tobytes() == b.tobytes()


def test_an_array_of_the_right_size_and_another_shape_is_refused(mlp, mixture):
    # The library counts values only: a (cond_size, n) conditioning, or x_T with its axes swapped, has the right count
    # and was read in the wrong order without a word (silently other samples).
    per_chain = np.arange(12, dtype=np.float32).reshape(4, 3) / 12
    mlp.sample(4, steps=5, spec_len=3, cond=per_chain)  # control: (n, cond_size)
    mlp.sample(4, steps=5, spec_len=3, cond=per_chain[0])  # control: (cond_size,), shared
    mlp.sample(4, steps=5, spec_len=3, cond=per_chain[:1])  # control: (1, cond_size), shared, as the CLI's --cond file
    for bad in (per_chain.T, per_chain.reshape(12), per_chain.reshape(2, 6), per_chain.reshape(3, 1, 4)):
        with pytest.raises(asd.AsdError, match=re.escape(f"cond has shape {bad.shape}; expected (3,) (shared by all chains) or (4, 3)")):
            mlp.sample(4, steps=5, spec_len=3, cond=bad)
    noise = np.zeros((5, 32), np.float32)
    mixture.sample(5, steps=5, spec_len=2, init_noise=noise)  # control
    mixture.sample(1, steps=5, spec_len=2, init_noise=noise[0])  # control: one chain's x_T alone
    with pytest.raises(asd.AsdError, match=r"init_noise has shape \(32, 5\); expected \(5, 32\)"):
        mixture.sample(5, steps=5, spec_len=2, init_noise=noise.T)
    with pytest.raises(asd.AsdError, match=r"init_noise has shape \(160,\); expected \(5, 32\)"):
        mixture.sample(5, steps=5, spec_len=2, init_noise=noise.reshape(160))


def test_complex_values_and_values_beyond_float32_are_refused(mlp, mixture):
    # numpy's cast kept a complex value's real part (with a warning) and sampled; a finite 1e39 became an infinity
    # that the library reported as if given. The controls: real float64 and integer arrays are taken.
    good = np.array([0.1, 0.2, 0.3], dtype=np.float64)
    mlp.sample(2, steps=5, spec_len=3, cond=good)
    mlp.sample(2, steps=5, spec_len=3, cond=np.array([0, 1, 0]))
    with pytest.raises(asd.AsdError, match=r"cond: complex values; expected real numbers"):
        mlp.sample(2, steps=5, spec_len=3, cond=good + 0j)
    with pytest.raises(asd.AsdError, match=r"cond: a value beyond float32's range"):
        mlp.sample(2, steps=5, spec_len=3, cond=np.array([0.1, 1e39, 0.3]))
    with pytest.raises(asd.AsdError, match=r"init_noise: complex values"):
        mixture.sample(1, steps=5, spec_len=2, init_noise=np.zeros(32, np.complex64))
    with pytest.raises(asd.AsdError, match=r"init_noise: a value beyond float32's range"):
        mixture.sample(1, steps=5, spec_len=2, init_noise=np.full(32, -1e300))


def test_initial_noise(mixture):
    noise = np.random.default_rng(0).standard_normal((5, 32)).astype(np.float32)
    a, _ = mixture.sample(5, steps=30, spec_len=8, seed=1, init_noise=noise)
    b, _ = mixture.sample(5, steps=30, spec_len=8, seed=1, init_noise=noise)
    c, _ = mixture.sample(5, steps=30, spec_len=8, seed=1)
    assert a.tobytes() == b.tobytes()
    assert not np.array_equal(a, c)


def test_python_threads_share_a_model(mixture):
    jobs = [(seed, l) for seed in range(4) for l in (2, 8)]
    serial = {job: mixture.sample(8, steps=60, spec_len=job[1], seed=job[0])[0] for job in jobs}
    results = {}

    def work(job):
        with mixture.sampler(steps=60, spec_len=job[1]) as s:
            results[job] = s.sample(8, seed=job[0])[0]

    threads = [threading.Thread(target=work, args=(job,)) for job in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for job in jobs:
        assert results[job].tobytes() == serial[job].tobytes()


# ------------------------------------------------------------------------------------------ statistics

def test_asd_stats(mixture):
    _, st = mixture.sample(16, steps=100, spec_len=8, seed=7)
    assert set(st) == STATS_FIELDS
    assert st["sampler"] == "asd" and st["steps"] == 100 and st["samples"] == 16
    assert st["spec_len"] == "8" and st["spec_len_effective"] == "8"
    assert st["model"] == "builtin:mixture?dim=32"
    assert 1 <= st["sequential_model_calls"] < 100
    assert st["algorithmic_speedup"] == pytest.approx(100 / st["sequential_model_calls"])
    assert st["sequential_model_calls_max"] >= st["sequential_model_calls"]
    assert st["rows_evaluated"] >= st["denoiser_invocations"] > 0
    assert all(p["accepted"] <= p["attempts"] for p in st["acceptance_by_position"])
    assert [p["position"] for p in st["acceptance_by_position"]] == list(range(1, 8))
    assert st["rng"].startswith("asd-rng-1")


def test_ddpm_stats(mixture):
    _, st = mixture.sample(4, steps=50, sampler="ddpm", seed=7)
    assert set(st) == STATS_FIELDS
    assert st["sampler"] == "ddpm" and st["spec_len"] == "-"
    assert st["sequential_model_calls"] == 50 and st["algorithmic_speedup"] == 1
    assert st["rounds"] == 4 * 49


def test_spec_len_encodings(mixture):
    assert mixture.sample(2, steps=20, spec_len="inf")[1]["spec_len"] == "inf"
    auto = mixture.sample(2, steps=20, spec_len="auto")[1]
    # "auto L:rounds ...": the lengths the automatic choice ran, with their round counts
    assert auto["spec_len"] == "auto" and auto["spec_len_effective"].startswith("auto ")
    assert sum(r["rounds"] for r in auto["round_lengths"]) == auto["rounds"]
    assert mixture.sample(2, steps=20)[1]["spec_len"] == "auto"  # the default
    assert mixture.sample(2, steps=20, spec_len=np.int64(3))[1]["spec_len"] == "3"


def test_sampler_reuse_and_stats_method(mixture):
    with mixture.sampler(steps=30, spec_len=4) as s:
        a, st = s.sample(3, seed=1)
        assert s.stats() == st
        b, _ = s.sample(5, seed=1)
    assert b[:3].tobytes() == a.tobytes()  # chains are keyed by id, whatever n


def test_schedule_overrides(mixture):
    base, _ = mixture.sample(4, steps=50, spec_len=8, seed=1)
    other, st = mixture.sample(4, steps=50, spec_len=8, seed=1,
                               schedule={"beta_schedule": "scaled_linear", "timestep_spacing": "trailing"})
    assert other.shape == base.shape and not np.array_equal(base, other)
    short, _ = mixture.sample(4, steps=50, spec_len=8, seed=1, schedule={"train_steps": 500})
    assert not np.array_equal(base, short)
    with pytest.raises(asd.AsdError, match="num_train_timesteps"):
        mixture.sample(4, steps=50, spec_len=8, schedule={"train_steps": 20})


def test_auto_with_fewer_train_steps_than_the_default(mixture):
    # auto with the remembered curve store (tests/interop/run.sh sets ASD_CACHE_DIR) on 10 training steps: the store's
    # key probed the model at timestep 333 of the default 1000, and the run failed ("Row 0 has timestep 333").
    x, st = mixture.sample(2, steps=5, spec_len="auto", seed=1, schedule={"train_steps": 10})
    assert x.shape[0] == 2 and np.isfinite(x).all() and st["steps"] == 5


def test_cost_curve_reused_sampler_repeats_its_bytes(tmp_path):
    # A sampler reused with a cost curve gives a run's bytes again for its seed. DDPM streaks had yielded to the
    # exploration clock, which runs across runs (and explores only curves that learn): on the 2-D mixture with
    # T(B) = 1 + 2B and K = 1000 the second run chose other lengths and gave other bytes.
    curve = tmp_path / "steep.json"
    curve.write_text('{"format": "asd-cost-curve", "version": 1, "model": "steep", "seconds": [%s]}'
                     % ", ".join("%g" % (1e-3 * (1 + 2 * b)) for b in range(1, 65)))
    with asd.Model("builtin:mixture", threads=1) as m, \
            m.sampler(steps=1000, spec_len="auto", cost_curve=curve, max_batch_rows=64) as s:
        a, first = s.sample(2, seed=5)
        b, again = s.sample(2, seed=5)
    assert " 1:" in first["spec_len_effective"]  # rounds of L = 1 (streaks) beside drafts
    assert again["spec_len_effective"] == first["spec_len_effective"]
    assert a.tobytes() == b.tobytes()


def test_cost_curve(mixture, tmp_path):
    # A flat curve (B rows cost what 1 row costs) makes speculation free: auto speculates far.
    curve = tmp_path / "curve.json"
    curve.write_text('{"format": "asd-cost-curve", "version": 1, "model": "flat", "seconds": [%s]}'
                     % ", ".join(["1e-4"] * 64))
    a, st = mixture.sample(3, steps=20, spec_len="auto", cost_curve=curve)
    b, _ = mixture.sample(3, steps=20, spec_len="auto", cost_curve=curve)
    assert st["spec_len"] == "auto" and a.tobytes() == b.tobytes()  # deterministic given the curve
    assert max(int(x.split(":")[0]) for x in st["spec_len_effective"].split()[1:]) > 1
    # A linear curve (B rows cost B single rows) makes speculation worthless: auto runs DDPM (L = 1).
    curve.write_text('{"format": "asd-cost-curve", "version": 1, "model": "linear", "seconds": [%s]}'
                     % ", ".join("%g" % (1e-4 * (i + 1)) for i in range(64)))
    _, st = mixture.sample(3, steps=20, spec_len="auto", cost_curve=curve)
    assert st["spec_len_effective"].split()[1:] == ["1:%d" % st["rounds"]]
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    with pytest.raises(asd.AsdError, match="cost-curve") as e:
        mixture.sample(3, steps=20, spec_len="auto", cost_curve=bad)
    assert e.value.status_name == "ASD_ERR_INVALID_ARGUMENT"
    with pytest.raises(asd.AsdError, match="cost_curve_path"):
        mixture.sample(3, steps=20, spec_len=8, cost_curve=curve)
    with pytest.raises(asd.AsdError, match="no such file") as e:
        mixture.sample(3, steps=20, spec_len="auto", cost_curve=tmp_path / "missing.json")
    assert e.value.status_name == "ASD_ERR_IO"


# ------------------------------------------------------------------------------------------ progress and cancellation

def test_progress_reports(mixture):
    seen = []
    mixture.sample(4, steps=30, spec_len=8, progress=lambda done, total, calls: seen.append((done, total, calls)))
    assert seen, "the callback was never called"
    assert all(total == 4 * 30 for _, total, _ in seen)
    assert [c for _, _, c in seen] == list(range(1, len(seen) + 1))
    assert all(a[0] <= b[0] for a, b in zip(seen, seen[1:]))


def test_cancellation(mixture):
    calls = []

    def stop_after_two(done, total, n_calls):
        calls.append(n_calls)
        return n_calls >= 2

    with pytest.raises(asd.Cancelled) as e:
        mixture.sample(4, steps=30, spec_len=8, progress=stop_after_two)
    assert e.value.status_name == "ASD_CANCELLED" and isinstance(e.value, asd.AsdError)
    assert calls == [1, 2]
    with mixture.sampler(steps=30, spec_len=8) as s:
        with pytest.raises(asd.Cancelled):
            s.sample(4, progress=lambda *a: True)
        with pytest.raises(asd.AsdError, match="has not completed a run"):
            s.stats()


def test_exception_in_progress_cancels_and_propagates(mixture):
    def boom(*_):
        raise KeyError("from the callback")

    with pytest.raises(KeyError, match="from the callback"):
        mixture.sample(4, steps=30, spec_len=8, progress=boom)


_CTRL_C = """
import os, signal, threading, traceback, asd
with asd.Model("builtin:mixture?dim=64", threads=1) as m, m.sampler(sampler="ddpm", steps=1000) as s:
    s.sample(1)
    calls = []
    kw = {"progress": lambda done, total, n: calls.append(n)} if MODE == "progress" else {}
    # Ctrl-C from outside, a second into the run, as the terminal sends it (a signal the process raised itself in the
    # callback would be raised inside the callback's own try, which always worked)
    threading.Timer(1.0, os.kill, (os.getpid(), signal.SIGINT)).start()
    try:
        s.sample(2000, **kw)  # about 10 s on one core
        print("completed")
    except KeyboardInterrupt:
        frames = [f.name for f in traceback.extract_tb(__import__("sys").exc_info()[2])]
        print("interrupted", frames[-1])
    try:
        print("last completed run:", s.stats()["samples"], "samples; calls:", len(calls))
    except asd.AsdError as e:  # a cancelled run leaves no statistics
        print("last completed run: none;", str(e).split(":")[0], "; calls:", len(calls))
    print("handler restored:", signal.getsignal(signal.SIGINT) is signal.default_int_handler)
"""


@pytest.mark.parametrize("mode", ["progress", "none"])
def test_ctrl_c_cancels_a_run_and_raises_keyboard_interrupt(mode):
    # Ctrl-C reached a run only inside the progress callback, on its entry: the KeyboardInterrupt was printed by ctypes
    # ("Exception ignored on calling ctypes callback function") and the run went on to its end; without a callback it
    # waited for the end. Now the run stops after the model call in progress and KeyboardInterrupt is raised where
    # sample() was called (by the caller's own handler, restored: the last frame is asd's context manager leaving).
    r = _in_subprocess("MODE = %r\n" % mode + _CTRL_C)
    out = r.stdout.splitlines()
    assert "Exception ignored" not in r.stderr, r.stderr
    assert out and out[0] == "interrupted __exit__", (out, r.stderr)
    assert out[1].startswith("last completed run: none; No statistics"), out  # the 2000-sample run never completed
    if mode == "progress":
        assert 0 < int(out[1].split()[-1]) < 1000, out  # the user's callback saw the calls before the signal only
    assert out[2] == "handler restored: True", out


# ------------------------------------------------------------------------------------------ errors

@pytest.mark.parametrize("bad", [0, -1, -5, True, 2.5, "zero", "0", None])
def test_bad_spec_len_raises(mixture, bad):
    with pytest.raises(asd.AsdError, match="spec_len"):
        mixture.sample(2, steps=10, spec_len=bad)


def test_onnx_model_samples_through_onnx_runtime_inside_libasd():
    # ONNX Runtime's native library ships beside libasd.so (and once in the package's lib/); the library finds it
    # from any host program.
    m = asd.Model(os.path.join(ROOT, "tests", "fixtures", "mlp_small", "mlp_small.onnx"))
    assert m.sample_shape == (3, 2) and m.cond_shape == (3,)
    x, stats = m.sample(4, steps=20, spec_len=4, cond=np.array([0.1, -0.2, 0.3], dtype=np.float32), seed=1)
    assert x.shape == (4, 3, 2) and np.isfinite(x).all()
    assert stats["sequential_model_calls"] < 20


UNET1D_ONNX = os.path.join(ROOT, "tests", "fixtures", "unet1d", "small.onnx")


def test_onnx_native_chooses_the_engine_of_a_conditional_unet1d_export():
    # onnx_native (asd_model_params.onnx_native): auto and on run the ConditionalUnet1D export on asd's kernels, off
    # through ONNX Runtime; Model.runtime (asd_model_runtime) says which. Both compute the same network.
    with asd.Model(UNET1D_ONNX, threads=1) as auto, asd.Model(UNET1D_ONNX, threads=1, onnx_native="on") as native, \
            asd.Model(UNET1D_ONNX, threads=1, onnx_native="off") as runtime:
        assert "asd's native ConditionalUnet1D" in auto.runtime and "asd's native ConditionalUnet1D" in native.runtime
        assert runtime.runtime == "cpu (ONNX Runtime)"
        cond = np.linspace(-1, 1, native.cond_shape[0], dtype=np.float32)
        a, _ = native.sample(2, steps=20, sampler="ddpm", cond=cond, seed=3)
        b, _ = runtime.sample(2, steps=20, sampler="ddpm", cond=cond, seed=3)
        assert a.shape == b.shape and np.allclose(a, b, rtol=0, atol=1e-4), np.abs(a - b).max()
    with asd.Model(MLP, onnx_native="on") as m:  # not ONNX: the setting has nothing to choose
        assert m.runtime == "cpu (asd's kernels)"


def test_a_conditional_unet1d_with_local_conditioning_takes_global_then_local_values():
    # small_local: 3 global values, then 8 positions x 4 local values per sample; its ONNX export (inputs cond and
    # local_cond) runs natively with the JSON model's bits.
    stem = os.path.join(ROOT, "tests", "fixtures", "unet1d", "small_local")
    with asd.Model(stem + ".json", threads=1) as m, asd.Model(stem + ".onnx", threads=1) as exported:
        assert m.cond_shape == (3 + 8 * 4,) and exported.cond_shape == m.cond_shape
        assert "asd's native ConditionalUnet1D" in exported.runtime
        cond = np.linspace(-1, 1, 35, dtype=np.float32)
        a, _ = m.sample(2, steps=20, sampler="ddpm", cond=cond, seed=3)
        # A bare .onnx carries no schedule (diffusers' default): give it the one the JSON carries.
        b, _ = exported.sample(2, steps=20, sampler="ddpm", cond=cond, seed=3,
                               schedule={"train_steps": 100, "beta_schedule": "squaredcos_cap_v2"})
        assert a.shape == (2, 8, 2) and np.array_equal(a, b)
        other = cond.copy()
        other[3:] = other[3:][::-1]  # the same values, the local part in another order: another policy's input
        c, _ = m.sample(2, steps=20, sampler="ddpm", cond=other, seed=3)
        assert np.abs(c - a).max() > 1e-3
        # Only the global values: the message spells out the layout (ConditionLayout, the CLI's wording too).
        with pytest.raises(asd.AsdError, match="3 global values, then 8 positions x 4 local values"):
            m.sample(2, steps=20, cond=cond[:3], seed=3)


def test_onnx_native_on_refuses_what_it_cannot_run_and_bad_values_name_the_field():
    with pytest.raises(asd.AsdError, match="native engine") as e:
        asd.Model(os.path.join(ROOT, "tests", "fixtures", "mlp_small", "mlp_small.onnx"), onnx_native="on")
    assert e.value.status_name == "ASD_ERR_MODEL"
    with pytest.raises(asd.AsdError, match="onnx_native") as e:
        asd.Model(UNET1D_ONNX, onnx_native="sideways")
    assert e.value.status_name == "ASD_ERR_INVALID_ARGUMENT"
    with pytest.raises(asd.AsdError, match="onnx_native must be a string"):
        asd.Model(UNET1D_ONNX, onnx_native=True)


def test_text_arguments_are_paths_or_strings_without_a_nul(mixture, tmp_path):
    # A NUL ended the C string early: "builtin:mixture\0..." opened builtin:mixture, a path was cut short. A
    # pathlib.Path is a spec like its string; an undecodable file name is refused by the field's name.
    import pathlib
    with asd.Model(pathlib.Path(MLP), threads=1) as m:
        assert m.sample_shape == (3, 2) and m.spec == MLP
    for bad, field in [(lambda: asd.Model("builtin:mixture\0?dim=32"), "spec"),
                       (lambda: asd.Model(MLP + "\0.onnx"), "spec"),
                       (lambda: asd.Model("builtin:mixture", device="cpu\0"), "device"),
                       (lambda: asd.Model("builtin:mixture", onnx_native="off\0"), "onnx_native"),
                       (lambda: mixture.sampler(cost_curve=str(tmp_path / "c.json") + "\0x"), "cost_curve"),
                       (lambda: mixture.sampler(schedule={"beta_schedule": "linear\0x"}), "beta_schedule")]:
        with pytest.raises(asd.AsdError, match=field + " .* contains a NUL character"):
            bad()
    with pytest.raises(asd.AsdError, match="spec .* is not valid UTF-8"):
        asd.Model(b"/tmp/\xff.json")
    with pytest.raises(asd.AsdError, match="spec must be a string or a path, not int"):
        asd.Model(3)


_FORK = """
import os, sys, time, asd, asd._native as nat
cond = [0.8, 0.1, -0.75, -0.05]
def child_body():
    out = []
    if MODE == "loaded":
        for what, call in [("inherited", lambda: m.sample(2, steps=20, spec_len=4, cond=cond)),
                           ("new", lambda: asd.Model("builtin:policy", threads=2))]:
            try:
                call()
                out.append(what + ": ran")
            except asd.AsdError as e:
                out.append("%s: %s %s" % (what, e.status_name, "fork()" in str(e)))
        nat._forked_from = None  # past the package's guard, to the library's own
        try:
            asd.Model("builtin:policy", threads=2)
            out.append("library: ran")
        except asd.AsdError as e:
            out.append("library: %s %s" % (e.status_name, "fork()" in str(e)))
        nat._forked_from = 1
    else:
        mine = asd.Model("builtin:policy", threads=2)
        for k in range(30):  # 30 x 64 chains: garbage collections happen
            mine.sample(64, steps=20, spec_len=4, cond=cond, seed=k)
        out.append("fresh: 30 runs")
    print("; ".join(out), flush=True)
if MODE == "loaded":
    m = asd.Model("builtin:policy", threads=2)
    m.sample(2, steps=20, spec_len=4, cond=cond)  # the core pool's workers now exist, spinning
pid = os.fork()
if pid == 0:
    child_body()
    sys.exit(0)  # the inherited model's finalizer runs: it must not call the library
t = time.time()
while time.time() - t < 40:
    r, status = os.waitpid(pid, os.WNOHANG)
    if r:
        print("child exit status", status)
        break
    time.sleep(0.1)
else:
    os.kill(pid, 9)
    print("child hung")
"""


@pytest.mark.parametrize("mode", ["loaded", "fresh"])
def test_a_fork_of_a_process_that_used_libasd_is_refused_not_crashed(mode):
    # fork() copies memory but only the calling thread; the .NET runtime in libasd keeps the core pool's workers in its
    # thread list, and a child's first garbage collection crashed (SIGSEGV in GCHeap::Promote, or a hang waiting for
    # the background collector's thread): multiprocessing's default start method on Linux, and pre-forking servers.
    # Now every call in such a child is refused by name (by the package, and by the library itself when reached), and
    # freeing what it inherited does nothing. A child whose parent never loaded the library uses asd normally.
    r = _in_subprocess("MODE = %r\n" % mode + _FORK)
    out = r.stdout.splitlines()
    expected = ("inherited: ASD_ERR_UNSUPPORTED True; new: ASD_ERR_UNSUPPORTED True; library: ASD_ERR_UNSUPPORTED True"
                if mode == "loaded" else "fresh: 30 runs")
    assert out == [expected, "child exit status 0"], (out, r.stderr[-2000:])


def test_asd_onnx_native_environment_variable_decides_where_the_field_is_auto():
    code = ("import asd; p = %r; print(asd.Model(p).runtime); print(asd.Model(p, onnx_native='on').runtime)" % UNET1D_ONNX)
    r = _in_subprocess(code, ASD_ONNX_NATIVE="off")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "cpu (ONNX Runtime)" and "asd's native ConditionalUnet1D" in lines[1], lines


def test_a_fork_of_the_export_that_computes_another_function_stays_on_onnx_runtime():
    # tests/fixtures/unet1d_variants: the tiny export, and one edit of its graph that keeps every weight (one Mish made
    # x sigmoid(softplus(x))). The library runs both once beside ONNX Runtime when it opens them: the unedited one
    # runs natively and says how far apart the engines were, the fork stays on ONNX Runtime ("on": ASD_ERR_MODEL
    # naming the difference), and with ASD_ONNX_NATIVE_CHECK=off the import alone takes the fork (the control).
    variants = os.path.join(ROOT, "tests", "fixtures", "unet1d_variants")
    tiny, fork = os.path.join(variants, "tiny.onnx"), os.path.join(variants, "sigmoid.onnx")
    with asd.Model(tiny, threads=1) as m:
        assert "from ONNX Runtime's on a probe call" in m.runtime, m.runtime
    with asd.Model(fork, threads=1) as m:
        assert m.runtime == "cpu (ONNX Runtime)"
    with pytest.raises(asd.AsdError, match="differ from ONNX Runtime's") as e:
        asd.Model(fork, onnx_native="on")
    assert e.value.status_name == "ASD_ERR_MODEL"
    r = _in_subprocess("import asd; print(asd.Model(%r).runtime)" % fork, ASD_ONNX_NATIVE_CHECK="off")
    assert r.returncode == 0, r.stderr
    assert "not checked against ONNX Runtime" in r.stdout, r.stdout


def test_library_errors_raise_with_message(mixture, mlp):
    with pytest.raises(asd.AsdError, match="Unknown built-in model") as e:
        asd.Model("builtin:nonsense")
    assert e.value.status_name == "ASD_ERR_MODEL"
    with pytest.raises(asd.AsdError, match="even dimension"):
        asd.Model("builtin:mixture?dim=3")
    with pytest.raises(asd.AsdError, match="has no model.onnx") as e:
        asd.Model(os.path.join(ROOT, "tests", "fixtures", "mlp_small"))
    assert e.value.status_name == "ASD_ERR_IO"
    with pytest.raises(asd.AsdError, match="does not exist"):
        asd.Model("missing/model.json")
    with pytest.raises(asd.AsdError, match="Unknown device"):
        asd.Model("builtin:mixture", device="tpu")
    with pytest.raises(asd.AsdError, match="cannot exceed"):
        mixture.sample(2, steps=5000, spec_len=8)
    with pytest.raises(asd.AsdError, match="sampler="):
        mixture.sample(2, steps=10, spec_len=8, sampler="ddim")
    # Refusals of a sample call speak the binding's argument names, not asd_sample_params' fields (cond_len, NULL)
    with pytest.raises(asd.AsdError, match=r"unconditional, but cond has 1 values; pass cond=None\.$"):
        mixture.sample(2, steps=10, spec_len=8, cond=[1.0])
    with pytest.raises(asd.AsdError, match="conditional"):
        mlp.sample(2, steps=10, spec_len=8)
    with pytest.raises(asd.AsdError, match="NaN") as e:
        mlp.sample(2, steps=10, spec_len=8, cond=[0.0, np.nan, 0.0])
    assert e.value.status_name == "ASD_ERR_INVALID_ARGUMENT"
    with pytest.raises(asd.AsdError, match=r"^cond has 2 values; expected 3 \(shared by all samples\) or 2 x 3 = 6") as e:
        mlp.sample(2, steps=10, spec_len=8, cond=[0.0, 1.0])
    assert e.value.status_name == "ASD_ERR_BUFFER_SIZE" and "_len" not in str(e.value), str(e.value)
    with pytest.raises(asd.AsdError, match=r"^init_noise has 5 values, but 2 samples of shape \[32\] need 64\.$"):
        mixture.sample(2, steps=10, spec_len=8, init_noise=np.zeros(5, np.float32))
    with pytest.raises(asd.AsdError, match="Infinity"):
        mixture.sample(1, steps=10, spec_len=8, init_noise=np.full(32, np.inf, np.float32))
    with pytest.raises(asd.AsdError, match="guidance") as e:
        mixture.sample(2, steps=10, spec_len=8, guidance_scale=3.0)
    # the library's own words, not .NET's exception type in front of them
    assert e.value.status_name == "ASD_ERR_UNSUPPORTED" and str(e.value).startswith("guidance_scale = 3"), str(e.value)
    with pytest.raises(asd.AsdError, match="schedule override"):
        mixture.sample(2, steps=10, spec_len=8, schedule={"betas": 1})
    with pytest.raises(asd.AsdError, match="n=0"):
        mixture.sample(0, steps=10, spec_len=8)


def test_closed_handles_raise():
    m = asd.Model("builtin:mixture", threads=1)
    s = m.sampler(steps=10, spec_len=2)
    m.close()
    x, _ = s.sample(2)  # the sampler keeps the model alive
    assert x.shape == (2, 2)
    s.close()
    with pytest.raises(asd.AsdError, match="closed"):
        s.sample(2)
    with pytest.raises(asd.AsdError, match="closed"):
        m.sample_shape


# ------------------------------------------------------------------------------------------ loader

def test_flavour_choice_from_cpu_flags():
    v3 = {"avx", "avx2", "fma", "bmi1", "bmi2", "f16c", "movbe", "abm", "sse4_2"}
    v4 = v3 | {"avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl"}
    assert asd.flavour(v4) == "linux-x64-v4"
    assert asd.flavour(v3) == "linux-x64-v3"
    assert asd.flavour(v3 | {"avx512f"}) == "linux-x64-v3"  # AVX-512F alone is not x86-64-v4
    with pytest.raises(asd.AsdError, match="x86-64-v3"):
        asd.flavour({"sse2", "sse4_2", "avx"})


def test_loaded_build_matches_this_cpu():
    flavour = asd.flavour()
    features = asd.cpu_features()
    assert asd.library_path().endswith(os.path.join(flavour, "libasd.so"))
    assert features["build"] == "x86-64-" + flavour.rsplit("-", 1)[1]
    assert features["active"] == {"linux-x64-v4": "avx512", "linux-x64-v3": "avx2"}[flavour]
    assert asd.version() == asd.__version__ and asd.abi_version() == 1


def _in_subprocess(code, **env):
    e = dict(os.environ, **env)
    return subprocess.run([sys.executable, "-c", code], env=e, capture_output=True, text=True, timeout=60)


def test_asd_library_env_selects_a_build():
    here = os.path.dirname(asd.library_path())
    v3 = os.path.join(os.path.dirname(here), "linux-x64-v3", "libasd.so")
    r = _in_subprocess("import asd; print(asd.library_path()); print(asd.cpu_features()['build']); "
                       "print(asd.Model('builtin:mixture').sample(2, steps=5, spec_len=2)[0].shape)", ASD_LIBRARY=v3)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == [v3, "x86-64-v3", "(2,", "2)"]
    r = _in_subprocess("import asd; asd.version()", ASD_LIBRARY="/nonexistent/libasd.so")
    assert r.returncode != 0 and "libasd.so not found" in r.stderr and "/nonexistent/libasd.so" in r.stderr


def test_import_never_needs_the_library():
    r = _in_subprocess("import asd; print(asd.encode_spec_len('inf'), asd.encode_spec_len('auto'), asd.encode_spec_len(8))",
                       ASD_LIBRARY="/nonexistent/libasd.so")
    assert r.returncode == 0 and r.stdout.split() == ["0", "-1", "8"]


def test_stats_json_roundtrip(mixture):
    _, st = mixture.sample(3, steps=20, spec_len=8)
    assert json.loads(json.dumps(st)) == st


# ------------------------------------------------------------------------------------------ issue 13: hostile input

def test_status_names_are_the_library_names():
    lib = asd._native.lib()
    for code, name in asd._native._STATUS_NAMES.items():
        assert lib.asd_status_name(code).decode() == name


@pytest.mark.parametrize("spec, status, text", [
    ("builtin:mixture?dim=2147483646", "ASD_ERR_MODEL", "too large"),
    ("builtin:mixture?dim=4&dim=6", "ASD_ERR_MODEL", "appears twice"),
    ("builtin:mixture?dim= 4", "ASD_ERR_MODEL", "space"),
    ("builtin:mixture?", "ASD_ERR_MODEL", "ends in '?'"),
])
def test_hostile_specs_get_a_model_error_naming_the_problem(spec, status, text):
    with pytest.raises(asd.AsdError) as e:
        asd.Model(spec)
    assert e.value.status_name == status and text in e.value.message
    assert "Exception" not in e.value.message


@pytest.mark.parametrize("threads", [257, 65536, -1])
def test_thread_counts_are_limited(threads):
    with pytest.raises(asd.AsdError) as e:
        asd.Model("builtin:mixture", threads=threads)
    assert e.value.status_name == "ASD_ERR_INVALID_ARGUMENT" and f"threads = {threads} is out of range" in e.value.message


@pytest.mark.parametrize("weights, text", [("/dev/urandom", "absolute path"), ("/dev/zero", "absolute path"),
                                           ("../x.safetensors", "contains '..'")])
def test_weights_outside_the_model_folder_are_refused(tmp_path, weights, text):
    with open(MLP, encoding="utf-8") as f:
        spec = json.load(f)
    spec["weights"] = weights
    path = tmp_path / "m.json"
    path.write_text(json.dumps(spec))
    with pytest.raises(asd.AsdError) as e:
        asd.Model(str(path))
    assert e.value.status_name == "ASD_ERR_MODEL" and text in e.value.message


def test_bad_python_arguments_raise_asd_error_not_raw_exceptions(mixture):
    with pytest.raises(asd.AsdError, match="beta_start"):
        mixture.sampler(spec_len=4, schedule={"beta_start": 10**400})
    with pytest.raises(asd.AsdError, match="guidance_scale"):
        mixture.sampler(spec_len=4, guidance_scale="large")
    with pytest.raises(asd.AsdError, match="exceed what one call can produce"):
        mixture.sample(2**31 - 1, spec_len=4)
    with asd.Model(MLP, threads=1) as m, pytest.raises(asd.AsdError, match="cond"):
        m.sample(2, spec_len=4, cond=["a", "b", "c"])


def test_an_output_array_that_cannot_be_allocated_is_an_asd_error(mixture, monkeypatch):
    # Where memory is short (no overcommit, a container's limit), numpy's MemoryError is what the output array
    # meets first: the caller gets an AsdError naming n and the size, like every other refused argument.
    def no_memory(*args, **kwargs):
        raise MemoryError()
    monkeypatch.setattr(asd.np, "empty", no_memory)
    with pytest.raises(asd.AsdError) as e:
        mixture.sample(1000, spec_len=4)
    assert e.value.status_name == "ASD_ERR_OUT_OF_MEMORY"
    assert "n=1000" in e.value.message and "GiB" in e.value.message


def test_calibration_can_be_skipped_or_bounded():
    with asd.Model("builtin:mixture?dim=8", threads=1) as m:
        x, st = m.sampler(steps=20, spec_len="auto", calibration_seconds=-1).sample(4, seed=1)
        assert st["spec_len_effective"].startswith("auto") and x.shape == (4, 8)
        with pytest.raises(asd.AsdError) as e:
            m.sampler(steps=20, spec_len="auto", calibration_seconds=float("nan"))
        assert e.value.status_name == "ASD_ERR_INVALID_ARGUMENT" and "calibration_seconds" in e.value.message


def test_spec_len_grammar_is_the_engines():
    # The same table SpecLength.Parse is tested against (tests/Asd.Tests/Sampling/BadInputTests.cs): one grammar.
    with open(os.path.join(ROOT, "tests", "fixtures", "spec_len_grammar.json"), encoding="utf-8") as f:
        table = json.load(f)["spellings"]
    assert len(table) >= 30
    for text, encoded in table:
        if encoded is None:
            with pytest.raises(asd.AsdError, match="spec_len="):
                asd.encode_spec_len(text)
        else:
            assert asd.encode_spec_len(text) == encoded, text


def test_import_without_numpy_says_numpy_is_required():
    # A Python without numpy, as far as the import system can tell: every finder is asked after this one, which
    # answers "no such module" for numpy the way a bare interpreter does.
    hide = ("import importlib.abc, sys\n"
            "HIDE = True\n"
            "class NoNumpy(importlib.abc.MetaPathFinder):\n"
            "    def find_spec(self, name, path=None, target=None):\n"
            "        if HIDE and (name == 'numpy' or name.startswith('numpy.')):\n"
            "            raise ModuleNotFoundError(f'No module named {name!r}', name=name)\n"
            "sys.meta_path.insert(0, NoNumpy())\n"
            "import asd\n")
    r = _in_subprocess(hide)
    assert r.returncode != 0
    last = r.stderr.strip().splitlines()[-1]
    assert last.startswith("ImportError: the asd package needs numpy") and "pip install numpy" in last, r.stderr
    # the negative control: the same script with numpy visible imports asd
    assert _in_subprocess(hide.replace("HIDE = True", "HIDE = False")).returncode == 0
