#!/usr/bin/python3
"""Shared helpers for the asd-mlp model format (docs/mlp-format.md).

  * safetensors read (F32, F16, BF16 -> float32) and write (F32, plus F16/BF16
    for fixtures), implemented here from the published layout (no library);
  * the asd-mlp JSON: parsing with strict key checks, and shape checks of the
    weights against the architecture;
  * ``MlpNet``: a ``torch.nn.Module`` computing the network exactly as the
    format says (float32), used by the ONNX exporter;
  * ``export_clean_onnx``: torch.onnx.export with nothing run-specific left in
    the file (also the asd-unet1d exporter's and make_onnx_fixtures.py's);
  * ``reference_forward``: an independent pure-numpy float64 forward;
  * ``run_onnx_numpy``: a tiny float64 interpreter for the ONNX ops the
    exporter emits (onnxruntime is not available here), used to check the
    exported graph itself against the float64 reference.

Only the Python standard library, numpy and (for MlpNet) torch are used;
torch is imported lazily so the numpy parts work without it.
"""

import json
import math
import os
import struct

import numpy as np

# --------------------------------------------------------------------------
# safetensors
# --------------------------------------------------------------------------

_DTYPE_SIZE = {"F32": 4, "F16": 2, "BF16": 2}


class SafetensorsError(ValueError):
    pass


def _bf16_bits_to_f32(u16):
    return (u16.astype(np.uint32) << np.uint32(16)).view(np.float32)


