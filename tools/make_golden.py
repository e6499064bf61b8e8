#!/usr/bin/python3
"""Generate golden vectors for the asd DDPM sampler under tests/golden/.

This is an independent re-implementation, written from the published formulas,
of the semantics of HuggingFace diffusers' ``DDPMScheduler.set_timesteps`` and
``DDPMScheduler.step`` (diffusers main). It does NOT import or copy diffusers.

Everything that is compared against C# is computed in float64:
  * the beta schedules / alphas_cumprod,
  * the per-step coefficients (a = sample coefficient, b = x0 coefficient,
    sigma = noise std),
  * whole sampling trajectories driven by a small deterministic "model"
    and by noise drawn up front from ``np.random.default_rng(seed)``.

Note: diffusers itself builds betas with float32 torch tensors
(``torch.linspace(..., dtype=torch.float32)``, ``torch.tensor(betas,
dtype=torch.float32)``) and cumprods in float32. These goldens are the float64
values of the same formulas, so they differ from a live diffusers run by
float32 rounding (~1e-7 relative), which is what the C# comparison tolerates.

Timesteps are computed exactly as diffusers does (with numpy, int64), so they
must match the C# engine bit for bit; ``scalar_timesteps`` spells out the same
float64 arithmetic (asserted equal to numpy for every case written).

Determinism: scalar math uses Python's ``math`` module (libm, correctly rounded
sqrt) and fixed-order Python summation, not numpy vector kernels or BLAS, so the
output bytes do not depend on the CPU's SIMD paths. Only the random draws and
the timestep arithmetic use numpy.

Usage:
    /usr/bin/python3 tools/make_golden.py [--out DIR]     (default: tests/golden)
"""

import argparse
import json
import math
import os
import sys

import numpy as np

# --------------------------------------------------------------------------
# Scheduler maths
# --------------------------------------------------------------------------


def make_betas(cfg):
    """Betas for cfg (diffusers' beta_schedule / trained_betas), float64 list."""
    T = cfg["num_train_timesteps"]
    if cfg["trained_betas"] is not None:
        betas = [float(b) for b in cfg["trained_betas"]]
        if len(betas) != T:
            raise ValueError("trained_betas length != num_train_timesteps")
        return betas
    sched = cfg["beta_schedule"]
    bs, be = cfg["beta_start"], cfg["beta_end"]
    if sched == "linear":
        # diffusers: torch.linspace(beta_start, beta_end, T, dtype=float32)
        return [float(v) for v in np.linspace(bs, be, T, dtype=np.float64)]
    if sched == "scaled_linear":
        # diffusers: torch.linspace(bs**0.5, be**0.5, T, dtype=float32) ** 2
        return [float(v) ** 2 for v in
                np.linspace(math.sqrt(bs), math.sqrt(be), T, dtype=np.float64)]
    if sched == "squaredcos_cap_v2":
        # diffusers: betas_for_alpha_bar(T, alpha_transform_type="cosine"),
        # max_beta=0.999, then converted to a float32 tensor.
        def alpha_bar(t):
            return math.cos((t + 0.008) / 1.008 * math.pi / 2) ** 2
        out = []
        for i in range(T):
            t1 = i / T
            t2 = (i + 1) / T
            out.append(min(1.0 - alpha_bar(t2) / alpha_bar(t1), 0.999))
        return out
    if sched == "sigmoid":
        # diffusers: torch.sigmoid(torch.linspace(-6, 6, T)) * (be - bs) + bs
        xs = np.linspace(-6.0, 6.0, T, dtype=np.float64)
        return [1.0 / (1.0 + math.exp(-float(x))) * (be - bs) + bs for x in xs]
    raise ValueError("unknown beta_schedule %r" % sched)


def alphas_cumprod_of(betas):
    out = []
    acc = 1.0
    for b in betas:
        acc *= (1.0 - b)
        out.append(acc)
    return out


