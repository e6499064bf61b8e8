"""
asd on Dask: one sampling run split into tasks of consecutive chains, on any Dask scheduler (a distributed cluster,
a LocalCluster, or Dask's local threads), with the bytes of one process.

    import asd.distributed
    from distributed import Client
    client = Client("tcp://scheduler:8786")                     # or Client(LocalCluster(...)), or none
    x, stats = asd.distributed.sample("builtin:mixture?dim=32", 100_000, steps=100, spec_len=8, seed=7,
                                      chains_per_task=1000).compute()   # x: float32 [100000, 32], one pass
    asd.distributed.to_npy("out/", "builtin:mixture?dim=32", 100_000, spec_len=8, seed=7)   # shards + manifest
    asd.distributed.to_zarr("out.zarr", "builtin:mixture?dim=32", 100_000, spec_len=8, seed=7)

Task i samples chains [chain_offset + i c, chain_offset + (i + 1) c) with the run's seed. Randomness is keyed by
chain id, so the result does not depend on c or on the workers, for DDPM and for ASD with a fixed or unbounded L
(ONNX models: not on the workers; ONNX Runtime does not promise that a row's bits ignore its batch, so c may matter).
"auto" chooses L from the cost curve and from the number of chains sharing each call: pass cost_curve= (a file
from `asd bench --save-cost-curve`, read here and shipped to every worker) and the bytes depend only on c;
without one, every worker times its own curve and auto's lengths may differ between workers and runs. The law is
DDPM's either way.

Each worker process opens a model once (built-ins by name, files by path: the path must be readable on the
workers) and reuses it; each of its threads keeps its own sampler. A worker that cannot open the model, or whose
model file differs from the one the run started with, fails its task with a WorkerError naming the worker.
"""

import hashlib
import operator
import os
import socket
import tempfile
import threading
import time
import uuid
from collections import namedtuple

import numpy as np

import dask
import dask.array as da
from dask.base import tokenize
from dask.highlevelgraph import HighLevelGraph

import asd
from . import shards
from ._native import ERR_IO, AsdError

__all__ = ["sample", "to_npy", "to_zarr", "from_npy", "Sampled", "WorkerError", "DEFAULT_CHAINS_PER_TASK"]

#: Chains per task when not given: large enough that the per-task overhead (a few ms, README "More than one
#: machine") is small next to sampling, small enough to spread over workers.
DEFAULT_CHAINS_PER_TASK = 256

class Sampled(namedtuple("Sampled", ["array", "stats"])):
    """array: a lazy dask.array [n, *sample_shape] float32; stats: a dask Delayed of the merged statistics.

    Compute them with ``sampled.compute()`` (or ``dask.compute(x, st, optimize_graph=False)``): one pass in which each
    task samples once. Dask's array optimization fuses each task into its block under a new key, so an optimized
    ``dask.compute(x, st)`` or ``client.compute([x, st])`` no longer shares the tasks with the statistics and samples
    every chain twice (same bytes, twice the time; measured with one worker: 16.6 s instead of 8.3 s)."""

    __slots__ = ()

    def compute(self, client=None):
        """(numpy samples, merged statistics) in one pass, each task run once; on `client` when given, else on the
        scheduler dask.compute picks (the default client, if one is set)."""
        if client is not None:
            return tuple(client.gather(client.compute([self.array, self.stats], optimize_graph=False)))
        return dask.compute(self.array, self.stats, optimize_graph=False)


class WorkerError(AsdError):
    """A task failed on a worker; the message names the worker (address, host and process)."""

    def __init__(self, message, status=2, status_name=None, worker=None):
        super().__init__(message, status, status_name)
        self.worker = worker

    def __reduce__(self):  # crosses process boundaries with its fields intact
        return (WorkerError, (self.message, self.status, self.status_name, self.worker))


# ------------------------------------------------------------------------------------------ on the worker

_lock = threading.Lock()
_models = {}            # (spec, device, threads) -> (asd.Model, model_sha256)
_opened = [0]           # models this process opened (tests read it through the task metadata)
_curves = {}            # cost-curve sha256 -> a local file with its bytes
_local = threading.local()


def _worker_name():
    try:
        from distributed import get_worker
        address = get_worker().address
    except (ImportError, ValueError):
        address = "local"
    return f"{address} (host {socket.gethostname()}, pid {os.getpid()})"


