"""The report of a translation run: summary, training curves, where rows go, diagnosis."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .. import plot
from .page import (
    cards_html,
    config_html,
    estimator_config_rows,
    figures_section,
    training_cards,
    training_curves_figure,
    write_document,
)
from .run import findings_html, run_diagnose

__all__ = ["write_translation_report"]


def _translation_figure(translator, source, target):
    """(file name, caption, Figure): arrows for 2-D data, image rows for images,
    else each column's marginals (tables: bars for discrete columns)."""
    if translator.transformer_ is not None:
        return (
            "translation.png",
            "Each column: source (blue), translated source (green) and target (orange); "
            "shares of rows per category for discrete columns, histograms for continuous ones.",
            plot.translation_marginals(translator, source, target),
        )
    width = source.shape[1]
    if width == 2:
        return (
            "translation.png",
            "Source points (blue) with an arrow to their translation, over the target "
            "rows (orange).",
            plot.translation_arrows(translator, source, target),
        )
    side = int(round(np.sqrt(width)))
    if side * side == width and width >= 16:
        return (
            "translation.png",
            "Rows of images: source, translated (A to B), and cycled back (B to A).",
            plot.translation_rows(translator, source),
        )
    return (
        "translation.png",
        "Each column: source (blue), translated source (green) and target (orange).",
        plot.translation_marginals(translator, source, target),
    )


def write_translation_report(run_dir, translator, source, target) -> Path:
    """Write ``run_dir/report.html`` for a fitted :class:`wgangp.Translator`.

    Sections: a summary (iterations, time, both W estimates, cycle error),
    the figures (training curves; for 2-D data arrows from source points to
    their translations over the target cloud, for images rows of source /
    translated / cycled-back images, else each column's marginals of source,
    translated and target, bar charts for the discrete columns of tables),
    the diagnosis (the translator's rules among them) and the configuration.
    ``source`` and ``target`` are arrays, or DataFrames for a translator
    fitted on tables.
    """
    translator.check_fitted()
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    if translator.transformer_ is None:
        source = np.asarray(source, dtype=np.float64)
        target = np.asarray(target, dtype=np.float64)
    records = plot.history_records(translator.history_)
    findings = run_diagnose(records, translator.get_params())
    last = records[-1] if records else {}
    cards = training_cards(translator, records)
    for label, key in (
        ("W estimate, A", "wasserstein_a"),
        ("W estimate, B", "wasserstein_b"),
        ("cycle error", "cycle_error"),
    ):
        if key in last:
            cards.append((label, f"{float(last[key]):.3g}"))
    figures = [training_curves_figure(records, findings)] if records else []
    figures.append(_translation_figure(translator, source, target))
    body = f"""{cards_html(cards)}
{figures_section(run_dir, figures)}
<section id="findings"><h2>Diagnosis</h2>
{findings_html(findings)}</section>
{config_html(estimator_config_rows(translator, records))}"""
    return write_document(run_dir, "Translation run", body, "write_translation_report")
