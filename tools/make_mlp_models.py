#!/usr/bin/python3
"""Generate the asd-mlp models and fixtures (seeded, byte-for-byte deterministic).

Usage:
    /usr/bin/python3 tools/make_mlp_models.py [--root DIR]     (default: the repository root)

Writes, under the root:
  bench/Asd.Bench/models/mlp_bench.{json,safetensors,onnx}
      the pinned benchmark network: concat[x (32), sinusoidal time embedding (128), cond (4)] = 164,
      Linear 164->512->512->512->32 with SiLU between, epsilon prediction; PyTorch-default-like
      init U(-1/sqrt(in), 1/sqrt(in)) for weights and biases, float32.
  bench/Asd.Bench/models/mlp_bench_f16.{json,safetensors,onnx}
      the same network with its parameters rounded to float16, stored as F16 (the ONNX file: float16 initializers
      cast to float32, so ONNX Runtime computes in float32 on the same values).
  tests/fixtures/mlp_small/mlp_small.{json,safetensors,onnx}
      a small network that uses every feature of the format (see make_small), plus
      mlp_small_halves.{json,safetensors}: the same weights stored as a mix of F16, BF16 and F32
      (every weight of mlp_small is exactly representable in F16 and BF16, so the outputs are identical),
      reference.json: 5 input rows and their numpy float64 reference outputs.
  tests/fixtures/mlp_bad/{truncated,mismatch,missing,badheader}.{json,safetensors}
      broken inputs for the loader's error paths.

Needs Debian's python3-numpy, python3-torch, python3-onnx.
"""

import argparse
import hashlib
import json
import math
import os
import struct
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mlp_common as mc  # noqa: E402
import export_mlp_onnx as exp  # noqa: E402

SEED_BENCH = 20250101
SEED_SMALL = 20250102
SEED_REFERENCE = 20250103

BENCH_DIR = os.path.join("bench", "Asd.Bench", "models")
SMALL_DIR = os.path.join("tests", "fixtures", "mlp_small")
BAD_DIR = os.path.join("tests", "fixtures", "mlp_bad")


def write_json(path, obj):
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write(json.dumps(obj, indent=2) + "\n")


def linear_layer(name, activation, bias=True):
    d = {"type": "linear", "weight": name + ".weight"}
    if bias:
        d["bias"] = name + ".bias"
    d["activation"] = activation
    return d


# --------------------------------------------------------------------------
# mlp_bench
# --------------------------------------------------------------------------


def make_bench():
    rng = np.random.default_rng(SEED_BENCH)
    dims = [32 + 128 + 4, 512, 512, 512, 32]
    tensors, layers = {}, []
    for i in range(4):
        fan_in, fan_out = dims[i], dims[i + 1]
        bound = 1.0 / math.sqrt(fan_in)
        tensors["net.%d.weight" % i] = rng.uniform(-bound, bound, size=(fan_out, fan_in)).astype(np.float32)
        tensors["net.%d.bias" % i] = rng.uniform(-bound, bound, size=(fan_out,)).astype(np.float32)
        layers.append(linear_layer("net.%d" % i, "silu" if i < 3 else "identity"))
    spec = {
        "format": "asd-mlp",
        "version": 1,
        "sample_shape": [32],
        "cond_dim": 4,
        "prediction_type": "epsilon",
        "time_embedding": {"dim": 128, "max_period": 10000.0, "flip_sin_to_cos": True,
                           "downscale_freq_shift": 0.0, "scale": 1.0},
        "time_mlp": [],
        "input": ["sample", "time", "cond"],
        "layers": layers,
        "scheduler": {"num_train_timesteps": 1000, "beta_schedule": "squaredcos_cap_v2",
                      "prediction_type": "epsilon"},
    }
    return spec, tensors


# --------------------------------------------------------------------------
# mlp_small
# --------------------------------------------------------------------------

_F16_MIN_NORMAL = 2.0 ** -14


