"""How close generated samples are to real ones.

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

SciPy and scikit-learn are imported inside the functions that need them; when
missing, the error says ``pip install wgangp[metrics]``.
"""

from __future__ import annotations

import warnings

import numpy as np

from wgangp.data import (
    RandomState,
    _check_positive_int,
    _check_random_state,
    _check_toy_name,
    _sklearn_seed,
    load_digits,
    toy,
    toy_modes,
)
from wgangp.errors import InvalidDataError, InvalidParameterError, InvalidParameterTypeError

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

_METRICS_HINT = "install it with: pip install wgangp[metrics]"


def _import_scipy_optimize():
    try:
        import scipy.optimize
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(f"this metric needs SciPy; {_METRICS_HINT}") from exc
    return scipy.optimize


def _import_scipy_spatial():
    try:
        import scipy.spatial.distance
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(f"this metric needs SciPy; {_METRICS_HINT}") from exc
    return scipy.spatial.distance


def _as_samples(x: object, name: str) -> np.ndarray:
    """A 2-D float64 array of finite values; 1-D input is one feature."""
    try:
        array = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidParameterTypeError(
            f"{name} must be an array of numbers; got {type(x).__name__}."
        ) from exc
    if array.ndim == 1:
        array = array[:, None]
    if array.ndim != 2:
        raise InvalidDataError(
            f"{name} must have shape (n_samples, n_features); got {array.shape}."
        )
    if len(array) == 0 or array.shape[1] == 0:
        raise InvalidDataError(
            f"{name} must hold at least one sample and one feature; got {array.shape}."
        )
    if not np.all(np.isfinite(array)):
        raise InvalidDataError(
            f"{name} contains NaN or infinite values; every value must be finite."
        )
    return array


def _same_width(a: np.ndarray, b: np.ndarray) -> None:
    if a.shape[1] != b.shape[1]:
        raise InvalidDataError(
            f"a and b must have the same number of features; got a {a.shape} and b {b.shape}."
        )


# ---------------------------------------------------------------------------
# Distances between samples
# ---------------------------------------------------------------------------


def wasserstein1(a: np.ndarray, b: np.ndarray) -> float:
    r"""Exact Wasserstein-1 distance between two samples of equal size.

    With uniform weights on ``n`` points each, the optimal transport plan is
    a permutation (Birkhoff), so

    .. math:: W_1(a, b) = \min_{\sigma} \frac{1}{n} \sum_i \lVert a_i - b_{\sigma(i)} \rVert_2,

    solved exactly by ``scipy.optimize.linear_sum_assignment`` on the
    ``n x n`` matrix of Euclidean distances (O(n^3) time, n^2 memory; 2000
    points take about a second).

    Parameters
    ----------
    a, b : array_like of shape (n, d)
        Two samples of the same size and dimension; 1-D input is read as
        ``(n, 1)``.

    Returns
    -------
    float

    Examples
    --------
    >>> a = np.array([[0.0, 0.0], [1.0, 0.0]])
    >>> b = np.array([[1.0, 1.0], [0.0, 1.0]])
    >>> wasserstein1(a, b)
    1.0
    """
    a = _as_samples(a, "a")
    b = _as_samples(b, "b")
    _same_width(a, b)
    if len(a) != len(b):
        raise InvalidDataError(
            f"wasserstein1 needs samples of equal size; got {len(a)} and {len(b)} points. "
            f"Subsample the larger one, or use sliced_wasserstein, which takes any sizes."
        )
    optimize = _import_scipy_optimize()
    distance = _import_scipy_spatial()
    cost = distance.cdist(a, b, metric="euclidean")
    rows, cols = optimize.linear_sum_assignment(cost)
    return float(cost[rows, cols].mean())


def _wasserstein1_sorted(sorted_a: np.ndarray, sorted_b: np.ndarray) -> np.ndarray:
    """1-D W1 per column between columns of sorted samples, any sizes.

    W1 = integral over t in (0, 1) of |F_a^{-1}(t) - F_b^{-1}(t)|. Both
    empirical quantile functions are steps that change only at i/n and j/m,
    so the integral is an exact finite sum over the merged breakpoints.
    """
    n, m = len(sorted_a), len(sorted_b)
    if n == m:
        return np.abs(sorted_a - sorted_b).mean(axis=0)
    breaks = np.union1d(np.arange(1, n + 1) / n, np.arange(1, m + 1) / m)
    widths = np.diff(breaks, prepend=0.0)
    middles = breaks - widths / 2
    index_a = np.minimum((middles * n).astype(np.intp), n - 1)
    index_b = np.minimum((middles * m).astype(np.intp), m - 1)
    gaps = np.abs(sorted_a[index_a] - sorted_b[index_b])  # (n_breaks, n_projections)
    return widths @ gaps


