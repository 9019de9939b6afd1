"""Fidelity of a synthetic table: SDMetrics' scores, detection AUC, TSTR against TRTR.

:func:`tabular_report` gathers :func:`~wgangp.tabular.scores.column_shapes`,
:func:`~wgangp.tabular.scores.column_pair_trends`, :func:`detection_auc`
(logistic regression, cross-validated) and :func:`train_synthetic_test_real`
(random forest). scikit-learn and pandas are imported when needed.
"""

from __future__ import annotations

import warnings

import numpy as np

from ..errors import InvalidParameterError
from ..tabular.frames import import_pandas
from ..tabular.scores import (
    check_frames,
    column_pair_trends,
    column_shapes,
    feature_matrix,
    is_class_target,
)

__all__ = ["detection_auc", "tabular_report", "train_synthetic_test_real"]


def detection_auc(
    real, synthetic, discrete_columns=None, random_state=0, n_splits: int = 3
) -> float:
    """Cross-validated ROC AUC of a logistic regression telling real rows from synthetic.

    0.5 means the classifier cannot tell them apart; 1.0 means it always can.
    SDMetrics' *LogisticDetection* score is ``1 - (2 max(AUC, 0.5) - 1)``
    per fold, averaged (reported by :func:`tabular_report` as ``detection``).

    Features: continuous columns standardised (missing values take the real
    median), discrete columns one-hot.
    """
    discrete, continuous = check_frames(real, synthetic, discrete_columns)
    return float(
        np.mean(_detection_fold_aucs(real, synthetic, discrete, continuous, random_state, n_splits))
    )


def _detection_fold_aucs(real, synthetic, discrete, continuous, random_state, n_splits):
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    xr, xs = feature_matrix([real, synthetic], discrete, continuous)
    X = np.concatenate([xr, xs])
    y = np.concatenate([np.ones(len(xr)), np.zeros(len(xs))])
    n_splits = max(2, min(n_splits, len(xr), len(xs)))
    seed = random_state if isinstance(random_state, int) else 0
    folds = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    aucs = []
    for train, test in folds.split(X, y):
        model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            warnings.simplefilter("ignore", RuntimeWarning)
            model.fit(X[train], y[train])
            prob = model.predict_proba(X[test])[:, 1]
        aucs.append(roc_auc_score(y[test], prob))
    return aucs


def train_synthetic_test_real(
    synthetic, real_train, real_test, target, discrete_columns=None, random_state=0
) -> dict:
    """TSTR against TRTR: a random forest trained on synthetic rows, then on real ones.

    Both are scored on the same real test rows: macro-F1 when ``target`` is
    a class (:func:`~wgangp.tabular.scores.is_class_target`: listed as discrete,
    text, or whole numbers with few values), R^2 otherwise (regression).

    Returns
    -------
    dict
        ``tstr``, ``trtr``, ``task`` ("classification" or "regression"), ``metric``.
    """
    from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
    from sklearn.metrics import f1_score, r2_score

    discrete, continuous = check_frames(real_train, synthetic, discrete_columns)
    check_frames(real_train, real_test, discrete)
    if target not in real_train.columns:
        raise InvalidParameterError(f"target={target!r} is not a column of the real data.")
    classify = is_class_target(real_train[target], target in discrete)
    feat_d = [c for c in discrete if c != target]
    feat_c = [c for c in continuous if c != target]
    # Real rows first: their columns, codes and fill values then do not depend on the
    # synthetic rows, so TRTR is the same for every synthesizer.
    xr, xt, xs = feature_matrix([real_train, real_test, synthetic], feat_d, feat_c)
    seed = random_state if isinstance(random_state, int) else 0
    out = {"task": "classification" if classify else "regression"}
    out["metric"] = "macro_f1" if classify else "r2"
    if classify:
        labels = [real_train[target], real_test[target], synthetic[target]]
        pd = import_pandas()
        codes, _ = pd.factorize(pd.concat(labels, ignore_index=True), use_na_sentinel=False)
        n_r, n_t = len(real_train), len(real_test)
        yr, yt, ys = codes[:n_r], codes[n_r : n_r + n_t], codes[n_r + n_t :]
        for key, (X, y) in (("tstr", (xs, ys)), ("trtr", (xr, yr))):
            model = RandomForestClassifier(n_estimators=100, random_state=seed, n_jobs=1)
            model.fit(X, y)
            out[key] = float(f1_score(yt, model.predict(xt), average="macro"))
    else:
        ys, yr, yt = (
            f[target].to_numpy(dtype=np.float64) for f in (synthetic, real_train, real_test)
        )
        for key, (X, y) in (("tstr", (xs, ys)), ("trtr", (xr, yr))):
            keep = ~np.isnan(y)
            model = RandomForestRegressor(n_estimators=100, random_state=seed, n_jobs=1)
            model.fit(X[keep], y[keep])
            ok = ~np.isnan(yt)
            out[key] = float(r2_score(yt[ok], model.predict(xt[ok])))
    return out


