#!/usr/bin/python3
"""Export an asd-mlp model (NAME.json + NAME.safetensors) to ONNX.

Usage:
    /usr/bin/python3 tools/export_mlp_onnx.py NAME.json [--out NAME.onnx] [--static-batch B]
        [--timestep-dtype int64|float32] [--opset 17] [--fp16-weights]

The graph has inputs `sample` [B, *sample_shape] float32, `timestep` [B] int64 (or float32), `cond`
[B, cond_dim] float32 (absent when cond_dim is 0) and output `out` [B, *sample_shape] float32; B is a
dynamic dimension named "batch" unless --static-batch is given. The sinusoidal timestep embedding is
computed in the graph (Cast, Unsqueeze, Mul by a float32 frequency constant, Sin, Cos, Concat).

--fp16-weights stores every weight and bias initializer (the network's parameters) as float16, each followed by a
Cast to float32 at the start of the graph, so the file is about half the size while the computed function is the
same as the float32 export's (ONNX Runtime constant-folds the Casts when it creates the session). The weights must
be exactly representable in float16 (e.g. read from an F16 safetensors file); otherwise it is an error. The
float32 timestep-frequency constant stays float32.

After export: onnx.checker.check_model (full check, with shape inference), then two numeric checks
against the pure-numpy float64 reference (tools/mlp_common.py) on a few seeded random rows:
  * the torch float32 module that was exported;
  * the exported ONNX graph itself, evaluated in float64 by a minimal numpy interpreter
    (onnxruntime is not available to Debian's python).
Pass: max |diff| / max(1, max |reference|) < 1e-4. The output bytes are deterministic.

Needs Debian's python3-torch, python3-onnx, python3-numpy.
"""

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mlp_common as mc  # noqa: E402

TOLERANCE = 1e-4


def weights_to_fp16(model, param_names):
    """In place: each float32 initializer named in param_names becomes a float16 initializer NAME.f16 plus a node
    Cast(NAME.f16) -> NAME (to float32) at the start of the graph. Values must be exactly float16-representable."""
    import onnx
    from onnx import numpy_helper

    g = model.graph
    found = set()
    casts = []
    for k, init in enumerate(g.initializer):
        name = init.name
        if name not in param_names:
            continue
        if init.data_type != onnx.TensorProto.FLOAT:
            raise RuntimeError("initializer %r is not float32" % name)
        a = numpy_helper.to_array(init)
        h = a.astype(np.float16)
        if not np.array_equal(h.astype(np.float32), a):
            bad = int(np.sum(h.astype(np.float32) != a))
            raise ValueError("--fp16-weights: initializer %r has %d value(s) not exactly representable in float16 "
                             "(store the weights as F16 first)" % (name, bad))
        g.initializer[k].CopyFrom(numpy_helper.from_array(h, name + ".f16"))
        casts.append(onnx.helper.make_node("Cast", [name + ".f16"], [name], name="Cast_" + name,
                                           to=onnx.TensorProto.FLOAT))
        found.add(name)
    missing = sorted(set(param_names) - found)
    if missing:
        raise RuntimeError("--fp16-weights: parameters %s are not initializers of the exported graph" % missing)
    nodes = casts + list(g.node)
    del g.node[:]
    g.node.extend(nodes)


def export_onnx_bytes(spec, resolved, static_batch=None, timestep_dtype="int64", opset=17, fp16_weights=False):
    """The ONNX model bytes for a parsed + resolved model (float16 weight initializers + Casts if fp16_weights)."""
    import onnx
    import torch

    if timestep_dtype not in ("int64", "float32"):
        raise ValueError("timestep_dtype must be int64 or float32")
    module = mc.build_module(spec, resolved)
    B = static_batch or 2
    args = [torch.zeros([B] + spec["sample_shape"], dtype=torch.float32),
            torch.zeros([B], dtype=torch.int64 if timestep_dtype == "int64" else torch.float32)]
    names = ["sample", "timestep"]
    if spec["cond_dim"]:
        args.append(torch.zeros([B, spec["cond_dim"]], dtype=torch.float32))
        names.append("cond")
    dynamic_axes = None if static_batch else {n: {0: "batch"} for n in names + ["out"]}
    model = mc.export_clean_onnx(module, args, names, dynamic_axes, opset, "asd_mlp",
                                 [static_batch or "batch"] + spec["sample_shape"])
    if "timestep" not in [i.name for i in model.graph.input]:
        # "time" is not an input of the network: torch drops the unused input; keep the interface.
        ts = onnx.helper.make_tensor_value_info(
            "timestep", onnx.TensorProto.INT64 if timestep_dtype == "int64" else onnx.TensorProto.FLOAT,
            [static_batch or "batch"])
        model.graph.input.insert(1, ts)
    got_inputs = [i.name for i in model.graph.input]
    if got_inputs != names or [o.name for o in model.graph.output] != ["out"]:
        raise RuntimeError("exported graph has inputs %s outputs %s; expected %s, ['out']"
                           % (got_inputs, [o.name for o in model.graph.output], names))
    if fp16_weights:
        weights_to_fp16(model, {n for n, _ in module.named_parameters()})
    return model.SerializeToString()


