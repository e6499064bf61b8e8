#!/usr/bin/python3
"""Train the built-in diffusion policy `builtin:policy` (seeded, deterministic) and write it to models/builtin-policy/.

Usage:
    /usr/bin/python3 tools/train_policy.py [--root DIR] [--seed S] [--steps N] [--quick]

The task (model coordinates; the C# tests re-implement this geometry, so it is fixed exactly):
  workspace [-1,1]^2; obstacle = the open disc of radius 0.3 centred at (0,0).
  observation (cond, 4 floats) [start_x, start_y, goal_x, goal_y]:
      theta ~ U(0, 2pi), r_s ~ U(0.65, 0.9), delta ~ U(-0.5, 0.5), r_g ~ U(0.65, 0.9),
      start = r_s (cos theta, sin theta), goal = r_g (cos(theta + pi + delta), sin(theta + pi + delta));
      "symmetric" observations have delta = 0 and r_s = r_g (the start-goal line passes through the centre).
  action (sample_shape [16, 2]): waypoints w_1..w_16 after the start; w_16 is the goal.
  demonstrations: d = goal - start, n = d/|d| turned +90 degrees (left), offset = <centre - start, n>.
      side = left (+1) with probability sigmoid(-offset / 0.1), else right (-1).
      via point V = centre + side * dist * n + nudge * d/|d|, dist ~ U(0.42, 0.52), nudge ~ U(-0.05, 0.05).
      The curve is the quadratic Bezier B(s) = (1-s)^2 start + 2 s (1-s) C + s^2 goal that passes through V at
      s_v = <V - start, d> / |d|^2 (the fraction of V's projection onto the chord), i.e.
      C = (V - (1-s_v)^2 start - s_v^2 goal) / (2 s_v (1-s_v)); along the chord it moves at constant speed and its
      lateral offset is a parabola. w_i = B(i/16), i = 1..16 (so w_16 = goal exactly). A demo whose dense polyline
      (B at s = j/256) comes within 0.35 of the centre or leaves [-1,1]^2 is rejected and redrawn.
  evaluation (as the C# test): goal reached |w_16 - goal| <= 0.1; collision-free: every segment of the polyline
      start, w_1, ..., w_16 at distance >= 0.3 from the centre; mode = sign(sum_i cross(d, w_i - centre)),
      cross(a, b) = a_x b_y - a_y b_x, positive = left.

Network (asd-mlp, docs/mlp-format.md): epsilon prediction; time embedding dim 128 (flip_sin_to_cos, shift 0);
input [sample (32), time (128), cond (4)] -> linear 164->768 silu -> 2 pre-norm residual blocks (layer_norm,
linear 768->768 silu, linear 768->768 identity; block activation identity) -> layer_norm -> linear 768->32.
2,518,304 parameters. (Without the layer norms the same budget left ~10% of samples touching the obstacle.)
DDPM: T = 100, squaredcos_cap_v2, fixed_small variance, clip_sample true (range 1), "leading" spacing.

Training: a pre-generated pool of demonstrations, AdamW with warmup + cosine LR, gradient clipping, an EMA of the
weights (the EMA is what is exported), rounded to float16 for the committed safetensors. Debian's torch uses the
reference BLAS, so nn.Linear is slow here; training runs every linear layer as a 1x1 convolution over a
[1, channels, batch, 1] layout, which torch computes with oneDNN (~40x faster on this CPU). The same function.

Outputs (ROOT/models/builtin-policy/): policy.json, policy.safetensors (F16 weights), policy.onnx
(tools/export_mlp_onnx.py --fp16-weights of the committed files), QUALITY.md (evaluation of the committed weights
with an independent DDPM sampler, K = 100). --quick (or a small --steps) is for testing this script: do not
commit its output. Fixed seeds, fixed thread count (2), deterministic algorithms: the same machine and torch
build write the same bytes on every run.

Needs Debian's python3-torch (1.13), python3-onnx (1.12), python3-numpy.
"""

import os

for _v in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ[_v] = "2"

import argparse  # noqa: E402
import hashlib  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mlp_common as mc  # noqa: E402
import export_mlp_onnx  # noqa: E402
import ddpm_torch  # noqa: E402

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

