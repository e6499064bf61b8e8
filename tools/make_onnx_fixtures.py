#!/usr/bin/python3
"""Train small diffusion models on generated data and export them as ONNX fixtures (seeded, deterministic).

Usage:
    /usr/bin/python3 tools/make_onnx_fixtures.py [--root DIR] [--quick] [--preview] [--ort LIB | --no-ort]
    /usr/bin/python3 tools/make_onnx_fixtures.py --check-only [--root DIR] [--ort LIB]

Writes under ROOT/tests/fixtures/onnx/ (ROOT defaults to the repository root):

  unet16/model.onnx, scheduler_config.json
      A small convolutional UNet (~72k parameters) for 16x16 single-channel images of simple shapes
      (random squares, discs and bars at random positions and sizes; background -1, shape +1). DDPM
      epsilon prediction, trained with diffusers' DDPM forward process (linear betas 1e-4..0.02, 1000
      train timesteps): conv 1->16; a 16-channel residual block at 16x16; a stride-2 conv down to 32
      channels at 8x8; two 32-channel residual blocks (down and middle); nearest 2x upsampling + conv
      32->16; concatenation with the 16x16 skip and a residual block 32->16; GroupNorm(8)/SiLU; conv
      16->1. The sinusoidal timestep embedding (32 frequencies) + a 2-layer MLP (64 wide) is added
      into every residual block. Inputs `noisy_images` float32 [B,1,16,16] and `t` int64 [B];
      output `noise_pred` float32 [B,1,16,16]; dynamic batch (dim_param "batch").
  unet16_static3/model.onnx, scheduler_config.json
      The same weights with a static batch of 3 and the timestep shaped [B,1]: `noisy_images`
      float32 [3,1,16,16], `t` int64 [3,1], output `noise_pred` float32 [3,1,16,16].
  unet16_class/model.onnx, scheduler_config.json, asd.json
      The same architecture plus a class embedding (4 classes: 0 square, 1 disc, 2 bar, 3 = the null
      class for classifier-free guidance) added to the time embedding; trained on the same data with
      the label replaced by 3 with probability 0.15. Inputs `x` float32 [B,1,16,16], `timesteps`
      int64 [B], `class_labels` int64 [B]; output `eps` float32 [B,1,16,16]; dynamic batch.
      asd.json names the roles and the guidance (null class 3, scale 3.0).
  policy_mlp/model.onnx, scheduler_config.json
      A conditional MLP diffusion policy with a float timestep. Data: 2-D paths of 8 waypoints from a
      start to a goal point in the unit square (uniform in [0.1, 0.9]^2, at least 0.25 apart), bending
      left or right of the straight line (a fair coin, so the distribution is bimodal) along a half sine
      of height 0.35 * |goal - start|, plus N(0, 0.01^2) noise. Coordinates are mapped to
      [-1, 1] (2 * xy - 1) in both the action (16 floats: x1,y1,...,x8,y8, the 8th waypoint being the
      goal) and the observation (4 floats: start xy, goal xy). DDPM epsilon prediction,
      squaredcos_cap_v2 betas, 100 train timesteps. Network: sinusoidal embedding of the float
      timestep concatenated with obs -> MLP 36->128->128, SiLU (condition c); h = Linear 20->128 of
      [action, obs]; 3 residual FiLM blocks h += Linear(SiLU(h * (1 + Linear(c)) + Linear(c)));
      output Linear 128->16 of SiLU(h) plus a gated skip Linear(c) * action. Inputs `noisy_action`
      float32 [B,16], `timestep` float32 [B], `obs` float32 [B,4]; output `pred` float32 [B,16].
  unet16_fp16/model.onnx, scheduler_config.json
      The unet16 weights in float16: inputs `noisy_images` float16 [B,1,16,16], `t` int64 [B],
      output `noise_pred` float16 [B,1,16,16]. torch 1.13 cannot run conv/linear in half precision
      on the CPU, so this graph is the float32 export converted here: every float initializer,
      constant, Cast target and graph input/output becomes float16, except the sinusoidal timestep
      embedding (nodes under "time_proj/"), which stays float32 and is cast to float16 where it
      leaves (as diffusers does: `t_emb.to(dtype=sample.dtype)`), and Resize's `scales`, which the
      ONNX spec requires to be float32.
  bad/truncated.onnx    unet16's model.onnx cut to half its bytes.
  bad/int_sample.onnx   inputs `sample` int32 [B,4] and `timestep` int64 [B]; output `out` float32 [B,4]
                        (out = float(sample) + 0.001 * float(timestep)): a sample-like input that is not float.
  bad/no_timestep.onnx  inputs `x_a`, `x_b` float32 [B,4], output `out` float32 [B,4] (x_a - 0.5 x_b):
                        two sample candidates and no timestep-like input.
  bad/not_onnx.onnx     a line of text.
  reference.json        for unet16, unet16_static3, unet16_class, policy_mlp and unet16_fp16: 3 input
                        rows (batched, flat row-major lists with shapes and dtypes) and the torch float32
                        outputs, for checking the C# ONNX Runtime path against torch on identical inputs.
  README.md             what each fixture is, training data, final losses, sizes.

Training is single-threaded with fixed seeds and deterministic algorithms, so the same machine (same
CPU ISA, same torch build) writes the same bytes on every run; --quick trains a few steps only
(for testing this script; do not commit its output). Each exported graph is checked with
onnx.checker (full check), reloaded, and evaluated by a small numpy float64 interpreter of the ops it
uses, which must match the torch module (float16 graph: float64 arithmetic with every node's result
rounded to float16, an approximation of how a float16 runtime evaluates it). When ONNX Runtime's shared
library is found (the NuGet package's libonnxruntime.so; --ort LIB to name it), the fixtures are also
run through it via ctypes and compared with reference.json, and the bad models are loaded.

Needs Debian's python3-torch (1.13), python3-onnx (1.12), python3-numpy. No network access.
"""

import os

for _v in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ[_v] = "1"

import argparse  # noqa: E402
import glob  # noqa: E402
import hashlib  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import re  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

OUT_DIR = os.path.join("tests", "fixtures", "onnx")
OPSET = 17

SEED_DATA_UNET = 1601
SEED_TRAIN_UNET = 1602
SEED_DATA_CLASS = 1611
SEED_TRAIN_CLASS = 1612
SEED_DATA_POLICY = 1621
SEED_TRAIN_POLICY = 1622
SEED_EVAL = 1631
SEED_REFERENCE = 1641
SEED_SAMPLING = 1651

UNET_STEPS = 3000
UNET_BATCH = 64
UNET_LR = 2e-3
POLICY_STEPS = 3000
POLICY_BATCH = 256
POLICY_LR = 3e-3
CFG_DROP = 0.15
BULGE = 0.35
NULL_CLASS = 3
CLASS_NAMES = ["square", "disc", "bar"]


sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ddpm_torch  # noqa: E402
import mlp_common as mc  # noqa: E402

torch = ddpm_torch.setup_torch(1)
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402


# --------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------