def _fail(where, e):
    raise WorkerError(f"worker {_worker_name()}: {where}: {e}", getattr(e, "status", 2),
                      getattr(e, "status_name", None), _worker_name()) from None


def _model(job):
    """This process's model for the job (opened on first use), its content hash, and whether this call opened it."""
    key = (job["spec"], job["device"], job["threads"])
    with _lock:
        hit = _models.get(key)
        if hit is not None:
            return hit[0], hit[1], False
        spec = job["spec"]
        try:
            # Hashed before and after opening: a model saved over while a worker opened it would otherwise label
            # the shards it samples with the other file's hash (asd sample --out checks the same way).
            before = None if spec.startswith("builtin:") else shards.model_sha256(spec, None)
            model = asd.Model(spec, device=job["device"], threads=job["threads"])
            digest = shards.model_sha256(spec, model.name)
        except (AsdError, OSError, ValueError) as e:
            _fail(f"cannot open model '{spec}'", e)
        if before is not None and digest != before:
            model.close()
            _fail(f"cannot open model '{spec}'", AsdError(
                f"its files changed while this worker opened it (content sha256 {before} before, {digest} after); "
                "run again once the model's files stay put.", ERR_IO))
        _models[key] = (model, digest)
        _opened[0] += 1
        return model, digest, True


def _curve_path(curve):
    """A local file holding the cost curve the client shipped (written once per process)."""
    if curve is None:
        return None
    digest, data = curve
    with _lock:
        path = _curves.get(digest)
        if path is None:
            fd, path = tempfile.mkstemp(prefix=f"asd-cost-curve-{digest[:12]}-", suffix=".json")
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            _curves[digest] = path
        return path


def _sampler(job, model):
    """This thread's sampler for the job (a sampler serves one call at a time; threads of a worker each keep one)."""
    cache = getattr(_local, "samplers", None)
    if cache is None:
        cache = _local.samplers = {}
    key = (id(model), job["steps"], str(job["spec_len"]), job["sampler"], job["curve"][0] if job["curve"] else None,
           job["max_batch_rows"], job["guidance_scale"], tuple(sorted((job["schedule"] or {}).items())))
    s = cache.get(key)
    if s is None:
        s = cache[key] = model.sampler(steps=job["steps"], spec_len=job["spec_len"], sampler=job["sampler"],
                                       cost_curve=_curve_path(job["curve"]), max_batch_rows=job["max_batch_rows"],
                                       guidance_scale=job["guidance_scale"], schedule=job["schedule"])
    return s


def _sample_chains(job, offset, count, cond):
    """Samples chains [offset, offset + count) of the run on this worker: (samples, metadata)."""
    model, digest, opened = _model(job)
    expected = job.get("model_sha256")
    if expected is not None and digest != expected:
        raise WorkerError(f"worker {_worker_name()}: model '{job['spec']}' has content hash {digest} here, but the run "
                          f"started with {expected}: the workers hold different copies of the model.",
                          worker=_worker_name())
    t0 = time.perf_counter()
    try:
        x, st = _sampler(job, model).sample(count, seed=job["seed"], cond=cond, chain_offset=offset)
    except AsdError as e:
        _fail(f"chains [{offset}, {offset + count})", e)
    meta = {"chain_offset": offset, "samples": count, "worker": _worker_name(), "pid": os.getpid(),
            "opened": opened, "model_sha256": digest, "seconds": time.perf_counter() - t0, "stats": st}
    return x, meta


def _probe(job):
    model, digest, _ = _model(job)
    return {"sample_shape": model.sample_shape, "cond_shape": model.cond_shape, "name": model.name,
            "model_sha256": digest, "engine": asd.version(), "worker": _worker_name()}


def _write_npy(job, run, path, offset, count, cond):
    """One shard: skipped when a complete shard of the same chains is already there (a rerun resumes), else
    sampled and written atomically, npy first, sidecar last."""
    if shards.shard_is_complete(path, run, offset, count):
        rec = shards.read_sidecar(path)
        return {"chain_offset": offset, "samples": count, "worker": _worker_name(), "pid": os.getpid(),
                "opened": False, "model_sha256": run["model_sha256"], "seconds": 0.0, "stats": rec["stats"],
                "resumed": True, "record": rec}
    x, meta = _sample_chains(job, offset, count, cond)
    rec = shards.shard_record(path, run, offset, x, meta["stats"], job["spec"])
    try:
        shards.write_shard(path, x, rec)
    except OSError as e:
        _fail(f"cannot write {path}", e)
    meta.update(resumed=False, record=rec)
    return meta