def set_timesteps(T, K, spacing, steps_offset):
    """diffusers DDPMScheduler.set_timesteps(K) -> np.int64 array.

    Raises ValueError where diffusers would raise; does NOT validate the range
    (callers check 0 <= t <= T-1 themselves, since diffusers would only fail
    later with an index error).
    """
    if K > T:
        raise ValueError("num_inference_steps (%d) > num_train_timesteps (%d)" % (K, T))
    if K < 1:
        raise ValueError("num_inference_steps must be >= 1")
    if spacing == "linspace":
        # steps_offset is NOT applied for linspace
        ts = np.linspace(0, T - 1, K).round()[::-1].copy().astype(np.int64)
    elif spacing == "leading":
        step_ratio = T // K
        ts = (np.arange(0, K) * step_ratio).round()[::-1].copy().astype(np.int64)
        ts += steps_offset
    elif spacing == "trailing":
        # steps_offset is NOT applied for trailing
        step_ratio = T / K
        ts = np.round(np.arange(T, 0, -step_ratio)).astype(np.int64)
        ts -= 1
    else:
        raise ValueError("unknown timestep_spacing %r" % spacing)
    return ts


def check_timesteps(ts, T, K):
    """Return None if valid, else a reason string."""
    reasons = []
    if len(ts) != K:
        reasons.append("np.arange overshoot: got %d timesteps, expected %d" % (len(ts), K))
    lo, hi = int(ts.min()), int(ts.max())
    if lo < 0:
        reasons.append("timestep %d < 0" % lo)
    if hi > T - 1:
        reasons.append("timestep %d > num_train_timesteps - 1 (%d)" % (hi, T - 1))
    return "; ".join(reasons) if reasons else None


def scalar_timesteps(T, K, spacing, steps_offset):
    """Same result as set_timesteps, written as scalar float64 arithmetic.

    This is how numpy 1.24 evaluates the diffusers expressions (checked
    against numpy for every entry of timesteps.json); a C# port that uses the
    same float64 operations and round-half-to-even reproduces diffusers
    exactly, including its float-tie and arange-overshoot quirks:
      linspace: v_i = i * ((T-1)/(K-1)) for i < K-1, v_{K-1} = T-1 exactly
                (K == 1: [0]); t = round_half_even(v), reversed.
      leading:  t_i = (K-1-i) * (T // K) + steps_offset.
      trailing: step = -(T/K); n = ceil(-T / step); d = (T + step) - T;
                t_i = round_half_even(T + i*d) - 1 for i < n
                (note d, not step: numpy's arange fills with next - first).
    """
    if spacing == "linspace":
        if K == 1:
            return [0]
        s = (T - 1) / (K - 1)
        return [T - 1] + [round(i * s) for i in range(K - 2, -1, -1)]
    if spacing == "leading":
        r = T // K
        return [(K - 1 - i) * r + steps_offset for i in range(K)]
    if spacing == "trailing":
        step = -(T / K)
        n = math.ceil(-T / step)
        d = (T + step) - T
        return [round(T + i * d) - 1 for i in range(n)]
    raise ValueError(spacing)


def step_coeffs(acp, t, prev_t, variance_type):
    """Per-step scalars of diffusers' DDPMScheduler.step / _get_variance."""
    abar_t = acp[t]
    abar_prev = acp[prev_t] if prev_t >= 0 else 1.0
    beta_prod_t = 1.0 - abar_t
    beta_prod_prev = 1.0 - abar_prev
    current_alpha_t = abar_t / abar_prev
    current_beta_t = 1.0 - current_alpha_t
    b = math.sqrt(abar_prev) * current_beta_t / beta_prod_t      # x0 coefficient
    a = math.sqrt(current_alpha_t) * beta_prod_prev / beta_prod_t  # sample coefficient
    if t > 0:
        var_small = beta_prod_prev / beta_prod_t * current_beta_t
        var = max(var_small, 1e-20)  # diffusers: torch.clamp(variance, min=1e-20)
        if variance_type == "fixed_small":
            var_unclamped = var_small
        elif variance_type == "fixed_large":
            var = current_beta_t
            var_unclamped = current_beta_t
        else:
            raise ValueError("unsupported variance_type %r" % variance_type)
        sigma = math.sqrt(var)
        sigma_unclamped = math.sqrt(var_unclamped)
    else:
        sigma = 0.0
        sigma_unclamped = 0.0
    return {
        "timestep": int(t),
        "prev_timestep": int(prev_t),
        "abar_t": abar_t,
        "abar_prev": abar_prev,
        "a": a,
        "b": b,
        "sigma": sigma,
        "sigma_unclamped": sigma_unclamped,
    }


