"""One self-contained HTML report per run: metrics, figures, diagnosis, config.

:func:`write_report` writes ``report.html`` into a run folder, with every
figure embedded as a base64 PNG and the styling inline, so the one file can
be mailed, attached to an issue or opened offline; the figures are also saved
beside it as PNG files. :func:`evaluate` computes the metrics table that the
report shows (and ``python -m wgangp.demo`` prints with
:func:`format_metrics`): each score of the generator beside the same score of
real data, the ceiling a perfect generator would reach.
:func:`write_tabular_report` is the same page for a synthetic table: the
fidelity scores of :func:`wgangp.metrics.tabular_report` explained, a score
per column, the weakest column pairs, the marginals and association heatmaps
of :mod:`wgangp.plot`, the training curves and the synthesizer's settings.

Needs matplotlib (``pip install wgangp[plot]``) for the figures and SciPy /
scikit-learn (``pip install wgangp[metrics]``) for the metrics.
"""

from __future__ import annotations

import base64
import datetime
import html
import io
import logging
import math
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from . import plot
from ._version import __version__
from .data import TOY_DATASETS, toy
from .errors import InvalidDataError, InvalidParameterTypeError

__all__ = ["evaluate", "format_metrics", "write_report", "write_tabular_report"]

logger = logging.getLogger(__name__)

_TOY_MIXTURES = ("8gaussians", "25gaussians")


def _cards_html(cards: list[tuple[str, str]]) -> str:
    """The summary cards (label, value) as one HTML row."""
    return (
        '<div class="cards">'
        + "".join(
            f'<div class="card"><div class="k">{html.escape(k)}</div>'
            f'<div class="v">{html.escape(v)}</div></div>'
            for k, v in cards
        )
        + "</div>"
    )


def _row(metric: str, model: float, real: float | None, better: str, note: str = "") -> dict:
    return {"metric": metric, "model": model, "real": real, "better": better, "note": note}