def make_shapes(rng, n, labels=None, size=16, side=(4, 11), radius=(2.5, 5.5), thick=(2, 4), length=(9, 16)):
    """n size x size images (float32 [n,1,size,size], background -1, shape +1) and their labels (int64 [n]).

    square: side in [side) pixels; disc: radius in [radius), centre on the pixel grid or between pixels;
    bar: horizontal or vertical, thickness in [thick), length in [length). Everything lies inside the image.
    The defaults are the 16x16 fixtures' (side 4..10, radius 2.5..5.5, thickness 2..3, length 9..15);
    tools/make_unet28_fixture.py passes its own 28x28 ranges."""
    if labels is None:
        labels = rng.integers(0, 3, size=n)
    labels = np.asarray(labels, dtype=np.int64)
    yy, xx = np.meshgrid(np.arange(size), np.arange(size), indexing="ij")
    imgs = np.empty((n, 1, size, size), dtype=np.float32)
    for i in range(n):
        c = labels[i]
        if c == 0:
            s = int(rng.integers(*side))
            y0, x0 = (int(v) for v in rng.integers(0, size + 1 - s, size=2))
            m = (yy >= y0) & (yy < y0 + s) & (xx >= x0) & (xx < x0 + s)
        elif c == 1:
            r = float(rng.uniform(*radius))
            lo, hi = r - 0.5, size - 0.5 - r
            cy, cx = (math.floor(v * 2.0) / 2.0 for v in rng.uniform(lo, hi, size=2))
            m = (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r
        else:
            th = int(rng.integers(*thick))
            ln = int(rng.integers(*length))
            a0 = int(rng.integers(0, size + 1 - ln))
            b0 = int(rng.integers(0, size + 1 - th))
            if rng.random() < 0.5:
                m = (yy >= b0) & (yy < b0 + th) & (xx >= a0) & (xx < a0 + ln)
            else:
                m = (xx >= b0) & (xx < b0 + th) & (yy >= a0) & (yy < a0 + ln)
        imgs[i, 0] = np.where(m, 1.0, -1.0)
    return imgs, labels


def classify_shapes(imgs):
    """Heuristic class of each image (0 square, 1 disc, 2 bar, -1 none): foreground = pixels > 0;
    bar if the bounding box aspect ratio >= 2.2, square if the box is >= 90% filled, else disc."""
    out = []
    for im in np.asarray(imgs).reshape(-1, 16, 16):
        fg = im > 0
        if fg.sum() < 4:
            out.append(-1)
            continue
        ys, xs = np.nonzero(fg)
        h, w = ys.max() - ys.min() + 1, xs.max() - xs.min() + 1
        fill = fg.sum() / float(h * w)
        if max(h, w) / min(h, w) >= 2.2:
            out.append(2)
        elif fill >= 0.9:
            out.append(0)
        else:
            out.append(1)
    return np.array(out)


def path_modes(start, goal):
    """The two noise-free 8-waypoint paths (left, right) for start/goal [n,2] in [0,1]: [2, n, 8, 2]."""
    s = (np.arange(1, 9, dtype=np.float64) / 8.0)[None, :, None]
    d = goal - start
    left = np.stack([-d[:, 1], d[:, 0]], axis=1)                 # d turned 90 degrees to the left
    base = start[:, None, :] + s * d[:, None, :]
    bump = BULGE * np.sin(np.pi * s) * left[:, None, :]          # height BULGE * |goal - start| at the middle
    return np.stack([base + bump, base - bump])


def make_paths(rng, n):
    """obs float32 [n,4] (start xy, goal xy) and action float32 [n,16], both mapped to [-1,1] by 2 xy - 1."""
    start = rng.uniform(0.1, 0.9, size=(n, 2))
    goal = rng.uniform(0.1, 0.9, size=(n, 2))
    short = np.linalg.norm(goal - start, axis=1) < 0.25
    while short.any():
        goal[short] = rng.uniform(0.1, 0.9, size=(int(short.sum()), 2))
        short = np.linalg.norm(goal - start, axis=1) < 0.25
    side = rng.random(n) < 0.5
    modes = path_modes(start, goal)
    pts = np.where(side[:, None, None], modes[0], modes[1]) + rng.normal(0.0, 0.01, size=(n, 8, 2))
    obs = np.concatenate([start, goal], axis=1) * 2.0 - 1.0
    act = pts.reshape(n, 16) * 2.0 - 1.0
    return obs.astype(np.float32), act.astype(np.float32)


# --------------------------------------------------------------------------
# Schedules (as diffusers' DDPMScheduler computes them: float32)
# --------------------------------------------------------------------------

def linear_betas(T=1000, b0=1e-4, b1=0.02):
    return torch.linspace(b0, b1, T, dtype=torch.float32)


def scheduler_config(T, schedule):
    return {"_class_name": "DDPMScheduler", **ddpm_torch.scheduler_config(T, schedule, False)}


# --------------------------------------------------------------------------
# Models
# --------------------------------------------------------------------------

class TimeProj(nn.Module):
    """Sinusoidal embedding [sin(t f_k), cos(t f_k)], f_k = 10000^(-k/half), computed in float32.
    The fp16 converter keeps the nodes of this module ("time_proj/") in float32."""

    def __init__(self, dim=32):
        super().__init__()
        half = dim // 2
        self.register_buffer("freqs", torch.exp(-math.log(10000.0) * torch.arange(half, dtype=torch.float32) / half),
                             persistent=False)

    def forward(self, t):
        a = t.float().reshape(-1, 1) * self.freqs.reshape(1, -1)
        return torch.cat([torch.sin(a), torch.cos(a)], dim=1)


class ResBlock(nn.Module):
    def __init__(self, cin, cout, emb=64, groups=8):
        super().__init__()
        self.norm1 = nn.GroupNorm(groups, cin)
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.emb_proj = nn.Linear(emb, cout)
        self.norm2 = nn.GroupNorm(groups, cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else None

    def forward(self, x, e):
        h = self.conv1(F.silu(self.norm1(x))) + self.emb_proj(e)[:, :, None, None]
        h = self.conv2(F.silu(self.norm2(h)))
        return (x if self.skip is None else self.skip(x)) + h


class UNet16(nn.Module):
    def __init__(self, num_classes=0):
        super().__init__()
        self.time_proj = TimeProj(32)
        self.time_mlp = nn.Sequential(nn.Linear(32, 64), nn.SiLU(), nn.Linear(64, 64))
        self.class_emb = nn.Embedding(num_classes, 64) if num_classes else None
        self.conv_in = nn.Conv2d(1, 16, 3, padding=1)
        self.down_res = ResBlock(16, 16)
        self.downsample = nn.Conv2d(16, 32, 3, stride=2, padding=1)
        self.down_res2 = ResBlock(32, 32)
        self.mid_res = ResBlock(32, 32)
        self.up_conv = nn.Conv2d(32, 16, 3, padding=1)
        self.up_res = ResBlock(32, 16)
        self.norm_out = nn.GroupNorm(8, 16)
        self.conv_out = nn.Conv2d(16, 1, 3, padding=1)

    def forward(self, x, t, class_labels=None):
        e = self.time_mlp(self.time_proj(t))
        if self.class_emb is not None:
            e = e + self.class_emb(class_labels)
        e = F.silu(e)
        h = self.conv_in(x)
        skip = self.down_res(h, e)
        h = self.down_res2(self.downsample(skip), e)
        h = self.mid_res(h, e)
        h = self.up_conv(F.interpolate(h, scale_factor=2.0, mode="nearest"))
        h = self.up_res(torch.cat([h, skip], dim=1), e)
        return self.conv_out(F.silu(self.norm_out(h)))


class PolicyMLP(nn.Module):
    def __init__(self, act_dim=16, obs_dim=4, width=128, cond=128, blocks=3):
        super().__init__()
        self.time_proj = TimeProj(32)
        self.cond_mlp = nn.Sequential(nn.Linear(32 + obs_dim, cond), nn.SiLU(), nn.Linear(cond, cond))
        self.inp = nn.Linear(act_dim + obs_dim, width)
        self.film_scale = nn.ModuleList([nn.Linear(cond, width) for _ in range(blocks)])
        self.film_shift = nn.ModuleList([nn.Linear(cond, width) for _ in range(blocks)])
        self.lin = nn.ModuleList([nn.Linear(width, width) for _ in range(blocks)])
        self.out = nn.Linear(width, act_dim)
        self.skip_gate = nn.Linear(cond, act_dim)

    def forward(self, a, t, obs):
        c = F.silu(self.cond_mlp(torch.cat([self.time_proj(t), obs], dim=1)))
        h = self.inp(torch.cat([a, obs], dim=1))
        for sc, sh, lin in zip(self.film_scale, self.film_shift, self.lin):
            h = h + lin(F.silu(h * (1 + sc(c)) + sh(c)))
        return self.out(F.silu(h)) + self.skip_gate(c) * a


def n_params(m):
    return sum(p.numel() for p in m.parameters())


# Export wrappers: fix argument order / names and the [B,1] timestep.

class UnetExport(nn.Module):
    def __init__(self, net, t_column=False):
        super().__init__()
        self.net, self.t_column = net, t_column

    def forward(self, noisy_images, t):
        return self.net(noisy_images, t.reshape(-1) if self.t_column else t)


class NetExport(nn.Module):
    """The network as it is, under the name `net` (the exported node names start with it)."""

    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, *inputs):
        return self.net(*inputs)


# --------------------------------------------------------------------------
# Training and sampling
# --------------------------------------------------------------------------

def lr_at(step, steps, base):
    return ddpm_torch.warmup_cosine_lr(step, steps, base, 200, 0.02)


def train(model, sample_batch, loss_fn, steps, lr, seed, label, ema_decay=None):
    """Adam, warmup + cosine decay, grad-norm clip 1. Returns (mean loss of the last 10% of steps, seconds).
    With ema_decay, an exponential moving average of the weights (decay min(ema_decay, (1 + step) / (10 + step)),
    as ddpm_torch.train_step) is kept and copied into the model at the end; the fixtures of this script train
    without it."""
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    ema = [p.detach().clone() for p in model.parameters()] if ema_decay else None
    model.train()
    t0 = time.time()
    tail, tail_n = 0.0, max(1, steps // 10)
    for step in range(steps):
        for g in opt.param_groups:
            g["lr"] = lr_at(step, steps, lr)
        loss = loss_fn(model, sample_batch(step), gen)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if ema is not None:
            dcy = min(ema_decay, (1.0 + step) / (10.0 + step))
            with torch.no_grad():
                for e, p in zip(ema, model.parameters()):
                    e.mul_(dcy).add_(p.detach(), alpha=1.0 - dcy)
        if step >= steps - tail_n:
            tail += float(loss)
        if (step + 1) % max(1, steps // 8) == 0 or step == 0:
            print("  %s step %5d/%d  loss %.4f  (%.0f s)" % (label, step + 1, steps, float(loss), time.time() - t0),
                  flush=True)
    if ema is not None:
        ddpm_torch.load_ema(model, ema)
    model.eval()
    return tail / tail_n, time.time() - t0


def eps_loss(acp, T, cond_drop=None):
    """DDPM epsilon loss with t ~ U{0..T-1}; batch = (x0, cond or None)."""
    def fn(model, batch, gen):
        x0, cond = batch
        n = x0.shape[0]
        t = torch.randint(0, T, (n,), generator=gen)
        noise = torch.randn(x0.shape, generator=gen)
        xt = ddpm_torch.noised(x0, acp, t, noise)
        if cond_drop is not None:
            drop = torch.rand(n, generator=gen) < cond_drop
            cond = torch.where(drop, torch.full_like(cond, NULL_CLASS), cond)
            pred = model(xt, t, cond)
        elif cond is not None:
            pred = model(xt, t.float(), cond)
        else:
            pred = model(xt, t)
        return F.mse_loss(pred, noise)
    return fn


def eval_loss(model, x0, cond, acp, T, seed, float_t=False):
    """Held-out epsilon MSE on a fixed set (t and noise seeded)."""
    def eps(xt, t):
        return model(xt, t) if cond is None else model(xt, t.float() if float_t else t, cond)
    return ddpm_torch.heldout_eps_mse(eps, x0, acp, T, seed)


def ddpm_sample(eps_fn, shape, acp, T, steps, seed):
    """diffusers DDPMScheduler, 'leading' spacing, fixed_small variance, no clipping; float32."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(shape, generator=gen)
    ratio = T // steps
    ts = [i * ratio for i in range(steps)][::-1]
    with torch.no_grad():
        for t in ts:
            eps = eps_fn(x, t)
            prev = t - ratio
            a_t = acp[t]
            a_prev = acp[prev] if prev >= 0 else torch.tensor(1.0)
            beta = 1 - a_t / a_prev
            x0 = (x - (1 - a_t).sqrt() * eps) / a_t.sqrt()
            mean = (a_prev.sqrt() * beta / (1 - a_t)) * x0 + ((1 - beta).sqrt() * (1 - a_prev) / (1 - a_t)) * x
            if t > 0:
                var = ((1 - a_prev) / (1 - a_t) * beta).clamp(min=1e-20)
                x = mean + var.sqrt() * torch.randn(shape, generator=gen)
            else:
                x = mean
    return x


def ascii_images(imgs, per_row=8):
    imgs = np.asarray(imgs).reshape(-1, 16, 16)
    lines = []
    for r in range(0, len(imgs), per_row):
        chunk = imgs[r:r + per_row]
        for y in range(16):
            lines.append("  ".join("".join("#" if v > 0.5 else ("+" if v > -0.5 else ".") for v in im[y]) for im in chunk))
        lines.append("")
    return "\n".join(lines)


# --------------------------------------------------------------------------
# ONNX export and graph surgery
# --------------------------------------------------------------------------

def export_graph(module, args, input_names, output_name, out_tail, dynamic, graph_name):
    """torch.onnx.export -> ModelProto with doc strings cleared and the output's dims stated."""
    axes = {n: {0: "batch"} for n in input_names + [output_name]} if dynamic else None
    module.eval()
    model = mc.export_clean_onnx(module, args, input_names, axes, OPSET, graph_name,
                                 ["batch" if dynamic else int(args[0].shape[0])] + list(out_tail), output_name)
    got = [i.name for i in model.graph.input]
    if got != input_names or [o.name for o in model.graph.output] != [output_name]:
        raise RuntimeError("exported inputs %s outputs %s; expected %s, [%s]"
                           % (got, [o.name for o in model.graph.output], input_names, output_name))
    return model


def convert_fp16(model, keep="time_proj/"):
    """float32 graph -> float16 graph, keeping the nodes whose name contains `keep` in float32 (a Cast to
    float16 is inserted where their float outputs are used elsewhere) and Resize's roi/scales."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    m = onnx.ModelProto()
    m.CopyFrom(model)
    g = m.graph
    kept = {n.name for n in g.node if keep in n.name}
    consumers = {}
    for n in g.node:
        for i, name in enumerate(n.input):
            consumers.setdefault(name, []).append((n, i))

    def stays_float32(name):
        users = consumers.get(name, [])
        return bool(users) and all(u.name in kept or (u.op_type == "Resize" and i >= 1) for u, i in users)

    inferred = onnx.shape_inference.infer_shapes(model)
    elem = {vi.name: vi.type.tensor_type.elem_type
            for vi in list(inferred.graph.value_info) + list(inferred.graph.input) + list(inferred.graph.output)}

    for k, init in enumerate(g.initializer):
        if init.data_type == TensorProto.FLOAT and not stays_float32(init.name):
            arr = numpy_helper.to_array(init).astype(np.float16)
            g.initializer[k].CopyFrom(numpy_helper.from_array(arr, init.name))
    nodes = []
    for n in g.node:
        nodes.append(n)
        if n.name in kept:
            # Leaving the float32 region: cast float outputs to float16 for the consumers outside it.
            for o in n.output:
                users = [(u, i) for u, i in consumers.get(o, []) if u.name not in kept]
                if not users or elem.get(o) != TensorProto.FLOAT:
                    continue
                nodes.append(helper.make_node("Cast", [o], [o + "_fp16"], name=n.name + "_to_fp16",
                                              to=TensorProto.FLOAT16))
                for u, i in users:
                    u.input[i] = o + "_fp16"
        elif n.op_type == "Constant":
            t = n.attribute[0].t
            if t.data_type == TensorProto.FLOAT and not stays_float32(n.output[0]):
                arr = numpy_helper.to_array(t).astype(np.float16)
                n.attribute[0].t.CopyFrom(numpy_helper.from_array(arr, t.name))
        elif n.op_type == "Cast":
            for a in n.attribute:
                if a.name == "to" and a.i == TensorProto.FLOAT:
                    a.i = TensorProto.FLOAT16
    del g.node[:]
    g.node.extend(nodes)
    for vi in list(g.input) + list(g.output):
        if vi.type.tensor_type.elem_type == TensorProto.FLOAT:
            vi.type.tensor_type.elem_type = TensorProto.FLOAT16
    del g.value_info[:]
    return m


def tiny_models():
    """The hand-built bad models (valid ONNX; the C# loader must reject their roles)."""
    from onnx import TensorProto, helper
    ops = [helper.make_operatorsetid("", OPSET)]

    gi = helper.make_graph(
        [helper.make_node("Cast", ["sample"], ["s_f"], name="cast_sample", to=TensorProto.FLOAT),
         helper.make_node("Cast", ["timestep"], ["t_f"], name="cast_t", to=TensorProto.FLOAT),
         helper.make_node("Unsqueeze", ["t_f", "axis1"], ["t_col"], name="unsqueeze_t"),
         helper.make_node("Mul", ["t_col", "scale"], ["t_scaled"], name="scale_t"),
         helper.make_node("Add", ["s_f", "t_scaled"], ["out"], name="add")],
        "int_sample",
        [helper.make_tensor_value_info("sample", TensorProto.INT32, ["batch", 4]),
         helper.make_tensor_value_info("timestep", TensorProto.INT64, ["batch"])],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, ["batch", 4])],
        [helper.make_tensor("axis1", TensorProto.INT64, [1], [1]),
         helper.make_tensor("scale", TensorProto.FLOAT, [], [0.001])])
    gn = helper.make_graph(
        [helper.make_node("Mul", ["x_b", "half"], ["hb"], name="half_b"),
         helper.make_node("Sub", ["x_a", "hb"], ["out"], name="sub")],
        "no_timestep",
        [helper.make_tensor_value_info("x_a", TensorProto.FLOAT, ["batch", 4]),
         helper.make_tensor_value_info("x_b", TensorProto.FLOAT, ["batch", 4])],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, ["batch", 4])],
        [helper.make_tensor("half", TensorProto.FLOAT, [], [0.5])])
    res = {}
    for name, g in (("int_sample", gi), ("no_timestep", gn)):
        m = helper.make_model(g, opset_imports=ops, producer_name="make_onnx_fixtures")
        m.ir_version = 8
        res[name] = m
    return res


