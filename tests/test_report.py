"""Tests of wgangp.report: the HTML report's structure, the metrics table, and the demo."""

from __future__ import annotations

import base64
import functools
from html.parser import HTMLParser

import numpy as np
import pytest

pytest.importorskip("matplotlib")
pytest.importorskip("scipy")

import wgangp  # noqa: E402
from wgangp import demo, plot, report  # noqa: E402
from wgangp.data import toy  # noqa: E402

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
FINDINGS = [
    {
        "name": "gradient norm far from 1",
        "evidence": "mean norm 0.21 over iterations 2-5",
        "remedy": "raise lambda_gp",
        "iterations": [2, 3, 4, 5],
        "severity": "warning",
    }
]


class ReportParser(HTMLParser):
    """Collects images (by figure id), table cells (by table id/class) and section texts."""

    def __init__(self):
        super().__init__()
        self.images: dict[str, str] = {}
        self.tables: dict[str, list[list[str]]] = {}
        self.section_text: dict[str, str] = {}
        self.external: list[str] = []
        self._figure = self._table = self._section = None
        self._row: list[str] | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for key in ("href", "src"):
            if key in attrs and not attrs[key].startswith("data:"):
                self.external.append(attrs[key])
        if tag == "script" or (tag == "link" and attrs.get("rel") == "stylesheet"):
            self.external.append(tag)
        if tag == "section":
            self._section = attrs.get("id")
            self.section_text[self._section] = ""
        elif tag == "figure":
            self._figure = attrs.get("id")
        elif tag == "img":
            self.images[self._figure] = attrs["src"]
        elif tag == "table":
            self._table = attrs.get("id") or attrs.get("class")
            self.tables[self._table] = []
        elif tag == "tr":
            self._row = []
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._row is not None:
            self._row.append("".join(self._cell).strip())
            self._cell = None
        elif tag == "tr" and self._table is not None:
            self.tables[self._table].append(self._row)
            self._row = None
        elif tag == "table":
            self._table = None
        elif tag == "figure":
            self._figure = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)
        if self._section is not None:
            self.section_text[self._section] += data


def parse(path) -> ReportParser:
    parser = ReportParser()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser


def decoded_png(src: str) -> bytes:
    prefix = "data:image/png;base64,"
    assert src.startswith(prefix)
    return base64.b64decode(src[len(prefix) :], validate=True)


@pytest.fixture(scope="module")
def toy_model():
    X = toy("25gaussians", 512, random_state=0)
    snaps = plot.SampleSnapshots(every=3, n=50)
    model = wgangp.WGANGP(hidden=16, depth=2, batch_size=64, random_state=0)
    model.fit(X, steps=8, callbacks=[snaps])
    return model, X, snaps


@pytest.fixture(scope="module")
def toy_rows(toy_model):
    return report.evaluate(toy_model[0], data_name="25gaussians", n_samples=300, n_w1=200)


@pytest.fixture(scope="module")
def toy_report(toy_model, toy_rows, tmp_path_factory):
    model, X, snaps = toy_model
    run_dir = tmp_path_factory.mktemp("toy_run")
    path = report.write_report(
        run_dir,
        model,
        X_real=X,
        findings=FINDINGS,
        metrics=toy_rows,
        data_name="25gaussians",
        snapshots=snaps,
    )
    return path, parse(path)


def test_write_report_returns_report_html_in_the_run_folder(toy_report):
    path, _ = toy_report
    assert path.name == "report.html"
    assert path.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


def test_report_embeds_every_figure_as_a_non_empty_png(toy_report):
    path, parsed = toy_report
    assert set(parsed.images) == {"fig-training_curves", "fig-samples", "fig-samples_over_time"}
    for figure_id, src in parsed.images.items():
        png = decoded_png(src)
        assert png.startswith(PNG_SIGNATURE) and len(png) > 5000, figure_id
        on_disk = path.parent / f"{figure_id[4:]}.png"
        assert on_disk.read_bytes() == png


def test_report_has_no_external_resources(toy_report):
    _, parsed = toy_report
    assert parsed.external == []