def tabular_report(
    real,
    synthetic,
    target=None,
    discrete_columns=None,
    holdout=None,
    detection: bool = True,
    random_state=0,
) -> dict:
    """Fidelity of a synthetic table, with SDMetrics-comparable scores.

    Parameters
    ----------
    real, synthetic : pandas.DataFrame
        The real rows the generator learned from, and its output.
    target : column name, optional
        Adds TSTR / TRTR (:func:`train_synthetic_test_real`).
    discrete_columns : list, optional
        Default: :func:`infer_discrete_columns` on ``real``.
    holdout : pandas.DataFrame, optional
        Real rows the generator never saw, the test set of TSTR / TRTR. Without
        it, 30% of ``real`` is held out for TRTR's test (TSTR is then
        optimistic: the generator saw those rows).
    detection : bool
        Compute the detection scores (a few logistic regressions).
    random_state : int

    Returns
    -------
    dict
        ``column_shapes`` and ``column_pair_trends`` (means over all
        columns and pairs, NaN pairs skipped: SDMetrics' classic scores),
        ``column_pair_trends_strong`` (the mean over the pairs whose real
        dependence is strong, |r| > 0.5 or Cramer's V > 0.3: the default of
        SDMetrics 0.32's QualityReport), ``quality`` (shapes and all-pair
        trends averaged),
        ``columns`` and ``pairs`` (the per-column and per-pair scores),
        ``detection_auc`` and ``detection`` (SDMetrics' LogisticDetection),
        and with a target ``tstr``, ``trtr``, ``task``, ``metric``.

    Examples
    --------
    >>> import pandas as pd
    >>> real = pd.DataFrame({"x": np.arange(40.0), "k": ["a", "b"] * 20})
    >>> report = tabular_report(real, real.copy(), detection=False)
    >>> report["column_shapes"], report["column_pair_trends"], report["quality"]
    (1.0, 1.0, 1.0)
    """
    discrete, continuous = check_frames(real, synthetic, discrete_columns)
    synthetic = synthetic[list(real.columns)]
    columns = column_shapes(real, synthetic, discrete)
    pairs, strengths = column_pair_trends(real, synthetic, discrete, return_strength=True)
    shape_mean = float(np.nanmean(list(columns.values())))
    pair_values = [v for v in pairs.values() if not np.isnan(v)]
    pair_mean = float(np.mean(pair_values)) if pair_values else float("nan")
    limits = {"correlation": 0.5, "association": 0.3}
    strong = [
        v
        for key, v in pairs.items()
        if not np.isnan(v) and strengths[key][1] > limits[strengths[key][0]]
    ]
    report = {
        "column_shapes": shape_mean,
        "column_pair_trends": pair_mean,
        "column_pair_trends_strong": float(np.mean(strong)) if strong else float("nan"),
        "quality": float(np.nanmean([shape_mean, pair_mean])),
        "columns": columns,
        "pairs": pairs,
    }
    if detection:
        aucs = _detection_fold_aucs(real, synthetic, discrete, continuous, random_state, 3)
        report["detection_auc"] = float(np.mean(aucs))
        report["detection"] = float(1.0 - np.mean([max(a, 0.5) * 2 - 1 for a in aucs]))
    if target is not None:
        if holdout is None:
            rng = np.random.default_rng(random_state if isinstance(random_state, int) else 0)
            order = rng.permutation(len(real))
            cut = max(1, int(round(0.7 * len(real))))
            train, test = real.iloc[order[:cut]], real.iloc[order[cut:]]
        else:
            train, test = real, holdout
        report.update(
            train_synthetic_test_real(synthetic, train, test, target, discrete, random_state)
        )
    return report