def _write_zarr(job, path, start, offset, count, cond):
    import zarr
    x, meta = _sample_chains(job, offset, count, cond)
    try:
        zarr.open_array(path, mode="r+")[start:start + count] = x   # one whole chunk: chunk files are replaced atomically
    except (OSError, ValueError, KeyError) as e:
        _fail(f"cannot write {path}", e)
    return meta


# ------------------------------------------------------------------------------------------ on the client

def _refuse_model_folder(where, spec, what):
    """Output inside a model folder would change the model's content hash (it covers every file in the folder) under
    the run: workers would see another model, and shards written by `asd sample --out` there never merge."""
    if not os.path.isdir(spec):
        return
    folder, target = os.path.realpath(spec), os.path.realpath(where)
    if target == folder or target.startswith(folder.rstrip(os.sep) + os.sep):
        raise AsdError(f"{what} {where} is inside the model folder {spec}, whose content hash covers the files in it; "
                       "write elsewhere.")


def _spec_of(model):
    if isinstance(model, asd.Model):
        return model.spec
    if isinstance(model, (str, os.PathLike)):
        return os.fspath(model)
    raise AsdError(f"model must be a spec string (builtin:..., a file or a folder) or an asd.Model, not {type(model).__name__}.")


def _default_client(client):
    if client is not None:
        return client
    try:
        from distributed import default_client
        return default_client()
    except (ImportError, ValueError):
        return None


def _on_cluster(client, fn, *args):
    """Runs one small function where the tasks will run (a worker of the client, or Dask's default scheduler)."""
    if client is not None:
        return client.submit(fn, *args, pure=False).result()
    return dask.delayed(fn, pure=False)(*args).compute()


def _blocks(n, chains_per_task, chain_offset):
    c = DEFAULT_CHAINS_PER_TASK if chains_per_task is None else asd._int(chains_per_task, "chains_per_task", 1, 2**31 - 1)
    c = min(c, n)
    return [(chain_offset + start, min(c, n - start)) for start in range(0, n, c)], c


def _prepare(model, n, steps, spec_len, sampler, seed, cond, chains_per_task, chain_offset, cost_curve,
             max_batch_rows, guidance_scale, schedule, device, threads, client):
    """Checks the arguments on the client, opens the model once on the cluster, and lays out the tasks."""
    spec = _spec_of(model)
    n = asd._int(n, "n", 1, 2**31 - 1)
    seed = asd._int(seed, "seed", 0, 2**64 - 1)
    chain_offset = asd._int(chain_offset, "chain_offset", 0, 2**64 - 1)
    steps = asd._int(steps, "steps", 1, 2**31 - 1)
    max_batch_rows = asd._int(max_batch_rows, "max_batch_rows", 1, 2**31 - 1)
    threads = asd._int(threads, "threads", 0, 2**31 - 1)
    if sampler not in ("asd", "ddpm"):
        raise AsdError(f"sampler={sampler!r}: expected 'asd' or 'ddpm'.")
    asd.encode_spec_len(spec_len)
    curve = None
    if cost_curve is not None:
        if sampler != "asd" or str(spec_len).strip().lower() != "auto":
            raise AsdError("cost_curve is used only by spec_len='auto' with sampler='asd'.")
        try:
            with open(cost_curve, "rb") as f:
                data = f.read()
        except OSError as e:
            raise AsdError(f"cost_curve {cost_curve}: {e}", 12) from None
        curve = (hashlib.sha256(data).hexdigest(), data)
    job = {"spec": spec, "device": device, "threads": threads, "steps": steps, "spec_len": spec_len,
           "sampler": sampler, "seed": seed, "max_batch_rows": max_batch_rows, "guidance_scale": guidance_scale,
           "schedule": dict(schedule) if schedule else None, "curve": curve, "model_sha256": None}
    if isinstance(cond, da.Array) and (cond.ndim <= 1 or cond.shape[0] == 1):
        cond = cond.compute()  # one row: small, and the manifest records its hash
    client = _default_client(client)
    info = _on_cluster(client, _probe, job)
    job["model_sha256"] = info["model_sha256"]
    blocks, c = _blocks(n, chains_per_task, chain_offset)
    cond_size = int(np.prod(info["cond_shape"]))
    conds = _split_cond(cond, n, cond_size, blocks, chain_offset)
    run = shards.run_record(
        engine=info["engine"], model_sha256=info["model_sha256"], sample_shape=info["sample_shape"],
        sampler=sampler, steps=steps, spec_len=shards.spec_len_text(sampler, spec_len), seed=seed,
        cost_curve_sha256=curve[0] if curve else None, guidance_scale=guidance_scale, schedule=schedule,
        cond="per-chain" if isinstance(cond, da.Array) else shards.cond_digest(cond, n, cond_size))
    return spec, job, blocks, c, conds, info, run, client