def _half_exact(a):
    """Round float64 values to BF16 (round-to-nearest-even on the float32 bits), flush |v| < 2^-14 to 0,
    so every value is exactly representable in F32, BF16 and F16."""
    bits = np.asarray(a, dtype=np.float32).view(np.uint32).astype(np.uint64)
    bits = (bits + 0x7FFF + ((bits >> 16) & 1)) >> 16 << 16
    v = bits.astype(np.uint32).view(np.float32)
    v = np.where(np.abs(v) < _F16_MIN_NORMAL, np.float32(0.0), v).astype(np.float32)
    assert np.array_equal(v.astype(np.float16).astype(np.float32), v)
    return v


def make_small():
    """sample [3, 2], cond 3, time embedding 16 (flip, shift 1, scale 0.75), time_mlp 16->16 silu ->16 identity,
    input [time, sample, cond] = 25, layers: linear 25->24 gelu_tanh; residual(linear 24->24 mish,
    linear 24->24 identity; relu); layer_norm 24; linear 24->6 identity.
    Weights U(-g/sqrt(in), g/sqrt(in)) with gain g = 2.5, biases U(-0.5, 0.5), layer_norm weight U(0.5, 1.5)
    and bias U(-0.5, 0.5): pre-activations reach several units, so every activation is used well outside
    its linear regime."""
    rng = np.random.default_rng(SEED_SMALL)
    gain = 2.5
    tensors = {}

    def lin(name, fan_in, fan_out):
        b = gain / math.sqrt(fan_in)
        tensors[name + ".weight"] = _half_exact(rng.uniform(-b, b, size=(fan_out, fan_in)))
        tensors[name + ".bias"] = _half_exact(rng.uniform(-0.5, 0.5, size=(fan_out,)))

    lin("time_mlp.0", 16, 16)
    lin("time_mlp.1", 16, 16)
    lin("net.0", 16 + 6 + 3, 24)
    lin("net.1.layers.0", 24, 24)
    lin("net.1.layers.1", 24, 24)
    tensors["net.2.weight"] = _half_exact(rng.uniform(0.5, 1.5, size=(24,)))
    tensors["net.2.bias"] = _half_exact(rng.uniform(-0.5, 0.5, size=(24,)))
    lin("net.3", 24, 6)
    spec = {
        "format": "asd-mlp",
        "version": 1,
        "sample_shape": [3, 2],
        "cond_dim": 3,
        "prediction_type": "v_prediction",
        "time_embedding": {"dim": 16, "max_period": 10000.0, "flip_sin_to_cos": True,
                           "downscale_freq_shift": 1.0, "scale": 0.75},
        "time_mlp": [linear_layer("time_mlp.0", "silu"), linear_layer("time_mlp.1", "identity")],
        "input": ["time", "sample", "cond"],
        "layers": [
            linear_layer("net.0", "gelu_tanh"),
            {"type": "residual", "activation": "relu", "layers": [
                linear_layer("net.1.layers.0", "mish"),
                linear_layer("net.1.layers.1", "identity"),
            ]},
            {"type": "layer_norm", "weight": "net.2.weight", "bias": "net.2.bias", "eps": 1e-5},
            linear_layer("net.3", "identity"),
        ],
        "scheduler": {"num_train_timesteps": 1000, "beta_schedule": "linear", "beta_start": 0.0001,
                      "beta_end": 0.02, "prediction_type": "v_prediction"},
    }
    return spec, tensors


def preactivation_ranges(spec, resolved, sample, t, cond):
    """max |pre-activation| per linear layer (float64), to document that the activations are non-linear."""
    out = []

    def walk(layers, h, prefix):
        for l in layers:
            if l["type"] == "linear":
                z = h @ l["W"].astype(np.float64).T + l["b"].astype(np.float64)
                out.append((l["weight"], l["activation"], float(np.abs(z).max()), float(z.std())))
                h = mc.np_activation(l["activation"], z)
            elif l["type"] == "residual":
                h = mc.np_activation(l["activation"], walk(l["layers"], h, prefix) + h)
            else:
                h = mc._np_layers([l], h)
        return h

    parts = {"sample": np.asarray(sample, np.float64).reshape(len(t), -1),
             "time": walk(resolved["time_mlp"], mc.np_time_embedding(spec["time_embedding"], t), "t"),
             "cond": np.asarray(cond, np.float64)}
    walk(resolved["layers"], np.concatenate([parts[p] for p in spec["input"]], axis=1), "n")
    return out


