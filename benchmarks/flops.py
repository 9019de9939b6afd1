"""FLOP count and FLOP floor of one WGAN-GP iteration.

One *iteration* is ``n_critic`` critic steps plus one generator step. Both
networks are MLPs with ``depth`` hidden layers of width ``hidden``, so
``depth + 1`` linear layers each:

* generator ``latent_dim -> hidden -> ... -> hidden -> data_dim``,
* critic ``data_dim -> hidden -> ... -> hidden -> 1``.

Only GEMMs are counted (``2 * m * k * n`` FLOPs for an ``(m, k) @ (k, n)``
product); activations, the penalty's row norms and the optimizer are
elementwise and ignored. The terms follow DESIGN.md ("Where the speed comes
from"), with ``B`` the batch size:

Critic step

1. generator forward on ``B`` rows (the fakes; no generator gradient);
2. critic forward on the stacked ``[x_r; x_f; x_i]``, ``3B`` rows;
3. critic backward to the inputs, ``d_{k-1} = u_k W_k^T``, on ``3B`` rows for
   layers ``2..L``; the first layer's input gradient ``d_0 = g`` is needed
   only at the interpolates, so ``B`` rows there;
4. penalty pullback at the ``B`` interpolate rows, ``ubar_k = dbar_{k-1} W_k``
   for every critic layer ``k = 1..L`` (for ReLU critics ``ubar_L`` only
   feeds ``zbar_L = 0``, so a fused implementation may skip it; it is
   ``2 B hidden`` FLOPs, counted anyway);
5. critic weight gradients: one GEMM per layer over the stacked rows,
   ``[h_{k-1} of x_r, x_f; dbar_{k-1} of x_i]^T [u_k; u_k]``, ``3B`` rows.

Generator step (fresh noise, no critic weight gradients)

6. generator forward, ``B`` rows;
7. critic forward, ``B`` rows;
8. critic backward to the input, ``B`` rows, every layer (the input gradient
   is what reaches the generator);
9. generator backward: weight gradients of every layer and input gradients
   of every layer but the first (nobody needs ``dL/dz``), ``B`` rows.

For the seed's defaults (hidden 512, depth 3, batch 256, 2-D data, latent 2,
5 critic steps) that is about 16.1 GFLOP.

The *floor* is the time NumPy needs for exactly these GEMMs, at exactly these
shapes and operand layouts, measured on this machine: any implementation
that does this arithmetic with this BLAS pays at least that. Run
``python benchmarks/flops.py`` for the breakdown and a measured floor.
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import NamedTuple

import numpy as np


class Gemm(NamedTuple):
    """One GEMM ``(m, k) @ (k, n)`` executed ``count`` times per iteration.

    ``layout`` says how the operands sit in memory, as the code that does this
    product would have them: ``"nn"`` is ``a @ b`` (forward, ``dbar W``),
    ``"nt"`` is ``a @ b.T`` (``u W^T``, input gradients), ``"tn"`` is
    ``a.T @ b`` (``h^T u``, weight gradients).
    """

    m: int
    k: int
    n: int
    layout: str
    count: int
    term: str

    @property
    def flops(self) -> int:
        """FLOPs of all ``count`` executions."""
        return 2 * self.m * self.k * self.n * self.count


def layer_dims(in_dim: int, out_dim: int, hidden: int, depth: int) -> list[tuple[int, int]]:
    """``(fan_in, fan_out)`` of each of the ``depth + 1`` linear layers.

    >>> layer_dims(2, 1, 8, 2)
    [(2, 8), (8, 8), (8, 1)]
    """
    widths = [in_dim] + [hidden] * depth + [out_dim]
    return list(zip(widths[:-1], widths[1:], strict=True))


def generator_forward_gemms(
    data_dim: int, latent_dim: int, hidden: int, depth: int, rows: int, count: int = 1
) -> list[Gemm]:
    """GEMMs of one generator forward pass on ``rows`` rows (sampling)."""
    return [
        Gemm(rows, fan_in, fan_out, "nn", count, "generator forward")
        for fan_in, fan_out in layer_dims(latent_dim, data_dim, hidden, depth)
    ]


def iteration_gemms(
    data_dim: int,
    latent_dim: int = 2,
    hidden: int = 512,
    depth: int = 3,
    batch: int = 256,
    n_critic: int = 5,
) -> list[Gemm]:
    """Every GEMM of one WGAN-GP iteration, term by term (see module docstring)."""
    B, nc = batch, n_critic
    gen = layer_dims(latent_dim, data_dim, hidden, depth)
    critic = layer_dims(data_dim, 1, hidden, depth)
    gemms: list[Gemm] = []

    # -- critic steps (each term runs once per critic step) --
    gemms += generator_forward_gemms(data_dim, latent_dim, hidden, depth, B, nc)
    for fan_in, fan_out in critic:  # (2) forward over [x_r; x_f; x_i]
        gemms.append(Gemm(3 * B, fan_in, fan_out, "nn", nc, "critic forward, 3B rows"))
    for i, (fan_in, fan_out) in enumerate(critic):  # (3) d_{k-1} = u_k W_k^T
        rows = B if i == 0 else 3 * B
        gemms.append(Gemm(rows, fan_out, fan_in, "nt", nc, "critic input grad, 3B rows"))
    for fan_in, fan_out in critic:  # (4) ubar_k = dbar_{k-1} W_k at the interpolates
        gemms.append(Gemm(B, fan_in, fan_out, "nn", nc, "penalty pullback ubar, B rows"))
    for fan_in, fan_out in critic:  # (5) [h; h; dbar]^T [u; u; u]
        gemms.append(Gemm(fan_in, 3 * B, fan_out, "tn", nc, "critic weight grad, 3B rows"))

    # -- generator step --
    gemms += generator_forward_gemms(data_dim, latent_dim, hidden, depth, B, 1)
    for fan_in, fan_out in critic:  # (7)
        gemms.append(Gemm(B, fan_in, fan_out, "nn", 1, "G step: critic forward"))
    for fan_in, fan_out in critic:  # (8) down to dL/dx_f
        gemms.append(Gemm(B, fan_out, fan_in, "nt", 1, "G step: critic input grad"))
    for i, (fan_in, fan_out) in enumerate(gen):  # (9)
        gemms.append(Gemm(fan_in, B, fan_out, "tn", 1, "G step: generator weight grad"))
        if i > 0:
            gemms.append(Gemm(B, fan_out, fan_in, "nt", 1, "G step: generator input grad"))
    return gemms


def iteration_flops(
    data_dim: int,
    latent_dim: int = 2,
    hidden: int = 512,
    depth: int = 3,
    batch: int = 256,
    n_critic: int = 5,
) -> int:
    """GEMM FLOPs of one WGAN-GP iteration (``n_critic`` critic steps + 1 generator step).

    >>> round(iteration_flops(2, 2, 512, 3, 256, 5) / 1e9, 1)
    16.1
    """
    return total_flops(iteration_gemms(data_dim, latent_dim, hidden, depth, batch, n_critic))


def total_flops(gemms: list[Gemm]) -> int:
    """FLOPs of a list of GEMMs."""
    return sum(g.flops for g in gemms)


def _distinct(gemms: list[Gemm]) -> dict[tuple[int, int, int, str], int]:
    """Merge equal shapes: ``(m, k, n, layout) -> total count``."""
    merged: dict[tuple[int, int, int, str], int] = {}
    for g in gemms:
        key = (g.m, g.k, g.n, g.layout)
        merged[key] = merged.get(key, 0) + g.count
    return merged


class GemmPass:
    """Preallocated operands for a list of GEMMs; :meth:`run` executes them all once.

    Each distinct ``(m, k, n, layout)`` gets one pair of operands (stored the
    way ``layout`` says) and one output buffer, and ``run`` executes it
    ``count`` times with ``out=``, so nothing but the GEMMs is timed.

    An outer product (``k == 1``, the backward through a critic's one-unit
    output layer) is done as the broadcast multiply ``a * b`` that produces
    it: OpenBLAS runs a ``k = 1`` GEMM about 4x slower than that, and an
    implementation is free to use the faster one, so the floor does too.
    """

    def __init__(self, gemms: list[Gemm], dtype=np.float32, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        self.flops = total_flops(gemms)
        self.shapes = _distinct(gemms)
        self._ops = []
        for (m, k, n, layout), count in self.shapes.items():
            a = rng.standard_normal((k, m) if layout == "tn" else (m, k)).astype(dtype)
            b = rng.standard_normal((n, k) if layout == "nt" else (k, n)).astype(dtype)
            a = a.T if layout == "tn" else a
            b = b.T if layout == "nt" else b
            op = np.multiply if k == 1 else np.matmul
            self._ops.append((op, a, b, np.empty((m, n), dtype=dtype), count))

    def run(self) -> None:
        """Execute every GEMM of the list once (``count`` times each)."""
        for op, a, b, out, count in self._ops:
            for _ in range(count):
                op(a, b, out=out)

    def time_each(self, repeats: int) -> list[float]:
        """Median seconds of one execution of each distinct shape (after one warm-up)."""
        medians = []
        for op, a, b, out, _ in self._ops:
            op(a, b, out=out)
            times = []
            for _ in range(repeats):
                t0 = time.perf_counter()
                op(a, b, out=out)
                times.append(time.perf_counter() - t0)
            medians.append(statistics.median(times))
        return medians


class GemmRate(NamedTuple):
    """Result of :func:`gemm_rate`."""

    gflops: float  # FLOP-weighted rate: total FLOPs / total seconds
    seconds: float  # time of all the GEMMs once, from the per-shape medians
    per_shape: list[tuple[tuple[int, int, int, str], int, float, float]]
    # ((m, k, n, layout), count, median seconds of one execution, GFLOP/s)


def gemm_rate(gemms: list[Gemm], dtype=np.float32, repeats: int = 20) -> GemmRate:
    """Measure NumPy's GEMM rate at the given shapes and layouts.

    Each distinct shape is timed ``repeats`` times (after a warm-up) and its
    median taken; the overall rate weights shapes by their FLOPs, that is,
    ``sum(flops) / sum(count * median_seconds)``, so it is exactly the rate
    that turns these GEMMs' FLOPs into their time.
    """
    gemm_pass = GemmPass(gemms, dtype=dtype)
    medians = gemm_pass.time_each(repeats)
    per_shape = []
    seconds = 0.0
    for (shape, count), t in zip(gemm_pass.shapes.items(), medians, strict=True):
        m, k, n, _ = shape
        per_shape.append((shape, count, t, 2 * m * k * n / t / 1e9))
        seconds += count * t
    return GemmRate(gemm_pass.flops / seconds / 1e9, seconds, per_shape)


def floor_seconds(
    data_dim: int,
    latent_dim: int = 2,
    hidden: int = 512,
    depth: int = 3,
    batch: int = 256,
    n_critic: int = 5,
    dtype=np.float32,
    repeats: int = 20,
) -> float:
    """FLOP floor of one iteration: its GEMMs' time at NumPy's measured rate, in seconds."""
    gemms = iteration_gemms(data_dim, latent_dim, hidden, depth, batch, n_critic)
    return gemm_rate(gemms, dtype=dtype, repeats=repeats).seconds


def _main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dim", type=int, default=2)
    parser.add_argument("--latent-dim", type=int, default=2)
    parser.add_argument("--hidden", type=int, default=512)
    parser.add_argument("--depth", type=int, default=3)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--n-critic", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    gemms = iteration_gemms(
        args.data_dim, args.latent_dim, args.hidden, args.depth, args.batch, args.n_critic
    )
    by_term: dict[str, int] = {}
    for g in gemms:
        by_term[g.term] = by_term.get(g.term, 0) + g.flops
    print("| term | GFLOP per iteration |\n| --- | --- |")
    for term, flops in by_term.items():
        print(f"| {term} | {flops / 1e9:.3f} |")
    print(f"| **total** | **{total_flops(gemms) / 1e9:.3f}** |\n")
    rate = gemm_rate(gemms, repeats=args.repeats)
    print("| m x k x n (layout) | per iteration | ms each | GFLOP/s |\n| --- | --- | --- | --- |")
    for (m, k, n, layout), count, t, gflops in rate.per_shape:
        print(f"| {m}x{k}x{n} ({layout}) | {count} | {t * 1e3:.3f} | {gflops:.1f} |")
    print(
        f"\nfloat32 GEMM rate at these shapes: {rate.gflops:.1f} GFLOP/s; "
        f"FLOP floor: {rate.seconds:.4f} s/iteration"
    )


if __name__ == "__main__":
    _main()