ddpm_torch.setup_torch(2)

OUT_DIR = os.path.join("models", "builtin-policy")

# Task geometry (model coordinates).
OBSTACLE_C = (0.0, 0.0)
OBSTACLE_R = 0.3
WORKSPACE = 1.0              # [-WORKSPACE, WORKSPACE]^2
N_WP = 16
R_RANGE = (0.65, 0.9)
DELTA_RANGE = (-0.5, 0.5)
SIDE_TEMP = 0.1
VIA_DIST = (0.42, 0.52)
VIA_NUDGE = (-0.05, 0.05)
DEMO_CLEARANCE = 0.35        # rejection: dense demo polyline at least this far from the centre
DENSE = 256
GOAL_TOL = 0.1               # evaluation: |w_16 - goal| <= 0.05 * workspace size (2)

# Network / diffusion.
T = 100
TE_DIM = 128
HIDDEN = 768
BLOCKS = 2
PRE_NORM = True              # layer_norm at the start of each residual block and before the output layer
COND_DIM = 4
ACT_DIM = N_WP * 2

# Training.
SEED = 20251128
STEPS = 6000
BATCH = 1024
LR = 1e-3
WARMUP = 300
WEIGHT_DECAY = 1e-4
EMA_DECAY = 0.999
POOL = 400_000

# Evaluation.
EVAL_K = 100
EVAL_N = 200
EVAL_N_LARGE = 2000
SYM_OBS = 8
SYM_PER_OBS = 25


# --------------------------------------------------------------------------
# Task
# --------------------------------------------------------------------------

def sample_obs(rng, n, symmetric=False):
    """n observations [n, 4] float64 from the task distribution (or its symmetric subset)."""
    theta = rng.uniform(0.0, 2.0 * math.pi, n)
    r_s = rng.uniform(*R_RANGE, n)
    if symmetric:
        delta, r_g = np.zeros(n), r_s.copy()
    else:
        delta = rng.uniform(*DELTA_RANGE, n)
        r_g = rng.uniform(*R_RANGE, n)
    start = r_s[:, None] * np.stack([np.cos(theta), np.sin(theta)], 1)
    phi = theta + math.pi + delta
    goal = r_g[:, None] * np.stack([np.cos(phi), np.sin(phi)], 1)
    return np.concatenate([start, goal], 1)


def frame(obs):
    """d = goal - start, unit d, left normal n, offset = <centre - start, n>."""
    start, goal = obs[:, 0:2], obs[:, 2:4]
    d = goal - start
    u = d / np.linalg.norm(d, axis=1, keepdims=True)
    n = np.stack([-u[:, 1], u[:, 0]], 1)
    offset = np.sum((np.array(OBSTACLE_C)[None, :] - start) * n, axis=1)
    return d, u, n, offset


def bezier(start, ctrl, goal, s):
    """Quadratic Bezier at parameters s [m] for rows [n, 2] -> [n, m, 2]."""
    s = s[None, :, None]
    return (1 - s) ** 2 * start[:, None, :] + 2 * s * (1 - s) * ctrl[:, None, :] + s ** 2 * goal[:, None, :]


def seg_dist(p, q, c=OBSTACLE_C):
    """Distance from c to segments p->q (arrays [..., 2]); float64."""
    c = np.asarray(c, dtype=np.float64)
    v = q - p
    w = c - p
    vv = np.sum(v * v, -1)
    tt = np.clip(np.sum(w * v, -1) / np.maximum(vv, 1e-300), 0.0, 1.0)
    proj = p + tt[..., None] * v
    return np.linalg.norm(proj - c, axis=-1)


