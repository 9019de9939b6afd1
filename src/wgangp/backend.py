"""Array namespaces: NumPy by default, CuPy or PyTorch through the array API.

The engine (:mod:`wgangp.nn`, :mod:`wgangp.losses`, :mod:`wgangp.optim`,
:mod:`wgangp.steps`) takes its namespace from its arrays with
:func:`namespace`: NumPy's own module for NumPy arrays (no import, no
wrapper), else ``array_api_compat.array_namespace`` (CuPy, torch,
``array-api-strict``), so the same code runs on any of them.

Where NumPy's ``out=`` keeps the CPU path free of temporaries, the engine
calls :func:`into` (and the few small helpers beside it): NumPy writes into
``out`` directly, other namespaces compute and assign (``out[...] = a @ b``).
That is the one seam between the NumPy fast path and the standard; the math
is written once. :func:`kernel` is its other half: where numba is installed,
a compiled kernel (:mod:`wgangp.kernels`) does a run of NumPy's passes in one.

An estimator's ``backend`` and ``device`` select a :class:`Backend`
(:func:`get_backend`): where its networks live and train. Models are always
saved as NumPy arrays (:func:`to_numpy`), so a model trained on a GPU loads
and samples on a machine with NumPy alone.

>>> xp = namespace(np.ones(3))
>>> xp is np
True
>>> get_backend("numpy").name
'numpy'
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .errors import DeviceUnavailableError, InvalidParameterError
from .kernels import compiled
from .validation import require

__all__ = [
    "BACKENDS",
    "NUMPY",
    "Backend",
    "HostRandom",
    "TorchRandom",
    "as_mask",
    "astype",
    "column_sums",
    "concat",
    "copy_into",
    "device_of",
    "empty",
    "get_backend",
    "gumbel",
    "into",
    "is_numpy",
    "kernel",
    "namespace",
    "row_max",
    "row_norms",
    "row_sum",
    "scalar",
    "sum64",
    "take_rows",
    "to_numpy",
    "where_scalars",
    "work",
]

BACKENDS = ("auto", "numpy", "cupy", "torch", "array-api-strict")
"""Backend names: ``auto`` is NumPy on the CPU, else CuPy (or torch) on CUDA;
``array-api-strict`` is the standard's reference implementation on NumPy
(slow; it proves the engine uses the standard alone)."""

_EXTRAS = {"cupy": "gpu", "torch": "torch", "array_api_strict": "dev", "array_api_compat": "torch"}


def namespace(*arrays) -> Any:
    """The array namespace of ``arrays``: ``numpy`` for NumPy arrays (and None or
    Python scalars among them), else ``array_api_compat.array_namespace``.

    >>> namespace(np.zeros(2), None, 1.0) is np
    True
    """
    if len(arrays) == 1 and type(arrays[0]) is np.ndarray:  # the engine's usual call
        return np
    others = [a for a in arrays if not isinstance(a, _NUMPY_TYPES) and a is not None]
    if not others:
        return np
    compat = require("array_api_compat", "torch", "arrays other than NumPy's")
    return compat.array_namespace(*others)


_NUMPY_TYPES = (np.ndarray, np.generic, bool, int, float)


def is_numpy(xp) -> bool:
    """Whether ``xp`` is NumPy itself (the fast path with ``out=``)."""
    return xp is np


# --------------------------------------------------------------------------- #
# The seam: NumPy writes into out=, other namespaces assign.                  #
# --------------------------------------------------------------------------- #


def into(name: str, *args, out=None, **kwargs):
    """``xp.<name>(*args, **kwargs)`` in the namespace of the arguments, written
    into ``out`` when it is given.

    NumPy computes in place (``np.matmul(a, b, out=out)``); another namespace
    computes and assigns (``out[...] = xp.matmul(a, b)``). ``out`` may be
    one of the arguments. The first argument is an array.

    >>> a = np.ones((2, 2))
    >>> into("multiply", a, 3.0, out=a)[0, 0]
    np.float64(3.0)
    """
    if type(args[0]) is np.ndarray:
        return _NUMPY_FUNCTIONS[name](*args, out=out, **kwargs)
    xp = namespace(*args)
    if xp is np:
        return getattr(np, name)(*args, out=out, **kwargs)
    result = getattr(xp, name)(*args, **kwargs)
    if out is None:
        return result
    out[...] = result
    return out


class _NumpyFunctions(dict):
    """NumPy's functions by name, looked up once (any other name falls through)."""

    def __missing__(self, name):
        return getattr(np, name)


