"""Rules over a training history that name what is wrong and what to do about it.

:func:`diagnose` reads a history (``WGANGP.history_``, a list of record
dicts, or a ``history.jsonl`` path) and returns a list of :class:`Finding`,
each with a name, a severity, the evidence (numbers and iterations), a
remedy, and the iterations where it shows (for plots). A healthy run gives
an empty list. Given the run's settings (``settings=model.get_params()``,
or the ``[model]`` table of a run's ``config.toml``), the remedies quote
them: "lower lambda_gp from 1000 (e.g. to 100)" rather than a textbook
value; without them the learning rate still comes from the history
(``lr_critic``) and lambda from the logged penalty where it can.

Each rule looks at the window where its problem shows: divergence and "not
learning" at the whole run (a run that learned and then settled is not
stuck), the others at the *late window*, the second half of the logged
iterations (the first iterations of any GAN are transients: random critic,
penalty far from its equilibrium). The thresholds were set on real runs,
good and bad (``benchmarks/diagnose_eval.py``: no finding on any good run
of the toy presets and the README quickstart, every bad run named).

=================================  =========  ==========================================
rule                               severity   shows as
=================================  =========  ==========================================
``divergence``                     error      NaN or inf in a loss, W or a gradient norm
``penalty_dominates``              warning    penalty term larger than the W estimate
                                              and its swings, keeping it near or below 0
``grad_norm_off``                  warning    critic gradient norms at the interpolates
                                              further from 1 than lambda_gp allows
                                              (``||g|| - 1`` balances ``W / (2 lambda)``)
``not_learning``                   warning    W estimate and generator loss move no more
                                              than their minibatch noise over the run
``mode_collapse_suspected``        warning    the W estimate below 0 on a quarter of the
                                              late iterations, swinging more than the
                                              penalty: the critic keeps losing track of
                                              a generator that jumps between modes
``generator_loss_exploding``       warning    generator loss grown by orders of magnitude
``oscillation``                    warning    swings of the W estimate larger than its
                                              level: learning rate too high
``translator_identity``            warning    (Translator) cycle error and translation
                                              shift near 0 while a W estimate stays high:
                                              the generators learned the identity
``cycle_broken``                   warning    (Translator) translations do not come back:
                                              the cycle error stays large
``direction_lagging``              warning    (Translator) one domain's W estimate stays
                                              many times the other's
=================================  =========  ==========================================

Examples
--------
>>> healthy = [
...     {"iteration": i, "critic_loss": -1.0 + 0.01 * (i % 3), "wasserstein": 1.0 - 0.001 * i,
...      "generator_loss": 0.5 - 0.002 * i, "penalty": 0.05, "grad_norm_mean": 1.0}
...     for i in range(1, 201)
... ]
>>> diagnose(healthy)
[]
>>> broken = healthy[:150] + [dict(healthy[150], critic_loss=float("nan"))]
>>> [f.name for f in diagnose(broken)]
['divergence']
>>> (finding,) = diagnose(broken, settings={"lr": 0.002, "scale": "standard"})
>>> "from lr=0.002" in finding.remedy
True
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

__all__ = ["Finding", "RunSettings", "diagnose", "format_findings", "run_settings", "RULES"]

# Thresholds, named so that tests and readers can see them in one place. They were
# set on the real runs of benchmarks/diagnose_eval.py (good: toy presets, quickstart;
# bad: collapsed, diverged, penalty-dominated, stuck, oscillating).
MIN_RECORDS = 20  # fewer logged records than this: only the divergence rule runs
PENALTY_SHARE = 0.5  # penalty / (|W| + penalty) above this, late median
PENALTY_FLOOR = 0.05  # ... and the penalty itself above this (absolute)
PENALTY_W_LEVEL = 0.5  # ... and the late median W below this times the penalty
PENALTY_OVER_SWING = 1.0  # ... and the penalty above this times the late std of W (it,
# not the swings of a collapsing run, holds W down)
GRAD_NORM_BAND = (0.5, 1.5)  # late median of grad_norm_mean outside: off, for a strong penalty
GRAD_NORM_FACTOR = 2.0  # ... widened by this times the balance deviation W / (2 lambda k)
FLAT_TREND = 6.0  # spread of chunk medians below this times their standard error: flat
# (pure noise gives about 3 for 10 chunks; good runs 20 or more, collapsing ones 11)
FLAT_RANGE = 1e-4  # ... plus this times max(1, |median|) (a noiseless constant is flat)
FLAT_CHUNKS = 10  # the run is cut into this many chunks for their medians
COLLAPSE_NEGATIVE = 0.25  # W below 0 on this fraction of late iterations (good runs: at
# most 0.06; collapsing ones 0.4 and more) ...
COLLAPSE_SWING_OVER_PENALTY = 1.0  # ... and the late std of W above this times the penalty
COLLAPSE_SWING_OVER_NOISE = 1.3  # ... and above this times its minibatch noise (a stuck
# critic's W can sit below 0 too, moving no more than the noise: about 1x)
EXPLODE_FACTOR = 10.0  # |generator loss| late over early above this: exploding
EXPLODE_FLOOR = 10.0  # ... and the late |generator loss| above this (absolute)
OSCILLATION_RATIO = 1.5  # late std of W over its level max(|median W|, 0.05)
OSCILLATION_FLOOR = 0.3  # ... and the late std of W above this (absolute)
# Translator (errors and shifts are mean absolute entries in the scaled space)
IDENTITY_CYCLE = 0.02  # late median cycle error below this: the cycle is closed ...
IDENTITY_SHIFT = 0.05  # ... and translations move entries less than this on average
IDENTITY_W_SHARE = 0.5  # ... while a W estimate stays above this share of its high level
IDENTITY_W_FLOOR = 0.2  # ... and above this (absolute)
CYCLE_BROKEN = 0.3  # late median cycle error above this: translations do not come back
LAG_RATIO = 5.0  # late median W of one domain over the other's above this: lagging
LAG_FLOOR = 0.3  # ... and the larger one above this (absolute)

WATCHED = (
    "critic_loss",
    "generator_loss",
    "wasserstein",
    "penalty",
    "grad_norm_min",
    "grad_norm_mean",
    "grad_norm_max",
    "critic_grad_norm",
    "generator_grad_norm",
)


@dataclass
class Finding:
    """One diagnosed problem.

    Attributes
    ----------
    name : str
        The rule's name (``"divergence"``, ``"oscillation"``, ...).
    severity : {"error", "warning", "info"}
    evidence : str
        What was seen, with numbers and iterations.
    remedy : str
        What to try.
    iterations : list of int
        Logged iterations where the problem shows (to shade a plot).
    values : dict
        The numbers behind the evidence, by name.
    """

    name: str
    severity: str
    evidence: str
    remedy: str
    iterations: list[int] = field(default_factory=list)
    values: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        """Plain JSON-serialisable data."""
        out = asdict(self)
        out["iterations"] = [int(i) for i in self.iterations]
        out["values"] = {k: _plain(v) for k, v in self.values.items()}
        return out

    def __str__(self) -> str:
        span = ""
        if self.iterations:
            first, last = min(self.iterations), max(self.iterations)
            span = f" (iteration {first})" if first == last else f" (iterations {first}-{last})"
        return (
            f"[{self.severity}] {self.name}{span}\n"
            f"  evidence: {self.evidence}\n"
            f"  remedy:   {self.remedy}"
        )


def _plain(value):
    if isinstance(value, (np.floating, float)):
        value = float(value)
        return value if math.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    return value


def format_findings(findings: list[Finding]) -> str:
    """The findings as readable text (one block each), or a line saying none."""
    if not findings:
        return "no problems found"
    return "\n".join(str(f) for f in findings)


# --------------------------------------------------------------------------- #
# Reading a history into columns.                                            #
# --------------------------------------------------------------------------- #


def _columns(history) -> dict[str, np.ndarray]:
    if isinstance(history, (str, Path)):
        from .history import read_history

        history = read_history(history)
    if hasattr(history, "column") and hasattr(history, "keys"):
        return {key: history.column(key) for key in history.keys}
    records = list(history)
    keys: list[str] = []
    for record in records:
        keys.extend(k for k in record if k not in keys)
    cols = {}
    for key in keys:
        values = [record.get(key) for record in records]
        cols[key] = np.array(
            [np.nan if v is None else v for v in values],
            dtype=np.int64 if key == "iteration" else np.float64,
        )
    return cols


def _fmt(x: float) -> str:
    return f"{x:.3g}"


def _runs(iterations: np.ndarray, mask: np.ndarray) -> list[int]:
    return [int(i) for i in iterations[mask]]


# --------------------------------------------------------------------------- #
# The run's settings, as the remedies quote them.                             #
# --------------------------------------------------------------------------- #

_ADAM_BETAS = {"adam": (0.0, 0.9), "adam-toy": (0.5, 0.9)}


@dataclass(frozen=True)
class RunSettings:
    """What a remedy quotes: the estimator's settings, completed from the history.

    Every field is None when neither the settings nor the history say it.

    Attributes
    ----------
    lr : float or None
        The learning rate the run started with.
    lr_end : float or None
        The last logged learning rate (lower after a decay schedule).
    lambda_gp : float or None
    n_critic : int or None
    optimizer : str or None
        A name (``"adam-toy"``) or a description (``"adam betas (0.9, 0.99)"``).
    betas : tuple of float or None
        Adam's betas, where the optimizer is Adam.
    penalty : str or None
        ``"two-sided"`` or ``"one-sided"``.
    scale : str or None
        ``"standard"`` or ``"none"`` (data used as is).
    """

    lr: float | None = None
    lr_end: float | None = None
    lambda_gp: float | None = None
    n_critic: int | None = None
    optimizer: str | None = None
    betas: tuple | None = None
    penalty: str | None = None
    scale: str | None = None


def _number(value, kind=float):
    try:
        out = kind(value)
    except (TypeError, ValueError):
        return None
    return out if math.isfinite(out) else None


def run_settings(settings=None, cols: dict | None = None) -> RunSettings:
    """A :class:`RunSettings` from estimator settings and the history's columns.

    Parameters
    ----------
    settings : mapping, optional
        ``model.get_params()``, or the ``[model]`` table of a run's
        ``config.toml`` (``scale = "none"`` there stands for None).
    cols : dict of str to array, optional
        The history by column: ``lr_critic`` gives the learning rates when
        ``settings`` does not.

    Examples
    --------
    >>> run_settings({"lr": 2e-3, "lambda_gp": 0.1, "optimizer": "adam-toy"}).betas
    (0.5, 0.9)
    """
    settings = dict(settings or {})
    cols = cols or {}
    optimizer = settings.get("optimizer")
    lr = _number(settings.get("lr"))
    betas = None
    name = None
    if hasattr(optimizer, "config"):  # an Optimizer instance
        optimizer = optimizer.config()
    if isinstance(optimizer, dict):
        name = str(optimizer.get("name"))
        lr = _number(optimizer.get("lr", lr))
        if optimizer.get("betas") is not None:
            betas = tuple(float(b) for b in optimizer["betas"])
            name = f"{name} betas ({betas[0]:g}, {betas[1]:g})"
    elif isinstance(optimizer, str):
        name = optimizer
        betas = _ADAM_BETAS.get(optimizer)
    logged = cols.get("lr_critic")
    lr_end = None
    if logged is not None and np.isfinite(logged).any():
        finite = logged[np.isfinite(logged)]
        lr = lr if lr is not None else float(finite[0])
        lr_end = float(finite[-1])
    scale = settings.get("scale", "?")
    scale = "none" if scale is None else (None if scale == "?" else str(scale))
    penalty = settings.get("penalty")
    n_critic = _number(settings.get("n_critic"), int)
    return RunSettings(
        lr=lr,
        lr_end=lr_end,
        lambda_gp=_number(settings.get("lambda_gp")),
        n_critic=n_critic,
        optimizer=name,
        betas=betas,
        penalty=None if penalty is None else str(penalty),
        scale=scale,
    )


def _lr_text(run: RunSettings) -> str:
    """``lr=0.002`` (with the last value when a schedule lowered it), or ``lr``."""
    if run.lr is None:
        return "lr"
    text = f"lr={run.lr:g}"
    if run.lr_end is not None and not math.isclose(run.lr_end, run.lr, rel_tol=1e-6):
        text += f" (ending at {run.lr_end:g})"
    return text


def _lower_lr(run: RunSettings, factor: str = "10x", divide: float = 10.0) -> str:
    """ "lower the learning rate from lr=0.01 (e.g. to 0.001)", or by a factor."""
    if run.lr is None:
        return f"lower the learning rate (lr, e.g. by {factor})"
    return f"lower the learning rate from {_lr_text(run)} (e.g. to lr={run.lr / divide:.2g})"


def _scale_hint(run: RunSettings) -> str:
    """Advice on the data scale, unless the run already standardises."""
    if run.scale == "standard":
        return ""
    if run.scale == "none":
        return "; the data are used as is (scale=None): standardise them (scale='standard')"
    return "; check that the data are scaled (scale='standard')"


# --------------------------------------------------------------------------- #
# The rules. Each takes the columns, the late-window start index and the run.  #
# --------------------------------------------------------------------------- #


def _noise(y: np.ndarray) -> float:
    """Minibatch noise of a series: a robust std from consecutive differences.

    For independent noise of std s, ``|y_i - y_{i+1}|`` has median 0.954 s.
    """
    y = y[np.isfinite(y)]
    if len(y) < 3:
        return 0.0
    return float(np.median(np.abs(np.diff(y)))) / 0.954


def rule_divergence(cols, it, late, run=RunSettings()) -> Finding | None:
    bad_rows = np.zeros(len(it), dtype=bool)
    bad_keys = []
    for key in WATCHED:
        if key in cols:
            bad = ~np.isfinite(cols[key])
            if bad.any():
                bad_rows |= bad
                bad_keys.append(key)
    if not bad_rows.any():
        return None
    first = int(it[np.argmax(bad_rows)])
    last_good = it[: np.argmax(bad_rows)]
    before = ""
    if len(last_good) and "critic_loss" in cols:
        tail = cols["critic_loss"][: np.argmax(bad_rows)][-5:]
        before = "; the critic loss over the last logged iterations before: " + ", ".join(
            map(_fmt, tail)
        )
    return Finding(
        "divergence",
        "error",
        f"{', '.join(bad_keys)} not finite from iteration {first} "
        f"({int(bad_rows.sum())} of {len(it)} logged iterations){before}",
        f"{_lower_lr(run)}{_scale_hint(run)}, and check that the data are finite; then "
        "resume from the last good checkpoint (fit(X, steps, resume=run_dir)); "
        "DivergenceGuard stops such runs at once",
        _runs(it, bad_rows),
        {"first_iteration": first, "keys": bad_keys},
    )


def rule_penalty_dominates(cols, it, late, run=RunSettings()) -> Finding | None:
    if "penalty" not in cols or "wasserstein" not in cols:
        return None
    pen = float(np.nanmedian(cols["penalty"][late:]))
    w_signed = float(np.nanmedian(cols["wasserstein"][late:]))
    w = abs(w_signed)
    swing = float(np.nanstd(cols["wasserstein"][late:]))
    share = pen / (w + pen) if (w + pen) > 0 else 0.0
    if not (
        share > PENALTY_SHARE
        and pen > PENALTY_FLOOR
        and w_signed < PENALTY_W_LEVEL * pen
        and pen > PENALTY_OVER_SWING * swing
    ):
        return None
    window = it[late:]
    if run.lambda_gp is not None:
        remedy = (
            f"lambda_gp={run.lambda_gp:g} is too strong for this critic and data: lower it "
            f"(e.g. to lambda_gp={run.lambda_gp / 10:.3g}; the toy presets use 0.1, the "
            "paper 10)"
        )
    else:
        remedy = "lower lambda_gp (e.g. by 10x; the toy presets use 0.1, the paper 10)"
    return Finding(
        "penalty_dominates",
        "warning",
        f"over iterations {window[0]}-{window[-1]} the penalty term (median {_fmt(pen)}) "
        f"is {100 * share:.0f}% of the critic loss's magnitude, and the W estimate it leaves "
        f"has median {_fmt(w_signed)}: the critic spends its capacity on the constraint "
        "and no longer tells real from generated",
        f"{remedy}{_scale_hint(run)}; if the penalty will not come down, check its "
        "gradient with wgangp.gradcheck(model)",
        [int(i) for i in window],
        {
            "penalty_median": pen,
            "wasserstein_median": w_signed,
            "wasserstein_std": swing,
            "penalty_share": share,
        },
    )


def _lambda_from_history(cols, late) -> float | None:
    """lambda estimated as penalty / (||g|| - 1)^2 over the late window (an upper bound:
    the mean of squares is at least the square of the mean)."""
    if "penalty" not in cols:
        return None
    pen = cols["penalty"][late:]
    dev = (cols["grad_norm_mean"][late:] - 1.0) ** 2
    ok = np.isfinite(pen) & np.isfinite(dev) & (dev > 0.01)
    if not ok.any():
        return 0.0 if np.nanmax(np.abs(cols["penalty"])) == 0 else None
    return float(np.median(pen[ok] / dev[ok]))


def rule_grad_norm_off(cols, it, late, run=RunSettings()) -> Finding | None:
    """Norms further from 1 than the balance of the penalty and the W term allows.

    The critic trades a larger W estimate for a penalty: scaling a 1-Lipschitz
    critic to slope k earns k W1 and costs lambda (k - 1)^2, so the norm settles
    where k (k - 1) = W / (2 lambda) (W = k W1, the logged estimate). With
    lambda 10 that is within a few % of 1; with the toy presets' 0.1 norms of 2
    are the balance, not a fault.
    """
    if "grad_norm_mean" not in cols:
        return None
    norms = cols["grad_norm_mean"]
    med = float(np.nanmedian(norms[late:]))
    w = abs(float(np.nanmedian(cols["wasserstein"][late:]))) if "wasserstein" in cols else 0.0
    lam = run.lambda_gp
    estimated = lam is None
    if estimated:
        lam = _lambda_from_history(cols, late)
        if lam is None:
            return None
    low, high = GRAD_NORM_BAND
    if lam > 0:
        k = 0.5 * (1.0 + math.sqrt(1.0 + 2.0 * w / lam))
        high = high + GRAD_NORM_FACTOR * (k - 1.0)
    if run.penalty == "one-sided":
        low = 0.0  # norms below 1 cost nothing
    if low <= med <= high:
        return None
    off = (norms < low) | (norms > high)
    off[:late] = False
    lam_text = f"lambda_gp{'~' if estimated else '='}{lam:.3g}"
    if lam == 0:
        remedy = (
            "the penalty term is 0 throughout: lambda_gp=0 turns it off and leaves the "
            "critic unbounded; use lambda_gp=0.1 (the toy presets) to 10 (the paper)"
        )
    else:
        remedy = (
            f"with {lam_text}{' (estimated from the penalty)' if estimated else ''} the "
            "penalty should hold the norms there: run wgangp.gradcheck(model) to check the "
            f"penalty's gradient{_scale_hint(run)}"
        )
    return Finding(
        "grad_norm_off",
        "warning",
        f"the critic's gradient norm at the interpolates has late median {_fmt(med)}, "
        f"outside {_fmt(low)}-{_fmt(high)} (what {lam_text} against a W estimate of "
        f"{_fmt(w)} allows) on {int(off.sum())} of {len(it) - late} late logged iterations",
        remedy,
        _runs(it, off),
        {"grad_norm_median": med, "band_low": low, "band_high": high, "lambda_gp": lam},
    )


def _trend(y: np.ndarray) -> tuple[float, float, float] | None:
    """(spread of chunk medians, their standard error, median) of a series, or None
    when too short. The median of m noisy values has a standard error of about
    1.25 noise / sqrt(m)."""
    y = y[np.isfinite(y)]
    if len(y) < MIN_RECORDS:
        return None
    medians = [float(np.median(chunk)) for chunk in np.array_split(y, FLAT_CHUNKS)]
    error = 1.25 * _noise(y) / math.sqrt(len(y) / FLAT_CHUNKS)
    return max(medians) - min(medians), error, float(np.median(y))


def rule_not_learning(cols, it, late, run=RunSettings()) -> Finding | None:
    """Nothing moves beyond its minibatch noise over the whole run.

    A run that learned and settled has moved (its first chunk differs from
    the rest); a stuck one has not, whatever the late window looks like.
    """
    flat = []
    for key in ("wasserstein", "generator_loss"):
        if key not in cols:
            continue
        found = _trend(cols[key])
        if found is None:
            return None
        spread, error, level = found
        if spread >= FLAT_TREND * error + FLAT_RANGE * max(1.0, abs(level)):
            return None
        flat.append((key, level, spread, error))
    if not flat:
        return None
    text = "; ".join(
        f"{k} stays at {_fmt(v)} (the medians of each tenth of the run within {_fmt(s)}, "
        f"{s / e if e else 0:.1f}x their standard error {_fmt(e)})"
        for k, v, s, e in flat
    )
    if run.lr is not None:
        lr = (
            f"raise the learning rate from {_lr_text(run)} "
            "(the toy presets use 2e-3, the paper 1e-4)"
        )
    else:
        lr = "raise the learning rate (lr; the toy presets use 2e-3, the paper 1e-4)"
    return Finding(
        "not_learning",
        "warning",
        f"over iterations {it[0]}-{it[-1]}: {text}: neither network is learning",
        f"{lr}; check for dead ReLUs (try activation='leaky_relu'), and check that the "
        "data vary (a constant data set gives nothing to learn)",
        [int(i) for i in it],
        {f"{k}_spread": s for k, _, s, _ in flat},
    )


def rule_mode_collapse(cols, it, late, run=RunSettings()) -> Finding | None:
    """The W estimate below 0 on a large share of the late window, with swings
    larger than the penalty.

    A critic that is ahead scores real data above generated: W > 0, falling
    towards the noise floor as the generator improves (good runs stay above
    0 but for a few per cent of iterations). A generator that jumps from mode
    to mode lands where the critic scores it high, again and again: W goes
    below 0 for long stretches. How far W falls from its peak, and the
    generator loss (its level drifts: only differences of D matter), say
    nothing; a W held below 0 by a penalty larger than its swings is
    ``penalty_dominates``.
    """
    if "wasserstein" not in cols:
        return None
    w = cols["wasserstein"][late:]
    ok = np.isfinite(w)
    if ok.sum() < MIN_RECORDS // 2:
        return None
    negative = float(np.mean(w[ok] < 0))
    swing = float(np.std(w[ok]))
    pen = float(np.nanmedian(cols["penalty"][late:])) if "penalty" in cols else 0.0
    pen = pen if math.isfinite(pen) else 0.0
    noise = _noise(w)
    if not (
        negative >= COLLAPSE_NEGATIVE
        and swing > COLLAPSE_SWING_OVER_PENALTY * pen
        and swing > COLLAPSE_SWING_OVER_NOISE * noise
    ):
        return None
    below = np.zeros(len(it), dtype=bool)
    below[late:] = ok & (w < 0)
    level = float(np.median(w[ok]))
    steps = []
    if run.lr is not None:
        steps.append(f"lower the learning rate from {_lr_text(run)} (e.g. to lr={run.lr / 5:.2g})")
    else:
        steps.append("lower the learning rate (e.g. by 3-10x)")
    if run.n_critic is not None and run.n_critic < 5:
        steps.append(f"raise n_critic from {run.n_critic} (e.g. to 5)")
    elif run.n_critic is None:
        steps.append("raise n_critic")
    steps.append("or widen the critic")
    return Finding(
        "mode_collapse_suspected",
        "warning",
        f"the W estimate is below 0 on {100 * negative:.0f}% of iterations "
        f"{int(it[late])}-{int(it[-1])} (median {_fmt(level)}, standard deviation "
        f"{_fmt(swing)} against a minibatch noise of {_fmt(noise)} and a penalty of "
        f"{_fmt(pen)}): the critic keeps losing track of a generator "
        "that jumps from one place to another",
        "look at samples (mode coverage: wgangp.metrics.mode_stats): if they cover few "
        f"modes, {', '.join(steps)}; keep the checkpoint from before the drop",
        _runs(it, below),
        {
            "late_level": level,
            "negative_fraction": negative,
            "std": swing,
            "noise": noise,
            "penalty": pen,
        },
    )


def rule_generator_exploding(cols, it, late, run=RunSettings()) -> Finding | None:
    if "generator_loss" not in cols:
        return None
    g = np.abs(cols["generator_loss"])
    g_ok = np.where(np.isfinite(g), g, np.nan)
    n = len(g)
    early = float(np.nanmedian(g_ok[: max(MIN_RECORDS // 2, n // 4)]))
    tail_start = max(late, n - max(MIN_RECORDS // 2, n // 10))
    recent = float(np.nanmedian(g_ok[tail_start:]))
    ref = max(early, 1.0)
    if not (recent > EXPLODE_FACTOR * ref and recent > EXPLODE_FLOOR):
        return None
    big = np.isfinite(g) & (g > EXPLODE_FACTOR * ref)
    first = int(it[np.argmax(big)])
    n_critic = f"raise n_critic from {run.n_critic}" if run.n_critic else "raise n_critic"
    return Finding(
        "generator_loss_exploding",
        "warning",
        f"|generator loss| grew from a median of {_fmt(early)} early to {_fmt(recent)} "
        f"at the end ({recent / ref:.0f}x), above {_fmt(EXPLODE_FACTOR * ref)} from "
        f"iteration {first}",
        f"the critic's output drifts without bound: {_lower_lr(run)}, {n_critic}"
        f"{_scale_hint(run)}; if the samples still look right the drift alone is harmless "
        "(only differences of D matter), so compare W estimates",
        _runs(it, big),
        {"early_median": early, "late_median": recent, "ratio": recent / ref},
    )


def rule_oscillation(cols, it, late, run=RunSettings()) -> Finding | None:
    if "wasserstein" not in cols:
        return None
    w = cols["wasserstein"][late:]
    w = w[np.isfinite(w)]
    if len(w) < MIN_RECORDS // 2:
        return None
    spread = float(np.std(w))
    step = float(np.median(np.abs(np.diff(w))))
    level = max(abs(float(np.median(w))), 0.05)
    ratio = spread / level
    if not (ratio > OSCILLATION_RATIO and spread > OSCILLATION_FLOOR):
        return None
    window = it[late:]
    steps = [_lower_lr(run, "3-10x")]
    if run.betas is not None and run.betas[0] > 0.5:
        steps.append(
            f"Adam's betas ({run.betas[0]:g}, {run.betas[1]:g}) carry momentum across "
            "the critic's moves: use optimizer='adam-toy' (0.5, 0.9) or 'adam' (0, 0.9)"
        )
    elif run.betas is None and run.optimizer is None:
        steps.append("with Adam, optimizer='adam' (betas (0, 0.9)) also damps it")
    if run.lambda_gp == 0:
        steps.append("lambda_gp=0 leaves the critic unbounded: use 0.1 (the toy presets) to 10")
    return Finding(
        "oscillation",
        "warning",
        f"over iterations {window[0]}-{window[-1]} the W estimate swings with a standard "
        f"deviation of {_fmt(spread)}, {ratio:.1f}x its level |median| {_fmt(level)} "
        f"(5-95%: {_fmt(np.percentile(w, 5))} to {_fmt(np.percentile(w, 95))}; median "
        f"change between logged iterations {_fmt(step)}): the updates overshoot",
        "the learning rate is too high: " + "; ".join(steps),
        [int(i) for i in window],
        {"std": spread, "level": level, "ratio": ratio, "median_step": step},
    )


def _smooth(y: np.ndarray, width: int) -> np.ndarray:
    """Centred moving median (robust to single spikes), edges shrink the window."""
    width = max(1, int(width))
    half = width // 2
    out = np.empty_like(y)
    for i in range(len(y)):
        out[i] = np.median(y[max(0, i - half) : i + half + 1])
    return out


def _late_median(cols, key, late) -> float | None:
    if key not in cols:
        return None
    y = cols[key][late:]
    y = y[np.isfinite(y)]
    return float(np.median(y)) if len(y) else None


def rule_translator_identity(cols, it, late, run=RunSettings()) -> Finding | None:
    cyc = _late_median(cols, "cycle_error", late)
    if cyc is None or cyc >= IDENTITY_CYCLE:
        return None
    shifts = [_late_median(cols, k, late) for k in ("shift_ab", "shift_ba")]
    shifts = [v for v in shifts if v is not None]
    if shifts and max(shifts) >= IDENTITY_SHIFT:
        return None
    high = []
    for domain in ("a", "b"):
        key = f"wasserstein_{domain}"
        level = _late_median(cols, key, late)
        if level is None:
            continue
        w = cols[key][np.isfinite(cols[key])]
        ref = float(np.percentile(_smooth(w, max(5, len(w) // 40)), 95))
        if level > IDENTITY_W_FLOOR and level >= IDENTITY_W_SHARE * ref:
            high.append((domain.upper(), level, ref))
    if not high:
        return None
    window = it[late:]
    moved = f", translations move entries by {_fmt(max(shifts))} on average" if shifts else ""
    return Finding(
        "translator_identity",
        "warning",
        f"over iterations {window[0]}-{window[-1]} the cycle error has median {_fmt(cyc)}"
        f"{moved}, while the critic of "
        + " and of ".join(
            f"{d} still sees a W estimate of {_fmt(v)} (high {_fmt(r)})" for d, v, r in high
        )
        + ": the generators learned the identity (or close to it), which closes the cycle "
        "without translating",
        "the cycle term holds the generators at their start: lower lambda_cycle (e.g. 10 -> 2), "
        "raise lr or train longer; with residual=True (training starts at the identity) try "
        "residual=False; check that the two domains really differ in the scaled space",
        [int(i) for i in window],
        {
            "cycle_error_median": cyc,
            "shift_median": max(shifts) if shifts else None,
            **{f"wasserstein_{d.lower()}_median": v for d, v, _ in high},
        },
    )


def rule_cycle_broken(cols, it, late, run=RunSettings()) -> Finding | None:
    cyc = _late_median(cols, "cycle_error", late)
    if cyc is None or cyc <= CYCLE_BROKEN:
        return None
    window = it[late:]
    return Finding(
        "cycle_broken",
        "warning",
        f"over iterations {window[0]}-{window[-1]} the cycle error F(G(a)) - a, G(F(b)) - b "
        f"has median {_fmt(cyc)} per entry (scaled units; above {CYCLE_BROKEN}): translated "
        "rows do not come back, so the translation need not keep their content",
        "raise lambda_cycle (e.g. 10 -> 30), lower lr, or train longer; "
        "lambda_identity > 0 also keeps rows that are already in the target domain in place",
        [int(i) for i in window],
        {"cycle_error_median": cyc},
    )


def rule_direction_lagging(cols, it, late, run=RunSettings()) -> Finding | None:
    w_a = _late_median(cols, "wasserstein_a", late)
    w_b = _late_median(cols, "wasserstein_b", late)
    if w_a is None or w_b is None:
        return None
    big, small, domain = (w_a, w_b, "A") if w_a >= w_b else (w_b, w_a, "B")
    if not (big > LAG_FLOOR and big > LAG_RATIO * max(small, 0.0) and big - small > LAG_FLOOR):
        return None
    other = "B" if domain == "A" else "A"
    window = it[late:]
    return Finding(
        "direction_lagging",
        "warning",
        f"over iterations {window[0]}-{window[-1]} the critic of {domain} sees a W estimate of "
        f"median {_fmt(big)} against {_fmt(small)} for {other}: translations from {other} "
        f"into {domain} are far from {domain}, the other direction is close",
        f"the translation into {domain} is behind: train longer; check that {domain}'s columns "
        "vary on the same scale as the other domain's; a wider network (hidden) gives that "
        "direction more room",
        [int(i) for i in window],
        {"wasserstein_high": big, "wasserstein_low": small, "domain": domain},
    )


SUPERSEDED_BY = {"not_learning": {"translator_identity"}}
"""A finding left out when a more specific one explains the same history: generators
stuck at the identity are a translator's own way of not learning."""

