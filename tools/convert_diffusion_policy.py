#!/usr/bin/python3
"""Convert a diffusion_policy ConditionalUnet1D checkpoint to the asd-unet1d format (docs/unet1d-format.md).

Usage:
    /usr/bin/python3 tools/convert_diffusion_policy.py CHECKPOINT --out NAME.json
        [--state-dict ema_model|model] [--config config.yaml] [--horizon H] [--n-groups G]
        [--dtype F32|F16] [--scheduler scheduler_config.json] [--num-train-timesteps N] [--beta-schedule S]
        [--prediction-type P] [--clip-sample true|false] [--variance-type V]

CHECKPOINT is one of
  * a diffusion_policy workspace checkpoint (``*.ckpt``: ``{"cfg", "state_dicts": {"model", "ema_model", ...}}``);
    the EMA weights are used when present (they are what diffusion_policy evaluates), unless --state-dict says;
  * a policy or U-Net state dict saved with ``torch.save`` (``*.pt``, ``*.pth``), keys with or without the policy's
    ``model.`` prefix;
  * a safetensors file of such a state dict;
  * an ONNX export of the ConditionalUnet1D (``*.onnx``, or a model folder holding ``model.onnx``; python3-onnx).
    torch.onnx.export keeps the parameters' names for the convolutions and linear layers; each group norm's scale
    and shift, which the exporter folds into anonymous ``onnx::Mul_*`` / ``onnx::Add_*`` constants (or passes to a
    GroupNormalization node), are found by following the graph from the convolution before them, and n_groups, the
    final block's groups and the group norm's epsilon come from the same nodes; a weight stored in float16 and cast to
    float32 where it is used is read from its initializer (the cast is exact). The horizon comes from the ``sample``
    input's shape when it is fixed (else --horizon), and the noise scheduler from ``scheduler_config.json`` beside the file (asd's
    ONNX model-folder layout) when there is one. Nothing in the graph is run (Debian has no onnxruntime for Python), so
    a fork that keeps diffusion_policy's parameter names but computes something else between them converts without a
    complaint: asd opening the .onnx itself runs it once beside ONNX Runtime first (docs/onnx-models.md). A graph that computes more than the
    U-Net (a policy exported whole, normalising its observation inside the graph) converts with a warning: only the
    U-Net's weights are written.
Torch files are read with a restricted unpickler: tensors, containers and numbers are rebuilt, any other class
(OmegaConf's config nodes, diffusion_policy's own classes) becomes an inert record, and nothing is imported or run,
so neither diffusion_policy nor hydra/omegaconf is needed.

The architecture (input_dim, global_cond_dim, local_cond_dim, diffusion_step_embed_dim, down_dims, kernel_size, cond_predict_scale)
is read from the tensor shapes and checked against the training configuration when there is one. Two numbers are
not in the weights: the horizon and n_groups; they come from the checkpoint's configuration, --config (the run's
hydra ``config.yaml``) or the flags, in that order of preference (flags win). The noise scheduler the model was
trained with (``policy.noise_scheduler``: num_train_timesteps, beta schedule, variance type, clip_sample,
prediction_type) is written into the JSON the same way; without any source, the flags or diffusion_policy's
defaults (100 steps, squaredcos_cap_v2, epsilon, clip_sample) are used and the converter says so.

A state dict that does not hold a ConditionalUnet1D (missing, extra or mis-shaped tensors) is an error that names the
tensor. Local conditioning (``obs_as_local_cond``: ``local_cond_encoder.*``) converts, with local_cond_dim from its
shapes; asd then takes each sample's conditioning as the global values followed by the local ones, position by
position ([horizon, local_cond_dim], the layout of diffusion_policy's ``local_cond``). After writing, the converter reloads the files and runs the U-Net (tools/unet1d_common.py)
on random inputs with the written weights and with the checkpoint's original float32 weights, and prints the largest
relative difference (0 for F32; the float16 rounding for F16).

If the policy state dict holds a LinearNormalizer (``normalizer.params_dict.*``), its scale/offset tensors go to
NAME.normalizer.json: asd samples in the normalized action space the U-Net was trained in, so a caller normalizes the
observation and unnormalizes the action with them (x_normalized = x * scale + offset).

Needs Debian's python3-torch and python3-numpy (python3-yaml for --config).
"""

import argparse
import io
import json
import os
import pickle
import sys
import zipfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mlp_common as mc  # noqa: E402
import unet1d_common as uc  # noqa: E402

