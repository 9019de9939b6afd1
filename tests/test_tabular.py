"""tabular: transformer round trips, gradients of heads, conditions, dropout, packing."""

import logging

import numpy as np
import pandas as pd
import pytest

from conftest import max_relative_error, numerical_grads, randomize_biases
from wgangp.errors import InvalidDataError, InvalidParameterError, ModelFileError, NotFittedError
from wgangp.nn import MLP, LeakyReLU, Tanh
from wgangp.tabular import (
    ConditionSampler,
    Dropout,
    HeadLayout,
    TabularSynthesizer,
    TabularTransformer,
    augment,
    auto_batch_and_pac,
    condition_cross_entropy,
    default_steps,
    generator_loss,
    heads_backward,
    heads_forward,
    load,
    pack,
    packed_critic_loss,
)

SMALL = dict(hidden=16, depth=1, critic_hidden=16, critic_depth=1, latent_dim=8)


def mixed_frame(n=60, seed=0, nulls=True):
    rng = np.random.default_rng(seed)
    df = pd.DataFrame(
        {
            "income": rng.lognormal(3, 0.5, n),
            "age": rng.integers(18, 90, n).astype(np.int64),
            "city": rng.choice(["Oslo", "Lima", "Pune"], n, p=[0.6, 0.3, 0.1]),
            "flag": rng.random(n) < 0.3,
            "score": np.round(rng.normal(size=n), 3),
            "kids": rng.choice([0, 1, 2], n).astype(np.int32),
        }
    )
    if nulls:
        df.loc[rng.random(n) < 0.2, "score"] = np.nan
        df.loc[rng.random(n) < 0.1, "city"] = None
    return df


# --------------------------------------------------------------------------- #
# Transformer                                                                  #
# --------------------------------------------------------------------------- #


@pytest.mark.parametrize("method", ["quantile", "gmm"])
def test_transformer_round_trip_restores_values_order_and_dtypes(method):
    df = mixed_frame()
    tt = TabularTransformer(continuous=method, random_state=0).fit(df)
    back = tt.inverse_transform(tt.transform(df))
    assert list(back.columns) == list(df.columns)
    assert back.dtypes.to_dict() == df.dtypes.to_dict()
    pd.testing.assert_series_equal(back["city"], df["city"])
    pd.testing.assert_series_equal(back["flag"], df["flag"])
    pd.testing.assert_series_equal(back["kids"], df["kids"])
    assert back["score"].isna().equals(df["score"].isna())
    tol = 1e-9 if method == "quantile" else 1e-6 * df["income"].abs().max()
    np.testing.assert_allclose(back["income"], df["income"], atol=tol)
    np.testing.assert_array_equal(back["age"], df["age"])  # integers stay integers, exactly


def test_transformer_layout_has_null_indicator_and_one_hot_blocks():
    df = mixed_frame()
    tt = TabularTransformer(continuous="quantile").fit(df)
    roles = {(tt.columns_[b["column"]]["name"], b["role"]): b["width"] for b in tt.output_info_}
    assert roles[("score", "null")] == 2
    assert roles[("city", "category")] == 4  # three cities and missing
    assert roles[("kids", "category")] == 3  # integer with few values: discrete
    assert tt.transform(df).shape == (len(df), tt.output_dim_)


def test_discrete_columns_override_the_detection():
    df = mixed_frame(nulls=False)
    tt = TabularTransformer(discrete_columns=["city"], continuous="quantile").fit(df)
    kinds = {c["name"]: c["kind"] for c in tt.columns_}
    assert kinds["kids"] == "continuous" and kinds["flag"] == "discrete"


def test_inverse_transform_clips_to_observed_bounds_unless_told_otherwise():
    df = pd.DataFrame({"x": np.r_[np.zeros(50), np.full(50, 10.0)] + np.linspace(0, 1, 100)})
    for clip in (True, False):
        tt = TabularTransformer(continuous="gmm", clip=clip, random_state=0).fit(df)
        matrix = tt.transform(df)
        matrix[:, 0] = 1.0  # every scalar at the top of its mode
        out = tt.inverse_transform(matrix)["x"]
        if clip:
            assert out.max() <= df["x"].max() and out.min() >= df["x"].min()
        else:
            assert out.max() > df["x"].max()