def test_report_metrics_table_is_filled_with_real_ceilings(toy_report):
    _, parsed = toy_report
    header, *rows = parsed.tables["metrics"]
    assert header[:3] == ["metric", "wgangp", "real data (ceiling)"]
    assert [r[0] for r in rows] == [
        "modes captured",
        "high quality %",
        "reverse KL",
        "exact W1 (200)",
    ]
    for row in rows:
        assert row[1] and row[2], row
        float(row[1]), float(row[2])
    assert rows[0][2] == "25"


def test_report_config_table_lists_the_params(toy_report, toy_model):
    _, parsed = toy_report
    config = dict(parsed.tables["config"][1:])
    for key in toy_model[0].get_params():
        assert key in config
    assert config["hidden"] == "16"
    assert config["dtype"] == "float32"
    assert config["n_iter_"] == "8"
    assert config["critic layers"] == "2 -> 16 -> 16 -> 1"


def test_report_findings_section_lists_name_evidence_remedy(toy_report):
    _, parsed = toy_report
    text = parsed.section_text["findings"]
    for key in ("name", "evidence", "remedy"):
        assert FINDINGS[0][key] in text
    assert "iterations 2-5" in text


def test_report_with_no_findings_says_so(toy_model, toy_rows, tmp_path):
    path = report.write_report(tmp_path, toy_model[0], findings=[], metrics=toy_rows)
    assert "No problems found" in parse(path).section_text["findings"]


def test_report_calls_wgangp_diagnose_when_it_exists(toy_model, toy_rows, tmp_path, monkeypatch):
    class Finding:
        name, evidence, remedy, iterations, severity = "slow critic", "ev", "rem", [3], "info"

    seen = []

    def diagnose(history, settings=None):
        seen.append((len(history), settings["lr"], settings["lambda_gp"]))
        return [Finding()]

    monkeypatch.setattr(wgangp, "diagnose", diagnose, raising=False)
    model = toy_model[0]
    path = report.write_report(tmp_path, model, metrics=toy_rows)
    assert seen == [(8, model.lr, model.lambda_gp)]  # the settings, for the remedies
    assert "slow critic" in parse(path).section_text["findings"]


def test_report_without_diagnose_says_it_is_unavailable(toy_model, toy_rows, tmp_path, monkeypatch):
    monkeypatch.delattr(wgangp, "diagnose", raising=False)
    path = report.write_report(tmp_path, toy_model[0], metrics=toy_rows)
    assert "No diagnosis" in parse(path).section_text["findings"]


def test_report_finds_snapshots_saved_in_the_run_folder(toy_model, toy_rows, tmp_path):
    model, X, _ = toy_model
    snaps = plot.SampleSnapshots(every=None, n=20, run_dir=tmp_path)
    snaps.record(model, iteration=4)
    snaps.record(model, iteration=8)
    path = report.write_report(tmp_path, model, findings=[], metrics=toy_rows)
    assert "fig-samples_over_time" in parse(path).images


def test_report_metrics_accept_a_mapping(toy_model, tmp_path):
    metrics = {"my score": 0.5, "paired": (1.25, 1.0)}
    path = report.write_report(tmp_path, toy_model[0], findings=[], metrics=metrics)
    rows = parse(path).tables["metrics"][1:]
    assert [r[:3] for r in rows] == [["my score", "0.5000", ""], ["paired", "1.25", "1.00"]]


def test_evaluate_toy_rows_have_real_ceilings(toy_rows):
    names = [r["metric"] for r in toy_rows]
    assert names == ["modes captured", "high quality %", "reverse KL", "exact W1 (200)"]
    by_name = {r["metric"]: r for r in toy_rows}
    assert by_name["modes captured"]["real"] == 25
    assert by_name["high quality %"]["real"] > 90
    assert by_name["exact W1 (200)"]["real"] < by_name["exact W1 (200)"]["model"]
    assert {r["better"] for r in toy_rows} == {"higher", "lower"}


