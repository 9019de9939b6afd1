"""Translator: hand-derived gradients against finite differences, transforms, files, bad input.

The guarantees of the training core (divergence, callbacks, history, resume
bit for bit, refusals, set_params, gradcheck) are checked for the
translator in tests/test_train.py, its model files in
tests/test_hostile_files.py, its diagnose rules in tests/test_diagnose.py.
"""

from __future__ import annotations

import numpy as np
import pytest

import wgangp
from conftest import max_relative_error, numerical_grads, randomize_biases
from wgangp import Translator
from wgangp.cycle import generator_backward, generator_forward, l1, translator_generator_loss
from wgangp.errors import InvalidDataError, NotFittedError
from wgangp.nn import MLP


def _nets(rng, activation, d=3, dtype=np.float64):
    sizes = [[d, 7, 6, d], [d, 5, d], [d, 6, 1], [d, 6, 6, 1]]  # G, F, D_A, D_B
    return [
        randomize_biases(MLP(s, activation=activation, random_state=i, dtype=dtype), rng)
        for i, s in enumerate(sizes)
    ]


def _straight_loss(nets, x_a, x_b, lc, li, residual, pairs=None, lp=0.0):
    """The objective written out term by term, without the stacked passes."""
    g, f, d_a, d_b = nets

    def G(x):
        return g(x) + x if residual else g(x)

    def F(x):
        return f(x) + x if residual else f(x)

    loss = -d_b(G(x_a)).mean() - d_a(F(x_b)).mean()
    loss += lc * (np.abs(F(G(x_a)) - x_a).mean() + np.abs(G(F(x_b)) - x_b).mean())
    loss += li * (np.abs(G(x_b) - x_b).mean() + np.abs(F(x_a) - x_a).mean())
    if pairs is not None:
        p_a, p_b = pairs
        loss += lp * (np.abs(G(p_a) - p_b).mean() + np.abs(F(p_b) - p_a).mean())
    return loss


# ---------------------------------------------------------------- gradients --


@pytest.mark.parametrize("activation", ["relu", "leaky_relu", "tanh", "softplus"])
@pytest.mark.parametrize("residual", [True, False], ids=["residual", "plain"])
@pytest.mark.parametrize("lambda_identity", [0.0, 5.0], ids=["no-identity", "identity"])
@pytest.mark.parametrize("n_pairs", [0, 3, 7], ids=["no-pairs", "3-pairs", "7-pairs"])
def test_generator_objective_gradients_match_finite_differences(
    rng, activation, residual, lambda_identity, n_pairs
):
    """Both generators' gradients, the cycle through both, the identity and pair
    terms (fewer and more pairs than the batch's 5 rows), in float64."""
    nets = _nets(rng, activation)
    x_a, x_b = rng.normal(size=(5, 3)), rng.normal(size=(5, 3))
    pairs = (rng.normal(size=(n_pairs, 3)), rng.normal(size=(n_pairs, 3))) if n_pairs else None

    def value():
        return translator_generator_loss(
            *nets, x_a, x_b, 10.0, lambda_identity, residual, pairs=pairs, lambda_pairs=4.0
        )

    loss, grads_ab, grads_ba, stats = value()
    # views of the generators' gradient buffers, which the finite differences reuse
    grads_ab, grads_ba = [g.copy() for g in grads_ab], [g.copy() for g in grads_ba]
    assert loss == pytest.approx(
        _straight_loss(nets, x_a, x_b, 10.0, lambda_identity, residual, pairs, 4.0)
    )
    assert ("pair_error" in stats) == bool(n_pairs)
    numeric_ab = numerical_grads(lambda: value()[0], nets[0].params)
    numeric_ba = numerical_grads(lambda: value()[0], nets[1].params)
    assert max_relative_error(grads_ab, numeric_ab) < 1e-6
    assert max_relative_error(grads_ba, numeric_ba) < 1e-6


def test_the_cycle_alone_reaches_both_generators(rng):
    """With the critics' terms removed (zero critics), the gradient is the cycle's,
    and it is not zero for either generator: it passes through both."""
    nets = _nets(rng, "tanh")
    for critic in nets[2:]:
        for p in critic.params:
            p[...] = 0
    x_a, x_b = rng.normal(size=(4, 3)), rng.normal(size=(4, 3))
    loss, grads_ab, grads_ba, stats = translator_generator_loss(*nets, x_a, x_b, 1.0, 0.0, True)
    assert loss == pytest.approx(stats["cycle_error_a"] + stats["cycle_error_b"])
    assert all(np.abs(g).max() > 0 for g in grads_ab + grads_ba)
    numeric = numerical_grads(lambda: translator_generator_loss(*nets, x_a, x_b)[0], nets[1].params)
    analytic = translator_generator_loss(*nets, x_a, x_b)[2]
    assert max_relative_error(analytic, numeric) < 1e-6