# --------------------------------------------------------------------------
# A small numpy float64 interpreter for the ops these graphs use
# --------------------------------------------------------------------------

def _conv(x, w, b, pads, strides, group):
    if group != 1:
        raise NotImplementedError("Conv group != 1")
    n, c, H, W = x.shape
    o, _, kh, kw = w.shape
    x = np.pad(x, ((0, 0), (0, 0), (pads[0], pads[2]), (pads[1], pads[3])))
    oh = (x.shape[2] - kh) // strides[0] + 1
    ow = (x.shape[3] - kw) // strides[1] + 1
    out = np.zeros((n, o, oh, ow))
    for i in range(kh):
        for j in range(kw):
            patch = x[:, :, i:i + strides[0] * (oh - 1) + 1:strides[0], j:j + strides[1] * (ow - 1) + 1:strides[1]]
            out += np.einsum("nchw,oc->nohw", patch, w[:, :, i, j])
    if b is not None:
        out += b.reshape(1, -1, 1, 1)
    return out


def run_numpy(model, feeds):
    """Evaluate the graph in float64. Values declared float16 (initializers, Cast to float16, and
    results of nodes with a float16 input) are rounded to float16 after every node."""
    from onnx import TensorProto, numpy_helper
    env, half = {}, set()
    for init in model.graph.initializer:
        a = numpy_helper.to_array(init)
        env[init.name] = a.astype(np.float64) if a.dtype.kind == "f" else a
        if init.data_type == TensorProto.FLOAT16:
            half.add(init.name)
    for vi in model.graph.input:
        a = np.asarray(feeds[vi.name])
        env[vi.name] = a.astype(np.float64) if a.dtype.kind == "f" else a
        if vi.type.tensor_type.elem_type == TensorProto.FLOAT16:
            half.add(vi.name)
            env[vi.name] = a.astype(np.float16).astype(np.float64)
    for node in model.graph.node:
        at = {a.name: a for a in node.attribute}
        ins = [env[i] if i else None for i in node.input]
        op = node.op_type
        is_half = any(i in half for i in node.input[:1 if op == "Resize" else None])

        def ai(name, default=None):
            return at[name].i if name in at else default

        def ints(name, default=None):
            return list(at[name].ints) if name in at else default

        if op == "Constant":
            a = numpy_helper.to_array(at["value"].t)
            out = a.astype(np.float64) if a.dtype.kind == "f" else a
            is_half = at["value"].t.data_type == TensorProto.FLOAT16
        elif op == "Cast":
            to = ai("to")
            is_half = to == TensorProto.FLOAT16
            if to in (TensorProto.FLOAT, TensorProto.FLOAT16, TensorProto.DOUBLE):
                out = ins[0].astype(np.float64)
                if to == TensorProto.FLOAT:
                    out = out.astype(np.float32).astype(np.float64)
            elif to == TensorProto.INT64:
                out = ins[0].astype(np.int64)
            elif to == TensorProto.INT32:
                out = ins[0].astype(np.int32)
            else:
                raise NotImplementedError("Cast to %d" % to)
        elif op in ("Add", "Sub", "Mul", "Div"):
            out = {"Add": np.add, "Sub": np.subtract, "Mul": np.multiply, "Div": np.divide}[op](ins[0], ins[1])
        elif op in ("Sin", "Cos", "Exp", "Sigmoid", "Identity", "Neg", "Sqrt"):
            out = {"Sin": np.sin, "Cos": np.cos, "Exp": np.exp, "Sigmoid": lambda v: 1.0 / (1.0 + np.exp(-v)),
                   "Identity": lambda v: v, "Neg": np.negative, "Sqrt": np.sqrt}[op](ins[0])
        elif op == "Unsqueeze":
            out = ins[0]
            axes = [int(a) for a in ins[1]]
            for a in sorted(a % (out.ndim + len(axes)) for a in axes):
                out = np.expand_dims(out, a)
        elif op == "Squeeze":
            out = np.squeeze(ins[0], axis=tuple(int(a) for a in ins[1])) if len(ins) > 1 else np.squeeze(ins[0])
        elif op == "Concat":
            out = np.concatenate(ins, axis=ai("axis"))
        elif op == "Reshape":
            shape = [int(s) for s in ins[1]]
            shape = [ins[0].shape[i] if s == 0 else s for i, s in enumerate(shape)]
            out = ins[0].reshape(shape)
        elif op == "Shape":
            out = np.array(ins[0].shape, dtype=np.int64)
        elif op == "Gather":
            out = np.take(ins[0], ins[1], axis=ai("axis", 0))
        elif op == "Gemm":
            a, b = ins[0], ins[1]
            a = a.T if ai("transA", 0) else a
            b = b.T if ai("transB", 0) else b
            out = at["alpha"].f * (a @ b) if "alpha" in at else a @ b
            if len(ins) > 2 and ins[2] is not None:
                out = out + (at["beta"].f if "beta" in at else 1.0) * ins[2]
        elif op == "MatMul":
            out = ins[0] @ ins[1]
        elif op == "Conv":
            k = ins[1].shape[2:]
            out = _conv(ins[0], ins[1], ins[2] if len(ins) > 2 else None, ints("pads", [0, 0, 0, 0]),
                        ints("strides", [1, 1]), ai("group", 1))
            if ints("dilations", [1, 1]) != [1, 1] or list(k) != ints("kernel_shape", list(k)):
                raise NotImplementedError("Conv dilations/kernel_shape")
        elif op == "InstanceNormalization":
            x = ins[0]
            axes = tuple(range(2, x.ndim))
            mu = x.mean(axis=axes, keepdims=True)
            var = ((x - mu) ** 2).mean(axis=axes, keepdims=True)
            shp = [1, -1] + [1] * (x.ndim - 2)
            eps = at["epsilon"].f if "epsilon" in at else 1e-5
            out = (x - mu) / np.sqrt(var + eps) * ins[1].reshape(shp) + ins[2].reshape(shp)
        elif op == "Resize":
            mode = at["mode"].s.decode() if "mode" in at else "nearest"
            ctm = at["coordinate_transformation_mode"].s.decode() if "coordinate_transformation_mode" in at else "half_pixel"
            scales = ins[2] if len(ins) > 2 and ins[2] is not None and ins[2].size else None
            if mode != "nearest" or scales is None or ctm not in ("asymmetric",) or \
                    any(s != int(s) for s in scales):
                raise NotImplementedError("Resize %s %s %s" % (mode, ctm, scales))
            out = ins[0]
            for ax, s in enumerate(scales):
                if int(s) != 1:
                    out = np.repeat(out, int(s), axis=ax)
        else:
            raise NotImplementedError("run_numpy: op %s" % op)
        if is_half and out.dtype.kind == "f":
            out = out.astype(np.float16).astype(np.float64)
            half.add(node.output[0])
        env[node.output[0]] = out
    return {o.name: env[o.name] for o in model.graph.output}


