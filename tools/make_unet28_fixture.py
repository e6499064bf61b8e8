#!/usr/bin/python3
"""Train a convolutional UNet on generated 28x28 images of shapes and export it as an ONNX fixture (seeded).

Usage:
    nice -n 19 /usr/bin/python3 tools/make_unet28_fixture.py [--root DIR] [--quick] [--preview] [--ort LIB | --no-ort]

Writes under ROOT/tests/fixtures/onnx/unet28/ (ROOT defaults to the repository root):

  model.onnx             inputs `noisy_images` float32 [B,1,28,28] and `t` int64 [B]; output `noise_pred` float32
                         [B,1,28,28]; dynamic batch (dim_param "batch"). Opset 17.
  scheduler_config.json  diffusers DDPMScheduler: epsilon prediction, linear betas 1e-4..0.02, 1000 train timesteps,
                         fixed_small, no clipping, leading spacing (the same as unet16's).
  quality.json           training losses, the shape heuristic, its threshold, and its scores on the trained model's
                         DDPM samples, on the training data, and on two negative controls (see below).
and rewrites the unet28 lines and the bytes table of tests/fixtures/onnx/README.md, when there is one
(make_onnx_fixtures.refresh_readme; make_onnx_fixtures.py writes the same lines from quality.json).

Why: unet16 (tools/make_onnx_fixtures.py) costs well under a millisecond per call, so a scheduler that tunes ASD's
speculation length to the batch cost (`auto`, issue 16) is never tested on a model whose call is as expensive as an
image UNet's. This one costs a few milliseconds per call at batch 1 on one CPU core and still fits in the repository.

Data: 28x28 single-channel images, background -1, one shape at +1 at a random position, a third each of
  square  side 6..18 pixels;
  disc    radius uniform in [4, 9.5], centre on the pixel grid or between pixels;
  bar     horizontal or vertical, thickness 3..5, length 14..26.
(The families of unet16's data, scaled to 28x28; one shape per image, so that a simple heuristic can tell whether a
sample is one.)

Network (UNet28, 336,369 parameters; the building blocks are make_onnx_fixtures.py's TimeProj and ResBlock:
GroupNorm(8)/SiLU/conv3x3 twice, the time embedding added after the first conv, a 1x1 skip conv where channels change):
  sinusoidal timestep embedding (32 frequencies) -> Linear 32->64, SiLU, Linear 64->64, SiLU = e;
  conv 1->32 (28x28); ResBlock 32 (skip s0);
  stride-2 conv 32->48 (14x14); ResBlock 48 (skip s1);
  stride-2 conv 48->64 (7x7); ResBlock 64 (middle);
  nearest 2x up (14x14), conv 64->48, concat s1, ResBlock 96->48;
  nearest 2x up (28x28), conv 48->32, concat s0, ResBlock 64->32;
  GroupNorm, SiLU, conv 32->1.

Training: DDPM epsilon prediction, t ~ U{0..999}, Adam with warmup + cosine decay and gradient clipping
(make_onnx_fixtures.train), UNET28_STEPS steps of batch UNET28_BATCH, fresh images every step; the exported weights
are the EMA of the training weights (decay 0.999; a run of 2600 steps without it scored about the same, valid 0.73);
single-threaded (torch.set_num_threads(1), deterministic algorithms), so the same machine writes the same bytes.
About 15 minutes on one core of the 2-core development machine (14 of them training); run it under `nice -n 19`.

Quality check (the same heuristic is in tests/Asd.Tests/Onnx/ShapeHeuristic.cs):
  foreground = pixels > 0. A sample is a valid shape when its foreground is one 4-connected component (at most
  2 stray foreground pixels elsewhere), of at least 24 pixels, whose bounding box (h x w, aspect = max/min, fill =
  component pixels / (h w)) is
    a bar:    aspect >= 2.2 and fill >= 0.85;
    a square: aspect <= 1.25, fill >= 0.9 and the four corner pixels of the box foreground;
    a disc:   aspect <= 1.25, 0.55 <= fill < 0.95 and the four corner pixels of the box background.
  clean = the fraction of all pixels within 0.2 of -1 or +1.
  Threshold: valid >= 0.5 and clean >= 0.85, on 64 samples of DDPM with 100 steps. The trained model scores about
  0.7 / 1.0 (its failures are squares with a chipped corner, rectangles, bars of uneven thickness): 0.5 leaves a
  check of 16 samples (the C# test) a margin of a few samples. Negative controls, which must fail it with margin (one
  of the two scores at most half its minimum), one for each half of the check and two for both:
    told_t0:    the DDPM sampling with the trained network told t = 0 at every step: its sign patterns are often
                shapes, but its values are far from +-1 (the clean half rejects it);
    sign_noise: images of independent random -1/+1 pixels: clean, but no shape (the valid half rejects it);
    untrained:  the DDPM sampling with the randomly initialised (seeded) network;
    noise:      N(0, 1) pixels.
  The 1024 held-out training images score 1.0 / 1.0 ("data" in quality.json).

Checks of the export: onnx.checker (full), reload, make_onnx_fixtures' numpy float64 interpreter against torch on
3 noisy rows; when ONNX Runtime's shared library is found (the NuGet package's libonnxruntime.so, or --ort LIB), the
same rows through it via ctypes, and a rough time per call at batch 1 (printed only, not a benchmark).

--quick trains a few steps only (tests the script; do not commit its output).
Needs Debian's python3-torch (1.13), python3-onnx (1.12), python3-numpy. No network access.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_onnx_fixtures as mof  # noqa: E402  (sets the one-thread environment and imports torch)

import json  # noqa: E402
import math  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

torch, nn, F = mof.torch, mof.nn, mof.F

OUT_DIR = os.path.join("tests", "fixtures", "onnx", "unet28")
SIZE = 28

SEED_DATA = 2801
SEED_TRAIN = 2802
SEED_EVAL = 2803
SEED_SAMPLING = 2804
SEED_UNTRAINED = 2805
SEED_NOISE = 2806
SEED_REFERENCE = 2807
SEED_SIGNS = 2808

UNET28_STEPS = 3000
UNET28_BATCH = 32
UNET28_LR = 2e-3
UNET28_EMA = 0.999
QUALITY_SAMPLES = 64
QUALITY_STEPS = 100

MIN_AREA = 24
MAX_STRAY = 2
VALID_MIN = 0.5
CLEAN_MIN = 0.85
CLEAN_TOL = 0.2

CLASS_NAMES = ["square", "disc", "bar"]


# --------------------------------------------------------------------------
# Data and the shape heuristic
# --------------------------------------------------------------------------

def make_shapes28(rng, n):
    """n 28x28 images (float32 [n,1,28,28], background -1, shape +1) and their labels (int64 [n]: 0 square,
    1 disc, 2 bar): make_onnx_fixtures.make_shapes with the 16x16 ranges scaled up (side 6..18, radius 4..9.5,
    thickness 3..5, length 14..26). Every shape lies inside the image."""
    return mof.make_shapes(rng, n, size=SIZE, side=(6, 19), radius=(4.0, 9.5), thick=(3, 6), length=(14, 27))


def largest_component(fg):
    """The largest 4-connected component of the boolean image fg, as a boolean image (ties: the first found in
    row-major order)."""
    h, w = fg.shape
    seen = np.zeros_like(fg)
    best = None
    best_n = 0
    for y0 in range(h):
        for x0 in range(w):
            if not fg[y0, x0] or seen[y0, x0]:
                continue
            comp = []
            stack = [(y0, x0)]
            seen[y0, x0] = True
            while stack:
                y, x = stack.pop()
                comp.append((y, x))
                for ny, nx in ((y - 1, x), (y + 1, x), (y, x - 1), (y, x + 1)):
                    if 0 <= ny < h and 0 <= nx < w and fg[ny, nx] and not seen[ny, nx]:
                        seen[ny, nx] = True
                        stack.append((ny, nx))
            if len(comp) > best_n:
                best_n = len(comp)
                best = comp
    out = np.zeros_like(fg)
    if best:
        ys, xs = zip(*best)
        out[list(ys), list(xs)] = True
    return out


def shape_class(im):
    """The heuristic class of one 28x28 image: 0 square, 1 disc, 2 bar, -1 not a valid shape (see the docstring)."""
    fg = np.asarray(im).reshape(SIZE, SIZE) > 0
    total = int(fg.sum())
    if total < MIN_AREA:
        return -1
    comp = largest_component(fg)
    n = int(comp.sum())
    if n < MIN_AREA or total - n > MAX_STRAY:
        return -1
    ys, xs = np.nonzero(comp)
    y0, y1, x0, x1 = ys.min(), ys.max(), xs.min(), xs.max()
    h, w = y1 - y0 + 1, x1 - x0 + 1
    fill = n / float(h * w)
    aspect = max(h, w) / float(min(h, w))
    corners = [comp[y0, x0], comp[y0, x1], comp[y1, x0], comp[y1, x1]]
    if aspect >= 2.2:
        return 2 if fill >= 0.85 else -1
    if aspect > 1.25:
        return -1
    if fill >= 0.9 and all(corners):
        return 0
    if 0.55 <= fill < 0.95 and not any(corners):
        return 1
    return -1


def score(imgs):
    """{valid, clean, classes [square, disc, bar, none]} of images [n,1,28,28] (see the docstring)."""
    imgs = np.asarray(imgs, dtype=np.float64).reshape(-1, SIZE, SIZE)
    cls = np.array([shape_class(im) for im in imgs])
    clean = float(np.mean(np.minimum(np.abs(imgs - 1), np.abs(imgs + 1)) <= CLEAN_TOL))
    return {"valid": float(np.mean(cls >= 0)), "clean": clean,
            "classes": [int(np.sum(cls == c)) for c in (0, 1, 2, -1)]}


def passes(s):
    return s["valid"] >= VALID_MIN and s["clean"] >= CLEAN_MIN


def far_below(s):
    """A control is rejected with margin: it fails the threshold and one of the two minimums by at least half."""
    return not passes(s) and (s["valid"] <= VALID_MIN / 2 or s["clean"] <= CLEAN_MIN / 2)


def ascii_images(imgs, per_row=6):
    imgs = np.asarray(imgs).reshape(-1, SIZE, SIZE)
    lines = []
    for r in range(0, len(imgs), per_row):
        chunk = imgs[r:r + per_row]
        for y in range(SIZE):
            lines.append(" ".join("".join("#" if v > 0.5 else ("+" if v > -0.5 else ".") for v in im[y])
                                  for im in chunk))
        lines.append("")
    return "\n".join(lines)


# --------------------------------------------------------------------------
# Network
# --------------------------------------------------------------------------

class UNet28(nn.Module):
    def __init__(self, ch=(32, 48, 64), emb=64):
        super().__init__()
        c0, c1, c2 = ch
        self.time_proj = mof.TimeProj(32)
        self.time_mlp = nn.Sequential(nn.Linear(32, emb), nn.SiLU(), nn.Linear(emb, emb))
        self.conv_in = nn.Conv2d(1, c0, 3, padding=1)
        self.down0 = mof.ResBlock(c0, c0, emb)
        self.downsample0 = nn.Conv2d(c0, c1, 3, stride=2, padding=1)
        self.down1 = mof.ResBlock(c1, c1, emb)
        self.downsample1 = nn.Conv2d(c1, c2, 3, stride=2, padding=1)
        self.mid = mof.ResBlock(c2, c2, emb)
        self.up_conv1 = nn.Conv2d(c2, c1, 3, padding=1)
        self.up1 = mof.ResBlock(2 * c1, c1, emb)
        self.up_conv0 = nn.Conv2d(c1, c0, 3, padding=1)
        self.up0 = mof.ResBlock(2 * c0, c0, emb)
        self.norm_out = nn.GroupNorm(8, c0)
        self.conv_out = nn.Conv2d(c0, 1, 3, padding=1)

    def forward(self, x, t):
        e = F.silu(self.time_mlp(self.time_proj(t)))
        s0 = self.down0(self.conv_in(x), e)                                   # 28x28
        s1 = self.down1(self.downsample0(s0), e)                              # 14x14
        h = self.mid(self.downsample1(s1), e)                                 # 7x7
        h = self.up_conv1(F.interpolate(h, scale_factor=2.0, mode="nearest"))
        h = self.up1(torch.cat([h, s1], dim=1), e)                            # 14x14
        h = self.up_conv0(F.interpolate(h, scale_factor=2.0, mode="nearest"))
        h = self.up0(torch.cat([h, s0], dim=1), e)                            # 28x28
        return self.conv_out(F.silu(self.norm_out(h)))


def sample(net, acp, seed, told=None):
    """DDPM samples of net; with `told`, the model is given that timestep at every step instead of the true one."""
    return mof.ddpm_sample(lambda x, t: net(x, torch.full((x.shape[0],), t if told is None else told,
                                                          dtype=torch.int64)),
                           (QUALITY_SAMPLES, 1, SIZE, SIZE), acp, 1000, QUALITY_STEPS, seed).numpy()


def ort_rows(lib, path, feeds, expected):
    """ONNX Runtime (ctypes) on the reference rows: (max abs diff vs torch, rough ms per call at batch 1)."""
    header = mof.ort_header(lib)
    if header is None:
        print("ONNX Runtime check skipped: onnxruntime_c_api.h not found next to %s" % lib)
        return None, None
    ort = mof.Ort(lib, header)
    sess = ort.load(path)
    ins, outs = ort.io(sess)
    got = ort.run(sess, feeds, "noise_pred").astype(np.float64)
    diff = float(np.max(np.abs(got - expected)))
    one = {k: v[:1] for k, v in feeds.items()}
    for _ in range(5):
        ort.run(sess, one, "noise_pred")
    t0 = time.perf_counter()
    reps = 50
    for _ in range(reps):
        ort.run(sess, one, "noise_pred")
    ms = 1000 * (time.perf_counter() - t0) / reps
    print("ONNX Runtime %s: inputs %s -> %s; max |ORT - torch| %.3e; roughly %.1f ms per call at batch 1 "
          "(one thread, a shared machine: not a benchmark)" % (ort.version, ins, outs, diff, ms))
    ort.f["ReleaseSession"](sess)
    return diff, ms


# --------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------

def build(root, quick, preview, ort_lib):
    import onnx
    out = os.path.join(root, OUT_DIR)
    os.makedirs(out, exist_ok=True)
    t_start = time.time()
    steps = 40 if quick else UNET28_STEPS
    acp = torch.cumprod(1 - mof.linear_betas(), dim=0)

    torch.manual_seed(SEED_UNTRAINED)
    untrained = UNet28().eval()
    torch.manual_seed(SEED_TRAIN)
    net = UNet28()
    params = mof.n_params(net)
    print("unet28: %d params; training %d steps, batch %d" % (params, steps, UNET28_BATCH), flush=True)
    rng = np.random.default_rng(SEED_DATA)
    loss, sec = mof.train(net, lambda s: (torch.from_numpy(make_shapes28(rng, UNET28_BATCH)[0]), None),
                          mof.eps_loss(acp, 1000), steps, UNET28_LR, SEED_TRAIN, "unet28", ema_decay=UNET28_EMA)
    ev_x, _ = make_shapes28(np.random.default_rng(SEED_EVAL), 1024)
    ev = mof.eval_loss(net, torch.from_numpy(ev_x), None, acp, 1000, SEED_EVAL)
    print("unet28: train loss (mean of the last 10%% of steps) %.4f; held-out loss %.4f; %.0f s" % (loss, ev, sec),
          flush=True)

    t0 = time.time()
    trained_s = sample(net, acp, SEED_SAMPLING)
    untrained_s = sample(untrained, acp, SEED_SAMPLING)
    wrong_t_s = sample(net, acp, SEED_SAMPLING, told=0)
    noise = np.random.default_rng(SEED_NOISE).standard_normal((QUALITY_SAMPLES, 1, SIZE, SIZE))
    signs = np.where(np.random.default_rng(SEED_SIGNS).random((QUALITY_SAMPLES, 1, SIZE, SIZE)) < 0.5, -1.0, 1.0)
    scores = {"trained": score(trained_s), "data": score(ev_x),
              "untrained": score(untrained_s), "told_t0": score(wrong_t_s), "sign_noise": score(signs),
              "noise": score(noise)}
    for k, s in scores.items():
        print("  %-10s valid %.3f clean %.3f classes square/disc/bar/none %s -> %s"
              % (k, s["valid"], s["clean"], s["classes"],
                 "PASS" if passes(s) else ("far below the threshold" if far_below(s) else "below the threshold")))
    print("  (sampling and scoring %.0f s)" % (time.time() - t0))
    if preview:
        print(ascii_images(trained_s[:12]))
        print("untrained:")
        print(ascii_images(untrained_s[:6]))

    # ---- export and checks ----
    rr = np.random.default_rng(SEED_REFERENCE)
    x0, _ = make_shapes28(rr, 3)
    t_ref = np.array([0, 420, 999], dtype=np.int64)
    a = acp[torch.from_numpy(t_ref)].numpy().reshape(-1, 1, 1, 1)
    xt = (np.sqrt(a) * x0 + np.sqrt(1 - a) * rr.standard_normal(x0.shape)).astype(np.float32)
    with torch.no_grad():
        ref = mof.UnetExport(net)(torch.from_numpy(xt), torch.from_numpy(t_ref)).numpy()
    model = mof.export_graph(mof.UnetExport(net), [torch.zeros(2, 1, SIZE, SIZE), torch.zeros(2, dtype=torch.int64)],
                             ["noisy_images", "t"], "noise_pred", [1, SIZE, SIZE], True, "unet28")
    path = os.path.join(out, "model.onnx")
    mof.write_bytes(path, model.SerializeToString())
    numpy_diff = mof.check_graph(model, path, {"noisy_images": xt, "t": t_ref}, ref, "unet28", 1e-4)
    ins, outs = mof.describe_io(onnx.load(path))
    onnx_bytes = os.path.getsize(path)
    print("  unet28: inputs %s; output %s; %d bytes" % (ins, outs, onnx_bytes))
    mof.write_json(os.path.join(out, "scheduler_config.json"), mof.scheduler_config(1000, "linear"))
    ort_diff = None
    if ort_lib:
        ort_diff, _ = ort_rows(ort_lib, path, {"noisy_images": xt, "t": t_ref}, ref.astype(np.float64))
    else:
        print("ONNX Runtime check skipped (--no-ort, or no libonnxruntime.so found: pass --ort LIB)")

    quality = {
        "generated_by": "tools/make_unet28_fixture.py" + (" --quick (barely trained, not for committing)"
                                                          if quick else ""),
        "model": "model.onnx",
        "params": params,
        "onnx_bytes": onnx_bytes,
        "training": {"steps": steps, "batch": UNET28_BATCH, "lr": UNET28_LR, "ema": UNET28_EMA,
                     "train_loss": round(loss, 5), "heldout_loss": round(ev, 5), "heldout_images": 1024},
        "heuristic": {
            "foreground": "pixel > 0",
            "valid": "one 4-connected foreground component of >= %d pixels (at most %d stray foreground pixels "
                     "elsewhere) whose bounding box is a bar (aspect >= 2.2, fill >= 0.85), a square (aspect <= "
                     "1.25, fill >= 0.9, the four corner pixels foreground) or a disc (aspect <= 1.25, 0.55 <= fill "
                     "< 0.95, the four corner pixels background)" % (MIN_AREA, MAX_STRAY),
            "clean": "fraction of all pixels within %.1f of -1 or +1" % CLEAN_TOL,
            "classes": "counts of square, disc, bar, none",
        },
        "threshold": {"valid_min": VALID_MIN, "clean_min": CLEAN_MIN,
                      "pass": "valid >= valid_min and clean >= clean_min",
                      "control_margin": "a control fails, and valid <= valid_min / 2 or clean <= clean_min / 2"},
        "sampling": "diffusers DDPM, leading spacing, fixed_small, %d steps, %d samples, float32 torch, seed %d"
                    % (QUALITY_STEPS, QUALITY_SAMPLES, SEED_SAMPLING),
        "trained": scores["trained"],
        "data": scores["data"],
        "controls": {
            "untrained": dict(scores["untrained"], what="the same sampling with the randomly initialised network "
                                                         "(seed %d)" % SEED_UNTRAINED),
            "told_t0": dict(scores["told_t0"], what="the same sampling with the trained network given t = 0 at every "
                                                     "step (it takes every sample for clean): sign patterns of shapes, "
                                                     "values far from +-1"),
            "sign_noise": dict(scores["sign_noise"], what="%d images of independent random -1/+1 pixels: clean, no "
                                                          "shape" % QUALITY_SAMPLES),
            "noise": dict(scores["noise"], what="%d images of N(0, 1) pixels" % QUALITY_SAMPLES),
        },
        "export_check": {"numpy_float64_max_abs_diff": numpy_diff,
                         "onnxruntime_max_abs_diff": ort_diff},
    }
    for k in ("trained", "data"):
        quality[k] = {kk: (round(v, 4) if isinstance(v, float) else v) for kk, v in quality[k].items()}
    for k in quality["controls"]:
        quality["controls"][k] = {kk: (round(v, 4) if isinstance(v, float) else v)
                                  for kk, v in quality["controls"][k].items()}
    mof.write_json(os.path.join(out, "quality.json"), quality)
    fixtures = os.path.dirname(out)
    if os.path.exists(os.path.join(fixtures, "README.md")):
        mof.refresh_readme(fixtures)
        print("rewrote the unet28 lines and the bytes table of %s" % os.path.join(fixtures, "README.md"))
    controls_ok = all(far_below(scores[k]) for k in quality["controls"])
    ok = passes(scores["trained"]) and passes(scores["data"]) and controls_ok
    print("quality: trained %s the threshold (valid >= %.2f, clean >= %.2f); controls %s; total %.0f s"
          % ("passes" if passes(scores["trained"]) else "FAILS", VALID_MIN, CLEAN_MIN,
             "far below it" if controls_ok else "NOT REJECTED WITH MARGIN", time.time() - t_start))
    return ok or quick


def main(argv=None):
    a = mof.fixture_arguments(__doc__, OUT_DIR).parse_args(argv)
    lib = None if a.no_ort else (a.ort or mof.find_ort())
    return 0 if build(a.root, a.quick, a.preview, lib) else 1


if __name__ == "__main__":
    sys.exit(main())
