"""
asd: exact parallel diffusion sampling (DDPM and autospeculative decoding) through libasd.so, with numpy.

    import asd
    model = asd.Model("builtin:mixture?dim=32")
    samples, stats = model.sample(16, steps=100, spec_len=8, seed=7)

A Model is immutable and may be shared by threads; a Sampler (model.sampler(...)) serves one call at a time, so
use one per thread. libasd releases the GIL while it samples (ctypes does), so threads run in parallel.
Speculation length: an int >= 1 (fixed L), "inf" (unbounded) or "auto" (the default: L chosen per round from the
model's batch-cost curve and the running acceptance; stats["spec_len_effective"] lists the lengths it ran, e.g.
"auto 6:14 7:3"; pass cost_curve= a file from `asd bench --save-cost-curve` to make it deterministic).
"""

import ctypes
import json
import numbers
import os
import re
import signal
import threading
from ctypes import POINTER, byref, c_float, c_int32, c_int64, c_size_t, c_void_p

try:
    import numpy as np
except ImportError as _e:  # a bare ModuleNotFoundError would not say that asd is what needs it
    raise ImportError("the asd package needs numpy (samples and conditioning are numpy arrays): install it, e.g. "
                      "`pip install numpy` or `apt install python3-numpy`, into the Python that runs this "
                      f"({_e})") from _e

from . import _native
from ._native import AsdError, Cancelled, flavour, library_path

__all__ = ["AsdError", "Cancelled", "Model", "Sampler", "version", "abi_version", "cpu_features", "flavour",
           "library_path"]
__version__ = "0.1.0"

_SAMPLERS = {"asd": 0, "ddpm": 1}
_SCHEDULE_KEYS = ("train_steps", "beta_schedule", "beta_start", "beta_end", "prediction_type", "variance_type",
                  "timestep_spacing", "steps_offset", "clip_sample", "clip_sample_range")


class _CtrlC:
    """
    Ctrl-C during a sampling call on the main thread. The call runs in libasd without the GIL, so Python's SIGINT
    handler can only run inside the progress callback, on entry, before any try of the callback's own: the
    KeyboardInterrupt it raised there was printed ("Exception ignored on calling ctypes callback function") and the run
    went on to its end. While a call runs, SIGINT is recorded instead; the callback (installed for every call on the
    main thread, 0.3-0.4 us per model call on the Zen 3 VM) then cancels the run, and on leaving, the handler the
    caller had is back and the signal is raised again, so the KeyboardInterrupt comes from the line that called
    sample(). Only Python's default handler is replaced: a handler of the caller's own is left to run as it always did.
    """

    def __init__(self):
        self.pending = False
        self._previous = None

    def __enter__(self):
        if threading.current_thread() is threading.main_thread() \
                and signal.getsignal(signal.SIGINT) is signal.default_int_handler:
            self._previous = signal.signal(signal.SIGINT, self._record)
        return self

    def _record(self, _signum, _frame):
        self.pending = True

    def __exit__(self, *_exc):
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
            if self.pending:
                signal.raise_signal(signal.SIGINT)  # the caller's handler, as if the key were pressed now
        return False

    @property
    def watching(self):
        return self._previous is not None


def _c_text(value, field, path=False):
    """
    value as the NUL-terminated UTF-8 the C ABI reads. A NUL inside it would end the string early, so
    "builtin:mixture\\0junk" opened builtin:mixture and a path was cut short silently: refused, as is text that is not
    UTF-8 (an undecodable file name), by the field's name. path: also an os.PathLike (pathlib.Path) or bytes.
    """
    if path and isinstance(value, (os.PathLike, bytes)):
        value = os.fsdecode(os.fspath(value))
    if not isinstance(value, str):
        raise AsdError(f"{field} must be a string{' or a path' if path else ''}, not {type(value).__name__}.")
    if "\0" in value:
        raise AsdError(f"{field} {value!r} contains a NUL character, which would cut it short.")
    try:
        return value.encode("utf-8")
    except UnicodeEncodeError:
        raise AsdError(f"{field} {value!r} is not valid UTF-8 (libasd reads UTF-8 names).") from None


def version():
    """The libasd version string."""
    return _native.lib().asd_version().decode()


def abi_version():
    """The ABI version of the loaded libasd.so."""
    return int(_native.lib().asd_abi_version())