@pytest.mark.parametrize("residual", [True, False])
def test_generator_input_gradient_matches_finite_differences(rng, residual):
    net = randomize_biases(MLP([3, 8, 3], activation="tanh", random_state=0, dtype=np.float64), rng)
    x, dy = rng.normal(size=(4, 3)), rng.normal(size=(4, 3))
    _, cache = generator_forward(net, x, residual)
    dx, _ = generator_backward(net, cache, dy, residual)
    numeric = numerical_grads(
        lambda: float((generator_forward(net, x, residual)[0] * dy).sum()), [x]
    )
    assert max_relative_error([dx], numeric) < 1e-7


def test_l1_gradient_is_the_sign_over_the_entry_count():
    value, grad = l1(np.array([[2.0, -1.0, 0.0], [0.5, -0.5, 3.0]]))
    assert value == pytest.approx(7.0 / 6)
    np.testing.assert_array_equal(grad, np.array([[1, -1, 0], [1, -1, 1]]) / 6)


def test_float32_objective_agrees_with_float64(rng):
    nets64 = _nets(rng, "relu")
    nets32 = [net.astype(np.float32) for net in nets64]
    x_a, x_b = rng.normal(size=(16, 3)), rng.normal(size=(16, 3))
    loss64, g_ab64, g_ba64, _ = translator_generator_loss(*nets64, x_a, x_b, 10.0, 2.0)
    loss32, g_ab32, g_ba32, _ = translator_generator_loss(
        *nets32, x_a.astype(np.float32), x_b.astype(np.float32), 10.0, 2.0
    )
    assert loss32 == pytest.approx(loss64, rel=1e-4)
    assert max_relative_error(g_ab32, g_ab64) < 1e-3 and max_relative_error(g_ba32, g_ba64) < 1e-3


def test_the_pair_term_alone_pulls_both_generators_toward_the_pairs(rng):
    """With zero critics and no cycle weight, the objective is the pair term: its
    value is the two L1 means, and a small step against its gradient lowers it."""
    nets = _nets(rng, "tanh")
    for critic in nets[2:]:
        for p in critic.params:
            p[...] = 0
    x_a, x_b = rng.normal(size=(4, 3)), rng.normal(size=(4, 3))
    pairs = (rng.normal(size=(6, 3)), rng.normal(size=(6, 3)))
    loss, g_ab, g_ba, stats = translator_generator_loss(
        *nets, x_a, x_b, 0.0, 0.0, True, pairs=pairs, lambda_pairs=1.0
    )
    assert loss == pytest.approx(stats["pair_error"] + stats["pair_error_ba"])
    assert stats["pair_error"] == pytest.approx(
        np.abs(nets[0](pairs[0]) + pairs[0] - pairs[1]).mean()
    )
    for net, grads in ((nets[0], g_ab), (nets[1], g_ba)):
        for p, g in zip(net.params, grads):
            p -= 1e-3 * g
    assert (
        translator_generator_loss(*nets, x_a, x_b, 0.0, 0.0, True, pairs=pairs, lambda_pairs=1.0)[0]
        < loss
    )


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"residual": False},
        {"lambda_identity": 5.0, "activation": "tanh"},
        {"lambda_pairs": 0.0},
    ],
)
def test_gradcheck_passes_on_the_translators_own_losses(params):
    rng = np.random.default_rng(0)
    A, B = rng.normal(size=(40, 3)), rng.normal(loc=1.0, size=(40, 3))
    model = Translator(hidden=8, batch_size=16, dtype=np.float64, random_state=0, **params)
    result = wgangp.gradcheck(model.fit(A, B, steps=3))
    assert result.passed, str(result)
    assert [row["loss"] for row in result.table][::6] == [
        "critic_a",
        "critic_b",
        "generator_ab",
        "generator_ba",
    ]


def _fitted_and_breaker(monkeypatch):
    """A small fitted float64 Translator, and a function that makes ``cycle.l1``'s
    gradient 1% wrong on arrays of ``rows`` rows (every array: None)."""
    from wgangp import cycle

    rng = np.random.default_rng(0)
    A, B = rng.normal(size=(40, 2)), rng.normal(loc=1.0, size=(40, 2))
    model = Translator(hidden=8, batch_size=16, dtype=np.float64, random_state=0).fit(A, B, 3)
    real = cycle.l1

    def break_l1(rows=None):
        def broken(diff):
            value, grad = real(diff)
            if rows is None or diff.shape[0] == rows:
                grad = grad * 1.01
            return value, grad

        monkeypatch.setattr(cycle, "l1", broken)

    return model, break_l1


