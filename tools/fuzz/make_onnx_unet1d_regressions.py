#!/usr/bin/env python3
"""Writes the onnx-unet1d fuzz regressions that are edits of the seed tools/fuzz/seeds/onnx-unet1d/tiny.onnx.

    /usr/bin/python3 tools/fuzz/make_onnx_unet1d_regressions.py   (apt: python3-onnx)

The CI fuzz smoke of 2026-12-06 (stop 43) saved one crash of the onnx-unet1d target in 10 seconds, and the CI log kept
only its count. Reading the importer for what a mutant could reach found these, each of which crashed the importer
(an exception other than InvalidDataException) before the fix that came with this script:

  prefix-longer-than-a-name.onnx   every U-Net parameter under a prefix longer than one of the exporter's own names
                                   ("onnx::Mul_546"): cutting the prefix off every initializer's name ran past the end
                                   of the short one (ArgumentOutOfRangeException). A real export of a wrapped policy
                                   ("nets.noise_pred_net.", Chi et al.'s notebook) is this case; the unit tests run one
                                   (tests/fixtures/unet1d_variants/wrapped.onnx).
  prefix-overlaps-block-name.onnx  the prefix "P.block.0" and a convolution weight "P.block.0.weight": the module path
                                   between the prefix and ".block.0.weight" had a negative length.
  empty-tensor-huge-dim.onnx       diffusion_step_encoder.1.weight of shape [0, 3000000000] and no bytes: it fills its
                                   shape (zero values), and the dimension overflowed the cast to the configuration's
                                   int (OverflowException).

tests/Asd.Tests (HostileInputTests.EveryFuzzReproducerIsRejectedCleanly) and the CI fuzz stage replay every file of
tools/fuzz/regressions/onnx-unet1d.
"""
import copy
import os
import sys

import onnx

HERE = os.path.dirname(os.path.abspath(__file__))
SEED = os.path.join(HERE, "seeds", "onnx-unet1d", "tiny.onnx")
OUT = os.path.join(HERE, "regressions", "onnx-unet1d")
UNET = ("diffusion_step_encoder", "down_modules", "up_modules", "mid_modules", "final_conv", "local_cond_encoder")


def renamed(model, rename):
    """The model with initializers and node inputs renamed alike."""
    m = copy.deepcopy(model)
    for t in m.graph.initializer:
        t.name = rename(t.name)
    for n in m.graph.node:
        for k, x in enumerate(n.input):
            n.input[k] = rename(x)
    return m


def main():
    base = onnx.load(SEED)
    names = [t.name for t in base.graph.initializer]
    prefix = "a_prefix_longer_than_the_exporters_own_names."
    shortest = min((x for x in names if not x.startswith(UNET)), key=len)
    if len(prefix) <= len(shortest):
        sys.exit("the seed's shortest other name (%s) is not shorter than the prefix" % shortest)
    files = {
        "prefix-longer-than-a-name.onnx": renamed(base, lambda x: prefix + x if x.startswith(UNET) else x),
        "prefix-overlaps-block-name.onnx": renamed(base, lambda x: {
            "diffusion_step_encoder.1.weight": "P.block.0diffusion_step_encoder.1.weight",
            "final_conv.1.weight": "P.block.0.weight"}.get(x, x)),
    }
    empty = copy.deepcopy(base)
    for t in empty.graph.initializer:
        if t.name == "diffusion_step_encoder.1.weight":
            t.ClearField("raw_data")
            del t.float_data[:]
            del t.dims[:]
            t.dims.extend([0, 3000000000])
    files["empty-tensor-huge-dim.onnx"] = empty
    os.makedirs(OUT, exist_ok=True)
    for name, m in files.items():
        path = os.path.join(OUT, name)
        onnx.save(m, path)
        print("wrote %s (%d bytes)" % (path, os.path.getsize(path)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
