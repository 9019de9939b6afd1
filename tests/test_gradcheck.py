"""gradcheck: passes on fitted models of every activation, fails on a broken gradient."""

from __future__ import annotations

import numpy as np
import pytest

import wgangp
from wgangp import WGANGP, gradcheck
from wgangp import losses as losses_module
from wgangp.errors import NotFittedError


@pytest.fixture(scope="module")
def X():
    return np.random.default_rng(0).normal(size=(128, 3))


@pytest.fixture(scope="module")
def fitted(X):
    return WGANGP(hidden=8, depth=2, batch_size=32, random_state=0).fit(X, steps=10)


@pytest.mark.parametrize("activation", ["relu", "leaky_relu", "tanh", "softplus", "identity"])
@pytest.mark.parametrize("penalty", ["two-sided", "one-sided"])
def test_gradcheck_passes_on_fitted_models_of_each_activation(X, activation, penalty):
    model = WGANGP(
        hidden=7, depth=2, batch_size=32, activation=activation, penalty=penalty, random_state=1
    ).fit(X, steps=10)
    result = gradcheck(model)
    assert result.passed, str(result)
    assert result.max_error < 1e-5
    assert {row["loss"] for row in result.table} == {"critic", "generator"}
    assert len(result.table) == 2 * 2 * 3  # two losses, three layers, W and b


def test_gradcheck_fails_when_the_critic_gradient_is_broken(fitted, monkeypatch):
    real = losses_module.critic_loss

    def broken(*args, **kwargs):
        loss, grads, stats = real(*args, **kwargs)
        grads[2] = grads[2] * 1.01  # a 1% error in the second weight matrix
        return loss, grads, stats

    monkeypatch.setattr(losses_module, "critic_loss", broken)
    result = gradcheck(fitted)
    assert not result.passed
    failing = [(r["loss"], r["parameter"]) for r in result.table if not r["passed"]]
    assert failing == [("critic", "W2")]
    assert "FAILED" in str(result) and "NO" in str(result)


def test_gradcheck_fails_when_the_generator_gradient_is_broken(fitted, monkeypatch):
    real = losses_module.generator_loss

    def broken(*args, **kwargs):
        loss, grads = real(*args, **kwargs)
        grads[-1] = -grads[-1]  # wrong sign on the output bias
        return loss, grads

    monkeypatch.setattr(losses_module, "generator_loss", broken)
    result = gradcheck(fitted)
    failing = [(r["loss"], r["parameter"]) for r in result.table if not r["passed"]]
    assert failing == [("generator", "b3")]


def test_gradcheck_leaves_the_model_untouched(fitted):
    before = [p.copy() for p in fitted.critic_.params + fitted.generator_.params]
    gradcheck(fitted)
    for p, q in zip(before, fitted.critic_.params + fitted.generator_.params):
        np.testing.assert_array_equal(p, q)
        assert q.dtype == np.float32


def test_gradcheck_checks_a_subset_of_large_arrays(X):
    model = WGANGP(hidden=40, depth=1, batch_size=32, random_state=0).fit(X, steps=2)
    result = gradcheck(model, max_entries=10)
    assert result.passed
    rows = {(r["loss"], r["parameter"]): r for r in result.table}
    assert rows["critic", "W1"]["checked"] == 10 and rows["critic", "b2"]["checked"] == 1


def test_gradcheck_result_reads_as_a_table(fitted):
    result = gradcheck(fitted)
    text = str(result)
    assert text.splitlines()[0].split()[:3] == ["loss", "param", "shape"]
    assert "PASSED" in text and bool(result) is True
    assert result.to_dict()["passed"] is True


def test_gradcheck_needs_a_fitted_model():
    with pytest.raises(NotFittedError):
        gradcheck(WGANGP())


def test_gradcheck_is_exported_at_top_level():
    assert wgangp.gradcheck is gradcheck