def _failed(result) -> set:
    return {r["loss"] for r in result.table if not r["passed"]}


def test_gradcheck_includes_the_pair_term(monkeypatch):
    """A wrong pair gradient (and only that) fails the generators' check."""
    model, break_l1 = _fitted_and_breaker(monkeypatch)
    assert wgangp.gradcheck(model, n_samples=6).passed
    break_l1(rows=7)  # the pair rows: n_samples + 1 with n_samples=6
    assert wgangp.gradcheck(model.set_params(lambda_pairs=0.0), n_samples=6).passed
    model.set_params(lambda_pairs=10.0)
    assert _failed(wgangp.gradcheck(model, n_samples=6)) == {"generator_ab", "generator_ba"}


def test_gradcheck_catches_a_broken_cycle_gradient(monkeypatch):
    model, break_l1 = _fitted_and_breaker(monkeypatch)
    break_l1()
    assert _failed(wgangp.gradcheck(model)) == {"generator_ab", "generator_ba"}


# --------------------------------------------------------------- estimator --


def _domains(n_a=64, n_b=48, d=2):
    rng = np.random.default_rng(0)
    return rng.normal(size=(n_a, d)), rng.normal(loc=2.0, size=(n_b, d))


def test_residual_generators_start_at_the_identity():
    A, B = _domains()
    model = Translator(hidden=16, batch_size=32, random_state=0).fit(A, B, steps=1)
    assert np.abs(model.transform(A) - A).max() < 0.2
    assert np.abs(model.inverse_transform(B) - B).max() < 0.2
    plain = Translator(hidden=16, batch_size=32, residual=False, random_state=0).fit(A, B, 1)
    assert np.abs(plain.transform(A) - A).max() > 0.5


def test_transform_and_inverse_give_rows_in_the_datas_units():
    A, B = _domains()
    model = Translator(hidden=16, batch_size=32, random_state=0).fit(A, B, steps=3)
    out, back = model.transform(A[:7]), model.inverse_transform(B[:5])
    assert out.shape == (7, 2) and back.shape == (5, 2) and out.dtype == np.float64
    assert not np.array_equal(out, A[:7])


def test_history_holds_both_w_estimates_both_penalties_and_the_cycle_error():
    A, B = _domains()
    model = Translator(hidden=8, batch_size=32, lambda_identity=1.0, random_state=0)
    record = model.fit(A, B, steps=2).history_[-1]
    for key in (
        "wasserstein_a",
        "wasserstein_b",
        "penalty_a",
        "penalty_b",
        "cycle_error",
        "identity_error",
        "shift_ab",
        "shift_ba",
    ):
        assert np.isfinite(record[key]), key
    assert record["critic_loss"] == pytest.approx(-record["wasserstein"] + record["penalty"])
    assert record["wasserstein"] == pytest.approx(record["wasserstein_a"] + record["wasserstein_b"])


def test_save_and_load_give_the_same_translations(tmp_path):
    A, B = _domains()
    model = Translator(hidden=8, batch_size=32, random_state=0).fit(A, B, steps=3)
    loaded = wgangp.load(model.save(tmp_path / "t.npz"))
    assert isinstance(loaded, Translator) and loaded.residual_
    np.testing.assert_array_equal(loaded.transform(A), model.transform(A))
    np.testing.assert_array_equal(loaded.inverse_transform(B), model.inverse_transform(B))


def test_the_same_seed_gives_the_same_model():
    A, B = _domains()
    one = Translator(hidden=8, batch_size=32, random_state=3).fit(A, B, steps=3)
    two = Translator(hidden=8, batch_size=32, random_state=3).fit(A, B, steps=3)
    assert all(np.array_equal(p, q) for p, q in zip(one.state_arrays(), two.state_arrays()))


def test_a_batch_larger_than_the_smaller_domain_is_clipped_with_a_warning():
    A, B = _domains(n_a=64, n_b=20)
    with pytest.warns(UserWarning, match="smaller domain; using batch_size=20"):
        model = Translator(hidden=8, batch_size=32, random_state=0).fit(A, B, steps=1)
    assert model._batch_rows() == 20


# --------------------------------------------------------------- bad input --


def test_domains_of_different_widths_are_refused():
    A, B = _domains()
    with pytest.raises(InvalidDataError, match="X_source has 2 columns and X_target 3"):
        Translator(hidden=8).fit(A, np.c_[B, B[:, 0]], steps=1)


def test_nan_in_either_domain_is_refused():
    A, B = _domains()
    B[3, 1] = np.nan
    with pytest.raises(InvalidDataError, match="X_target.*NaN"):
        Translator(hidden=8).fit(A, B, steps=1)


