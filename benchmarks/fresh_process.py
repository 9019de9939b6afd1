"""One WGANGP iteration in a process of its own (NumPy only): CPU time and page faults.

Usage::

    python benchmarks/fresh_process.py --hidden 128 --iterations 40
    PYTHONPATH=<other checkout>/src python benchmarks/fresh_process.py   # another version

:mod:`step_time` times every implementation in one process, after torch and
jax have been imported and have allocated: their memory changes how the C
library hands memory to NumPy, and there a fresh array of a few hundred
kilobytes reuses freed memory. In a process that runs wgangp alone (the CLI,
a script), the C library returns such blocks to the system when they are
freed, and each new one page-faults on first touch. This script measures
that case: ``partial_fit(X, steps=1)`` on the 8gaussians data of
:mod:`step_time` at batch 256, depth 3, float32, one BLAS thread, and prints
the median CPU time per iteration (``time.thread_time``, which other
processes on a busy machine inflate less than wall time) and the minor page
faults per iteration.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import time

import numpy as np


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--hidden", type=int, default=128)
    p.add_argument("--iterations", type=int, default=40)
    args = p.parse_args()
    import wgangp

    rng = np.random.default_rng(0)
    angles = np.arange(8) * np.pi / 4
    centres = 2.0 * np.stack([np.cos(angles), np.sin(angles)], axis=1)
    X = (centres[rng.integers(0, 8, 20_000)] + 0.02 * rng.standard_normal((20_000, 2))) / 1.414
    X = X.astype(np.float32)
    model = wgangp.WGANGP(
        hidden=args.hidden,
        depth=3,
        batch_size=256,
        latent_dim=2,
        dtype=np.float32,
        random_state=0,
        threads=1,
    ).fit(X, steps=3)
    faults0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    times = []
    for _ in range(args.iterations):
        t0 = time.thread_time()
        model.partial_fit(X, steps=1)
        times.append(time.thread_time() - t0)
    faults = (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults0) / args.iterations
    print(
        f"wgangp {wgangp.__file__}: hidden {args.hidden}: "
        f"{1000 * statistics.median(times):.1f} CPU ms/iteration (median of "
        f"{args.iterations}), {faults:.0f} page faults/iteration"
    )


if __name__ == "__main__":
    main()