# --------------------------------------------------------------------------
# Toy model: model_output(x, t) = scale * tanh(W @ x + u * (t / T)) + c
# --------------------------------------------------------------------------


def model_eval(W, u, c, scale, x, t, T):
    D = len(x)
    out = []
    tt = t / T
    for i in range(D):
        acc = 0.0
        for j in range(D):          # fixed summation order j = 0..D-1
            acc += W[i][j] * x[j]
        acc += u[i] * tt
        out.append(scale * math.tanh(acc) + c[i])
    return out


def predict_x0(cfg, mo, x, abar_t):
    pt = cfg["prediction_type"]
    if pt == "epsilon":
        s1 = math.sqrt(1.0 - abar_t)
        s0 = math.sqrt(abar_t)
        x0 = [(xi - s1 * mi) / s0 for xi, mi in zip(x, mo)]
    elif pt == "sample":
        x0 = list(mo)
    elif pt == "v_prediction":
        s0 = math.sqrt(abar_t)
        s1 = math.sqrt(1.0 - abar_t)
        x0 = [s0 * xi - s1 * mi for xi, mi in zip(x, mo)]
    else:
        raise ValueError("unknown prediction_type %r" % pt)
    if cfg["clip_sample"]:
        r = cfg["clip_sample_range"]
        x0 = [min(max(v, -r), r) for v in x0]
    return x0


# --------------------------------------------------------------------------
# Configurations
# --------------------------------------------------------------------------

BASE_CONFIG = {
    "num_train_timesteps": 1000,
    "beta_start": 0.0001,
    "beta_end": 0.02,
    "beta_schedule": "linear",
    "trained_betas": None,
    "prediction_type": "epsilon",
    "variance_type": "fixed_small",
    # NB: diffusers' default is clip_sample=True; goldens set it explicitly.
    "clip_sample": False,
    "clip_sample_range": 1.0,
    "timestep_spacing": "leading",
    "steps_offset": 0,
}


def cfg(**kw):
    c = dict(BASE_CONFIG)
    for k in kw:
        if k not in c:
            raise KeyError(k)
    c.update(kw)
    return c


# (name, config, num_inference_steps, dim, chains, seed, scale)
CASES = [
    ("linear_leading_k50", cfg(), 50, 4, 3, 101, 1.0),
    ("linear_leading_full", cfg(), 1000, 4, 3, 102, 1.0),
    ("scaled_linear_leading_off1_k25",
     cfg(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
         steps_offset=1), 25, 4, 3, 103, 1.0),
    ("cos_t100_full",
     cfg(num_train_timesteps=100, beta_schedule="squaredcos_cap_v2"),
     100, 4, 3, 104, 1.0),
    ("cos_trailing_large_k30",
     cfg(beta_schedule="squaredcos_cap_v2", timestep_spacing="trailing",
         variance_type="fixed_large"), 30, 4, 3, 105, 1.0),
    ("linear_trailing_v_k20",
     cfg(timestep_spacing="trailing", prediction_type="v_prediction"),
     20, 4, 3, 106, 1.0),
    ("linear_linspace_large_v_k37",
     cfg(timestep_spacing="linspace", variance_type="fixed_large",
         prediction_type="v_prediction"), 37, 4, 3, 107, 1.0),
    ("scaled_linear_linspace_sample_clip_k10",
     cfg(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
         timestep_spacing="linspace", prediction_type="sample",
         clip_sample=True, clip_sample_range=1.0), 10, 4, 3, 108, 2.0),
    ("sigmoid_t500_leading_off1_large_k50",
     cfg(num_train_timesteps=500, beta_schedule="sigmoid", steps_offset=1,
         variance_type="fixed_large"), 50, 4, 3, 109, 1.0),
    ("trained_t40_trailing_k13",
     cfg(num_train_timesteps=40,
         trained_betas=[float(v) for v in np.linspace(1e-3, 0.2, 40)],
         timestep_spacing="trailing"), 13, 4, 3, 110, 1.0),
    ("linear_leading_k1", cfg(), 1, 4, 3, 111, 1.0),
    ("cos_trailing_large_sample_clip15_k7_d3",
     cfg(beta_schedule="squaredcos_cap_v2", timestep_spacing="trailing",
         variance_type="fixed_large", prediction_type="sample",
         clip_sample=True, clip_sample_range=1.5), 7, 3, 3, 112, 2.0),
    ("linear_linspace_eps_full_t40",
     cfg(num_train_timesteps=40, timestep_spacing="linspace"),
     40, 4, 3, 113, 1.0),
]


