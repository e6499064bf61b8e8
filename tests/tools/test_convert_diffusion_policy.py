#!/usr/bin/python3
"""Checks tools/convert_diffusion_policy.py on checkpoints laid out as diffusion_policy writes them.

Usage: /usr/bin/python3 tests/tools/test_convert_diffusion_policy.py [ASD-COMMAND...]

Builds, in a temporary folder, a workspace checkpoint {"cfg": <OmegaConf-like config>, "state_dicts": {"model",
"ema_model"}} whose config objects are pickled as omegaconf classes (faked in this process only: the converter, run
as a separate process, has no omegaconf and must read them with its restricted unpickler), plus broken variants. Then
runs the converter and checks: the EMA weights are the ones written, bit for bit; the architecture, horizon, groups
and noise scheduler come from the checkpoint; the normalizer is written; float16 conversion works; every broken
checkpoint fails with exit code 2 and a message naming the tensor or setting. With ASD-COMMAND (e.g. the published
asd executable), the converted model is also sampled by asd. Prints one line per check and, last, "N passed, M failed".
"""

import json
import os
import subprocess
import sys
import tempfile
import types
from collections import OrderedDict

import numpy as np
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tools"))
import mlp_common as mc  # noqa: E402
import unet1d_common as uc  # noqa: E402

CONVERTER = os.path.join(ROOT, "tools", "convert_diffusion_policy.py")
passed = failed = 0


def check(name, ok, detail=""):
    global passed, failed
    if ok:
        passed += 1
        print("ok    " + name)
    else:
        failed += 1
        print("FAIL  %s %s" % (name, detail))


# OmegaConf's DictConfig / AnyNode pickle their state as {"_content": ...} / {"_val": ...}; these stand-ins are
# registered under omegaconf's module names in this process only, so the pickle names those classes.
def _fake_module(name, cls):
    parent = name.split(".")[0]
    if parent not in sys.modules:
        sys.modules[parent] = types.ModuleType(parent)
        sys.modules[parent].__path__ = []
    mod = types.ModuleType(name)
    setattr(mod, cls.__name__, cls)
    cls.__module__ = name
    sys.modules[name] = mod


class DictConfig:
    def __init__(self, content):
        self._content = {k: (v if isinstance(v, DictConfig) else AnyNode(v)) for k, v in content.items()}
        self._metadata = {"object_type": dict}

    def __getstate__(self):
        return {"_content": self._content, "_metadata": self._metadata, "_parent": None}

    def __setstate__(self, s):
        self.__dict__.update(s)


class AnyNode:
    def __init__(self, v):
        self._val = v

    def __getstate__(self):
        return {"_val": self._val, "_metadata": None, "_parent": None}

    def __setstate__(self, s):
        self.__dict__.update(s)


_fake_module("omegaconf.dictconfig", DictConfig)
_fake_module("omegaconf.nodes", AnyNode)

CFG = {"format": "asd-unet1d", "version": 1, "horizon": 8, "input_dim": 3, "global_cond_dim": 5,
       "diffusion_step_embed_dim": 16, "down_dims": [16, 32, 64], "kernel_size": 5, "n_groups": 4,
       "cond_predict_scale": True, "prediction_type": "epsilon"}
SCHED = {"_target_": "diffusers.schedulers.scheduling_ddpm.DDPMScheduler", "num_train_timesteps": 50,
         "beta_start": 0.0001, "beta_end": 0.02, "beta_schedule": "squaredcos_cap_v2", "variance_type": "fixed_small",
         "clip_sample": True, "prediction_type": "epsilon"}


def dp_config(down_dims=None, local_cond_dim=None):
    model = {"_target_": "diffusion_policy.model.diffusion.conditional_unet1d.ConditionalUnet1D", "input_dim": 3,
             "local_cond_dim": local_cond_dim, "global_cond_dim": 5, "diffusion_step_embed_dim": 16,
             "down_dims": down_dims or [16, 32, 64], "kernel_size": 5, "n_groups": 4, "cond_predict_scale": True}
    policy = {"_target_": "diffusion_policy.policy.diffusion_unet_lowdim_policy.DiffusionUnetLowdimPolicy",
              "model": DictConfig(model), "noise_scheduler": DictConfig(SCHED), "horizon": 8, "num_inference_steps": 50}
    return DictConfig({"name": "train_diffusion_unet_lowdim", "horizon": 8, "policy": DictConfig(policy)})


