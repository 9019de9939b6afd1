"""Tests of wgangp.plot: each figure's axes and artists on tiny inputs; the snapshot callback."""

from __future__ import annotations

import sys

import numpy as np
import pytest

pytest.importorskip("matplotlib")

from matplotlib.figure import Figure  # noqa: E402

import wgangp  # noqa: E402
from wgangp import plot  # noqa: E402
from wgangp.errors import InvalidDataError, InvalidParameterError  # noqa: E402

TITLES = [
    "Losses",
    "Wasserstein estimate",
    "Gradient penalty",
    "Critic gradient norm at interpolates",
]


@pytest.fixture(scope="module")
def toy_run(tmp_path_factory):
    X = np.random.default_rng(0).normal(size=(128, 2))
    run_dir = tmp_path_factory.mktemp("run")
    snaps = plot.SampleSnapshots(every=3, n=40, run_dir=run_dir)
    model = wgangp.WGANGP(hidden=8, depth=1, batch_size=32, random_state=0)
    model.fit(X, steps=7, callbacks=[snaps])
    return model, X, snaps, run_dir


class Finding:
    def __init__(self, name, iterations):
        self.name, self.iterations = name, iterations
        self.evidence, self.remedy, self.severity = "e", "r", "warning"


def test_training_curves_has_four_titled_panels_with_lines(toy_run):
    model = toy_run[0]
    fig = plot.training_curves(model.history_)
    assert isinstance(fig, Figure)
    assert [ax.get_title() for ax in fig.axes] == TITLES
    for ax in fig.axes:
        assert ax.lines, ax.get_title()
    loss_labels = [line.get_label() for line in fig.axes[0].lines]
    assert any("critic" in label for label in loss_labels)
    assert any("generator" in label for label in loss_labels)


def test_training_curves_gradient_panel_has_target_line_and_band(toy_run):
    fig = plot.training_curves(toy_run[0].history_)
    ax = fig.axes[3]
    assert any(list(line.get_ydata()) == [1.0, 1.0] for line in ax.lines)
    assert ax.collections  # the min-max band


def test_training_curves_accepts_a_model(toy_run):
    fig = plot.training_curves(toy_run[0])
    assert len(fig.axes[1].lines[0].get_xdata()) == 7


def test_training_curves_marks_findings_given_as_dicts_or_objects(toy_run):
    findings = [
        {"name": "penalty dominates", "iterations": [2, 3, 4]},
        Finding("one bad step", [5]),
        {"name": "no iterations", "iterations": []},
    ]
    fig = plot.training_curves(toy_run[0].history_, findings=findings)
    for ax in fig.axes:
        assert len(ax.patches) == 1  # the span of the first finding
        assert any(list(line.get_xdata()) == [5, 5] for line in ax.lines)
    legend_texts = [t.get_text() for t in fig.legends[0].get_texts()]
    assert legend_texts == ["diagnose: penalty dominates", "diagnose: one bad step"]


def test_training_curves_tolerates_missing_keys():
    records = [{"iteration": i, "wasserstein": 0.1 * i, "extra": 1} for i in range(1, 6)]
    fig = plot.training_curves(records)
    assert fig.axes[1].lines
    texts = [t.get_text() for ax in (fig.axes[0], fig.axes[2], fig.axes[3]) for t in ax.texts]
    assert texts == ["losses not recorded", "penalty not recorded", "gradient norms not recorded"]


def test_training_curves_smooths_long_histories():
    records = [{"iteration": i, "wasserstein": float(np.sin(i))} for i in range(1, 501)]
    ax = plot.training_curves(records).axes[1]
    assert len(ax.lines) == 2  # faint raw values and their moving average


