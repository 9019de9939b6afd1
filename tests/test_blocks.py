"""Block-wise column statistics and maps (wgangp.blocks), and what they buy:
fitting a large array needs little memory beyond the array and its scaled copy."""

import tracemalloc

import numpy as np
import pytest

import wgangp
from wgangp import blocks
from wgangp.blocks import row_hash_sum


@pytest.mark.parametrize("block", [1, 7, 64, 1 << 16])
def test_statistics_equal_numpys_whatever_the_block(block):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((257, 5)) * [1, 1e3, 1e-3, 5, 1] + [0, 7, -2, 1e4, 0]
    unit = np.abs(X).max(axis=0)
    mean, std = blocks.mean_std(X, unit, block=block)
    np.testing.assert_allclose(mean, (X / unit).mean(axis=0), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(std, (X / unit).std(axis=0), rtol=1e-12)
    np.testing.assert_array_equal(blocks.column_abs_max(X, block=block), unit)
    out = blocks.map_rows(X, lambda rows: (rows - 1.0).astype(np.float32), np.float32, block)
    np.testing.assert_array_equal(out, (X - 1.0).astype(np.float32))
    assert blocks.all_finite(X, block=block)
    assert blocks.value_range(X, block=block) == (X.min(), X.max())
    X[200, 3] = np.inf
    assert blocks.value_range(X, block=block) == (X.min(), np.inf)
    X[0, 0] = -np.inf
    assert blocks.value_range(X, block=block) == (-np.inf, np.inf)
    X[256, 4] = np.nan  # in the last block: NaN wins over the infinities before it
    assert not blocks.all_finite(X, block=block)
    assert all(np.isnan(blocks.value_range(X, block=block)))


def test_row_hash_is_the_same_in_blocks_and_whole(monkeypatch):
    X = np.random.default_rng(2).standard_normal((1000, 4))
    whole = row_hash_sum(X)
    monkeypatch.setattr(blocks, "BLOCK_ROWS", 3)
    monkeypatch.setattr(wgangp.model, "row_slices", lambda n: blocks.row_slices(n, block=3))
    assert row_hash_sum(X) == whole
    assert row_hash_sum(X[::-1]) == whole  # a sum over rows: order does not matter
    X[500, 1] += 1e-12
    assert row_hash_sum(X) != whole


def test_fit_needs_little_beyond_the_data_and_its_scaled_copy():
    X = np.random.default_rng(3).standard_normal((1_500_000, 10))  # 114 MiB of float64
    model = wgangp.WGANGP(hidden=8, depth=1, batch_size=64, threads=1, random_state=0)
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        model.fit(X, steps=1, verbose=0)
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    # the float32 scaled copy is half of X; full-size float64 temporaries
    # (deviations, squares, hash words) would each add a whole X
    assert peak < 0.8 * X.nbytes, f"fit peaked {peak / X.nbytes:.2f} x the data above it"
