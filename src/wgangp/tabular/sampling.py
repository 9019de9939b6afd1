"""Rows from a fitted synthesizer: plain, or with conditions on discrete columns."""

from __future__ import annotations

import logging

import numpy as np

from ..nn import forward

__all__ = ["generate", "original_conditions"]

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