def kernel(name: str, *arrays):
    """The compiled kernel ``name`` of :mod:`wgangp.kernels` when the kernels are
    on and every one of ``arrays`` is a C-contiguous NumPy array; else None, and
    the caller runs its own passes (NumPy's, or the standard's elsewhere).

    >>> kernel("mul_mask", [1.0], [True]) is None  # not NumPy arrays
    True
    """
    for a in arrays:
        if type(a) is not np.ndarray or not a.flags.c_contiguous:
            return None
    return compiled(name)


def column_sums(a, out):
    """``out[...] = a.sum(axis=0)`` for a 2-D ``a``: a compiled kernel where there is
    one (more than one column), else NumPy's ``add.reduce`` or the standard's ``sum``.

    >>> column_sums(np.ones((3, 2)), np.empty(2))
    array([3., 3.])
    """
    if type(a) is np.ndarray:
        if a.shape[1] > 1 and a.shape[0] > 0:
            fused = kernel("column_sums", a, out)
            if fused is not None:
                fused(a, out)
                return out
        return np.add.reduce(a, axis=0, out=out)
    return into("sum", a, axis=0, out=out)


_NUMPY_FUNCTIONS = _NumpyFunctions(
    (name, getattr(np, name))
    for name in ("matmul", "multiply", "subtract", "divide", "square", "sqrt", "sum")
)


def copy_into(xp, out, a) -> None:
    """``out[...] = a``; ``a`` may be a NumPy array for another namespace's ``out``."""
    if xp is np:
        np.copyto(out, a)
        return
    if isinstance(a, np.ndarray):
        a = xp.asarray(a, dtype=out.dtype, device=device_of(out))
    out[...] = a


def empty(xp, shape, like):
    """An uninitialised array of ``like``'s dtype, on its device."""
    if xp is np:
        return np.empty(shape, dtype=like.dtype)
    return xp.empty(shape, dtype=like.dtype, device=device_of(like))


def work(empty, shape, like, *others, fresh: bool = False):
    """A work array of ``shape`` for a result computed from ``like`` (and ``others``).

    ``empty`` has :func:`numpy.empty`'s signature (:meth:`wgangp.flat.Scratch.empty`
    reuses memory from step to step); NumPy arrays take theirs from it, in the
    dtype NumPy gives ``like`` with ``others``. Another namespace allocates in
    its own way, with ``like``'s dtype and device: a new array, or None when
    ``fresh`` (the caller computes with ``into(..., out=None)``, which makes
    the result without a copy).

    >>> work(np.empty, (2, 3), np.ones(1, np.float32)).dtype
    dtype('float32')
    """
    if type(like) is np.ndarray:
        dtype = like.dtype
        for other in others:
            if other.dtype != dtype:  # rare: mixed precisions
                dtype = np.result_type(like.dtype, *(o.dtype for o in others))
                break
        return empty(shape, dtype)
    if fresh:
        return None
    return _new_like(like, shape)


def _new_like(like, shape):
    """An uninitialised array of ``shape`` with ``like``'s namespace, dtype and device."""
    return empty(namespace(like), shape, like)


def astype(xp, x, dtype):
    """``x`` cast to ``dtype`` (a copy)."""
    if xp is np:
        return x.astype(dtype)
    return xp.astype(x, dtype)


def concat(xp, arrays, axis: int = 0):
    """Arrays joined along ``axis`` (``np.concatenate``; ``xp.concat`` in the standard)."""
    if xp is np:
        return np.concatenate(arrays, axis=axis)
    return xp.concat(arrays, axis=axis)


def row_norms(xp, g):
    """The Euclidean norm of each row of ``g`` (NumPy: one ``einsum``, no temporary)."""
    if xp is np:
        return np.sqrt(np.einsum("ij,ij->i", g, g))
    return xp.sqrt(xp.sum(g * g, axis=1))


def row_max(xp, a):
    """The largest entry of each row of ``a``, shape (rows, 1) (NumPy: the array's
    own method, without the function form's dispatch; the heads call it per block)."""
    if xp is np:
        return a.max(axis=1, keepdims=True)
    return xp.max(a, axis=1, keepdims=True)


def row_sum(xp, a):
    """The sum of each row of ``a``, shape (rows, 1) (NumPy: the array's own method)."""
    if xp is np:
        return a.sum(axis=1, keepdims=True)
    return xp.sum(a, axis=1, keepdims=True)


