"""The marginal correction: each continuous column's generated values mapped onto the data's.

A GAN learns the joint distribution, but its marginals come out bent: the
``tanh`` scalar of a quantile-transformed column (uniform on [-1, 1] in the
data) rarely reaches its ends and piles up where the generator is unsure.
The correction is the map that a Gaussian copula applies by construction:
with ``G`` the generator's own distribution function of a column's scalar
(estimated once from :data:`MARGINAL_ROWS` rows drawn at a fixed seed) and
``s`` a generated scalar,

.. math::

    s' = 2\\,G(s) - 1,

uniform on [-1, 1] like the data's scalar, so that the column's inverse
quantile transform gives back the data's marginal. The map is monotone, so
the order of the rows within a column (and with it rank correlations and
what a tree learns) is the generator's. It depends on the generator's
parameters alone: it is recomputed, never saved, and a loaded model draws
the same rows as the one that saved it.

Only columns under the quantile transform are corrected (``gmm`` columns
carry their shape in a mode one-hot as well); rows whose value is missing
are left out of ``G``.
"""

from __future__ import annotations

import numpy as np

from .sampling import generate, original_conditions

__all__ = ["KNOTS", "MARGINAL_ROWS", "apply_maps", "marginal_maps"]

MARGINAL_ROWS = 16384
"""Rows drawn to estimate the generator's marginals (a KS error of about 1/128)."""

KNOTS = 1000
"""Knots of each column's estimated distribution function (linear in between)."""


def marginal_maps(synth, params) -> dict[int, np.ndarray]:
    """``{matrix column: knots of G}`` for each quantile-transformed column.

    ``params`` are the generator's parameters to estimate ``G`` for; the
    rows are drawn at seed 0 with the conditions of plain sampling.
    """
    rng = np.random.default_rng(0)
    if synth.cond_dim_:
        cond = original_conditions(synth, MARGINAL_ROWS, rng)
    else:
        cond = np.zeros((MARGINAL_ROWS, 0), dtype=synth.dtype_)
    rows = generate(synth, cond, rng, params)
    blocks: dict[int, dict] = {}
    for block in synth.transformer_.output_info_:
        blocks.setdefault(block["column"], {})[block["role"]] = block
    maps = {}
    for i, spec in enumerate(synth.transformer_.columns_):
        if spec["kind"] != "continuous" or spec["method"] != "quantile":
            continue
        start = blocks[i]["value"]["start"]
        values = rows[:, start]
        if "null" in blocks[i]:
            null_start = blocks[i]["null"]["start"]
            values = values[rows[:, null_start + 1] == 0]
        if values.size < 2:
            continue
        maps[start] = np.quantile(values, np.linspace(0.0, 1.0, KNOTS))
    return maps


def apply_maps(matrix: np.ndarray, maps: dict[int, np.ndarray]) -> np.ndarray:
    """``matrix`` with each mapped column's scalar ``s`` replaced by ``2 G(s) - 1`` (in place).

    Ties among the knots (a generator stuck at one value) take the mean of
    the left and right interpolations, as the quantile transform does.

    >>> m = np.array([[-0.5], [0.0], [0.2]])
    >>> apply_maps(m, {0: np.array([-0.5, 0.0, 0.2])})[:, 0].tolist()
    [-1.0, 0.0, 1.0]
    """
    for column, knots in maps.items():
        levels = np.linspace(0.0, 1.0, len(knots))
        s = matrix[:, column]
        u = 0.5 * (np.interp(s, knots, levels) - np.interp(-s, -knots[::-1], -levels[::-1]))
        matrix[:, column] = 2.0 * u - 1.0
    return matrix