def parse_safetensors(data, path="<bytes>"):
    """Parse safetensors bytes. Returns (tensors, metadata, dtypes).

    tensors: dict name -> float32 numpy array (C order) in header order;
    dtypes: dict name -> the stored dtype string.
    """
    n = len(data)
    if n < 8:
        raise SafetensorsError("%s: file is %d bytes, shorter than the 8-byte header length" % (path, n))
    (hlen,) = struct.unpack("<Q", data[:8])
    if hlen > n - 8:
        raise SafetensorsError("%s: header length %d exceeds the %d bytes after the length field (file is %d bytes)"
                               % (path, hlen, n - 8, n))
    try:
        header = json.loads(data[8:8 + hlen].decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise SafetensorsError("%s: header is not valid UTF-8 JSON: %s" % (path, e))
    if not isinstance(header, dict):
        raise SafetensorsError("%s: header is not a JSON object" % path)
    data_start = 8 + hlen
    data_len = n - data_start
    metadata = header.pop("__metadata__", None) or {}
    tensors, dtypes = {}, {}
    for name, info in header.items():
        dt = info.get("dtype")
        if dt not in _DTYPE_SIZE:
            raise SafetensorsError("%s: tensor %r has dtype %r; only F32, F16, BF16 are accepted" % (path, name, dt))
        shape = [int(s) for s in info["shape"]]
        begin, end = (int(v) for v in info["data_offsets"])
        count = int(np.prod(shape, dtype=np.int64)) if shape else 1
        need = count * _DTYPE_SIZE[dt]
        if begin > end or end - begin != need:
            raise SafetensorsError("%s: tensor %r: data_offsets [%d, %d] span %d bytes, shape %s %s needs %d"
                                   % (path, name, begin, end, end - begin, shape, dt, need))
        if end > data_len:
            raise SafetensorsError("%s: tensor %r: data ends at byte %d of the data section, which has only %d bytes "
                                   "(file %d bytes, truncated?)" % (path, name, end, data_len, n))
        raw = data[data_start + begin:data_start + end]
        if dt == "F32":
            arr = np.frombuffer(raw, dtype="<f4").astype(np.float32)
        elif dt == "F16":
            arr = np.frombuffer(raw, dtype="<f2").astype(np.float32)
        else:
            arr = _bf16_bits_to_f32(np.frombuffer(raw, dtype="<u2"))
        tensors[name] = arr.reshape(shape)
        dtypes[name] = dt
    return tensors, metadata, dtypes


def read_safetensors(path):
    """Read a safetensors file. Returns (tensors, metadata); see parse_safetensors."""
    with open(path, "rb") as f:
        data = f.read()
    tensors, metadata, _ = parse_safetensors(data, path)
    return tensors, metadata


def _encode_tensor(arr, dtype):
    a = np.ascontiguousarray(arr, dtype=np.float32)
    if dtype == "F32":
        return a.astype("<f4").tobytes()
    if dtype == "F16":
        h = a.astype(np.float16)
        if not np.array_equal(h.astype(np.float32), a):
            raise ValueError("tensor is not exactly representable in F16")
        return h.astype("<f2").tobytes()
    if dtype == "BF16":
        bits = a.view(np.uint32)
        if np.any(bits & np.uint32(0xFFFF)):
            raise ValueError("tensor is not exactly representable in BF16")
        return (bits >> np.uint32(16)).astype("<u2").tobytes()
    raise ValueError("cannot write dtype %r" % dtype)


def safetensors_bytes(tensors, metadata=None, dtypes=None):
    """Serialise tensors (ordered dict name -> array) to safetensors bytes.

    Tensors are written in the given order, contiguously; the JSON header is
    compact and padded with spaces so the data section starts 8-byte aligned.
    dtypes (name -> "F32"|"F16"|"BF16") defaults to F32; F16/BF16 require the
    values to be exactly representable (no silent rounding).
    """
    dtypes = dtypes or {}
    header, chunks, off = {}, [], 0
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    for name, arr in tensors.items():
        arr = np.asarray(arr)
        dt = dtypes.get(name, "F32")
        raw = _encode_tensor(arr, dt)
        header[name] = {"dtype": dt, "shape": [int(s) for s in arr.shape], "data_offsets": [off, off + len(raw)]}
        chunks.append(raw)
        off += len(raw)
    hjson = json.dumps(header, separators=(",", ":"), ensure_ascii=True).encode("utf-8")
    hjson += b" " * ((-len(hjson)) % 8)
    return struct.pack("<Q", len(hjson)) + hjson + b"".join(chunks)


def write_safetensors(path, tensors, metadata=None, dtypes=None):
    data = safetensors_bytes(tensors, metadata, dtypes)
    with open(path, "wb") as f:
        f.write(data)
    return len(data)


# --------------------------------------------------------------------------
# The asd-mlp JSON
# --------------------------------------------------------------------------

ACTIVATIONS = ("identity", "relu", "silu", "gelu_tanh", "mish")
PREDICTION_TYPES = ("epsilon", "v_prediction", "sample")
INPUT_PARTS = ("sample", "time", "cond")

_TOP_KEYS = {"format", "version", "sample_shape", "cond_dim", "prediction_type", "time_embedding", "time_mlp",
             "input", "layers", "scheduler", "weights"}
_TOP_REQUIRED = {"format", "version", "sample_shape", "layers"}
_TE_KEYS = {"dim", "max_period", "flip_sin_to_cos", "downscale_freq_shift", "scale"}
# Defaults of diffusers' get_timestep_embedding for keys a file leaves out.
TE_DEFAULTS = {"max_period": 10000.0, "flip_sin_to_cos": False, "downscale_freq_shift": 1.0, "scale": 1.0}
_LAYER_KEYS = {
    "linear": ({"type", "weight", "bias", "activation"}, {"type", "weight"}),
    "residual": ({"type", "layers", "activation"}, {"type", "layers"}),
    "layer_norm": ({"type", "weight", "bias", "eps"}, {"type", "weight", "bias"}),
}


class MlpFormatError(ValueError):
    pass


def check_keys(obj, allowed, required, where, error=MlpFormatError):
    """A JSON object with no key outside `allowed` and every key of `required`, else `error` naming them."""
    if not isinstance(obj, dict):
        raise error("%s: expected a JSON object" % where)
    unknown = sorted(set(obj) - allowed)
    if unknown:
        raise error("%s: unknown key(s) %s" % (where, ", ".join(map(repr, unknown))))
    missing = sorted(required - set(obj))
    if missing:
        raise error("%s: missing key(s) %s" % (where, ", ".join(map(repr, missing))))


def _norm_layer(layer, where, linear_only=False):
    if not isinstance(layer, dict) or "type" not in layer:
        raise MlpFormatError("%s: a layer must be an object with a \"type\"" % where)
    t = layer["type"]
    if t not in _LAYER_KEYS or (linear_only and t != "linear"):
        raise MlpFormatError("%s: layer type %r not allowed here" % (where, t))
    allowed, required = _LAYER_KEYS[t]
    check_keys(layer, allowed, required, where)
    out = {"type": t}
    if t in ("linear", "residual"):
        act = layer.get("activation", "identity")
        if act not in ACTIVATIONS:
            raise MlpFormatError("%s: unknown activation %r" % (where, act))
        out["activation"] = act
    if t == "linear":
        out["weight"] = str(layer["weight"])
        out["bias"] = None if layer.get("bias") is None else str(layer["bias"])
    elif t == "residual":
        if not isinstance(layer["layers"], list) or not layer["layers"]:
            raise MlpFormatError("%s: residual needs a non-empty \"layers\" list" % where)
        out["layers"] = [_norm_layer(l, "%s.layers[%d]" % (where, i)) for i, l in enumerate(layer["layers"])]
    else:
        out["weight"] = str(layer["weight"])
        out["bias"] = str(layer["bias"])
        out["eps"] = float(layer.get("eps", 1e-5))
    return out


def parse_spec(obj, where="model"):
    """Validate an asd-mlp JSON object; returns a normalised copy (defaults filled in)."""
    check_keys(obj, _TOP_KEYS, _TOP_REQUIRED, where)
    if obj["format"] != "asd-mlp" or obj["version"] != 1:
        raise MlpFormatError("%s: format/version must be \"asd-mlp\"/1, got %r/%r" % (where, obj["format"], obj["version"]))
    shape = obj["sample_shape"]
    if not isinstance(shape, list) or not shape or any(not isinstance(s, int) or s <= 0 for s in shape):
        raise MlpFormatError("%s: sample_shape must be a non-empty list of positive integers" % where)
    cond_dim = obj.get("cond_dim", 0)
    if not isinstance(cond_dim, int) or cond_dim < 0:
        raise MlpFormatError("%s: cond_dim must be a non-negative integer" % where)
    pred = obj.get("prediction_type", "epsilon")
    if pred not in PREDICTION_TYPES:
        raise MlpFormatError("%s: unknown prediction_type %r" % (where, pred))
    inp = obj.get("input", ["sample", "time", "cond"] if cond_dim else ["sample", "time"])
    if (not isinstance(inp, list) or any(p not in INPUT_PARTS for p in inp) or len(set(inp)) != len(inp)
            or "sample" not in inp):
        raise MlpFormatError("%s: input must list distinct parts from %s and include \"sample\"" % (where, INPUT_PARTS))
    if ("cond" in inp) != (cond_dim > 0):
        raise MlpFormatError("%s: \"cond\" must be in input exactly when cond_dim > 0" % where)
    te = None
    if "time_embedding" in obj:
        check_keys(obj["time_embedding"], _TE_KEYS, {"dim"}, where + ".time_embedding")
        te = dict(TE_DEFAULTS)
        te.update(obj["time_embedding"])
        te = {"dim": int(te["dim"]), "max_period": float(te["max_period"]), "flip_sin_to_cos": bool(te["flip_sin_to_cos"]),
              "downscale_freq_shift": float(te["downscale_freq_shift"]), "scale": float(te["scale"])}
        if te["dim"] <= 0 or te["dim"] % 2:
            raise MlpFormatError("%s.time_embedding: dim must be a positive even integer" % where)
        if te["dim"] // 2 - te["downscale_freq_shift"] == 0:
            raise MlpFormatError("%s.time_embedding: dim/2 - downscale_freq_shift is 0" % where)
    if "time" in inp and te is None:
        raise MlpFormatError("%s: input has \"time\" but there is no time_embedding" % where)
    tmlp = obj.get("time_mlp", [])
    if not isinstance(tmlp, list):
        raise MlpFormatError("%s: time_mlp must be a list" % where)
    if tmlp and "time" not in inp:
        raise MlpFormatError("%s: time_mlp given but \"time\" is not an input" % where)
    layers = obj["layers"]
    if not isinstance(layers, list) or not layers:
        raise MlpFormatError("%s: layers must be a non-empty list" % where)
    if obj.get("weights") is not None and not isinstance(obj["weights"], str):
        raise MlpFormatError("%s: weights must be a file name" % where)
    sched = obj.get("scheduler")
    if sched is not None and not isinstance(sched, dict):
        raise MlpFormatError("%s: scheduler must be an object" % where)
    return {
        "format": "asd-mlp", "version": 1, "sample_shape": list(shape), "cond_dim": cond_dim,
        "prediction_type": pred, "time_embedding": te,
        "time_mlp": [_norm_layer(l, "%s.time_mlp[%d]" % (where, i), linear_only=True) for i, l in enumerate(tmlp)],
        "input": list(inp),
        "layers": [_norm_layer(l, "%s.layers[%d]" % (where, i)) for i, l in enumerate(layers)],
        "scheduler": sched, "weights": obj.get("weights"),
    }


def weights_path(json_path, spec):
    """The safetensors path: the JSON's "weights" key (relative to the JSON), else NAME.safetensors."""
    if spec.get("weights"):
        return os.path.join(os.path.dirname(os.path.abspath(json_path)), spec["weights"])
    return os.path.splitext(json_path)[0] + ".safetensors"


def sample_size(spec):
    return int(np.prod(spec["sample_shape"]))


def _get(tensors, name, shape, path):
    if name not in tensors:
        raise MlpFormatError("tensor %r named in the JSON is not in %s" % (name, path))
    t = tensors[name]
    if list(t.shape) != list(shape):
        raise MlpFormatError("tensor %r: expected shape %s, got %s" % (name, list(shape), list(t.shape)))
    return t


def _resolve_layers(layers, width, tensors, path):
    """Shape-check a layer list starting at `width`; returns (resolved layers, out width).

    A resolved linear has "W" [out, in], "b" [out] or None; layer_norm has "W", "b".
    """
    out = []
    for layer in layers:
        r = dict(layer)
        if layer["type"] == "linear":
            if layer["weight"] not in tensors:
                raise MlpFormatError("tensor %r named in the JSON is not in %s" % (layer["weight"], path))
            w = tensors[layer["weight"]]
            if w.ndim != 2 or w.shape[1] != width:
                raise MlpFormatError("tensor %r: expected shape [out, %d], got %s" % (layer["weight"], width, list(w.shape)))
            r["W"] = w
            r["b"] = None if layer["bias"] is None else _get(tensors, layer["bias"], [w.shape[0]], path)
            width = int(w.shape[0])
        elif layer["type"] == "residual":
            inner, w2 = _resolve_layers(layer["layers"], width, tensors, path)
            if w2 != width:
                raise MlpFormatError("residual block maps width %d to %d; it must map back to %d" % (width, w2, width))
            r["layers"] = inner
        else:
            r["W"] = _get(tensors, layer["weight"], [width], path)
            r["b"] = _get(tensors, layer["bias"], [width], path)
        out.append(r)
    return out, width


def resolve(spec, tensors, path="the weights file"):
    """Attach the weight arrays to the spec and check every shape. Returns a dict:
    time_mlp, layers (resolved), widths {"sample","time","cond"}, in_width."""
    widths = {"sample": sample_size(spec), "cond": spec["cond_dim"]}
    time_mlp = []
    if spec["time_embedding"] is not None:
        time_mlp, widths["time"] = _resolve_layers(spec["time_mlp"], spec["time_embedding"]["dim"], tensors, path)
    in_width = sum(widths[p] for p in spec["input"])
    layers, out_width = _resolve_layers(spec["layers"], in_width, tensors, path)
    if out_width != widths["sample"]:
        raise MlpFormatError("the layers end with width %d; prod(sample_shape) is %d" % (out_width, widths["sample"]))
    return {"time_mlp": time_mlp, "layers": layers, "widths": widths, "in_width": in_width}


def load_model(json_path):
    """Load NAME.json + weights. Returns (spec, tensors, resolved)."""
    with open(json_path, "r", encoding="utf-8") as f:
        obj = json.load(f)
    spec = parse_spec(obj, os.path.basename(json_path))
    wpath = weights_path(json_path, spec)
    tensors, _ = read_safetensors(wpath)
    return spec, tensors, resolve(spec, tensors, wpath)


def timestep_freqs(te):
    """freq_i in float64 (Python's math, libm), i < dim/2."""
    half = te["dim"] // 2
    return [math.exp(-math.log(te["max_period"]) * i / (half - te["downscale_freq_shift"])) for i in range(half)]


# --------------------------------------------------------------------------
# numpy float64 reference
# --------------------------------------------------------------------------


def np_activation(name, x):
    if name == "identity":
        return x
    if name == "relu":
        return np.maximum(x, 0.0)
    if name == "silu":
        return x * (0.5 * (1.0 + np.tanh(0.5 * x)))          # x * sigmoid(x), overflow-free
    if name == "gelu_tanh":
        return 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))
    if name == "mish":
        return x * np.tanh(np.logaddexp(0.0, x))              # softplus(x) = log(1 + e^x)
    raise ValueError(name)