def where_scalars(condition, a: float, b: float, like):
    """``a`` where ``condition`` holds, else ``b``, in ``like``'s dtype and namespace."""
    if type(like) is np.ndarray:
        return np.where(condition, like.dtype.type(a), like.dtype.type(b))
    xp = namespace(like)
    return xp.where(condition, xp.full_like(like, a), xp.full_like(like, b))


def as_mask(condition, like):
    """A mask to multiply ``like``-typed arrays by: NumPy keeps the booleans
    (``np.multiply`` mixes them in for free), the standard needs ``like``'s dtype."""
    if type(like) is np.ndarray:
        return condition
    return namespace(like).astype(condition, like.dtype)


def scalar(xp, value):
    """A 0-d result as a Python float on NumPy; another namespace keeps it as a
    0-d array on its device (reading it would wait for the GPU), to be read
    with ``float()`` when it is logged."""
    if xp is np:
        return float(value)
    return value


def sum64(xp, a):
    """The sum of ``a``'s entries in float64: a Python float on NumPy, a 0-d
    float64 array on another namespace's device (see :func:`scalar`).

    >>> sum64(np, np.ones(3, np.float32))
    3.0
    """
    if xp is np:
        return float(a.sum(dtype=np.float64))
    return xp.sum(xp.astype(a, xp.float64))


def gumbel(random, shape, dtype):
    """Standard Gumbel noise of ``shape`` and NumPy ``dtype`` from a step's random
    source: the estimator's ``numpy.random.Generator`` (its ``gumbel`` draws, in
    float64, cast) or a backend's (:meth:`Backend.random`), on its device."""
    if isinstance(random, np.random.Generator):
        return random.gumbel(size=shape).astype(dtype)
    return random.gumbel(shape, dtype)


def take_rows(xp, x, indices: np.ndarray):
    """The rows ``x[indices]`` for a NumPy integer array of ``indices``."""
    if xp is np:
        return x[indices]
    return xp.take(x, xp.asarray(indices, device=device_of(x)), axis=0)


def device_of(x):
    """The device an array lives on (``x.device``; NumPy's is "cpu")."""
    if isinstance(x, np.ndarray):
        return "cpu"
    compat = require("array_api_compat", "torch", "arrays other than NumPy's")
    return compat.device(x)


def to_numpy(x) -> np.ndarray:
    """A NumPy array holding ``x`` (copied from the device when it lives on one).

    >>> to_numpy(np.arange(3))
    array([0, 1, 2])
    """
    if isinstance(x, (np.ndarray, np.generic)):
        return np.asarray(x)
    module = type(x).__module__.split(".")[0]
    if module == "torch":
        return x.detach().cpu().numpy()
    if module == "cupy":
        return x.get()
    return np.from_dlpack(x)


# --------------------------------------------------------------------------- #
# Backends: where the networks live and train.                                #
# --------------------------------------------------------------------------- #