def sliced_wasserstein(
    a: np.ndarray,
    b: np.ndarray,
    n_projections: int = 128,
    random_state: RandomState = None,
) -> float:
    r"""Sliced Wasserstein-1 distance: mean 1-D W1 over random directions.

    .. math:: SW_1(a, b) = \frac{1}{P} \sum_{p=1}^{P} W_1(a \theta_p, b \theta_p),

    with ``theta_p`` drawn uniformly on the unit sphere. Each 1-D W1 is exact:
    the mean absolute difference of sorted projections for equal sizes, and
    the integral of the difference of the two empirical quantile functions
    (step functions) for unequal sizes.

    Parameters
    ----------
    a : array_like of shape (n, d)
    b : array_like of shape (m, d)
        Samples of any sizes, same dimension; 1-D input is read as ``(n, 1)``.
    n_projections : int, default 128
        Number of random directions.
    random_state : None, int or numpy.random.Generator, default None
        Draws the directions.

    Returns
    -------
    float

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> a = rng.standard_normal((500, 2))
    >>> sliced_wasserstein(a, a, random_state=0)
    0.0
    >>> round(sliced_wasserstein([0.0, 1.0], [3.0, 4.0, 3.0, 4.0], random_state=0), 6)
    3.0
    """
    a = _as_samples(a, "a")
    b = _as_samples(b, "b")
    _same_width(a, b)
    n_projections = _check_positive_int(n_projections, "n_projections")
    rng = _check_random_state(random_state)
    directions = rng.standard_normal((a.shape[1], n_projections))
    directions /= np.linalg.norm(directions, axis=0, keepdims=True)
    sorted_a = np.sort(a @ directions, axis=0)
    sorted_b = np.sort(b @ directions, axis=0)
    return float(_wasserstein1_sorted(sorted_a, sorted_b).mean())


def mmd_rbf(a: np.ndarray, b: np.ndarray, bandwidth: float | None = None) -> float:
    r"""Unbiased squared maximum mean discrepancy with an RBF kernel.

    With :math:`k(x, y) = \exp(-\lVert x - y \rVert^2 / (2 \sigma^2))`,
    ``a`` of ``m`` points and ``b`` of ``n``:

    .. math::

        \mathrm{MMD}^2_u = \frac{1}{m(m-1)} \sum_{i \ne j} k(a_i, a_j)
            + \frac{1}{n(n-1)} \sum_{i \ne j} k(b_i, b_j)
            - \frac{2}{mn} \sum_{i, j} k(a_i, b_j).

    Unbiased, so it can be slightly negative when the samples come from the
    same distribution. Memory is O((m + n)^2).

    Parameters
    ----------
    a : array_like of shape (m, d)
    b : array_like of shape (n, d)
        At least 2 points each; 1-D input is read as ``(n, 1)``.
    bandwidth : float, optional
        The kernel's ``sigma`` (> 0). Default: the median heuristic, the
        median Euclidean distance between distinct points of the pooled
        sample (or 1.0 if that median is 0).

    Returns
    -------
    float

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> a, b = rng.standard_normal((200, 2)), rng.standard_normal((200, 2))
    >>> abs(mmd_rbf(a, b)) < 0.01
    True
    >>> mmd_rbf(a, b + 3.0) > 0.5
    True
    """
    a = _as_samples(a, "a")
    b = _as_samples(b, "b")
    _same_width(a, b)
    for name, x in (("a", a), ("b", b)):
        if len(x) < 2:
            raise InvalidDataError(f"mmd_rbf needs at least 2 points in {name}; got {len(x)}.")
    distance = _import_scipy_spatial()
    if bandwidth is None:
        median = float(np.median(distance.pdist(np.concatenate([a, b]))))
        bandwidth = median if median > 0 else 1.0
    else:
        if isinstance(bandwidth, bool) or not isinstance(bandwidth, (int, float, np.number)):
            raise InvalidParameterTypeError(
                f"bandwidth must be a positive float or None; got {bandwidth!r}."
            )
        bandwidth = float(bandwidth)
        if not (np.isfinite(bandwidth) and bandwidth > 0):
            raise InvalidParameterError(
                f"bandwidth must be a positive finite float or None; got {bandwidth}."
            )
    scale = -1.0 / (2.0 * bandwidth**2)

    def mean_offdiagonal(x: np.ndarray) -> float:
        # pdist lists each unordered pair once; the mean over i != j is the same.
        return float(np.exp(scale * distance.pdist(x, metric="sqeuclidean")).mean())

    cross = float(np.exp(scale * distance.cdist(a, b, metric="sqeuclidean")).mean())
    return mean_offdiagonal(a) + mean_offdiagonal(b) - 2.0 * cross