def test_a_domain_of_one_row_is_refused():
    A, B = _domains()
    with pytest.raises(InvalidDataError, match="X_source has 1 row"):
        Translator(hidden=8).fit(A[:1], B, steps=1)


def test_transform_checks_its_input_and_needs_a_fit():
    A, B = _domains()
    with pytest.raises(NotFittedError, match=r"call fit\(X_source, X_target\) first"):
        Translator().transform(A)
    model = Translator(hidden=8, batch_size=32, random_state=0).fit(A, B, steps=1)
    with pytest.raises(InvalidDataError):
        model.inverse_transform(np.zeros((3, 5)))


def test_partial_fit_refuses_domains_of_another_width():
    A, B = _domains()
    model = Translator(hidden=8, batch_size=32, random_state=0).fit(A, B, steps=1)
    with pytest.raises(InvalidDataError):
        model.partial_fit(np.c_[A, A], np.c_[B, B], steps=1)
    assert model.n_iter_ == 1


def test_the_report_shows_where_rows_go(tmp_path):
    pytest.importorskip("matplotlib")
    from wgangp.plot import translation_rows
    from wgangp.report import write_translation_report

    rng = np.random.default_rng(0)
    A, B = rng.normal(size=(80, 2)), rng.normal(3.0, 1.0, size=(80, 2))
    model = wgangp.Translator(hidden=8, batch_size=32, random_state=0).fit(A, B, steps=25)
    page = write_translation_report(tmp_path, model, A, B).read_text()
    assert "translation.png" in page and "arrow to their translation" in page
    assert "cycle error" in page and (tmp_path / "translation.png").stat().st_size > 1000
    images = rng.random((40, 64))
    digits = wgangp.Translator(hidden=8, batch_size=16, random_state=0).fit(images, images, 2)
    fig = translation_rows(digits, images, n=5)
    assert fig.axes[0].images[0].get_array().shape[1] > fig.axes[0].images[0].get_array().shape[0]
    wide_a, wide_b = rng.normal(size=(60, 5)), rng.normal(1.0, 1.0, size=(60, 5))
    wide = wgangp.Translator(hidden=8, batch_size=16, random_state=0).fit(wide_a, wide_b, 2)
    page = write_translation_report(tmp_path / "w", wide, wide_a, wide_b).read_text()
    assert "source (blue), translated source (green) and target (orange)" in page


# ------------------------------------------------------------------- pairs --


def _paired_domains(n=64, d=2):
    """B is A swapped and shifted: a pair gives its exact translation."""
    rng = np.random.default_rng(0)
    A = rng.normal(size=(n, d))
    return A, A[:, ::-1] + 2.0


def test_pairs_by_index_and_by_rows_train_the_same_model():
    A, B = _paired_domains()
    idx = np.array([3, 10, 40])
    by_index = Translator(hidden=8, batch_size=32, random_state=0).fit(
        A, B, steps=3, pairs=(idx, B[idx])
    )
    by_rows = Translator(hidden=8, batch_size=32, random_state=0).fit(
        A, B, steps=3, pairs=(A[idx], B[idx])
    )
    unpaired = Translator(hidden=8, batch_size=32, random_state=0).fit(A, B, steps=3)
    np.testing.assert_array_equal(by_index.transform(A), by_rows.transform(A))
    assert not np.array_equal(by_index.transform(A), unpaired.transform(A))
    assert "pair_error" in by_index.history_[-1] and "pair_error" not in unpaired.history_[-1]


def test_pairs_pull_the_translation_of_paired_rows_toward_their_targets():
    A, B = _paired_domains()
    idx = np.arange(0, 64, 8)
    model = Translator(hidden=32, batch_size=32, lr=1e-3, lambda_pairs=50.0, random_state=0)
    model.fit(A, B, steps=150, pairs=(idx, B[idx]))
    errors = model.history_.column("pair_error")
    assert errors[-1] < 0.3 * errors[0]
    assert np.abs(model.transform(A[idx]) - B[idx]).mean() < 0.5 * np.abs(A[idx] - B[idx]).mean()


def test_resume_with_pairs_is_bit_for_bit(tmp_path):
    A, B = _paired_domains()
    pairs = (np.array([1, 5, 9]), B[[1, 5, 9]])
    straight = Translator(hidden=8, batch_size=32, random_state=0).fit(A, B, steps=6, pairs=pairs)
    half = Translator(hidden=8, batch_size=32, random_state=0).fit(A, B, steps=3, pairs=pairs)
    loaded = wgangp.load(half.save(tmp_path / "half.npz"))
    loaded.partial_fit(A, B, steps=3, pairs=pairs)
    assert all(np.array_equal(p, q) for p, q in zip(straight.state_arrays(), loaded.state_arrays()))
    resumed = Translator(hidden=8, batch_size=32, random_state=0)
    resumed.fit(A, B, steps=3, resume=tmp_path / "half.npz", pairs=pairs)
    assert all(
        np.array_equal(p, q) for p, q in zip(straight.state_arrays(), resumed.state_arrays())
    )


