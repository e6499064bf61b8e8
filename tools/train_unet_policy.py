#!/usr/bin/python3
"""Train a ConditionalUnet1D diffusion policy on the built-in obstacle task (seeded) and write it to models/unet-policy/.

Usage:
    /usr/bin/python3 tools/train_unet_policy.py [--root DIR] [--seed S] [--steps N] [--quick]
        [--checkpoint FILE] [--max-minutes M]

The task, the demonstrations, the DDPM schedule (T = 100, squaredcos_cap_v2, fixed_small, clip_sample, epsilon) and
the independent evaluation sampler are tools/train_policy.py's (imported, not copied), so this policy and
builtin:policy solve exactly the same problem: observation = start and goal (global conditioning, 4 values), action =
16 waypoints x 2 (horizon 16, input_dim 2).

Network: Chi et al.'s ConditionalUnet1D (tools/unet1d_common.py, diffusion_policy's module names): down_dims
[64, 128, 256], diffusion step embedding 64, kernel 5, 8 groups, FiLM with scale and shift (cond_predict_scale, as
diffusion_policy's configs): 4,102,530 parameters.

Training: AdamW (lr 1e-3, warmup + cosine, weight decay 1e-4 on matrices), batch 256, 3000 steps, gradient clipping,
an EMA of the weights (exported), a pool of 200,000 demonstrations drawn by builtin:policy's trainer's own functions
(this script's seed), on one thread. Debian's torch runs convolution
backward passes slowly on this CPU, so training runs each convolution's gradients as forward convolutions (a custom
autograd function; the same mathematics, checked against torch's own gradients at start-up).

Long runs can be split: --checkpoint FILE saves the state every 200 steps and at the end of --max-minutes, and a
later run with the same arguments resumes from it (the result is the same as one uninterrupted run).

Outputs (ROOT/models/unet-policy/): policy.json + policy.safetensors (asd-unet1d, float16 convolution and linear
weights), policy.onnx (the same network, float32, for ONNX Runtime), QUALITY.md (evaluation of the committed weights
with train_policy.py's independent DDPM sampler, K = 100). --quick is for testing this script; do not commit its
output.

Needs Debian's python3-torch (1.13), python3-onnx, python3-numpy.
"""

import os

# One thread: on a shared 2-core machine, two OpenMP threads spin at every barrier while the other is descheduled
# (measured: 15-36 s per step instead of 0.7-2.6 s under load). One thread also fixes the bytes of the result.
for _v in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ[_v] = "1"

import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import train_policy as tp  # noqa: E402  (the task, schedule and evaluation sampler)
import ddpm_torch  # noqa: E402
import unet1d_common as uc  # noqa: E402

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

torch.set_num_threads(1)

OUT_DIR = os.path.join("models", "unet-policy")

CONFIG = {"format": "asd-unet1d", "version": 1, "horizon": tp.N_WP, "input_dim": 2, "global_cond_dim": tp.COND_DIM,
          "diffusion_step_embed_dim": 64, "down_dims": [64, 128, 256], "kernel_size": 5, "n_groups": 8,
          "cond_predict_scale": True, "prediction_type": "epsilon"}

SEED = 20261201
STEPS = 3000
BATCH = 256
LR = 1e-3
WARMUP = 300
WEIGHT_DECAY = 1e-4
EMA_DECAY = 0.999
POOL = 200_000
CHECKPOINT_EVERY = 200


# --------------------------------------------------------------------------
# Convolutions whose backward passes are forward convolutions
# --------------------------------------------------------------------------

def _transposed(g, w, stride, padding, length):
    """conv_transpose1d(g, w, stride, padding) of output length `length`, as a stride-1 conv1d of the zero-interleaved
    input with the flipped kernel (this torch build runs conv_transpose1d on a slow reference path):
    y[o] = sum_k xu[o + padding - k] w[k] with xu[stride i] = g[i]."""
    B, C, S = g.shape
    q = w.shape[2]
    xu = g.new_zeros(B, C, stride * (S - 1) + 1)
    xu[:, :, ::stride] = g
    left = q - 1 - padding
    right = max(0, length - 1 + padding - (stride * (S - 1)))
    xu = F.pad(xu, (max(0, left), right))[:, :, max(0, -left):]
    return F.conv1d(xu, w.transpose(0, 1).flip(2))[:, :, :length]