def export(json_path, out_path=None, static_batch=None, timestep_dtype="int64", opset=17, fp16_weights=False):
    """Export json_path to out_path (default: NAME.onnx beside the JSON). Returns out_path."""
    spec, _, resolved = mc.load_model(json_path)
    out_path = out_path or os.path.splitext(json_path)[0] + ".onnx"
    data = export_onnx_bytes(spec, resolved, static_batch, timestep_dtype, opset, fp16_weights)
    with open(out_path, "wb") as f:
        f.write(data)
    return out_path


def random_rows(spec, n, seed=0):
    """Seeded inputs: float32-representable sample/cond ~ N(0,1), integer timesteps incl. 0 and T-1."""
    rng = np.random.default_rng(seed)
    T = int((spec.get("scheduler") or {}).get("num_train_timesteps", 1000))
    sample = rng.standard_normal([n] + spec["sample_shape"]).astype(np.float32)
    t = rng.integers(0, T, size=n).astype(np.int64)
    t[0], t[-1] = 0, T - 1
    cond = rng.standard_normal([n, spec["cond_dim"]]).astype(np.float32) if spec["cond_dim"] else None
    return sample, t, cond


def _rel(diff, ref):
    return float(diff / max(1.0, float(np.max(np.abs(ref)))))


def check(json_path, onnx_path, n_rows=5, seed=0, verbose=True):
    """checker + numeric checks; returns a dict of results (raises on failure)."""
    import onnx

    spec, _, resolved = mc.load_model(json_path)
    model = onnx.load(onnx_path)
    onnx.checker.check_model(model, full_check=True)

    inputs = {i.name: i for i in model.graph.input}
    dims0 = inputs["sample"].type.tensor_type.shape.dim[0]
    if dims0.HasField("dim_value"):
        n_rows = dims0.dim_value
    ts_float = inputs["timestep"].type.tensor_type.elem_type == onnx.TensorProto.FLOAT

    sample, t, cond = random_rows(spec, n_rows, seed)
    ref = mc.reference_forward(spec, resolved, sample, t, cond)
    module = mc.build_module(spec, resolved)
    got_torch = mc.torch_forward(module, spec, sample, t, cond)
    feeds = {"sample": sample, "timestep": t.astype(np.float32) if ts_float else t}
    if spec["cond_dim"]:
        feeds["cond"] = cond
    got_onnx = mc.run_onnx_numpy(model, feeds)["out"]
    if got_onnx.shape != ref.shape or got_torch.shape != ref.shape:
        raise RuntimeError("output shape %s / %s, expected %s" % (got_torch.shape, got_onnx.shape, ref.shape))
    d_torch = float(np.max(np.abs(got_torch.astype(np.float64) - ref)))
    d_onnx = float(np.max(np.abs(got_onnx - ref)))
    res = {"rows": n_rows, "max_abs_ref": float(np.max(np.abs(ref))),
           "torch_f32_max_abs_diff": d_torch, "torch_f32_rel": _rel(d_torch, ref),
           "onnx_f64_max_abs_diff": d_onnx, "onnx_f64_rel": _rel(d_onnx, ref),
           "ops": sorted({n.op_type for n in model.graph.node})}
    res["ok"] = res["torch_f32_rel"] < TOLERANCE and res["onnx_f64_rel"] < TOLERANCE
    if verbose:
        print("%s: onnx.checker OK; ops: %s" % (onnx_path, " ".join(res["ops"])))
        print("  %d rows, timesteps %s, max|ref| %.4g" % (n_rows, t.tolist(), res["max_abs_ref"]))
        print("  torch float32 module vs numpy float64 reference: max abs diff %.3e (relative %.3e)"
              % (d_torch, res["torch_f32_rel"]))
        print("  ONNX graph (float64 numpy interpreter) vs reference: max abs diff %.3e (relative %.3e)"
              % (d_onnx, res["onnx_f64_rel"]))
        print("  %s (tolerance %.0e relative)" % ("PASS" if res["ok"] else "FAIL", TOLERANCE))
    if not res["ok"]:
        raise RuntimeError("numeric check failed: %s" % res)
    return res


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("json", help="NAME.json (asd-mlp)")
    ap.add_argument("--out", help="output path (default NAME.onnx)")
    ap.add_argument("--static-batch", type=int, metavar="B", help="fixed batch size instead of a dynamic one")
    ap.add_argument("--timestep-dtype", choices=["int64", "float32"], default="int64")
    ap.add_argument("--opset", type=int, default=17)
    ap.add_argument("--fp16-weights", action="store_true",
                    help="store the weights as float16 initializers + Cast to float32 (weights must be f16-exact)")
    a = ap.parse_args(argv)
    if a.static_batch is not None and a.static_batch < 1:
        ap.error("--static-batch must be >= 1")
    out = export(a.json, a.out, a.static_batch, a.timestep_dtype, a.opset, a.fp16_weights)
    print("wrote %s (%d bytes)" % (out, os.path.getsize(out)))
    check(a.json, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