def test_continuing_without_the_pairs_is_refused_naming_them():
    A, B = _paired_domains()
    pairs = (np.array([1, 5, 9]), B[[1, 5, 9]])
    model = Translator(hidden=8, batch_size=32, random_state=0).fit(A, B, steps=2, pairs=pairs)
    with pytest.raises(InvalidDataError, match="pairs 3 -> None"):
        model.partial_fit(A, B, steps=1)
    with pytest.raises(InvalidDataError, match="other values"):
        model.partial_fit(A, B, steps=1, pairs=(pairs[0], pairs[1] + 1.0))
    assert model.n_iter_ == 2


@pytest.mark.parametrize(
    "pairs, message",
    [
        ((np.array([0, 1]), np.zeros((3, 2))), r"pairs\[0\] gives 2 source rows and pairs\[1\] 3"),
        ((np.zeros((2, 2)), np.zeros((2, 3))), r"pairs\[1\] has 3 columns"),
        ((np.zeros((2, 3)), np.zeros((2, 2))), r"pairs\[0\] has 3 columns"),
        ((np.array([0, 64]), np.zeros((2, 2))), "indices from 0 to 64, but X_source has 64 rows"),
        ((np.zeros((2, 2)),), "must be a tuple"),
        (np.zeros((2, 2)), "must be a tuple"),
        ((np.zeros((1, 2)), np.array([[0.0, np.nan]])), r"pairs\[1\].*NaN"),
        ((np.array([], dtype=int), np.zeros((0, 2))), r"pairs\[1\] has 0 rows"),
    ],
)
def test_bad_pairs_are_refused_with_the_problem_named(pairs, message):
    A, B = _paired_domains()
    model = Translator(hidden=8, batch_size=32, random_state=0)
    with pytest.raises(InvalidDataError, match=message):
        model.fit(A, B, steps=1, pairs=pairs)
    assert not model.is_fitted()


# ------------------------------------------------------------------- tables --

pd = pytest.importorskip("pandas")

from wgangp.errors import InvalidParameterTypeError  # noqa: E402
from wgangp.tabular.domains import TableHead  # noqa: E402

# a scalar, a 3-wide one-hot block, a scalar, a 2-wide block (encoded width 7)
_INFO = [
    {"kind": "tanh", "start": 0, "width": 1},
    {"kind": "softmax", "start": 1, "width": 3},
    {"kind": "tanh", "start": 4, "width": 1},
    {"kind": "softmax", "start": 5, "width": 2},
]


def test_the_table_head_passes_scalars_and_softmaxes_blocks():
    head = TableHead(_INFO, tau=0.5)
    logits = np.array([[3.0, 1.0, 0.0, 0.0, -2.0, 0.0, 0.0]])
    y, _ = head.forward(logits)
    assert y[0, 0] == 3.0 and y[0, 4] == -2.0  # scalars as they are, not tanh
    np.testing.assert_allclose(y[0, 1:4], np.exp([2, 0, 0]) / np.exp([2, 0, 0]).sum())
    np.testing.assert_allclose(y[0, 5:7], [0.5, 0.5])


def test_the_table_head_gradient_matches_finite_differences(rng):
    head = TableHead(_INFO, tau=0.3)
    logits, dy = rng.normal(size=(4, 7)), rng.normal(size=(4, 7))
    _, cache = head.forward(logits)
    analytic = head.backward(cache, dy)
    numeric = numerical_grads(lambda: float((head.forward(logits)[0] * dy).sum()), [logits])
    assert max_relative_error([analytic], numeric) < 1e-7


def _straight_table_loss(nets, head, x_a, x_b, lc, li, residual):
    """The objective with heads, term by term (G(x) = h(x + MLP(x)) or h(MLP(x)))."""
    g, f, d_a, d_b = nets

    def G(x):
        return head.forward(g(x) + x if residual else g(x))[0]

    def F(x):
        return head.forward(f(x) + x if residual else f(x))[0]

    loss = -d_b(G(x_a)).mean() - d_a(F(x_b)).mean()
    loss += lc * (np.abs(F(G(x_a)) - x_a).mean() + np.abs(G(F(x_b)) - x_b).mean())
    loss += li * (np.abs(G(x_b) - x_b).mean() + np.abs(F(x_a) - x_a).mean())
    return loss