# ---------------------------------------------------------------------------
# Mode coverage on the toy mixtures
# ---------------------------------------------------------------------------


def mode_stats(samples: np.ndarray, centres: np.ndarray, sd: float) -> dict:
    r"""Mode coverage of samples from a mixture of isotropic Gaussians.

    The toy metrics of VEEGAN and PacGAN (see BENCHMARKS.md): a sample is
    *high quality* when its Euclidean distance to the nearest centre is at
    most ``3 sd``; a mode is *captured* when it is the nearest centre of at
    least one high-quality sample; with ``p_k`` the fraction of high-quality
    samples whose nearest centre is ``k`` (of ``K``),

    .. math:: \mathrm{KL}(p \,\Vert\, U) = \sum_{k: p_k > 0} p_k \log(K p_k).

    Real 2-D data scores about 98.9% high quality (``1 - exp(-9/2)``, the
    mass of the 3-sd disc), all modes, KL near 0.

    Parameters
    ----------
    samples : array_like of shape (n, d)
    centres : array_like of shape (K, d)
        E.g. from :func:`wgangp.data.toy_modes`.
    sd : float
        Per-coordinate standard deviation of each mode, > 0.

    Returns
    -------
    dict
        ``modes_captured`` (int), ``n_modes`` (int, K), ``high_quality``
        (float, fraction of all samples), ``reverse_kl`` (float in nats;
        ``inf`` when no sample is high quality), ``counts`` (list of K ints:
        high-quality samples per mode).

    Examples
    --------
    >>> centres = np.array([[0.0, 0.0], [1.0, 0.0]])
    >>> stats = mode_stats([[0.0, 0.01], [0.0, -0.01], [5.0, 5.0]], centres, sd=0.1)
    >>> stats["modes_captured"], stats["counts"], round(stats["high_quality"], 3)
    (1, [2, 0], 0.667)
    >>> round(stats["reverse_kl"], 4)  # log 2: everything in one of two modes
    0.6931
    """
    samples = _as_samples(samples, "samples")
    centres = _as_samples(centres, "centres")
    if samples.shape[1] != centres.shape[1]:
        raise InvalidDataError(
            f"samples and centres must have the same number of features; got samples "
            f"{samples.shape} and centres {centres.shape}."
        )
    if isinstance(sd, bool) or not isinstance(sd, (int, float, np.number)):
        raise InvalidParameterTypeError(f"sd must be a positive float; got {sd!r}.")
    if not (np.isfinite(sd) and sd > 0):
        raise InvalidParameterError(f"sd must be a positive finite float; got {sd!r}.")
    distance = _import_scipy_spatial()
    to_centres = distance.cdist(samples, centres)  # (n, K)
    nearest = np.argmin(to_centres, axis=1)
    high_quality = to_centres[np.arange(len(samples)), nearest] <= 3.0 * float(sd)
    n_modes = len(centres)
    counts = np.bincount(nearest[high_quality], minlength=n_modes)
    n_good = int(counts.sum())
    if n_good == 0:
        reverse_kl = float("inf")
    else:
        p = counts[counts > 0] / n_good
        reverse_kl = float(np.sum(p * np.log(n_modes * p)))
    return {
        "modes_captured": int(np.count_nonzero(counts)),
        "n_modes": int(n_modes),
        "high_quality": float(high_quality.mean()),
        "reverse_kl": reverse_kl,
        "counts": [int(c) for c in counts],
    }


def toy_metrics(
    samples: np.ndarray,
    name: str,
    real: np.ndarray | None = None,
    random_state: RandomState = None,
) -> dict:
    """Toy-set scores of generated samples: mode coverage and exact W1.

    Parameters
    ----------
    samples : array_like of shape (n, 2)
        Generated points.
    name : {"8gaussians", "25gaussians", "swissroll"}
        Which toy set they imitate. Mode statistics are computed for the two
        mixtures and skipped for ``"swissroll"``.
    real : array_like of shape (n, 2), optional
        Real points to compare against, as many as ``samples``. Default: a
        fresh ``toy(name, n, random_state)``.
    random_state : None, int or numpy.random.Generator, default None
        Draws the fresh real sample when ``real`` is None.

    Returns
    -------
    dict
        ``w1`` (exact W1 to the real sample) and ``n_samples``, plus, for the
        mixtures, the keys of :func:`mode_stats`.

    Examples
    --------
    >>> from wgangp.data import toy
    >>> scores = toy_metrics(toy("8gaussians", 500, random_state=1), "8gaussians", random_state=2)
    >>> scores["modes_captured"], scores["high_quality"] > 0.97, scores["w1"] < 0.2
    (8, True, True)
    """
    name = _check_toy_name(name)
    samples = _as_samples(samples, "samples")
    if samples.shape[1] != 2:
        raise InvalidDataError(f"samples of a toy set must have shape (n, 2); got {samples.shape}.")
    if real is None:
        real = toy(name, len(samples), random_state=random_state)
    else:
        real = _as_samples(real, "real")
        if real.shape != samples.shape:
            raise InvalidDataError(
                f"real must have the same shape as samples for an exact W1; got real "
                f"{real.shape} and samples {samples.shape}."
            )
    scores: dict = {"n_samples": len(samples), "w1": wasserstein1(samples, real)}
    if name != "swissroll":
        centres, sd = toy_modes(name)
        scores.update(mode_stats(samples, centres, sd))
    return scores


