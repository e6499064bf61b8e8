"""Finding and binding libasd.so: the CPU-level choice, ctypes structs, and argtypes/restype for every export."""

import ctypes
import os
import platform
import sys
import threading
from ctypes import (POINTER, c_char_p, c_double, c_float, c_int32, c_int64, c_size_t, c_uint32, c_uint64,
                    c_void_p)

ABI_VERSION = 1
LIBRARY_ENV = "ASD_LIBRARY"

# asd.h status codes (values are part of the ABI).
OK = 0
CANCELLED = 1
ERR_INVALID_ARGUMENT = 2
ERR_NULL_POINTER = 3
ERR_BUFFER_SIZE = 4
ERR_INVALID_HANDLE = 5
ERR_MODEL = 6
ERR_UNSUPPORTED = 7
ERR_NUMERIC = 8
ERR_BUSY = 9
ERR_STATE = 10
ERR_OUT_OF_MEMORY = 11
ERR_IO = 12
ERR_INTERNAL = 99

# The flags /proc/cpuinfo shows for each x86-64 level that libasd ships (lzcnt appears as "abm").
V4_FLAGS = frozenset({"avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl"})
V3_FLAGS = frozenset({"avx", "avx2", "fma", "bmi1", "bmi2", "f16c", "movbe", "abm"})


class AsdError(Exception):
    """A failed libasd call (or an argument the bindings refused). `status` is the asd.h status code."""

    def __init__(self, message, status=ERR_INVALID_ARGUMENT, status_name=None):
        super().__init__(message)
        self.message = message
        self.status = status
        self.status_name = status_name or _STATUS_NAMES.get(status, "ASD_ERR_UNKNOWN")


class Cancelled(AsdError):
    """The progress callback cancelled the run (ASD_CANCELLED); no samples were produced."""


_STATUS_NAMES = {OK: "ASD_OK", CANCELLED: "ASD_CANCELLED", ERR_INVALID_ARGUMENT: "ASD_ERR_INVALID_ARGUMENT",
                 ERR_NULL_POINTER: "ASD_ERR_NULL_POINTER", ERR_BUFFER_SIZE: "ASD_ERR_BUFFER_SIZE",
                 ERR_INVALID_HANDLE: "ASD_ERR_INVALID_HANDLE", ERR_MODEL: "ASD_ERR_MODEL",
                 ERR_UNSUPPORTED: "ASD_ERR_UNSUPPORTED", ERR_NUMERIC: "ASD_ERR_NUMERIC", ERR_BUSY: "ASD_ERR_BUSY",
                 ERR_STATE: "ASD_ERR_STATE", ERR_OUT_OF_MEMORY: "ASD_ERR_OUT_OF_MEMORY", ERR_IO: "ASD_ERR_IO",
                 ERR_INTERNAL: "ASD_ERR_INTERNAL"}


# ------------------------------------------------------------------------------------------ structs (asd.h)

class ModelParams(ctypes.Structure):
    _fields_ = [("struct_size", c_uint32), ("device", c_char_p), ("threads", c_int32), ("onnx_native", c_char_p)]


PROGRESS_FN = ctypes.CFUNCTYPE(c_int32, c_void_p, c_int64, c_int64, c_int64)


class SamplerParams(ctypes.Structure):
    _fields_ = [("struct_size", c_uint32), ("sampler", c_int32), ("steps", c_int32), ("spec_len", c_int32),
                ("max_batch_rows", c_int32), ("guidance_scale", c_float), ("cost_curve_path", c_char_p),
                ("train_steps", c_int32), ("steps_offset", c_int32), ("clip_sample", c_int32),
                ("beta_start", c_double), ("beta_end", c_double), ("clip_sample_range", c_double),
                ("beta_schedule", c_char_p), ("prediction_type", c_char_p), ("variance_type", c_char_p),
                ("timestep_spacing", c_char_p),
                ("calibration_seconds", c_double), ("calibration_progress", PROGRESS_FN),
                ("calibration_user", c_void_p)]