def check_graph(model, path, feeds, expected, label, tol):
    """checker, reload from disk, numpy evaluation vs expected (torch). Returns max abs diff.
    (onnx 1.12's check_model(PATH, full_check=True) rewrites the file with inferred value_info, so the
    full check runs on the in-memory model.)"""
    import onnx
    onnx.checker.check_model(model, full_check=True)
    again = onnx.load(path)
    if again.SerializeToString() != model.SerializeToString():
        raise RuntimeError("%s: reloaded model differs" % path)
    onnx.checker.check_model(again, full_check=True)
    got = list(run_numpy(again, feeds).values())[0]
    if got.shape != expected.shape:
        raise RuntimeError("%s: numpy evaluation shape %s, torch %s" % (label, got.shape, expected.shape))
    diff = float(np.max(np.abs(got - expected.astype(np.float64))))
    scale = max(1.0, float(np.max(np.abs(expected))))
    ok = diff / scale < tol
    ops = sorted({n.op_type for n in again.graph.node})
    print("  %s: onnx.checker OK, reloaded; ops %s" % (label, " ".join(ops)))
    print("  %s: numpy float64 evaluation of the graph vs torch: max abs diff %.3e (max |out| %.3f) %s"
          % (label, diff, float(np.max(np.abs(expected))), "PASS" if ok else "FAIL"))
    if not ok:
        raise RuntimeError("%s: graph evaluation differs from torch by %.3e" % (label, diff))
    return diff


def describe_io(model):
    from onnx import TensorProto
    names = {TensorProto.FLOAT: "float32", TensorProto.FLOAT16: "float16", TensorProto.INT64: "int64",
             TensorProto.INT32: "int32"}

    def one(vi):
        tt = vi.type.tensor_type
        dims = [d.dim_param if d.HasField("dim_param") else d.dim_value for d in tt.shape.dim]
        return "%s %s [%s]" % (vi.name, names.get(tt.elem_type, tt.elem_type), ",".join(str(d) for d in dims))
    return ", ".join(one(v) for v in model.graph.input), ", ".join(one(v) for v in model.graph.output)


# --------------------------------------------------------------------------
# ONNX Runtime through ctypes (optional check; the C API function table indices come from the header)
# --------------------------------------------------------------------------