class Backend:
    """A namespace and a device: where an estimator's arrays live.

    Attributes
    ----------
    name : str
        ``"numpy"``, ``"cupy"``, ``"torch"`` or ``"array-api-strict"``.
    xp : module
        The array namespace (``numpy`` itself for NumPy).
    device : str
        ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.
    """

    def __init__(self, name: str, xp, device: str, native=None):
        self.name = name
        self.xp = xp
        self.device = device
        self._native = native  # the library's own module (torch, cupy) for devices and RNG

    def __reduce__(self):
        # a copy or a pickle names the backend; its modules are found again (and a
        # missing GPU is said) by get_backend
        return get_backend, (self.name, self.device)

    @property
    def is_numpy(self) -> bool:
        return self.xp is np

    @property
    def on_gpu(self) -> bool:
        return self.device.startswith("cuda")

    def _device_arg(self):
        if self.name == "torch":
            return self._native.device(self.device)
        return None

    def zeros(self, shape, dtype):
        """Zeros of NumPy's ``dtype`` (by name) on this backend's device."""
        if self.xp is np:
            return np.zeros(shape, dtype=dtype)
        if self.name == "cupy":
            with self._native.cuda.Device(_cuda_index(self.device)):
                return self._native.zeros(shape, dtype=self.dtype(dtype))
        return self.xp.zeros(shape, dtype=self.dtype(dtype), device=self._device_arg())

    def holds(self, x) -> bool:
        """Whether ``x`` is an array of this backend on its device."""
        if self.xp is np:
            return isinstance(x, np.ndarray)
        if isinstance(x, np.ndarray) or namespace(x) is not self.xp:
            return False
        return self.name == "array-api-strict" or _same_device(device_of(x), self.device)

    def dtype(self, dtype):
        """The namespace's dtype of the same name as NumPy's ``dtype``."""
        if self.xp is np:
            return np.dtype(dtype)
        return getattr(self.xp, np.dtype(dtype).name)

    def asarray(self, a, dtype=None):
        """``a`` (a NumPy array or one of this backend) as an array of this backend,
        on its device; a NumPy array is returned as it is on the NumPy backend."""
        if self.xp is np:
            return np.asarray(to_numpy(a), dtype=dtype)
        if isinstance(a, np.ndarray) and a.dtype.kind == "f" and dtype is None:
            dtype = a.dtype
        if self.name == "cupy":
            with self._native.cuda.Device(_cuda_index(self.device)):
                return self._native.asarray(a, dtype=None if dtype is None else self.dtype(dtype))
        if isinstance(a, np.ndarray) and not a.flags.writeable:
            a = a.copy()  # torch warns on read-only buffers
        return self.xp.asarray(
            a, dtype=None if dtype is None else self.dtype(dtype), device=self._device_arg()
        )

    def random(self, rng: np.random.Generator):
        """The source of a training step's random numbers on this backend.

        NumPy: the estimator's Generator itself. torch: a ``torch.Generator``
        on the device (:class:`TorchRandom`), seeded from ``rng`` at every
        draw, so the estimator's NumPy stream stays the whole state. CuPy and
        ``array-api-strict``: ``rng``'s draws copied to the device
        (:class:`HostRandom`).
        """
        if self.xp is np:
            return rng
        if self.name == "torch":
            return TorchRandom(rng, self)
        return HostRandom(rng, self)

    def synchronize(self) -> None:
        """Wait for the device's queued work (for timings); nothing on the CPU."""
        if self.name == "torch" and self.on_gpu:
            self._native.cuda.synchronize()
        elif self.name == "cupy":
            self._native.cuda.Device(_cuda_index(self.device)).synchronize()

    def __repr__(self) -> str:
        return f"Backend({self.name!r}, device={self.device!r})"

    def __eq__(self, other) -> bool:
        return isinstance(other, Backend) and (self.name, self.device) == (other.name, other.device)

    def __hash__(self) -> int:
        return hash((self.name, self.device))


NUMPY = Backend("numpy", np, "cpu")
"""The default backend."""


def _same_device(device, name: str) -> bool:
    """Whether an array's ``device`` (torch's, CuPy's or "cpu") is ``name``."""
    kind = getattr(device, "type", None)  # a torch.device
    if kind is not None:
        if name == "cpu":
            return kind == "cpu"
        return kind == "cuda" and (device.index or 0) == _cuda_index(name)
    if hasattr(device, "id"):  # a cupy.cuda.Device
        return name != "cpu" and device.id == _cuda_index(name)
    return name == "cpu"


def _cuda_index(device: str) -> int:
    return int(device.split(":")[1]) if ":" in device else 0


def _check_device(device) -> str:
    if device is None:
        return "cpu"
    if not isinstance(device, str):
        device = str(device)  # a torch.device
    name = device.strip().lower()
    if name == "gpu":
        name = "cuda"
    if name == "cpu" or name == "cuda" or (name.startswith("cuda:") and name[5:].isdigit()):
        return name
    raise InvalidParameterError(
        f"device={device!r} is not known; use 'cpu', 'cuda' or 'cuda:N' (the N-th GPU)"
    )


