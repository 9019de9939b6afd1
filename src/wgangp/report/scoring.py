"""The metrics table of a training run: each score of the generator beside real data's.

:func:`evaluate` scores a fitted model against real data, with the same score
of real data beside each, the ceiling a perfect generator would reach;
:func:`format_metrics` prints the rows as text (what ``python -m
wgangp.demo`` and ``wgangp evaluate`` show) and :func:`metric_rows` reads
rows given in the other forms :func:`wgangp.report.write_report` accepts.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ..data import TOY_DATASETS, toy
from ..errors import InvalidDataError, InvalidParameterTypeError
from .page import format_value

__all__ = ["evaluate", "format_metrics", "metric_rows"]

_TOY_MIXTURES = ("8gaussians", "25gaussians")


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
    from .. import metrics as M

    rng = np.random.default_rng(random_state)
    rows: list[dict] = []
    if data_name in _TOY_MIXTURES:
        from ..data import toy_modes

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
            from ..data import load_digits

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


def metric_rows(metrics) -> list[dict]:
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


def format_metrics(rows, model_label: str = "wgangp", real_label: str = "real data") -> str:
    """The metrics rows as a plain-text table (what the demo prints).

    >>> print(format_metrics([{"metric": "W1", "model": 0.25, "real": 0.05}]))
    metric                    wgangp   real data
    W1                        0.2500      0.0500
    """
    rows = metric_rows(rows)
    width = max([18] + [len(str(r["metric"])) for r in rows]) + 4
    lines = [f"{'metric':<{width}}{model_label:>10}{real_label:>12}"]
    for r in rows:
        model, real = format_value(r.get("model")), format_value(r.get("real"))
        lines.append(f"{str(r['metric']):<{width}}{model:>10}{real:>12}")
    return "\n".join(lines)