# ---------------------------------------------------------------------------
# Digits: inception score and Frechet distance
# ---------------------------------------------------------------------------


def frechet_gaussian(
    mean_a: np.ndarray, cov_a: np.ndarray, mean_b: np.ndarray, cov_b: np.ndarray
) -> float:
    r"""Frechet (2-Wasserstein squared) distance between two Gaussians.

    .. math::

        \lVert \mu_a - \mu_b \rVert^2
        + \operatorname{tr}\bigl(\Sigma_a + \Sigma_b - 2 (\Sigma_a \Sigma_b)^{1/2}\bigr).

    The trace of the matrix square root is computed as
    ``sum sqrt(eig(S S_b S))`` with ``S = Sigma_a^{1/2}``: the same number as
    ``trace(scipy.linalg.sqrtm(Sigma_a @ Sigma_b).real)``, but from symmetric
    eigendecompositions, so it stays real and warning-free when a covariance
    is singular (as feature covariances with dead units are).

    Parameters
    ----------
    mean_a, mean_b : array_like of shape (d,)
    cov_a, cov_b : array_like of shape (d, d)
        Symmetric positive semi-definite.

    Returns
    -------
    float
        Non-negative.

    Examples
    --------
    >>> frechet_gaussian([0.0, 0.0], np.eye(2), [3.0, 4.0], 4 * np.eye(2))
    27.0
    """
    mean_a, mean_b = np.asarray(mean_a, np.float64), np.asarray(mean_b, np.float64)
    cov_a, cov_b = np.asarray(cov_a, np.float64), np.asarray(cov_b, np.float64)
    d = mean_a.shape[0]
    if (
        mean_a.shape != (d,)
        or mean_b.shape != (d,)
        or cov_a.shape != (d, d)
        or cov_b.shape
        != (
            d,
            d,
        )
    ):
        raise InvalidDataError(
            f"means must have shape (d,) and covariances (d, d) for one d; got "
            f"{mean_a.shape}, {cov_a.shape}, {mean_b.shape}, {cov_b.shape}."
        )
    eigvals_a, eigvecs_a = np.linalg.eigh((cov_a + cov_a.T) / 2)
    root_a = (eigvecs_a * np.sqrt(np.clip(eigvals_a, 0.0, None))) @ eigvecs_a.T
    middle = root_a @ cov_b @ root_a
    trace_root = float(np.sqrt(np.clip(np.linalg.eigvalsh((middle + middle.T) / 2), 0, None)).sum())
    value = float(np.sum((mean_a - mean_b) ** 2) + np.trace(cov_a) + np.trace(cov_b))
    return max(value - 2.0 * trace_root, 0.0)