def test_transform_rejects_an_unseen_category():
    df = mixed_frame(nulls=False)
    tt = TabularTransformer().fit(df)
    with pytest.raises(InvalidDataError, match="Rome"):
        tt.transform(df.assign(city=["Rome"] * len(df)))


def test_transformer_state_round_trips_through_json():
    import json

    df = mixed_frame()
    tt = TabularTransformer(continuous="gmm", random_state=0).fit(df)
    clone = TabularTransformer.from_state_dict(json.loads(json.dumps(tt.state_dict())))
    np.testing.assert_array_equal(clone.transform(df), tt.transform(df))


def test_unfitted_transformer_and_bad_method_raise_clear_errors():
    with pytest.raises(NotFittedError, match="fit"):
        TabularTransformer().transform(mixed_frame())
    with pytest.raises(InvalidParameterError, match="continuous='kde'"):
        TabularTransformer(continuous="kde").fit(mixed_frame())
    with pytest.raises(InvalidParameterError, match="nope"):
        TabularTransformer(discrete_columns=["nope"]).fit(mixed_frame())


# --------------------------------------------------------------------------- #
# Gradients (float64, central finite differences)                              #
# --------------------------------------------------------------------------- #

INFO = [
    {"kind": "tanh", "start": 0, "width": 1},
    {"kind": "softmax", "start": 1, "width": 3},
    {"kind": "tanh", "start": 4, "width": 1},
    {"kind": "softmax", "start": 5, "width": 2},
    {"kind": "softmax", "start": 7, "width": 4},
]


@pytest.mark.parametrize("tau,use_gumbel", [(1.0, False), (0.2, True), (0.5, True)])
def test_heads_gradient_matches_finite_differences(tau, use_gumbel):
    rng = np.random.default_rng(0)
    layout = HeadLayout(INFO)
    logits = rng.normal(size=(5, 11))
    gumbel = rng.gumbel(size=logits.shape) if use_gumbel else None
    weights = rng.normal(size=logits.shape)

    def loss():
        return float(np.sum(weights * heads_forward(layout, logits, tau, gumbel)[0]))

    y, cache = heads_forward(layout, logits, tau, gumbel)
    np.testing.assert_allclose(y[:, 1:4].sum(axis=1), 1.0)
    analytic = heads_backward(cache, weights)
    assert max_relative_error([analytic], numerical_grads(loss, [logits])) < 1e-6


def test_condition_cross_entropy_gradient_matches_finite_differences():
    rng = np.random.default_rng(1)
    logits = rng.normal(size=(6, 11))
    blocks = [(1, 0, 3), (7, 3, 4)]
    cond = np.zeros((6, 7))
    for i in range(6):
        j = i % 3
        if j == 0:
            cond[i, rng.integers(3)] = 1
        elif j == 1:
            cond[i, 3 + rng.integers(4)] = 1  # j == 2: an unconditioned row

    def loss():
        return condition_cross_entropy(logits, cond, blocks)[0]

    value, grad = condition_cross_entropy(logits, cond, blocks)
    assert value > 0
    assert max_relative_error([grad], numerical_grads(loss, [logits])) < 1e-6


def _dropout_critic(in_dim, rng, inner):
    critic = MLP([in_dim, 9, 7, 1], activation=inner, random_state=rng, dtype=np.float64)
    randomize_biases(critic, rng)
    critic.activations[0] = Dropout(inner, 0.4)
    critic.activations[1] = Dropout(inner, 0.4)
    return critic


def _kink_free(critic, x, margin=1e-3):
    h = x
    for k, act in enumerate(critic.activations):
        z = h @ critic.params[2 * k] + critic.params[2 * k + 1]
        inner = getattr(act, "inner", act)
        if inner.name == "leaky_relu" and np.abs(z).min() <= margin:
            return False
        h = act.f(z)
    return True