def cpu_features():
    """What the loaded build runs on this CPU: {"build": "x86-64-v4", "active": "avx512", "supported": [...], ...}."""
    raw = _native.lib().asd_cpu_features()
    if raw is None:
        _native.check(_native.ERR_UNSUPPORTED)
    out = dict(pair.split("=", 1) for pair in raw.decode().split())
    out["supported"] = out.get("supported", "").split(",")
    return out


def encode_spec_len(spec_len):
    """The C encoding of a speculation length: int >= 1 -> L, "inf" -> 0, "auto" -> -1 (docs/math.md section 7).

    Strings follow the grammar libasd's C# side parses (SpecLength.Parse; both are tested against
    tests/fixtures/spec_len_grammar.json): trimmed, any case, "auto", "inf", or ASCII digits for 1 .. 2**31 - 1.
    """
    if isinstance(spec_len, str):
        text = spec_len.strip().lower()
        if text == "inf":
            return 0
        if text == "auto":
            return -1
        if _DIGITS.fullmatch(text):
            value = int(text)
            if 1 <= value <= 2**31 - 1:
                return value
            raise AsdError(f"spec_len={spec_len!r} is invalid: a speculation length must be >= 1 and at most "
                           f"{2**31 - 1} (or 'inf', or 'auto').")
        raise AsdError(f"spec_len={spec_len!r}: expected an int >= 1, 'inf' or 'auto'.")
    if isinstance(spec_len, numbers.Integral) and not isinstance(spec_len, bool):
        if spec_len >= 1:
            if spec_len > 2**31 - 1:
                raise AsdError(f"spec_len={spec_len} is too large; use 'inf' for unbounded.")
            return int(spec_len)
        raise AsdError(f"spec_len={spec_len}: a fixed speculation length must be >= 1 "
                       "(use 'inf' for unbounded or 'auto' for automatic).")
    raise AsdError(f"spec_len={spec_len!r}: expected an int >= 1, 'inf' or 'auto'.")


_DIGITS = re.compile("[0-9]+")


def _float_buffer(values, what):
    """A C-contiguous float32 copy (or view) of values, and a pointer to it (AsdError naming `what` if not numbers).
    Complex values are refused (numpy's cast keeps the real part, with a warning at most), and so are finite values
    beyond float32's range (the cast made them infinities, which the library then named as if the caller gave them)."""
    try:
        src = np.asarray(values)
        if np.iscomplexobj(src):
            raise AsdError(f"{what}: complex values; expected real numbers.")
        with np.errstate(over="raise"):
            arr = np.ascontiguousarray(src, dtype=np.float32)
    except FloatingPointError:
        raise AsdError(f"{what}: a value beyond float32's range (magnitude above 3.4e38).") from None
    except (TypeError, ValueError, OverflowError) as e:
        raise AsdError(f"{what}: expected numbers convertible to float32 ({e}).") from None
    return arr, arr.ctypes.data_as(POINTER(c_float))


def _shaped(values, what, shapes, expected):
    """values as a C-contiguous float32 array; one with as many values as a shape of `shapes` has must have that shape
    (AsdError naming `what`, its shape and `expected`). The library counts values only, so a (cond_size, n)
    conditioning given for (n, cond_size) would be read in the wrong order without a word; a wrong count is left to
    the library, whose message explains the layout (a ConditionalUnet1D's global, then local, values)."""
    arr, ptr = _float_buffer(values, what)
    if arr.shape not in shapes and arr.size in {int(np.prod(s)) for s in shapes}:
        raise AsdError(f"{what} has shape {arr.shape}; expected {expected}.")
    return arr, ptr


# The library's refusals of a sample call name asd_sample_params' fields; said in this binding's argument names.
_C_FIELDS = ((re.compile(r"\b(cond|init_noise)_len is (\d+)( floats)?"), r"\1 has \2 values"),
             (re.compile(r"pass cond = NULL"), "pass cond=None"))


def _python_words(message):
    """A library message about asd_sampler_sample's buffers in Python's terms: "cond_len is 3 floats; expected 4 ..."
    becomes "cond has 3 values; expected 4 ...", "pass cond = NULL" "pass cond=None"."""
    for pattern, words in _C_FIELDS:
        message = pattern.sub(words, message)
    return message


def _cond_rows(cond, n, cond_size):
    """The conditioning of n chains: cond_size values shared by all ((cond_size,) or, as the CLI's --cond file,
    (1, cond_size)), or one row per chain, (n, cond_size)."""
    return _shaped(cond, "cond", ((cond_size,), (1, cond_size), (n, cond_size)),
                   f"({cond_size},) (shared by all chains) or ({n}, {cond_size}) (one row per chain)")


