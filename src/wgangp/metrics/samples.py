"""How close generated samples are to real ones.

* :func:`wasserstein1`: exact W1 (earth mover's distance) between two samples
  of equal size, by optimal matching.
* :func:`sliced_wasserstein`: mean 1-D W1 over random directions; any sizes.
* :func:`mmd_rbf`: unbiased squared maximum mean discrepancy, RBF kernel.
* :func:`mode_stats` and :func:`toy_metrics`: the mode-coverage figures of
  VEEGAN and PacGAN on the toy mixtures (definitions in BENCHMARKS.md).
* :class:`DigitsScorer`: inception score and Frechet distance for the 8x8
  digits, in the feature space of a small classifier trained here.

SciPy and scikit-learn are imported inside the functions that need them; when
missing, the error says ``pip install wgangp[metrics]``.
"""

from __future__ import annotations

import warnings

import numpy as np

from ..data import RandomState, check_toy_name, load_digits, rng_from, sklearn_seed, toy, toy_modes
from ..errors import InvalidDataError, InvalidParameterError, InvalidParameterTypeError
from ..validation import check_int

__all__ = [
    "DigitsScorer",
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
    n_projections = check_int(n_projections, "n_projections")
    rng = rng_from(random_state)
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
    name = check_toy_name(name)
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
        rng = rng_from(random_state)
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
            random_state=sklearn_seed(rng),
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
