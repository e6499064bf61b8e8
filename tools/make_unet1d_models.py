#!/usr/bin/python3
"""Generate the asd-unet1d test fixtures (seeded, byte-for-byte deterministic), or the deployment-size model.

Usage:
    /usr/bin/python3 tools/make_unet1d_models.py [--root DIR]          the committed fixtures (below)
    /usr/bin/python3 tools/make_unet1d_models.py --deploy DIR [--dtype F32|F16] [--seed S] [--no-onnx]
                                                                        the deployment-size network (not committed)
    /usr/bin/python3 tools/make_unet1d_models.py --fuzz-seed tools/fuzz/seeds/onnx-unet1d/tiny.onnx
                                                                        the fuzz seeds (committed): tiny.onnx and
                                                                        tiny_local.onnx (local conditioning)
    /usr/bin/python3 tools/make_unet1d_models.py --variants tests/fixtures/unet1d_variants
                                                                        the tiny network's export and two forks of it
                                                                        (committed; below)

Fixtures, under the root:
  tests/fixtures/unet1d/small.{json,safetensors,onnx}
      horizon 8, input_dim 3, global_cond_dim 5, step embedding 16, down_dims [16, 32, 64], kernel 5, 4 groups
      (final block 8), FiLM with scale and shift; float32 weights.
  tests/fixtures/unet1d/small_f16.{json,safetensors,onnx}
      horizon 16, input_dim 2, unconditional, step embedding 32, down_dims [32, 48], kernel 3, 8 groups, FiLM shift
      only; float16 convolution and linear weights (48 channels: edge panels on every GEMM path).
  tests/fixtures/unet1d/small_local.{json,safetensors,onnx}
      horizon 8, input_dim 2, global_cond_dim 3, local conditioning (local_cond_dim 4), step embedding 16, down_dims
      [16, 32], kernel 3, 4 groups, FiLM with scale and shift; float32 weights. Its reference rows' "cond" is the
      engine's conditioning row: the 3 global values, then the 8 x 4 local values position by position.
  tests/fixtures/unet1d/reference.json
      for each: 5 input rows (samples, timesteps including 0 and T - 1, conditioning) and the outputs of the numpy
      float64 reference forward and of the torch float32 module.
  tests/fixtures/unet1d_bad/*.{json,safetensors}
      from a tiny network (horizon 4, down_dims [8, 16], kernel 3): a missing tensor, a mis-shaped tensor, an extra (local-conditioning) tensor, a NaN weight, a truncated file, an
      unknown JSON key, a horizon the U-Net cannot halve, local conditioning declared without its block, and more
      conditioning values per sample than the format allows, for the loader's error messages.
  Weights: PyTorch's default initialisation (torch.manual_seed) plus N(0, 0.1^2) on every tensor, so the group-norm
  affine terms and biases are not the trivial 1 / 0.

--variants writes DIR/tiny.onnx (the fuzz seed's network, as exported) and two exports of the same weights whose
graph computes another function between them, as a fork of diffusion_policy might, each one edit of the exported
graph: sincos.onnx (the step embedding's Concat takes the cosines first) and sigmoid.onnx (one Mish, in the first
block's first convolution, is x tanh(softplus(x)) with the Tanh made a Sigmoid). The native import recognises all
three by their weights and data path; only running them tells the forks apart (Models/NativeOnnxCheck.cs). And
tiny_f16.onnx and sigmoid_f16.onnx: tiny.onnx and sigmoid.onnx with every float tensor of more than one value stored
in float16 and cast to float32 where it is used (an export that halves its file and still computes in float32), in
the two namings exporters use (tiny_f16: NAME.f16 cast to NAME, as tools/export_mlp_onnx.py; sigmoid_f16: NAME cast
to NAME_float32). And tiny_half.onnx: tiny.onnx with every float tensor float16, its inputs, output and intermediate
values too (a model.half() export), which ONNX Runtime computes in float16. And wrapped.onnx: the same network inside the wrapper of Chi et al.'s notebook
(nets.noise_pred_net), exported whole, so every parameter's name carries a prefix longer than some of the exporter's
own names.

--deploy writes DIR/unet1d_deploy.{json,safetensors,onnx} and DIR/reference.json (3 rows): the configuration of
issue 15 (down_dims [256, 512, 1024], step embedding 128, kernel 5, 8 groups, horizon 16, action dim 2, global
conditioning 40, FiLM shift only: 62,343,042 parameters) with PyTorch's default initialisation under the seed; the
scheduler is diffusion_policy's default (100 steps, squaredcos_cap_v2, epsilon, clip_sample).

Needs Debian's python3-numpy, python3-torch, python3-onnx.
"""