class DigitsScorer:
    """Inception score and Frechet distance for 8x8 digits in [-1, 1].

    A small classifier (scikit-learn ``MLPClassifier``, one ReLU layer of 64
    units, L-BFGS) is trained on one half of :func:`wgangp.data.load_digits`
    (the *reference* half); the other half is held out. It plays the role the
    Inception network plays for ImageNet-sized images:

    * inception score: ``exp(E_x KL(p(y|x) || p(y)))``, from the classifier's
      class probabilities; between 1 and 10, higher is better.
    * Frechet distance: :func:`frechet_gaussian` between Gaussians fitted to
      the 64 hidden-layer features of two samples; lower is better. By
      default the second sample is the reference half.

    :meth:`real_ceiling` scores the held-out half of real digits, the best a
    generator can expect; compare generated samples of a similar size
    (about 900), since the Frechet distance is biased upwards for small
    samples. Fitting takes about a second.

    Parameters
    ----------
    random_state : None, int or numpy.random.Generator, default 0
        Splits the digits and initialises the classifier.

    Attributes
    ----------
    classifier_ : sklearn.neural_network.MLPClassifier
    accuracy_ : float
        Accuracy on the held-out half.

    Examples
    --------
    >>> scorer = DigitsScorer(random_state=0)
    >>> inception, frechet = scorer.real_ceiling()
    >>> inception > 8.0, frechet < 5.0, scorer.accuracy_ > 0.9
    (True, True, True)
    >>> noise = np.random.default_rng(0).uniform(-1, 1, (900, 64))
    >>> bool(scorer.inception_score(noise) < inception)
    True
    """

    n_features = 64

    def __init__(self, random_state: RandomState = 0) -> None:
        self.random_state = random_state
        rng = _check_random_state(random_state)
        try:
            from sklearn.exceptions import ConvergenceWarning
            from sklearn.neural_network import MLPClassifier
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise ImportError(f"DigitsScorer needs scikit-learn; {_METRICS_HINT}") from exc
        X, y = load_digits(return_labels=True)
        order = rng.permutation(len(X))
        half = len(X) // 2
        reference, held_out = order[:half], order[half:]
        self.classifier_ = MLPClassifier(
            hidden_layer_sizes=(64,),
            activation="relu",
            solver="lbfgs",
            alpha=1e-2,
            max_iter=300,
            random_state=_sklearn_seed(rng),
        )
        with warnings.catch_warnings():
            # L-BFGS stopping at max_iter is fine here: the classifier only
            # needs to be good, not converged to machine precision.
            warnings.simplefilter("ignore", ConvergenceWarning)
            self.classifier_.fit(X[reference], y[reference])
        self._X_held_out = X[held_out]
        self.accuracy_ = float(self.classifier_.score(X[held_out], y[held_out]))
        self._reference_stats = self._feature_stats(self.features(X[reference]))

    def _check_images(self, X: np.ndarray, name: str) -> np.ndarray:
        X = _as_samples(X, name)
        if X.shape[1] != self.n_features:
            raise InvalidDataError(
                f"{name} must have shape (n, 64): flattened 8x8 digits in [-1, 1]; got {X.shape}."
            )
        return X

    def features(self, X: np.ndarray) -> np.ndarray:
        """Hidden-layer activations ``relu(X W1 + b1)``, shape (n, 64)."""
        X = self._check_images(X, "X")
        hidden = X @ self.classifier_.coefs_[0] + self.classifier_.intercepts_[0]
        return np.maximum(hidden, 0.0)

    @staticmethod
    def _feature_stats(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return features.mean(axis=0), np.cov(features, rowvar=False)

    def inception_score(self, X: np.ndarray) -> float:
        """``exp(mean_x KL(p(y|x) || p(y)))`` with ``p(y)`` the mean over X.

        Parameters
        ----------
        X : array_like of shape (n, 64)
            Flattened digits in [-1, 1].

        Returns
        -------
        float
            Between 1 (every image gets the same class distribution) and 10.
        """
        X = self._check_images(X, "X")
        p_given_x = self.classifier_.predict_proba(X)
        p_y = p_given_x.mean(axis=0, keepdims=True)
        safe = np.where(p_given_x > 0, p_given_x, 1.0)  # 0 log 0 = 0
        kl = np.sum(p_given_x * (np.log(safe) - np.log(np.maximum(p_y, 1e-300))), axis=1)
        return float(np.exp(kl.mean()))

    def frechet_distance(self, X: np.ndarray, X_ref: np.ndarray | None = None) -> float:
        """Frechet distance between X and real digits in the feature space.

        Parameters
        ----------
        X : array_like of shape (n, 64)
            At least 2 flattened digits in [-1, 1].
        X_ref : array_like of shape (m, 64), optional
            The comparison sample; default: the classifier's reference half
            of the real digits.

        Returns
        -------
        float
        """
        X = self._check_images(X, "X")
        if len(X) < 2:
            raise InvalidDataError(f"X needs at least 2 samples for a covariance; got {len(X)}.")
        if X_ref is None:
            mean_ref, cov_ref = self._reference_stats
        else:
            X_ref = self._check_images(X_ref, "X_ref")
            if len(X_ref) < 2:
                raise InvalidDataError(
                    f"X_ref needs at least 2 samples for a covariance; got {len(X_ref)}."
                )
            mean_ref, cov_ref = self._feature_stats(self.features(X_ref))
        mean_x, cov_x = self._feature_stats(self.features(X))
        return frechet_gaussian(mean_x, cov_x, mean_ref, cov_ref)

    def real_ceiling(self) -> tuple[float, float]:
        """``(inception_score, frechet_distance)`` of the held-out real digits."""
        return (
            self.inception_score(self._X_held_out),
            self.frechet_distance(self._X_held_out),
        )


# ---------------------------------------------------------------------------
# Tabular fidelity (SDMetrics definitions) and train-on-synthetic
# ---------------------------------------------------------------------------

_DISCRETE_MAX_VALUES = 10


def _import_pandas():
    try:
        import pandas
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "tabular metrics need pandas; install it with: pip install wgangp[tabular]"
        ) from exc
    return pandas


