"""
Shards of one sampling run: the sidecar manifest beside each .npy, the model's content hash, and merged statistics.

A run split by chain offsets (asd.distributed, or `asd sample --chain-offset` in an array job) leaves shards
`X.npy` with a sidecar `X.npy.json` each; `asd merge` and `asd.distributed` read and write the same format
(docs/distributed.md). numpy only: no dask needed here.

    {"format": "asd-shard", "version": 1, "file": "chains-000000000000-000000000064.npy",
     "chain_offset": 0, "samples": 64, "shape": [64, 32], "dtype": "<f4", "data_sha256": "...",
     "model": "builtin:mixture?dim=32",
     "run": {"engine": "0.1.0", "model_sha256": "...", "sample_shape": [32], "sampler": "asd", "steps": 100,
             "spec_len": "8", "cost_curve_sha256": null, "seed": 7, "guidance_scale": null, "guidance_null": null,
             "schedule": {}, "cond": "none"},
     "stats": {...the shard's stats JSON...}}

Shards merge when their "run" objects are equal and their chain ranges [chain_offset, chain_offset + samples) tile
one range with no gap and no overlap.
"""

import hashlib
import json
import os
import re
import stat
import tempfile

import numpy as np

FORMAT = "asd-shard"
MANIFEST_FORMAT = "asd-manifest"
VERSION = 1
SIDECAR_SUFFIX = ".json"
_MODEL_DIGEST = "asd-model-1"
_CHUNK = 1 << 20


def sidecar_path(npy_path):
    """The manifest beside a shard: X.npy -> X.npy.json."""
    return os.fspath(npy_path) + SIDECAR_SUFFIX


def _file_sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(_CHUNK), b""):
            h.update(block)
    return h.hexdigest()


_MAX_JSON_BYTES = 16 << 20  # ResourceLimits.MaxJsonBytes


def _resolves_inside(folder, path):
    """Whether path resolves (links followed) to a file inside folder, as every file a model reads must."""
    real_folder = os.path.realpath(folder)
    return os.path.realpath(path).startswith(real_folder.rstrip(os.sep) + os.sep)


def _weights_in_folder(spec, reference):
    """The path of the weights file reference names, or None where the engine's loader would refuse it (absolute,
    "~", "..", a NUL, or resolving outside the JSON's folder; as Asd.Native's ModelFiles.ResolveInFolder)."""
    if not reference or "\0" in reference or os.path.isabs(reference) or reference.startswith("~"):
        return None
    if ".." in reference.replace("\\", "/").split("/"):
        return None
    folder = os.path.dirname(os.path.abspath(spec))
    path = os.path.join(folder, reference)
    if not os.path.exists(path) or not _resolves_inside(folder, path):
        return None
    return path


def model_files(spec):
    """
    The (role, path) pairs whose bytes define a model spec (as Asd.Native's ModelDigest.Files): a folder -> every
    regular file directly in it (role: its name, in UTF-16 ordinal order, as .NET sorts); an asd-mlp .json ->
    ("json", it) and, when it names one (its "weights" key) or one exists with the same stem, ("weights", the
    safetensors file); any other file -> ("file", it). Built-ins have none. Only files the model may read: a link
    resolving outside the model's folder, or a "weights" reference the loader refuses, is not hashed.
    """
    if spec.startswith("builtin:"):
        return []
    if os.path.isdir(spec):
        names = [n for n in os.listdir(spec)
                 if os.path.isfile(os.path.join(spec, n)) and _resolves_inside(spec, os.path.join(spec, n))]
        names.sort(key=lambda n: n.encode("utf-16-be", "surrogatepass"))
        return [(n, os.path.join(spec, n)) for n in names]
    if not os.path.isfile(spec):
        raise FileNotFoundError(f"Model file '{spec}' does not exist.")
    if not spec.lower().endswith(".json"):
        return [("file", spec)]
    with open(spec, "rb") as f:
        text = f.read(_MAX_JSON_BYTES + 1)
    if len(text) > _MAX_JSON_BYTES:
        # The engine refuses such a file before parsing it; reading it whole here would hold all of it in memory.
        raise ValueError(f"{spec}: the model's JSON is larger than {_MAX_JSON_BYTES} bytes (16 MiB, the limit).")
    doc = json.loads(text.decode("utf-8"))
    reference = doc.get("weights") if isinstance(doc, dict) else None
    if not isinstance(reference, str):
        reference = os.path.basename(os.path.splitext(spec)[0] + ".safetensors")
    weights = _weights_in_folder(spec, reference)
    return [("json", spec), ("weights", weights)] if weights is not None and os.path.isfile(weights) else [("json", spec)]