def _float(value, what):
    """A Python float for a double field (AsdError naming `what` for anything else, huge ints included)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise AsdError(f"{what}={value!r}: expected a number.")
    try:
        return float(value)
    except OverflowError:
        raise AsdError(f"{what}={value}: too large for a double.") from None


# The most floats one asd_sampler_sample call fills (the library's own limit: the largest .NET array).
_MAX_FLOATS_PER_CALL = 0x7FFFFFC7


def _int(value, what, lo, hi):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise AsdError(f"{what}={value!r}: expected an integer.")
    if not lo <= value <= hi:
        raise AsdError(f"{what}={value}: expected {lo} <= {what} <= {hi}.")
    return int(value)


class _Owned:
    """
    A native handle this object owns (self._handle, self._lib): close() frees it once with the library's
    _FREE function, and so do `with` and garbage collection; _h() is the handle, or AsdError naming _KIND once closed.
    """

    _KIND = ""
    _FREE = ""

    def _h(self):
        _native.check_process()
        if not self._handle:
            raise AsdError(f"The {self._KIND} is closed.", _native.ERR_INVALID_HANDLE)
        return self._handle

    def close(self):
        """Releases the handle (a model stays alive, inside the library, until its samplers are closed too)."""
        if getattr(self, "_handle", None):
            if not _native.forked():  # a fork()'s copy goes with the process; the library must not be called there
                getattr(self._lib, self._FREE)(self._handle)
            self._handle = c_void_p()

    def __del__(self):
        try:
            self.close()
        except Exception:  # noqa: BLE001 - interpreter shutdown may have torn down ctypes already
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class Model(_Owned):
    """An open model: builtin:mixture, builtin:mixture?dim=d, an asd-mlp .json file, a .onnx file or a model folder."""

    _KIND = "model"
    _FREE = "asd_model_free"

    def __init__(self, spec, device="cpu", threads=0, onnx_native=None):
        """onnx_native, for ONNX exports of diffusion_policy's ConditionalUnet1D: None or "auto" (ASD_ONNX_NATIVE if
        set, else asd's native engine where it can take the graph over, else ONNX Runtime), "on" (native or an
        error saying why not) or "off" (ONNX Runtime). Model.runtime says which ran. A file taken over natively is
        first run once beside ONNX Runtime on a probe and stays with ONNX Runtime when the two differ by more than 1e-3
        of the output's scale (ASD_ONNX_NATIVE_CHECK=off skips that check)."""
        lib = _native.lib()
        spec_bytes = _c_text(spec, "spec", path=True)
        if device is not None and not isinstance(device, str):
            raise AsdError(f"device must be a string (cpu, cuda or auto), not {type(device).__name__}.")
        if onnx_native is not None and not isinstance(onnx_native, str):
            raise AsdError(f"onnx_native must be a string (auto, on or off) or None, not {type(onnx_native).__name__}.")
        params = _native.ModelParams()
        _native.check(lib.asd_model_default_params(byref(params), ctypes.sizeof(params)))
        params.device = _c_text(device, "device") if device is not None else None
        params.threads = _int(threads, "threads", -(2**31), 2**31 - 1)
        params.onnx_native = _c_text(onnx_native, "onnx_native") if onnx_native is not None else None
        handle = c_void_p()
        _native.check(lib.asd_model_open(spec_bytes, byref(params), byref(handle)))
        self._handle = handle
        self._lib = lib
        self.spec = spec_bytes.decode("utf-8")

    def _shape(self, fn):
        ndim = c_size_t()
        _native.check(fn(self._h(), None, 0, byref(ndim)))
        dims = (c_int64 * ndim.value)()
        _native.check(fn(self._h(), dims, ndim.value, byref(ndim)))
        return tuple(int(d) for d in dims)

    def _text(self, fn):
        need = c_size_t()
        _native.check(fn(self._h(), None, 0, byref(need)))
        buf = ctypes.create_string_buffer(need.value)
        _native.check(fn(self._h(), buf, need.value, byref(need)))
        return buf.value.decode()

    @property
    def name(self):
        return self._text(self._lib.asd_model_name)

    @property
    def runtime(self):
        """How the model runs, one line for logs: "cpu (asd's kernels)", "cpu (ONNX Runtime)", or for an ONNX
        ConditionalUnet1D run natively "cpu (asd's native ConditionalUnet1D, weights taken from FILE ...)"."""
        return self._text(self._lib.asd_model_runtime)

    @property
    def sample_shape(self):
        """The shape of one sample, for example (2,) or (3, 16, 16)."""
        return self._shape(self._lib.asd_model_sample_shape)

    @property
    def cond_shape(self):
        """The shape of one conditioning row: (cond_size,), which is (0,) for an unconditional model. A ConditionalUnet1D
        with local conditioning takes its global values, then horizon x local_cond_dim values position by position."""
        return self._shape(self._lib.asd_model_cond_shape)

    @property
    def train_steps(self):
        """The number of training steps T of the model's scheduler."""
        v = c_int32()
        _native.check(self._lib.asd_model_train_steps(self._h(), byref(v)))
        return v.value

    @property
    def has_guidance(self):
        v = c_int32()
        _native.check(self._lib.asd_model_has_guidance(self._h(), byref(v)))
        return bool(v.value)

    def sampler(self, steps=100, spec_len="auto", sampler="asd", cost_curve=None, max_batch_rows=1024,
                guidance_scale=None, schedule=None, calibration_seconds=None):
        """A reusable Sampler (one per thread). schedule: dict of scheduler overrides (see Sampler)."""
        return Sampler(self, steps=steps, spec_len=spec_len, sampler=sampler, cost_curve=cost_curve,
                       max_batch_rows=max_batch_rows, guidance_scale=guidance_scale, schedule=schedule,
                       calibration_seconds=calibration_seconds)

    def sample(self, n, steps=100, spec_len="auto", sampler="asd", seed=0, cond=None, chain_offset=0,
               init_noise=None, progress=None, cost_curve=None, max_batch_rows=1024, guidance_scale=None,
               schedule=None):
        """
        Draws n samples. Returns (samples, stats): samples is a float32 array of shape (n, *sample_shape), stats
        the run statistics as a dict (the fields of the CLI's stats JSON). See Sampler.sample for the arguments.
        """
        with self.sampler(steps=steps, spec_len=spec_len, sampler=sampler, cost_curve=cost_curve,
                          max_batch_rows=max_batch_rows, guidance_scale=guidance_scale, schedule=schedule) as s:
            return s.sample(n, seed=seed, cond=cond, chain_offset=chain_offset, init_noise=init_noise,
                            progress=progress)