def evaluate(
    model,
    X_real=None,
    data_name: str | None = None,
    random_state=0,
    n_samples: int = 2500,
    n_w1: int = 2000,
) -> list[dict]:
    """Score a fitted model against real data, with real data's own score beside each.

    What is measured depends on the data:

    * ``"8gaussians"`` / ``"25gaussians"``: modes captured, % high-quality
      samples and reverse KL over modes on ``n_samples`` samples, and exact
      W1 on ``n_w1`` (definitions in BENCHMARKS.md); the real column scores fresh
      draws of the toy set the same way (W1 between two real samples is the
      noise floor).
    * ``"swissroll"``: exact W1 on ``n_w1``.
    * ``"digits"`` (8x8 digits in [-1, 1]): the inception score and Frechet
      distance of :class:`wgangp.metrics.DigitsScorer` on 900 samples, the
      real column its held-out real digits; plus the rows below.
    * any data with ``X_real``: sliced W1 and MMD (RBF, median heuristic)
      between generated samples and one half of ``X_real`` (at most 1,000
      rows), the real column comparing the other half with the same half.

    Parameters
    ----------
    model : fitted WGANGP
    X_real : array_like of shape (n, d), optional
        Real data (needed unless ``data_name`` is a toy set).
    data_name : str, optional
        One of ``wgangp.data.TOY_DATASETS`` or ``"digits"``.
    random_state : int, default 0
        Seeds the samples drawn and the subsets compared.
    n_samples, n_w1 : int, default 2500 and 2000
        Sample sizes of the mode statistics and of the exact W1 on toy sets
        (the benchmark's sizes; smaller is faster and noisier).

    Returns
    -------
    list of dict
        One row per metric: ``metric`` (name), ``model`` and ``real``
        (floats; ``real`` None when there is no ceiling), ``better``
        (``"higher"`` or ``"lower"``) and ``note``.
    """
    from . import metrics as M

    rng = np.random.default_rng(random_state)
    rows: list[dict] = []
    if data_name in _TOY_MIXTURES:
        from .data import toy_modes

        centres, sd = toy_modes(data_name)
        fake = model.sample(n_samples, random_state=rng)
        real = toy(data_name, n_samples, random_state=rng)
        fake_stats = M.mode_stats(fake, centres, sd)
        real_stats = M.mode_stats(real, centres, sd)
        k = fake_stats["n_modes"]
        rows.append(
            _row(
                "modes captured",
                fake_stats["modes_captured"],
                real_stats["modes_captured"],
                "higher",
                f"of {k}",
            )
        )
        rows.append(
            _row(
                "high quality %",
                100 * fake_stats["high_quality"],
                100 * real_stats["high_quality"],
                "higher",
                "within 3 sd of a mode",
            )
        )
        rows.append(
            _row(
                "reverse KL",
                fake_stats["reverse_kl"],
                real_stats["reverse_kl"],
                "lower",
                "high-quality samples over modes vs uniform",
            )
        )
    if data_name in TOY_DATASETS:
        fake = model.sample(n_w1, random_state=rng)
        real_a = toy(data_name, n_w1, random_state=rng)
        real_b = toy(data_name, n_w1, random_state=rng)
        rows.append(
            _row(
                f"exact W1 ({n_w1})",
                M.wasserstein1(fake, real_a),
                M.wasserstein1(real_b, real_a),
                "lower",
                "optimal matching",
            )
        )
        return rows
    if data_name == "digits":
        scorer = M.DigitsScorer(random_state=0)
        fake = model.sample(900, random_state=rng)
        inception_real, frechet_real = scorer.real_ceiling()
        rows.append(
            _row(
                "inception score",
                scorer.inception_score(fake),
                inception_real,
                "higher",
                "classifier trained on real digits; max 10",
            )
        )
        rows.append(
            _row(
                "Frechet distance",
                scorer.frechet_distance(fake),
                frechet_real,
                "lower",
                "in the classifier's feature space",
            )
        )
        if X_real is None:
            from .data import load_digits

            X_real = load_digits(return_labels=False)
    if X_real is not None:
        X_real = np.asarray(X_real, dtype=np.float64)
        if X_real.ndim != 2 or len(X_real) < 4:
            raise InvalidDataError(
                f"X_real must have shape (n, d) with n >= 4; got {X_real.shape}."
            )
        order = rng.permutation(len(X_real))
        half = min(len(X_real) // 2, 1000)
        real_a, real_b = X_real[order[:half]], X_real[order[half : 2 * half]]
        fake = model.sample(half, random_state=rng)
        seed = int(rng.integers(2**31 - 1))
        rows.append(
            _row(
                "sliced W1",
                M.sliced_wasserstein(fake, real_a, random_state=seed),
                M.sliced_wasserstein(real_b, real_a, random_state=seed),
                "lower",
                f"{half} vs {half} rows, 128 directions",
            )
        )
        rows.append(
            _row(
                "MMD^2 (RBF)",
                M.mmd_rbf(fake, real_a),
                M.mmd_rbf(real_b, real_a),
                "lower",
                "unbiased, median-heuristic bandwidth",
            )
        )
    return rows


def _metric_rows(metrics) -> list[dict]:
    """Normalise user metrics: rows as :func:`evaluate` returns them, or a mapping."""
    if metrics is None:
        return []
    if isinstance(metrics, Mapping):
        rows = []
        for name, value in metrics.items():
            if isinstance(value, Mapping):
                rows.append({"metric": name, **value})
            elif isinstance(value, (tuple, list)) and len(value) == 2:
                rows.append(_row(str(name), value[0], value[1], ""))
            else:
                rows.append(_row(str(name), value, None, ""))
        return rows
    try:
        return [dict(r) for r in metrics]
    except (TypeError, ValueError) as exc:
        raise InvalidParameterTypeError(
            "metrics must be a list of rows as wgangp.report.evaluate returns, or a dict "
            f"{{name: value or (value, real value)}}; got {type(metrics).__name__}."
        ) from exc


def _fmt(value) -> str:
    if value is None:
        return ""
    if isinstance(value, (bool, np.bool_)):
        return str(value)
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        value = float(value)
        if math.isnan(value) or math.isinf(value):
            return str(value)
        if value != 0 and (abs(value) < 1e-3 or abs(value) >= 1e5):
            return f"{value:.3e}"
        digits = 4 if abs(value) < 1 else 2 if abs(value) < 100 else 1
        return f"{value:.{digits}f}"
    return str(value)


def format_metrics(rows, model_label: str = "wgangp", real_label: str = "real data") -> str:
    """The metrics rows as a plain-text table (what the demo prints).

    >>> print(format_metrics([{"metric": "W1", "model": 0.25, "real": 0.05}]))
    metric                    wgangp   real data
    W1                        0.2500      0.0500
    """
    rows = _metric_rows(rows)
    width = max([18] + [len(str(r["metric"])) for r in rows]) + 4
    lines = [f"{'metric':<{width}}{model_label:>10}{real_label:>12}"]
    for r in rows:
        lines.append(
            f"{str(r['metric']):<{width}}{_fmt(r.get('model')):>10}{_fmt(r.get('real')):>12}"
        )
    return "\n".join(lines)


# ---------------------------------------------------------------------------
# The HTML report
# ---------------------------------------------------------------------------

_CSS = """
:root { --ink: #1d2430; --muted: #5b6473; --line: #dde2ea; --accent: #2456a6;
        --bg: #f6f7f9; --warn: #b42318; --ok: #1a7f37; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--ink);
       font: 15px/1.5 -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
main { max-width: 1040px; margin: 0 auto; padding: 28px 24px 48px; }
header { border-bottom: 3px solid var(--accent); margin-bottom: 20px; padding-bottom: 10px; }
h1 { font-size: 26px; margin: 0 0 4px; }
h2 { font-size: 19px; margin: 30px 0 10px; color: var(--accent); }
.sub { color: var(--muted); font-size: 14px; }
.cards { display: flex; flex-wrap: wrap; gap: 12px; margin: 14px 0 6px; }
.card { background: #fff; border: 1px solid var(--line); border-radius: 8px;
        padding: 10px 16px; min-width: 140px; }
.card .k { color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: .04em; }
.card .v { font-size: 20px; font-weight: 600; font-variant-numeric: tabular-nums; }
table { border-collapse: collapse; background: #fff; border: 1px solid var(--line);
        border-radius: 8px; overflow: hidden; width: 100%; }
th, td { padding: 7px 12px; border-bottom: 1px solid var(--line); text-align: left;
         vertical-align: top; }
th { background: #eef1f6; font-size: 13px; color: var(--muted); font-weight: 600; }
td.num { text-align: right; font-variant-numeric: tabular-nums; font-family: ui-monospace,
         "SFMono-Regular", Menlo, Consolas, monospace; font-size: 14px; }
td.note, .muted { color: var(--muted); font-size: 13px; }
table.config { width: auto; min-width: 50%; }
table.config td { padding: 4px 12px; }
table.config td:first-child { font-family: ui-monospace, Menlo, Consolas, monospace;
                              font-size: 13px; }
figure { margin: 0 0 18px; background: #fff; border: 1px solid var(--line);
         border-radius: 8px; padding: 12px; }
figure img { display: block; max-width: 100%; height: auto; margin: 0 auto; }
figcaption { color: var(--muted); font-size: 13px; margin-top: 6px; }
.findings { list-style: none; padding: 0; margin: 0; }
.finding { background: #fff; border: 1px solid var(--line); border-left: 5px solid var(--warn);
           border-radius: 6px; padding: 10px 14px; margin-bottom: 10px; }
.finding.sev-info { border-left-color: var(--accent); }
.finding .name { font-weight: 600; }
.finding .sev { font-size: 12px; text-transform: uppercase; color: var(--warn);
                margin-left: 8px; letter-spacing: .04em; }
.finding.sev-info .sev { color: var(--accent); }
.finding p { margin: 4px 0; }
.ok { color: var(--ok); font-weight: 600; }
td.low { color: var(--warn); font-weight: 600; }
table.scores td:first-child, table.columns td:first-child { white-space: nowrap; }
footer { margin-top: 36px; color: var(--muted); font-size: 12px; }
"""


def _figure_png(fig) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    return buffer.getvalue()


def _run_diagnose(records: list[dict]):
    """Findings of ``wgangp.diagnose`` when that module exists, else None."""
    import wgangp

    diagnose = getattr(wgangp, "diagnose", None)
    if diagnose is not None and not callable(diagnose):
        diagnose = getattr(diagnose, "diagnose", None)
    if diagnose is None or not callable(diagnose) or not records:
        return None
    try:
        return list(diagnose(records))
    except Exception:  # the report must not be lost to a failing rule
        logger.exception("wgangp.diagnose failed; the report lists no findings")
        return None


def _config_rows(model) -> list[tuple[str, str]]:
    rows = []
    for key, value in model.get_params().items():
        if key == "dtype":
            value = np.dtype(value).name
        rows.append((key, value if isinstance(value, str) else repr(value)))
    for key in ("n_iter_", "n_features_in_", "latent_dim_", "output_activation_"):
        if hasattr(model, key):
            rows.append((key, str(getattr(model, key))))
    for key in ("generator_", "critic_"):
        net = getattr(model, key, None)
        sizes = getattr(net, "sizes", None)
        if sizes is None and net is not None and hasattr(net, "config"):
            sizes = net.config().get("sizes")
        if sizes is not None:
            rows.append((f"{key[:-1]} layers", " -> ".join(str(s) for s in sizes)))
    return rows


def _severity_class(severity) -> str:
    text = str(severity or "").lower()
    return "sev-info" if text in ("info", "note", "low") else "sev-warn"


def _findings_html(findings) -> str:
    if findings is None:
        return (
            '<p class="muted">No diagnosis: <code>wgangp.diagnose</code> is not available '
            "in this version, or the run has no history.</p>"
        )
    if not findings:
        return '<p class="ok">No problems found in the training history.</p>'
    items = []
    for finding in findings:
        field = plot.finding_field
        name = html.escape(str(field(finding, "name", "finding")))
        severity = field(finding, "severity")
        iterations = list(field(finding, "iterations") or ())
        where = ""
        if iterations:
            first, last = min(iterations), max(iterations)
            where = f"iteration {first}" if first == last else f"iterations {first}-{last}"
            where = f' <span class="muted">({html.escape(where)})</span>'
        sev = f'<span class="sev">{html.escape(str(severity))}</span>' if severity else ""
        evidence = html.escape(str(field(finding, "evidence", "") or ""))
        remedy = html.escape(str(field(finding, "remedy", "") or ""))
        items.append(
            f'<li class="finding {_severity_class(severity)}"><span class="name">{name}</span>'
            f"{sev}{where}<p><b>Evidence.</b> {evidence}</p><p><b>Remedy.</b> {remedy}</p></li>"
        )
    return '<ul class="findings">' + "".join(items) + "</ul>"


def _metrics_html(rows: list[dict]) -> str:
    if not rows:
        return '<p class="muted">No metrics: pass X_real or a known data_name.</p>'
    body = []
    for r in rows:
        better = r.get("better") or ""
        arrow = {"higher": "&uarr; higher is better", "lower": "&darr; lower is better"}.get(
            better, ""
        )
        note = html.escape(str(r.get("note") or ""))
        body.append(
            f"<tr><td>{html.escape(str(r['metric']))}</td>"
            f'<td class="num">{html.escape(_fmt(r.get("model")))}</td>'
            f'<td class="num">{html.escape(_fmt(r.get("real")))}</td>'
            f'<td class="note">{arrow}{"; " if arrow and note else ""}{note}</td></tr>'
        )
    return (
        '<table id="metrics" class="metrics"><thead><tr><th>metric</th><th>wgangp</th>'
        "<th>real data (ceiling)</th><th>notes</th></tr></thead><tbody>"
        + "".join(body)
        + "</tbody></table>"
    )


def _cards(model, records: list[dict]) -> str:
    cards = [("iterations", str(getattr(model, "n_iter_", len(records))))]
    seconds = sum(float(r.get("seconds", 0.0) or 0.0) for r in records)
    if seconds:
        cards.append(("training time", f"{seconds:.1f} s"))
        cards.append(("ms / iteration", f"{1000 * seconds / max(len(records), 1):.1f}"))
    if records:
        last = records[-len(records) // 20 or -1 :]  # the last 5% of the run
        for key, label in (
            ("wasserstein", "W estimate (end)"),
            ("grad_norm_mean", "grad norm (end)"),
        ):
            values = [r[key] for r in last if r.get(key) is not None]
            if values:
                cards.append((label, f"{float(np.mean(values)):.3f}"))
    return _cards_html(cards)


def _figures(model, records, X_real, data_name, findings, snapshots, run_dir):
    """(file name, caption, Figure) for every figure this run can show."""
    out = []
    if records:
        out.append(
            (
                "training_curves.png",
                "Training curves: losses, Wasserstein estimate, penalty and the critic's "
                "gradient norm at the interpolates (target 1, dashed)"
                + ("; diagnose findings in red." if findings else "."),
                plot.training_curves(records, findings=findings),
            )
        )
    n_features = getattr(model, "n_features_in_", None)
    real = X_real
    if real is None and data_name in TOY_DATASETS:
        real = toy(data_name, 1000, random_state=12345)
    if n_features == 2:
        if real is not None:
            real = np.asarray(real, dtype=np.float64)
            if len(real) > 1000:
                real = real[np.random.default_rng(0).choice(len(real), 1000, replace=False)]
        out.append(
            (
                "samples.png",
                "Generated samples (green) over real data (orange), with the level sets of "
                "the critic D(x) (darker is higher: what the critic takes for real).",
                plot.samples_2d(model, real=real),
            )
        )
    elif data_name == "digits" or (n_features is not None and n_features in (64, 784)):
        out.append(
            (
                "digits.png",
                "Generated images, 8 x 8, fixed noise.",
                plot.digit_grid(model, shape=(8, 8)),
            )
        )
    if snapshots is None and (run_dir / "samples").is_dir():
        found = plot.load_snapshots(run_dir)
        snapshots = found or None
    if snapshots is not None:
        items = snapshots.snapshots if isinstance(snapshots, plot.SampleSnapshots) else snapshots
        if len(items) > 0:
            out.append(
                (
                    "samples_over_time.png",
                    "Generated samples during training (the same noise at every iteration).",
                    plot.samples_over_time(snapshots, real=real if n_features == 2 else None),
                )
            )
    return out


def write_report(
    run_dir,
    model,
    X_real=None,
    history=None,
    findings=None,
    metrics=None,
    data_name: str | None = None,
    snapshots=None,
    title: str | None = None,
) -> Path:
    """Write ``report.html`` (self-contained) and the figures as PNG into ``run_dir``.

    Sections: a summary (iterations, time, final W estimate), the metrics
    table (generator beside real data), the figures (training curves; 2-D
    samples with the critic's contour, or a digit grid; samples over
    training time when snapshots exist), the diagnose findings (name,
    evidence, remedy) and the configuration.

    Parameters
    ----------
    run_dir : str or os.PathLike
        Created when missing.
    model : fitted WGANGP
    X_real : array_like of shape (n, d), optional
        Real data for the metrics and under the 2-D samples.
    history : sequence of dict, optional
        Default ``model.history_``.
    findings : sequence of objects or dicts, optional
        Diagnose findings (``name``, ``evidence``, ``remedy``, ``iterations``,
        ``severity``); default: ``wgangp.diagnose(history)`` when wgangp has
        it. An empty list reports that nothing was found.
    metrics : list of dict or dict, optional
        Rows as :func:`evaluate` returns them (or ``{name: value}`` /
        ``{name: (value, real value)}``); default: ``evaluate(model, X_real,
        data_name)``.
    data_name : str, optional
        ``"8gaussians"``, ``"25gaussians"``, ``"swissroll"`` or ``"digits"``:
        picks the metrics and the reference data.
    snapshots : SampleSnapshots or dict of int to array, optional
        Samples during training; default: ``run_dir/samples/iter_*.npy``
        when present.
    title : str, optional

    Returns
    -------
    pathlib.Path
        The path of ``report.html``.
    """
    model._check_fitted()
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    records = plot._history_records(model.history_ if history is None else history)
    if findings is None:
        findings = _run_diagnose(records)
    else:
        findings = list(findings)
    rows = evaluate(model, X_real, data_name) if metrics is None else _metric_rows(metrics)

    figure_html = [
        _embed_figure(run_dir, name, caption, fig)
        for name, caption, fig in _figures(
            model, records, X_real, data_name, findings, snapshots, run_dir
        )
    ]

    title = title or f"WGAN-GP run{f' on {data_name}' if data_name else ''}"
    body = f"""{_cards(model, records)}
<section id="metrics-section"><h2>Metrics</h2>
{_metrics_html(rows)}</section>
<section id="figures"><h2>Figures</h2>
{"".join(figure_html) or '<p class="muted">No figures.</p>'}</section>
<section id="findings"><h2>Diagnosis</h2>
{_findings_html(findings)}</section>
{_config_html(_config_rows(model))}"""
    return _write_document(run_dir, title, body, "write_report")


def _embed_figure(run_dir: Path, name: str, caption: str, fig) -> str:
    """Save ``fig`` as ``run_dir/name`` and return it as an HTML figure with the PNG inline."""
    png = _figure_png(fig)
    (run_dir / name).write_bytes(png)
    encoded = base64.b64encode(png).decode("ascii")
    return (
        f'<figure id="fig-{name[:-4]}"><img alt="{html.escape(name)}" '
        f'src="data:image/png;base64,{encoded}"><figcaption>{html.escape(caption)}'
        "</figcaption></figure>"
    )


def _config_html(rows: list[tuple[str, str]]) -> str:
    config = "".join(
        f"<tr><td>{html.escape(k)}</td><td>{html.escape(v)}</td></tr>" for k, v in rows
    )
    return f"""<section id="config"><h2>Configuration</h2>
<table class="config"><thead><tr><th>parameter</th><th>value</th></tr></thead>
<tbody>{config}</tbody></table></section>"""


def _write_document(run_dir: Path, title: str, body: str, writer: str) -> Path:
    """Wrap ``body`` in the page (header, inline CSS, footer); write ``report.html`` atomically."""
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    document = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)}</title>
<style>{_CSS}</style></head>
<body><main>
<header><h1>{html.escape(title)}</h1>
<div class="sub">{html.escape(str(run_dir.resolve()))} &middot; written {now} &middot;
wgangp {html.escape(__version__)}</div></header>
{body}
<footer>Generated by wgangp.report.{writer}. Self-contained: no external resources.
</footer>
</main></body></html>
"""
    path = run_dir / "report.html"
    tmp = run_dir / ".report.html.tmp"
    tmp.write_text(document, encoding="utf-8")
    tmp.replace(path)
    return path


# ---------------------------------------------------------------------------
# The tabular fidelity report
# ---------------------------------------------------------------------------

_MARGINAL_PANELS = 24
_WEAKEST_PAIRS = 6
_LOW_SCORE = 0.75


def _score_row(name: str, value, note: str) -> str:
    text = "n/a" if value is None or (isinstance(value, float) and math.isnan(value)) else None
    return (
        f"<tr><td>{html.escape(name)}</td>"
        f'<td class="num">{html.escape(text or f"{float(value):.3f}")}</td>'
        f'<td class="note">{note}</td></tr>'
    )


def _scores_html(scores: dict, target, holdout_given: bool) -> str:
    rows = [
        _score_row(
            "quality",
            scores["quality"],
            "Mean of column shapes and column pair trends (SDMetrics' quality score); "
            "1 means identical.",
        ),
        _score_row(
            "column shapes",
            scores["column_shapes"],
            "How well each column's distribution is matched, averaged over columns: the KS "
            "complement 1 &minus; max |F<sub>real</sub> &minus; F<sub>synth</sub>| for "
            "continuous columns, the TV complement 1 &minus; &frac12; &sum; |f<sub>real</sub>"
            " &minus; f<sub>synth</sub>| over categories for discrete ones.",
        ),
        _score_row(
            "column pair trends",
            scores["column_pair_trends"],
            "How well the dependence between columns is kept, averaged over all pairs: "
            "1 &minus; |r<sub>real</sub> &minus; r<sub>synth</sub>| / 2 (Pearson) for two "
            "continuous columns, the TV complement of the joint table otherwise (continuous "
            "columns in 10 bins).",
        ),
        _score_row(
            "pair trends, strong pairs",
            scores["column_pair_trends_strong"],
            "The same over the pairs whose real dependence is strong (|r| &gt; 0.5 or "
            "Cram&eacute;r's V &gt; 0.3), SDMetrics 0.32's default; n/a when no pair is.",
        ),
    ]
    if "detection_auc" in scores:
        rows += [
            _score_row(
                "detection AUC",
                scores["detection_auc"],
                "ROC AUC of a logistic regression telling real rows from synthetic ones "
                "(3-fold cross-validated): 0.5 cannot tell them apart, 1 always can. "
                "Lower is better.",
            ),
            _score_row(
                "detection",
                scores["detection"],
                "SDMetrics' LogisticDetection, 1 &minus; (2 max(AUC, 0.5) &minus; 1): "
                "1 means indistinguishable.",
            ),
        ]
    if "tstr" in scores:
        metric = "macro-F1" if scores["metric"] == "macro_f1" else "R&sup2;"
        test = (
            "the holdout rows"
            if holdout_given
            else "30% of the real rows, which the generator saw (so TSTR is optimistic)"
        )
        column = html.escape(str(target))
        rows += [
            _score_row(
                f"TSTR ({html.unescape(metric)})",
                scores["tstr"],
                f"Train on synthetic, test on real: a random forest predicting "
                f"<code>{column}</code> ({scores['task']}) learned from the synthetic rows, "
                f"scored by {metric} on {test}.",
            ),
            _score_row(
                f"TRTR ({html.unescape(metric)})",
                scores["trtr"],
                "The same forest learned from the real training rows: the ceiling TSTR aims at.",
            ),
        ]
    return (
        '<table id="scores" class="scores"><thead><tr><th>score</th><th>value</th>'
        "<th>what it measures</th></tr></thead><tbody>" + "".join(rows) + "</tbody></table>"
    )


def _summary(series, discrete: bool) -> str:
    """A column in a few words: mean and sd, or the commonest category and its share."""
    import pandas as pd

    if discrete:
        shares = series.value_counts(normalize=True, dropna=False)
        if shares.empty:
            return ""
        top = shares.index[0]
        label = "(missing)" if pd.isna(top) else str(top)
        return f"{label} {100 * float(shares.iloc[0]):.0f}%, {len(shares)} values"
    values = series.to_numpy(dtype=np.float64, na_value=np.nan)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return "no values"
    return f"mean {values.mean():.4g}, sd {values.std():.3g}"


def _columns_html(real, synthetic, scores: dict, discrete: set) -> str:
    body = []
    for name, score in scores["columns"].items():
        is_discrete = name in discrete
        low = ' class="num low"' if score < _LOW_SCORE else ' class="num"'
        body.append(
            f"<tr><td>{html.escape(str(name))}</td>"
            f"<td>{'discrete' if is_discrete else 'continuous'}</td>"
            f"<td>{'TV complement' if is_discrete else 'KS complement'}</td>"
            f"<td{low}>{score:.3f}</td>"
            f'<td class="note">{html.escape(_summary(real[name], is_discrete))}</td>'
            f'<td class="note">{html.escape(_summary(synthetic[name], is_discrete))}</td></tr>'
        )
    return (
        '<table id="columns" class="columns"><thead><tr><th>column</th><th>type</th>'
        "<th>metric</th><th>score</th><th>real</th><th>synthetic</th></tr></thead><tbody>"
        + "".join(body)
        + "</tbody></table>"
    )


def _pairs_html(scores: dict, real_assoc, synth_assoc, discrete: set) -> str:
    pairs = [(v, key) for key, v in scores["pairs"].items() if not math.isnan(v)]
    weakest = sorted(pairs, key=lambda item: item[0])[:_WEAKEST_PAIRS]
    if not weakest:
        return '<p class="muted">No column pairs to score.</p>'
    body = []
    for value, (a, b) in weakest:
        both_continuous = a not in discrete and b not in discrete
        measure = "Pearson r" if both_continuous else "Cramer's V"
        body.append(
            f"<tr><td>{html.escape(str(a))} &times; {html.escape(str(b))}</td>"
            f"<td>{measure}</td>"
            f'<td class="num">{real_assoc.loc[a, b]:.3f}</td>'
            f'<td class="num">{synth_assoc.loc[a, b]:.3f}</td>'
            f'<td class="num">{value:.3f}</td></tr>'
        )
    return (
        '<table id="pairs" class="pairs"><thead><tr><th>pair</th><th>association</th>'
        "<th>real</th><th>synthetic</th><th>pair score</th></tr></thead><tbody>"
        + "".join(body)
        + "</tbody></table>"
    )


def _tabular_config_rows(synthesizer) -> list[tuple[str, str]]:
    rows = _config_rows(synthesizer)
    for key in ("batch_size_", "pac_", "cond_dim_", "best_iteration_", "best_score_"):
        value = getattr(synthesizer, key, None)
        if value is not None:
            rows.append((key, _fmt(value)))
    transformer = getattr(synthesizer, "transformer_", None)
    if transformer is not None:
        rows.append(("transformer output_dim_", str(transformer.output_dim_)))
        methods = [spec.get("method") for spec in transformer.columns_ if "method" in spec]
        for method in sorted(set(methods)):
            rows.append((f"continuous columns by {method}", str(methods.count(method))))
    return rows


def _tabular_cards(real, synthetic, discrete, scores, synthesizer, records) -> str:
    cards = [
        ("real rows", str(len(real))),
        ("synthetic rows", str(len(synthetic))),
        ("columns", f"{real.shape[1]} ({len(discrete)} discrete)"),
        ("iterations", str(getattr(synthesizer, "n_iter_", len(records)))),
    ]
    seconds = sum(float(r.get("seconds", 0.0) or 0.0) for r in records)
    if seconds:
        cards.append(("training time", f"{seconds:.1f} s"))
    cards.append(("quality", f"{scores['quality']:.3f}"))
    return _cards_html(cards)


def write_tabular_report(
    run_dir,
    synthesizer,
    real,
    synthetic=None,
    target=None,
    title: str | None = None,
    holdout=None,
    random_state: int = 0,
) -> Path:
    """Write the fidelity report of a synthetic table: ``report.html`` and its PNGs.

    Sections: a summary (rows, columns, iterations, time, quality); the
    scores of :func:`wgangp.metrics.tabular_report` with what each measures
    (column shapes, column pair trends, detection, and TSTR beside TRTR when
    ``target`` is given); a per-column table (score, and each table's mean
    and sd or commonest category); the weakest column pairs; the figures
    (:func:`wgangp.plot.marginals` with each column's score in its title,
    :func:`wgangp.plot.correlation_heatmaps`, and the training curves when
    the synthesizer has a history); and the synthesizer's configuration.
    Columns are read as discrete or continuous as the synthesizer read them.
    The figures are embedded (base64 PNG) and also saved beside the report
    as ``marginals.png``, ``correlations.png`` and ``training_curves.png``.

    Parameters
    ----------
    run_dir : str or os.PathLike
        Created when missing.
    synthesizer : fitted TabularSynthesizer
    real : pandas.DataFrame
        The real rows (those the synthesizer learned from, or a holdout).
    synthetic : pandas.DataFrame, optional
        Default: ``synthesizer.sample(len(real), random_state=random_state)``.
    target : column name, optional
        Adds TSTR and TRTR for this column.
    title : str, optional
    holdout : pandas.DataFrame, optional
        Real rows the synthesizer never saw: the test rows of TSTR / TRTR.
        Without it 30% of ``real`` is held out (and TSTR is optimistic).
    random_state : int, default 0
        Seeds the default sample, the detection folds and the forests.

    Returns
    -------
    pathlib.Path
        The path of ``report.html``.
    """
    from . import metrics as M

    synthesizer._check_fitted()
    if synthetic is None:
        synthetic = synthesizer.sample(len(real), random_state=random_state)
    discrete_names = {
        spec["name"] for spec in synthesizer.transformer_.columns_ if spec["kind"] == "discrete"
    }
    discrete = [c for c in getattr(real, "columns", ()) if c in discrete_names]
    scores = M.tabular_report(
        real,
        synthetic,
        target=target,
        discrete_columns=discrete,
        holdout=holdout,
        random_state=random_state,
    )
    synthetic = synthetic[list(real.columns)]
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    records = plot._history_records(synthesizer.history_)

    columns = list(real.columns)
    shown = columns
    caption = "Each column, real (orange) against synthetic (green); score in the title"
    if len(columns) > _MARGINAL_PANELS:
        worst = sorted(columns, key=lambda c: scores["columns"][c])[:_MARGINAL_PANELS]
        shown = [c for c in columns if c in set(worst)]
        caption += f"; the {_MARGINAL_PANELS} lowest-scoring of {len(columns)} columns"
    figures = [
        (
            "marginals.png",
            caption + " (KS complement for continuous columns, TV complement for discrete).",
            plot.marginals(
                real,
                synthetic,
                columns=shown,
                max_columns=_MARGINAL_PANELS,
                discrete_columns=discrete,
                scores=scores["columns"],
            ),
        ),
        (
            "correlations.png",
            "Association between columns in the real and the synthetic table, and their "
            "absolute difference: Pearson's r between continuous columns, Cramer's V for "
            "pairs with a discrete column (continuous columns in 10 bins).",
            plot.correlation_heatmaps(real, synthetic, discrete_columns=discrete),
        ),
    ]
    if records:
        figures.append(
            (
                "training_curves.png",
                "Training curves: losses, Wasserstein estimate, penalty and the critic's "
                "gradient norm at the interpolates (target 1, dashed).",
                plot.training_curves(records),
            )
        )
    figure_html = "".join(_embed_figure(run_dir, *item) for item in figures)
    real_assoc = M.association_matrix(real, discrete)
    synth_assoc = M.association_matrix(synthetic, discrete)
    discrete_set = set(discrete)
    title = title or f"Synthetic table: fidelity report ({len(real)} real rows)"
    body = f"""{_tabular_cards(real, synthetic, discrete, scores, synthesizer, records)}
<section id="scores-section"><h2>Scores</h2>
<p class="muted">Scores in [0, 1], 1 is best, except the detection AUC (0.5 is best).
Definitions as in SDMetrics, so the numbers are comparable with its reports.</p>
{_scores_html(scores, target, holdout is not None)}</section>
<section id="columns-section"><h2>Columns</h2>
{_columns_html(real, synthetic, scores, discrete_set)}</section>
<section id="pairs-section"><h2>Weakest column pairs</h2>
{_pairs_html(scores, real_assoc, synth_assoc, discrete_set)}</section>
<section id="figures"><h2>Figures</h2>
{figure_html}</section>
{_config_html(_tabular_config_rows(synthesizer))}"""
    return _write_document(run_dir, title, body, "write_tabular_report")