class SampleParams(ctypes.Structure):
    _fields_ = [("struct_size", c_uint32), ("seed", c_uint64), ("chain_offset", c_uint64),
                ("cond", POINTER(c_float)), ("cond_len", c_size_t),
                ("init_noise", POINTER(c_float)), ("init_noise_len", c_size_t),
                ("progress", PROGRESS_FN), ("progress_user", c_void_p)]


class Stats(ctypes.Structure):
    _fields_ = [("struct_size", c_uint32), ("sampler", c_int32), ("steps", c_int32), ("samples", c_int32),
                ("sequential_model_calls_max", c_int32), ("sequential_model_calls", c_double),
                ("algorithmic_speedup", c_double), ("denoiser_invocations", c_int64),
                ("rows_evaluated", c_int64), ("rounds", c_int64), ("wall_seconds", c_double)]


# ------------------------------------------------------------------------------------------ signatures

_status = c_int32
# name -> (restype, argtypes). Every export of libasd.so is listed (tests/interop/test_abi.py checks it).
SIGNATURES = {
    "asd_abi_version": (c_uint32, []),
    "asd_version": (c_char_p, []),
    "asd_cpu_features": (c_char_p, []),
    "asd_last_error": (c_char_p, []),
    "asd_status_name": (c_char_p, [c_int32]),
    "asd_model_default_params": (_status, [POINTER(ModelParams), c_size_t]),
    "asd_model_open": (_status, [c_char_p, POINTER(ModelParams), POINTER(c_void_p)]),
    "asd_model_free": (None, [c_void_p]),
    "asd_model_name": (_status, [c_void_p, c_char_p, c_size_t, POINTER(c_size_t)]),
    "asd_model_runtime": (_status, [c_void_p, c_char_p, c_size_t, POINTER(c_size_t)]),
    "asd_model_sample_shape": (_status, [c_void_p, POINTER(c_int64), c_size_t, POINTER(c_size_t)]),
    "asd_model_sample_size": (_status, [c_void_p, POINTER(c_int64)]),
    "asd_model_cond_shape": (_status, [c_void_p, POINTER(c_int64), c_size_t, POINTER(c_size_t)]),
    "asd_model_cond_size": (_status, [c_void_p, POINTER(c_int64)]),
    "asd_model_train_steps": (_status, [c_void_p, POINTER(c_int32)]),
    "asd_model_has_guidance": (_status, [c_void_p, POINTER(c_int32)]),
    "asd_sampler_default_params": (_status, [POINTER(SamplerParams), c_size_t]),
    "asd_sampler_create": (_status, [c_void_p, POINTER(SamplerParams), POINTER(c_void_p)]),
    "asd_sampler_free": (None, [c_void_p]),
    "asd_sample_default_params": (_status, [POINTER(SampleParams), c_size_t]),
    "asd_sampler_sample": (_status, [c_void_p, c_int32, POINTER(SampleParams), POINTER(c_float), c_size_t]),
    "asd_sampler_stats": (_status, [c_void_p, POINTER(Stats), c_size_t]),
    "asd_sampler_stats_json": (_status, [c_void_p, c_char_p, c_size_t, POINTER(c_size_t)]),
}


# ------------------------------------------------------------------------------------------ finding the library

def cpu_flags():
    """The CPU flags of /proc/cpuinfo (empty when unreadable)."""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("flags"):
                    return frozenset(line.split(":", 1)[1].split())
    except OSError:
        pass
    return frozenset()


def flavour(flags=None):
    """The libasd build for this CPU: "linux-x64-v4" (AVX-512) or "linux-x64-v3" (AVX2); AsdError if neither fits."""
    if not sys.platform.startswith("linux"):
        raise AsdError(f"libasd is built for Linux; this is {sys.platform}.", ERR_UNSUPPORTED)
    machine = platform.machine().lower()
    if machine not in ("x86_64", "amd64"):
        raise AsdError(f"libasd ships x86-64 builds only; this machine is {machine}.", ERR_UNSUPPORTED)
    flags = cpu_flags() if flags is None else frozenset(flags)
    if V4_FLAGS <= flags:
        return "linux-x64-v4"
    if V3_FLAGS <= flags:
        return "linux-x64-v3"
    missing = " ".join(sorted(V3_FLAGS - flags))
    raise AsdError(f"This CPU cannot run libasd: the oldest build needs x86-64-v3 (AVX2, FMA, ...), and "
                   f"/proc/cpuinfo lacks: {missing}.", ERR_UNSUPPORTED)