import argparse
import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mlp_common as mc  # noqa: E402
import unet1d_common as uc  # noqa: E402

SEED_SMALL = 20260101
SEED_F16 = 20260102
SEED_ROWS = 20260103
SEED_DEPLOY = 20260104

FIX_DIR = os.path.join("tests", "fixtures", "unet1d")
BAD_DIR = os.path.join("tests", "fixtures", "unet1d_bad")

# diffusion_policy's default DDPMScheduler settings in its configs.
SCHEDULER = {"num_train_timesteps": 100, "beta_start": 0.0001, "beta_end": 0.02, "beta_schedule": "squaredcos_cap_v2",
             "variance_type": "fixed_small", "clip_sample": True, "prediction_type": "epsilon"}

SMALL = {"format": "asd-unet1d", "version": 1, "horizon": 8, "input_dim": 3, "global_cond_dim": 5,
         "diffusion_step_embed_dim": 16, "down_dims": [16, 32, 64], "kernel_size": 5, "n_groups": 4,
         "final_n_groups": 8, "cond_predict_scale": True, "prediction_type": "epsilon", "scheduler": SCHEDULER}
SMALL_F16 = {"format": "asd-unet1d", "version": 1, "horizon": 16, "input_dim": 2, "global_cond_dim": 0,
             "diffusion_step_embed_dim": 32, "down_dims": [32, 48], "kernel_size": 3, "n_groups": 8,
             "cond_predict_scale": False, "prediction_type": "epsilon", "scheduler": SCHEDULER}
# Local conditioning (diffusion_policy's local_cond_dim): per-position features [horizon, local_cond_dim] through a
# residual block of their own, added after the first block of the finest level.
SMALL_LOCAL = {"format": "asd-unet1d", "version": 1, "horizon": 8, "input_dim": 2, "global_cond_dim": 3,
               "local_cond_dim": 4, "diffusion_step_embed_dim": 16, "down_dims": [16, 32], "kernel_size": 3,
               "n_groups": 4, "cond_predict_scale": True, "prediction_type": "epsilon", "scheduler": SCHEDULER}
SEED_LOCAL = 20260105
# The base of the broken files: as small as the format allows while keeping every kind of layer.
TINY = {"format": "asd-unet1d", "version": 1, "horizon": 4, "input_dim": 2, "global_cond_dim": 3,
        "diffusion_step_embed_dim": 8, "down_dims": [8, 16], "kernel_size": 3, "n_groups": 4,
        "cond_predict_scale": True, "prediction_type": "epsilon", "scheduler": SCHEDULER}
DEPLOY = {"format": "asd-unet1d", "version": 1, "horizon": 16, "input_dim": 2, "global_cond_dim": 40,
          "diffusion_step_embed_dim": 128, "down_dims": [256, 512, 1024], "kernel_size": 5, "n_groups": 8,
          "cond_predict_scale": False, "prediction_type": "epsilon", "scheduler": SCHEDULER}


def seeded_tensors(cfg, seed, jitter):
    import torch
    torch.manual_seed(seed)
    tensors = uc.module_tensors(uc.build_module(cfg))
    if jitter:
        rng = np.random.default_rng(seed)
        tensors = {n: (a + jitter * rng.standard_normal(a.shape)).astype(np.float32) for n, a in tensors.items()}
    return tensors


def rows(cfg, n, seed):
    rng = np.random.default_rng(seed)
    T = cfg["scheduler"]["num_train_timesteps"]
    sample = rng.standard_normal((n, cfg["horizon"], cfg["input_dim"])).astype(np.float32)
    t = rng.integers(0, T, n).astype(np.int64)
    t[0], t[-1] = 0, T - 1
    cond = rng.standard_normal((n, cfg["global_cond_dim"])).astype(np.float32) if cfg["global_cond_dim"] else None
    local = rng.standard_normal((n, cfg["horizon"], cfg["local_cond_dim"])).astype(np.float32) if cfg["local_cond_dim"] else None
    return sample, t, cond, local