def _np_layers(layers, h):
    for l in layers:
        if l["type"] == "linear":
            h = h @ l["W"].astype(np.float64).T
            if l["b"] is not None:
                h = h + l["b"].astype(np.float64)
            h = np_activation(l["activation"], h)
        elif l["type"] == "residual":
            h = np_activation(l["activation"], _np_layers(l["layers"], h) + h)
        else:
            mu = h.mean(axis=1, keepdims=True)
            var = ((h - mu) ** 2).mean(axis=1, keepdims=True)    # biased (population) variance
            h = (h - mu) / np.sqrt(var + l["eps"]) * l["W"].astype(np.float64) + l["b"].astype(np.float64)
    return h


def np_time_embedding(te, timestep):
    t = np.asarray(timestep, dtype=np.float64)
    a = te["scale"] * t[:, None] * np.array(timestep_freqs(te), dtype=np.float64)[None, :]
    s, c = np.sin(a), np.cos(a)
    return np.concatenate([c, s] if te["flip_sin_to_cos"] else [s, c], axis=1)


def reference_forward(spec, resolved, sample, timestep, cond=None):
    """float64 forward. sample [B, *sample_shape], timestep [B], cond [B, cond_dim]; returns [B, *sample_shape]."""
    sample = np.asarray(sample, dtype=np.float64)
    B = sample.shape[0]
    parts = {"sample": sample.reshape(B, -1)}
    if "time" in spec["input"]:
        parts["time"] = _np_layers(resolved["time_mlp"], np_time_embedding(spec["time_embedding"], timestep))
    if "cond" in spec["input"]:
        parts["cond"] = np.asarray(cond, dtype=np.float64).reshape(B, spec["cond_dim"])
    h = np.concatenate([parts[p] for p in spec["input"]], axis=1)
    return _np_layers(resolved["layers"], h).reshape([B] + spec["sample_shape"])


