"""How close generated data are to real data.

* :func:`wasserstein1`: exact W1 (earth mover's distance) between two samples
  of equal size, by optimal matching.
* :func:`sliced_wasserstein`: mean 1-D W1 over random directions; any sizes.
* :func:`mmd_rbf`: unbiased squared maximum mean discrepancy, RBF kernel.
* :func:`mode_stats` and :func:`toy_metrics`: the mode-coverage figures of
  VEEGAN and PacGAN on the toy mixtures (definitions in BENCHMARKS.md).
* :class:`DigitsScorer`: inception score and Frechet distance for the 8x8
  digits, in the feature space of a small classifier trained here.
* :func:`tabular_report`: fidelity of a synthetic table with SDMetrics'
  definitions (:func:`column_shapes`: KS and TV complements;
  :func:`column_pair_trends`: correlation and contingency similarity),
  :func:`detection_auc` (logistic regression, cross-validated) and
  :func:`train_synthetic_test_real` (TSTR against TRTR, random forest).

Modules: :mod:`~wgangp.metrics.samples` (arrays) and
:mod:`~wgangp.metrics.tables` (DataFrames; the per-column scores live in
:mod:`wgangp.tabular.scores`, where the synthesizer uses them too). SciPy
and scikit-learn are imported inside the functions that need them; when
missing, the error names the extra to install.
"""

from ..tabular.scores import (
    association_matrix,
    column_pair_trends,
    column_shapes,
    infer_discrete_columns,
)
from .samples import (
    DigitsScorer,
    frechet_gaussian,
    mmd_rbf,
    mode_stats,
    sliced_wasserstein,
    toy_metrics,
    wasserstein1,
)
from .tables import detection_auc, tabular_report, train_synthetic_test_real

__all__ = [
    "DigitsScorer",
    "association_matrix",
    "column_pair_trends",
    "column_shapes",
    "detection_auc",
    "infer_discrete_columns",
    "tabular_report",
    "train_synthetic_test_real",
    "frechet_gaussian",
    "mmd_rbf",
    "mode_stats",
    "sliced_wasserstein",
    "toy_metrics",
    "wasserstein1",
]