def model_sha256(spec, name):
    """
    The model's content hash (the same as `asd sample` writes): sha256 of the text "asd-model-1\\n" followed by
    "builtin NAME\\n" for a built-in (NAME = the engine's canonical name, e.g. builtin:mixture?dim=32) or by one
    line "ROLE SHA256-OF-FILE\\n" per file of model_files(spec). Paths do not enter it, so copies of a model on
    different machines hash alike.
    """
    lines = [_MODEL_DIGEST]
    if spec.startswith("builtin:"):
        lines.append(f"builtin {name}")
    else:
        lines.extend(f"{role} {_file_sha256(path)}" for role, path in model_files(spec))
    return hashlib.sha256(("\n".join(lines) + "\n").encode("utf-8")).hexdigest()


def data_sha256(samples):
    """sha256 of the samples as little-endian float32 in C order (the data section of the shard's .npy)."""
    return hashlib.sha256(np.ascontiguousarray(samples, dtype="<f4").tobytes()).hexdigest()


def cond_digest(cond, n, cond_size):
    """The run's conditioning as the manifest records it: "none", "shared:SHA256" (one row for all chains, hashed
    as float32) or "per-chain" (a row per chain: each shard has its own rows, which merging cannot compare)."""
    if cond is None or cond_size == 0:
        return "none"
    arr = np.asarray(cond, dtype="<f4")
    if arr.size == cond_size:
        return "shared:" + hashlib.sha256(np.ascontiguousarray(arr).tobytes()).hexdigest()
    return "per-chain"


def run_record(*, engine, model_sha256, sample_shape, sampler, steps, spec_len, seed, cost_curve_sha256=None,
               guidance_scale=None, guidance_null=None, schedule=None, cond="none"):
    """The fields every shard of one run shares; shards merge only when these are equal."""
    return {"engine": engine, "model_sha256": model_sha256, "sample_shape": [int(d) for d in sample_shape],
            "sampler": sampler, "steps": int(steps), "spec_len": spec_len, "cost_curve_sha256": cost_curve_sha256,
            "seed": int(seed), "guidance_scale": None if guidance_scale is None else float(guidance_scale),
            "guidance_null": guidance_null, "schedule": {k: _plain(v) for k, v in sorted((schedule or {}).items())},
            "cond": cond}


def spec_len_text(sampler, spec_len):
    """The stats' spec_len: "8", "inf", "auto", or "-" for DDPM."""
    if sampler == "ddpm":
        return "-"
    from . import encode_spec_len
    code = encode_spec_len(spec_len)
    return {0: "inf", -1: "auto"}.get(code, str(code))


def _plain(value):
    """A schedule override as JSON sees it (numpy scalars become Python numbers)."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value)
    return str(value)


def shard_record(file, run, chain_offset, samples, stats, model):
    """A shard's sidecar manifest (see the module docstring)."""
    samples = np.asarray(samples)
    return {"format": FORMAT, "version": VERSION, "file": os.path.basename(file), "chain_offset": int(chain_offset),
            "samples": int(samples.shape[0]), "shape": [int(d) for d in samples.shape], "dtype": "<f4",
            "data_sha256": data_sha256(samples), "model": model, "run": run, "stats": stats}


def _replace_atomically(path, write):
    """Writes through a temporary file in the same folder and renames it over path: readers see the old file or
    the whole new one, and a writer killed half-way leaves only a .tmp file behind."""
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=os.path.basename(path) + ".", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def write_json(path, obj):
    _replace_atomically(path, lambda f: f.write((json.dumps(obj, indent=1) + "\n").encode("utf-8")))


def write_shard(path, samples, record):
    """Writes X.npy and then X.npy.json, each atomically. The sidecar comes last: a shard without one is unfinished.
    Rewriting a shard with the same chains writes the same bytes (idempotent)."""
    arr = np.ascontiguousarray(samples, dtype="<f4")
    _replace_atomically(path, lambda f: np.save(f, arr, allow_pickle=False))
    write_json(sidecar_path(path), record)


_MAX_SIDECAR_BYTES = 16 << 20