UNET_ANCHOR = "diffusion_step_encoder.1.weight"
DP_SCHEDULER_DEFAULTS = {"num_train_timesteps": 100, "beta_start": 0.0001, "beta_end": 0.02,
                         "beta_schedule": "squaredcos_cap_v2", "variance_type": "fixed_small", "clip_sample": True,
                         "prediction_type": "epsilon"}
SCHEDULER_KEYS = ("num_train_timesteps", "beta_start", "beta_end", "beta_schedule", "trained_betas", "variance_type",
                  "clip_sample", "clip_sample_range", "prediction_type", "timestep_spacing", "steps_offset",
                  "thresholding", "rescale_betas_zero_snr")


class ConversionError(ValueError):
    pass


# --------------------------------------------------------------------------
# Reading checkpoints without running their code
# --------------------------------------------------------------------------

class Inert:
    """Stands for any class the restricted unpickler does not rebuild: keeps the arguments and state it was given."""
    qualname = "?"
    args, kwargs, state = (), {}, None

    def __init__(self, *args, **kwargs):
        self.args, self.kwargs = args, kwargs

    def __setstate__(self, state):
        self.state = state

    def __setitem__(self, key, value):
        self.__dict__.setdefault("items", []).append((key, value))

    def append(self, value):
        self.__dict__.setdefault("items", []).append(value)

    def extend(self, values):
        self.__dict__.setdefault("items", []).extend(values)


# What the unpickler may rebuild for real: containers, numbers, and torch's tensor machinery. Everything else is Inert.
_ALLOWED = {
    ("collections", "OrderedDict"), ("collections", "defaultdict"), ("builtins", "set"), ("builtins", "frozenset"),
    ("builtins", "slice"), ("builtins", "complex"), ("builtins", "object"), ("copyreg", "_reconstructor"),
    ("_codecs", "encode"), ("numpy.core.multiarray", "_reconstruct"), ("numpy.core.multiarray", "scalar"),
    ("numpy", "ndarray"), ("numpy", "dtype"), ("torch._utils", "_rebuild_tensor_v2"),
    ("torch._utils", "_rebuild_parameter"), ("torch._utils", "_rebuild_tensor"), ("torch", "Size"),
    ("torch", "device"), ("torch", "float32"), ("torch", "float16"), ("torch", "bfloat16"), ("torch", "float64"),
    ("torch", "int64"), ("torch", "int32"), ("torch", "bool"), ("torch", "uint8"),
}


class _RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if (module, name) in _ALLOWED or (module == "torch" and name.endswith("Storage")):
            return super().find_class(module, name)
        return type(name, (Inert,), {"qualname": module + "." + name})


class _RestrictedPickleModule:
    """What torch.load needs of a pickle module."""
    __name__ = "restricted_pickle"
    Unpickler = _RestrictedUnpickler

    @staticmethod
    def load(f, **kwargs):
        return _RestrictedUnpickler(f, **kwargs).load()