def test_evaluate_other_data_uses_sliced_w1_and_mmd():
    X = np.random.default_rng(0).normal(size=(200, 3))
    model = wgangp.WGANGP(hidden=8, depth=1, batch_size=32, random_state=0).fit(X, steps=2)
    rows = report.evaluate(model, X_real=X)
    assert [r["metric"] for r in rows] == ["sliced W1", "MMD^2 (RBF)"]
    assert all(np.isfinite(r["model"]) and np.isfinite(r["real"]) for r in rows)


def test_digits_report_has_scorer_rows_and_a_digit_grid(tmp_path):
    from wgangp.data import load_digits

    X = load_digits(return_labels=False)[:256]
    model = wgangp.WGANGP(hidden=16, depth=1, batch_size=64, random_state=0).fit(X, steps=2)
    rows = report.evaluate(model, X_real=X, data_name="digits")
    assert [r["metric"] for r in rows] == [
        "inception score",
        "Frechet distance",
        "sliced W1",
        "MMD^2 (RBF)",
    ]
    assert rows[0]["real"] > rows[0]["model"]
    path = report.write_report(tmp_path, model, findings=[], metrics=rows, data_name="digits")
    parsed = parse(path)
    assert set(parsed.images) == {"fig-training_curves", "fig-digits"}
    assert decoded_png(parsed.images["fig-digits"]).startswith(PNG_SIGNATURE)


def test_format_metrics_prints_model_beside_real(toy_rows):
    text = report.format_metrics(toy_rows)
    lines = text.splitlines()
    assert lines[0].split() == ["metric", "wgangp", "real", "data"]
    assert lines[1].startswith("modes captured") and lines[1].rstrip().endswith("25")


def test_write_report_needs_a_fitted_model(tmp_path):
    with pytest.raises(wgangp.NotFittedError):
        report.write_report(tmp_path, wgangp.WGANGP())


