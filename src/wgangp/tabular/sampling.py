"""Rows from a fitted synthesizer: plain, or with conditions on discrete columns."""

from __future__ import annotations

import logging

import numpy as np

from ..nn import forward

__all__ = ["ROUND_BYTES", "conditional", "generate", "original_conditions"]

ROUND_BYTES = 1 << 26
"""Memory of one round of conditional sampling (64 MiB): rows are drawn in rounds this big."""

MIN_ACCEPTANCE = 0.01
"""Below this share of rows meeting the conditions, they are set directly instead."""

logger = logging.getLogger(__name__)


def generate(synth, cond: np.ndarray, rng, params) -> np.ndarray:
    """Transformed rows: tanh scalars, one-hot of argmax(logits + Gumbel) per block."""
    n = cond.shape[0]
    z = rng.standard_normal((n, synth.latent_dim), dtype=synth.dtype_)
    g_in = np.concatenate([z, cond], axis=1) if synth.cond_dim_ else z
    with np.errstate(over="ignore", invalid="ignore"):
        logits = forward(params, synth.generator_.activations, g_in)[0].astype(np.float64)
    synth._check_output("sample", logits)
    gumbel = rng.gumbel(size=logits.shape)
    out = np.zeros_like(logits)
    t = synth.layout_.tanh_index
    out[:, t] = np.tanh(logits[:, t])
    for start, width in synth.layout_.softmax_blocks:
        k = np.argmax(logits[:, start : start + width] + gumbel[:, start : start + width], 1)
        out[np.arange(n), start + k] = 1.0
    return out


def original_conditions(synth, n: int, rng) -> np.ndarray:
    """Conditions for plain sampling: a column uniformly, a category by its frequency."""
    blocks = synth.cond_blocks_
    cols = rng.integers(len(blocks), size=n)
    cond = np.zeros((n, synth.cond_dim_), dtype=synth.dtype_)
    u = rng.random(n)
    for j, (_, c_start, width) in enumerate(blocks):
        rows = cols == j
        cum = np.cumsum(synth._condition_frequencies[c_start : c_start + width])
        cum /= cum[-1]
        k = np.minimum(np.searchsorted(cum, u[rows], side="right"), width - 1)
        cond[np.flatnonzero(rows), c_start + k] = 1
    return cond


def conditional(synth, n: int, targets: list, rng, params, max_tries: int) -> np.ndarray:
    """``n`` transformed rows that meet ``targets`` ((out start, cond start, width, code) each).

    The generator is conditioned on the rarest target; rows that miss any
    target are rejected and redrawn, in rounds of bounded memory
    (:data:`ROUND_BYTES`) sized by the acceptance rate so far. Once the rate
    falls below :data:`MIN_ACCEPTANCE`, or after ``max_tries`` rounds, the
    rows still missing get the targets set directly (with a warning): a
    column of thousands of categories never makes this slow or large.
    """
    cond_one = np.zeros(synth.cond_dim_, dtype=synth.dtype_)
    if synth.cond_dim_:
        freqs = [synth._condition_frequencies[c + k] for (_, c, _, k) in targets]
        _, c_start, _, code = targets[int(np.argmin(freqs))]
        cond_one[c_start + code] = 1
    row_bytes = 8 * (
        synth.latent_dim
        + synth.cond_dim_
        + 2 * max(synth.generator_.sizes)
        + 3 * synth.transformer_.output_dim_
    )
    round_rows = max(64, ROUND_BYTES // row_bytes)
    kept, have, rate = [], 0, 1.0
    for _ in range(max_tries):
        need = n - have
        batch = int(min(max(64, np.ceil(1.2 * need / rate)), round_rows))
        rows = generate(synth, np.broadcast_to(cond_one, (batch, cond_one.size)), rng, params)
        ok = np.ones(batch, dtype=bool)
        for out_start, _, width, k in targets:
            ok &= np.argmax(rows[:, out_start : out_start + width], axis=1) == k
        rows = rows[ok][:need]
        kept.append(rows)
        have += len(rows)
        rate = float(ok.mean())
        if have >= n or rate < MIN_ACCEPTANCE:
            break
    if have < n:
        logger.warning(
            "sample: %d of %d rows did not meet the conditions (%.2g%% of the rows drawn "
            "did); their conditioned columns were set directly",
            n - have,
            n,
            100 * rate,
        )
        while have < n:
            batch = min(n - have, round_rows)
            rows = generate(synth, np.broadcast_to(cond_one, (batch, cond_one.size)), rng, params)
            for out_start, _, width, k in targets:
                rows[:, out_start : out_start + width] = 0
                rows[:, out_start + k] = 1
            kept.append(rows)
            have += batch
    return np.concatenate(kept)[:n]