# --------------------------------------------------------------------------
# torch module
# --------------------------------------------------------------------------


def build_module(spec, resolved):
    """A float32 torch.nn.Module computing the network; forward(sample, timestep[, cond]).

    Parameter names mirror the structure (time_mlp.i.*, net.i.*, net.i.layers.j.*);
    these become the ONNX initializer names.
    """
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    def act(name, x):
        if name == "identity":
            return x
        if name == "relu":
            return torch.relu(x)
        if name == "silu":
            return F.silu(x)                       # ONNX: Mul(x, Sigmoid(x))
        if name == "gelu_tanh":
            return F.gelu(x, approximate="tanh")   # ONNX (opset < 20): the tanh formula, Pow/Mul/Add/Tanh
        if name == "mish":
            return F.mish(x)                       # ONNX: Mul(x, Tanh(Softplus(x)))
        raise ValueError(name)

    def param(a):
        return nn.Parameter(torch.from_numpy(np.array(a, dtype=np.float32)), requires_grad=False)

    class Linear(nn.Module):
        def __init__(self, l):
            super().__init__()
            self.activation = l["activation"]
            self.weight = param(l["W"])
            self.bias = None if l["b"] is None else param(l["b"])

        def forward(self, h):
            return act(self.activation, F.linear(h, self.weight, self.bias))

    class Residual(nn.Module):
        def __init__(self, l):
            super().__init__()
            self.activation = l["activation"]
            self.layers = make_list(l["layers"])

        def forward(self, h):
            y = h
            for m in self.layers:
                y = m(y)
            return act(self.activation, y + h)

    class LayerNorm(nn.Module):
        def __init__(self, l):
            super().__init__()
            self.eps = l["eps"]
            self.width = int(l["W"].shape[0])
            self.weight = param(l["W"])
            self.bias = param(l["b"])

        def forward(self, h):
            return F.layer_norm(h, (self.width,), self.weight, self.bias, self.eps)

    def make_list(layers):
        mods = []
        for l in layers:
            mods.append({"linear": Linear, "residual": Residual, "layer_norm": LayerNorm}[l["type"]](l))
        return nn.ModuleList(mods)

    class MlpNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.sample_shape = list(spec["sample_shape"])
            self.input = list(spec["input"])
            self.te = spec["time_embedding"]
            if "time" in self.input:
                # float32 rounding of the float64 frequencies (see timestep_freqs)
                self.register_buffer("time_freqs", torch.tensor([timestep_freqs(self.te)], dtype=torch.float32))
            self.time_mlp = make_list(resolved["time_mlp"])
            self.net = make_list(resolved["layers"])

        def forward(self, sample, timestep, cond=None):
            parts = {"sample": torch.flatten(sample, 1) if len(self.sample_shape) > 1 else sample}
            if "time" in self.input:
                a = timestep.to(torch.float32).unsqueeze(1) * self.time_freqs      # [B, 1] * [1, dim/2]
                if self.te["scale"] != 1.0:
                    a = a * self.te["scale"]
                s, c = torch.sin(a), torch.cos(a)
                e = torch.cat([c, s] if self.te["flip_sin_to_cos"] else [s, c], dim=1)
                for m in self.time_mlp:
                    e = m(e)
                parts["time"] = e
            if "cond" in self.input:
                parts["cond"] = cond
            h = torch.cat([parts[p] for p in self.input], dim=1)
            for m in self.net:
                h = m(h)
            if len(self.sample_shape) > 1:
                h = h.reshape([-1] + self.sample_shape)
            return h

    return MlpNet().eval()


