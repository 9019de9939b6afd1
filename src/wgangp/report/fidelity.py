"""The fidelity report of a synthetic table: scores explained, columns, pairs, figures.

:func:`write_tabular_report` writes ``report.html`` for a fitted
:class:`wgangp.TabularSynthesizer`: the scores of
:func:`wgangp.metrics.tabular_report` with what each measures, a score per
column, the weakest column pairs, the marginals and association heatmaps of
:mod:`wgangp.plot`, the training curves and the synthesizer's settings.
"""

from __future__ import annotations

import html
import math
from pathlib import Path

import numpy as np

from .. import plot
from ..plot.tables import MISSING_LABEL
from .page import (
    cards_html,
    config_html,
    estimator_config_rows,
    figures_section,
    format_value,
    html_table,
    training_cards,
    training_curves_figure,
    write_document,
)

__all__ = ["write_tabular_report"]


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
    return html_table("scores", ["score", "value", "what it measures"], rows)


def _summary(series, discrete: bool) -> str:
    """A column in a few words: mean and sd, or the commonest category and its share."""
    import pandas as pd

    if discrete:
        shares = series.value_counts(normalize=True, dropna=False)
        if shares.empty:
            return ""
        top = shares.index[0]
        label = MISSING_LABEL if pd.isna(top) else str(top)
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
    return html_table("columns", ["column", "type", "metric", "score", "real", "synthetic"], body)


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
    return html_table("pairs", ["pair", "association", "real", "synthetic", "pair score"], body)


def _tabular_config_rows(synthesizer, records) -> list[tuple[str, str]]:
    rows = estimator_config_rows(synthesizer, records)
    for key in ("batch_size_", "pac_", "cond_dim_", "best_iteration_", "best_score_"):
        value = getattr(synthesizer, key, None)
        if value is not None:
            rows.append((key, format_value(value)))
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
        *training_cards(synthesizer, records),
        ("quality", f"{scores['quality']:.3f}"),
    ]
    return cards_html(cards)


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
    from .. import metrics as M

    synthesizer.check_fitted()
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
    records = plot.history_records(synthesizer.history_)

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
        figures.append(training_curves_figure(records))
    figure_html = figures_section(run_dir, figures)
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
{figure_html}
{config_html(_tabular_config_rows(synthesizer, records))}"""
    return write_document(run_dir, title, body, "write_tabular_report")