@pytest.mark.parametrize("activation", ["relu", "tanh"])
@pytest.mark.parametrize("residual", [True, False], ids=["residual", "plain"])
@pytest.mark.parametrize("lambda_identity", [0.0, 5.0], ids=["no-identity", "identity"])
def test_generator_objective_through_the_table_head_matches_finite_differences(
    rng, activation, residual, lambda_identity
):
    """The cycle passes through both generators and both heads; float64."""
    nets = _nets(rng, activation, d=7)
    head = TableHead(_INFO, tau=0.4)
    x_a = head.sample_rows(rng, 5, np.float64)
    x_b = head.sample_rows(rng, 5, np.float64)

    def value():
        return translator_generator_loss(
            *nets, x_a, x_b, 10.0, lambda_identity, residual, head=head
        )

    loss, grads_ab, grads_ba, _ = value()
    # views of the generators' gradient buffers, which the finite differences reuse
    grads_ab, grads_ba = [g.copy() for g in grads_ab], [g.copy() for g in grads_ba]
    straight = _straight_table_loss(nets, head, x_a, x_b, 10.0, lambda_identity, residual)
    assert loss == pytest.approx(straight)
    assert max_relative_error(grads_ab, numerical_grads(lambda: value()[0], nets[0].params)) < 1e-6
    assert max_relative_error(grads_ba, numerical_grads(lambda: value()[0], nets[1].params)) < 1e-6


def _tables(n_a=60, n_b=48, seed=0):
    """Two sites: a float with missing values in B, a text, an integer and a boolean column."""
    rng = np.random.default_rng(seed)
    A = pd.DataFrame(
        {
            "dose": rng.normal(5.0, 1.0, n_a),
            "arm": rng.choice(["x", "y", "z"], n_a),
            "visits": rng.integers(0, 4, n_a),
            "flag": rng.random(n_a) < 0.3,
        }
    )
    B = pd.DataFrame(
        {
            "dose": rng.normal(9.0, 2.0, n_b),
            "arm": rng.choice(["x", "y", "z"], n_b, p=[0.6, 0.3, 0.1]),
            "visits": rng.integers(1, 5, n_b),
            "flag": rng.random(n_b) < 0.7,
        }
    )
    B.loc[[2, 7], "dose"] = np.nan
    return A, B


def _table_model(**params):
    return Translator(**{**dict(hidden=16, batch_size=16, random_state=0), **params})


@pytest.mark.parametrize(
    "params", [{}, {"residual": False}, {"lambda_identity": 5.0, "activation": "tanh"}]
)
def test_gradcheck_passes_on_a_table_translator(params):
    A, B = _tables()
    model = _table_model(dtype=np.float64, **params).fit(A, B, steps=3)
    result = wgangp.gradcheck(model)
    assert result.passed, str(result)
    assert {row["loss"] for row in result.table} == set(model.NETWORKS)


def test_gradcheck_catches_a_broken_head_gradient(monkeypatch):
    from wgangp.tabular import domains

    A, B = _tables()
    model = _table_model(dtype=np.float64).fit(A, B, steps=3)
    real = domains.heads_backward
    monkeypatch.setattr(domains, "heads_backward", lambda cache, dy: real(cache, dy) * 1.01)
    failed = {r["loss"] for r in wgangp.gradcheck(model).table if not r["passed"]}
    assert failed == {"generator_ab", "generator_ba"}


def test_table_translations_keep_the_columns_names_and_dtypes():
    A, B = _tables()
    A["arm"] = A["arm"].astype("category")
    B["arm"] = B["arm"].astype("category")
    model = _table_model().fit(A, B, steps=5)
    assert model.n_features_in_ == 4 and model.transformer_ is not None
    for out, source in ((model.transform(A), A), (model.inverse_transform(B[:9]), B[:9])):
        assert list(out.columns) == list(A.columns) and len(out) == len(source)
        assert out["arm"].dtype == "category" and out["flag"].dtype == bool
        assert out["visits"].dtype == np.int64 and out["dose"].dtype == np.float64
        assert set(out["arm"]) <= {"x", "y", "z"} and set(out["visits"]) <= set(range(5))
    both = pd.concat([A, B])
    dose = model.transform(A)["dose"].dropna()  # B's missing values may appear
    assert dose.between(both["dose"].min(), both["dose"].max()).all()  # clip=True


def test_categorical_columns_keep_the_categories_of_both_domains():
    A, B = _tables()
    A["arm"] = A["arm"].astype(pd.CategoricalDtype(["x", "y", "z"]))
    B["arm"] = B["arm"].astype(pd.CategoricalDtype(["x", "y", "z", "w"]))
    model = _table_model().fit(A, B, steps=2)
    out = model.transform(A)
    assert list(out["arm"].cat.categories) == ["x", "y", "z", "w"]