def plain(obj, depth=0):
    """Turns Inert records of OmegaConf nodes (DictConfig/ListConfig/ValueNode) and containers into plain Python."""
    if depth > 64:
        return None
    if isinstance(obj, Inert):
        state = obj.state
        if isinstance(state, dict):
            if "_content" in state:
                return plain(state["_content"], depth + 1)
            if "_val" in state:
                return plain(state["_val"], depth + 1)
            if "__dict__" in state:
                return plain(state["__dict__"], depth + 1)
        if isinstance(state, tuple) and state and isinstance(state[-1], dict):
            return plain(state[-1], depth + 1)
        return None
    if isinstance(obj, dict):
        return {str(k): plain(v, depth + 1) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [plain(v, depth + 1) for v in obj]
    if isinstance(obj, (str, int, float, bool)) or obj is None:
        return obj
    return None


def load_checkpoint(path):
    """(state dict name -> float32 array, config dict or None, description of where the weights came from)."""
    import torch

    if path.endswith(".safetensors"):
        with open(path, "rb") as f:
            tensors, _, _ = mc.parse_safetensors(f.read(), path)
        return tensors, None, "safetensors"
    if not (zipfile.is_zipfile(path) or open(path, "rb").read(2)[:1] == b"\x80"):
        raise ConversionError("%s: not a torch checkpoint (zip or pickle) or a .safetensors file" % path)
    try:
        # torch.load (1.13) ignores a custom pickle_module unless weights_only, whose unpickler rejects the training
        # configuration objects; its loaders are called directly with the restricted module instead.
        ser = torch.serialization
        with open(path, "rb") as f:
            if ser._is_zipfile(f):
                with ser._open_zipfile_reader(f) as z:
                    obj = ser._load(z, "cpu", _RestrictedPickleModule, encoding="utf-8")
            else:
                obj = ser._legacy_load(f, "cpu", _RestrictedPickleModule, encoding="utf-8")
    except Exception as e:  # a corrupt or foreign file
        raise ConversionError("%s: cannot be read as a torch checkpoint (%s: %s)" % (path, type(e).__name__, e))
    return obj, None, "torch"


# Ops a group norm's data path passes through between the convolution and its affine terms, as torch.onnx.export
# writes it (opset <= 17: Reshape, InstanceNormalization, Reshape, Mul, Add; opset >= 18 may use GroupNormalization).
_GN_PATH = ("Reshape", "InstanceNormalization", "Mul", "Add", "GroupNormalization", "Cast", "Identity")


def load_onnx(path):
    """(state dict name -> float32 array, config dict, description) from an ONNX export of a ConditionalUnet1D."""
    try:
        import onnx
        from onnx import numpy_helper
    except ImportError:
        raise ConversionError("reading an ONNX file needs python3-onnx (apt install python3-onnx)")
    try:
        model = onnx.load(path)
    except Exception as e:  # a corrupt or foreign file
        raise ConversionError("%s: cannot be read as an ONNX model (%s: %s)" % (path, type(e).__name__, e))
    g = model.graph
    arrays = {}
    for init in g.initializer:
        try:
            arrays[init.name] = numpy_helper.to_array(init)
        except Exception as e:
            raise ConversionError("%s: initializer %r cannot be read (%s)" % (path, init.name, e))
    # A weight stored in float16 and cast to float32 where it is used (an export that halves its file and computes in
    # float32: tools/export_mlp_onnx.py stores NAME.f16 and casts it to NAME; converters keep the initializer's name and
    # cast it to a new one): the cast is exact, so the initializer stands for its output, under whichever of the two
    # names is a parameter's (the initializer's when both or neither are), and the casts leave the graph walked here.
    def parameter_name(n):
        return n.endswith(".weight") or n.endswith(".bias")
    named, casts = {}, []  # name -> the name it stands under; the Cast nodes taken out
    for n in g.node:
        if (n.op_type == "Cast" and len(n.input) == 1 and len(n.output) == 1 and n.input[0] in arrays
                and np.issubdtype(arrays[n.input[0]].dtype, np.floating) and n.output[0] not in arrays
                and n.output[0] not in named
                and any(a.name == "to" and a.i == onnx.TensorProto.FLOAT for a in n.attribute)):
            w, o = n.input[0], n.output[0]
            name = named.get(w) or (o if parameter_name(o) and not parameter_name(w) else w)
            named[w] = named[o] = name
            casts.append(n)
    if casts:
        for w in [k for k in arrays if k in named and named[k] != k]:
            arrays[named[w]] = arrays.pop(w)
        cast_outputs = {c.output[0] for c in casts}
        kept = [n for n in g.node if not (n.op_type == "Cast" and len(n.output) == 1 and n.output[0] in cast_outputs)]
        for n in kept:
            for k, i in enumerate(n.input):
                if i in named:
                    n.input[k] = named[i]
        for i in g.input:
            if i.name in named:
                i.name = named[i.name]
        del g.node[:]
        g.node.extend(kept)
    producer, consumers = {}, {}
    for node in g.node:
        for o in node.output:
            producer[o] = node
        for i in node.input:
            consumers.setdefault(i, []).append(node)
        if node.op_type == "Constant" and node.output:
            for a in node.attribute:
                if a.name == "value":
                    try:
                        arrays[node.output[0]] = numpy_helper.to_array(a.t)
                    except Exception as e:  # a tensor whose data does not fill its shape, an unknown type, ...
                        raise ConversionError("%s: Constant %r cannot be read (%s)" % (path, node.output[0], e))

    def constant(name, depth=0):
        """The array a value is: an initializer or Constant, through shape-only ops (Unsqueeze, Reshape, ...)."""
        if name in arrays:
            return arrays[name]
        node = producer.get(name)
        if node is None or depth > 4 or node.op_type not in ("Unsqueeze", "Squeeze", "Reshape", "Cast", "Identity"):
            return None
        return constant(node.input[0], depth + 1)

    # Parameters the exporter kept by name (state-dict names: dotted words; the exporter's own are 'onnx::Op_N').
    tensors = {k: np.array(v, dtype=np.float32) for k, v in arrays.items()
               if np.issubdtype(np.asarray(v).dtype, np.floating) and "::" not in k and "." in k
               and k.split(".")[-1] in ("weight", "bias")}

    # Each Conv1dBlock's group norm, from the convolution 'P.block.0' on: its scale and shift, its groups and epsilon.
    groups = {}
    eps = set()
    for node in g.node:
        if node.op_type != "Conv" or len(node.input) < 2 or not node.input[1].endswith(".block.0.weight"):
            continue
        norm = node.input[1][:-len("0.weight")] + "1."
        found, cur, n_groups = {}, node.output[0], None
        for _ in range(8):
            nxt = [n for n in consumers.get(cur, []) if n.op_type != "Shape"]
            if len(nxt) != 1 or nxt[0].op_type not in _GN_PATH:
                break
            n = nxt[0]
            attrs = {a.name: a for a in n.attribute}
            if n.op_type == "Reshape" and n_groups is None:
                shape = constant(n.input[1])
                if shape is not None and shape.size == 3 and int(shape[1]) > 0:
                    n_groups = int(shape[1])
            elif n.op_type == "InstanceNormalization":
                scale = constant(n.input[1])
                n_groups = int(scale.size) if scale is not None else n_groups
                eps.add(float(attrs["epsilon"].f) if "epsilon" in attrs else 1e-5)
            elif n.op_type == "GroupNormalization":
                n_groups = int(attrs["num_groups"].i)
                eps.add(float(attrs["epsilon"].f) if "epsilon" in attrs else 1e-5)
                for key, inp in (("weight", n.input[1]), ("bias", n.input[2])):
                    v = constant(inp)
                    if v is not None:
                        found[key] = v
                break
            elif n.op_type in ("Mul", "Add"):
                other = [constant(i) for i in n.input if i != cur]
                if len(other) != 1 or other[0] is None:
                    break
                found["weight" if n.op_type == "Mul" else "bias"] = other[0]
                if n.op_type == "Add":
                    break
            cur = n.output[0]
        for key, v in found.items():
            tensors.setdefault(norm + key, np.array(v, dtype=np.float32).reshape(-1))
        if n_groups is not None:
            groups[norm[:-len(".block.1.")]] = n_groups

    cfg = {"extras": graph_extras(g, producer, consumers, set(arrays), prefix_of(tensors)),
           "local_first": local_first(g, consumers, set(arrays), prefix_of(tensors))}
    final = [v for k, v in groups.items() if k.endswith("final_conv.0")]
    inner = {v for k, v in groups.items() if not k.endswith("final_conv.0")}
    if len(inner) > 1:
        raise ConversionError("%s: the group norms use different group counts %s; a ConditionalUnet1D uses one" % (path, sorted(inner)))
    if inner:
        cfg["n_groups"] = inner.pop()
    if final:
        cfg["final_n_groups"] = final[0]
    if len(eps) == 1:
        # ONNX stores epsilon as a float32 attribute: 1e-5 comes back as 9.99999975e-06; its shortest float32
        # spelling is the number the model was built with.
        cfg["group_norm_eps"] = float(str(np.float32(eps.pop())))
    elif len(eps) > 1:
        raise ConversionError("%s: the group norms use different epsilons %s; a ConditionalUnet1D uses one" % (path, sorted(eps)))
    # The horizon: the middle dimension of the sample input [batch, horizon, input_dim] (and of the local
    # conditioning [batch, horizon, local_cond_dim], when there is one), when the export fixed it and they agree.
    ranked = [i for i in g.input if i.name not in arrays and len(i.type.tensor_type.shape.dim) == 3]
    middles = {int(i.type.tensor_type.shape.dim[1].dim_value) for i in ranked}
    if len(middles) == 1 and min(middles) > 0:
        cfg["horizon"] = min(middles)
    return tensors, cfg, "the ONNX graph's initializers"


def prefix_of(tensors):
    """The U-Net's prefix, or "" where there is not exactly one U-Net (split_prefix says why, later)."""
    try:
        return split_prefix(tensors)[0]
    except ConversionError:
        return ""


# Ops that only move data (the U-Net's Rearranges and the exporter's casts), as asd's native import counts them.
MOVES = ("Transpose", "Reshape", "Identity", "Cast", "Squeeze", "Unsqueeze")


def readers(consumers, value):
    """The nodes that first do more than move data, reached from `value` through data moves (Shape nodes aside; a move
    without outputs, as a mutated file may hold, leads nowhere)."""
    frontier, seen = [value], 0
    while frontier and seen < 64:
        seen += 1
        for n in consumers.get(frontier.pop(), []):
            if n.op_type in MOVES:
                frontier.extend(n.output)
            elif n.op_type != "Shape":
                yield n


def local_first(g, consumers, constants, prefix):
    """Whether the graph's local conditioning input comes before its global conditioning input (diffusion_policy's
    forward order: local_cond, then global_cond). ONNX Runtime builds a conditioning row in input order; the asd-unet1d
    format takes the global values first."""
    local_weights = (prefix + "local_cond_encoder.0.blocks.0.block.0.weight", prefix + "local_cond_encoder.0.residual_conv.weight")
    order = []
    for inp in g.input:
        if inp.name in constants:
            continue
        for n in readers(consumers, inp.name):
            if n.op_type == "Conv" and len(n.input) > 1 and n.input[1] in local_weights:
                order.append("local")
                break
            if n.op_type == "Concat":
                order.append("global")
                break
    return "local" in order and "global" in order and order.index("local") < order.index("global")


def graph_extras(g, producer, consumers, constants, prefix):
    """Why the graph computes more than the U-Net (as asd's native import checks it), or None: one output, from
    final_conv.1 through data moves only; the sample input into the first block's convolutions; conditioning straight
    into the concatenation with the step embedding."""
    if len(g.output) != 1:
        return "%d outputs" % len(g.output)
    value, last = g.output[0].name, None
    for _ in range(8):
        last = producer.get(value)
        if last is None or last.op_type not in MOVES or not last.input:
            break
        value = last.input[0]
    if last is None or last.op_type != "Conv" or len(last.input) < 2 or last.input[1] != prefix + "final_conv.1.weight":
        return "its output does not come from final_conv.1 through transposes and reshapes alone"
    conditioning = [i.name for i in g.input if i.name not in constants and len(i.type.tensor_type.shape.dim) == 2]
    if len(conditioning) > 1:
        # ONNX Runtime concatenates several in input order, the U-Net in its Concat's order: asd takes one only.
        return "%d conditioning inputs (%s)" % (len(conditioning), ", ".join(conditioning))
    first_convs = (prefix + "down_modules.0.0.blocks.0.block.0.weight", prefix + "down_modules.0.0.residual_conv.weight",
                   prefix + "local_cond_encoder.0.blocks.0.block.0.weight", prefix + "local_cond_encoder.0.residual_conv.weight")
    for inp in g.input:
        rank = len(inp.type.tensor_type.shape.dim)
        if inp.name in constants or rank not in (2, 3):
            continue
        for n in readers(consumers, inp.name):
            # Rank 3: the sample into the first block's convolutions, or the local conditioning into its block's.
            ok = (n.op_type == "Conv" and len(n.input) > 1 and n.input[1] in first_convs) if rank == 3 else n.op_type == "Concat"
            if not ok:
                return "input %r goes into a %s node before the U-Net" % (inp.name, n.op_type)
    return None


def pick_state_dict(obj, key):
    """The state dict inside a loaded checkpoint: a workspace payload's state_dicts[key], or the object itself."""
    import torch

    cfg = None
    where = "the file"
    if isinstance(obj, dict) and "state_dicts" in obj and isinstance(obj["state_dicts"], dict):
        dicts = obj["state_dicts"]
        cfg = plain(obj.get("cfg"))
        names = [k for k in ("ema_model", "model") if k in dicts] if key is None else [key]
        if not names or names[0] not in dicts:
            raise ConversionError("the checkpoint's state_dicts hold %s; none is %s" % (sorted(dicts), key or "ema_model or model"))
        where = "state_dicts.%s" % names[0]
        obj = dicts[names[0]]
    elif isinstance(obj, dict) and "state_dict" in obj and isinstance(obj["state_dict"], dict):
        obj, where = obj["state_dict"], "state_dict"
    if not isinstance(obj, dict):
        raise ConversionError("expected a state dict (name -> tensor) in %s, found %s" % (where, type(obj).__name__))
    tensors = {}
    for k, v in obj.items():
        if isinstance(v, torch.Tensor):
            if not v.is_floating_point():
                continue
            tensors[str(k)] = v.detach().to(torch.float32).cpu().numpy()
        elif isinstance(v, np.ndarray):
            tensors[str(k)] = v.astype(np.float32)
    return tensors, cfg, where


# --------------------------------------------------------------------------
# The architecture
# --------------------------------------------------------------------------

def split_prefix(tensors):
    """(prefix, U-Net tensors without it, the other tensors). The U-Net is found by its step encoder."""
    anchors = [k for k in tensors if k.endswith(UNET_ANCHOR)]
    if not anchors:
        raise ConversionError("no ConditionalUnet1D in the state dict: no tensor named '*%s' (found e.g. %s)"
                              % (UNET_ANCHOR, sorted(tensors)[:3]))
    if len(anchors) > 1:
        raise ConversionError("several U-Nets in the state dict (%s); pass a single policy's state dict" % anchors)
    prefix = anchors[0][:-len(UNET_ANCHOR)]
    unet = {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}
    others = {k: v for k, v in tensors.items() if not k.startswith(prefix)}
    return prefix, unet, others


def find_config(cfg):
    """From a diffusion_policy training config: (U-Net kwargs, noise scheduler kwargs, horizon), each possibly empty."""
    unet, sched, horizon = {}, {}, None

    def walk(node, path):
        nonlocal horizon
        if isinstance(node, dict):
            target = str(node.get("_target_", ""))
            if target.endswith("ConditionalUnet1D"):
                unet.update({k: v for k, v in node.items() if not k.startswith("_")})
            elif target.endswith("DDPMScheduler") or target.endswith("DDIMScheduler"):
                if not sched:
                    sched.update({k: v for k, v in node.items() if k in SCHEDULER_KEYS})
            elif "policy" in path[-1:] or path == []:
                for k in ("down_dims", "kernel_size", "n_groups", "cond_predict_scale", "diffusion_step_embed_dim"):
                    if k in node and k not in unet:
                        unet[k] = node[k]
            if "horizon" in node and isinstance(node["horizon"], int) and horizon is None:
                horizon = node["horizon"]
            for k, v in node.items():
                walk(v, path + [str(k)])
        elif isinstance(node, list):
            for v in node:
                walk(v, path)

    if cfg:
        walk(cfg, [])
    return unet, sched, horizon


def infer_config(unet, args, cfg_unet, cfg_sched, cfg_horizon, warn):
    def shape(name):
        if name not in unet:
            raise ConversionError("tensor %r is missing: the state dict is not a diffusion_policy ConditionalUnet1D" % name)
        return list(unet[name].shape)

    d = shape("diffusion_step_encoder.1.weight")[1]
    levels = 0
    while "down_modules.%d.0.blocks.0.block.0.weight" % levels in unet:
        levels += 1
    if levels == 0:
        shape("down_modules.0.0.blocks.0.block.0.weight")
    w0 = shape("down_modules.0.0.blocks.0.block.0.weight")
    down = [shape("down_modules.%d.0.blocks.0.block.0.weight" % i)[0] for i in range(levels)]
    cond = shape("down_modules.0.0.cond_encoder.1.weight")
    inferred = {"input_dim": w0[1], "kernel_size": w0[2], "down_dims": down, "diffusion_step_embed_dim": d,
                "global_cond_dim": cond[1] - d, "cond_predict_scale": cond[0] == 2 * down[0], "local_cond_dim": 0}
    if any(k.startswith("local_cond_encoder.") for k in unet):
        # Local conditioning (obs_as_local_cond): its block's input channels are local_cond_dim.
        inferred["local_cond_dim"] = shape("local_cond_encoder.0.blocks.0.block.0.weight")[1]
    if inferred["global_cond_dim"] < 0:
        raise ConversionError("tensor 'down_modules.0.0.cond_encoder.1.weight' has shape %s: its input (%d) is narrower "
                              "than the step embedding (%d)" % (cond, cond[1], d))
    for k, v in cfg_unet.items():
        if k in inferred and v is not None and (list(v) if isinstance(v, (list, tuple)) else v) != inferred[k] \
                and not (k in ("global_cond_dim", "local_cond_dim") and v in (None, 0) and inferred[k] == 0):
            raise ConversionError("the training configuration says %s = %r but the weights say %r" % (k, v, inferred[k]))
    groups = args.n_groups or cfg_unet.get("n_groups")
    if groups is None:
        groups = 8
        warn("n_groups is not in the weights or a configuration: using 8 (diffusion_policy's default); pass --n-groups if the model used another")
    horizon = args.horizon or cfg_horizon
    if horizon is None:
        raise ConversionError("the horizon (action steps per sample) is not in the weights: give --horizon or --config")
    scheduler = dict(DP_SCHEDULER_DEFAULTS)
    if cfg_sched:
        scheduler.update(cfg_sched)
    elif not (args.scheduler or args.num_train_timesteps):
        warn("no noise-scheduler settings found: using diffusion_policy's defaults %s" % json.dumps(DP_SCHEDULER_DEFAULTS))
    if args.scheduler:
        with open(args.scheduler, encoding="utf-8") as f:
            scheduler.update({k: v for k, v in json.load(f).items() if k in SCHEDULER_KEYS})
    for flag, key in (("num_train_timesteps", "num_train_timesteps"), ("beta_schedule", "beta_schedule"),
                      ("prediction_type", "prediction_type"), ("variance_type", "variance_type")):
        if getattr(args, flag) is not None:
            scheduler[key] = getattr(args, flag)
    if args.clip_sample is not None:
        scheduler["clip_sample"] = args.clip_sample == "true"
    scheduler = {k: v for k, v in scheduler.items() if v is not None}
    obj = dict(inferred, format=uc.FORMAT, version=1, horizon=int(horizon), n_groups=int(groups),
               prediction_type=scheduler.get("prediction_type", "epsilon"), scheduler=scheduler)
    for k in ("final_n_groups", "group_norm_eps"):  # read from an ONNX graph's group norms (load_onnx)
        if cfg_unet.get(k) is not None:
            obj[k] = cfg_unet[k]
    return uc.parse_config(obj, "the converted configuration")


def normalizer(others, prefix):
    """LinearNormalizer parameters of the policy (params_dict.<key>.scale/offset), if present."""
    out = {}
    for k, v in others.items():
        parts = k.split(".")
        if "params_dict" in parts:
            i = parts.index("params_dict")
            if len(parts) == i + 3 and parts[i + 2] in ("scale", "offset"):
                out.setdefault(parts[i + 1], {})[parts[i + 2]] = np.asarray(v, dtype=np.float64).reshape(-1).tolist()
    return {k: v for k, v in out.items() if "scale" in v and "offset" in v}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("checkpoint")
    ap.add_argument("--out", required=True, help="NAME.json (NAME.safetensors is written beside it)")
    ap.add_argument("--state-dict", choices=["ema_model", "model"], help="workspace checkpoints: which weights (default: ema_model if present)")
    ap.add_argument("--config", help="the training run's hydra config.yaml")
    ap.add_argument("--horizon", type=int)
    ap.add_argument("--n-groups", type=int)
    ap.add_argument("--dtype", choices=["F32", "F16"], default="F32")
    ap.add_argument("--scheduler", help="a diffusers scheduler_config.json")
    ap.add_argument("--num-train-timesteps", type=int)
    ap.add_argument("--beta-schedule")
    ap.add_argument("--prediction-type", choices=list(uc.PREDICTION_TYPES))
    ap.add_argument("--variance-type", choices=["fixed_small", "fixed_large"])
    ap.add_argument("--clip-sample", choices=["true", "false"])
    a = ap.parse_args(argv)
    if not a.out.endswith(".json"):
        ap.error("--out must name a .json file")
    import torch
    torch.set_num_threads(2)

    def warn(msg):
        print("note: " + msg, file=sys.stderr)

    from_onnx = False
    try:
        if os.path.isdir(a.checkpoint) and os.path.isfile(os.path.join(a.checkpoint, "model.onnx")):
            a.checkpoint = os.path.join(a.checkpoint, "model.onnx")
        if not os.path.isfile(a.checkpoint):
            raise ConversionError("%s: no such file" % a.checkpoint)
        from_onnx = a.checkpoint.endswith(".onnx")
        graph_cfg = {}
        if from_onnx:
            tensors, graph_cfg, where = load_onnx(a.checkpoint)
            cfg = None
            beside = os.path.join(os.path.dirname(os.path.abspath(a.checkpoint)), "scheduler_config.json")
            if a.scheduler is None and os.path.isfile(beside):
                a.scheduler = beside
                warn("noise scheduler from %s" % beside)
        else:
            loaded, _, kind = load_checkpoint(a.checkpoint)
            if kind == "safetensors":
                tensors, cfg, where = loaded, None, "the safetensors file"
            else:
                tensors, cfg, where = pick_state_dict(loaded, a.state_dict)
        if a.config:
            import yaml
            with open(a.config, encoding="utf-8") as f:
                cfg = yaml.safe_load(f)
        prefix, unet, others = split_prefix(tensors)
        cfg_unet, cfg_sched, cfg_horizon = find_config(cfg)
        extras = graph_cfg.pop("extras", None)
        if graph_cfg.pop("local_first", False):
            warn("the ONNX graph takes its local conditioning input before the global one (diffusion_policy's order), so "
                 "ONNX Runtime and asd's native import of the file read a row as local values, then global; the converted "
                 "model reads global values first, then local (docs/unet1d-format.md)")
        if extras is not None:
            warn("the ONNX graph computes more than the ConditionalUnet1D (%s): only the U-Net's weights are converted;"
                 " whatever the graph does around it (normalising the observation or the action, ...) is yours to apply"
                 % extras)
        for k, v in graph_cfg.items():  # what the ONNX graph says, unless a configuration says otherwise
            if k == "horizon":
                cfg_horizon = cfg_horizon or v
            else:
                cfg_unet.setdefault(k, v)
        config = infer_config(unet, a, cfg_unet, cfg_sched, cfg_horizon, warn)
        uc.check_tensors(config, unet, "%s (%s, prefix %r)" % (a.checkpoint, where, prefix))
        config["source"] = {"converter": "tools/convert_diffusion_policy.py", "checkpoint": os.path.basename(a.checkpoint),
                            "state_dict": where, "prefix": prefix, "weights": a.dtype}
        os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
        uc.write_model(a.out, config, unet, a.dtype)
    except (ConversionError, uc.Unet1dFormatError, mc.SafetensorsError) as e:
        hint = ""
        if from_onnx and "missing" in str(e):
            hint = (" (an ONNX export: no initializer has that name, and following the graph from its layer's"
                    " convolution did not reach it; was the graph optimised after export?)")
        print("error: %s%s" % (e, hint), file=sys.stderr)
        return 2

    norm = normalizer(others, prefix)
    if norm:
        with open(os.path.splitext(a.out)[0] + ".normalizer.json", "w", encoding="utf-8", newline="\n") as f:
            f.write(json.dumps(norm, indent=1) + "\n")

    # Round trip: the written files against the checkpoint's own float32 weights.
    cfg2, stored, _ = uc.load_model(a.out)
    rng = np.random.default_rng(0)
    n = 4
    x = rng.standard_normal((n, cfg2["horizon"], cfg2["input_dim"])).astype(np.float32)
    t = rng.integers(0, cfg2["scheduler"]["num_train_timesteps"], n)
    c = rng.standard_normal((n, cfg2["global_cond_dim"])).astype(np.float32) if cfg2["global_cond_dim"] else None
    loc = rng.standard_normal((n, cfg2["horizon"], cfg2["local_cond_dim"])).astype(np.float32) if cfg2["local_cond_dim"] else None
    ref = uc.torch_forward(uc.build_module(cfg2, unet), cfg2, x, t, c, loc)
    got = uc.torch_forward(uc.build_module(cfg2, stored), cfg2, x, t, c, loc)
    rel = float(np.abs(got - ref).max() / max(1.0, float(np.abs(ref).max())))
    print("converted %s (%s, prefix %r): ConditionalUnet1D horizon %d, input_dim %d, global_cond_dim %d%s, down_dims %s, "
          "kernel %d, %d groups, cond_predict_scale %s, step embedding %d: %d parameters"
          % (a.checkpoint, where, prefix, cfg2["horizon"], cfg2["input_dim"], cfg2["global_cond_dim"],
             ", local_cond_dim %d (conditioning per sample: %d global values, then %d x %d local)"
             % (cfg2["local_cond_dim"], cfg2["global_cond_dim"], cfg2["horizon"], cfg2["local_cond_dim"]) if cfg2["local_cond_dim"] else "",
             cfg2["down_dims"],
             cfg2["kernel_size"], cfg2["n_groups"], cfg2["cond_predict_scale"], cfg2["diffusion_step_embed_dim"],
             uc.n_params(cfg2)))
    print("scheduler: %s" % json.dumps(cfg2["scheduler"]))
    print("wrote %s and %s (%s weights)%s; %d other tensors of the policy not used%s"
          % (a.out, os.path.splitext(a.out)[0] + ".safetensors", a.dtype,
             " and %s.normalizer.json (%s)" % (os.path.splitext(a.out)[0], ", ".join(sorted(norm))) if norm else "",
             len(others), "" if not others else " (e.g. %s)" % sorted(others)[0]))
    print("round trip: written weights vs the checkpoint's float32 weights, relative difference %.2e" % rel)
    return 0


if __name__ == "__main__":
    sys.exit(main())