def tolist2(a):
    return [[float(v) for v in row] for row in a]


def run_case(name, config, K, D, N, seed, scale):
    T = config["num_train_timesteps"]
    betas = make_betas(config)
    acp = alphas_cumprod_of(betas)

    ts = set_timesteps(T, K, config["timestep_spacing"], config["steps_offset"])
    bad = check_timesteps(ts, T, K)
    if bad:
        raise ValueError("%s: invalid timesteps: %s" % (name, bad))
    ts = [int(v) for v in ts]
    assert ts == scalar_timesteps(T, K, config["timestep_spacing"],
                                  config["steps_offset"])
    prev = ts[1:] + [-1]

    rng = np.random.default_rng(seed)
    W = tolist2(rng.standard_normal((D, D)) / math.sqrt(D))   # N(0, 1/D)
    u = [float(v) for v in rng.standard_normal(D)]             # N(0, 1)
    c = [float(v) for v in rng.standard_normal(D) * 0.1]       # N(0, 0.1^2)
    init = tolist2(rng.standard_normal((N, D)))
    noise = [tolist2(m) for m in rng.standard_normal((K, N, D))]

    steps = []
    mos, x0s, traj = [], [], [init]
    x = [list(r) for r in init]
    for i, (t, pt) in enumerate(zip(ts, prev)):
        s = step_coeffs(acp, t, pt, config["variance_type"])
        steps.append(s)
        mo_i, x0_i, nx = [], [], []
        for n in range(N):
            mo = model_eval(W, u, c, scale, x[n], t, T)
            x0 = predict_x0(config, mo, x[n], s["abar_t"])
            out = [s["b"] * x0[d] + s["a"] * x[n][d] for d in range(D)]
            if t > 0:
                out = [out[d] + s["sigma"] * noise[i][n][d] for d in range(D)]
            mo_i.append(mo)
            x0_i.append(x0)
            nx.append(out)
        mos.append(mo_i)
        x0s.append(x0_i)
        traj.append(nx)
        x = nx

    return {
        "name": name,
        "config": config,
        "num_inference_steps": K,
        "dim": D,
        "chains": N,
        "seed": seed,
        "model": {
            "formula": "model_output[n] = scale * tanh(W @ x[n] + u * (t / num_train_timesteps)) + c",
            "W": W,
            "u": u,
            "c": c,
            "scale": scale,
        },
        "timesteps": ts,
        "prev_timesteps": prev,
        "alphas_cumprod": acp,
        "steps": steps,
        "trajectory_stride": 1,
        "init": init,
        "noise": noise,
        "model_output": mos,
        "x0_pred": x0s,
        "trajectory": traj,
    }


# --------------------------------------------------------------------------
# Wide set_timesteps table
# --------------------------------------------------------------------------


def _exact_round_half_even(num, den):
    q, r = divmod(num, den)          # den > 0
    if 2 * r > den or (2 * r == den and q % 2 == 1):
        q += 1
    return q


def _tie_sensitive(T, K, spacing):
    """True where numpy's float64 result differs from exact rational rounding."""
    ts = [int(v) for v in set_timesteps(T, K, spacing, 0)]
    if spacing == "linspace":
        exact = [_exact_round_half_even((T - 1) * i, K - 1) if K > 1 else 0
                 for i in range(K)][::-1]
    elif spacing == "trailing":
        exact = [_exact_round_half_even(T * K - i * T, K) - 1 for i in range(K)]
    else:
        return False
    return ts[:K] != exact


def extra_ks(T):
    """Deterministic extra K values that exercise numpy float quirks."""
    extra = set()
    overshoot = [K for K in range(1, T + 1)
                 if len(set_timesteps(T, K, "trailing", 0)) != K]
    extra |= set(overshoot[:3]) | set(overshoot[-1:])
    for spacing in ("linspace", "trailing"):
        tie = [K for K in range(1, T + 1)
               if K not in overshoot and _tie_sensitive(T, K, spacing)]
        extra |= set(tie[:3])
    return extra