def make(root_dir, name, cfg_obj, seed, dtype, n_rows, onnx=True, jitter=0.1):
    """Writes NAME.{json,safetensors[,onnx]}; returns the reference entry."""
    cfg = uc.parse_config(cfg_obj, name)
    t0 = time.time()
    tensors = seeded_tensors(cfg, seed, jitter)
    path = os.path.join(root_dir, name + ".json")
    written = uc.write_model(path, cfg, tensors, dtype)
    cfg, stored, dtypes = uc.load_model(path)
    module = uc.build_module(cfg, stored)
    if onnx:
        uc.export_onnx(module, cfg, os.path.join(root_dir, name + ".onnx"))
    sample, t, cond, local = rows(cfg, n_rows, SEED_ROWS)
    ref = uc.reference_forward(cfg, stored, sample, t, cond, local)
    got = uc.torch_forward(module, cfg, sample, t, cond, local)
    rel = float(np.abs(got - ref).max() / max(1.0, float(np.abs(ref).max())))
    print("%s: %d parameters (%s weights), torch float32 vs numpy float64 reference: relative %.2e (%.1f s)"
          % (name, uc.n_params(cfg), dtype, rel, time.time() - t0), flush=True)
    if rel > 1e-4:
        raise RuntimeError("torch module and numpy reference disagree (%g)" % rel)
    del written, dtypes
    # "cond" is the engine's conditioning row: the global conditioning, then the local [horizon, local_cond_dim].
    parts = [a.reshape(n_rows, -1) for a in (cond, local) if a is not None]
    engine_cond = np.concatenate(parts, axis=1) if parts else None
    return {"model": name + ".json", "rows": n_rows, "sample": sample.reshape(-1).tolist(), "timestep": t.tolist(),
            "cond": [] if engine_cond is None else engine_cond.reshape(-1).tolist(), "reference": ref.reshape(-1).tolist(),
            "torch_float32": got.reshape(-1).astype(np.float64).tolist()}


def write_json(path, obj):
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write(json.dumps(obj, indent=1) + "\n")


def make_bad(root):
    bad = os.path.join(root, BAD_DIR)
    os.makedirs(bad, exist_ok=True)
    good = dict(TINY)
    tensors = seeded_tensors(uc.parse_config(good, "tiny"), SEED_SMALL, 0.1)

    def save(name, tensors_, obj=None):
        write_json(os.path.join(bad, name + ".json"), obj or good)
        mc.write_safetensors(os.path.join(bad, name + ".safetensors"), tensors_)

    t = dict(tensors)
    del t["mid_modules.1.blocks.0.block.0.weight"]
    save("missing", t)
    t = dict(tensors)
    t["up_modules.0.2.conv.weight"] = np.zeros((16, 8, 4), np.float32)
    save("mismatch", t)
    t = dict(tensors)
    t["local_cond_encoder.0.blocks.0.block.0.weight"] = np.zeros((8, 2, 3), np.float32)
    save("extra", t)
    t = dict(tensors)
    w = t["down_modules.1.0.cond_encoder.1.weight"].copy()
    w[3, 5] = np.nan
    t["down_modules.1.0.cond_encoder.1.weight"] = w
    save("nan", t)
    data = mc.safetensors_bytes(tensors)
    write_json(os.path.join(bad, "truncated.json"), good)
    with open(os.path.join(bad, "truncated.safetensors"), "wb") as f:
        f.write(data[:len(data) - 100])
    obj = dict(good)
    obj["kernal_size"] = 5
    save("unknownkey", tensors, obj)
    obj = dict(good)
    obj["horizon"] = 5
    save("horizon", tensors, obj)
    # Local conditioning declared, but the weights hold no local block.
    save("nolocal", tensors, dict(good, local_cond_dim=2))
    # More conditioning values per sample than the format allows: 64 positions x 65536.
    save("localsize", tensors, dict(good, horizon=64, local_cond_dim=65536))