def test_a_residual_table_translator_starts_at_the_identity():
    A, B = _tables()
    model = _table_model().fit(A, B, steps=1)
    out = model.transform(A)
    for column in ("arm", "visits", "flag"):
        assert (out[column] == A[column]).all(), column
    encode = model.transformer_.transform  # the scalars: near the identity once encoded
    np.testing.assert_allclose(encode(out)[:, 0], encode(A)[:, 0], atol=0.05)


def test_the_target_may_list_the_columns_in_another_order():
    A, B = _tables()
    model = _table_model().fit(A, B[["flag", "dose", "visits", "arm"]], steps=2)
    assert model.transformer_.column_names_ == ["dose", "arm", "visits", "flag"]
    assert list(model.inverse_transform(B[["visits", "arm", "flag", "dose"]]).columns) == list(
        A.columns
    )


def test_a_table_translator_learns_to_move_a_discrete_column():
    """Training moves the translated category shares and values toward the target's:
    B has 'flag' True on ~70% of rows, A on ~30%; 'dose' is about 9 in B, 5 in A."""
    A, B = _tables(n_a=200, n_b=200)
    model = _table_model(hidden=32, batch_size=64, lr=1e-3).fit(A, B, steps=150)
    out = model.transform(A)
    assert out["flag"].mean() - A["flag"].mean() > 0.15  # measured: 0.27 -> 0.59 (B: 0.70)
    assert out["dose"].mean() > 7.0  # measured: 5.0 -> 8.7 (B: 9.0)


def test_save_load_and_resume_of_a_table_translator(tmp_path):
    A, B = _tables()
    straight = _table_model().fit(A, B, steps=5)
    first = _table_model().fit(A, B, steps=3)
    loaded = wgangp.load(first.save(tmp_path / "t.npz"))
    assert loaded.transformer_.state_dict() == first.transformer_.state_dict()
    pd.testing.assert_frame_equal(loaded.transform(A), first.transform(A))
    loaded.partial_fit(A, B, steps=2)
    assert all(np.array_equal(p, q) for p, q in zip(loaded.state_arrays(), straight.state_arrays()))
    pd.testing.assert_frame_equal(loaded.inverse_transform(B), straight.inverse_transform(B))


def test_csv_paths_are_tables_too(tmp_path):
    A, B = _tables()
    A.to_csv(tmp_path / "a.csv", index=False)
    B.to_csv(tmp_path / "b.csv", index=False)
    model = _table_model().fit(tmp_path / "a.csv", str(tmp_path / "b.csv"), steps=2)
    assert list(model.transform(tmp_path / "a.csv").columns) == list(A.columns)


# ------------------------------------------------------- tables: bad input --


def test_tables_with_different_column_sets_are_refused():
    A, B = _tables()
    with pytest.raises(InvalidDataError, match=r"only in X_source \['flag'\], only in X_target"):
        _table_model().fit(A, B.drop(columns="flag").assign(extra=1.0), steps=1)


def test_a_column_of_numbers_in_one_domain_and_text_in_the_other_is_refused():
    A, B = _tables()
    B["visits"] = B["visits"].map(lambda v: f"{v} visits")
    with pytest.raises(
        InvalidDataError, match=r"column 'visits' holds number values in X_source .* text values"
    ):
        _table_model().fit(A, B, steps=1)


def test_a_column_discrete_in_one_domain_and_continuous_in_the_other_is_refused():
    A, B = _tables()
    B["visits"] = np.arange(len(B))  # 48 distinct integers: continuous; A's 4: discrete
    with pytest.raises(
        InvalidDataError, match=r"'visits' reads as discrete in X_source .* continuous in X_target"
    ):
        _table_model().fit(A, B, steps=1)
    model = _table_model(discrete_columns=["arm", "flag"]).fit(A, B, steps=1)  # the fix
    assert model.transform(A)["visits"].dtype == np.int64


def test_a_table_and_an_array_are_refused_together():
    A, B = _tables()
    with pytest.raises(InvalidDataError, match="X_source is a DataFrame and X_target a ndarray"):
        _table_model().fit(A, np.zeros((10, 4)), steps=1)


def test_a_table_translator_needs_tables_with_its_columns():
    A, B = _tables()
    model = _table_model().fit(A, B, steps=1)
    with pytest.raises(InvalidParameterTypeError, match="fitted on tables; pass a DataFrame"):
        model.transform(np.zeros((3, 4)))
    with pytest.raises(InvalidDataError, match=r"lacks the columns \['flag'\]"):
        model.transform(A.drop(columns="flag"))
    unseen = A.copy()
    unseen.loc[0, "arm"] = "w"
    with pytest.raises(InvalidDataError, match="'arm' has the value 'w', not seen at fit"):
        model.transform(unseen)
    with pytest.raises(InvalidDataError, match="fitted on tables; continue it on tables"):
        model.partial_fit(np.zeros((10, 4)), np.zeros((10, 4)), steps=1)
    with pytest.raises(InvalidDataError, match="the data differ from those"):
        model.partial_fit(A, B.iloc[::-1], steps=1)