def timesteps_table():
    valid, invalid = [], []
    for T in (10, 40, 100, 1000):
        ks = {1, 2, 3, 7, T // 3, T // 2, T - 1, T, T + 1}
        if T >= 100:
            ks |= {13, 25, 30, 37, 50, 99, 100, 101, 333, 999}
        if T >= 1000:
            ks |= {250, 400, 500, 501, 600, 667, 998}
        ks |= extra_ks(T)
        for K in sorted(k for k in ks if k >= 1):
            for spacing in ("linspace", "leading", "trailing"):
                for off in (0, 1):
                    entry = {
                        "num_train_timesteps": T,
                        "num_inference_steps": K,
                        "timestep_spacing": spacing,
                        "steps_offset": off,
                    }
                    try:
                        ts = set_timesteps(T, K, spacing, off)
                    except ValueError as e:
                        entry["reason"] = str(e)
                        invalid.append(entry)
                        continue
                    if [int(v) for v in ts] != scalar_timesteps(T, K, spacing, off):
                        raise AssertionError("scalar_timesteps mismatch %r" % entry)
                    if spacing in ("linspace", "trailing"):
                        entry["tie_sensitive"] = _tie_sensitive(T, K, spacing) \
                            if len(ts) == K else False
                    bad = check_timesteps(ts, T, K)
                    if bad:
                        entry["reason"] = bad
                        entry["timesteps"] = [int(v) for v in ts]
                        invalid.append(entry)
                        continue
                    entry["timesteps"] = [int(v) for v in ts]
                    valid.append(entry)
    return {
        "description": (
            "diffusers DDPMScheduler.set_timesteps(num_inference_steps) results "
            "(numpy float64 semantics, exactly as diffusers computes them). "
            "steps_offset is applied only for 'leading' (linspace/trailing ignore "
            "it; both offsets are listed to check that). 'tie_sensitive' marks "
            "cases where numpy's float64 rounding differs from exact rational "
            "round-half-to-even, so an integer/rational port would not match. "
            "'invalid' lists combos that diffusers rejects (K > T), or where "
            "diffusers' result is unusable: a timestep outside 0..T-1 (leading "
            "with steps_offset=1 at K == T gives timestep T) or trailing's "
            "np.arange overshoot, which yields K+1 timesteps ending in -1; "
            "'timesteps' there is diffusers' raw output."),
        "cases": valid,
        "invalid": invalid,
    }


# --------------------------------------------------------------------------
# Output
# --------------------------------------------------------------------------


def dump(obj, path):
    """Compact JSON: one top-level key per line, rows of arrays compact."""
    lines = ["{"]
    items = list(obj.items())
    for idx, (k, v) in enumerate(items):
        if k in ("steps", "cases", "invalid") and isinstance(v, list):
            inner = ",\n    ".join(
                json.dumps(e, separators=(",", ":"), allow_nan=False) for e in v)
            body = "[\n    " + inner + "\n  ]" if v else "[]"
        else:
            body = json.dumps(v, separators=(",", ":"), allow_nan=False)
        sep = "," if idx < len(items) - 1 else ""
        lines.append("  %s: %s%s" % (json.dumps(k), body, sep))
    lines.append("}")
    data = "\n".join(lines) + "\n"
    json.loads(data)  # sanity
    with open(path, "w", encoding="ascii", newline="\n") as f:
        f.write(data)


def main(argv=None):
    here = os.path.dirname(os.path.abspath(__file__))
    default_out = os.path.join(os.path.dirname(here), "tests", "golden")
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=default_out, help="output folder")
    args = ap.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)

    for case in CASES:
        data = run_case(*case)
        path = os.path.join(args.out, "ddpm_%s.json" % case[0])
        dump(data, path)
        print("wrote %s (%d bytes)" % (path, os.path.getsize(path)))

    path = os.path.join(args.out, "timesteps.json")
    dump(timesteps_table(), path)
    print("wrote %s (%d bytes)" % (path, os.path.getsize(path)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
