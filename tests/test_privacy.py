"""tabular.privacy: distance to the closest record, copy counts, the holdout filter."""

import numpy as np
import pandas as pd
import pytest

from wgangp.errors import InvalidDataError, InvalidParameterError
from wgangp.tabular import TabularSynthesizer
from wgangp.tabular.privacy import (
    closeness_report,
    dcr_protection,
    distance_to_closest_record,
    filter_close_rows,
    sample_away_from,
)


def table(n, seed):
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "x": rng.normal(size=n),
            "y": np.where(rng.random(n) < 0.1, np.nan, rng.uniform(0, 10, n)),
            "k": rng.choice(["a", "b", "c"], n),
        }
    )


def brute_force_dcr(rows, reference, discrete):
    """The definition, one pair at a time."""
    out = []
    for _, r in rows.iterrows():
        best = np.inf
        for _, s in reference.iterrows():
            gaps = []
            for c in reference.columns:
                a, b = r[c], s[c]
                if c in discrete:
                    gaps.append(0.0 if a == b else 1.0)
                elif pd.isna(a) and pd.isna(b):
                    gaps.append(0.0)
                elif pd.isna(a) or pd.isna(b):
                    gaps.append(1.0)
                else:
                    span = reference[c].max() - reference[c].min()
                    gaps.append(min(abs(a - b) / span, 1.0) if span > 0 else float(a != b))
            best = min(best, np.mean(gaps))
        out.append(best)
    return np.array(out)


def test_dcr_matches_the_definition_with_missing_values_and_categories():
    reference, rows = table(25, 0), table(12, 1)
    got = distance_to_closest_record(rows, reference, ["k"])
    np.testing.assert_allclose(got, brute_force_dcr(rows, reference, ["k"]), atol=1e-6)


def test_dcr_is_the_same_when_rows_are_split_into_chunks(monkeypatch):
    import wgangp.tabular.privacy as privacy

    reference, rows = table(40, 0), table(30, 1)
    whole = distance_to_closest_record(rows, reference, ["k"])
    monkeypatch.setattr(privacy, "_CELLS_PER_CHUNK", 7)
    np.testing.assert_array_equal(distance_to_closest_record(rows, reference, ["k"]), whole)


def test_dcr_of_a_copy_is_zero_and_of_a_new_category_is_positive():
    reference = table(20, 0)
    rows = reference.iloc[:3].copy()
    assert distance_to_closest_record(rows, reference, ["k"]).tolist() == [0.0, 0.0, 0.0]
    rows["k"] = "zzz"
    assert (distance_to_closest_record(rows, reference, ["k"]) > 0).all()


def test_closeness_report_counts_exact_copies_and_scores_protection():
    real, holdout = table(200, 0), table(200, 1)  # equal sizes, as SDMetrics asks
    fresh = table(200, 2)
    copies = pd.concat([real.iloc[:50], fresh.iloc[50:]], ignore_index=True)
    clean = closeness_report(real, fresh, holdout, ["k"])
    leaky = closeness_report(real, copies, holdout, ["k"])
    assert clean["exact_copies"] == 0 and leaky["exact_copies"] == 50
    assert leaky["exact_share"] == 0.25
    assert clean["holdout_exact_share"] == 0.0
    assert clean["dcr_protection"] > 0.9
    assert leaky["dcr_protection"] < clean["dcr_protection"]
    assert leaky["near_share"] >= 0.25


def test_closeness_report_gives_zero_protection_to_the_training_rows_themselves():
    real, holdout = table(100, 0), table(50, 1)
    report = closeness_report(real, real.copy(), holdout, ["k"])
    assert report["dcr_protection"] == 0.0 and report["exact_share"] == 1.0


def test_filter_drops_copies_and_near_copies_and_keeps_fresh_rows():
    real, holdout, fresh = table(200, 0), table(100, 1), table(100, 2)
    near = real.iloc[:20].copy()
    near["x"] += 1e-6
    synthetic = pd.concat([real.iloc[20:40], near, fresh], ignore_index=True)
    kept = filter_close_rows(real, synthetic, holdout, ["k"])
    dcr = distance_to_closest_record(kept, real, ["k"])
    threshold = np.quantile(distance_to_closest_record(holdout, real, ["k"]), 0.05)
    assert (dcr >= threshold).all() and (dcr > 0).all()
    assert 80 <= len(kept) <= 100  # the 40 copies go; ~5% of fresh rows fall under the bar too
    assert list(kept.columns) == list(synthetic.columns)


def test_filter_with_quantile_zero_still_drops_exact_copies_on_a_discrete_table():
    rng = np.random.default_rng(0)
    real = pd.DataFrame({"a": rng.choice(["p", "q"], 100), "b": rng.choice(["u", "v"], 100)})
    holdout = real.sample(30, random_state=0).reset_index(drop=True)
    assert len(filter_close_rows(real, real, holdout, quantile=0.0)) == 0
    assert len(filter_close_rows(real, real, holdout, quantile=0.0, drop_exact=False)) == 100


def test_filter_rejects_a_quantile_outside_zero_one():
    real = table(20, 0)
    with pytest.raises(InvalidParameterError, match="quantile=1.5"):
        filter_close_rows(real, real, real, ["k"], quantile=1.5)


def test_sample_away_from_returns_n_rows_all_past_the_holdout_bar():
    real, holdout = table(120, 0), table(60, 1)
    synth = TabularSynthesizer(
        hidden=16, depth=1, critic_hidden=16, critic_depth=1, latent_dim=8, random_state=0
    ).fit(real, steps=20)
    rows = sample_away_from(synth, 50, real, holdout, ["k"], quantile=0.2, random_state=0)
    assert len(rows) == 50
    threshold = np.quantile(distance_to_closest_record(holdout, real, ["k"]), 0.2)
    assert (distance_to_closest_record(rows, real, ["k"]) >= threshold).all()


def test_sample_away_from_raises_instead_of_returning_copies():
    real, holdout = table(50, 0), table(30, 1)

    class Copier:
        def sample(self, n, random_state=None):
            return real.sample(n, replace=True, random_state=0).reset_index(drop=True)

    with pytest.raises(InvalidDataError, match="max_tries=2"):
        sample_away_from(Copier(), 10, real, holdout, ["k"], max_tries=2)


def test_dcr_protection_is_high_for_fresh_rows_and_low_for_copies_at_equal_sizes():
    real, holdout, fresh = table(200, 0), table(200, 1), table(200, 2)
    assert dcr_protection(real, fresh, holdout, ["k"]) > 0.9
    half_copies = pd.concat([real.iloc[:100], fresh.iloc[:100]], ignore_index=True)
    assert dcr_protection(real, half_copies, holdout, ["k"]) < 0.7  # chance gives ~0.5 of them
