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

from .sampling import ROUND_BYTES, generate, original_conditions

__all__ = ["KNOTS", "MARGINAL_ROWS", "ONE_DRAW_BYTES", "apply_maps", "marginal_maps"]

MARGINAL_ROWS = 16384
"""Rows drawn to estimate the generator's marginals (a KS error of about 1/128)."""

ONE_DRAW_BYTES = 1 << 28
"""Memory up to which the rows are drawn at once (256 MiB); beyond, in rounds of 64 MiB."""

KNOTS = 1000
"""Knots of each column's estimated distribution function (linear in between)."""


def marginal_maps(synth, params) -> dict[int, np.ndarray]:
    """``{matrix column: knots of G}`` for each quantile-transformed column.

    ``params`` are the generator's parameters to estimate ``G`` for; the
    rows are drawn at seed 0 with the conditions of plain sampling, at once
    up to :data:`ONE_DRAW_BYTES`, else in rounds of
    :data:`~wgangp.tabular.sampling.ROUND_BYTES`.
    """
    blocks: dict[int, dict] = {}
    for block in synth.transformer_.output_info_:
        blocks.setdefault(block["column"], {})[block["role"]] = block
    wanted = []  # (value column, null-flag column or None) per quantile column
    for i, spec in enumerate(synth.transformer_.columns_):
        if spec["kind"] == "continuous" and spec["method"] == "quantile":
            null = blocks[i].get("null")
            wanted.append(
                (blocks[i]["value"]["start"], None if null is None else null["start"] + 1)
            )
    if not wanted:
        return {}
    # one draw when it fits in ONE_DRAW_BYTES, else rounds of ROUND_BYTES (a condition
    # vector of thousands of categories)
    row_bytes = 8 * (
        synth.latent_dim
        + synth.cond_dim_
        + 2 * max(synth.generator_.sizes)
        + 3 * synth.transformer_.output_dim_
    )
    round_rows = MARGINAL_ROWS
    if MARGINAL_ROWS * row_bytes > ONE_DRAW_BYTES:
        round_rows = max(64, ROUND_BYTES // row_bytes)
    rng = np.random.default_rng(0)
    columns = [[] for _ in wanted]
    drawn = 0
    while drawn < MARGINAL_ROWS:
        n = min(round_rows, MARGINAL_ROWS - drawn)
        if synth.cond_dim_:
            cond = original_conditions(synth, n, rng)
        else:
            cond = np.zeros((n, 0), dtype=synth.dtype_)
        rows = generate(synth, cond, rng, params)
        for kept, (value, null) in zip(columns, wanted):
            kept.append(rows[:, value] if null is None else rows[rows[:, null] == 0, value])
        drawn += n
    maps = {}
    for kept, (value, _) in zip(columns, wanted):
        values = np.concatenate(kept)
        if values.size >= 2:
            maps[value] = np.quantile(values, np.linspace(0.0, 1.0, KNOTS))
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