def _split_cond(cond, n, cond_size, blocks, chain_offset):
    """The conditioning each task gets: None, the shared row, or its own rows (numpy slices or dask blocks)."""
    if cond is None:
        if cond_size:
            raise AsdError(f"This model is conditional: give cond with {cond_size} values (shared) or shape ({n}, {cond_size}).")
        return [None] * len(blocks)
    if cond_size == 0:
        raise AsdError("This model is unconditional; cond does not apply.")
    if isinstance(cond, da.Array):
        if cond.shape not in ((cond_size,), (n, cond_size)):
            raise AsdError(f"cond has shape {cond.shape}; expected ({cond_size},) or ({n}, {cond_size}).")
        parts = cond.astype(np.float32).rechunk((tuple(k for _, k in blocks), (cond_size,)))
        return list(parts.to_delayed()[:, 0])
    arr, _ = asd._cond_rows(cond, n, cond_size)  # the right count in another shape is refused there
    if arr.size == cond_size:
        return [arr.reshape(cond_size)] * len(blocks)
    if arr.size != n * cond_size:
        raise AsdError(f"cond has {arr.size} values; expected {cond_size} (shared) or {n} x {cond_size} (one row per chain).")
    return [arr[o - chain_offset:o - chain_offset + k] for o, k in blocks]


def _merge(metas):
    st = shards.merge_stats([m["stats"] for m in metas])
    workers = {}
    for m in metas:
        workers[m["worker"]] = workers.get(m["worker"], 0) + 1
    st["distributed"] = {"tasks": len(metas), "workers": workers,
                         "models_opened": sum(1 for m in metas if m["opened"]),
                         "task_seconds": sum(m["seconds"] for m in metas)}
    return st


def _compute(tasks, client, progress):
    """Runs delayed tasks on the client's cluster (or Dask's default scheduler) with an optional progress bar;
    only what the tasks return (small metadata) comes back."""
    if client is not None:
        futures = client.compute(tasks)
        if progress:
            from distributed import progress as bar
            bar(futures, scheduler=client.scheduler.address)
        return client.gather(futures)
    if progress:
        from dask.diagnostics import ProgressBar
        with ProgressBar():
            return list(dask.compute(*tasks))
    return list(dask.compute(*tasks))


def sample(model, n, steps=100, spec_len="auto", sampler="asd", seed=0, cond=None, client=None, chains_per_task=None,
           chain_offset=0, cost_curve=None, max_batch_rows=1024, guidance_scale=None, schedule=None, device="cpu",
           threads=1):
    """
    n chains as a lazy dask.array [n, *sample_shape] (float32, one block per task) and their merged statistics (a
    Delayed dict: the fields of asd.Model.sample's stats summed or averaged as shards.merge_stats says, plus
    "distributed": tasks, workers, models opened). Compute both in one pass: x, st = sample(...).compute() (see
    Sampled: an optimized dask.compute(x, st) samples every chain twice).

    Equals asd.Model(model).sample(n, ...)[0] byte for byte for DDPM and fixed or unbounded spec_len, for any
    chains_per_task and any workers (auto: see the module docstring). model: a spec string or an asd.Model (its
    spec is used; workers open their own). cond: None, one row (shared), or one row per chain (numpy or dask
    array of shape (n, cond_size)). threads: threads per model on each worker (Dask runs one task per worker
    thread). client: the distributed Client to open the model with (default: the default client, else Dask's
    local scheduler); the array computes on whatever scheduler dask.compute is given.
    """
    spec, job, blocks, c, conds, info, run, client = _prepare(
        model, n, steps, spec_len, sampler, seed, cond, chains_per_task, chain_offset, cost_curve, max_batch_rows,
        guidance_scale, schedule, device, threads, client)
    token = tokenize(job, blocks, [tokenize(x) for x in conds])
    shape = tuple(info["sample_shape"])
    tasks = [dask.delayed(_sample_chains, pure=True)(job, o, k, cnd, dask_key_name=f"asd-sample-{token}-{i}")
             for i, ((o, k), cnd) in enumerate(zip(blocks, conds))]
    # Block i of the array is item 0 of task i: one layer whose keys the dashboard shows as "asd-samples".
    name = f"asd-samples-{token}"
    layer = {(name, i) + (0,) * len(shape): (operator.getitem, t.key, 0) for i, t in enumerate(tasks)}
    graph = HighLevelGraph.from_collections(name, layer, dependencies=tasks)
    array = da.Array(graph, name, chunks=(tuple(k for _, k in blocks),) + tuple((d,) for d in shape),
                     dtype=np.float32, meta=np.empty((0,) * (1 + len(shape)), dtype=np.float32))
    stats = dask.delayed(_merge, pure=True)([t[1] for t in tasks], dask_key_name=f"asd-stats-{token}")
    return Sampled(array, stats)