class Ort:
    ELEM = {np.dtype(np.float32): 1, np.dtype(np.int32): 6, np.dtype(np.int64): 7, np.dtype(np.float16): 10}
    DTYPE = {v: k for k, v in ELEM.items()}

    def __init__(self, lib_path, header):
        import ctypes as C
        self.C = C
        text = open(header, encoding="utf-8").read()
        body = text[text.index("struct OrtApi {") + len("struct OrtApi {"):]
        body = re.sub(r"/\*.*?\*/", "", body, flags=re.S)
        body = re.sub(r"//[^\n]*", "", body)
        body = body[:body.index("};")]
        names = []
        for stmt in body.split(";"):
            s = " ".join(stmt.split())
            if not s:
                continue
            m = (re.match(r"ORT_API2_STATUS\((\w+)", s) or re.match(r"ORT_API_T\([^,]+,\s*(\w+)", s)
                 or re.search(r"\(ORT_API_CALL\s*\*\s*(\w+)\)", s))
            if m:
                names.append(m.group(1))
            elif s.startswith("ORT_CLASS_RELEASE("):
                names.append("Release" + re.match(r"ORT_CLASS_RELEASE\((\w+)\)", s).group(1))
            else:
                raise RuntimeError("cannot parse OrtApi member: %s" % s[:80])
        self.index = {n: i for i, n in enumerate(names)}
        version = int(re.search(r"#define ORT_API_VERSION (\d+)", text).group(1))
        lib = C.CDLL(lib_path)
        lib.OrtGetApiBase.restype = C.c_void_p
        base = C.cast(lib.OrtGetApiBase(), C.POINTER(C.c_void_p))
        get_api = C.CFUNCTYPE(C.c_void_p, C.c_uint32)(base[0])
        get_version = C.CFUNCTYPE(C.c_char_p)(base[1])
        self.version = get_version().decode()
        api = get_api(version)
        if not api:
            raise RuntimeError("OrtGetApiBase()->GetApi(%d) returned NULL (library %s)" % (version, self.version))
        self.table = C.cast(api, C.POINTER(C.c_void_p))
        P, S, I64 = C.c_void_p, C.c_size_t, C.c_int64
        PP = C.POINTER(C.c_void_p)
        sigs = {
            "GetErrorMessage": (C.c_char_p, [P]), "ReleaseStatus": (None, [P]),
            "CreateEnv": (P, [C.c_int, C.c_char_p, PP]), "CreateSessionOptions": (P, [PP]),
            "SetIntraOpNumThreads": (P, [P, C.c_int]), "SetInterOpNumThreads": (P, [P, C.c_int]),
            "CreateSession": (P, [P, C.c_char_p, P, PP]),
            "CreateCpuMemoryInfo": (P, [C.c_int, C.c_int, PP]),
            "CreateTensorWithDataAsOrtValue": (P, [P, P, S, C.POINTER(I64), S, C.c_int, PP]),
            "Run": (P, [P, P, C.POINTER(C.c_char_p), PP, S, C.POINTER(C.c_char_p), S, PP]),
            "GetTensorTypeAndShape": (P, [P, PP]), "GetDimensionsCount": (P, [P, C.POINTER(S)]),
            "GetDimensions": (P, [P, C.POINTER(I64), S]), "GetTensorElementType": (P, [P, C.POINTER(C.c_int)]),
            "GetTensorMutableData": (P, [P, PP]), "GetAllocatorWithDefaultOptions": (P, [PP]),
            "SessionGetInputCount": (P, [P, C.POINTER(S)]), "SessionGetOutputCount": (P, [P, C.POINTER(S)]),
            "SessionGetInputName": (P, [P, S, P, C.POINTER(C.c_char_p)]),
            "SessionGetOutputName": (P, [P, S, P, C.POINTER(C.c_char_p)]),
            "SessionGetInputTypeInfo": (P, [P, S, PP]), "SessionGetOutputTypeInfo": (P, [P, S, PP]),
            "CastTypeInfoToTensorInfo": (P, [P, PP]),
            "ReleaseValue": (None, [P]), "ReleaseTensorTypeAndShapeInfo": (None, [P]), "ReleaseTypeInfo": (None, [P]),
            "ReleaseSession": (None, [P]), "ReleaseSessionOptions": (None, [P]), "ReleaseMemoryInfo": (None, [P]),
        }
        self.f = {}
        for n, (res, args) in sigs.items():
            self.f[n] = C.CFUNCTYPE(res, *args)(self.table[self.index[n]])
        self.env = self._out("CreateEnv", 3, b"asd-fixtures")
        self.mem = self._out("CreateCpuMemoryInfo", 1, 0)          # OrtArenaAllocator, OrtMemTypeDefault
        self.opts = self._out("CreateSessionOptions")
        self._ok(self.f["SetIntraOpNumThreads"](self.opts, 1))
        self._ok(self.f["SetInterOpNumThreads"](self.opts, 1))
        self.alloc = self._out("GetAllocatorWithDefaultOptions")

    def _ok(self, status):
        if status:
            msg = self.f["GetErrorMessage"](status).decode(errors="replace")
            self.f["ReleaseStatus"](status)
            raise OrtError(msg)

    def _out(self, fn, *args):
        p = self.C.c_void_p()
        self._ok(self.f[fn](*args, self.C.byref(p)))
        return p

    def _tensor_info(self, ti):
        C = self.C
        n, et = C.c_size_t(), C.c_int()
        self._ok(self.f["GetDimensionsCount"](ti, C.byref(n)))
        dims = (C.c_int64 * max(1, n.value))()
        self._ok(self.f["GetDimensions"](ti, dims, n.value))
        self._ok(self.f["GetTensorElementType"](ti, C.byref(et)))
        return et.value, [dims[i] for i in range(n.value)]

    def load(self, path):
        return self._out("CreateSession", self.env, path.encode(), self.opts)

    def io(self, sess):
        """[(name, elem_type, dims)] for inputs and outputs, as ONNX Runtime reports them."""
        C = self.C
        res = []
        for count, name_fn, type_fn in (("SessionGetInputCount", "SessionGetInputName", "SessionGetInputTypeInfo"),
                                        ("SessionGetOutputCount", "SessionGetOutputName", "SessionGetOutputTypeInfo")):
            n = C.c_size_t()
            self._ok(self.f[count](sess, C.byref(n)))
            ports = []
            for i in range(n.value):
                nm = C.c_char_p()
                self._ok(self.f[name_fn](sess, i, self.alloc, C.byref(nm)))
                typ = self._out(type_fn, sess, i)
                ti = self._out("CastTypeInfoToTensorInfo", typ)
                et, dims = self._tensor_info(ti)
                self.f["ReleaseTypeInfo"](typ)
                ports.append((nm.value.decode(), self.DTYPE.get(et, et), dims))
            res.append(ports)
        return res

    def run(self, sess, feeds, output):
        C = self.C
        keep, vals = [], []
        for name, arr in feeds.items():
            arr = np.ascontiguousarray(arr)
            keep.append(arr)
            shape = (C.c_int64 * max(1, arr.ndim))(*arr.shape)
            vals.append(self._out("CreateTensorWithDataAsOrtValue", self.mem, arr.ctypes.data_as(C.c_void_p),
                                  arr.nbytes, shape, arr.ndim, self.ELEM[arr.dtype]))
        in_names = (C.c_char_p * len(feeds))(*[k.encode() for k in feeds])
        in_vals = (C.c_void_p * len(feeds))(*[v.value for v in vals])
        out_names = (C.c_char_p * 1)(output.encode())
        out_vals = (C.c_void_p * 1)()
        try:
            self._ok(self.f["Run"](sess, None, in_names, in_vals, len(feeds), out_names, 1, out_vals))
            ov = C.c_void_p(out_vals[0])
            ti = self._out("GetTensorTypeAndShape", ov)
            et, dims = self._tensor_info(ti)
            self.f["ReleaseTensorTypeAndShapeInfo"](ti)
            data = self._out("GetTensorMutableData", ov)
            dt = self.DTYPE[et]
            count = int(np.prod(dims)) if dims else 1
            buf = (C.c_char * (count * dt.itemsize)).from_address(data.value)
            out = np.frombuffer(bytes(buf), dtype=dt).reshape(dims).copy()
            self.f["ReleaseValue"](ov)
            return out
        finally:
            for v in vals:
                self.f["ReleaseValue"](v)


class OrtError(RuntimeError):
    pass


def find_ort():
    pats = [os.path.expanduser("~/.nuget/packages/microsoft.ml.onnxruntime/*/runtimes/linux-x64/native/libonnxruntime.so")]
    hits = sorted(p for pat in pats for p in glob.glob(pat))
    return hits[-1] if hits else None


def ort_header(lib):
    pkg = os.path.normpath(os.path.join(os.path.dirname(lib), "..", "..", ".."))
    h = os.path.join(pkg, "build", "native", "include", "onnxruntime_c_api.h")
    return h if os.path.exists(h) else None


def ort_check(out, lib):
    """Run the fixtures through ONNX Runtime and compare with reference.json; load the bad models."""
    header = ort_header(lib)
    if header is None:
        print("ONNX Runtime check skipped: onnxruntime_c_api.h not found next to %s" % lib)
        return True
    ort = Ort(lib, header)
    print("ONNX Runtime %s (%s)" % (ort.version, lib))
    with open(os.path.join(out, "reference.json"), encoding="utf-8") as f:
        ref = json.load(f)
    ok = True
    for name, fx in ref["fixtures"].items():
        sess = ort.load(os.path.join(out, fx["model"]))
        ins, outs = ort.io(sess)
        feeds = {}
        for t in fx["inputs"]:
            feeds[t["name"]] = np.array(t["data"], dtype=np.float64).astype(t["dtype"]).reshape(t["shape"])
        exp = np.array(fx["outputs"][0]["data"], dtype=np.float64).reshape(fx["outputs"][0]["shape"])
        got = ort.run(sess, feeds, fx["outputs"][0]["name"]).astype(np.float64)
        diff = float(np.max(np.abs(got - exp)))
        good = got.shape == exp.shape and diff <= fx["atol"]
        ok &= good
        fmt = lambda ps: ", ".join("%s %s %s" % (n, np.dtype(d).name if not isinstance(d, int) else d, dims)
                                   for n, d, dims in ps)
        print("  %-15s inputs %s -> %s" % (name, fmt(ins), fmt(outs)))
        print("  %-15s ORT vs torch: max abs diff %.3e (atol %.1e) %s" % ("", diff, fx["atol"], "PASS" if good else "FAIL"))
        ort.f["ReleaseSession"](sess)
    for bad in ("truncated", "not_onnx", "int_sample", "no_timestep"):
        path = os.path.join(out, "bad", bad + ".onnx")
        try:
            sess = ort.load(path)
        except OrtError as e:
            print("  bad/%s.onnx: ONNX Runtime refuses it: %s" % (bad, str(e).strip().splitlines()[0][:200]))
            ok &= bad in ("truncated", "not_onnx")
            continue
        ins, outs = ort.io(sess)
        x = np.arange(8, dtype=np.int32 if bad == "int_sample" else np.float32).reshape(2, 4)
        feeds = {"sample": x, "timestep": np.array([5, 7], dtype=np.int64)} if bad == "int_sample" else \
            {"x_a": x, "x_b": x + 1}
        y = ort.run(sess, feeds, "out")
        print("  bad/%s.onnx: loads and runs in ONNX Runtime (inputs %s); out[0] = %s"
              % (bad, ", ".join("%s %s %s" % (n, np.dtype(d).name, dims) for n, d, dims in ins), y[0].tolist()))
        ok &= bad in ("int_sample", "no_timestep")
        ort.f["ReleaseSession"](sess)
    print("ONNX Runtime check: %s" % ("PASS" if ok else "FAIL"))
    return ok


# --------------------------------------------------------------------------
# Output helpers
# --------------------------------------------------------------------------

