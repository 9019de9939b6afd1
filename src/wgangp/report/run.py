"""The report of a training run: summary, metrics, figures, diagnosis, configuration.

:func:`write_report` writes ``report.html`` into a run folder (with the
figures beside it as PNG files): the metrics of
:func:`wgangp.report.evaluate`, the training curves, the samples (2-D points
over the critic's contour, or a digit grid, and samples over training time),
the findings of :func:`wgangp.diagnose` and the model's settings.
"""

from __future__ import annotations

import html
import logging
from pathlib import Path

import numpy as np

from .. import plot
from ..data import TOY_DATASETS, toy
from .page import (
    cards_html,
    config_html,
    estimator_config_rows,
    figures_section,
    format_value,
    html_table,
    training_cards,
    training_curves_figure,
    training_seconds,
    write_document,
)
from .scoring import evaluate, metric_rows

__all__ = ["write_report"]

logger = logging.getLogger(__name__)


def run_diagnose(records: list[dict], settings: dict | None = None):
    """Findings of ``wgangp.diagnose`` (given the model's settings, which the
    remedies quote) when that module exists, else None."""
    import wgangp

    diagnose = getattr(wgangp, "diagnose", None)
    if diagnose is not None and not callable(diagnose):
        diagnose = getattr(diagnose, "diagnose", None)
    if diagnose is None or not callable(diagnose) or not records:
        return None
    try:
        return list(diagnose(records, settings=settings))
    except Exception:  # the report must not be lost to a failing rule
        logger.exception("wgangp.diagnose failed; the report lists no findings")
        return None


def _severity_class(severity) -> str:
    text = str(severity or "").lower()
    return "sev-info" if text in ("info", "note", "low") else "sev-warn"


def findings_html(findings) -> str:
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
            f'<td class="num">{html.escape(format_value(r.get("model")))}</td>'
            f'<td class="num">{html.escape(format_value(r.get("real")))}</td>'
            f'<td class="note">{arrow}{"; " if arrow and note else ""}{note}</td></tr>'
        )
    return html_table("metrics", ["metric", "wgangp", "real data (ceiling)", "notes"], body)


def _cards(model, records: list[dict]) -> str:
    cards = training_cards(model, records)
    seconds = training_seconds(records)
    if seconds:
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
    return cards_html(cards)


def _figures(model, records, X_real, data_name, findings, snapshots, run_dir):
    """(file name, caption, Figure) for every figure this run can show."""
    out = []
    if records:
        out.append(training_curves_figure(records, findings))
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
                "Generated images (fixed noise)"
                + (" beside real ones." if real is not None else "."),
                plot.digit_grid(model, shape=(8, 8), real=real),
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
        ``severity``); default: ``wgangp.diagnose(history,
        settings=model.get_params())`` when wgangp has it. An empty list
        reports that nothing was found.
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
    model.check_fitted()
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    records = plot.history_records(model.history_ if history is None else history)
    if findings is None:
        findings = run_diagnose(records, model.get_params())
    else:
        findings = list(findings)
    rows = evaluate(model, X_real, data_name) if metrics is None else metric_rows(metrics)

    figures = _figures(model, records, X_real, data_name, findings, snapshots, run_dir)

    title = title or f"WGAN-GP run{f' on {data_name}' if data_name else ''}"
    body = f"""{_cards(model, records)}
<section id="metrics-section"><h2>Metrics</h2>
{_metrics_html(rows)}</section>
{figures_section(run_dir, figures)}
<section id="findings"><h2>Diagnosis</h2>
{findings_html(findings)}</section>
{config_html(estimator_config_rows(model, records, data_name))}"""
    return write_document(run_dir, title, body, "write_report")