def demos(rng, obs):
    """One demonstration per observation: (actions [n, 16, 2] float64, side [n] +1 left / -1 right).
    Rejected demos are redrawn (side, dist and nudge) until they pass."""
    n = obs.shape[0]
    act = np.zeros((n, N_WP, 2))
    side = np.zeros(n)
    todo = np.arange(n)
    s_wp = np.arange(1, N_WP + 1) / N_WP
    s_dense = np.arange(0, DENSE + 1) / DENSE
    while todo.size:
        o = obs[todo]
        start, goal = o[:, 0:2], o[:, 2:4]
        d, u, nrm, offset = frame(o)
        m = todo.size
        p_left = 1.0 / (1.0 + np.exp(offset / SIDE_TEMP))        # sigmoid(-offset / 0.1)
        sd = np.where(rng.random(m) < p_left, 1.0, -1.0)
        dist = rng.uniform(*VIA_DIST, m)
        nudge = rng.uniform(*VIA_NUDGE, m)
        via = np.array(OBSTACLE_C)[None, :] + (sd * dist)[:, None] * nrm + nudge[:, None] * u
        s_v = np.sum((via - start) * d, 1) / np.sum(d * d, 1)
        ctrl = (via - ((1 - s_v) ** 2)[:, None] * start - (s_v ** 2)[:, None] * goal) / (2 * s_v * (1 - s_v))[:, None]
        dense = bezier(start, ctrl, goal, s_dense)
        clear = seg_dist(dense[:, :-1], dense[:, 1:]).min(1)
        ok = (clear >= DEMO_CLEARANCE) & (np.abs(dense).max(axis=(1, 2)) <= WORKSPACE) & (s_v > 0.05) & (s_v < 0.95)
        wp = bezier(start, ctrl, goal, s_wp)
        wp[:, -1] = goal                                          # exactly (B(1) = goal up to rounding)
        act[todo[ok]] = wp[ok]
        side[todo[ok]] = sd[ok]
        todo = todo[~ok]
    return act, side


def evaluate_paths(obs, act):
    """Criteria of the C# test. obs [n, 4], act [n, 16, 2] -> dict of boolean/int arrays."""
    obs = np.asarray(obs, dtype=np.float64)
    act = np.asarray(act, dtype=np.float64)
    start, goal = obs[:, 0:2], obs[:, 2:4]
    reached = np.linalg.norm(act[:, -1] - goal, axis=1) <= GOAL_TOL
    pts = np.concatenate([start[:, None, :], act], 1)
    clear = seg_dist(pts[:, :-1], pts[:, 1:]).min(1)
    d = goal - start
    rel = act - np.array(OBSTACLE_C)[None, None, :]
    cross = d[:, None, 0] * rel[..., 1] - d[:, None, 1] * rel[..., 0]
    mode = np.sign(cross.sum(1)).astype(np.int64)
    return {"reached": reached, "free": clear >= OBSTACLE_R, "clearance": clear, "mode": mode}


# --------------------------------------------------------------------------
# Schedule (as diffusers' DDPMScheduler computes it: float32 betas and cumprod)
# --------------------------------------------------------------------------

def squaredcos_betas(T_):
    return ddpm_torch.squaredcos_cap_v2_betas(T_)


def alphas_cumprod():
    return torch.cumprod(1.0 - squaredcos_betas(T), 0)


def scheduler_config():
    return ddpm_torch.scheduler_config(T, "squaredcos_cap_v2", True)


# --------------------------------------------------------------------------
# The network
# --------------------------------------------------------------------------

def spec_json():
    def lin(name, act):
        return {"type": "linear", "weight": name + ".weight", "bias": name + ".bias", "activation": act}

    def norm(name):
        return {"type": "layer_norm", "weight": name + ".weight", "bias": name + ".bias", "eps": 1e-5}
    layers = [lin("net.0", "silu")]
    for b in range(BLOCKS):
        inner = [norm("net.%d.norm" % (b + 1))] if PRE_NORM else []
        inner += [lin("net.%d.fc1" % (b + 1), "silu"), lin("net.%d.fc2" % (b + 1), "identity")]
        layers.append({"type": "residual", "activation": "identity", "layers": inner})
    if PRE_NORM:
        layers.append(norm("net.%d.norm" % (BLOCKS + 1)))
    layers.append(lin("net.%d" % (BLOCKS + 1), "identity"))
    return {
        "format": "asd-mlp",
        "version": 1,
        "sample_shape": [N_WP, 2],
        "cond_dim": COND_DIM,
        "prediction_type": "epsilon",
        "time_embedding": {"dim": TE_DIM, "max_period": 10000.0, "flip_sin_to_cos": True,
                           "downscale_freq_shift": 0.0, "scale": 1.0},
        "time_mlp": [],
        "input": ["sample", "time", "cond"],
        "layers": layers,
        "scheduler": scheduler_config(),
    }