RULES = (
    rule_divergence,
    rule_penalty_dominates,
    rule_grad_norm_off,
    rule_not_learning,
    rule_mode_collapse,
    rule_generator_exploding,
    rule_oscillation,
    rule_translator_identity,
    rule_cycle_broken,
    rule_direction_lagging,
)


def diagnose(history, settings=None) -> list[Finding]:
    """Check a training history against every rule; return what is found.

    Parameters
    ----------
    history : History, iterable of dict, or path
        ``model.history_``, a list of metrics records (at least ``iteration``;
        the rules use ``critic_loss``, ``generator_loss``, ``wasserstein``,
        ``penalty``, ``grad_norm_mean`` and ``lr_critic`` where present), or a
        ``history.jsonl`` file.
    settings : mapping, optional
        The run's estimator settings: ``model.get_params()`` or the
        ``[model]`` table of its ``config.toml``. The remedies quote them
        (``lr``, ``lambda_gp``, ``n_critic``, ``optimizer``, ``scale``), and
        ``grad_norm_off`` uses ``lambda_gp`` and ``penalty``. Without them the
        learning rate comes from the history and lambda from the penalty.

    Returns
    -------
    list of Finding
        Errors first; empty for a healthy run. With fewer than 20 logged
        records only divergence is checked.

    Notes
    -----
    After a divergence the other rules look only at the records before it
    (NaN says nothing about learning rates or penalties).
    """
    cols = _columns(history)
    if "iteration" not in cols or len(cols["iteration"]) == 0:
        return []
    run = run_settings(settings, cols)
    it = cols["iteration"]
    findings = []
    diverged = rule_divergence(cols, it, 0, run)
    if diverged is not None:
        findings.append(diverged)
        cut = int(np.searchsorted(it, diverged.values["first_iteration"]))
        cols = {k: v[:cut] for k, v in cols.items()}
        it = cols["iteration"]
    if len(it) >= MIN_RECORDS:
        late = len(it) // 2
        for rule in RULES[1:]:
            found = rule(cols, it, late, run)
            if found is not None:
                findings.append(found)
    found = {f.name for f in findings}
    findings = [f for f in findings if not found & SUPERSEDED_BY.get(f.name, set())]
    order = {"error": 0, "warning": 1, "info": 2}
    findings.sort(key=lambda f: order.get(f.severity, 3))
    return findings