class _Conv(torch.autograd.Function):
    """y = conv1d(x, w, b, stride, padding); gradients by forward convolutions (fast on this torch build)."""

    @staticmethod
    def forward(ctx, x, w, b, stride, padding):
        ctx.save_for_backward(x, w)
        ctx.stride, ctx.padding = stride, padding
        return F.conv1d(x, w, b, stride=stride, padding=padding)

    @staticmethod
    def backward(ctx, g):
        x, w = ctx.saved_tensors
        s, p, q = ctx.stride, ctx.padding, w.shape[2]
        gx = _transposed(g, w, s, p, x.shape[2])
        # dW[o, c, j] = sum_{b, t} g[b, o, t] xpad[b, c, s t + j]: a convolution with the batch as channels.
        xp = F.pad(x, (p, p)).transpose(0, 1)                        # [c, b, L]
        gw = F.conv1d(xp, g.transpose(0, 1), dilation=s)             # [c, o, q']
        gw = gw[:, :, :q].transpose(0, 1)
        return gx, gw, g.sum((0, 2)), None, None


class _ConvT(torch.autograd.Function):
    """y = conv_transpose1d(x, w, b, stride 2, padding 1) (the U-Net's upsampling)."""

    @staticmethod
    def forward(ctx, x, w, b):
        ctx.save_for_backward(x, w)
        return _transposed(x, w, 2, 1, 2 * x.shape[2]) + b[None, :, None]

    @staticmethod
    def backward(ctx, g):
        x, w = ctx.saved_tensors
        gx = F.conv1d(g, w, stride=2, padding=1)
        # dW[c, o, k] = sum_{b, i} x[b, c, i] gpad[b, o, 2 i + k]: gpad's batch as channels, x as dilated weights.
        gp = F.pad(g, (1, 1)).transpose(0, 1)                        # [o, b, 2S + 2]
        gw = F.conv1d(gp, x.transpose(0, 1), dilation=2)             # [o, c, 4]
        return gx, gw.transpose(0, 1), g.sum((0, 2))


def use_fast_convolutions(module):
    """Routes every Conv1d / ConvTranspose1d of the module through the functions above (same parameters)."""
    import torch.nn as nn

    for m in module.modules():
        if type(m) is nn.Conv1d:
            m.forward = (lambda mm: lambda x: _Conv.apply(x, mm.weight, mm.bias, mm.stride[0], mm.padding[0]))(m)
        elif type(m) is nn.ConvTranspose1d:
            m.forward = (lambda mm: lambda x: _ConvT.apply(x, mm.weight, mm.bias))(m)


def check_gradients():
    """The fast functions' values and gradients against torch's, on random data (float64)."""
    rng = torch.Generator().manual_seed(0)
    for (cin, cout, q, s, p, S, L) in [(3, 5, 4, 2, 1, 4, 8), (4, 2, 3, 2, 1, 4, 8), (2, 3, 5, 1, 2, 6, 6)]:
        g = torch.randn(2, cin, S, generator=rng, dtype=torch.float64)
        w = torch.randn(cin, cout, q, generator=rng, dtype=torch.float64)
        want = F.conv_transpose1d(g, w, stride=s, padding=p, output_padding=L - ((S - 1) * s - 2 * p + q))
        if (_transposed(g, w, s, p, L) - want).abs().max() > 1e-9 * max(1.0, float(want.abs().max())):
            raise RuntimeError("the transposed convolution disagrees with torch's")
    for (cin, cout, q, s, p, L) in [(3, 5, 5, 1, 2, 8), (4, 4, 3, 2, 1, 8), (6, 2, 1, 1, 0, 4)]:
        x = torch.randn(2, cin, L, generator=rng, dtype=torch.float64, requires_grad=True)
        w = torch.randn(cout, cin, q, generator=rng, dtype=torch.float64, requires_grad=True)
        b = torch.randn(cout, generator=rng, dtype=torch.float64, requires_grad=True)
        a = torch.autograd.grad(_Conv.apply(x, w, b, s, p).pow(2).sum(), (x, w, b))
        r = torch.autograd.grad(F.conv1d(x, w, b, stride=s, padding=p).pow(2).sum(), (x, w, b))
        for u, v in zip(a, r):
            if (u - v).abs().max() > 1e-9 * max(1.0, float(v.abs().max())):
                raise RuntimeError("fast conv1d gradient disagrees with torch's")
    x = torch.randn(2, 4, 4, generator=rng, dtype=torch.float64, requires_grad=True)
    w = torch.randn(4, 4, 4, generator=rng, dtype=torch.float64, requires_grad=True)
    b = torch.randn(4, generator=rng, dtype=torch.float64, requires_grad=True)
    a = torch.autograd.grad(_ConvT.apply(x, w, b).pow(2).sum(), (x, w, b))
    r = torch.autograd.grad(F.conv_transpose1d(x, w, b, stride=2, padding=1).pow(2).sum(), (x, w, b))
    for u, v in zip(a, r):
        if (u - v).abs().max() > 1e-9 * max(1.0, float(v.abs().max())):
            raise RuntimeError("fast conv_transpose1d gradient disagrees with torch's")