def test_demo_writes_model_samples_and_report(tmp_path, monkeypatch, capsys):
    quick = functools.partial(report.evaluate, n_samples=200, n_w1=100)
    monkeypatch.setattr(demo, "evaluate", quick)
    monkeypatch.setitem(demo.DEMO_SETTINGS, "hidden", 8)
    out = tmp_path / "demo"
    assert demo.main(["--seconds", "30", "--max-steps", "50", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "modes captured" in printed and str(out / "report.html") in printed
    assert printed.count(" iter ") >= 5  # progress lines, about every 10%
    for name in ("model.npz", "samples.npy", "report.html", "training_curves.png", "samples.png"):
        assert (out / name).stat().st_size > 0, name
    assert wgangp.load(out / "model.npz").n_iter_ == 50
    assert len(list((out / "samples").glob("iter_*.npy"))) >= 1


# --------------------------------------------------------------------------- #
# The tabular fidelity report                                                  #
# --------------------------------------------------------------------------- #

SCORE_NAMES = [
    "quality",
    "column shapes",
    "column pair trends",
    "pair trends, strong pairs",
    "detection AUC",
    "detection",
]


@pytest.fixture(scope="module")
def table_run():
    pd = pytest.importorskip("pandas")
    pytest.importorskip("sklearn")
    rng = np.random.default_rng(0)
    n = 80
    real = pd.DataFrame(
        {
            "income": rng.lognormal(3, 0.5, n),
            "age": rng.integers(18, 90, n).astype(np.int64),
            "city": rng.choice(["Oslo", "Lima", "Pune"], n),
            "kids": rng.choice([0, 1, 2], n).astype(np.int64),
        }
    )
    real.loc[:7, "income"] = np.nan
    synth = wgangp.TabularSynthesizer(
        hidden=16, depth=1, critic_hidden=16, critic_depth=1, latent_dim=8, random_state=0
    )
    synth.fit(real, steps=4)
    return synth, real


@pytest.fixture(scope="module")
def table_report(table_run, tmp_path_factory):
    synth, real = table_run
    path = report.write_tabular_report(
        tmp_path_factory.mktemp("table_run"), synth, real, target="city"
    )
    return path, parse(path)


def test_tabular_report_embeds_every_figure_as_a_non_empty_png(table_report):
    path, parsed = table_report
    assert set(parsed.images) == {"fig-marginals", "fig-correlations", "fig-training_curves"}
    for figure_id, src in parsed.images.items():
        png = decoded_png(src)
        assert png.startswith(PNG_SIGNATURE) and len(png) > 5000, figure_id
        assert (path.parent / f"{figure_id[4:]}.png").read_bytes() == png
    assert parsed.external == []


def test_tabular_report_scores_table_is_filled_with_explanations(table_report):
    _, parsed = table_report
    rows = parsed.tables["scores"]
    assert rows[0] == ["score", "value", "what it measures"]
    names = [r[0] for r in rows[1:]]
    assert names == SCORE_NAMES + ["TSTR (macro-F1)", "TRTR (macro-F1)"]
    for name, value, note in rows[1:]:
        if name != "pair trends, strong pairs":  # n/a when no real pair is strong
            assert 0.0 <= float(value) <= 1.0, name
        assert len(note) > 30, name
    assert "city" in rows[-2][2]


def test_tabular_report_scores_each_column(table_report, table_run):
    _, parsed = table_report
    rows = parsed.tables["columns"]
    assert [r[0] for r in rows[1:]] == list(table_run[1].columns)
    kinds = {r[0]: (r[1], r[2]) for r in rows[1:]}
    assert kinds["income"] == ("continuous", "KS complement")
    assert kinds["city"] == ("discrete", "TV complement")
    assert kinds["kids"][0] == "discrete"  # as the synthesizer read it
    for row in rows[1:]:
        assert 0.0 <= float(row[3]) <= 1.0 and row[4] and row[5]
    assert len(parsed.tables["pairs"]) > 1


def test_tabular_report_lists_the_synthesizer_config(table_report):
    _, parsed = table_report
    config = dict(parsed.tables["config"][1:])
    assert config["hidden"] == "16" and config["n_iter_"] == "4"
    width = config["transformer output_dim_"]  # income and its null flag, age, city, kids
    assert width == "10" and config["generator layers"].endswith(f" -> 16 -> {width}")
    for key in ("critic layers", "batch_size_", "pac_"):
        assert config[key], key


def test_tabular_report_without_target_or_history(table_run, tmp_path):
    synth, real = table_run
    synthetic = synth.sample(30, random_state=1)
    history = synth.history_
    synth.history_ = []
    try:
        path = report.write_tabular_report(tmp_path, synth, real, synthetic=synthetic, title="T")
    finally:
        synth.history_ = history
    parsed = parse(path)
    assert [r[0] for r in parsed.tables["scores"][1:]] == SCORE_NAMES
    assert set(parsed.images) == {"fig-marginals", "fig-correlations"}
    assert '<div class="k">synthetic rows</div><div class="v">30</div>' in path.read_text(
        encoding="utf-8"
    )
    assert "<title>T</title>" in path.read_text(encoding="utf-8")


def test_write_tabular_report_needs_a_fitted_synthesizer(tmp_path):
    pd = pytest.importorskip("pandas")
    with pytest.raises(wgangp.NotFittedError):
        report.write_tabular_report(tmp_path, wgangp.TabularSynthesizer(), pd.DataFrame({"x": [1]}))


def test_the_configuration_shows_what_ran(tmp_path):
    pytest.importorskip("matplotlib")
    import wgangp
    from wgangp.report import write_report
    from wgangp.schedules import ExponentialDecay

    X = np.random.default_rng(0).normal(size=(64, 2))
    model = wgangp.WGANGP(hidden=8, depth=1, batch_size=32, lr=1e-3, random_state=0)
    model.fit(X, steps=6, callbacks=[ExponentialDecay(start=2, stop=6, final=0.01)])
    text = write_report(tmp_path, model, X_real=X, data_name="8gaussians").read_text()
    config = text[text.index('id="config"') :]
    assert "None \u2192 2" in config  # latent_dim: auto resolved
    assert "auto \u2192 1" in config  # threads used
    assert "schedule: 0.001 \u2192 3.16e-05" in config
    assert "<td>data</td><td>8gaussians</td>" in config
    assert "time in iterations" in text