def to_npy(directory, model, n, steps=100, spec_len="auto", sampler="asd", seed=0, cond=None, client=None,
           chains_per_task=None, chain_offset=0, cost_curve=None, max_batch_rows=1024, guidance_scale=None,
           schedule=None, device="cpu", threads=1, progress=False):
    """
    Samples n chains straight to disk: one shard per task, DIRECTORY/chains-<first>-<end>.npy with its sidecar
    manifest (.npy.json, the format `asd merge` reads), then DIRECTORY/manifest.json listing every shard with the
    run's seed, model content hash, offsets, shapes and merged stats. Samples never pass through the client.
    Shards are written atomically (npy, then sidecar) and a complete shard of the same run is not sampled again,
    so a rerun after a crash resumes, and a task retried after a worker died rewrites the same bytes. A folder
    holding shards of another run, or of another split of this one, is refused. Returns the manifest.
    """
    spec, job, blocks, c, conds, info, run, client = _prepare(
        model, n, steps, spec_len, sampler, seed, cond, chains_per_task, chain_offset, cost_curve, max_batch_rows,
        guidance_scale, schedule, device, threads, client)
    directory = os.fspath(directory)
    _refuse_model_folder(directory, spec, "to_npy's folder")
    os.makedirs(directory, exist_ok=True)
    names = [f"chains-{o:012d}-{o + k:012d}.npy" for o, k in blocks]
    _refuse_foreign_shards(directory, run, set(names))
    token = uuid.uuid4().hex
    tasks = [dask.delayed(_write_npy, pure=False)(job, run, os.path.join(directory, name), o, k, cnd,
                                                   dask_key_name=f"asd-npy-{token}-{i}")
             for i, (name, (o, k), cnd) in enumerate(zip(names, blocks, conds))]
    t0 = time.perf_counter()
    metas = _compute(tasks, client, progress)
    elapsed = time.perf_counter() - t0
    _sweep_partial(directory)
    records = shards.check_tiling([m["record"] for m in metas], expect_offset=chain_offset, expect_samples=n)
    stats = _merge(metas)
    stats["distributed"]["elapsed_seconds"] = elapsed
    stats["distributed"]["resumed"] = sum(1 for m in metas if m.get("resumed"))
    manifest = {"format": shards.MANIFEST_FORMAT, "version": shards.VERSION, "file": None,
                "chain_offset": chain_offset, "samples": n, "shape": [n] + list(info["sample_shape"]), "dtype": "<f4",
                "model": spec, "run": run, "stats": stats,
                "shards": [{k: r[k] for k in ("file", "chain_offset", "samples", "shape", "data_sha256")} for r in records]}
    shards.write_json(os.path.join(directory, "manifest.json"), manifest)
    return manifest


def _refuse_foreign_shards(directory, run, names):
    for entry in sorted(os.listdir(directory)):
        if not entry.endswith(".npy" + shards.SIDECAR_SUFFIX):
            continue
        rec = shards.read_sidecar(os.path.join(directory, entry[:-len(shards.SIDECAR_SUFFIX)]))
        if rec is None:
            continue
        if rec.get("run") != run:
            raise AsdError(f"{directory} holds {entry} from another run; write into an empty folder.")
        if rec.get("file") not in names:
            raise AsdError(f"{directory} holds {entry}, a shard of this run split differently "
                           "(another chains_per_task or chain_offset); write into an empty folder.")


def _sweep_partial(directory):
    """Temporary files that writers killed half-way left behind (every task of this run has finished)."""
    for entry in os.listdir(directory):
        if entry.startswith("chains-") and entry.endswith(".tmp"):
            try:
                os.unlink(os.path.join(directory, entry))
            except OSError:
                pass