class ConvPolicy(nn.Module):
    """The network of spec_json() (asd-mlp layers: linear, residual, layer_norm), with each linear computed as a
    1x1 convolution over a [1, C, B, 1] layout (oneDNN). Parameters are named and shaped as the asd-mlp tensors
    (linear weight [out, in], bias [out]; nn.Linear's default initialisation; layer_norm weight 1, bias 0)."""

    def __init__(self):
        super().__init__()
        self.spec = mc.parse_spec(spec_json())
        self.te = self.spec["time_embedding"]
        self.params = nn.ParameterDict()
        self.order = []
        self.register_buffer("freqs", torch.tensor([mc.timestep_freqs(self.te)], dtype=torch.float32))
        width = ACT_DIM + TE_DIM + COND_DIM
        self._make(self.spec["layers"], width)

    def _add(self, name, tensor):
        self.params[name.replace(".", "/")] = nn.Parameter(tensor)
        self.order.append(name)

    def _make(self, layers, width):
        for l in layers:
            if l["type"] == "linear":
                fout = HIDDEN if l["weight"] != "net.%d.weight" % (BLOCKS + 1) else ACT_DIM
                ref = nn.Linear(width, fout)
                self._add(l["weight"], ref.weight.detach().clone())
                self._add(l["bias"], ref.bias.detach().clone())
                width = fout
            elif l["type"] == "residual":
                self._make(l["layers"], width)
            else:
                self._add(l["weight"], torch.ones(width))
                self._add(l["bias"], torch.zeros(width))
        return width

    def p(self, name):
        return self.params[name.replace(".", "/")]

    def _run(self, layers, h):
        for l in layers:
            if l["type"] == "linear":
                w = self.p(l["weight"])
                h = F.conv2d(h, w.reshape(w.shape[0], w.shape[1], 1, 1), self.p(l["bias"]))
                if l["activation"] == "silu":
                    h = F.silu(h)
                elif l["activation"] != "identity":
                    raise ValueError(l["activation"])
            elif l["type"] == "residual":
                h = self._run(l["layers"], h) + h
                if l["activation"] != "identity":
                    raise ValueError(l["activation"])
            else:
                mu = h.mean(1, keepdim=True)
                var = ((h - mu) ** 2).mean(1, keepdim=True)
                h = (h - mu) * torch.rsqrt(var + l["eps"]) * self.p(l["weight"]).reshape(1, -1, 1, 1) \
                    + self.p(l["bias"]).reshape(1, -1, 1, 1)
        return h

    def forward(self, sample, t, cond):
        """sample [B, 32], t [B] (int or float), cond [B, 4] -> [B, 32]."""
        a = t.to(torch.float32).unsqueeze(1) * self.freqs
        h = torch.cat([sample, torch.cos(a), torch.sin(a), cond], 1)
        h = h.t().contiguous().reshape(1, h.shape[1], h.shape[0], 1)
        h = self._run(self.spec["layers"], h)
        return h.reshape(h.shape[1], h.shape[2]).t()

    def tensors(self):
        """Ordered dict name -> float32 numpy array (asd-mlp tensor names)."""
        return {n: self.p(n).detach().numpy().astype(np.float32) for n in self.order}

    def load_tensors(self, tensors):
        with torch.no_grad():
            for n in self.order:
                self.p(n).copy_(torch.from_numpy(np.asarray(tensors[n], dtype=np.float32)))


def n_params(m):
    return sum(p.numel() for p in m.parameters())


# --------------------------------------------------------------------------
# Training
# --------------------------------------------------------------------------

def lr_at(step, steps):
    return ddpm_torch.warmup_cosine_lr(step, steps, LR, WARMUP, 0.01)