def state_dicts(seed):
    torch.manual_seed(seed)
    cfg = uc.parse_config(dict(CFG), "test")
    ema = uc.module_tensors(uc.build_module(cfg))
    model = OrderedDict((k, v + 0.5) for k, v in ema.items())

    def policy(t):
        sd = OrderedDict(("model." + k, torch.from_numpy(v)) for k, v in t.items())
        sd["normalizer.params_dict.action.scale"] = torch.tensor([2.0, 2.0, 2.0])
        sd["normalizer.params_dict.action.offset"] = torch.tensor([0.0, 0.1, -0.1])
        sd["normalizer.params_dict.obs.scale"] = torch.ones(5)
        sd["normalizer.params_dict.obs.offset"] = torch.zeros(5)
        return sd
    return ema, policy(ema), policy(model)


def convert(args):
    p = subprocess.run([sys.executable, CONVERTER] + args, capture_output=True, text=True, timeout=600)
    return p.returncode, p.stdout + p.stderr


def same_model(converted_json, reference_json, pruned=()):
    """Whether a converted model has the reference's tensors bit for bit and its architecture (as float32); tensors
    under a prefix in pruned may be missing from the converted model (an ONNX export drops what the forward never uses)."""
    with open(os.path.splitext(converted_json)[0] + ".safetensors", "rb") as f:
        got, _, _ = mc.parse_safetensors(f.read())
    with open(os.path.splitext(reference_json)[0] + ".safetensors", "rb") as f:
        ref, _, _ = mc.parse_safetensors(f.read())
    ref = {k: v for k, v in ref.items() if k in got or not k.startswith(tuple(pruned)) or not pruned}
    a = uc.parse_config(json.load(open(converted_json)), converted_json)
    b = uc.parse_config(json.load(open(reference_json)), reference_json)
    keys = ("horizon", "input_dim", "global_cond_dim", "local_cond_dim", "diffusion_step_embed_dim", "down_dims", "kernel_size",
            "n_groups", "final_n_groups", "cond_predict_scale", "group_norm_eps")
    bad = [k for k in keys if a[k] != b[k]] + sorted(set(got) ^ set(ref)) + [k for k in ref if k in got and not np.array_equal(got[k], ref[k])]
    return not bad, "differ: %s" % bad[:5]


def groupnorm_variant(model):
    """The export with every Reshape/InstanceNormalization/Reshape/Mul/Add group norm replaced by one
    GroupNormalization node (opset 21 semantics: scale and shift per channel)."""
    import onnx
    from onnx import helper, numpy_helper

    m = onnx.ModelProto()
    m.CopyFrom(model)
    g = m.graph
    users = {}
    for n in g.node:
        for i in n.input:
            users.setdefault(i, []).append(n)
    consts = {i.name: numpy_helper.to_array(i) for i in g.initializer}
    for n in g.node:
        if n.op_type == "Constant":
            consts[n.output[0]] = numpy_helper.to_array(next(a.t for a in n.attribute if a.name == "value"))

    def next_node(value):
        found = [n for n in users.get(value, []) if n.op_type != "Shape"]
        assert len(found) == 1, value
        return found[0]

    replace, drop, added = {}, set(), []
    for n in list(g.node):
        if n.op_type != "Conv" or not n.input[1].endswith(".block.0.weight"):
            continue
        r1 = next_node(n.output[0])
        norm = next_node(r1.output[0])
        r2 = next_node(norm.output[0])
        mul = next_node(r2.output[0])
        add = next_node(mul.output[0])
        assert (r1.op_type, norm.op_type, r2.op_type, mul.op_type, add.op_type) == ("Reshape", "InstanceNormalization", "Reshape", "Mul", "Add")
        groups = int(consts[norm.input[1]].size)
        eps = next(a.f for a in norm.attribute if a.name == "epsilon")
        tag = "gn%d" % len(added)
        scale = consts[[i for i in mul.input if i != r2.output[0]][0]].reshape(-1)
        shift = consts[[i for i in add.input if i != mul.output[0]][0]].reshape(-1)
        added += [numpy_helper.from_array(scale.astype(np.float32), tag + "_scale"), numpy_helper.from_array(shift.astype(np.float32), tag + "_bias")]
        replace[id(r1)] = helper.make_node("GroupNormalization", [n.output[0], tag + "_scale", tag + "_bias"], [add.output[0]],
                                           num_groups=groups, epsilon=eps)
        drop.update(id(x) for x in (norm, r2, mul, add))
        drop.update(id(x) for x in users.get(n.output[0], []) if x.op_type == "Shape")
    nodes = [replace.get(id(n), n) for n in g.node if id(n) not in drop]
    del g.node[:]
    g.node.extend(nodes)
    g.initializer.extend(added)
    for o in m.opset_import:
        if o.domain in ("", "ai.onnx"):
            o.version = 21
    return m