@pytest.mark.parametrize("inner", [LeakyReLU(0.2), Tanh()], ids=["leaky_relu", "tanh"])
@pytest.mark.parametrize("pac", [1, 3])
def test_packed_critic_loss_with_dropout_matches_finite_differences(inner, pac):
    rng = np.random.default_rng(pac)
    batch, width = 6, 4
    for _ in range(200):
        critic = _dropout_critic(pac * width, rng, inner)
        x_real = rng.normal(size=(batch, width))
        x_fake = rng.normal(loc=0.5, size=(batch, width))
        alpha = rng.random(batch // pac)
        for k, act in enumerate(critic.activations[:2]):
            act.new_mask(rng, 3 * batch // pac, critic.sizes[k + 1], np.float64)
        a = np.repeat(alpha, 1)[:, None]
        x_interp = a * pack(x_real, pac) + (1 - a) * pack(x_fake, pac)
        stacked = np.concatenate([pack(x_real, pac), pack(x_fake, pac), x_interp])
        if _kink_free(critic, stacked):
            break
    assert any(np.any(act.mask == 0) for act in critic.activations[:2])

    def loss():
        return packed_critic_loss(critic, x_real, x_fake, alpha, pac, 10.0)[0]

    value, grads, stats = packed_critic_loss(critic, x_real, x_fake, alpha, pac, 10.0)
    assert stats["penalty"] > 0
    assert max_relative_error(grads, numerical_grads(loss, critic.params)) < 1e-5


@pytest.mark.parametrize("pac,ce_weight", [(1, 0.0), (2, 1.0), (3, 2.5)])
def test_generator_loss_with_heads_conditions_and_pac_matches_finite_differences(pac, ce_weight):
    rng = np.random.default_rng(10 + pac)
    layout = HeadLayout(INFO)
    batch, latent, cond_dim = 6, 3, 7
    blocks = [(1, 0, 3), (7, 3, 4)]
    cond = np.zeros((batch, cond_dim))
    cond[np.arange(batch), rng.integers(cond_dim, size=batch)] = 1
    for _ in range(200):
        gen = MLP([latent + cond_dim, 8, 11], "relu", random_state=rng, dtype=np.float64)
        randomize_biases(gen, rng)
        critic = _dropout_critic(pac * (11 + cond_dim), rng, LeakyReLU(0.2))
        for k, act in enumerate(critic.activations[:2]):
            act.new_mask(rng, batch // pac, critic.sizes[k + 1], np.float64)
        z = rng.normal(size=(batch, latent))
        gumbel = rng.gumbel(size=(batch, 11))
        x = heads_forward(layout, gen(np.concatenate([z, cond], 1)), 0.5, gumbel)[0]
        packed = pack(np.concatenate([x, cond], 1), pac)
        gz = np.concatenate([z, cond], 1) @ gen.params[0] + gen.params[1]
        if np.abs(gz).min() > 1e-3 and _kink_free(critic, packed):
            break
    critic_before = [p.copy() for p in critic.params]

    def loss():
        return generator_loss(gen, critic, layout, z, cond, gumbel, 0.5, pac, ce_weight, blocks)[0]

    value, grads, stats = generator_loss(
        gen, critic, layout, z, cond, gumbel, 0.5, pac, ce_weight, blocks
    )
    assert value == pytest.approx(stats["generator_loss"] + ce_weight * stats["cross_entropy"])
    assert max_relative_error(grads, numerical_grads(loss, gen.params)) < 1e-5
    assert all(np.array_equal(a, b) for a, b in zip(critic_before, critic.params))


def test_dropout_without_mask_is_the_inner_activation_and_masks_scale_kept_units():
    z = np.linspace(-2, 2, 12).reshape(3, 4)
    act = Dropout(LeakyReLU(0.2), 0.5)
    np.testing.assert_array_equal(act.f(z), LeakyReLU(0.2).f(z))
    act.new_mask(np.random.default_rng(0), 3, 4, np.float64)
    assert set(np.unique(act.mask)) <= {0.0, 2.0}
    with pytest.raises(InvalidParameterError, match="mask"):
        act.f(np.zeros((5, 4)))


# --------------------------------------------------------------------------- #
# Training-by-sampling and the synthesizer                                     #
# --------------------------------------------------------------------------- #


def test_condition_sampler_draws_rows_that_hold_the_condition():
    rng = np.random.default_rng(0)
    codes = np.stack([rng.integers(3, size=200), rng.choice(2, 200, p=[0.95, 0.05])], axis=1)
    sampler = ConditionSampler(codes, [3, 2])
    cols, cats = sampler.sample_condition(5000, rng)
    rows = sampler.sample_rows(cols, cats, rng)
    assert np.all(codes[rows, cols] == cats)
    rare = np.mean(cats[cols == 1] == 1)
    assert 0.2 < rare < 0.5  # log-frequency lifts the 5% category
    vec = sampler.vector(cols[:4], cats[:4], np.float32)
    assert vec.shape == (4, 5) and np.all(vec.sum(axis=1) == 1)


def test_auto_batch_and_pac_fit_tiny_tables():
    for n in (10, 30, 124, 398, 10_000):
        batch, pac = auto_batch_and_pac(n)
        assert batch % pac == 0 and batch // pac >= 30
    assert auto_batch_and_pac(100, batch_size=64, pac=4) == (64, 4)


def test_default_steps_are_passes_over_the_rows_between_the_bounds():
    from wgangp.tabular import settings

    low, high, epochs = settings.DEFAULT_STEPS, settings.MAX_DEFAULT_STEPS, settings.DEFAULT_EPOCHS
    assert default_steps(10, 99) == low  # a small table: the fewest
    n = 3 * low * 500 // epochs  # three times the rows that the fewest cover
    assert default_steps(n, 500) == 3 * low
    assert default_steps(n + 1, 500) == 3 * low + 1  # rounded up
    assert default_steps(10**7, 500) == high
    assert default_steps(n, 250) == min(high, 6 * low)  # half the batch, twice the steps
    for bad in ((0, 500), (100, 0), (0,)):
        with pytest.raises(InvalidParameterError, match="default_steps"):
            default_steps(*bad)


def test_default_steps_at_the_auto_batch_is_the_count_a_fit_takes():
    for n in (10, 124, 1875, 1876, 3000, 10**6):
        batch, _ = auto_batch_and_pac(n)
        assert default_steps(n) == default_steps(n, "auto") == default_steps(n, batch)


class _TwoRanks:
    """The communicator methods ``_default_steps`` reaches: another rank holds ``other`` rows."""

    def __init__(self, other, rank=0):
        self.other, self.rank = other, rank

    def Get_rank(self):
        return self.rank

    def Get_size(self):
        return 2

    def allreduce(self, value):
        return value + self.other

    Allreduce = allgather = bcast = allreduce


def test_a_fit_without_steps_takes_the_tables_default(monkeypatch, capsys):
    from wgangp.tabular import settings

    monkeypatch.setattr(settings, "DEFAULT_STEPS", 3)
    monkeypatch.setattr(settings, "DEFAULT_EPOCHS", 2)
    monkeypatch.setattr(settings, "MAX_DEFAULT_STEPS", 50)
    df = mixed_frame(n=100, seed=1)
    synth = TabularSynthesizer(random_state=0, batch_size=20, pac=1, **SMALL)
    assert synth.fit(df).n_iter_ == 10  # 2 passes over 100 rows in batches of 20
    assert "iterations, the default" not in capsys.readouterr().out  # quiet unless verbose
    synth.fit(df, verbose=1, log_every=None)
    said = capsys.readouterr().out
    assert "10 iterations, the default for 100 rows in batches of 20" in said
    assert TabularSynthesizer(batch_size=40, pac=1, **SMALL)._default_steps(df, None) == 5
    # under mpiexec the rows are every rank's: 100 here and 300 on the other rank
    assert synth._default_steps(df, _TwoRanks(300)) == 40
    assert synth._default_steps(df, _TwoRanks(10_000)) == 50
    capsys.readouterr()
    assert synth._default_steps(df, _TwoRanks(300, rank=1), verbose=1) == 40
    assert capsys.readouterr().out == ""  # rank 0 alone speaks
    synth._default_steps(df, _TwoRanks(300), verbose=1)
    assert "40 iterations, the default for 400 rows" in capsys.readouterr().out
    with pytest.raises(InvalidParameterError, match="batch_size"):
        TabularSynthesizer(batch_size=0)._default_steps(df, None)


@pytest.fixture(scope="module")
def fitted():
    df = mixed_frame(n=80, seed=3)
    synth = TabularSynthesizer(random_state=0, **SMALL).fit(df, steps=30)
    return df, synth


def test_sample_returns_the_original_columns_and_dtypes(fitted):
    df, synth = fitted
    rows = synth.sample(50, random_state=1)
    assert list(rows.columns) == list(df.columns) and len(rows) == 50
    assert rows.dtypes.to_dict() == df.dtypes.to_dict()
    assert rows["age"].between(df["age"].min(), df["age"].max()).all()
    assert set(rows["city"].dropna()) <= set(df["city"].dropna())


def test_conditional_sampling_guarantees_every_value(fitted):
    df, synth = fitted
    rows = synth.sample(40, conditions={"city": "Pune", "kids": 2}, random_state=0)
    assert len(rows) == 40
    assert (rows["city"] == "Pune").all() and (rows["kids"] == 2).all()
    rows = synth.sample(10, conditions={"flag": True}, random_state=0)
    assert rows["flag"].all()


def test_conditional_sampling_rejects_unknown_values_and_continuous_columns(fitted):
    _, synth = fitted
    with pytest.raises(InvalidParameterError, match="never takes the value 'Rome'"):
        synth.sample(5, conditions={"city": "Rome"})
    with pytest.raises(InvalidParameterError, match="continuous"):
        synth.sample(5, conditions={"income": 3.0})
    with pytest.raises(InvalidParameterError, match="not a column"):
        synth.sample(5, conditions={"town": "Oslo"})


def test_rejection_fallback_sets_the_values_and_warns(fitted, caplog):
    _, synth = fitted
    with caplog.at_level(logging.WARNING, logger="wgangp.tabular"):
        rows = synth.sample(30, conditions={"city": "Lima", "kids": 0}, max_tries=0, random_state=5)
    assert (rows["city"] == "Lima").all() and (rows["kids"] == 0).all()
    assert "set directly" in caplog.text


def test_tiny_table_of_thirty_rows_fits_and_samples():
    df = mixed_frame(n=30, seed=7, nulls=False)
    synth = TabularSynthesizer(random_state=1, **SMALL).fit(df, steps=5)
    assert synth.batch_size_ % synth.pac_ == 0
    assert len(synth.sample(7, random_state=0)) == 7


def test_same_seed_gives_the_same_model():
    df = mixed_frame(n=40, seed=2)
    a = TabularSynthesizer(random_state=3, **SMALL).fit(df, steps=4)
    b = TabularSynthesizer(random_state=3, **SMALL).fit(df, steps=4)
    assert all(np.array_equal(p, q) for p, q in zip(a.generator_.params, b.generator_.params))


def test_save_load_round_trip_samples_the_same_rows(fitted, tmp_path):
    _, synth = fitted
    path = synth.save(tmp_path / "synth.npz")
    loaded = TabularSynthesizer.load(path)
    pd.testing.assert_frame_equal(
        loaded.sample(25, random_state=4), synth.sample(25, random_state=4)
    )
    with np.load(path, allow_pickle=False) as npz:
        assert "header" in npz.files


def test_resume_after_save_and_load_is_bit_exact(tmp_path):
    df = mixed_frame(n=50, seed=4)
    whole = TabularSynthesizer(random_state=9, **SMALL).fit(df, steps=6)
    half = TabularSynthesizer(random_state=9, **SMALL).fit(df, steps=3)
    resumed = load(half.save(tmp_path / "half.npz")).partial_fit(df, steps=3)
    assert resumed.n_iter_ == 6
    for net in ("generator_", "critic_"):
        for p, q in zip(getattr(whole, net).params, getattr(resumed, net).params):
            np.testing.assert_array_equal(p, q)


def test_load_rejects_other_files(tmp_path):
    bad = tmp_path / "bad.npz"
    np.savez(bad, x=np.zeros(3))
    with pytest.raises(ModelFileError, match="header"):
        load(bad)
    with pytest.raises(ModelFileError, match="does not exist"):
        load(tmp_path / "missing.npz")


def test_model_selection_keeps_the_best_parameters(tmp_path):
    df = mixed_frame(n=60, seed=5, nulls=False)
    synth = TabularSynthesizer(random_state=0, **SMALL).fit(df, steps=6, eval_every=2)
    assert [r["iteration"] for r in synth.selection_history_] == [2, 4, 6]
    best = max(synth.selection_history_, key=lambda r: r["quality"])
    assert synth.best_iteration_ == best["iteration"]
    assert synth.best_score_ == pytest.approx(best["quality"])
    loaded = load(synth.save(tmp_path / "best.npz"))
    assert loaded.best_iteration_ == synth.best_iteration_
    for p, q in zip(loaded.best_generator_params_, synth.best_generator_params_):
        np.testing.assert_array_equal(p, q)


def test_unfitted_synthesizer_says_call_fit():
    with pytest.raises(NotFittedError, match="fit"):
        TabularSynthesizer().sample(3)


def test_augment_adds_minority_rows_and_reports_before_and_after():
    rng = np.random.default_rng(0)
    n = 90
    y = np.where(rng.random(n) < 0.2, "rare", "common")
    df = pd.DataFrame(
        {"a": rng.normal(size=n) + (y == "rare") * 2, "b": rng.normal(size=n), "y": y}
    )
    augmented, table = augment(df, "y", rows=20, steps=5, random_state=0, **SMALL)
    assert len(augmented) == n + 20
    assert (augmented["y"].iloc[n:] == "rare").sum() >= 15
    assert list(table.columns) == ["real", "real + synthetic", "change"]
    assert "macro_f1" in table.index


def test_numeric_only_table_trains_without_conditions():
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"a": rng.normal(size=40), "b": rng.exponential(size=40)})
    synth = TabularSynthesizer(random_state=0, **SMALL).fit(df, steps=3)
    assert synth.cond_dim_ == 0
    rows = synth.sample(5, random_state=0)
    assert rows.shape == (5, 2) and rows["b"].min() >= df["b"].min()


def test_csv_path_is_accepted(tmp_path):
    df = mixed_frame(n=40, nulls=False)
    path = tmp_path / "table.csv"
    df.to_csv(path, index=False)
    synth = TabularSynthesizer(random_state=0, **SMALL).fit(str(path), steps=2)
    assert list(synth.sample(3, random_state=0).columns) == list(df.columns)


def test_repr_lists_changed_parameters_only():
    assert (
        repr(TabularSynthesizer(pac=4, random_state=1))
        == "TabularSynthesizer(pac=4, random_state=1)"
    )


def test_generator_loss_in_float32_agrees_with_float64():
    rng = np.random.default_rng(3)
    layout = HeadLayout(INFO)
    batch, cond_dim, blocks = 20, 7, [(1, 0, 3), (7, 3, 4)]
    cond = np.zeros((batch, cond_dim))
    cond[np.arange(batch), rng.integers(cond_dim, size=batch)] = 1
    gen64 = MLP([4 + cond_dim, 32, 11], "relu", random_state=0, dtype=np.float64)
    critic64 = MLP([2 * (11 + cond_dim), 32, 1], LeakyReLU(0.2), random_state=1, dtype=np.float64)
    z, gumbel = rng.normal(size=(batch, 4)), rng.gumbel(size=(batch, 11))
    args = (layout, z, cond, gumbel, 0.2, 2, 1.0, blocks)
    loss64, grads64, _ = generator_loss(gen64, critic64, *args)
    args32 = (layout, *(a.astype(np.float32) for a in (z, cond, gumbel)), 0.2, 2, 1.0, blocks)
    loss32, grads32, _ = generator_loss(
        gen64.astype(np.float32), critic64.astype(np.float32), *args32
    )
    assert loss32 == pytest.approx(loss64, rel=1e-4, abs=1e-5)
    for g32, g64 in zip(grads32, grads64):
        assert g32.dtype == np.float32
        assert np.abs(g32 - g64).max() <= 1e-3 * np.abs(g64).max() + 1e-6


def test_wgangp_load_opens_tabular_model_files(tmp_path):
    import pandas as pd

    import wgangp

    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x": rng.normal(size=40), "y": rng.choice(["a", "b"], size=40)})
    synth = wgangp.TabularSynthesizer(discrete_columns=["y"], random_state=0)
    synth.fit(frame, steps=2)
    path = synth.save(tmp_path / "t.npz")
    loaded = wgangp.load(path)
    assert isinstance(loaded, wgangp.TabularSynthesizer)
    assert list(loaded.sample(5, random_state=0).columns) == ["x", "y"]


# --------------------------------------------------------------------------- #
# Marginal correction                                                          #
# --------------------------------------------------------------------------- #


def test_marginal_map_makes_any_sample_uniform_and_keeps_its_order():
    from wgangp.tabular.marginals import apply_maps

    rng = np.random.default_rng(0)
    bent = np.tanh(rng.normal(0.3, 0.4, size=(20_000, 1)))  # piled up, never near -1
    knots = np.quantile(bent[:, 0], np.linspace(0, 1, 1000))
    fresh = np.tanh(rng.normal(0.3, 0.4, size=(5_000, 1)))
    mapped = apply_maps(fresh.copy(), {0: knots})[:, 0]
    ks = np.max(np.abs(np.sort((mapped + 1) / 2) - np.linspace(0, 1, 5_000)))
    assert ks < 0.03  # uniform on [-1, 1], as the data's scalar
    assert np.array_equal(np.argsort(mapped, kind="stable"), np.argsort(fresh[:, 0], kind="stable"))


def test_matched_marginals_are_closer_to_the_data_than_learned_ones():
    from wgangp.metrics import column_shapes

    df = mixed_frame(n=200, seed=11, nulls=False)
    synth = TabularSynthesizer(random_state=0, **SMALL).fit(df, steps=20)
    learned = synth.set_params(match_marginals=False).sample(400, random_state=0)
    matched = synth.set_params(match_marginals=True).sample(400, random_state=0)
    discrete = ["city", "flag", "kids"]
    shapes_learned = column_shapes(df, learned, discrete)
    shapes_matched = column_shapes(df, matched, discrete)
    for column in ("income", "age", "score"):  # continuous: corrected
        assert shapes_matched[column] > shapes_learned[column]
        assert shapes_matched[column] > 0.9
    for column in discrete:  # discrete columns are the generator's
        assert shapes_matched[column] == shapes_learned[column]


def test_marginal_correction_follows_the_generator_and_survives_save_and_load(tmp_path):
    df = mixed_frame(n=60, seed=6)
    synth = TabularSynthesizer(random_state=2, **SMALL).fit(df, steps=4)
    before = synth.sample(30, random_state=1)
    synth.partial_fit(df, steps=2)  # new parameters: a new map, not the cached one
    fresh = TabularSynthesizer(random_state=2, **SMALL).fit(df, steps=6)
    pd.testing.assert_frame_equal(
        synth.sample(30, random_state=1), fresh.sample(30, random_state=1)
    )
    assert not synth.sample(30, random_state=1).equals(before)
    loaded = load(synth.save(tmp_path / "m.npz"))
    pd.testing.assert_frame_equal(
        loaded.sample(30, random_state=1), synth.sample(30, random_state=1)
    )
