"""Tests for wgangp.metrics on samples whose scores are known."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import scipy.linalg
import scipy.stats

from wgangp.data import load_digits, toy, toy_modes
from wgangp.metrics import (
    DigitsScorer,
    association_matrix,
    frechet_gaussian,
    mmd_rbf,
    mode_stats,
    sliced_wasserstein,
    toy_metrics,
    wasserstein1,
)

# ---------------------------------------------------------------------------
# Exact W1
# ---------------------------------------------------------------------------


def test_wasserstein1_of_a_sample_with_itself_is_zero():
    x = np.random.default_rng(0).standard_normal((50, 3))
    assert wasserstein1(x, x[::-1]) == 0.0


def test_wasserstein1_of_two_point_masses_is_their_distance():
    a = np.tile([1.0, 2.0], (20, 1))
    b = np.tile([4.0, 6.0], (20, 1))
    assert wasserstein1(a, b) == pytest.approx(5.0)


@pytest.mark.parametrize("seed", range(4))
def test_wasserstein1_matches_brute_force_over_permutations(seed):
    rng = np.random.default_rng(seed)
    a, b = rng.standard_normal((6, 2)), rng.standard_normal((6, 2)) + 0.5
    cost = np.linalg.norm(a[:, None] - b[None], axis=-1)
    brute = min(cost[np.arange(6), list(p)].mean() for p in itertools.permutations(range(6)))
    assert wasserstein1(a, b) == pytest.approx(brute, rel=1e-12)


def test_wasserstein1_one_dimensional_matches_scipy():
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal(40), rng.exponential(size=40)
    assert wasserstein1(a, b) == pytest.approx(scipy.stats.wasserstein_distance(a, b))


def test_wasserstein1_unequal_sizes_is_value_error():
    with pytest.raises(ValueError, match="equal size; got 3 and 4 points"):
        wasserstein1(np.zeros((3, 2)), np.zeros((4, 2)))


def test_wasserstein1_feature_mismatch_is_value_error():
    with pytest.raises(ValueError, match="same number of features"):
        wasserstein1(np.zeros((3, 2)), np.zeros((3, 3)))


def test_wasserstein1_non_finite_is_value_error():
    with pytest.raises(ValueError, match="a contains NaN"):
        wasserstein1(np.array([[np.inf, 0.0]]), np.zeros((1, 2)))


# ---------------------------------------------------------------------------
# Sliced W1
# ---------------------------------------------------------------------------


def test_sliced_wasserstein_of_identical_samples_is_zero():
    x = np.random.default_rng(0).standard_normal((100, 4))
    assert sliced_wasserstein(x, x.copy(), random_state=0) == 0.0


def test_sliced_wasserstein_one_dimensional_shift_is_exact():
    x = np.random.default_rng(0).standard_normal((100, 1))
    assert sliced_wasserstein(x, x + 0.7, n_projections=3, random_state=0) == pytest.approx(0.7)


def test_sliced_wasserstein_shift_is_mean_projected_shift():
    # Every projection of a shifted copy moves by |theta . s| exactly;
    # E|theta . s| = |s| * 2 / pi for theta uniform on the circle.
    x = np.random.default_rng(0).standard_normal((200, 2))
    shift = np.array([3.0, 4.0])
    value = sliced_wasserstein(x, x + shift, n_projections=4000, random_state=1)
    assert value == pytest.approx(5.0 * 2 / np.pi, rel=0.03)


def test_sliced_wasserstein_unequal_sizes_matches_scipy_in_1d():
    rng = np.random.default_rng(2)
    a, b = rng.standard_normal(37), rng.standard_normal(91) * 2 + 1
    expected = scipy.stats.wasserstein_distance(a, b)
    assert sliced_wasserstein(a, b, n_projections=2, random_state=0) == pytest.approx(expected)


def test_sliced_wasserstein_same_seed_same_value():
    rng = np.random.default_rng(3)
    a, b = rng.standard_normal((50, 3)), rng.standard_normal((60, 3))
    assert sliced_wasserstein(a, b, random_state=5) == sliced_wasserstein(a, b, random_state=5)


def test_sliced_wasserstein_bad_n_projections():
    with pytest.raises(
        ValueError, match=r"^n_projections=0 is not allowed; it must be an integer >= 1"
    ):
        sliced_wasserstein(np.zeros((2, 2)), np.zeros((2, 2)), n_projections=0)


# ---------------------------------------------------------------------------
# MMD
# ---------------------------------------------------------------------------


def test_mmd_rbf_of_identical_samples_is_about_zero():
    x = np.random.default_rng(0).standard_normal((100, 2))
    # For b = a the unbiased estimate is (2/n)(mean off-diagonal k - 1): within 2/n of 0.
    value = mmd_rbf(x, x)
    assert -2 / 100 <= value <= 0


def test_mmd_rbf_of_separated_samples_is_positive():
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((100, 2)), rng.standard_normal((100, 2)) + 4.0
    same = mmd_rbf(a, rng.standard_normal((100, 2)))
    assert mmd_rbf(a, b) > 0.3 > abs(same) * 10


def test_mmd_rbf_matches_formula_on_tiny_sample():
    a = np.array([[0.0], [1.0]])
    b = np.array([[3.0], [5.0]])

    def k(x, y):
        return math.exp(-((x - y) ** 2) / (2 * 1.5**2))

    expected = k(0, 1) + k(3, 5) - 2 * (k(0, 3) + k(0, 5) + k(1, 3) + k(1, 5)) / 4
    assert mmd_rbf(a, b, bandwidth=1.5) == pytest.approx(expected)


def test_mmd_rbf_median_heuristic_is_default():
    rng = np.random.default_rng(4)
    a, b = rng.standard_normal((30, 2)), rng.standard_normal((40, 2)) + 1
    pooled = np.concatenate([a, b])
    dists = np.linalg.norm(pooled[:, None] - pooled[None], axis=-1)
    median = np.median(dists[np.triu_indices(len(pooled), k=1)])
    assert mmd_rbf(a, b) == pytest.approx(mmd_rbf(a, b, bandwidth=median))


@pytest.mark.parametrize("bandwidth", [0.0, -1.0, float("nan")])
def test_mmd_rbf_bad_bandwidth(bandwidth):
    with pytest.raises(ValueError, match="bandwidth must be a positive finite float"):
        mmd_rbf(np.zeros((2, 1)), np.ones((2, 1)), bandwidth=bandwidth)


def test_mmd_rbf_needs_two_points():
    with pytest.raises(ValueError, match="at least 2 points in b"):
        mmd_rbf(np.zeros((2, 1)), np.ones((1, 1)))


# ---------------------------------------------------------------------------
# Mode coverage
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["8gaussians", "25gaussians"])
def test_mode_stats_of_true_centres_is_complete(name):
    centres, sd = toy_modes(name)
    stats = mode_stats(centres, centres, sd)
    k = len(centres)
    assert stats == {
        "modes_captured": k,
        "n_modes": k,
        "high_quality": 1.0,
        "reverse_kl": 0.0,
        "counts": [1] * k,
    }


@pytest.mark.parametrize("name", ["8gaussians", "25gaussians"])
def test_mode_stats_all_in_one_mode_has_kl_log_k(name):
    centres, sd = toy_modes(name)
    samples = centres[3] + sd * np.random.default_rng(0).uniform(-1, 1, (100, 2))
    stats = mode_stats(samples, centres, sd)
    assert stats["modes_captured"] == 1
    assert stats["high_quality"] == 1.0
    assert stats["reverse_kl"] == pytest.approx(math.log(len(centres)))
    assert stats["counts"][3] == 100


def test_mode_stats_no_high_quality_sample_gives_infinite_kl():
    centres, sd = toy_modes("8gaussians")
    stats = mode_stats(np.zeros((10, 2)), centres, sd)
    assert stats["modes_captured"] == 0
    assert stats["high_quality"] == 0.0
    assert stats["reverse_kl"] == float("inf")


def test_mode_stats_threshold_is_three_sd_inclusive():
    centres = np.array([[0.0, 0.0], [10.0, 0.0]])
    samples = np.array([[0.3, 0.0], [0.0, -0.3001]])
    stats = mode_stats(samples, centres, sd=0.1)
    assert stats["high_quality"] == 0.5


@pytest.mark.parametrize("name", ["8gaussians", "25gaussians"])
def test_real_toy_data_scores_about_98_9_percent(name):
    centres, sd = toy_modes(name)
    stats = mode_stats(toy(name, 20_000, random_state=0), centres, sd)
    assert stats["modes_captured"] == len(centres)
    # The 3-sd disc of a 2-D Gaussian holds 1 - exp(-9/2) = 98.89% of it.
    assert stats["high_quality"] == pytest.approx(1 - math.exp(-4.5), abs=0.004)
    assert stats["reverse_kl"] < 0.005


def test_mode_stats_bad_sd():
    with pytest.raises(ValueError, match="sd must be a positive finite float"):
        mode_stats(np.zeros((1, 2)), np.zeros((1, 2)), sd=0.0)


def test_toy_metrics_on_real_data():
    samples = toy("25gaussians", 500, random_state=1)
    scores = toy_metrics(samples, "25gaussians", random_state=2)
    assert scores["modes_captured"] == 25 and scores["n_modes"] == 25
    assert scores["high_quality"] > 0.97
    assert 0 < scores["w1"] < 0.05
    assert scores["n_samples"] == 500


def test_toy_metrics_against_given_real_sample():
    samples = toy("8gaussians", 200, random_state=1)
    scores = toy_metrics(samples, "8gaussians", real=samples)
    assert scores["w1"] == 0.0


def test_toy_metrics_swissroll_skips_mode_stats():
    samples = toy("swissroll", 300, random_state=1)
    scores = toy_metrics(samples, "swissroll", random_state=2)
    assert set(scores) == {"n_samples", "w1"}
    assert 0 < scores["w1"] < 0.3


def test_toy_metrics_real_of_other_size_is_value_error():
    with pytest.raises(ValueError, match="real must have the same shape as samples"):
        toy_metrics(np.zeros((5, 2)), "8gaussians", real=np.zeros((6, 2)))


def test_toy_metrics_unknown_name():
    with pytest.raises(ValueError, match="name must be one of"):
        toy_metrics(np.zeros((5, 2)), "ring")


# ---------------------------------------------------------------------------
# Frechet distance and digits
# ---------------------------------------------------------------------------


def test_frechet_gaussian_matches_sqrtm_formula():
    rng = np.random.default_rng(0)
    m_a, m_b = rng.standard_normal((2, 5))
    f_a, f_b = rng.standard_normal((2, 5, 5))
    cov_a, cov_b = f_a @ f_a.T + 0.1 * np.eye(5), f_b @ f_b.T + 0.1 * np.eye(5)
    root = scipy.linalg.sqrtm(cov_a @ cov_b).real
    expected = np.sum((m_a - m_b) ** 2) + np.trace(cov_a + cov_b - 2 * root)
    assert frechet_gaussian(m_a, cov_a, m_b, cov_b) == pytest.approx(expected, rel=1e-9)


def test_frechet_gaussian_of_identical_singular_gaussians_is_zero():
    cov = np.diag([1.0, 0.0, 2.0])
    assert frechet_gaussian(np.ones(3), cov, np.ones(3), cov) == pytest.approx(0.0, abs=1e-12)


@pytest.fixture(scope="module")
def scorer():
    return DigitsScorer(random_state=0)


@pytest.fixture(scope="module")
def noise():
    return np.random.default_rng(0).uniform(-1, 1, (900, 64))


def test_digits_scorer_classifier_is_accurate(scorer):
    assert scorer.accuracy_ > 0.9


def test_digits_scorer_real_digits_beat_noise_on_inception_score(scorer, noise):
    real = load_digits(return_labels=False)
    assert scorer.inception_score(real) > 8.0 > scorer.inception_score(noise)


def test_digits_scorer_real_digits_beat_noise_on_frechet_distance(scorer, noise):
    real = load_digits(return_labels=False)
    assert scorer.frechet_distance(real) < 0.05 * scorer.frechet_distance(noise)


def test_digits_scorer_one_class_has_inception_score_near_one(scorer):
    X, y = load_digits()
    assert scorer.inception_score(X[y == 1]) < 1.5


def test_digits_scorer_real_ceiling(scorer, noise):
    inception, frechet = scorer.real_ceiling()
    assert inception > 9.0
    assert 0 < frechet < scorer.frechet_distance(noise)


def test_digits_scorer_frechet_against_given_reference_is_zero_for_itself(scorer):
    X = load_digits(return_labels=False)[:300]
    assert scorer.frechet_distance(X, X) == pytest.approx(0.0, abs=1e-8)


def test_digits_scorer_wrong_width_is_value_error(scorer):
    with pytest.raises(ValueError, match=r"shape \(n, 64\)"):
        scorer.inception_score(np.zeros((10, 28 * 28)))


def test_metric_errors_are_named_exceptions():
    from wgangp.errors import InvalidDataError, InvalidParameterError

    with pytest.raises(InvalidDataError):
        wasserstein1(np.zeros((2, 2)), np.zeros((3, 2)))
    with pytest.raises(InvalidParameterError):
        mmd_rbf(np.zeros((2, 1)), np.ones((2, 1)), bandwidth=-1.0)


# ---------------------------------------------------------------------------
# Tabular fidelity
# ---------------------------------------------------------------------------


def _table(n=200, seed=0):
    import pandas as pd

    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    return pd.DataFrame(
        {
            "x": x,
            "y": 2 * x + rng.normal(scale=0.5, size=n),
            "k": np.where(x + rng.normal(scale=0.5, size=n) > 0, "hi", "lo"),
        }
    )


def test_identical_tables_score_one_everywhere():
    from wgangp.metrics import column_pair_trends, column_shapes

    real = _table()
    assert column_shapes(real, real.copy()) == {"x": 1.0, "y": 1.0, "k": 1.0}
    assert all(v == pytest.approx(1.0) for v in column_pair_trends(real, real.copy()).values())


def test_ks_and_tv_complements_match_their_definitions():
    import pandas as pd

    from wgangp.metrics import column_shapes

    real = pd.DataFrame({"x": [0.0, 1.0, 2.0, 3.0], "k": ["a", "a", "b", None]})
    synth = pd.DataFrame({"x": [10.0, 11.0, 12.0, 13.0], "k": ["a", "b", "b", "b"]})
    scores = column_shapes(real, synth)
    assert scores["x"] == 0.0  # disjoint supports: KS statistic 1
    # missing values dropped first, as SDMetrics 0.32's TVComplement:
    # |2/3-1/4| + |1/3-3/4| = 5/6 -> 1 - 5/12
    assert scores["k"] == pytest.approx(7 / 12)


def test_pair_with_a_constant_synthetic_column_is_skipped_as_sdmetrics_does():
    import pandas as pd

    from wgangp.metrics import column_pair_trends

    real = pd.DataFrame({"x": np.arange(10.0), "y": np.arange(10.0) % 3})
    # ten copies of 1/3 have a mean that is not exactly 1/3: centred, they are not all zero
    constant = real.assign(x=[1 / 3] * 10)
    assert np.isnan(column_pair_trends(real, constant)[("x", "y")])


def test_missing_values_do_not_count_in_column_shapes_of_a_discrete_column():
    import pandas as pd

    from wgangp.metrics import column_shapes

    real = pd.DataFrame({"k": ["a", "b", "a", "b"]})
    holes = pd.DataFrame({"k": ["a", None, "b", None]})
    assert column_shapes(real, holes, ["k"])["k"] == 1.0
    assert np.isnan(column_shapes(real, pd.DataFrame({"k": [None, None]}), ["k"])["k"])


def test_correlation_similarity_of_a_flipped_sign_is_low():
    from wgangp.metrics import column_pair_trends

    real = _table()
    flipped = real.assign(y=-real["y"])
    r = np.corrcoef(real["x"], real["y"])[0, 1]
    assert column_pair_trends(real, flipped)[("x", "y")] == pytest.approx(1 - abs(2 * r) / 2)


def test_contingency_similarity_of_independent_columns_drops():
    from wgangp.metrics import column_pair_trends

    real = _table(seed=1)
    shuffled = real.assign(k=real["k"].sample(frac=1.0, random_state=0).to_numpy())
    assert column_pair_trends(real, shuffled)[("x", "k")] < 0.9


def test_detection_auc_is_near_half_for_the_same_distribution_and_one_when_shifted():
    from wgangp.metrics import detection_auc

    real, other = _table(seed=2), _table(seed=3)
    assert abs(detection_auc(real, other) - 0.5) < 0.1
    assert detection_auc(real, other.assign(x=other["x"] + 5)) > 0.95


def test_tabular_report_trains_on_synthetic_and_tests_on_real():
    from wgangp.metrics import tabular_report

    real, holdout = _table(seed=4), _table(seed=5)
    report = tabular_report(real, real.copy(), target="k", holdout=holdout)
    assert report["quality"] == pytest.approx(1.0)
    assert report["task"] == "classification" and report["metric"] == "macro_f1"
    assert report["tstr"] == pytest.approx(report["trtr"])
    assert 0.0 <= report["detection"] <= 1.0
    regression = tabular_report(real, real.copy(), target="y", holdout=holdout, detection=False)
    assert regression["task"] == "regression" and regression["trtr"] > 0.5


def test_trtr_does_not_depend_on_the_synthetic_rows():
    from wgangp.metrics import train_synthetic_test_real

    real, holdout = _table(seed=4), _table(seed=5)
    real.loc[:19, "x"] = np.nan  # filled with the real median, whatever the synthetic rows
    # synthetic rows whose categories come first in another order, shifted
    other = _table(seed=6).assign(x=lambda f: f["x"] + 1.0)
    other = other.iloc[np.argsort(other["k"] != "lo", kind="stable")].reset_index(drop=True)
    first = train_synthetic_test_real(real.copy(), real, holdout, target="y")
    second = train_synthetic_test_real(other, real, holdout, target="y")
    assert first["trtr"] == second["trtr"]
    first = train_synthetic_test_real(real.copy(), real, holdout, target="k")
    second = train_synthetic_test_real(other, real, holdout, target="k")
    assert first["trtr"] == second["trtr"]


def test_strong_pair_trends_keep_only_pairs_with_real_dependence():
    import pandas as pd

    from wgangp.metrics import tabular_report

    rng = np.random.default_rng(0)
    x = rng.normal(size=300)
    real = pd.DataFrame({"x": x, "y": x + 0.1 * rng.normal(size=300), "z": rng.normal(size=300)})
    synth = real.assign(y=-real["y"])  # breaks the one strong pair (x, y)
    report = tabular_report(real, synth, detection=False)
    assert report["column_pair_trends_strong"] == pytest.approx(report["pairs"][("x", "y")])
    assert report["column_pair_trends_strong"] < 0.1 < report["column_pair_trends"]


def test_association_matrix_pearson_between_continuous_cramers_v_otherwise():
    import pandas as pd

    rng = np.random.default_rng(0)
    x = rng.normal(size=200)
    frame = pd.DataFrame(
        {
            "x": x,
            "y": -2 * x + 0.01 * rng.normal(size=200),
            "k": np.where(x > 0, "pos", "neg"),
            "noise": rng.choice(["a", "b"], 200),
            "const": np.ones(200),
        }
    )
    matrix = association_matrix(frame)
    assert list(matrix.index) == list(frame.columns) == list(matrix.columns)
    np.testing.assert_allclose(matrix.to_numpy(), matrix.to_numpy().T)
    assert matrix.loc["x", "y"] < -0.99  # signed Pearson
    assert matrix.loc["k", "noise"] < 0.2  # Cramer's V of independent columns
    assert 0.8 < matrix.loc["x", "k"] <= 1.0  # binned x nearly determines k
    assert np.isnan(matrix.loc["x", "const"]) and np.isnan(matrix.loc["k", "const"])
    assert np.all(np.diag(matrix.to_numpy()) == 1.0)