def onnx_checks(tmp, asd):
    """ONNX exports (torch.onnx.export of the module, as tools/make_unet1d_models.py and train_unet_policy.py write
    them, with the group norms' scale and shift folded into anonymous constants) convert to the weights they were
    exported from, bit for bit; the scheduler comes from scheduler_config.json beside model.onnx; broken graphs fail
    naming the tensor."""
    import onnx

    for name, onnx_path, ref in (
            ("the trained policy", "models/unet-policy/policy.onnx", "models/unet-policy/policy.json"),
            ("the small fixture (4 groups, FiLM scale, final block 8 groups)", "tests/fixtures/unet1d/small.onnx", "tests/fixtures/unet1d/small.json"),
            ("the float16 fixture (unconditional, FiLM shift)", "tests/fixtures/unet1d/small_f16.onnx", "tests/fixtures/unet1d/small_f16.json"),
            ("the local-conditioning fixture (inputs cond and local_cond; the unused local block pruned)",
             "tests/fixtures/unet1d/small_local.onnx", "tests/fixtures/unet1d/small_local.json")):
        out = os.path.join(tmp, "onnx-" + os.path.basename(onnx_path)[:-5], "unet.json")
        rc, text = convert([os.path.join(ROOT, onnx_path), "--out", out])
        ok, why = (rc == 0, text)
        if ok:
            ok, why = same_model(out, os.path.join(ROOT, ref), pruned=("local_cond_encoder.1.",))
        check("ONNX export of %s: the weights and architecture it was exported from" % name, ok, why)

    # Settings diffusion_policy's own models never change but the format carries: read from the graph, not defaulted.
    odd = uc.parse_config(dict(CFG, final_n_groups=4, group_norm_eps=1e-6, horizon=12), "test")
    torch.manual_seed(3)
    module = uc.build_module(odd)
    with open(os.path.join(tmp, "odd.json"), "w") as f:
        json.dump(dict(CFG, final_n_groups=4, group_norm_eps=1e-6, horizon=12), f)
    uc.write_model(os.path.join(tmp, "odd.json"), odd, uc.module_tensors(module), "F32")
    uc.export_onnx(module, odd, os.path.join(tmp, "odd.onnx"))
    out = os.path.join(tmp, "onnx-odd", "unet.json")
    rc, text = convert([os.path.join(tmp, "odd.onnx"), "--out", out])
    ok, why = (rc == 0, text)
    if ok:
        ok, why = same_model(out, os.path.join(tmp, "odd.json"))
    check("ONNX export with the final block at 4 groups, epsilon 1e-6 and horizon 12: read from the graph", ok, why)

    # Exports that store their weights in float16 and cast each to float32 where it is used
    # (tools/make_unet1d_models.py --variants: tiny_f16.onnx names the float16 initializer NAME.f16 and casts it to NAME,
    # as tools/export_mlp_onnx.py does; sigmoid_f16.onnx, a fork of the same weights, keeps NAME and casts it to a new
    # name): the casts are followed to the initializers, so each converts to tiny.onnx's architecture with every
    # tensor rounded to float16, and nothing else changed (the converter does not run the graph, so the fork's edit
    # does not show here).
    outs = {}
    for stem in ("tiny", "tiny_f16", "sigmoid_f16"):
        outs[stem] = os.path.join(tmp, "onnx-" + stem, "unet.json")
        rc, text = convert([os.path.join(ROOT, "tests/fixtures/unet1d_variants", stem + ".onnx"), "--out", outs[stem]])
        if rc != 0:
            break
    for half in ("tiny_f16", "sigmoid_f16"):
        ok, why = (rc == 0, text)
        if ok:
            tensors = {}
            for stem in ("tiny", half):
                with open(os.path.splitext(outs[stem])[0] + ".safetensors", "rb") as f:
                    tensors[stem], _, _ = mc.parse_safetensors(f.read())
            a = uc.parse_config(json.load(open(outs["tiny"])), outs["tiny"])
            b = uc.parse_config(json.load(open(outs[half])), outs[half])
            single, rounded = tensors["tiny"], tensors[half]
            bad = [k for k in ("horizon", "down_dims", "kernel_size", "n_groups", "group_norm_eps") if a[k] != b[k]]
            bad += sorted(set(single) ^ set(rounded))
            bad += [k for k in single if k in rounded and not np.array_equal(
                np.asarray(rounded[k], dtype=np.float32), np.asarray(single[k], dtype=np.float32).astype(np.float16).astype(np.float32))]
            moved = [k for k in single if k in rounded and not np.array_equal(np.asarray(rounded[k]), np.asarray(single[k]))]
            ok, why = not bad and len(moved) > 0, "differ: %s; %d tensors moved by the rounding" % (bad[:5], len(moved))
        check("ONNX export with float16 weights cast to float32 where used (%s): tiny.onnx's network, rounded to float16" % half, ok, why)

    # The same network inside the wrapper of Chi et al.'s notebook (wrapped.onnx: every parameter under
    # "nets.noise_pred_net.", longer than the exporter's own names): the prefix comes off, and tiny.onnx's
    # architecture and tensors come out bit for bit.
    out = os.path.join(tmp, "onnx-wrapped", "unet.json")
    rc, text = convert([os.path.join(ROOT, "tests/fixtures/unet1d_variants", "wrapped.onnx"), "--out", out])
    ok, why = (rc == 0 and os.path.exists(outs["tiny"]), text)
    if ok:
        ok, why = same_model(out, outs["tiny"])
    check("ONNX export of a wrapped U-Net (prefix nets.noise_pred_net.): tiny.onnx's network, bit for bit", ok, why)

    small = onnx.load(os.path.join(ROOT, "tests/fixtures/unet1d/small.onnx"))

    # Exporters at opset >= 18 may write each group norm as one GroupNormalization node (scale and shift per channel,
    # as opset 21 defines them) instead of Reshape / InstanceNormalization / Reshape / Mul / Add. Debian's torch and
    # onnx cannot write that opset, so the test rewrites the small fixture's export that way.
    gn_path = os.path.join(tmp, "groupnorm", "model.onnx")
    os.makedirs(os.path.dirname(gn_path))
    onnx.save(groupnorm_variant(small), gn_path)
    with open(os.path.join(ROOT, "tests/fixtures/unet1d/small.json")) as f:
        small_cfg = json.load(f)
    with open(os.path.join(os.path.dirname(gn_path), "scheduler_config.json"), "w") as f:
        json.dump(dict(small_cfg["scheduler"], prediction_type=small_cfg["prediction_type"]), f)
    out = os.path.join(tmp, "onnx-groupnorm", "unet.json")
    rc, text = convert([gn_path, "--out", out])
    ok, why = (rc == 0, text)
    if ok:
        ok, why = same_model(out, os.path.join(ROOT, "tests/fixtures/unet1d/small.json"))
    check("ONNX export with GroupNormalization nodes (opset 21): the weights and architecture it was written from", ok, why)
    if asd:
        # The published asd takes the GroupNormalization graph over natively and samples the bits of small.json (a
        # fixed L: with auto the rounds, hence the bytes, follow the timings).
        outs = []
        for model in (os.path.dirname(gn_path), os.path.join(ROOT, "tests/fixtures/unet1d/small.json")):
            npy = os.path.join(tmp, "gn-%d.npy" % len(outs))
            p = subprocess.run(asd + ["sample", "--model", model, "--steps", "10", "--samples", "3", "--seed", "4", "--spec-len", "4",
                                      "--cond", "0.1,0.2,0.3,0.4,0.5", "--no-plot", "--out", npy],
                               capture_output=True, text=True, timeout=600)
            outs.append((p.returncode, p.stdout + p.stderr, open(npy, "rb").read() if p.returncode == 0 else b""))
        check("asd runs the GroupNormalization export natively with small.json's bits", all(o[0] == 0 for o in outs)
              and "asd's native ConditionalUnet1D" in outs[0][1] and outs[0][2] == outs[1][2] and len(outs[0][2]) > 128,
              outs[0][1][-400:] + outs[1][1][-400:])

    # A policy exported whole: the observation normalised inside the graph, or a second output. The converter takes
    # the U-Net's weights and says the rest is the caller's; asd runs such a file through ONNX Runtime, with a note.
    def normalised_cond(m):
        g = m.graph
        g.initializer.append(onnx.numpy_helper.from_array(np.full(5, 2.0, dtype=np.float32), "obs_scale"))
        for n in g.node:
            for k, i in enumerate(n.input):
                if i == "cond":
                    n.input[k] = "cond_scaled"
        g.node.insert(0, onnx.helper.make_node("Mul", ["cond", "obs_scale"], ["cond_scaled"]))

    def second_output(m):
        m.graph.output.append(onnx.helper.make_tensor_value_info("/Concat_output_0", onnx.TensorProto.FLOAT, None))

    def split_cond(m):
        # The conditioning as two inputs, concatenated in the graph: ONNX Runtime would build a row in input order,
        # the native model reads the Concat's order, so asd leaves it to ONNX Runtime.
        g = m.graph
        for k, i in enumerate(g.input):
            if i.name == "cond":
                del g.input[k]
                break
        g.input.extend([onnx.helper.make_tensor_value_info("cond_b", onnx.TensorProto.FLOAT, ["batch", 3]),
                        onnx.helper.make_tensor_value_info("cond_a", onnx.TensorProto.FLOAT, ["batch", 2])])
        g.node.insert(0, onnx.helper.make_node("Concat", ["cond_a", "cond_b"], ["cond"], axis=1))

    for what, edit, why in (("the observation normalised in the graph", normalised_cond, "input 'cond' goes into a Mul node"),
                            ("a second output", second_output, "2 outputs"),
                            ("two conditioning inputs", split_cond, "2 conditioning inputs")):
        m = onnx.ModelProto()
        m.CopyFrom(small)
        edit(m)
        path = os.path.join(tmp, "wrapped-%d" % len(what), "model.onnx")
        os.makedirs(os.path.dirname(path))
        onnx.save(m, path)
        rc, text = convert([path, "--out", os.path.join(tmp, "wrapped-%d.json" % len(what))])
        check("ONNX graph with %s: the converter warns that only the U-Net converts" % what,
              rc == 0 and "computes more than the ConditionalUnet1D" in text and why in text, text)
        if asd:
            p = subprocess.run(asd + ["sample", "--model", os.path.dirname(path), "--steps", "5", "--samples", "2", "--no-plot",
                                      "--cond", "0.1,0.2,0.3,0.4,0.5"], capture_output=True, text=True, timeout=600)
            text = p.stdout + p.stderr
            # ONNX Runtime then runs it, or (two outputs) asks which output to use: either way not the native U-Net.
            check("ONNX graph with %s: asd leaves it to ONNX Runtime, noting why" % what, "asd's native" not in text
                  and ("cpu (ONNX Runtime)" in text or "name the one to use" in text)
                  and "computes more than the ConditionalUnet1D" in text and why in text, text[-600:])

    folder = os.path.join(tmp, "onnx-folder")
    os.makedirs(folder)
    onnx.save(small, os.path.join(folder, "model.onnx"))
    with open(os.path.join(folder, "scheduler_config.json"), "w") as f:
        json.dump({"num_train_timesteps": 50, "beta_schedule": "linear", "prediction_type": "epsilon"}, f)
    out = os.path.join(tmp, "onnx-folder-out", "unet.json")
    rc, text = convert([folder, "--out", out])
    check("an ONNX model folder: model.onnx with the scheduler_config.json beside it", rc == 0
          and json.load(open(out))["scheduler"]["num_train_timesteps"] == 50
          and json.load(open(out))["scheduler"]["beta_schedule"] == "linear", text)

    def broken_onnx(what, edit, expect):
        m = onnx.ModelProto()
        m.CopyFrom(small)
        edit(m)
        path = os.path.join(tmp, "broken-%d.onnx" % abs(hash(what)))
        onnx.save(m, path)
        rc, text = convert([path, "--out", os.path.join(tmp, "broken-onnx.json")])
        check("%s: exit 2 naming %s" % (what, expect), rc == 2 and expect in text, text)

    def unfold_add(m):
        # The first group norm's shift comes from a graph input instead of a constant: nothing to read it from.
        conv = next(n for n in m.graph.node if n.op_type == "Conv" and n.input[1] == "down_modules.0.0.blocks.0.block.0.weight")
        users = {i: n for n in m.graph.node for i in n.input}
        cur = conv.output[0]
        while users[cur].op_type != "Add":
            cur = users[cur].output[0]
        add = users[cur]
        const = next(i for i in add.input if i != cur)
        m.graph.input.append(onnx.helper.make_tensor_value_info("shift", onnx.TensorProto.FLOAT, None))
        add.input[list(add.input).index(const)] = "shift"

    broken_onnx("an ONNX group norm whose shift is not a constant", unfold_add, "'down_modules.0.0.blocks.0.block.1.bias'")

    def rename_conv(m):
        w = "mid_modules.1.blocks.0.block.0.weight"
        next(i for i in m.graph.initializer if i.name == w).name = "onnx::Conv_1"
        for n in m.graph.node:
            for k, i in enumerate(n.input):
                if i == w:
                    n.input[k] = "onnx::Conv_1"

    broken_onnx("an ONNX convolution whose weight lost its name", rename_conv, "'mid_modules.1.blocks.0.block.0.weight'")
    junk = os.path.join(tmp, "junk.onnx")
    with open(junk, "wb") as f:
        f.write(b"\x08\x07 not an onnx model")
    rc, text = convert([junk, "--out", os.path.join(tmp, "junk-onnx.json")])
    check("a corrupt ONNX file: exit 2 with a message", rc == 2 and "error:" in text, text)
    # afl's mutant of the fuzz seed (a Transpose without outputs, a Constant whose data does not fill its shape): asd's
    # import once threw IndexOutOfRange on it; the converter threw a ValueError traceback.
    mutant = os.path.join(ROOT, "tools/fuzz/regressions/onnx-unet1d/data-move-without-outputs.onnx")
    rc, text = convert([mutant, "--out", os.path.join(tmp, "mutant.json")])
    check("the fuzz reproducer: exit 2 naming the Constant it cannot read", rc == 2 and "cannot be read" in text
          and "Traceback" not in text, text)