def train(model, obs, act, steps, seed):
    """Epsilon-prediction DDPM training. Returns (EMA state dict, loss log, seconds)."""
    gen = torch.Generator().manual_seed(seed)
    acp = alphas_cumprod()
    obs_t = torch.from_numpy(obs.astype(np.float32))
    act_t = torch.from_numpy(act.reshape(len(act), -1).astype(np.float32))
    opt = ddpm_torch.adamw_matrices_decay(model, LR, WEIGHT_DECAY)
    ema = [p.detach().clone() for p in model.parameters()]
    model.train()
    t0 = time.time()
    log, run, run_n = [], 0.0, 0
    every = max(1, steps // 20)
    for step in range(steps):
        run += ddpm_torch.train_step(model, opt, ema, EMA_DECAY, step, lr_at(step, steps), act_t, obs_t, acp, T, BATCH,
                                     gen)
        run_n += 1
        if (step + 1) % every == 0 or step + 1 == steps:
            el = time.time() - t0
            print("  step %5d/%d  loss %.5f  lr %.2e  %.0f s (eta %.0f s)"
                  % (step + 1, steps, run / run_n, lr_at(step, steps), el, el / (step + 1) * (steps - step - 1)),
                  flush=True)
            log.append((step + 1, run / run_n))
            run, run_n = 0.0, 0
    ddpm_torch.load_ema(model, ema)
    model.eval()
    return log, time.time() - t0


def heldout_loss(model, obs, act, seed):
    acp = alphas_cumprod()
    x0 = torch.from_numpy(act.reshape(len(act), -1).astype(np.float32))
    c = torch.from_numpy(obs.astype(np.float32))
    return ddpm_torch.heldout_eps_mse(lambda xt, t: model(xt, t, c), x0, acp, T, seed)


# --------------------------------------------------------------------------
# Independent DDPM sampler (diffusers DDPMScheduler.step, fixed_small, clip_sample, leading spacing)
# --------------------------------------------------------------------------

def ddpm_sample(eps_fn, cond, K, seed, clip=1.0):
    """cond [n, 4] -> samples [n, 16, 2] float64. eps_fn(x float32 [n,32], t int) -> eps float32 [n,32].
    Scalars from diffusers' float32 betas / alphas_cumprod, step arithmetic in float64."""
    betas = squaredcos_betas(T)
    acp = torch.cumprod(1.0 - betas, 0).numpy().astype(np.float64)
    gen = torch.Generator().manual_seed(seed)
    n = cond.shape[0]
    x = torch.randn((n, ACT_DIM), generator=gen).numpy().astype(np.float64)
    ratio = T // K
    ts = [i * ratio for i in range(K)][::-1]
    for t in ts:
        eps = eps_fn(x.astype(np.float32), t).astype(np.float64)
        prev = t - ratio
        a_t = acp[t]
        a_prev = acp[prev] if prev >= 0 else 1.0
        cur_alpha = a_t / a_prev
        cur_beta = 1.0 - cur_alpha
        x0 = (x - math.sqrt(1.0 - a_t) * eps) / math.sqrt(a_t)
        if clip is not None:
            x0 = np.clip(x0, -clip, clip)
        mean = (math.sqrt(a_prev) * cur_beta / (1.0 - a_t)) * x0 + (math.sqrt(cur_alpha) * (1.0 - a_prev) / (1.0 - a_t)) * x
        if t > 0:
            var = max((1.0 - a_prev) / (1.0 - a_t) * cur_beta, 1e-20)
            x = mean + math.sqrt(var) * torch.randn((n, ACT_DIM), generator=gen).numpy().astype(np.float64)
        else:
            x = mean
    return x.reshape(n, N_WP, 2)


def eps_fn_of(model, cond):
    """eps(x [n, 32], t) for ConvPolicy (flat rows) or mlp_common's MlpNet ([n, 16, 2] in and out)."""
    c = torch.from_numpy(np.asarray(cond, dtype=np.float32))
    shaped = not isinstance(model, ConvPolicy)

    def fn(x, t):
        with torch.no_grad():
            tt = torch.full((x.shape[0],), t, dtype=torch.int64)
            xx = torch.from_numpy(x.reshape(x.shape[0], N_WP, 2) if shaped else x)
            return model(xx, tt, c).numpy().reshape(x.shape[0], -1)
    return fn


def symmetric_obs():
    """SYM_OBS fixed symmetric observations: theta = 2 pi k / SYM_OBS + 0.3, r evenly over [0.65, 0.9]."""
    out = []
    for k in range(SYM_OBS):
        th = 2 * math.pi * k / SYM_OBS + 0.3
        r = R_RANGE[0] + (R_RANGE[1] - R_RANGE[0]) * k / (SYM_OBS - 1)
        out.append([r * math.cos(th), r * math.sin(th), r * math.cos(th + math.pi), r * math.sin(th + math.pi)])
    return np.array(out)


def pct(k, n):
    return "%d/%d (%.1f%%)" % (k, n, 100.0 * k / n)


def run_eval(model, seed_obs, seed_sampler, n_obs):
    """Distribution and symmetric evaluations with one sampler seed; returns a dict of results."""
    rng = np.random.default_rng(seed_obs)
    obs = sample_obs(rng, n_obs)
    x = ddpm_sample(eps_fn_of(model, obs), obs, EVAL_K, seed_sampler)
    r = evaluate_paths(obs, x)
    sym = symmetric_obs()
    cond = np.repeat(sym, SYM_PER_OBS, axis=0)
    xs = ddpm_sample(eps_fn_of(model, cond), cond, EVAL_K, seed_sampler + 1)
    rs = evaluate_paths(cond, xs)
    per = []
    for k in range(SYM_OBS):
        m = rs["mode"][k * SYM_PER_OBS:(k + 1) * SYM_PER_OBS]
        per.append((int((m > 0).sum()), int((m < 0).sum())))
    return {
        "n": n_obs, "reached": int(r["reached"].sum()), "free": int(r["free"].sum()),
        "both": int((r["reached"] & r["free"]).sum()),
        "min_clear": float(r["clearance"].min()),
        "max_goal_err": float(np.linalg.norm(x[:, -1] - obs[:, 2:4], axis=1).max()),
        "sym_n": len(cond), "sym_left": int((rs["mode"] > 0).sum()), "sym_right": int((rs["mode"] < 0).sum()),
        "sym_reached": int(rs["reached"].sum()), "sym_free": int(rs["free"].sum()), "sym_per_obs": per,
        "samples": x, "obs": obs,
    }


def format_eval(name, r):
    lines = ["%s: %d observations from the distribution, one sample each: goal reached %s, collision-free %s, both %s; "
             "min clearance %.3f, max |w_16 - goal| %.3f."
             % (name, r["n"], pct(r["reached"], r["n"]), pct(r["free"], r["n"]), pct(r["both"], r["n"]),
                r["min_clear"], r["max_goal_err"]),
             "  symmetric: %d samples: left %s, right %s; goal reached %s, collision-free %s; per observation (left/right) %s."
             % (r["sym_n"], pct(r["sym_left"], r["sym_n"]), pct(r["sym_right"], r["sym_n"]),
                pct(r["sym_reached"], r["sym_n"]), pct(r["sym_free"], r["sym_n"]),
                " ".join("%d/%d" % p for p in r["sym_per_obs"]))]
    return "\n".join(lines)


# --------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------

def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def training_arguments(description, seed, steps, quick_help):
    """The command line both policy trainers share (train_unet_policy.py adds its own arguments)."""
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--root", default=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    ap.add_argument("--seed", type=int, default=seed)
    ap.add_argument("--steps", type=int, default=steps)
    ap.add_argument("--quick", action="store_true", help=quick_help)
    return ap


def main(argv=None):
    ap = training_arguments(__doc__.splitlines()[0], SEED, STEPS, "200 steps, small pool (testing only)")
    a = ap.parse_args(argv)
    steps, pool = (200, 20_000) if a.quick else (a.steps, POOL)
    out_dir = os.path.join(a.root, OUT_DIR)
    os.makedirs(out_dir, exist_ok=True)
    t_all = time.time()

    # Demonstrations.
    t0 = time.time()
    rng = np.random.default_rng(a.seed)
    obs = sample_obs(rng, pool)
    act, side = demos(rng, obs)
    chk = evaluate_paths(obs, act)
    if not (chk["reached"].all() and chk["free"].all() and np.array_equal(chk["mode"], side.astype(np.int64))):
        raise RuntimeError("demonstrations fail the evaluation criteria (a bug)")
    _, _, _, offset = frame(obs)
    sym_rng = np.random.default_rng(a.seed + 7)
    sym_o = sample_obs(sym_rng, 20000, symmetric=True)
    _, sym_side = demos(sym_rng, sym_o)
    demo_info = ("%d demos in %.1f s: left %.1f%%; min clearance of the 16-segment polylines %.3f; "
                 "symmetric check: left %.1f%% of 20000" %
                 (pool, time.time() - t0, 100 * np.mean(side > 0), chk["clearance"].min(), 100 * np.mean(sym_side > 0)))
    print(demo_info, flush=True)
    hold_rng = np.random.default_rng(a.seed + 1)
    hold_obs = sample_obs(hold_rng, 4096)
    hold_act, _ = demos(hold_rng, hold_obs)

    # Training.
    torch.manual_seed(a.seed)
    model = ConvPolicy()
    npar = n_params(model)
    print("network: %d parameters; training %d steps, batch %d" % (npar, steps, BATCH), flush=True)
    log, t_train = train(model, obs, act, steps, a.seed + 2)
    hl = heldout_loss(model, hold_obs, hold_act, a.seed + 3)
    print("training: %.0f s; held-out epsilon MSE (EMA weights) %.5f" % (t_train, hl), flush=True)

    # Write (float16 weights), export ONNX.
    spec_obj = spec_json()
    tensors = {k: v.astype(np.float16).astype(np.float32) for k, v in model.tensors().items()}
    json_path = os.path.join(out_dir, "policy.json")
    st_path = os.path.join(out_dir, "policy.safetensors")
    onnx_path = os.path.join(out_dir, "policy.onnx")
    with open(json_path, "w", encoding="utf-8", newline="\n") as f:
        f.write(json.dumps(spec_obj, indent=2) + "\n")
    mc.write_safetensors(st_path, tensors, dtypes={k: "F16" for k in tensors})
    export_mlp_onnx.export(json_path, onnx_path, fp16_weights=True)
    res_onnx = export_mlp_onnx.check(json_path, onnx_path)

    # Evaluate the committed weights.
    spec, committed, resolved = mc.load_model(json_path)
    net = ConvPolicy()
    net.load_tensors(committed)
    net.eval()
    rng_c = np.random.default_rng(a.seed + 4)
    xs = rng_c.standard_normal((16, ACT_DIM)).astype(np.float32)
    ts = rng_c.integers(0, T, 16)
    cs = sample_obs(rng_c, 16).astype(np.float32)
    ref = mc.reference_forward(spec, resolved, xs.reshape(16, N_WP, 2), ts, cs).reshape(16, -1)
    with torch.no_grad():
        got = net(torch.from_numpy(xs), torch.from_numpy(ts), torch.from_numpy(cs)).numpy()
    conv_diff = float(np.max(np.abs(got - ref)))
    if conv_diff > 1e-4 * max(1.0, float(np.abs(ref).max())):
        raise RuntimeError("evaluation network differs from the float64 reference by %g" % conv_diff)
    module = mc.build_module(spec, resolved)
    got_mlp = mc.torch_forward(module, spec, xs.reshape(16, N_WP, 2), ts, cs).reshape(16, -1)
    mlp_diff = float(np.max(np.abs(got_mlp - ref)))

    t0 = time.time()
    evals = [("sampler seed %d" % s, run_eval(net, a.seed + 10, s, EVAL_N)) for s in (1, 2, 3)]
    big = run_eval(net, a.seed + 11, 4, EVAL_N_LARGE)
    t_eval = time.time() - t0
    for name, r in evals + [("large, sampler seed 4", big)]:
        print(format_eval(name, r), flush=True)
    print("eval: %.0f s" % t_eval, flush=True)
    t_total = time.time() - t_all

    sizes = {p: os.path.getsize(os.path.join(out_dir, p)) for p in ("policy.json", "policy.safetensors", "policy.onnx")}
    q = []
    q.append("# builtin:policy: quality")
    q.append("")
    q.append("Written by `tools/train_policy.py` (seed %d); the numbers are for the committed weights (float16 in "
             "`policy.safetensors`, converted to float32), sampled with an independent DDPM sampler (diffusers' "
             "`DDPMScheduler.step` formula, K = %d of T = %d, fixed_small variance, clip_sample range 1, float32 network, "
             "float64 step arithmetic). Criteria as in `README.md`: goal reached |w_16 - goal| <= %.2g; collision-free: "
             "every segment of start, w_1..w_16 at distance >= %.2g from the centre; mode = sign of "
             "sum_i cross(d, w_i - centre) (positive = left)." % (a.seed, EVAL_K, T, GOAL_TOL, OBSTACLE_R))
    q.append("")
    q.append("- Network: %d parameters (asd-mlp, %d-wide MLP, %d residual blocks)." % (npar, HIDDEN, BLOCKS))
    q.append("- Demonstrations: %s." % demo_info)
    q.append("- Training: %d steps, batch %d, AdamW lr %.0e (warmup %d, cosine), weight decay %.0e, EMA %.4g, "
             "grad-norm clip 1; %.0f s. Final training loss %.5f; held-out epsilon MSE %.5f (EMA weights, float32)."
             % (steps, BATCH, LR, WARMUP, WEIGHT_DECAY, EMA_DECAY, t_train, log[-1][1], hl))
    q.append("- Whole run (demos, training, export, checks, evaluation): %.0f s on 2 CPU cores (evaluation %.0f s)."
             % (t_total, t_eval))
    q.append("- Forward checks: evaluation network vs the numpy float64 reference max |diff| %.2e; asd-mlp torch module "
             "(tools/mlp_common.py) %.2e; ONNX export (float16 initializers + Cast) vs reference %.2e."
             % (conv_diff, mlp_diff, res_onnx["onnx_f64_max_abs_diff"]))
    q.append("")
    q.append("## Results")
    q.append("")
    q.append("Observations drawn with numpy `default_rng(%d)` (primary, %d) and `default_rng(%d)` (large, %d); "
             "symmetric observations: %d fixed ones (theta = 2 pi k / %d + 0.3, r evenly over [0.65, 0.9]) x %d samples."
             % (a.seed + 10, EVAL_N, a.seed + 11, EVAL_N_LARGE, SYM_OBS, SYM_OBS, SYM_PER_OBS))
    q.append("")
    q.append("| run | observations | goal reached | collision-free | both | min clearance | symmetric left | symmetric right | symmetric reached / free |")
    q.append("|---|---|---|---|---|---|---|---|---|")
    for name, r in evals + [("large, sampler seed 4", big)]:
        q.append("| %s | %d | %s | %s | %s | %.3f | %s | %s | %s / %s |"
                 % (name, r["n"], pct(r["reached"], r["n"]), pct(r["free"], r["n"]), pct(r["both"], r["n"]),
                    r["min_clear"], pct(r["sym_left"], r["sym_n"]), pct(r["sym_right"], r["sym_n"]),
                    pct(r["sym_reached"], r["sym_n"]), pct(r["sym_free"], r["sym_n"])))
    q.append("")
    q.append("Symmetric observations, left/right per observation (%d samples each):" % SYM_PER_OBS)
    q.append("")
    for name, r in evals + [("large, sampler seed 4", big)]:
        q.append("- %s: %s" % (name, " ".join("%d/%d" % p for p in r["sym_per_obs"])))
    q.append("")
    q.append("Targets (C# test): >= 90% reached, >= 95% collision-free, each symmetric mode >= 20%.")
    q.append("")
    q.append("## Files")
    q.append("")
    for p in ("policy.json", "policy.safetensors", "policy.onnx"):
        q.append("- `%s`: %d bytes, sha256 `%s`" % (p, sizes[p], sha256(os.path.join(out_dir, p))))
    q.append("")
    with open(os.path.join(out_dir, "QUALITY.md"), "w", encoding="utf-8", newline="\n") as f:
        f.write("\n".join(q))
    print("wrote %s (total %.0f s)" % (out_dir, t_total), flush=True)
    for p, s in sizes.items():
        print("  %s %d bytes" % (p, s))
    return 0


if __name__ == "__main__":
    sys.exit(main())