def write_reference(path, spec, resolved, module, json_names):
    rng = np.random.default_rng(SEED_REFERENCE)
    n = 5
    sample = rng.standard_normal([n] + spec["sample_shape"]).astype(np.float32)
    t = np.array([0, 999] + [int(v) for v in rng.integers(1, 999, size=n - 2)], dtype=np.int64)
    cond = rng.standard_normal([n, spec["cond_dim"]]).astype(np.float32)
    ref = mc.reference_forward(spec, resolved, sample, t, cond)
    f32 = mc.torch_forward(module, spec, sample, t, cond).astype(np.float64)
    d = float(np.max(np.abs(f32 - ref)))
    rows = []
    for i in range(n):
        rows.append({
            "sample": [float(v) for v in sample[i].reshape(-1)],
            "timestep": int(t[i]),
            "cond": [float(v) for v in cond[i]],
            "out": [float(v) for v in ref[i].reshape(-1)],
        })
    write_json(path, {
        "models": json_names,
        "sample_shape": spec["sample_shape"],
        "cond_dim": spec["cond_dim"],
        "layout": "sample and out are flattened row-major over sample_shape; sample and cond are float32 values",
        "out_computed_by": "tools/mlp_common.py reference_forward: numpy float64 throughout, "
                           "time-embedding frequencies in float64",
        "torch_float32_max_abs_diff": d,
        "max_abs_out": float(np.max(np.abs(ref))),
        "rows": rows,
    })
    return sample, t, cond, d


# --------------------------------------------------------------------------
# bad inputs
# --------------------------------------------------------------------------


def make_bad(root, small_spec, small_tensors):
    bad = os.path.join(root, BAD_DIR)
    os.makedirs(bad, exist_ok=True)
    good = mc.safetensors_bytes(small_tensors, {"format": "pt"})
    (hlen,) = struct.unpack("<Q", good[:8])
    data_start = 8 + hlen
    written = {}

    def emit(name, data, why):
        spec = dict(small_spec)
        spec["weights"] = name + ".safetensors"
        write_json(os.path.join(bad, name + ".json"), spec)
        with open(os.path.join(bad, name + ".safetensors"), "wb") as f:
            f.write(data)
        written[name] = why

    cut = data_start + (len(good) - data_start) // 2
    emit("truncated", good[:cut],
         "mlp_small.safetensors cut to %d of %d bytes (data section %d of %d bytes)"
         % (cut, len(good), cut - data_start, len(good) - data_start))

    t = dict(small_tensors)
    t["net.3.weight"] = np.ascontiguousarray(small_tensors["net.3.weight"].T)
    emit("mismatch", mc.safetensors_bytes(t, {"format": "pt"}),
         "tensor 'net.3.weight' stored with shape [24, 6]; the architecture needs [6, 24]")

    t = {k: v for k, v in small_tensors.items() if k != "net.2.bias"}
    emit("missing", mc.safetensors_bytes(t, {"format": "pt"}),
         "tensor 'net.2.bias' (layer_norm bias) is named in the JSON but absent from the file")

    claimed = len(good) + 100
    emit("badheader", struct.pack("<Q", claimed) + good[8:],
         "header length field says %d bytes; the file is %d bytes" % (claimed, len(good)))
    return written


def check_bad(root):
    """Each bad file must be rejected by the Python loader; returns name -> error message."""
    msgs = {}
    for name in ("truncated", "mismatch", "missing", "badheader"):
        try:
            mc.load_model(os.path.join(root, BAD_DIR, name + ".json"))
        except (mc.SafetensorsError, mc.MlpFormatError) as e:
            msgs[name] = str(e).replace(os.path.abspath(root) + os.sep, "")
            continue
        raise RuntimeError("%s was accepted by the loader" % name)
    return msgs