def infer_discrete_columns(frame, max_values: int = _DISCRETE_MAX_VALUES) -> list:
    """Columns read as discrete: text, boolean, categorical, or integer with few values.

    An integer column with at most ``max_values`` distinct values (a class
    label, a count of children) is discrete; every other numeric column is
    continuous.

    >>> import pandas as pd
    >>> infer_discrete_columns(pd.DataFrame({"a": [1.5, 2.0], "b": ["x", "y"], "c": [0, 1]}))
    ['b', 'c']
    """
    pd = _import_pandas()
    out = []
    for name in frame.columns:
        s = frame[name]
        if pd.api.types.is_bool_dtype(s) or not pd.api.types.is_numeric_dtype(s):
            out.append(name)
        elif pd.api.types.is_integer_dtype(s) and s.nunique(dropna=True) <= max_values:
            out.append(name)
    return out


def _check_frames(real, synthetic, discrete_columns):
    pd = _import_pandas()
    for name, frame in (("real", real), ("synthetic", synthetic)):
        if not isinstance(frame, pd.DataFrame):
            raise InvalidParameterTypeError(
                f"{name} must be a pandas DataFrame; got {type(frame).__name__}."
            )
        if len(frame) == 0:
            raise InvalidDataError(f"{name} has no rows; at least one row is needed.")
    missing = [c for c in real.columns if c not in synthetic.columns]
    if missing:
        raise InvalidDataError(f"synthetic lacks the columns {missing} of real.")
    if discrete_columns is None:
        discrete_columns = infer_discrete_columns(real)
    unknown = [c for c in discrete_columns if c not in real.columns]
    if unknown:
        raise InvalidParameterError(f"discrete_columns names unknown columns {unknown}.")
    discrete = [c for c in real.columns if c in set(discrete_columns)]
    continuous = [c for c in real.columns if c not in set(discrete_columns)]
    return discrete, continuous


def _shared_codes(a, b):
    """Integer codes of two Series over their joint values, NaN as its own value."""
    pd = _import_pandas()
    codes, uniques = pd.factorize(pd.concat([a, b], ignore_index=True), use_na_sentinel=False)
    return codes[: len(a)], codes[len(a) :], len(uniques)


def _total_variation_complement(codes_a, codes_b, n_values) -> float:
    fa = np.bincount(codes_a, minlength=n_values) / len(codes_a)
    fb = np.bincount(codes_b, minlength=n_values) / len(codes_b)
    return float(1.0 - 0.5 * np.abs(fa - fb).sum())


def _ks_complement(a: np.ndarray, b: np.ndarray) -> float:
    import scipy.stats

    a, b = a[~np.isnan(a)], b[~np.isnan(b)]
    if len(a) == 0 or len(b) == 0:
        return float("nan")
    # SDMetrics rounds to 14 decimals first, so float noise never counts as a gap.
    return float(1.0 - scipy.stats.ks_2samp(np.round(a, 14), np.round(b, 14)).statistic)


def column_shapes(real, synthetic, discrete_columns=None) -> dict:
    r"""Per-column marginal similarity, as SDMetrics' *Column Shapes*.

    Continuous columns: the KS complement ``1 - sup_x |F_r(x) - F_s(x)|``
    (missing values dropped). Discrete columns: the TV complement
    ``1 - (1/2) \sum_k |f_r(k) - f_s(k)|`` over the categories (missing
    values a category of their own). Both lie in [0, 1]; 1 is identical.

    Parameters
    ----------
    real, synthetic : pandas.DataFrame
    discrete_columns : list, optional
        Default: :func:`infer_discrete_columns` on ``real``.

    Returns
    -------
    dict
        Column name to score.

    Examples
    --------
    >>> import pandas as pd
    >>> real = pd.DataFrame({"x": [0.0, 1.0, 2.0, 3.0], "k": ["a", "a", "b", "b"]})
    >>> column_shapes(real, real)
    {'x': 1.0, 'k': 1.0}
    >>> column_shapes(real, real.assign(k=["a", "a", "a", "b"]))["k"]
    0.75
    """
    discrete, _ = _check_frames(real, synthetic, discrete_columns)
    scores = {}
    for name in real.columns:
        if name in discrete:
            ca, cb, k = _shared_codes(real[name], synthetic[name])
            scores[name] = _total_variation_complement(ca, cb, k)
        else:
            scores[name] = _ks_complement(
                real[name].to_numpy(dtype=np.float64), synthetic[name].to_numpy(dtype=np.float64)
            )
    return scores


