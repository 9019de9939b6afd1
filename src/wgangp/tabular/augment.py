"""Augmentation: synthetic rows for the rare classes, and a before/after table."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from ..errors import InvalidDataError, InvalidParameterError
from ..parallel import check_comm
from ..runs import MODEL_FILE, start_run
from ..validation import check_float, check_int
from .frames import as_frame, import_pandas, json_value
from .scores import CLASS_MAX_VALUES, feature_matrix, infer_discrete_columns, is_class_target
from .synthesizer import TabularSynthesizer

__all__ = ["allocate_rows", "augment"]

logger = logging.getLogger(__name__)


def allocate_rows(counts: dict, rows: int, minority: bool = True) -> dict:
    """How many synthetic rows each class gets.

    ``minority=True``: in proportion to each class's deficit to the largest
    class (equal shares once balanced); else in proportion to the class
    frequencies. Largest remainders make the total exactly ``rows``.

    >>> allocate_rows({"a": 90, "b": 10, "c": 50}, 100)
    {'a': 0, 'b': 67, 'c': 33}
    >>> allocate_rows({"a": 75, "b": 25}, 8, minority=False)
    {'a': 6, 'b': 2}
    """
    keys = list(counts)
    n = np.array([counts[k] for k in keys], dtype=float)
    weights = (n.max() - n) if minority else n.copy()
    if weights.sum() == 0:
        weights = np.ones_like(n)
    share = rows * weights / weights.sum()
    out = np.floor(share).astype(int)
    for i in np.argsort(-(share - out), kind="stable")[: rows - out.sum()]:
        out[i] += 1
    return {k: int(v) for k, v in zip(keys, out)}


def augment(
    data,
    target,
    rows: int,
    minority: bool = True,
    holdout: float = 0.3,
    steps: int | None = None,
    classifier=None,
    random_state=0,
    verbose: int = 0,
    run_dir=None,
    mark_synthetic: str | None = None,
    sep: str | None = None,
    comm=None,
    **synthesizer_params,
):
    """Add synthetic rows of a classification table and show whether they help.

    The real rows are split into a training part and a stratified holdout
    (``holdout``, a fraction). A :class:`TabularSynthesizer` (``target``
    discrete, conditional) learns the training part; ``rows`` rows are drawn,
    of the rare classes when ``minority`` (see :func:`allocate_rows`), with
    ``sample(conditions={target: class})``. A classifier (default: a random
    forest of 200 trees) is trained on the real training rows, then on those
    plus the synthetic rows, and both are scored on the untouched holdout.

    Parameters
    ----------
    data : pandas.DataFrame or CSV path
    target : column name
    rows : int
        Synthetic rows to add.
    minority : bool
    holdout : float in (0, 1)
    steps : int, optional
        Training iterations (default from the training part's size:
        :func:`~wgangp.tabular.settings.default_steps`).
    classifier : scikit-learn classifier, optional
        Cloned for each of the two fits.
    random_state : int
    verbose : {0, 1}
        1 shows the synthesizer's progress (see :class:`wgangp.ProgressBar`).
    run_dir : path, optional
        Train in this run folder (history, checkpoints, as ``fit(run_dir=...)``)
        and save the synthesizer there as ``model.npz``, to sample it again
        later (``wgangp sample RUN_DIR``).
    mark_synthetic : str, optional
        Add a column of this name, False on real rows and True on synthetic ones.
    sep : str, optional
        The CSV's separator when ``data`` is a path (default: detected).
    comm : mpi4py communicator, optional
        Data-parallel training under ``mpiexec``: every rank reads the whole
        table and makes the same holdout split; the synthesizer trains on
        each rank's share of the training rows
        (:meth:`TabularSynthesizer.fit` with ``comm``); rank 0 alone writes
        ``run_dir``. Every rank then draws the same rows and returns the same
        tables.
    **synthesizer_params
        Passed to :class:`TabularSynthesizer`.

    Returns
    -------
    augmented : pandas.DataFrame
        All real rows followed by the synthetic ones (original columns, dtypes).
    table : pandas.DataFrame
        Holdout scores (accuracy, balanced accuracy, macro-F1, recall of the
        rarest class) for "real" and "real + synthetic", and the change.
    """
    pd = import_pandas()
    from sklearn.base import clone
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.metrics import accuracy_score, balanced_accuracy_score, f1_score, recall_score

    frame = as_frame(data, sep=sep)
    if target not in frame.columns:
        raise InvalidParameterError(
            f"target={target!r} is not a column; columns are {list(frame.columns)}"
        )
    rows = check_int(rows, "rows")
    holdout = check_float(holdout, "holdout", strict=True, maximum=1.0)
    discrete_given = synthesizer_params.get("discrete_columns") or []
    if not is_class_target(frame[target], target in discrete_given):
        values = frame[target].nunique(dropna=True)
        raise InvalidParameterError(
            f"target={target!r} is not a class column: its {values} distinct values are "
            f"numbers that are not whole or more than {CLASS_MAX_VALUES}; augment adds rows "
            "to the classes of a classification target: choose a column of text, booleans "
            "or a few integer codes (or list it in discrete_columns if it is one)"
        )
    if mark_synthetic is not None and mark_synthetic in frame.columns:
        raise InvalidParameterError(
            f"mark_synthetic={mark_synthetic!r} is already a column; choose another name"
        )
    if frame[target].isna().any():
        raise InvalidDataError(f"target column {target!r} has missing values; drop those rows")
    seed = int(random_state) if random_state is not None else 0
    rng = np.random.default_rng(seed)
    labels = frame[target].to_numpy()
    classes, counts = np.unique(labels.astype(str), return_counts=True)
    if len(classes) < 2:
        raise InvalidDataError(f"target {target!r} has a single class; nothing to augment")
    # Stratified split by hand: each class keeps at least one training row.
    test_idx = []
    for cls in classes:
        idx = np.flatnonzero(labels.astype(str) == cls)
        rng.shuffle(idx)
        k = int(round(holdout * len(idx))) if len(idx) > 1 else 0
        test_idx.extend(idx[: min(k, len(idx) - 1)])
    test_mask = np.zeros(len(frame), dtype=bool)
    test_mask[test_idx] = True
    train, test = frame[~test_mask], frame[test_mask]
    if len(test) == 0:
        raise InvalidDataError("the holdout is empty; use more rows or a larger holdout")

    discrete = synthesizer_params.pop("discrete_columns", None)
    if discrete is None:
        discrete = infer_discrete_columns(frame)
    discrete = list(dict.fromkeys([*discrete, target]))
    synth = TabularSynthesizer(discrete_columns=discrete, random_state=seed, **synthesizer_params)
    comm = check_comm(comm)
    fit_rows, writer = train, True
    if comm is not None:  # this rank's share of the training rows
        share = np.array_split(np.arange(len(train)), comm.Get_size())[comm.Get_rank()]
        fit_rows, writer = train.iloc[share], comm.Get_rank() == 0
    if run_dir is None or not writer:
        synth.fit(fit_rows, steps=steps, verbose=verbose, comm=comm)
    else:
        with start_run(run_dir):  # one writer from the fit to the saved model
            synth.fit(fit_rows, steps=steps, verbose=verbose, run_dir=run_dir, comm=comm)
            synth.save(Path(run_dir) / MODEL_FILE)
    train_counts = train[target].value_counts()
    plan = allocate_rows({k: int(v) for k, v in train_counts.items()}, rows, minority)
    parts = [
        synth.sample(k, conditions={target: cls}, random_state=seed + i)
        for i, (cls, k) in enumerate(plan.items())
        if k > 0
    ]
    synthetic = pd.concat(parts, ignore_index=True)
    synthetic = synthetic.astype(frame.dtypes.to_dict(), errors="ignore")

    features_d = [c for c in discrete if c != target]
    features_c = [c for c in frame.columns if c not in discrete]
    x_train, x_aug, x_test = feature_matrix(
        [train, pd.concat([train, synthetic], ignore_index=True), test], features_d, features_c
    )
    codes, _ = pd.factorize(
        pd.concat([train[target], synthetic[target], test[target]], ignore_index=True)
    )
    y_train = codes[: len(train)]
    y_aug = codes[: len(train) + len(synthetic)]
    y_test = codes[len(train) + len(synthetic) :]
    model = classifier or RandomForestClassifier(n_estimators=200, random_state=seed, n_jobs=1)
    rare_code = int(codes[: len(train)][train[target].to_numpy() == train_counts.index[-1]][0])
    scores = {}
    for name, (X, y) in (("real", (x_train, y_train)), ("real + synthetic", (x_aug, y_aug))):
        fitted = clone(model).fit(X, y)
        pred = fitted.predict(x_test)
        scores[name] = {
            "accuracy": accuracy_score(y_test, pred),
            "balanced_accuracy": balanced_accuracy_score(y_test, pred),
            "macro_f1": f1_score(y_test, pred, average="macro"),
            f"recall of rarest class ({json_value(train_counts.index[-1])!r})": recall_score(
                y_test, pred, labels=[rare_code], average="macro", zero_division=0
            ),
        }
    table = pd.DataFrame(scores)
    table["change"] = table["real + synthetic"] - table["real"]
    augmented = pd.concat([frame, synthetic], ignore_index=True)
    if mark_synthetic is not None:
        augmented[mark_synthetic] = np.arange(len(augmented)) >= len(frame)
    return augmented, table