def to_zarr(path, model, n, steps=100, spec_len="auto", sampler="asd", seed=0, cond=None, client=None,
            chains_per_task=None, chain_offset=0, cost_curve=None, max_batch_rows=1024, guidance_scale=None,
            schedule=None, device="cpu", threads=1, progress=False, overwrite=False):
    """
    Samples n chains into a zarr array at PATH (a folder on storage every worker can write), one zarr chunk per task
    (chunk files are replaced atomically, so a retried task rewrites its chunk whole). attrs["asd"] holds the
    manifest (run, offsets, shape) with "complete": false until every task has finished, then the merged stats.
    An existing array of the same run and layout is rewritten in place; one of another run is refused unless
    overwrite=True. Returns the manifest.
    """
    import zarr
    spec, job, blocks, c, conds, info, run, client = _prepare(
        model, n, steps, spec_len, sampler, seed, cond, chains_per_task, chain_offset, cost_curve, max_batch_rows,
        guidance_scale, schedule, device, threads, client)
    path = os.fspath(path)
    _refuse_model_folder(path, spec, "to_zarr's array")
    shape = (n,) + tuple(info["sample_shape"])
    chunks = (c,) + tuple(info["sample_shape"])
    manifest = {"format": shards.MANIFEST_FORMAT, "version": shards.VERSION, "file": os.path.basename(path),
                "chain_offset": chain_offset, "samples": n, "shape": list(shape), "dtype": "<f4", "model": spec,
                "run": run, "chains_per_task": c, "complete": False}
    existing = None
    if os.path.exists(path) and not overwrite:
        try:
            existing = zarr.open_array(path, mode="r")
        except (ValueError, KeyError) as e:  # zarr's ArrayNotFoundError is a ValueError
            raise AsdError(f"{path} exists and is not a zarr array ({e}); pass overwrite=True to replace it.") from None
        old = existing.attrs.get("asd", {})
        old = old if isinstance(old, dict) else {}   # attrs written by something else: another run's, refused below
        if old.get("run") != run or tuple(existing.shape) != shape or tuple(existing.chunks) != chunks \
                or old.get("chain_offset") != chain_offset:
            raise AsdError(f"{path} holds another run (or another layout of this one); pass overwrite=True to replace it.")
    z = zarr.open_array(path, mode="w" if existing is None else "r+", shape=shape, chunks=chunks, dtype="<f4")
    z.attrs["asd"] = manifest
    token = uuid.uuid4().hex
    tasks = [dask.delayed(_write_zarr, pure=False)(job, path, o - chain_offset, o, k, cnd,
                                                    dask_key_name=f"asd-zarr-{token}-{i}")
             for i, ((o, k), cnd) in enumerate(zip(blocks, conds))]
    t0 = time.perf_counter()
    metas = _compute(tasks, client, progress)
    stats = _merge(metas)
    stats["distributed"]["elapsed_seconds"] = time.perf_counter() - t0
    manifest.update(stats=stats, complete=True)
    z.attrs["asd"] = manifest
    return manifest


def _load_shard(path, rec):
    try:
        return shards.load_checked(path, rec)
    except ValueError as e:
        raise AsdError(str(e)) from None


def from_npy(directory):
    """
    A lazy dask.array over the shards in DIRECTORY (checked: one run, contiguous chains) and their manifest. Each
    shard is read from its own .npy in DIRECTORY (a sidecar naming another file is refused) and checked against its
    sidecar's shape and data hash when computed.
    """
    directory = os.fspath(directory)
    recs = []
    try:
        for entry in sorted(os.listdir(directory)):
            if entry.endswith(".npy"):
                rec = shards.read_sidecar(os.path.join(directory, entry))
                if rec is None:
                    raise AsdError(f"{os.path.join(directory, entry)} has no shard manifest ({entry}{shards.SIDECAR_SUFFIX}).")
                recs.append(shards.check_record(rec, entry))
        recs = shards.check_tiling(recs)
    except ValueError as e:
        raise AsdError(f"{directory}: {e}") from None
    load = dask.delayed(_load_shard, pure=True)
    parts = [da.from_delayed(load(os.path.join(directory, r["file"]), r), tuple(r["shape"]), dtype=np.float32) for r in recs]
    return (parts[0] if len(parts) == 1 else da.concatenate(parts, axis=0)), recs