def make_variants(out):
    """The tiny network's export and two forks of it that keep every weight and the data path (see the docstring)."""
    import onnx
    import torch
    cfg = uc.parse_config(dict(TINY), "tiny")
    torch.manual_seed(SEED_SMALL)
    os.makedirs(out, exist_ok=True)
    base = os.path.join(out, "tiny.onnx")
    uc.export_onnx(uc.build_module(cfg), cfg, base)

    def edit(name, change):
        m = onnx.load(base)
        hits = [n for n in m.graph.node if change(n, dry=True)]
        if len(hits) != 1:
            raise SystemExit("%s: expected one node to edit, found %d" % (name, len(hits)))
        change(hits[0], dry=False)
        onnx.checker.check_model(m)
        path = os.path.join(out, name)
        onnx.save(m, path)
        print("wrote %s (%d bytes)" % (path, os.path.getsize(path)))

    def swap_sin_cos(n, dry):
        if n.op_type != "Concat" or not n.name.startswith("/diffusion_step_encoder/") or len(n.input) != 2:
            return False
        if not dry:
            a, b = list(n.input)
            del n.input[:]
            n.input.extend([b, a])
        return True

    def tanh_to_sigmoid(n, dry):
        if n.op_type != "Tanh" or not n.name.startswith("/down_modules.0.0/blocks.0/block/"):
            return False
        if not dry:
            n.op_type = "Sigmoid"
        return True

    edit("sincos.onnx", swap_sin_cos)
    edit("sigmoid.onnx", tanh_to_sigmoid)

    # The same network as Chi et al.'s notebook holds it (nets = ModuleDict({"noise_pred_net": ...})) and exported
    # whole: every parameter under "nets.noise_pred_net.", longer than the exporter's own names ("onnx::Mul_546").
    class _Notebook(torch.nn.Module):
        def __init__(self, unet):
            super().__init__()
            self.nets = torch.nn.ModuleDict({"noise_pred_net": unet})

        def forward(self, sample, timestep, global_cond=None):
            return self.nets["noise_pred_net"](sample, timestep, global_cond=global_cond)

    torch.manual_seed(SEED_SMALL)
    wrapped = os.path.join(out, "wrapped.onnx")
    uc.export_onnx(_Notebook(uc.build_module(cfg)), cfg, wrapped)
    names = [t.name for t in onnx.load(wrapped).graph.initializer]
    prefixed = [x for x in names if x.startswith("nets.noise_pred_net.")]
    shorter = [x for x in names if len(x) < len("nets.noise_pred_net.")]
    if not prefixed or not shorter:
        raise SystemExit("wrapped.onnx: expected prefixed parameters and shorter names, found %d and %d" % (len(prefixed), len(shorter)))
    print("wrote %s (%d bytes, %d parameters under the prefix, %d names shorter than it)"
          % (wrapped, os.path.getsize(wrapped), len(prefixed), len(shorter)))

    # float16 storage: each float initializer with more than one value becomes float16, read through a Cast to float32
    # (a node per weight, before the graph's own nodes, so the graph stays topologically sorted), in the two namings
    # exporters use: the float16 initializer renamed NAME.f16 and cast to NAME, as tools/export_mlp_onnx.py writes
    # (tiny_f16), or keeping NAME and cast to a new name its readers then read (sigmoid_f16, from sigmoid.onnx).
    import numpy as np
    from onnx import helper, numpy_helper

    def float16_weights(source, dest, keep_names):
        m = onnx.load(source)
        inits, casts, renamed = [], [], {}
        for t in m.graph.initializer:
            if t.data_type == onnx.TensorProto.FLOAT and int(np.prod(t.dims)) > 1:
                stored, read = (t.name, t.name + "_float32") if keep_names else (t.name + ".f16", t.name)
                inits.append(numpy_helper.from_array(numpy_helper.to_array(t).astype(np.float16), stored))
                casts.append(helper.make_node("Cast", [stored], [read], to=onnx.TensorProto.FLOAT, name=stored + "_cast"))
                renamed[t.name] = read
            else:
                inits.append(t)
        nodes = list(m.graph.node)
        for n in nodes:
            for k, i in enumerate(n.input):
                n.input[k] = renamed.get(i, i)
        del m.graph.initializer[:]
        m.graph.initializer.extend(inits)
        del m.graph.node[:]
        m.graph.node.extend(casts + nodes)
        onnx.checker.check_model(m)
        path = os.path.join(out, dest)
        onnx.save(m, path)
        print("wrote %s (%d bytes, %d weights in float16)" % (path, os.path.getsize(path), len(renamed)))

    float16_weights(base, "tiny_f16.onnx", keep_names=False)
    float16_weights(os.path.join(out, "sigmoid.onnx"), "sigmoid_f16.onnx", keep_names=True)

    # A whole-float16 export (a model.half() export, or a float16 converter run without keeping float32 inputs): every
    # float tensor of the graph is float16, the inputs, output and intermediate values too, so ONNX Runtime computes in
    # float16 where asd's native engine computes in float32 on the same float16 weights (tiny_half).
    def float16_graph(source, dest):
        m = onnx.load(source)
        g = m.graph
        for k, t in enumerate(list(g.initializer)):
            if t.data_type == onnx.TensorProto.FLOAT:
                g.initializer[k].CopyFrom(numpy_helper.from_array(numpy_helper.to_array(t).astype(np.float16), t.name))
        for v in list(g.input) + list(g.output) + list(g.value_info):
            if v.type.tensor_type.elem_type == onnx.TensorProto.FLOAT:
                v.type.tensor_type.elem_type = onnx.TensorProto.FLOAT16
        for n in g.node:
            for a in n.attribute:
                if a.name == "to" and a.i == onnx.TensorProto.FLOAT:
                    a.i = onnx.TensorProto.FLOAT16
                if a.type == onnx.AttributeProto.TENSOR and a.t.data_type == onnx.TensorProto.FLOAT:
                    a.t.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(a.t).astype(np.float16), a.t.name))
        onnx.checker.check_model(m)
        path = os.path.join(out, dest)
        onnx.save(m, path)
        print("wrote %s (%d bytes, every float tensor float16)" % (path, os.path.getsize(path)))

    float16_graph(base, "tiny_half.onnx")
    print("wrote %s (%d bytes)" % (base, os.path.getsize(base)))
    return 0


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", default=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    ap.add_argument("--deploy", metavar="DIR", help="write the deployment-size model to DIR instead of the fixtures")
    ap.add_argument("--dtype", choices=["F32", "F16"], default="F32")
    ap.add_argument("--seed", type=int, default=SEED_DEPLOY)
    ap.add_argument("--no-onnx", action="store_true", help="--deploy: skip the ONNX export")
    ap.add_argument("--fuzz-seed", metavar="FILE", help="write only the fuzz seed: the tiny network's ONNX export (tools/fuzz/seeds/onnx-unet1d)")
    ap.add_argument("--variants", metavar="DIR", help="write only the tiny network's export and its two forks (tests/fixtures/unet1d_variants)")
    a = ap.parse_args(argv)
    import torch
    torch.set_num_threads(2)
    if a.variants:
        return make_variants(a.variants)
    if a.fuzz_seed:
        # The broken files' tiny network (every kind of layer, 2 levels), as torch.onnx.export writes it: small enough
        # for afl-fuzz (a few KB of weights), real enough that mutations reach the graph walk of Unet1dOnnx.Import.
        cfg = uc.parse_config(dict(TINY), "tiny")
        torch.manual_seed(SEED_SMALL)
        os.makedirs(os.path.dirname(os.path.abspath(a.fuzz_seed)), exist_ok=True)
        uc.export_onnx(uc.build_module(cfg), cfg, a.fuzz_seed)
        print("wrote %s (%d bytes)" % (a.fuzz_seed, os.path.getsize(a.fuzz_seed)))
        # And beside it the same network with local conditioning (2 values per step): a second rank-3 input and the
        # local block, so that mutations reach the graph walk's checks of which input feeds which block.
        local_cfg = uc.parse_config(dict(TINY, local_cond_dim=2), "tiny_local")
        torch.manual_seed(SEED_SMALL)
        local_seed = os.path.splitext(a.fuzz_seed)[0] + "_local.onnx"
        uc.export_onnx(uc.build_module(local_cfg), local_cfg, local_seed)
        print("wrote %s (%d bytes)" % (local_seed, os.path.getsize(local_seed)))
        return 0
    if a.deploy:
        os.makedirs(a.deploy, exist_ok=True)
        entry = make(a.deploy, "unet1d_deploy", DEPLOY, a.seed, a.dtype, 3, onnx=not a.no_onnx, jitter=0.0)
        write_json(os.path.join(a.deploy, "reference.json"), {"models": [entry]})
        print("wrote %s" % a.deploy)
        return 0
    fix = os.path.join(a.root, FIX_DIR)
    os.makedirs(fix, exist_ok=True)
    entries = [make(fix, "small", SMALL, SEED_SMALL, "F32", 5), make(fix, "small_f16", SMALL_F16, SEED_F16, "F16", 5),
               make(fix, "small_local", SMALL_LOCAL, SEED_LOCAL, "F32", 5)]
    write_json(os.path.join(fix, "reference.json"), {"models": entries})
    make_bad(a.root)
    print("wrote %s and %s" % (FIX_DIR, BAD_DIR))
    return 0


if __name__ == "__main__":
    sys.exit(main())