def test_training_curves_saves_to_path(toy_run, tmp_path):
    path = tmp_path / "sub" / "curves.png"
    plot.training_curves(toy_run[0].history_, path=path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_samples_2d_from_model_draws_critic_contour_and_two_clouds(toy_run):
    model, X = toy_run[:2]
    fig = plot.samples_2d(model, real=X, n=50)
    ax = fig.axes[0]
    assert len(fig.axes) == 2  # the plot and the critic's colour bar
    from matplotlib.collections import PathCollection
    from matplotlib.contour import ContourSet

    scatters = [c for c in ax.collections if type(c) is PathCollection]
    assert sorted(len(c.get_offsets()) for c in scatters) == [50, len(X)]
    assert sum(isinstance(c, ContourSet) for c in ax.collections) == 2
    assert len(ax.collections) == 4  # filled contour, contour lines, two scatters
    assert ax.get_title() == "Samples and critic"


def test_samples_2d_from_arrays_has_no_contour():
    pts = np.random.default_rng(1).normal(size=(30, 2))
    fig = plot.samples_2d(pts)
    assert len(fig.axes) == 1
    assert len(fig.axes[0].collections) == 1
    assert fig.axes[0].get_title() == "Samples"


def test_samples_2d_with_an_explicit_critic(toy_run):
    model = toy_run[0]
    pts = model.sample(20, random_state=0)
    fig = plot.samples_2d(pts, critic=model, grid=20)
    assert len(fig.axes) == 2


def test_samples_2d_refuses_other_dimensions():
    with pytest.raises(InvalidDataError, match=r"shape \(n, 2\)"):
        plot.samples_2d(np.zeros((5, 3)))


def test_digit_grid_tiles_images_with_gaps():
    samples = np.linspace(-1, 1, 6 * 64).reshape(6, 64)
    fig = plot.digit_grid(samples, shape=(2, 4))
    image = fig.axes[0].images[0]
    assert image.get_array().shape == (2 * 8 + 1, 4 * 8 + 3)
    assert image.get_clim() == (-1.0, 1.0)


def test_digit_grid_draws_from_a_model_and_takes_3d_arrays():
    X = np.random.default_rng(0).uniform(-1, 1, size=(64, 16))
    model = wgangp.WGANGP(hidden=8, depth=1, batch_size=32, random_state=0).fit(X, steps=2)
    fig = plot.digit_grid(model, shape=(3, 3))
    assert fig.axes[0].images[0].get_array().shape == (14, 14)
    fig = plot.digit_grid(np.zeros((4, 2, 3)), shape=(1, 4))
    assert fig.axes[0].images[0].get_array().shape == (2, 15)


def test_digit_grid_non_square_needs_image_shape():
    with pytest.raises(InvalidParameterError, match="image_shape"):
        plot.digit_grid(np.zeros((4, 10)))
    with pytest.raises(InvalidParameterError, match="holds 6 pixels"):
        plot.digit_grid(np.zeros((4, 10)), image_shape=(2, 3))


def test_sample_snapshots_record_every_k_and_the_end(toy_run):
    snaps, run_dir = toy_run[2], toy_run[3]
    assert list(snaps.snapshots) == [3, 6, 7]
    assert all(s.shape == (40, 2) for s in snaps.snapshots.values())
    saved = sorted(p.name for p in (run_dir / "samples").iterdir())
    assert saved == ["iter_0000003.npy", "iter_0000006.npy", "iter_0000007.npy"]


def test_sample_snapshots_use_the_same_noise_every_time(toy_run):
    model, snaps = toy_run[0], toy_run[2]
    again = model.sample(40, random_state=snaps.random_state)
    np.testing.assert_array_equal(snaps.snapshots[7], again)


def test_sample_snapshots_continue_over_partial_fit():
    X = np.random.default_rng(0).normal(size=(64, 2))
    snaps = plot.SampleSnapshots(every=4, n=5)
    model = wgangp.WGANGP(hidden=8, depth=1, batch_size=32, random_state=0)
    model.fit(X, steps=4, callbacks=[snaps])
    model.partial_fit(X, steps=5, callbacks=[snaps])
    assert list(snaps.snapshots) == [4, 8, 9]


def test_sample_snapshots_manual_only_when_every_is_none(toy_run):
    snaps = plot.SampleSnapshots(every=None, n=5)
    snaps.on_iteration_end(toy_run[0], 100, {})
    snaps.on_train_end(toy_run[0])
    assert snaps.snapshots == {}
    snaps.record(toy_run[0])
    assert list(snaps.snapshots) == [toy_run[0].n_iter_]


@pytest.mark.parametrize("every", [0, -1, 2.5, True])
def test_sample_snapshots_bad_every(every):
    with pytest.raises(InvalidParameterError, match="every"):
        plot.SampleSnapshots(every=every)


def test_load_snapshots_reads_the_run_folder(toy_run):
    snaps, run_dir = toy_run[2], toy_run[3]
    loaded = plot.load_snapshots(run_dir)
    assert list(loaded) == [3, 6, 7]
    np.testing.assert_array_equal(loaded[6], snaps.snapshots[6])


def test_samples_over_time_one_panel_per_snapshot(toy_run):
    model, X, snaps, run_dir = toy_run
    for source in (snaps, snaps.snapshots, list(snaps.snapshots.items()), run_dir):
        fig = plot.samples_over_time(source, real=X)
        assert [ax.get_title() for ax in fig.axes] == [
            "iteration 3",
            "iteration 6",
            "iteration 7",
        ]
        assert all(len(ax.collections) == 2 for ax in fig.axes)


def test_samples_over_time_keeps_first_and_last_when_thinning():
    rng = np.random.default_rng(0)
    snapshots = {i: rng.normal(size=(10, 2)) for i in range(10, 110, 10)}
    fig = plot.samples_over_time(snapshots, max_panels=4)
    titles = [ax.get_title() for ax in fig.axes]
    assert len(titles) == 4
    assert titles[0] == "iteration 10" and titles[-1] == "iteration 100"


def test_samples_over_time_shows_images_as_grids():
    snapshots = {5: np.zeros((16, 64)), 10: np.ones((16, 64))}
    fig = plot.samples_over_time(snapshots)
    assert [ax.images[0].get_array().shape for ax in fig.axes] == [(35, 35), (35, 35)]


def test_samples_over_time_empty_is_an_error():
    with pytest.raises(InvalidDataError, match="empty"):
        plot.samples_over_time({})


def test_finding_field_reads_objects_and_dicts():
    assert plot.finding_field(Finding("a", [1]), "iterations") == [1]
    assert plot.finding_field({"severity": "info"}, "severity") == "info"
    assert plot.finding_field(object(), "name", "x") == "x"


def test_missing_matplotlib_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    with pytest.raises(ImportError, match=r"pip install wgangp\[plot\]"):
        plot.training_curves([{"iteration": 1, "wasserstein": 0.0}])


# --------------------------------------------------------------------------- #
# Tables                                                                       #
# --------------------------------------------------------------------------- #


def mixed_tables(n=60):
    """A tiny real table (continuous with missing values, integer, text, boolean) and a twin."""
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(0)
    real = pd.DataFrame(
        {
            "income": rng.lognormal(3, 0.5, n),
            "age": rng.integers(18, 90, n).astype(np.int64),
            "city": rng.choice(["Oslo", "Lima", "Pune"], n),
            "flag": rng.random(n) < 0.3,
        }
    )
    real.loc[: n // 5 - 1, "income"] = np.nan  # 20% missing
    synthetic = real.sample(frac=1.0, random_state=1).reset_index(drop=True)
    synthetic["income"] = rng.lognormal(3.2, 0.4, n)
    synthetic["city"] = rng.choice(["Oslo", "Lima"], n)
    return real, synthetic


def test_marginals_histograms_for_continuous_and_paired_bars_for_discrete():
    real, synthetic = mixed_tables()
    fig = plot.marginals(real, synthetic)
    assert isinstance(fig, Figure)
    assert [ax.get_title() for ax in fig.axes] == ["income", "age", "city", "flag"]
    for ax in fig.axes[:2]:  # filled and outlined histograms of both tables
        assert len(ax.patches) > 4
    for ax in fig.axes[2:]:  # one bar per category and table
        assert len(ax.containers) == 2
    ticks = [t.get_text() for t in fig.axes[2].get_xticklabels()]
    assert sorted(ticks) == ["Lima", "Oslo", "Pune"]  # Pune: real only, a bar of height 0
    assert fig.axes[0].get_xlabel() == "missing: 20% real, 0% synthetic"


def test_marginals_shows_scores_in_titles_and_limits_panels():
    real, synthetic = mixed_tables()
    fig = plot.marginals(real, synthetic, max_columns=2, scores={"income": 0.5})
    assert [ax.get_title() for ax in fig.axes] == ["income  (0.50)", "age"]
    assert fig.get_suptitle() == "first 2 of 4 columns"
    fig = plot.marginals(real, synthetic, columns=["city"], discrete_columns=["city", "age"])
    assert len(fig.axes) == 1


def test_marginals_pools_rare_categories_into_other():
    pd = pytest.importorskip("pandas")
    real = pd.DataFrame({"k": [f"c{i:02d}" for i in range(20)] * 3})
    ax = plot.marginals(real, real).axes[0]
    ticks = [t.get_text() for t in ax.get_xticklabels()]
    assert len(ticks) == 12 and ticks[-1] == "other"


def test_marginals_refuses_unknown_columns():
    real, synthetic = mixed_tables()
    with pytest.raises(InvalidParameterError, match="not columns of real"):
        plot.marginals(real, synthetic, columns=["nope"])


def test_correlation_heatmaps_three_matrices_and_two_colour_bars():
    from wgangp.metrics import association_matrix

    real, synthetic = mixed_tables()
    fig = plot.correlation_heatmaps(real, synthetic)
    assert len(fig.axes) == 5
    heatmaps = fig.axes[:3]
    assert [ax.get_title() for ax in heatmaps] == ["real", "synthetic", "|real - synthetic|"]
    matrices = [np.asarray(ax.images[0].get_array()) for ax in heatmaps]
    assert all(m.shape == (4, 4) for m in matrices)
    expected = association_matrix(real, ["city", "flag"]).to_numpy()
    np.testing.assert_allclose(matrices[0], expected)
    np.testing.assert_allclose(matrices[2], np.abs(matrices[0] - matrices[1]))
    assert len(heatmaps[0].texts) == 16  # every cell annotated on small tables
    assert [t.get_text() for t in heatmaps[0].get_xticklabels()] == list(real.columns)


def test_correlation_heatmaps_saves_to_path(tmp_path):
    real, synthetic = mixed_tables()
    plot.correlation_heatmaps(real, synthetic, path=tmp_path / "heat.png")
    assert (tmp_path / "heat.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_loss_and_w_panels_are_scaled_to_the_bulk_with_the_spike_clipped():
    pytest.importorskip("matplotlib")
    from wgangp.plot import training_curves

    records = [
        {
            "iteration": i,
            "critic_loss": (-500.0 if i == 1 else -1.0 + i / 1000),
            "generator_loss": 0.5,
            "wasserstein": (800.0 if i == 1 else 1.0),
        }
        for i in range(1, 300)
    ]
    fig = training_curves(records)
    ax_loss, ax_w = fig.axes[0], fig.axes[1]
    assert ax_loss.get_ylim()[0] > -10 and ax_w.get_ylim()[1] < 10
    notes = [t.get_text() for t in ax_loss.texts]
    assert any("clipped" in n for n in notes)


def test_category_bars_go_by_frequency_and_a_rare_class_gets_a_log_scale():
    pd = pytest.importorskip("pandas")
    pytest.importorskip("matplotlib")
    from wgangp.plot import marginals

    real = pd.DataFrame({"k": ["common"] * 200 + ["mid"] * 50 + ["rare"] * 2})
    fig = marginals(real, real)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["common", "mid", "rare"]
    assert ax.get_yscale() == "log"
    assert marginals(real, real, log_scale=False).axes[0].get_yscale() == "linear"
    even = pd.DataFrame({"k": ["a", "b"] * 20})
    assert marginals(even, even).axes[0].get_yscale() == "linear"


def test_digit_grid_stands_beside_real_digits():
    pytest.importorskip("matplotlib")
    from wgangp.plot import digit_grid

    fig = digit_grid(np.zeros((64, 64)), real=np.ones((100, 64)))
    assert [ax.get_title() for ax in fig.axes] == ["generated", "real"]
    assert fig.get_size_inches()[0] > 10  # larger than the old 4.4 inches