def _discretize(real_col: np.ndarray, synth_col: np.ndarray, bins: int = 10):
    """SDMetrics' binning of a continuous column: 10 equal-width bins over each table's own range.

    As SDMetrics' Column Pair Trends does, each table is cut on the edges of its own values.
    """
    out = []
    for col in (real_col, synth_col):
        finite = col[~np.isnan(col)]
        edges = np.histogram_bin_edges(finite, bins=bins) if len(finite) else np.zeros(2)
        out.append(np.digitize(col, edges))
    return out[0], out[1]


def column_pair_trends(real, synthetic, discrete_columns=None, return_strength: bool = False):
    r"""Per-pair dependence similarity, as SDMetrics' *Column Pair Trends*.

    Two continuous columns: correlation similarity
    ``1 - |r_real - r_synth| / 2`` with Pearson's r (rows with a missing
    value dropped). Any other pair: contingency similarity
    ``1 - (1/2) \sum_{a,b} |p_r(a,b) - p_s(a,b)|``, a continuous column
    first cut into 10 equal-width bins (on each table's own range, as SDMetrics). A pair whose
    correlation is undefined (a constant column) scores NaN.

    Parameters
    ----------
    return_strength : bool
        Also return, per pair, how strong the real dependence is:
        ``("correlation", |r|)`` or ``("association", Cramer's V)`` of the
        binned real table, used by SDMetrics 0.32's thresholds.

    Returns
    -------
    dict
        ``(column_a, column_b)`` to score, for every pair in column order
        (and the strengths when asked).

    Examples
    --------
    >>> import pandas as pd
    >>> real = pd.DataFrame({"x": [0.0, 1, 2, 3], "y": [0.0, 1, 2, 4], "k": ["a", "a", "b", "b"]})
    >>> scores = column_pair_trends(real, real)
    >>> sorted(scores.values()) == [1.0, 1.0, 1.0]
    True
    >>> column_pair_trends(real, real.assign(y=-real["y"]))[("x", "y")] < 0.05
    True
    """
    discrete, continuous = _check_frames(real, synthetic, discrete_columns)
    columns = list(real.columns)
    values_r, values_s, binned = {}, {}, {}
    for name in continuous:
        values_r[name] = real[name].to_numpy(dtype=np.float64)
        values_s[name] = synthetic[name].to_numpy(dtype=np.float64)
        binned[name] = _discretize(values_r[name], values_s[name])
    for name in discrete:
        ca, cb, _ = _shared_codes(real[name], synthetic[name])
        binned[name] = (ca, cb)
    scores, strengths = {}, {}
    for i, a in enumerate(columns):
        for b in columns[i + 1 :]:
            if a in values_r and b in values_r:
                r_real = _pearson(values_r[a], values_r[b])
                scores[(a, b)] = 1.0 - abs(r_real - _pearson(values_s[a], values_s[b])) / 2.0
                strengths[(a, b)] = ("correlation", abs(r_real))
            else:
                scores[(a, b)] = _contingency_similarity(binned[a], binned[b])
                strengths[(a, b)] = ("association", _cramers_v(binned[a][0], binned[b][0]))
    if return_strength:
        return scores, strengths
    return scores


def association_matrix(frame, discrete_columns=None):
    r"""Pairwise dependence of a table's columns, one number per pair.

    The measures are those behind :func:`column_pair_trends`:

    * two continuous columns: Pearson's r, signed, in [-1, 1] (rows with a
      missing value dropped);
    * any pair with a discrete column: Cramer's V of the contingency table,
      in [0, 1] (no continuity correction, as SDMetrics), a continuous
      column first cut into 10 equal-width bins over its range and missing
      values a category of their own:

      .. math:: V = \sqrt{\frac{\chi^2}{n\,(\min(k_a, k_b) - 1)}}.

    The diagonal is 1; a pair with a constant column is NaN.

    Parameters
    ----------
    frame : pandas.DataFrame
    discrete_columns : list, optional
        Default: :func:`infer_discrete_columns` on ``frame``.

    Returns
    -------
    pandas.DataFrame
        Square, indexed by the column names in order.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"x": [0.0, 1, 2, 3], "y": [3.0, 2, 1, 0], "k": ["a", "a", "b", "b"]})
    >>> association_matrix(df).round(3).to_numpy().tolist()
    [[1.0, -1.0, 1.0], [-1.0, 1.0, 1.0], [1.0, 1.0, 1.0]]
    """
    pd = _import_pandas()
    discrete, continuous = _check_frames(frame, frame, discrete_columns)
    columns = list(frame.columns)
    values, codes = {}, {}
    for name in continuous:
        values[name] = frame[name].to_numpy(dtype=np.float64, na_value=np.nan)
        codes[name] = _discretize(values[name], values[name])[0]
    for name in discrete:
        codes[name] = pd.factorize(frame[name], use_na_sentinel=False)[0]
    matrix = np.eye(len(columns))
    for i, a in enumerate(columns):
        for j in range(i + 1, len(columns)):
            b = columns[j]
            if a in values and b in values:
                matrix[i, j] = _pearson(values[a], values[b])
            else:
                matrix[i, j] = _cramers_v(codes[a], codes[b])
            matrix[j, i] = matrix[i, j]
    return pd.DataFrame(matrix, index=columns, columns=columns)


