"""Shared test helpers: one central finite-difference routine for every gradient test."""

from __future__ import annotations

import numpy as np
import pytest

from wgangp.nn import preactivations

try:  # the test networks are small: one BLAS thread is as fast and never stalls on a busy machine
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)
except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn (dev extra)
    pass


def numerical_grads(loss_fn, arrays, eps: float = 1e-6):
    """Central finite differences of the scalar ``loss_fn()`` w.r.t. each array (in place)."""
    out = []
    for arr in arrays:
        grad = np.zeros_like(arr, dtype=np.float64)
        flat, gflat = arr.reshape(-1), grad.reshape(-1)
        for i in range(flat.size):
            old = flat[i]
            flat[i] = old + eps
            plus = loss_fn()
            flat[i] = old - eps
            minus = loss_fn()
            flat[i] = old
            gflat[i] = (plus - minus) / (2 * eps)
        out.append(grad)
    return out


def relative_error(analytic, numeric, floor: float = 1e-3) -> float:
    """max |a - n| / max(max |a|, max |n|, floor): the error relative to the array's scale.

    An array whose true gradient is zero (the critic's output bias under the
    Wasserstein term, say) is compared absolutely below ``floor``: finite
    differences of a zero gradient return round-off of about 1e-10, not 0.
    """
    analytic = np.asarray(analytic, dtype=np.float64)
    numeric = np.asarray(numeric, dtype=np.float64)
    scale = max(np.abs(analytic).max(), np.abs(numeric).max(), floor)
    return float(np.abs(analytic - numeric).max() / scale)


def max_relative_error(analytic_list, numeric_list) -> float:
    return max(relative_error(a, n) for a, n in zip(analytic_list, numeric_list))


def far_from_kinks(net, x, margin: float = 1e-4) -> bool:
    """True when no pre-activation of a kinked (ReLU-like) layer lies within ``margin`` of 0."""
    zs = preactivations(net.params, net.activations, x)
    return all(
        np.abs(z).min() > margin
        for act, z in zip(net.activations, zs)
        if act.name in ("relu", "leaky_relu")
    )


def randomize_biases(net, rng, scale: float = 0.5):
    """Non-zero biases, so that every bias path is exercised by a gradient test."""
    for b in net.params[1::2]:
        b[...] = rng.normal(scale=scale, size=b.shape)
    return net


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


# The namespaces the engine is tested on: NumPy and array-api-strict always (the
# latter rejects every NumPy-only call, so passing there proves the standard
# path), torch on the CPU when installed; CuPy and CUDA skip without a GPU.
BACKEND_CASES = [
    pytest.param(("numpy", "cpu"), id="numpy"),
    pytest.param(("array-api-strict", "cpu"), id="array-api-strict"),
    pytest.param(("torch", "cpu"), id="torch-cpu"),
    pytest.param(("torch", "cuda"), id="torch-cuda"),
    pytest.param(("cupy", "cuda"), id="cupy-cuda"),
]


@pytest.fixture(params=BACKEND_CASES)
def backend(request):
    """A :class:`wgangp.backend.Backend`; skipped, with the reason, where it cannot run."""
    from wgangp.backend import get_backend
    from wgangp.errors import DeviceUnavailableError

    name, device = request.param
    try:
        return get_backend(name, device)
    except (ImportError, DeviceUnavailableError) as exc:
        pytest.skip(f"{name} on {device}: {exc}")