# --------------------------------------------------------------------------


def write_model(root, rel_dir, name, spec, tensors, export=True):
    d = os.path.join(root, rel_dir)
    os.makedirs(d, exist_ok=True)
    jpath = os.path.join(d, name + ".json")
    write_json(jpath, spec)
    mc.write_safetensors(os.path.join(d, name + ".safetensors"), tensors, {"format": "pt"})
    if export:
        exp.export(jpath)
        exp.check(jpath, os.path.join(d, name + ".onnx"))
    return jpath


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", default=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                    help="repository root to write under")
    a = ap.parse_args(argv)
    root = a.root

    spec, tensors = make_bench()
    write_model(root, BENCH_DIR, "mlp_bench", spec, tensors)

    # mlp_bench_f16: the same network with every parameter rounded to float16 and stored as F16 (as builtin:policy
    # ships its weights), and its ONNX export with the same values (float16 initializers cast to float32, which ONNX
    # Runtime folds at load): the engine then streams half the bytes, ONNX Runtime computes in float32 on identical values.
    tensors16 = {k: v.astype(np.float16).astype(np.float32) for k, v in tensors.items()}
    spec16 = dict(spec)
    spec16["weights"] = "mlp_bench_f16.safetensors"
    d16 = os.path.join(root, BENCH_DIR)
    j16 = os.path.join(d16, "mlp_bench_f16.json")
    write_json(j16, spec16)
    mc.write_safetensors(os.path.join(d16, "mlp_bench_f16.safetensors"), tensors16, {"format": "pt"},
                         {k: "F16" for k in tensors16})
    exp.export(j16, fp16_weights=True)
    exp.check(j16, os.path.join(d16, "mlp_bench_f16.onnx"))

    spec, tensors = make_small()
    jpath = write_model(root, SMALL_DIR, "mlp_small", spec, tensors)
    # the same weights as F16 / BF16 / F32, cycling over the tensors in order
    halves = dict(spec)
    halves["weights"] = "mlp_small_halves.safetensors"
    write_json(os.path.join(root, SMALL_DIR, "mlp_small_halves.json"), halves)
    cyc = ["F16", "BF16", "F32"]
    mc.write_safetensors(os.path.join(root, SMALL_DIR, "mlp_small_halves.safetensors"), tensors, {"format": "pt"},
                         {k: cyc[i % 3] for i, k in enumerate(tensors)})
    pspec, ptensors, presolved = mc.load_model(jpath)
    hspec, htensors, _ = mc.load_model(os.path.join(root, SMALL_DIR, "mlp_small_halves.json"))
    assert all(np.array_equal(ptensors[k], htensors[k]) for k in ptensors)
    module = mc.build_module(pspec, presolved)
    sample, t, cond, d = write_reference(os.path.join(root, SMALL_DIR, "reference.json"), pspec, presolved, module,
                                         ["mlp_small.json", "mlp_small_halves.json"])
    print("mlp_small reference.json: torch float32 vs float64 reference max abs diff %.3e" % d)
    for w, act, mx, sd in preactivation_ranges(pspec, presolved, sample, t, cond):
        print("  pre-activation %-24s %-9s max|z| %6.2f  std %5.2f" % (w, act, mx, sd))

    for name, why in make_bad(root, spec, tensors).items():
        print("mlp_bad/%s: %s" % (name, why))
    for name, msg in check_bad(root).items():
        print("  python loader rejects %s: %s" % (name, msg))

    print("files:")
    for rel in (BENCH_DIR, SMALL_DIR, BAD_DIR):
        for fn in sorted(os.listdir(os.path.join(root, rel))):
            p = os.path.join(root, rel, fn)
            with open(p, "rb") as f:
                h = hashlib.sha256(f.read()).hexdigest()
            print("  %-60s %9d  %s" % (os.path.join(rel, fn), os.path.getsize(p), h[:16]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
