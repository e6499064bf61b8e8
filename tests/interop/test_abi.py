"""The ABI has one definition: every [UnmanagedCallersOnly] EntryPoint is declared in asd.h, every declaration is
exported by libasd.so (each published flavour), and the Python bindings and the robustness test cover every export."""

import ctypes
import glob
import os
import re
import subprocess

import pytest

import asd
from asd import _native

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
HEADER = os.path.join(ROOT, "Asd.Interop", "include", "asd.h")


def entry_points():
    names = set()
    for path in glob.glob(os.path.join(ROOT, "Asd.Interop", "**", "*.cs"), recursive=True):
        with open(path, encoding="utf-8") as f:
            names |= set(re.findall(r'UnmanagedCallersOnly\(EntryPoint\s*=\s*"(\w+)"\)', f.read()))
    return names


def declared():
    with open(HEADER, encoding="utf-8") as f:
        text = re.sub(r"/\*.*?\*/", "", f.read(), flags=re.S)
    return set(re.findall(r"ASD_API\s+[^;(]*?\b(asd_\w+)\s*\(", text))


def exported(lib):
    out = subprocess.run(["nm", "-D", "--defined-only", lib], capture_output=True, text=True, check=True).stdout
    return {line.split()[2].split("@")[0] for line in out.splitlines()
            if len(line.split()) == 3 and line.split()[1] == "T" and line.split()[2].startswith("asd_")}


def libraries():
    here = os.path.dirname(os.path.dirname(asd.library_path()))
    found = sorted(glob.glob(os.path.join(here, "linux-x64-v*", "libasd.so")))
    assert len(found) == 2, f"expected the v3 and v4 builds beside {asd.library_path()}, found {found}"
    return found


def test_every_entry_point_is_declared_in_the_header():
    eps, decl = entry_points(), declared()
    assert len(eps) >= 20
    assert eps - decl == set(), "EntryPoints missing from asd.h"


def test_every_declaration_is_an_entry_point():
    assert declared() - entry_points() == set(), "asd.h declares functions no EntryPoint implements"


@pytest.mark.parametrize("flavour", ["linux-x64-v3", "linux-x64-v4"])
def test_every_declaration_is_exported(flavour):
    lib = [p for p in libraries() if flavour in p][0]
    exp = exported(lib)
    assert declared() - exp == set(), f"declared in asd.h but not exported by {lib}"
    assert exp - declared() == set(), f"exported by {lib} but not declared in asd.h"


def undocumented(names, text):
    return {n for n in names if not re.search(r"\b" + n + r"\b", text)}


def test_every_declaration_is_named_in_the_c_guide():
    # docs/libasd.md is the C user's guide: a function it never names is one they cannot find (four were missing).
    with open(os.path.join(ROOT, "docs", "libasd.md"), encoding="utf-8") as f:
        guide = f.read()
    assert undocumented(declared(), guide) == set(), "declared in asd.h but not named in docs/libasd.md"
    # control: the guide without one name reports it (a prefix of a longer name does not count)
    assert undocumented(declared(), re.sub(r"\basd_model_cond_size\b", "x", guide)) == {"asd_model_cond_size"}


def test_python_binds_every_export_with_argtypes_and_restype():
    assert set(_native.SIGNATURES) == declared()
    lib = _native.lib()
    for name in declared():
        fn = getattr(lib, name)
        assert fn.argtypes is not None, name
        assert name in _native.SIGNATURES and fn.restype == _native.SIGNATURES[name][0], name


def test_robustness_test_calls_every_export():
    with open(os.path.join(ROOT, "tests", "interop", "robustness.c"), encoding="utf-8") as f:
        text = f.read()
    missing = {name for name in declared() if not re.search(r"\b" + name + r"\s*\(", text)}
    assert missing == set()


def test_library_needs_no_dotnet_runtime():
    for lib in libraries():
        out = subprocess.run(["readelf", "-d", lib], capture_output=True, text=True, check=True).stdout
        needed = set(re.findall(r"\(NEEDED\).*\[(.+)\]", out))
        assert needed <= {"libc.so.6", "libm.so.6", "ld-linux-x86-64.so.2", "libdl.so.2", "libpthread.so.0", "librt.so.1"}, needed
        assert "$ORIGIN" in out and "libasd.so" in out  # RUNPATH $ORIGIN and SONAME


def test_fuzz_harness_calls_every_export():
    # tests/interop/fuzz_abi.c (issue 13) drives every export with hostile arguments.
    with open(os.path.join(ROOT, "tests", "interop", "fuzz_abi.c"), encoding="utf-8") as f:
        text = f.read()
    missing = {name for name in declared() if not re.search(r"\b" + name + r"\s*\(", text)}
    assert missing == set()


@pytest.mark.parametrize("name, struct", [("asd_model_default_params", _native.ModelParams),
                                          ("asd_sampler_default_params", _native.SamplerParams),
                                          ("asd_sample_default_params", _native.SampleParams)])
def test_python_structs_are_the_library_structs(name, struct):
    # default_params writes min(size, the library's struct) and reports the bytes written in struct_size: given a
    # larger buffer, it reports the library's own size, which must be the size of the Python mirror (same fields).
    class Padded(ctypes.Structure):
        _fields_ = [("p", struct), ("tail", ctypes.c_ubyte * 64)]

    lib = _native.lib()
    padded = Padded()
    ctypes.memset(ctypes.byref(padded.tail), 0xAB, 64)
    fn = getattr(lib, name)
    status = fn(ctypes.cast(ctypes.byref(padded), fn.argtypes[0]), ctypes.sizeof(padded))
    assert status == 0
    assert padded.p.struct_size == ctypes.sizeof(struct)
    assert bytes(padded.tail) == b"\xab" * 64, "the library wrote past its own struct"


def test_python_defaults_are_the_engines():
    # One set of defaults (SamplerRequest.Default): the keyword defaults of Model.sampler and Model.sample are what
    # asd_sampler_default_params reports, so Python, C and the CLI start from the same request.
    import inspect
    lib = _native.lib()
    p = _native.SamplerParams()
    fn = lib.asd_sampler_default_params
    assert fn(ctypes.cast(ctypes.byref(p), fn.argtypes[0]), ctypes.sizeof(p)) == 0
    for method in (asd.Model.sampler, asd.Model.sample):
        d = {k: v.default for k, v in inspect.signature(method).parameters.items()}
        assert d["steps"] == p.steps
        assert asd.encode_spec_len(d["spec_len"]) == p.spec_len
        assert {"asd": 0, "ddpm": 1}[d["sampler"]] == p.sampler
        assert d["max_batch_rows"] == p.max_batch_rows