def test_the_report_draws_discrete_columns_as_bars(tmp_path):
    pytest.importorskip("matplotlib")
    from wgangp.plot import translation_marginals
    from wgangp.report import write_translation_report

    A, B = _tables()
    model = _table_model().fit(A, B, steps=3)
    page = write_translation_report(tmp_path, model, A, B).read_text()
    assert "shares of rows per category for discrete columns" in page
    fig = translation_marginals(model, A, B)
    titles = [ax.get_title() for ax in fig.axes]
    assert titles == ["dose", "arm", "visits", "flag"]
    arm = fig.axes[1]
    assert len(arm.patches) == 9  # 3 categories x (source, translated, target)
    assert [t.get_text() for t in arm.get_xticklabels()] == ["x", "y", "z"]
    heights = [p.get_height() for p in arm.patches]
    np.testing.assert_allclose(heights[6:], B["arm"].value_counts(normalize=True)[["x", "y", "z"]])


# ------------------------------------------------------------- table pairs --


def _table_pairs(A, B, idx=(1, 4, 9)):
    """Rows of site B standing as the known translations of source rows idx."""
    idx = np.array(idx)
    return idx, B.iloc[: len(idx)].reset_index(drop=True)


def test_table_pairs_by_index_and_by_rows_train_the_same_model():
    A, B = _tables()
    idx, target = _table_pairs(A, B)
    by_index = _table_model().fit(A, B, steps=3, pairs=(idx, target))
    by_rows = _table_model().fit(A, B, steps=3, pairs=(A.iloc[idx], target))
    unpaired = _table_model().fit(A, B, steps=3)
    for p, q in zip(by_index.state_arrays(), by_rows.state_arrays()):
        np.testing.assert_array_equal(p, q)
    assert not np.array_equal(by_index.generator_ab_.flat, unpaired.generator_ab_.flat)
    assert "pair_error" in by_index.history_[-1] and "pair_error" not in unpaired.history_[-1]


def test_table_pairs_pull_the_translated_rows_toward_their_targets():
    A, B = _tables()
    idx = np.arange(0, 60, 6)
    target = B.iloc[:10].reset_index(drop=True)
    model = _table_model(hidden=32, lr=1e-3, lambda_pairs=50.0)
    model.fit(A, B, steps=150, pairs=(idx, target))
    errors = model.history_.column("pair_error")
    assert errors[-1] < 0.5 * errors[0]
    translated = model.transform(A.iloc[idx]).reset_index(drop=True)
    assert (translated["arm"] == target["arm"]).mean() >= 0.8


def test_table_pairs_resume_bit_for_bit_and_must_come_again(tmp_path):
    A, B = _tables()
    pairs = _table_pairs(A, B)
    straight = _table_model().fit(A, B, steps=4, pairs=pairs)
    half = _table_model().fit(A, B, steps=2, pairs=pairs)
    loaded = wgangp.load(half.save(tmp_path / "half.npz"))
    with pytest.raises(InvalidDataError, match="pairs 3 -> None"):
        loaded.partial_fit(A, B, steps=1)
    changed = pairs[1].copy()
    changed.loc[0, "visits"] += 1
    with pytest.raises(InvalidDataError, match="other values"):
        loaded.partial_fit(A, B, steps=1, pairs=(pairs[0], changed))
    loaded.partial_fit(A, B, steps=2, pairs=pairs)
    for p, q in zip(straight.state_arrays(), loaded.state_arrays()):
        np.testing.assert_array_equal(p, q)


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda A, B: (np.array([0, 1]), B.iloc[:3]), r"pairs\[0\] gives 2 source rows"),
        (lambda A, B: (np.array([0, 60]), B.iloc[:2]), "indices from 0 to 60"),
        (lambda A, B: (np.array([0.5]), B.iloc[:1]), "1-D integer indices"),
        (lambda A, B: (np.array([0]), B.iloc[:1].drop(columns="arm")), "lacks the columns"),
        (lambda A, B: (A.iloc[:1], B.iloc[:1].to_numpy()), r"pairs\[1\] is a ndarray"),
        (lambda A, B: (np.array([0]),), "must be a tuple"),
    ],
)
def test_bad_table_pairs_are_refused_with_the_problem_named(make, message):
    A, B = _tables()
    model = _table_model()
    with pytest.raises((InvalidDataError, InvalidParameterTypeError), match=message):
        model.fit(A, B, steps=1, pairs=make(A, B))
    assert not model.is_fitted()