class Sampler(_Owned):
    """
    A sampler for one model, K steps and one algorithm. Not thread-safe (use one per thread).

    spec_len: int >= 1, "inf" or "auto". sampler: "asd" or "ddpm". cost_curve: a cost-curve file for "auto".
    schedule: overrides of the model's scheduler with diffusers' names: train_steps, beta_schedule, beta_start,
    beta_end, prediction_type, variance_type, timestep_spacing, steps_offset, clip_sample, clip_sample_range.
    """

    _KIND = "sampler"
    _FREE = "asd_sampler_free"

    def __init__(self, model, steps=100, spec_len="auto", sampler="asd", cost_curve=None, max_batch_rows=1024,
                 guidance_scale=None, schedule=None, calibration_seconds=None):
        lib = _native.lib()
        if sampler not in _SAMPLERS:
            raise AsdError(f"sampler={sampler!r}: expected 'asd' or 'ddpm'.")
        p = _native.SamplerParams()
        _native.check(lib.asd_sampler_default_params(byref(p), ctypes.sizeof(p)))
        p.sampler = _SAMPLERS[sampler]
        p.steps = _int(steps, "steps", 1, 2**31 - 1)
        p.spec_len = encode_spec_len(spec_len)
        p.max_batch_rows = _int(max_batch_rows, "max_batch_rows", 1, 2**31 - 1)
        if guidance_scale is not None:
            p.guidance_scale = _float(guidance_scale, "guidance_scale")
        if calibration_seconds is not None:
            # auto's calibration budget: a number of seconds, or < 0 to skip it (see asd_sampler_params)
            p.calibration_seconds = _float(calibration_seconds, "calibration_seconds")
        if cost_curve is not None:
            p.cost_curve_path = _c_text(cost_curve, "cost_curve", path=True)
        for key, value in (schedule or {}).items():
            if key not in _SCHEDULE_KEYS:
                raise AsdError(f"Unknown schedule override {key!r}; expected one of: {', '.join(_SCHEDULE_KEYS)}.")
            if key in ("beta_schedule", "prediction_type", "variance_type", "timestep_spacing"):
                setattr(p, key, _c_text(str(value), key))
            elif key == "clip_sample":
                p.clip_sample = 1 if value else 0
            elif key in ("train_steps", "steps_offset"):
                setattr(p, key, _int(value, key, 0, 2**31 - 1))
            else:
                setattr(p, key, _float(value, key))
        handle = c_void_p()
        _native.check(lib.asd_sampler_create(model._h(), byref(p), byref(handle)))
        self._handle = handle
        self._lib = lib
        self.model = model
        self._shape = model.sample_shape
        self._cond_size = int(np.prod(model.cond_shape))

    def sample(self, n, seed=0, cond=None, chain_offset=0, init_noise=None, progress=None):
        """
        Draws n chains. cond: shape (cond_size,), shared by all chains, or (n, cond_size). init_noise: x_T,
        shape (n, *sample_shape). Any other shape raises AsdError, even with the right number of values. progress(completed_steps, total_steps, model_calls) is called on this thread
        after every model call; a truthy return value cancels the run (raises asd.Cancelled), and an exception
        raised inside it cancels the run and propagates. Ctrl-C (SIGINT, on the main thread, with Python's default
        handler) cancels the run after the model call in progress and raises KeyboardInterrupt. Returns
        (samples, stats).
        """
        n = _int(n, "n", 1, 2**31 - 1)
        seed = _int(seed, "seed", 0, 2**64 - 1)
        chain_offset = _int(chain_offset, "chain_offset", 0, 2**64 - 1)
        size = int(np.prod(self._shape))
        if n * size > _MAX_FLOATS_PER_CALL:
            raise AsdError(f"n={n} samples of shape {self._shape} ({n * size} floats) exceed what one call can produce "
                           f"({_MAX_FLOATS_PER_CALL}); sample in several calls with chain_offset.")
        try:
            out = np.empty((n,) + self._shape, dtype=np.float32)
        except MemoryError:
            raise AsdError(f"n={n} samples of shape {self._shape} need {n * size * 4 / 2**30:.1f} GiB for the output "
                           f"array, more than this process can allocate; sample in several calls with chain_offset.",
                           _native.ERR_OUT_OF_MEMORY) from None
        p = _native.SampleParams()
        _native.check(self._lib.asd_sample_default_params(byref(p), ctypes.sizeof(p)))
        p.seed = seed
        p.chain_offset = chain_offset
        keep = []
        if cond is not None:
            # An unconditional model's refusal is the library's (it names the model); shapes only where it takes some.
            arr, ptr = _cond_rows(cond, n, self._cond_size) if self._cond_size else _float_buffer(cond, "cond")
            keep.append(arr)
            p.cond, p.cond_len = ptr, arr.size
        if init_noise is not None:
            one = tuple(self._shape)  # one chain's x_T: also taken alone when n is 1
            arr, ptr = _shaped(init_noise, "init_noise", ((n,) + one, one) if n == 1 else ((n,) + one,), str((n,) + one))
            keep.append(arr)
            p.init_noise, p.init_noise_len = ptr, arr.size
        raised = []
        with _CtrlC() as ctrl_c:
            if progress is not None or ctrl_c.watching:
                def trampoline(_user, done, total, calls):
                    if ctrl_c.pending:
                        return 1
                    if progress is None:
                        return 0
                    try:
                        return 1 if progress(done, total, calls) else 0
                    except BaseException as e:  # noqa: B036 - re-raised after the C call returns
                        raised.append(e)
                        return 1
                callback = _native.PROGRESS_FN(trampoline)
                keep.append(callback)
                p.progress = callback
            status = self._lib.asd_sampler_sample(self._h(), n, byref(p), out.ctypes.data_as(POINTER(c_float)),
                                                  out.size)
            if ctrl_c.pending:
                return None  # leaving the block raises KeyboardInterrupt through the caller's handler
        if raised:
            raise raised[0]
        try:
            _native.check(status)
        except AsdError as e:
            if type(e) is not AsdError:
                raise
            raise AsdError(_python_words(e.message), e.status, e.status_name) from None
        return out, self.stats()

    def stats(self):
        """The statistics of the last completed run, as a dict (the CLI's stats JSON)."""
        need = c_size_t()
        _native.check(self._lib.asd_sampler_stats_json(self._h(), None, 0, byref(need)))
        buf = ctypes.create_string_buffer(need.value)
        _native.check(self._lib.asd_sampler_stats_json(self._h(), buf, need.value, byref(need)))
        return json.loads(buf.value.decode())
