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

Modules: :mod:`~wgangp.report.page` (the page both reports share: skeleton,
style, cards, tables, embedded figures, configuration),
:mod:`~wgangp.report.scoring` (the metrics table of a run),
:mod:`~wgangp.report.run` (the training-run report),
:mod:`~wgangp.report.fidelity` (the tabular fidelity report) and
:mod:`~wgangp.report.translation` (a translation run's report).

Needs matplotlib (``pip install wgangp[plot]``) for the figures and SciPy /
scikit-learn (``pip install wgangp[metrics]``) for the metrics.
"""

from .fidelity import write_tabular_report
from .run import write_report
from .scoring import evaluate, format_metrics
from .translation import write_translation_report

__all__ = [
    "evaluate",
    "format_metrics",
    "write_report",
    "write_tabular_report",
    "write_translation_report",
]
