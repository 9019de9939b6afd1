"""Figures of a run: training curves, 2-D samples with the critic, digit grids, tables.

Every function returns a :class:`matplotlib.figure.Figure` and, given
``path``, also writes it there (the format follows the file's suffix). The
figures are built with matplotlib's object-oriented API on an Agg canvas:
nothing here touches ``pyplot``, its global state or the session's backend,
so the package is safe in scripts, servers, tests and notebooks alike.
matplotlib is imported when a function is called; without it the error says
``pip install wgangp[plot]``.

:class:`SampleSnapshots` is a training callback that keeps generated samples
at regular iterations (in memory, and as ``.npy`` files under a run folder's
``samples/``) for :func:`samples_over_time`.

:func:`marginals` and :func:`correlation_heatmaps` set a synthetic table
beside the real one (pandas DataFrames), for the fidelity report of
:func:`wgangp.report.write_tabular_report`.

Modules: :mod:`~wgangp.plot.figure` (the canvas, saving, colours, panel
grids), :mod:`~wgangp.plot.curves` (training-history panels),
:mod:`~wgangp.plot.samples` (generated samples and their snapshots) and
:mod:`~wgangp.plot.tables` (marginals and association heatmaps).
"""

from .curves import finding_field, history_records, training_curves
from .figure import FAKE_COLOUR, FINDING_COLOUR, REAL_COLOUR
from .samples import SampleSnapshots, digit_grid, load_snapshots, samples_2d, samples_over_time
from .tables import correlation_heatmaps, marginals
from .translation import translation_arrows, translation_marginals, translation_rows

__all__ = [
    "FAKE_COLOUR",
    "FINDING_COLOUR",
    "REAL_COLOUR",
    "SampleSnapshots",
    "correlation_heatmaps",
    "digit_grid",
    "finding_field",
    "history_records",
    "load_snapshots",
    "marginals",
    "samples_2d",
    "samples_over_time",
    "training_curves",
    "translation_arrows",
    "translation_marginals",
    "translation_rows",
]