# --------------------------------------------------------------------------
# Training
# --------------------------------------------------------------------------

def lr_at(step, steps):
    return ddpm_torch.warmup_cosine_lr(step, steps, LR, WARMUP, 0.01)


def train(model, obs, act, steps, seed, checkpoint, deadline):
    """Epsilon-prediction DDPM training; returns (loss log, seconds, finished). Resumable through checkpoint."""
    gen = torch.Generator().manual_seed(seed)
    acp = tp.alphas_cumprod()
    obs_t = torch.from_numpy(obs.astype(np.float32))
    act_t = torch.from_numpy(act.astype(np.float32))                  # [n, 16, 2]
    opt = ddpm_torch.adamw_matrices_decay(model, LR, WEIGHT_DECAY)
    ema = [p.detach().clone() for p in model.parameters()]
    start, log, elapsed = 0, [], 0.0
    if checkpoint and os.path.exists(checkpoint):
        st = torch.load(checkpoint)
        model.load_state_dict(st["model"])
        opt.load_state_dict(st["opt"])
        for e, v in zip(ema, st["ema"]):
            e.copy_(v)
        gen.set_state(st["gen"])
        start, log, elapsed = st["step"], st["log"], st["elapsed"]
        print("resumed at step %d (%.0f s so far)" % (start, elapsed), flush=True)

    def save(step):
        if checkpoint:
            torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "ema": ema, "gen": gen.get_state(),
                        "step": step, "log": log, "elapsed": elapsed + time.time() - t0}, checkpoint + ".tmp")
            os.replace(checkpoint + ".tmp", checkpoint)

    model.train()
    t0 = time.time()
    run, run_n = 0.0, 0
    every = max(1, steps // 20)
    step = start
    for step in range(start, steps):
        if deadline and time.time() > deadline:
            save(step)
            return log, elapsed + time.time() - t0, False
        run += ddpm_torch.train_step(model, opt, ema, EMA_DECAY, step, lr_at(step, steps), act_t, obs_t, acp, tp.T,
                                     BATCH, gen)
        run_n += 1
        if (step + 1) % every == 0 or step + 1 == steps:
            el = elapsed + time.time() - t0
            print("  step %5d/%d  loss %.5f  lr %.2e  %.0f s (eta %.0f s)"
                  % (step + 1, steps, run / run_n, lr_at(step, steps), el,
                     (time.time() - t0) / (step + 1 - start) * (steps - step - 1)), flush=True)
            log.append((step + 1, run / run_n))
            run, run_n = 0.0, 0
        if (step + 1) % CHECKPOINT_EVERY == 0:
            save(step + 1)
    ddpm_torch.load_ema(model, ema)
    model.eval()
    return log, elapsed + time.time() - t0, True


def heldout_loss(model, obs, act, seed):
    acp = tp.alphas_cumprod()
    x0 = torch.from_numpy(act.astype(np.float32))
    c = torch.from_numpy(obs.astype(np.float32))
    return ddpm_torch.heldout_eps_mse(lambda xt, t: model(xt, t, c), x0, acp, tp.T, seed)


class _Flat(torch.nn.Module):
    """eps(x [n, 32], t, cond) for train_policy's evaluation sampler (which works on flat rows)."""

    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, x, t, c):
        return self.net(x.reshape(x.shape[0], tp.N_WP, 2), t, c).reshape(x.shape[0], -1)