def open_regular(path, max_bytes=None):
    """
    A binary file object for PATH if it is a regular file (links followed) of at most MAX_BYTES bytes, else ValueError.
    Opened without blocking and checked on the descriptor: a FIFO or a device named like a shard is refused, never
    waited on or read without end.
    """
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise ValueError(f"{path} is not a regular file")
        if max_bytes is not None and st.st_size > max_bytes:
            raise ValueError(f"{path} has {st.st_size} bytes, more than the {max_bytes} a shard manifest may have")
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_sidecar(npy_path):
    """The sidecar of X.npy, or None when it is missing, not a regular file of at most 16 MiB, or not an asd-shard manifest."""
    try:
        with open_regular(sidecar_path(npy_path), _MAX_SIDECAR_BYTES) as f:
            rec = json.loads(f.read().decode("utf-8"))
    except (OSError, ValueError):
        return None
    return rec if isinstance(rec, dict) and rec.get("format") == FORMAT and rec.get("version") == VERSION else None


def check_record(rec, npy_name):
    """
    Checks a sidecar read from disk (another job's or machine's file) before it is trusted: it must describe the
    .npy it sits beside (its "file" is that name, so it can name no other path), and the fields the tiling and the
    loader read must have their types. Raises ValueError naming the field.
    """
    where = npy_name + SIDECAR_SUFFIX
    if rec.get("file") != npy_name:
        raise ValueError(f"{where} describes file {rec.get('file')!r}, not {npy_name}")

    def integer(key, least):
        v = rec.get(key)
        if not isinstance(v, int) or isinstance(v, bool) or v < least:
            raise ValueError(f"{where}: {key!r} must be an integer >= {least} (got {v!r})")
        return v

    integer("chain_offset", 0)
    samples = integer("samples", 1)
    shape = rec.get("shape")
    if not isinstance(shape, list) or not shape or any(not isinstance(d, int) or isinstance(d, bool) or d < 0 for d in shape) \
            or shape[0] != samples:
        raise ValueError(f"{where}: 'shape' must be a list of integers >= 0 starting with samples = {samples} (got {shape!r})")
    if rec.get("dtype") != "<f4":
        raise ValueError(f"{where}: 'dtype' must be \"<f4\" (got {rec.get('dtype')!r})")
    if not isinstance(rec.get("data_sha256"), str):
        raise ValueError(f"{where}: 'data_sha256' must be a string (got {rec.get('data_sha256')!r})")
    if not isinstance(rec.get("run"), dict):
        raise ValueError(f"{where}: 'run' must be an object (got {rec.get('run')!r})")
    return rec


def load_checked(npy_path, rec):
    """A shard's samples, refused unless their dtype, shape and data hash are those its sidecar records."""
    with open_regular(npy_path) as f:
        arr = np.load(f, allow_pickle=False)
    if arr.dtype != np.dtype("<f4") or list(arr.shape) != rec["shape"]:
        raise ValueError(f"{npy_path} holds {arr.dtype} {list(arr.shape)}, but its manifest says <f4 {rec['shape']}")
    if data_sha256(arr) != rec["data_sha256"]:
        raise ValueError(f"{npy_path} does not match its manifest's data_sha256 (changed or torn after it was written)")
    return arr


def shard_is_complete(npy_path, run, chain_offset, samples):
    """True when X.npy and its sidecar describe exactly these chains of this run and the data matches its hash."""
    rec = read_sidecar(npy_path)
    if rec is None or rec.get("run") != run or rec.get("chain_offset") != chain_offset or rec.get("samples") != samples:
        return False
    try:
        arr = np.load(npy_path, allow_pickle=False)
    except (OSError, ValueError):
        return False
    return arr.dtype == np.dtype("<f4") and list(arr.shape) == rec.get("shape") and data_sha256(arr) == rec.get("data_sha256")


# ------------------------------------------------------------------------------------------ statistics

_AUTO = re.compile(r"^auto(?: \d+:\d+)*$")


def _merge_effective(values):
    if all(v == values[0] for v in values) and not values[0].startswith("auto "):
        return values[0]
    counts = {}
    for v in values:
        if not _AUTO.match(v):
            raise ValueError(f"spec_len_effective values cannot be merged: {sorted(set(values))}")
        for pair in v.split()[1:]:
            length, rounds = (int(x) for x in pair.split(":"))
            counts[length] = counts.get(length, 0) + rounds
    return " ".join(["auto"] + [f"{length}:{counts[length]}" for length in sorted(counts)])