def torch_forward(module, spec, sample, timestep, cond=None):
    import torch
    with torch.no_grad():
        args = [torch.from_numpy(np.asarray(sample, dtype=np.float32)),
                torch.from_numpy(np.asarray(timestep, dtype=np.int64))]
        if spec["cond_dim"]:
            args.append(torch.from_numpy(np.asarray(cond, dtype=np.float32)))
        return module(*args).numpy()


# --------------------------------------------------------------------------
# ONNX export
# --------------------------------------------------------------------------

def export_clean_onnx(module, args, input_names, dynamic_axes, opset, graph_name, out_dims, output_name="out"):
    """torch.onnx.export of module(*args) (output `output_name`) as an onnx ModelProto with nothing machine- or run-specific
    in it (doc strings cleared), the graph named graph_name, and the output's dims stated as out_dims (a str is a
    symbolic dim, an int a fixed one): torch leaves the non-batch ones symbolic after a final Reshape."""
    import io

    import onnx
    import torch

    buf = io.BytesIO()
    with torch.no_grad():
        torch.onnx.export(module, tuple(args), buf, input_names=input_names, output_names=[output_name],
                          dynamic_axes=dynamic_axes, opset_version=opset, do_constant_folding=True,
                          export_params=True, verbose=False)
    model = onnx.load_from_string(buf.getvalue())
    model.doc_string = ""
    model.graph.doc_string = ""
    for node in model.graph.node:
        node.doc_string = ""
    model.graph.name = graph_name
    dims = model.graph.output[0].type.tensor_type.shape.dim
    del dims[:]
    for d in out_dims:
        dim = dims.add()
        if isinstance(d, str):
            dim.dim_param = d
        else:
            dim.dim_value = d
    return model


