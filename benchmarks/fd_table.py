"""Maximum finite-difference errors of every hand-derived gradient, as a table.

Central differences in float64 (eps 1e-6) against the analytic gradients of
``critic_loss`` (both penalty kinds) and ``generator_loss``, for every
activation at depths 1-4, odd widths and input dimensions 1-8: the same cases
as tests/test_losses.py. Relative error per parameter array is
``max|a - n| / max(max|a|, max|n|, 1e-3)``; the table shows the maximum over
arrays.

    python benchmarks/fd_table.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from conftest import max_relative_error, numerical_grads  # noqa: E402
from test_losses import ACTIVATIONS, _critic_case  # noqa: E402
from wgangp.losses import critic_loss, generator_loss  # noqa: E402
from wgangp.nn import MLP  # noqa: E402


def critic_error(activation, depth, penalty):
    width, in_dim = 3 + 2 * (depth % 3), 1 + (2 * depth + 1) % 8
    critic, x_real, x_fake, alpha = _critic_case(activation, depth, width, in_dim, seed=depth)
    _, grads, _ = critic_loss(critic, x_real, x_fake, alpha, 10.0, penalty)
    grads = [g.copy() for g in grads]  # views of the gradient buffer, which the FD calls reuse
    numeric = numerical_grads(
        lambda: critic_loss(critic, x_real, x_fake, alpha, 10.0, penalty)[0], critic.params
    )
    return max_relative_error(grads, numeric)


def generator_error(activation, depth):
    rng = np.random.default_rng(depth)
    gen = MLP([2] + [5] * depth + [3], activation, random_state=rng, dtype=np.float64)
    critic = MLP([3, 7, 5, 1], activation, random_state=rng, dtype=np.float64)
    for b in gen.params[1::2] + critic.params[1::2]:
        b[...] = rng.normal(scale=0.5, size=b.shape)
    z = rng.normal(size=(5, 2))
    _, grads = generator_loss(gen, critic, z)
    grads = [g.copy() for g in grads]
    numeric = numerical_grads(lambda: generator_loss(gen, critic, z)[0], gen.params)
    return max_relative_error(grads, numeric)


def main() -> None:
    print("| activation | depth | critic, two-sided | critic, one-sided | generator |")
    print("| --- | --- | --- | --- | --- |")
    worst = 0.0
    for act in ACTIVATIONS:
        for depth in (1, 2, 3, 4):
            row = [
                critic_error(act, depth, "two-sided"),
                critic_error(act, depth, "one-sided"),
                generator_error(act, depth),
            ]
            worst = max(worst, *row)
            print(f"| {act} | {depth} | " + " | ".join(f"{e:.1e}" for e in row) + " |")
    print(f"\nworst: {worst:.1e} (threshold 1e-5)")


if __name__ == "__main__":
    main()