def candidates():
    """
    Where the loader looks. ASD_LIBRARY, when set, is authoritative: a library file, or a folder holding
    linux-x64-v4/ and linux-x64-v3/ (or libasd.so itself). Otherwise: beside the package, in lib/<flavour>/.
    """
    env = os.environ.get(LIBRARY_ENV)
    if env:
        if os.path.isdir(env):
            return [os.path.join(env, flavour(), "libasd.so"), os.path.join(env, "libasd.so")]
        return [env]
    here = os.path.dirname(os.path.abspath(__file__))
    return [os.path.join(here, "lib", flavour(), "libasd.so")]


_lib = None
_lib_path = None
_lock = threading.Lock()
_loaded_in = None  # the process that loaded the library
_forked_from = None  # in a fork() of that process: its id


def _after_fork_in_child():
    global _forked_from
    if _lib is not None and _forked_from is None:
        _forked_from = _loaded_in


os.register_at_fork(after_in_child=_after_fork_in_child)


def forked():
    """Whether this process is a fork() of the one that loaded libasd (where the library must not be called)."""
    return _forked_from is not None


def check_process():
    """
    Raises AsdError in a fork() of the process that loaded libasd. fork() copies the memory but only the calling
    thread, and the .NET runtime inside libasd keeps threads (the core pool's workers): in the child its next garbage
    collection crashed (SIGSEGV) or hung. multiprocessing's default start method on Linux is fork.
    """
    if _forked_from is not None:
        raise AsdError(f"libasd was loaded in process {_forked_from}, and this process ({os.getpid()}) is a fork() of "
                       "it: the .NET runtime inside libasd keeps threads that fork() does not copy, and using it here "
                       "would crash or hang. Use asd in a worker only when the parent has not (open models in the "
                       "worker, not before the pool starts), or start workers with multiprocessing's 'spawn' or "
                       "'forkserver' start method (multiprocessing.get_context('spawn')).", ERR_UNSUPPORTED)


def lib():
    """The loaded library with every signature set (loaded on first use, so `import asd` never fails)."""
    global _lib, _lib_path, _loaded_in
    check_process()
    if _lib is not None:
        return _lib
    with _lock:
        if _lib is None:
            tried = candidates()
            found = next((p for p in tried if os.path.isfile(p)), None)
            if found is None:
                raise AsdError("libasd.so not found. Looked in: " + ", ".join(tried) +
                               f". Build it with Asd.Interop/publish.sh, or set {LIBRARY_ENV} to the library "
                               "file or to a folder holding linux-x64-v4/ and linux-x64-v3/.", ERR_IO)
            try:
                handle = ctypes.CDLL(found)
            except OSError as e:
                raise AsdError(f"Cannot load {found}: {e}", ERR_IO) from e
            for name, (restype, argtypes) in SIGNATURES.items():
                fn = getattr(handle, name)
                fn.restype = restype
                fn.argtypes = argtypes
            abi = handle.asd_abi_version()
            if abi != ABI_VERSION:
                raise AsdError(f"{found} has ABI version {abi}; this package needs {ABI_VERSION}.", ERR_UNSUPPORTED)
            _lib_path = found
            _loaded_in = os.getpid()
            _lib = handle
    return _lib


def library_path():
    """The path of the loaded libasd.so."""
    lib()
    return _lib_path


def check(status):
    """Raises AsdError (or Cancelled) with the library's message for a non-zero status."""
    if status != OK:
        message = (lib().asd_last_error() or b"").decode("utf-8", "replace")
        name = lib().asd_status_name(status).decode("ascii")
        cls = Cancelled if status == CANCELLED else AsdError
        raise cls(message, status, name)