# --------------------------------------------------------------------------
# A minimal float64 ONNX interpreter for checking exported graphs
# --------------------------------------------------------------------------


def run_onnx_numpy(model, feeds):
    """Evaluate an ONNX ModelProto in float64 with numpy. Supports only the ops
    the exporter emits; anything else raises NotImplementedError.
    feeds: dict input name -> array. Returns dict output name -> array."""
    from onnx import numpy_helper

    env = {}
    for init in model.graph.initializer:
        env[init.name] = numpy_helper.to_array(init)
    for k, v in feeds.items():
        env[k] = np.asarray(v)

    def f(x):
        return x.astype(np.float64) if np.issubdtype(x.dtype, np.floating) else x

    for node in model.graph.node:
        at = {a.name: a for a in node.attribute}
        ins = [env[n] if n else None for n in node.input]
        op = node.op_type

        def ai(name, default=None):
            return at[name].i if name in at else default

        def af(name, default=None):
            return at[name].f if name in at else default

        if op == "Constant":
            out = numpy_helper.to_array(at["value"].t)
        elif op == "Cast":
            to = ai("to")
            # 1 FLOAT, 11 DOUBLE, 10 FLOAT16 -> evaluate in float64; 7 INT64
            out = ins[0].astype(np.float64) if to in (1, 10, 11) else ins[0].astype(np.int64)
        elif op in ("Add", "Sub", "Mul", "Div", "Pow"):
            a, b = f(ins[0]), f(ins[1])
            out = {"Add": np.add, "Sub": np.subtract, "Mul": np.multiply, "Div": np.divide, "Pow": np.power}[op](a, b)
        elif op in ("Sin", "Cos", "Tanh", "Sqrt", "Exp", "Neg", "Relu", "Sigmoid", "Softplus", "Identity"):
            x = f(ins[0])
            out = {"Sin": np.sin, "Cos": np.cos, "Tanh": np.tanh, "Sqrt": np.sqrt, "Exp": np.exp, "Neg": np.negative,
                   "Relu": lambda v: np.maximum(v, 0.0), "Sigmoid": lambda v: 0.5 * (1.0 + np.tanh(0.5 * v)),
                   "Softplus": lambda v: np.logaddexp(0.0, v), "Identity": lambda v: v}[op](x)
        elif op == "Unsqueeze":
            axes = [int(a) for a in (ins[1] if len(ins) > 1 else at["axes"].ints)]
            out = ins[0]
            for a in sorted(a % (out.ndim + len(axes)) for a in axes):
                out = np.expand_dims(out, a)
        elif op == "Concat":
            out = np.concatenate([f(x) for x in ins], axis=ai("axis"))
        elif op == "Flatten":
            ax = ai("axis", 1)
            out = ins[0].reshape(int(np.prod(ins[0].shape[:ax])), -1)
        elif op == "Reshape":
            shape = [int(s) for s in ins[1]]
            shape = [ins[0].shape[i] if s == 0 else s for i, s in enumerate(shape)]
            out = ins[0].reshape(shape)
        elif op == "Gemm":
            a, b = f(ins[0]), f(ins[1])
            if ai("transA", 0):
                a = a.T
            if ai("transB", 0):
                b = b.T
            out = af("alpha", 1.0) * (a @ b)
            if len(ins) > 2 and ins[2] is not None:
                out = out + af("beta", 1.0) * f(ins[2])
        elif op == "MatMul":
            out = f(ins[0]) @ f(ins[1])
        elif op == "ReduceMean":
            axes = tuple(at["axes"].ints) if "axes" in at else tuple(int(a) for a in ins[1])
            out = f(ins[0]).mean(axis=axes, keepdims=bool(ai("keepdims", 1)))
        elif op == "LayerNormalization":
            x = f(ins[0])
            ax = ai("axis", -1) % x.ndim
            axes = tuple(range(ax, x.ndim))
            mu = x.mean(axis=axes, keepdims=True)
            var = ((x - mu) ** 2).mean(axis=axes, keepdims=True)
            out = (x - mu) / np.sqrt(var + af("epsilon", 1e-5)) * f(ins[1])
            if len(ins) > 2 and ins[2] is not None:
                out = out + f(ins[2])
        elif op == "Shape":
            out = np.array(ins[0].shape, dtype=np.int64)
        elif op == "Gather":
            out = np.take(ins[0], ins[1], axis=ai("axis", 0))
        else:
            raise NotImplementedError("run_onnx_numpy: op %s" % op)
        env[node.output[0]] = out
    return {o.name: env[o.name] for o in model.graph.output}