def merge_stats(parts):
    """
    The stats of shards taken together, as `asd merge` computes them: invocations, rows, rounds and wall seconds
    add up (wall seconds: summed over shards, i.e. compute time, not the elapsed time of the whole run);
    sequential model calls are averaged over all chains (the mean and maximum over chains); acceptance and round
    lengths are summed by position and length; auto's length histogram is summed. Rows, rounds and acceptance
    equal those of one run of the same chains with a fixed L, and so do the per-chain calls unless max_batch_rows
    splits a round's rows over several calls (long rounds of many chains, e.g. spec_len="inf"); invocations do not
    (one run batches chains of different shards into one call).
    """
    parts = list(parts)
    if not parts:
        raise ValueError("merge_stats needs at least one shard's stats.")
    first = parts[0]
    for key in ("sampler", "steps", "spec_len", "rng"):
        values = {p.get(key) for p in parts}
        if len(values) > 1:
            raise ValueError(f"stats of different runs cannot be merged: {key} is {sorted(map(str, values))}")
    samples = sum(int(p["samples"]) for p in parts)
    calls = sum(round(float(p["sequential_model_calls"]) * int(p["samples"])) for p in parts)
    mean = calls / samples if samples else 0.0
    steps = int(first["steps"])
    acc, lengths = {}, {}
    for p in parts:
        for a in p.get("acceptance_by_position", []):
            t = acc.setdefault(int(a["position"]), [0, 0])
            t[0] += int(a["attempts"])
            t[1] += int(a["accepted"])
        for r in p.get("round_lengths", []):
            lengths[int(r["length"])] = lengths.get(int(r["length"]), 0) + int(r["rounds"])
    out = {}
    if "model" in first:
        out["model"] = first["model"]
    out.update({
        "sampler": first["sampler"], "steps": steps, "spec_len": first["spec_len"],
        "spec_len_effective": _merge_effective([p["spec_len_effective"] for p in parts]),
        "samples": samples, "sequential_model_calls": mean,
        "sequential_model_calls_max": max(int(p["sequential_model_calls_max"]) for p in parts),
        "algorithmic_speedup": steps / mean if mean > 0 else 0.0,
        "denoiser_invocations": sum(int(p["denoiser_invocations"]) for p in parts),
        "rows_evaluated": sum(int(p["rows_evaluated"]) for p in parts),
        "rounds": sum(int(p["rounds"]) for p in parts),
        "acceptance_by_position": [{"position": j, "attempts": acc[j][0], "accepted": acc[j][1]} for j in sorted(acc)],
        "round_lengths": [{"length": length, "rounds": lengths[length]} for length in sorted(lengths)],
        "wall_seconds": sum(float(p["wall_seconds"]) for p in parts),
        "rng": first.get("rng"),
    })
    return out


def check_tiling(records, expect_offset=None, expect_samples=None):
    """
    Sorts shard records by chain offset and checks that they form one run: equal "run" objects, contiguous chain
    ranges with no overlap. Raises ValueError naming the shards and the chains at fault.
    """
    if not records:
        raise ValueError("no shards")
    recs = sorted(records, key=lambda r: (r["chain_offset"], r["samples"]))
    base = recs[0]
    for r in recs[1:]:
        if r["run"] != base["run"]:
            diff = sorted(k for k in set(r["run"]) | set(base["run"]) if r["run"].get(k) != base["run"].get(k))
            raise ValueError(f"{r['file']} and {base['file']} come from different runs (they differ in: {', '.join(diff)})")
    for a, b in zip(recs, recs[1:]):
        end = a["chain_offset"] + a["samples"]
        if b["chain_offset"] < end:
            raise ValueError(f"{a['file']} and {b['file']} overlap: both hold chains [{b['chain_offset']}, {min(end, b['chain_offset'] + b['samples'])})")
        if b["chain_offset"] > end:
            raise ValueError(f"chains [{end}, {b['chain_offset']}) are missing between {a['file']} and {b['file']}")
    first = recs[0]["chain_offset"]
    total = sum(r["samples"] for r in recs)
    if expect_offset is not None and first != expect_offset:
        raise ValueError(f"the shards start at chain {first}, expected {expect_offset}")
    if expect_samples is not None and total != expect_samples:
        raise ValueError(f"the shards hold {total} chains, expected {expect_samples}")
    return recs