def main(argv=None):
    ap = tp.training_arguments(__doc__.splitlines()[0], SEED, STEPS, "100 steps, small pool (testing only)")
    ap.add_argument("--checkpoint", help="save/resume training state here")
    ap.add_argument("--max-minutes", type=float, help="stop after this long (with --checkpoint: resume later)")
    a = ap.parse_args(argv)
    steps, pool = (100, 20_000) if a.quick else (a.steps, POOL)
    out_dir = os.path.join(a.root, OUT_DIR)
    os.makedirs(out_dir, exist_ok=True)
    t_all = time.time()
    deadline = t_all + 60 * a.max_minutes if a.max_minutes else None
    check_gradients()

    # Demonstrations, drawn as builtin:policy's trainer draws them (cached beside a checkpoint: slow on a busy machine).
    t0 = time.time()
    cache = a.checkpoint + ".demos.npz" if a.checkpoint else None
    if cache and os.path.exists(cache):
        z = np.load(cache)
        obs, act, side = z["obs"], z["act"], z["side"]
    else:
        rng = np.random.default_rng(a.seed)
        obs = tp.sample_obs(rng, pool)
        act, side = tp.demos(rng, obs)
        if cache:
            np.savez(cache, obs=obs, act=act, side=side)
    demo_info = "%d demos in %.1f s: left %.1f%%" % (pool, time.time() - t0, 100 * np.mean(side > 0))
    print(demo_info, flush=True)
    hold_rng = np.random.default_rng(a.seed + 1)
    hold_obs = tp.sample_obs(hold_rng, 4096)
    hold_act, _ = tp.demos(hold_rng, hold_obs)

    cfg = uc.parse_config(dict(CONFIG, scheduler=tp.scheduler_config()), "unet-policy")
    torch.manual_seed(a.seed)
    model = uc.build_module(cfg)
    model.train()
    use_fast_convolutions(model)
    print("network: %d parameters; training %d steps, batch %d" % (uc.n_params(cfg), steps, BATCH), flush=True)
    log, t_train, finished = train(model, obs, act, steps, a.seed + 2, a.checkpoint, deadline)
    if not finished:
        print("stopped after %.0f s of training; run again with the same arguments to resume" % t_train)
        return 3
    hl = heldout_loss(model, hold_obs, hold_act, a.seed + 3)
    print("training: %.0f s; held-out epsilon MSE (EMA weights) %.5f" % (t_train, hl), flush=True)

    # Write (float16 weights), re-read, export ONNX from the stored weights.
    json_path = os.path.join(out_dir, "policy.json")
    uc.write_model(json_path, cfg, uc.module_tensors(model), "F16")
    cfg, stored, _ = uc.load_model(json_path)
    net = uc.build_module(cfg, stored)
    uc.export_onnx(net, cfg, os.path.join(out_dir, "policy.onnx"))
    rng_c = np.random.default_rng(a.seed + 4)
    xs = rng_c.standard_normal((8, tp.N_WP, 2)).astype(np.float32)
    ts = rng_c.integers(0, tp.T, 8)
    cs = tp.sample_obs(rng_c, 8).astype(np.float32)
    ref = uc.reference_forward(cfg, stored, xs, ts, cs)
    got = uc.torch_forward(net, cfg, xs, ts, cs)
    fwd_rel = float(np.abs(got - ref).max() / max(1.0, float(np.abs(ref).max())))
    if fwd_rel > 1e-4:
        raise RuntimeError("the torch module differs from the float64 reference by %g" % fwd_rel)

    flat = _Flat(net).eval()
    t0 = time.time()
    evals = [("sampler seed %d" % s, tp.run_eval(flat, a.seed + 10, s, tp.EVAL_N)) for s in (1, 2, 3)]
    big = tp.run_eval(flat, a.seed + 11, 4, tp.EVAL_N_LARGE)
    t_eval = time.time() - t0
    for name, r in evals + [("large, sampler seed 4", big)]:
        print(tp.format_eval(name, r), flush=True)

    files = ("policy.json", "policy.safetensors", "policy.onnx")
    sizes = {p: os.path.getsize(os.path.join(out_dir, p)) for p in files}
    q = ["# models/unet-policy: quality", "",
         "Written by `tools/train_unet_policy.py` (seed %d); the numbers are for the committed weights (float16 "
         "convolution and linear weights in `policy.safetensors`, float32 norms and biases), sampled with "
         "`tools/train_policy.py`'s independent DDPM sampler (K = %d of T = %d, fixed_small, clip_sample range 1, "
         "float32 network, float64 step arithmetic). Criteria as for builtin:policy (`models/builtin-policy/README.md`): "
         "goal reached |w_16 - goal| <= %.2g; collision-free: every segment of start, w_1..w_16 at distance >= %.2g "
         "from the centre; mode = sign of sum_i cross(d, w_i - centre) (positive = left)."
         % (a.seed, tp.EVAL_K, tp.T, tp.GOAL_TOL, tp.OBSTACLE_R), "",
         "- Network: ConditionalUnet1D, down_dims %s, step embedding %d, kernel %d, %d groups, FiLM scale and shift: "
         "%d parameters." % (cfg["down_dims"], cfg["diffusion_step_embed_dim"], cfg["kernel_size"], cfg["n_groups"],
                             uc.n_params(cfg)),
         "- Demonstrations: %s (the pool of tools/train_policy.py for this seed)." % demo_info,
         "- Training: %d steps, batch %d, AdamW lr %.0e (warmup %d, cosine), weight decay %.0e, EMA %.4g, grad-norm "
         "clip 1; %.0f s of training on one CPU thread. Final training loss %.5f; held-out epsilon MSE %.5f (EMA weights)."
         % (steps, BATCH, LR, WARMUP, WEIGHT_DECAY, EMA_DECAY, t_train, log[-1][1], hl),
         "- Forward check: torch module (tools/unet1d_common.py) vs the numpy float64 reference, relative %.2e; "
         "evaluation %.0f s." % (fwd_rel, t_eval), "", "## Results", "",
         "| run | observations | goal reached | collision-free | both | min clearance | symmetric left | symmetric right | symmetric reached / free |",
         "|---|---|---|---|---|---|---|---|---|"]
    for name, r in evals + [("large, sampler seed 4", big)]:
        q.append("| %s | %d | %s | %s | %s | %.3f | %s | %s | %s / %s |"
                 % (name, r["n"], tp.pct(r["reached"], r["n"]), tp.pct(r["free"], r["n"]), tp.pct(r["both"], r["n"]),
                    r["min_clear"], tp.pct(r["sym_left"], r["sym_n"]), tp.pct(r["sym_right"], r["sym_n"]),
                    tp.pct(r["sym_reached"], r["sym_n"]), tp.pct(r["sym_free"], r["sym_n"])))
    q += ["", "Targets (C# test `Unet1dPolicyTests`): >= 90% reached, >= 95% collision-free, each symmetric mode >= 20%.",
          "", "## Files", ""]
    for p in files:
        q.append("- `%s`: %d bytes, sha256 `%s`" % (p, sizes[p], tp.sha256(os.path.join(out_dir, p))))
    q.append("")
    with open(os.path.join(out_dir, "QUALITY.md"), "w", encoding="utf-8", newline="\n") as f:
        f.write("\n".join(q))
    print("wrote %s (total %.0f s)" % (out_dir, time.time() - t_all), flush=True)
    for f in (a.checkpoint, a.checkpoint + ".demos.npz" if a.checkpoint else None):
        if f and os.path.exists(f):
            os.remove(f)
    return 0


if __name__ == "__main__":
    sys.exit(main())