def local_checks(tmp, asd):
    """A policy with local conditioning (obs_as_local_cond, local_cond_dim 4): converts with local_cond_dim, its
    weights bit for bit, and asd takes 5 global + 8 x 4 local values per sample; a configuration that disagrees fails."""
    torch.manual_seed(3)
    cfg = uc.parse_config(dict(CFG, local_cond_dim=4), "test-local")
    tensors = uc.module_tensors(uc.build_module(cfg))
    check("the local block's tensors are in the state dict", "local_cond_encoder.1.residual_conv.weight" in tensors, sorted(tensors)[:3])
    sd = OrderedDict(("model." + k, torch.from_numpy(v)) for k, v in tensors.items())
    path = os.path.join(tmp, "local.ckpt")
    torch.save({"cfg": dp_config(local_cond_dim=4), "state_dicts": {"ema_model": sd}}, path)
    out = os.path.join(tmp, "local", "policy.json")
    rc, text = convert([path, "--out", out])
    check("a checkpoint with local conditioning converts, saying how conditioning is laid out", rc == 0
          and "local_cond_dim 4 (conditioning per sample: 5 global values, then 8 x 4 local)" in text, text)
    if rc == 0:
        j = json.load(open(out))
        with open(os.path.splitext(out)[0] + ".safetensors", "rb") as f:
            written, _, _ = mc.parse_safetensors(f.read())
        check("local_cond_dim 4 in the JSON, every tensor (both local blocks) bit for bit", j.get("local_cond_dim") == 4
              and sorted(written) == sorted(tensors) and all(np.array_equal(written[k], tensors[k]) for k in tensors), json.dumps(j))
        if asd:
            cond = ",".join("%.2f" % (0.01 * i) for i in range(5 + 8 * 4))
            p = subprocess.run(asd + ["sample", "--model", out, "--steps", "5", "--samples", "2", "--no-plot", "--cond", cond],
                               capture_output=True, text=True, timeout=600)
            check("asd samples it with 5 + 8 x 4 conditioning values", p.returncode == 0 and "sequential model calls" in p.stdout, p.stdout + p.stderr)
            p = subprocess.run(asd + ["sample", "--model", out, "--steps", "5", "--no-plot", "--cond", "0.1,0.2,0.3,0.4,0.5"],
                               capture_output=True, text=True, timeout=600)
            check("5 values (the global part only) are refused, naming the layout", p.returncode != 0
                  and "5 global values, then 8 positions x 4 local values" in p.stderr, p.stdout + p.stderr)
    # An export in diffusion_policy's forward order (local_cond before global_cond): ONNX Runtime reads a conditioning
    # row in input order, so asd's native import must too; the same row through both engines gives the same samples.
    module = uc.build_module(cfg, tensors)
    exported = os.path.join(tmp, "local-first.onnx")
    uc.export_onnx(module, cfg, exported, local_first=True)
    rc, text = convert([exported, "--out", os.path.join(tmp, "local-first", "unet.json")])
    check("converting a local-first export warns that the converted model reads global values first", rc == 0
          and "takes its local conditioning input before the global one" in text, text)
    if asd:
        cond = ",".join("%.2f" % (0.05 * ((i % 7) - 3)) for i in range(5 + 8 * 4))
        outs = []
        for engine in ("on", "off"):
            npy = os.path.join(tmp, "local-first-%s.npy" % engine)
            p = subprocess.run(asd + ["sample", "--model", exported, "--onnx-native", engine, "--sampler", "ddpm", "--steps", "5",
                                      "--samples", "2", "--seed", "4", "--no-plot", "--cond", cond, "--out", npy],
                               capture_output=True, text=True, timeout=600)
            outs.append(np.load(npy) if p.returncode == 0 else None)
            if p.returncode != 0:
                check("asd samples the local-first export with --onnx-native %s" % engine, False, p.stdout + p.stderr)
        if all(o is not None for o in outs):
            diff = float(np.abs(outs[0] - outs[1]).max())
            check("local-first export: the native import and ONNX Runtime read the same row alike (max difference %.1e)" % diff,
                  diff < 1e-4, diff)
    torch.save({"cfg": dp_config(local_cond_dim=3), "state_dicts": {"ema_model": sd}}, path)
    rc, text = convert([path, "--out", os.path.join(tmp, "local-mismatch.json")])
    check("a configuration whose local_cond_dim disagrees with the weights: exit 2 naming it", rc == 2 and "local_cond_dim = 3" in text, text)