def write_bytes(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def write_json(path, obj, indent=2):
    write_bytes(path, (json.dumps(obj, indent=indent) + "\n").encode("utf-8"))


def tensor_entry(name, arr, dtype=None):
    arr = np.asarray(arr)
    dtype = dtype or arr.dtype.name
    if arr.dtype.kind == "f":
        data = [float(v) for v in arr.reshape(-1).astype(np.float64)]
    else:
        data = [int(v) for v in arr.reshape(-1)]
    return {"name": name, "dtype": dtype, "shape": list(arr.shape), "data": data}


def atol_for(diff, floor, factor=5.0):
    """A tolerance for the C# comparison: factor x the graph-evaluation discrepancy, at least `floor`,
    rounded up to 1 significant digit."""
    v = max(floor, factor * diff)
    e = math.floor(math.log10(v))
    return math.ceil(v / 10 ** e) * 10 ** e


# --------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------

def build(root, quick, preview):
    import onnx
    out = os.path.join(root, OUT_DIR)
    os.makedirs(out, exist_ok=True)
    t_start = time.time()
    summary = {}
    unet_steps = 60 if quick else UNET_STEPS
    policy_steps = 100 if quick else POLICY_STEPS

    lin_betas = linear_betas()
    acp_unet = torch.cumprod(1 - lin_betas, dim=0)
    cos_betas = ddpm_torch.squaredcos_cap_v2_betas(100)
    acp_policy = torch.cumprod(1 - cos_betas, dim=0)

    # ---- unet16 (unconditional) ----
    print("unet16: training (%d steps, batch %d)" % (unet_steps, UNET_BATCH), flush=True)
    torch.manual_seed(SEED_TRAIN_UNET)
    unet = UNet16()
    rng_u = np.random.default_rng(SEED_DATA_UNET)
    loss_u, sec_u = train(unet, lambda s: (torch.from_numpy(make_shapes(rng_u, UNET_BATCH)[0]), None),
                          eps_loss(acp_unet, 1000), unet_steps, UNET_LR, SEED_TRAIN_UNET, "unet16")
    ev_x, ev_y = make_shapes(np.random.default_rng(SEED_EVAL), 1024)
    ev_u = eval_loss(unet, torch.from_numpy(ev_x), None, acp_unet, 1000, SEED_EVAL)
    samples = ddpm_sample(lambda x, t: unet(x, torch.full((x.shape[0],), t, dtype=torch.int64)),
                          (64, 1, 16, 16), acp_unet, 1000, 100, SEED_SAMPLING).numpy()
    cls = classify_shapes(samples)
    clean = float(np.mean(np.abs(samples) > 0.8))
    hist_u = [int(np.sum(cls == c)) for c in (0, 1, 2, -1)]
    print("unet16: %d params; train loss (mean of last 10%% of steps) %.4f; held-out loss %.4f; %.0f s"
          % (n_params(unet), loss_u, ev_u, sec_u))
    print("unet16: 64 samples (DDPM, 100 steps): %.1f%% of pixels within 0.2 of +-1; heuristic classes "
          "square/disc/bar/none = %s (true data: %s)"
          % (100 * clean, hist_u, [int(np.sum(classify_shapes(ev_x[:64]) == c)) for c in (0, 1, 2, -1)]))
    if preview:
        print(ascii_images(samples[:16]))
    summary["unet16"] = {"params": n_params(unet), "train_loss": loss_u, "eval_loss": ev_u, "seconds": sec_u,
                         "clean": clean, "classes": hist_u}

    # ---- unet16_class ----
    print("unet16_class: training (%d steps, batch %d, label dropout %.2f)" % (unet_steps, UNET_BATCH, CFG_DROP),
          flush=True)
    torch.manual_seed(SEED_TRAIN_CLASS)
    cnet = UNet16(num_classes=4)
    rng_c = np.random.default_rng(SEED_DATA_CLASS)

    def class_batch(step):
        x, y = make_shapes(rng_c, UNET_BATCH)
        return torch.from_numpy(x), torch.from_numpy(y)
    loss_c, sec_c = train(cnet, class_batch, eps_loss(acp_unet, 1000, cond_drop=CFG_DROP), unet_steps, UNET_LR,
                          SEED_TRAIN_CLASS, "unet16_class")
    ev_c = eval_loss(cnet, torch.from_numpy(ev_x), torch.from_numpy(ev_y), acp_unet, 1000, SEED_EVAL)
    acc = []
    for c in range(3):
        def guided(x, t, c=c):
            n = x.shape[0]
            tt = torch.full((2 * n,), t, dtype=torch.int64)
            lab = torch.cat([torch.full((n,), c, dtype=torch.int64), torch.full((n,), NULL_CLASS, dtype=torch.int64)])
            e = cnet(torch.cat([x, x]), tt, lab)
            return e[n:] + 3.0 * (e[:n] - e[n:])
        s = ddpm_sample(guided, (32, 1, 16, 16), acp_unet, 1000, 100, SEED_SAMPLING + c).numpy()
        acc.append(float(np.mean(classify_shapes(s) == c)))
        if preview:
            print("class %d (%s), guidance 3.0:" % (c, CLASS_NAMES[c]))
            print(ascii_images(s[:8]))
    print("unet16_class: %d params; train loss %.4f; held-out loss (true labels) %.4f; %.0f s"
          % (n_params(cnet), loss_c, ev_c, sec_c))
    print("unet16_class: guided samples (scale 3, 32 per class) classified as their class: square %.0f%%, "
          "disc %.0f%%, bar %.0f%% (heuristic on true data: %.0f%%)"
          % (100 * acc[0], 100 * acc[1], 100 * acc[2], 100 * float(np.mean(classify_shapes(ev_x) == ev_y))))
    summary["unet16_class"] = {"params": n_params(cnet), "train_loss": loss_c, "eval_loss": ev_c,
                               "seconds": sec_c, "accuracy": acc}

    # ---- policy_mlp ----
    print("policy_mlp: training (%d steps, batch %d)" % (policy_steps, POLICY_BATCH), flush=True)
    torch.manual_seed(SEED_TRAIN_POLICY)
    pol = PolicyMLP()
    rng_p = np.random.default_rng(SEED_DATA_POLICY)

    def policy_batch(step):
        o, a = make_paths(rng_p, POLICY_BATCH)
        return torch.from_numpy(a), torch.from_numpy(o)
    loss_p, sec_p = train(pol, policy_batch, eps_loss(acp_policy, 100), policy_steps, POLICY_LR, SEED_TRAIN_POLICY,
                          "policy_mlp")
    ev_o, ev_a = make_paths(np.random.default_rng(SEED_EVAL), 2048)
    ev_p = eval_loss(pol, torch.from_numpy(ev_a), torch.from_numpy(ev_o), acp_policy, 100, SEED_EVAL, float_t=True)
    start, goal = np.array([[0.2, 0.25]]), np.array([[0.8, 0.6]])
    obs1 = torch.from_numpy((np.concatenate([start, goal], 1) * 2 - 1).astype(np.float32)).repeat(256, 1)
    acts = ddpm_sample(lambda x, t: pol(x, torch.full((x.shape[0],), float(t)), obs1), (256, 16), acp_policy, 100, 100,
                       SEED_SAMPLING).numpy()
    pts = (acts.reshape(256, 8, 2) + 1) / 2
    modes = path_modes(start, goal)[:, 0]
    d_left = np.sqrt(((pts - modes[0]) ** 2).sum(-1)).mean(-1)
    d_right = np.sqrt(((pts - modes[1]) ** 2).sum(-1)).mean(-1)
    frac_left = float(np.mean(d_left < d_right))
    err = float(np.mean(np.minimum(d_left, d_right)))
    print("policy_mlp: %d params; train loss %.4f; held-out loss %.4f; %.0f s"
          % (n_params(pol), loss_p, ev_p, sec_p))
    print("policy_mlp: 256 samples (DDPM, 100 steps) for start (0.2,0.25) goal (0.8,0.6): %.0f%% left / %.0f%% right; "
          "mean waypoint distance to the nearer mode %.4f (data noise 0.01 per axis)"
          % (100 * frac_left, 100 * (1 - frac_left), err))
    summary["policy_mlp"] = {"params": n_params(pol), "train_loss": loss_p, "eval_loss": ev_p, "seconds": sec_p,
                             "left": frac_left, "mode_err": err}

    # ---- reference inputs ----
    rr = np.random.default_rng(SEED_REFERENCE)

    def noisy(x0, t, acp):
        a = acp[torch.as_tensor(t).long()].numpy().reshape([-1] + [1] * (x0.ndim - 1))
        eps = rr.standard_normal(x0.shape).astype(np.float32)
        return (np.sqrt(a) * x0 + np.sqrt(1 - a) * eps).astype(np.float32)

    x0_u, _ = make_shapes(rr, 3, labels=[0, 1, 2])
    t_u = np.array([0, 420, 999], dtype=np.int64)
    xt_u = noisy(x0_u, t_u, acp_unet)
    x0_c, _ = make_shapes(rr, 3, labels=[2, 1, 0])
    t_c = np.array([50, 500, 950], dtype=np.int64)
    y_c = np.array([0, 1, NULL_CLASS], dtype=np.int64)
    xt_c = noisy(x0_c, t_c, acp_unet)
    o_p, a_p = make_paths(rr, 3)
    t_p = np.array([0.0, 37.5, 99.0], dtype=np.float32)
    xt_p = noisy(a_p, t_p.astype(np.int64), acp_policy)
    xt_h = xt_u.astype(np.float16)

    with torch.no_grad():
        ref_u = UnetExport(unet)(torch.from_numpy(xt_u), torch.from_numpy(t_u)).numpy()
        ref_s = UnetExport(unet, True)(torch.from_numpy(xt_u), torch.from_numpy(t_u.reshape(3, 1))).numpy()
        ref_c = NetExport(cnet)(torch.from_numpy(xt_c), torch.from_numpy(t_c), torch.from_numpy(y_c)).numpy()
        ref_p = NetExport(pol)(torch.from_numpy(xt_p), torch.from_numpy(t_p), torch.from_numpy(o_p)).numpy()
        ref_h = UnetExport(unet)(torch.from_numpy(xt_h.astype(np.float32)), torch.from_numpy(t_u)).numpy()
    if not np.array_equal(ref_u, ref_s):
        print("note: the [3,1]-timestep wrapper output differs from the [3] one by %.3e"
              % float(np.max(np.abs(ref_u - ref_s))))

    # ---- export ----
    print("exporting (opset %d)" % OPSET, flush=True)
    ex2 = lambda *shape: torch.zeros(shape)   # noqa: E731
    models = {}
    models["unet16"] = export_graph(UnetExport(unet), [ex2(2, 1, 16, 16), torch.zeros(2, dtype=torch.int64)],
                                    ["noisy_images", "t"], "noise_pred", [1, 16, 16], True, "unet16")
    models["unet16_static3"] = export_graph(UnetExport(unet, True), [ex2(3, 1, 16, 16), torch.zeros(3, 1, dtype=torch.int64)],
                                            ["noisy_images", "t"], "noise_pred", [1, 16, 16], False, "unet16_static3")
    models["unet16_class"] = export_graph(NetExport(cnet), [ex2(2, 1, 16, 16), torch.zeros(2, dtype=torch.int64),
                                                              torch.zeros(2, dtype=torch.int64)],
                                          ["x", "timesteps", "class_labels"], "eps", [1, 16, 16], True, "unet16_class")
    models["policy_mlp"] = export_graph(NetExport(pol), [ex2(2, 16), torch.zeros(2), ex2(2, 4)],
                                        ["noisy_action", "timestep", "obs"], "pred", [16], True, "policy_mlp")
    models["unet16_fp16"] = convert_fp16(models["unet16"])
    models["unet16_fp16"].graph.name = "unet16_fp16"

    checks = {
        "unet16": ({"noisy_images": xt_u, "t": t_u}, ref_u, 1e-4),
        "unet16_static3": ({"noisy_images": xt_u, "t": t_u.reshape(3, 1)}, ref_s, 1e-4),
        "unet16_class": ({"x": xt_c, "timesteps": t_c, "class_labels": y_c}, ref_c, 1e-4),
        "policy_mlp": ({"noisy_action": xt_p, "timestep": t_p, "obs": o_p}, ref_p, 1e-4),
        "unet16_fp16": ({"noisy_images": xt_h, "t": t_u}, ref_h, 5e-2),
    }
    diffs = {}
    for name, m in models.items():
        path = os.path.join(out, name, "model.onnx")
        write_bytes(path, m.SerializeToString())
        feeds, expected, tol = checks[name]
        diffs[name] = check_graph(m, path, feeds, expected, name, tol)
        ins, outs = describe_io(onnx.load(path))
        print("  %s: inputs %s; output %s; %d bytes" % (name, ins, outs, os.path.getsize(path)))
    for name in models:
        cfg = scheduler_config(100, "squaredcos_cap_v2") if name == "policy_mlp" else scheduler_config(1000, "linear")
        write_json(os.path.join(out, name, "scheduler_config.json"), cfg)
    write_json(os.path.join(out, "unet16_class", "asd.json"),
               {"inputs": {"sample": "x", "timestep": "timesteps", "cond": ["class_labels"]}, "output": "eps",
                "guidance": {"null_cond": {"class_id": NULL_CLASS}, "scale": 3.0}})

    # ---- bad models ----
    full = models["unet16"].SerializeToString()
    write_bytes(os.path.join(out, "bad", "truncated.onnx"), full[:len(full) // 2])
    for name, m in tiny_models().items():
        onnx.checker.check_model(m, full_check=True)
        write_bytes(os.path.join(out, "bad", name + ".onnx"), m.SerializeToString())
    write_bytes(os.path.join(out, "bad", "not_onnx.onnx"), b"this is not an ONNX model, just a line of text\n")
    try:
        onnx.load_from_string(full[:len(full) // 2])
        print("note: onnx.load accepts the truncated bytes (protobuf stops early)")
    except Exception as e:  # noqa: BLE001
        print("bad/truncated.onnx: onnx.load refuses it (%s)" % type(e).__name__)

    # ---- reference.json ----
    ref = {
        "generated_by": "tools/make_onnx_fixtures.py",
        "layout": "each tensor: name, dtype, shape, data (flat, row-major); batch of 3 rows; float data are the exact "
                  "float32 (or float16) values as decimal numbers",
        "expected_by": "torch float32 module (for unet16_fp16: the float32 unet16 weights on the float16-rounded "
                       "inputs, so its atol covers the float16 weights and activations)",
        "fixtures": {},
    }

    def entry(model_dir, inputs, out_name, expected, diff, floor, note=None, factor=5.0):
        e = {"model": model_dir + "/model.onnx", "inputs": inputs, "outputs": [tensor_entry(out_name, expected)],
             "graph_numpy_max_abs_diff": diff, "atol": atol_for(diff, floor, factor)}
        if note:
            e["note"] = note
        return e
    F_ = ref["fixtures"]
    F_["unet16"] = entry("unet16", [tensor_entry("noisy_images", xt_u), tensor_entry("t", t_u)], "noise_pred",
                         ref_u, diffs["unet16"], 1e-4)
    F_["unet16_static3"] = entry("unet16_static3", [tensor_entry("noisy_images", xt_u),
                                                    tensor_entry("t", t_u.reshape(3, 1))],
                                 "noise_pred", ref_s, diffs["unet16_static3"], 1e-4,
                                 "same weights and inputs as unet16; t shaped [3,1]")
    F_["unet16_class"] = entry("unet16_class", [tensor_entry("x", xt_c), tensor_entry("timesteps", t_c),
                                                tensor_entry("class_labels", y_c)], "eps", ref_c,
                               diffs["unet16_class"], 1e-4, "class_labels 0 (square), 1 (disc), 3 (null)")
    F_["policy_mlp"] = entry("policy_mlp", [tensor_entry("noisy_action", xt_p), tensor_entry("timestep", t_p),
                                            tensor_entry("obs", o_p)], "pred", ref_p, diffs["policy_mlp"], 1e-4,
                             "timestep is float; 37.5 is deliberately not an integer")
    F_["unet16_fp16"] = entry("unet16_fp16", [tensor_entry("noisy_images", xt_h), tensor_entry("t", t_u)],
                              "noise_pred", ref_h, diffs["unet16_fp16"], 2e-2,
                              "inputs and output are float16 in the graph; graph_numpy_max_abs_diff is from an "
                              "evaluation rounding every node's result to float16", factor=2.0)
    write_json(os.path.join(out, "reference.json"), ref, indent=1)
    summary["diffs"] = diffs
    summary["wall"] = time.time() - t_start
    write_readme(out, summary, quick)
    return out, summary


def write_readme(out, s, quick):
    u, c, p = s["unet16"], s["unet16_class"], s["policy_mlp"]
    lines = [
        "# ONNX fixtures",
        "",
        "Generated by `/usr/bin/python3 tools/make_onnx_fixtures.py` (trains small models on data it generates, "
        "seeded and single-threaded; the same machine writes the same bytes; see the script's docstring for the "
        "architectures; about 8 minutes on 2 CPU cores). Opset 17, IR version 8, exported by torch %s, onnx %s. "
        "`--check-only` re-runs only the ONNX Runtime check (through the NuGet package's libonnxruntime.so via "
        "ctypes) against `reference.json`." % (torch.__version__, __import__("onnx").__version__),
        "",
    ]
    if quick:
        lines += ["**Generated with --quick: barely trained, not for committing.**", ""]
    lines += [
        "| fixture | inputs | output | notes |",
        "|---|---|---|---|",
        "| `unet16/` | `noisy_images` f32 [B,1,16,16], `t` i64 [B] | `noise_pred` f32 [B,1,16,16] | UNet, %d params, "
        "DDPM eps, linear betas 1e-4..0.02, T=1000 |" % u["params"],
        "| `unet16_static3/` | `noisy_images` f32 [3,1,16,16], `t` i64 [3,1] | `noise_pred` f32 [3,1,16,16] | "
        "unet16 weights, static batch 3, t reshaped to [3] inside |",
        "| `unet16_class/` | `x` f32 [B,1,16,16], `timesteps` i64 [B], `class_labels` i64 [B] | `eps` f32 "
        "[B,1,16,16] | classes 0 square, 1 disc, 2 bar, 3 null; `asd.json` (guidance scale 3) |",
        "| `policy_mlp/` | `noisy_action` f32 [B,16], `timestep` f32 [B], `obs` f32 [B,4] | `pred` f32 [B,16] | "
        "MLP, %d params, DDPM eps, squaredcos_cap_v2, T=100 |" % p["params"],
        "| `unet16_fp16/` | `noisy_images` f16 [B,1,16,16], `t` i64 [B] | `noise_pred` f16 [B,1,16,16] | "
        "unet16 weights in float16 (time embedding computed in float32 inside) |",
        "| `bad/truncated.onnx` | | | unet16's bytes cut in half |",
        "| `bad/int_sample.onnx` | `sample` i32 [B,4], `timestep` i64 [B] | `out` f32 [B,4] | sample-like input "
        "is not float |",
        "| `bad/no_timestep.onnx` | `x_a`, `x_b` f32 [B,4] | `out` f32 [B,4] | two sample candidates, no "
        "timestep |",
        "| `bad/not_onnx.onnx` | | | text |",
        "",
        "B is the dynamic dimension `batch`. Every model directory has a diffusers `scheduler_config.json` "
        "(DDPMScheduler, epsilon, fixed_small, clip_sample false, leading spacing, steps_offset 0).",
        "",
        "Training data (generated by the script):",
        "",
        "* images: 16x16, background -1, one shape at +1: a square (side 4-10), a disc (radius 2.5-5.5) or a "
        "horizontal/vertical bar (2-3 x 9-15), random position. unet16: %d steps of Adam, batch 64; final "
        "train loss %.4f, held-out loss %.4f; of 64 samples (DDPM, 100 steps) %d/%d/%d look like a "
        "square/disc/bar and %d like none. unet16_class: same, labels replaced by the null class 3 with "
        "probability 0.15; final train loss %.4f, held-out loss %.4f; guided samples (scale 3) recognised as "
        "their class by a shape heuristic: %.0f%% / %.0f%% / %.0f%%."
        % (UNET_STEPS if not quick else 60, u["train_loss"], u["eval_loss"], u["classes"][0], u["classes"][1],
           u["classes"][2], u["classes"][3], c["train_loss"], c["eval_loss"],
           100 * c["accuracy"][0], 100 * c["accuracy"][1], 100 * c["accuracy"][2]),
        "* paths: start and goal uniform in [0.1, 0.9]^2 (at least 0.25 apart), 8 waypoints (the last is the "
        "goal) bending left or right of the straight line (fair coin) along a half sine of height "
        "0.35 * |goal - start|, "
        "plus N(0, 0.01^2); action = 2 * waypoints - 1 (x1,y1,...,x8,y8), obs = 2 * (start, goal) - 1. %d steps of "
        "Adam, batch 256; final train loss %.4f, held-out loss %.4f; 256 paths sampled for one start/goal "
        "(DDPM, 100 steps): %.0f%% left, %.0f%% right, mean waypoint distance to the nearer noise-free path %.3f." %
        (POLICY_STEPS if not quick else 100, p["train_loss"], p["eval_loss"], 100 * p["left"], 100 * (1 - p["left"]),
         p["mode_err"]),
        "",
        "`reference.json`: for each of unet16, unet16_static3, unet16_class, policy_mlp and unet16_fp16, a "
        "batch of 3 input rows as exported (flat row-major data with shape and dtype) and the torch float32 "
        "outputs, with `atol` for comparing ONNX Runtime's results.",
        "",
    ]
    lines += bytes_table(out)
    write_bytes(os.path.join(out, "README.md"), "\n".join(with_unet28(lines, out)).encode("utf-8"))


def bytes_table(out):
    """The README's table of every file under `out` but the README, from its header line to the total."""
    def size(rel):
        return os.path.getsize(os.path.join(out, rel))
    files = sorted(os.path.relpath(p, out) for p in glob.glob(os.path.join(out, "**", "*"), recursive=True)
                   if os.path.isfile(p) and not p.endswith("README.md"))
    lines = ["| file | bytes |", "|---|---|"]
    lines += ["| `%s` | %d |" % (f, size(f)) for f in files]
    lines += ["", "Total (without this README): %d bytes." % sum(size(f) for f in files), ""]
    return lines


UNET28_NOTE = " `unet28/` comes from `tools/make_unet28_fixture.py`"
UNET28_ROW = "| `unet28/` |"
UNET28_BULLET = "* 28x28 images (`unet28/`"


def with_unet28(lines, out):
    """`lines` of the README with the unet28 fixture's sentence, table row and training bullet (written from
    unet28/quality.json, which tools/make_unet28_fixture.py writes), replacing any earlier ones; without them when the
    fixture is absent. Both scripts write the README through this, so neither drops the other's lines."""
    lines = [ln for ln in lines if not ln.startswith(UNET28_ROW) and not ln.startswith(UNET28_BULLET)]
    lines = [ln.split(UNET28_NOTE)[0] for ln in lines]
    path = os.path.join(out, "unet28", "quality.json")
    if not os.path.exists(path):
        return lines
    with open(path, encoding="utf-8") as f:
        q = json.load(f)
    tr, s, th, ctl = q["training"], q["trained"], q["threshold"], q["controls"]
    note = (UNET28_NOTE + " (trained on 28x28 images, about 15 minutes on one core), which rewrites this README's "
            "unet28 lines and the bytes table.")
    row = (UNET28_ROW + " `noisy_images` f32 [B,1,28,28], `t` i64 [B] | `noise_pred` f32 [B,1,28,28] | UNet, "
           "%d params, DDPM eps, linear betas 1e-4..0.02, T=1000; `quality.json` |" % q["params"])
    bullet = (UNET28_BULLET + ", `tools/make_unet28_fixture.py`): 28x28, background -1, one shape at +1 at a random "
              "position: a square (side 6-18), a disc (radius 4-9.5) or a horizontal/vertical bar (3-5 x 14-26). A "
              "UNet of 32/48/64 channels at 28/14/7 pixels (see the script's docstring); %d steps of Adam, batch %d, "
              "EMA weights; final train loss %.4f, held-out loss %.4f. Of 64 samples (DDPM, 100 steps) %.0f%% are "
              "valid shapes to a stricter heuristic (one connected shape; square/disc/bar/none %d/%d/%d/%d) and %.1f%% "
              "of the pixels lie within 0.2 of +-1; the threshold is valid >= %.2f and clean >= %.2f, and the "
              "negative controls score %.0f%% / %.1f%% (the untrained network's samples), %.0f%% / %.1f%% (the "
              "trained network told t = 0 at every step), %.0f%% / %.1f%% (random -1/+1 pixels) and %.0f%% / %.1f%% "
              "(N(0,1) noise). `unet28/quality.json` has the heuristic and every number."
              % (tr["steps"], tr["batch"], tr["train_loss"], tr["heldout_loss"], 100 * s["valid"], *s["classes"],
                 100 * s["clean"], th["valid_min"], th["clean_min"], 100 * ctl["untrained"]["valid"],
                 100 * ctl["untrained"]["clean"], 100 * ctl["told_t0"]["valid"], 100 * ctl["told_t0"]["clean"],
                 100 * ctl["sign_noise"]["valid"], 100 * ctl["sign_noise"]["clean"], 100 * ctl["noise"]["valid"],
                 100 * ctl["noise"]["clean"]))
    res = []
    for ln in lines:
        res.append(ln + note if ln.startswith("Generated by `/usr/bin/python3 tools/make_onnx_fixtures.py`") else ln)
        if ln.startswith("| `unet16_fp16/` |"):
            res.append(row)
        elif ln.startswith("* images: 16x16"):
            res.append(bullet)
    return res


def refresh_readme(out):
    """Rewrites README.md's unet28 lines and bytes table in place (the other fixtures' lines stay as they are)."""
    path = os.path.join(out, "README.md")
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    lines = lines[:lines.index("| file | bytes |")] + bytes_table(out)
    write_bytes(path, "\n".join(with_unet28(lines, out)).encode("utf-8"))


def sha_listing(out):
    res = {}
    for p in sorted(glob.glob(os.path.join(out, "**", "*"), recursive=True)):
        if os.path.isfile(p):
            with open(p, "rb") as f:
                res[os.path.relpath(p, out)] = (os.path.getsize(p), hashlib.sha256(f.read()).hexdigest())
    return res


def fixture_arguments(doc, out_dir):
    """The options every fixture script takes: --root, --quick, --preview, --ort, --no-ort."""
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("--root", default=repo, help="write under ROOT/%s (default: the repository root)" % out_dir)
    ap.add_argument("--quick", action="store_true", help="a few training steps only (tests the script)")
    ap.add_argument("--preview", action="store_true", help="print samples as ASCII art")
    ap.add_argument("--ort", help="path of libonnxruntime.so (default: the NuGet package's, when present)")
    ap.add_argument("--no-ort", action="store_true", help="skip the ONNX Runtime check")
    return ap


def main(argv=None):
    ap = fixture_arguments(__doc__, OUT_DIR)
    ap.add_argument("--check-only", action="store_true", help="only run the ONNX Runtime check on existing fixtures")
    a = ap.parse_args(argv)
    out = os.path.join(a.root, OUT_DIR)
    if not a.check_only:
        out, summary = build(a.root, a.quick, a.preview)
        print("training %.0f + %.0f + %.0f s; total %.0f s"
              % (summary["unet16"]["seconds"], summary["unet16_class"]["seconds"], summary["policy_mlp"]["seconds"],
                 summary["wall"]))
        total = 0
        for rel, (n, h) in sha_listing(out).items():
            total += n
            print("  %-34s %8d  %s" % (rel, n, h[:16]))
        print("  total %d bytes" % total)
    ok = True
    if not a.no_ort:
        lib = a.ort or find_ort()
        if lib:
            ok = ort_check(out, lib)
        else:
            print("ONNX Runtime check skipped: no libonnxruntime.so found (pass --ort LIB)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