def _cramers_v(codes_a: np.ndarray, codes_b: np.ndarray) -> float:
    """Cramer's V of the real contingency table (no continuity correction), as SDMetrics."""
    _, ia = np.unique(codes_a, return_inverse=True)
    _, ib = np.unique(codes_b, return_inverse=True)
    ka, kb = ia.max() + 1, ib.max() + 1
    if min(ka, kb) < 2:
        return float("nan")
    table = np.bincount(ia * kb + ib, minlength=ka * kb).reshape(ka, kb).astype(float)
    n = table.sum()
    expected = table.sum(axis=1, keepdims=True) * table.sum(axis=0, keepdims=True) / n
    chi2 = float(((table - expected) ** 2 / expected).sum())
    return float(np.sqrt(chi2 / (n * (min(ka, kb) - 1))))


def _pearson(x: np.ndarray, y: np.ndarray) -> float:
    keep = ~(np.isnan(x) | np.isnan(y))
    x, y = x[keep], y[keep]
    if len(x) < 2:
        return float("nan")
    x, y = x - x.mean(), y - y.mean()
    denom = np.sqrt((x * x).sum() * (y * y).sum())
    return float((x * y).sum() / denom) if denom > 0 else float("nan")


def _contingency_similarity(pair_a, pair_b) -> float:
    (ra, sa), (rb, sb) = pair_a, pair_b
    kb = int(max(rb.max(), sb.max())) + 1
    ka = int(max(ra.max(), sa.max())) + 1
    joint_r = np.bincount(ra * kb + rb, minlength=ka * kb) / len(ra)
    joint_s = np.bincount(sa * kb + sb, minlength=ka * kb) / len(sa)
    return float(1.0 - 0.5 * np.abs(joint_r - joint_s).sum())


def _feature_matrix(frames, discrete, continuous):
    """Frames to one numeric matrix each: one-hot discrete, median-filled continuous."""
    pd = _import_pandas()
    blocks = [[] for _ in frames]
    for name in continuous:
        cols = [f[name].to_numpy(dtype=np.float64) for f in frames]
        fill = np.nanmedian(cols[0]) if np.any(~np.isnan(cols[0])) else 0.0
        for out, col in zip(blocks, cols):
            out.append(np.where(np.isnan(col), fill, col)[:, None])
    for name in discrete:
        codes, uniques = pd.factorize(
            pd.concat([f[name] for f in frames], ignore_index=True), use_na_sentinel=False
        )
        eye = np.eye(len(uniques))
        start = 0
        for out, f in zip(blocks, frames):
            out.append(eye[codes[start : start + len(f)]])
            start += len(f)
    return [
        np.concatenate(b, axis=1) if b else np.zeros((len(f), 0)) for b, f in zip(blocks, frames)
    ]


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
    discrete, continuous = _check_frames(real, synthetic, discrete_columns)
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

    xr, xs = _feature_matrix([real, synthetic], discrete, continuous)
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
    discrete (classification), R^2 otherwise (regression).

    Returns
    -------
    dict
        ``tstr``, ``trtr``, ``task`` ("classification" or "regression"), ``metric``.
    """
    from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
    from sklearn.metrics import f1_score, r2_score

    discrete, continuous = _check_frames(real_train, synthetic, discrete_columns)
    _check_frames(real_train, real_test, discrete)
    if target not in real_train.columns:
        raise InvalidParameterError(f"target={target!r} is not a column of the real data.")
    classify = target in discrete
    feat_d = [c for c in discrete if c != target]
    feat_c = [c for c in continuous if c != target]
    xs, xr, xt = _feature_matrix([synthetic, real_train, real_test], feat_d, feat_c)
    seed = random_state if isinstance(random_state, int) else 0
    out = {"task": "classification" if classify else "regression"}
    out["metric"] = "macro_f1" if classify else "r2"
    if classify:
        labels = [synthetic[target], real_train[target], real_test[target]]
        pd = _import_pandas()
        codes, _ = pd.factorize(pd.concat(labels, ignore_index=True), use_na_sentinel=False)
        n_s, n_r = len(synthetic), len(real_train)
        ys, yr, yt = codes[:n_s], codes[n_s : n_s + n_r], codes[n_s + n_r :]
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
    discrete, continuous = _check_frames(real, synthetic, discrete_columns)
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