def get_backend(backend: str = "numpy", device=None) -> Backend:
    """The :class:`Backend` for a backend name and a device, checked.

    Parameters
    ----------
    backend : {"auto", "numpy", "cupy", "torch", "array-api-strict"}
        ``auto``: NumPy on the CPU; on CUDA, CuPy when it is installed, else torch.
    device : None, "cpu", "cuda" or "cuda:N"
        None is the CPU.

    Raises
    ------
    ImportError
        The backend's library is missing; the message names the extra to install
        (``pip install 'wgangp[gpu]'`` for CuPy, ``'wgangp[torch]'`` for torch).
    DeviceUnavailableError
        ``device="cuda"`` and no CUDA GPU is present (or the backend cannot use one).

    >>> get_backend("numpy", "cuda")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    wgangp.errors.InvalidParameterError: backend='numpy' runs on the CPU only, ...
    """
    if backend not in BACKENDS:
        raise InvalidParameterError(f"backend={backend!r} is not known; choose one of {BACKENDS}")
    device = _check_device(device)
    if backend == "auto":
        if device == "cpu":
            backend = "numpy"
        else:
            backend = "cupy" if _importable("cupy") or not _importable("torch") else "torch"
    if backend in ("numpy", "array-api-strict") and device != "cpu":
        raise InvalidParameterError(
            f"backend={backend!r} runs on the CPU only, not on device={device!r}; "
            "use backend='cupy' or backend='torch' for a GPU"
        )
    if backend == "numpy":
        return NUMPY
    if backend == "array-api-strict":
        strict = require("array_api_strict", "dev", "backend='array-api-strict'")
        return Backend(backend, strict, "cpu", strict)
    compat = require("array_api_compat", _EXTRAS[backend], f"backend={backend!r}")
    if backend == "torch":
        torch = require("torch", "torch", "backend='torch'")
        if device != "cpu":
            _check_cuda(
                torch.cuda.is_available() and torch.cuda.device_count() > _cuda_index(device),
                backend,
                device,
            )
        return Backend("torch", compat.array_namespace(torch.empty(0)), device, torch)
    cupy = require("cupy", "gpu", "backend='cupy'")
    if device == "cpu":
        raise InvalidParameterError(
            "backend='cupy' runs on a CUDA GPU only; pass device='cuda' "
            "(or backend='numpy' for the CPU)"
        )
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception:  # no driver, no runtime: CuPy raises its own CUDA errors
        count = 0
    _check_cuda(count > _cuda_index(device), backend, device)
    return Backend("cupy", compat.array_namespace(cupy.empty(0)), device, cupy)


def _check_cuda(available: bool, backend: str, device: str) -> None:
    if not available:
        raise DeviceUnavailableError(
            f"backend={backend!r} with device={device!r}: no such CUDA GPU is present on this "
            "machine; train on device='cpu' (backend='numpy'), or run where a GPU is"
        )


def _importable(module: str) -> bool:
    try:
        require(module, "gpu", "this check")
    except ImportError:
        return False
    return True


# --------------------------------------------------------------------------- #
# Random numbers per backend, seeded from the estimator's NumPy stream.       #
# --------------------------------------------------------------------------- #


class HostRandom:
    """Draws of the estimator's NumPy Generator, copied to the backend's device.

    The same numbers as on NumPy; the Generator's state is the whole state.
    """

    def __init__(self, rng: np.random.Generator, backend: Backend):
        self.rng = rng
        self.backend = backend

    def standard_normal(self, shape, dtype=np.float32):
        return self.backend.asarray(self.rng.standard_normal(shape, dtype=dtype))

    def random(self, shape, dtype=np.float64):
        return self.backend.asarray(self.rng.random(shape, dtype=dtype))

    def gumbel(self, shape, dtype=np.float64):
        return self.backend.asarray(self.rng.gumbel(size=shape).astype(dtype))


class TorchRandom:
    """Draws of a ``torch.Generator`` on the backend's device.

    Before each draw the generator is seeded with a 63-bit integer taken from
    the estimator's NumPy Generator, so that stream stays the whole random
    state: a saved model resumes bit for bit on the same backend with no
    device state in the file.
    """

    def __init__(self, rng: np.random.Generator, backend: Backend):
        self.rng = rng
        self.backend = backend
        torch = backend._native
        self._torch = torch
        self.generator = torch.Generator(device=backend._device_arg())

    def _seeded(self):
        self.generator.manual_seed(int(self.rng.integers(0, 2**63 - 1)))
        return self.generator

    def standard_normal(self, shape, dtype=np.float32):
        return self._torch.randn(
            tuple(shape),
            generator=self._seeded(),
            dtype=self.backend.dtype(dtype),
            device=self.backend._device_arg(),
        )

    def random(self, shape, dtype=np.float64):
        return self._torch.rand(
            tuple(shape),
            generator=self._seeded(),
            dtype=self.backend.dtype(dtype),
            device=self.backend._device_arg(),
        )

    def gumbel(self, shape, dtype=np.float64):
        """Standard Gumbel noise ``-log E`` with ``E`` standard exponential (never 0)."""
        e = self._torch.empty(
            tuple(shape), dtype=self.backend.dtype(dtype), device=self.backend._device_arg()
        )
        e.exponential_(generator=self._seeded())
        return -self._torch.log(e.clamp_(min=self._torch.finfo(e.dtype).tiny))