def main():
    asd = sys.argv[1:]
    tmp = tempfile.mkdtemp(prefix="asd-convert-")
    ema, ema_sd, model_sd = state_dicts(1)

    ckpt = os.path.join(tmp, "latest.ckpt")
    torch.save({"cfg": dp_config(), "state_dicts": {"model": model_sd, "ema_model": ema_sd, "optimizer": {}},
                "pickles": {}}, ckpt)
    out = os.path.join(tmp, "conv", "policy.json")
    rc, text = convert([ckpt, "--out", out])
    check("a workspace checkpoint converts (exit 0)", rc == 0, text)
    if rc == 0:
        with open(out) as f:
            j = json.load(f)
        check("architecture, horizon and n_groups from the checkpoint", all(j[k] == CFG[k] for k in (
            "horizon", "input_dim", "global_cond_dim", "diffusion_step_embed_dim", "down_dims", "kernel_size", "n_groups",
            "cond_predict_scale")), json.dumps(j))
        check("the noise scheduler the model was trained with", j["scheduler"]["num_train_timesteps"] == 50
              and j["scheduler"]["beta_schedule"] == "squaredcos_cap_v2", json.dumps(j["scheduler"]))
        with open(os.path.join(tmp, "conv", "policy.safetensors"), "rb") as f:
            written, _, dtypes = mc.parse_safetensors(f.read())
        check("the EMA weights are written bit for bit", sorted(written) == sorted(ema)
              and all(np.array_equal(written[k], ema[k]) for k in ema) and set(dtypes.values()) == {"F32"})
        norm_path = os.path.join(tmp, "conv", "policy.normalizer.json")
        check("the normalizer goes to NAME.normalizer.json", os.path.exists(norm_path)
              and abs(json.load(open(norm_path))["action"]["offset"][1] - 0.1) < 1e-6)
        check("the round trip is exact for float32", "relative difference 0.00e+00" in text, text)
        if asd:
            p = subprocess.run(asd + ["sample", "--model", out, "--steps", "5", "--samples", "2", "--no-plot",
                                      "--cond", "0.1,0.2,0.3,0.4,0.5"], capture_output=True, text=True, timeout=600)
            check("asd samples the converted model", p.returncode == 0 and "sequential model calls" in p.stdout, p.stdout + p.stderr)

    rc, text = convert([ckpt, "--out", os.path.join(tmp, "model.json"), "--state-dict", "model", "--dtype", "F16"])
    ok = rc == 0
    if ok:
        with open(os.path.join(tmp, "model.safetensors"), "rb") as f:
            written, _, dtypes = mc.parse_safetensors(f.read())
        w = "down_modules.0.0.blocks.0.block.0.weight"
        ok = dtypes[w] == "F16" and np.array_equal(written[w], (ema[w] + 0.5).astype(np.float16).astype(np.float32)) \
            and dtypes["down_modules.0.0.blocks.0.block.1.weight"] == "F32"
    check("--state-dict model --dtype F16: the other weights, rounded to float16 (norms stay float32)", ok, text)

    # A bare state dict: no configuration, so the horizon must be given; n_groups defaults to 8 with a note.
    bare = os.path.join(tmp, "unet.pt")
    torch.save(OrderedDict((k, torch.from_numpy(v)) for k, v in ema.items()), bare)
    rc, text = convert([bare, "--out", os.path.join(tmp, "bare.json")])
    check("a bare state dict without --horizon fails naming --horizon", rc == 2 and "--horizon" in text, text)
    rc, text = convert([bare, "--out", os.path.join(tmp, "bare.json"), "--horizon", "8", "--n-groups", "4"])
    check("a bare state dict with --horizon and --n-groups converts", rc == 0, text)

    def broken(name, edit, expect):
        sd = OrderedDict(ema_sd)
        edit(sd)
        path = os.path.join(tmp, name + ".ckpt")
        torch.save({"cfg": dp_config(), "state_dicts": {"ema_model": sd}}, path)
        rc, text = convert([path, "--out", os.path.join(tmp, name + ".json")])
        check("%s: exit 2 naming %s" % (name, expect), rc == 2 and expect in text, text)

    broken("missing tensor", lambda sd: sd.pop("model.mid_modules.1.blocks.0.block.0.weight"),
           "'mid_modules.1.blocks.0.block.0.weight'")
    broken("mis-shaped tensor", lambda sd: sd.__setitem__("model.up_modules.0.2.conv.weight", torch.zeros(32, 16, 4)),
           "'up_modules.0.2.conv.weight'")
    broken("extra tensor", lambda sd: sd.__setitem__("model.mid_modules.2.blocks.0.block.0.weight", torch.zeros(64, 64, 5)),
           "'mid_modules.2.blocks.0.block.0.weight' is not part of this ConditionalUnet1D")
    broken("a local conditioning block without its other tensors",
           lambda sd: sd.__setitem__("model.local_cond_encoder.0.blocks.0.block.0.weight", torch.zeros(16, 2, 5)),
           "'local_cond_encoder.0.blocks.0.block.0.bias' (shape [16]) is missing")
    broken("NaN weight", lambda sd: sd["model.final_conv.1.weight"].__setitem__((0, 0, 0), float("nan")),
           "'final_conv.1.weight'")
    broken("no U-Net", lambda sd: [sd.pop(k) for k in list(sd) if k.startswith("model.")], "no ConditionalUnet1D")

    path = os.path.join(tmp, "mismatch.ckpt")
    torch.save({"cfg": dp_config(down_dims=[16, 32, 128]), "state_dicts": {"ema_model": ema_sd}}, path)
    rc, text = convert([path, "--out", os.path.join(tmp, "mismatch.json")])
    check("configuration disagreeing with the weights: exit 2 naming down_dims", rc == 2 and "down_dims" in text, text)

    junk = os.path.join(tmp, "junk.ckpt")
    with open(junk, "wb") as f:
        f.write(b"PK\x03\x04 not really a zip")
    rc, text = convert([junk, "--out", os.path.join(tmp, "junk.json")])
    check("a corrupt file: exit 2 with a message", rc == 2 and "error:" in text, text)

    local_checks(tmp, asd)
    onnx_checks(tmp, asd)
    print("%d passed, %d failed" % (passed, failed))
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
