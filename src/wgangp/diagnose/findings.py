"""What every diagnose rule shares: the finding, the history's columns, the run's settings.

A rule is a small function ``rule(cols, it, late, run) -> Finding | None``
over the history's columns (:func:`history_columns`), the iterations, the
start of the late window and the run's settings (:func:`run_settings`);
:mod:`wgangp.diagnose.rules` holds the GAN's rules and
:mod:`wgangp.diagnose.translator` the translator's.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

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
        out["values"] = {k: plain(v) for k, v in self.values.items()}
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


def plain(value):
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


def history_columns(history) -> dict[str, np.ndarray]:
    if isinstance(history, (str, Path)):
        from ..history import read_history

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


def fmt(x: float) -> str:
    return f"{x:.3g}"


def runs_of(iterations: np.ndarray, mask: np.ndarray) -> list[int]:
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


DEFAULT_RUN = RunSettings()
"""The settings a rule assumes when the run's own are not known."""


def settings_number(value, kind=float):
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
    lr = settings_number(settings.get("lr"))
    betas = None
    name = None
    if hasattr(optimizer, "config"):  # an Optimizer instance
        optimizer = optimizer.config()
    if isinstance(optimizer, dict):
        name = str(optimizer.get("name"))
        lr = settings_number(optimizer.get("lr", lr))
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
    n_critic = settings_number(settings.get("n_critic"), int)
    return RunSettings(
        lr=lr,
        lr_end=lr_end,
        lambda_gp=settings_number(settings.get("lambda_gp")),
        n_critic=n_critic,
        optimizer=name,
        betas=betas,
        penalty=None if penalty is None else str(penalty),
        scale=scale,
    )


def lr_text(run: RunSettings) -> str:
    """``lr=0.002`` (with the last value when a schedule lowered it), or ``lr``."""
    if run.lr is None:
        return "lr"
    text = f"lr={run.lr:g}"
    if run.lr_end is not None and not math.isclose(run.lr_end, run.lr, rel_tol=1e-6):
        text += f" (ending at {run.lr_end:g})"
    return text


def lower_lr(run: RunSettings, factor: str = "10x", divide: float = 10.0) -> str:
    """ "lower the learning rate from lr=0.01 (e.g. to 0.001)", or by a factor."""
    if run.lr is None:
        return f"lower the learning rate (lr, e.g. by {factor})"
    return f"lower the learning rate from {lr_text(run)} (e.g. to lr={run.lr / divide:.2g})"


def scale_hint(run: RunSettings) -> str:
    """Advice on the data scale, unless the run already standardises."""
    if run.scale == "standard":
        return ""
    if run.scale == "none":
        return "; the data are used as is (scale=None): standardise them (scale='standard')"
    return "; check that the data are scaled (scale='standard')"


def minibatch_noise(y: np.ndarray) -> float:
    """Minibatch noise of a series: a robust std from consecutive differences.

    For independent noise of std s, ``|y_i - y_{i+1}|`` has median 0.954 s.
    """
    y = y[np.isfinite(y)]
    if len(y) < 3:
        return 0.0
    return float(np.median(np.abs(np.diff(y)))) / 0.954


def smooth(y: np.ndarray, width: int) -> np.ndarray:
    """Centred moving median (robust to single spikes), edges shrink the window."""
    width = max(1, int(width))
    half = width // 2
    out = np.empty_like(y)
    for i in range(len(y)):
        out[i] = np.median(y[max(0, i - half) : i + half + 1])
    return out


def late_median(cols, key, late) -> float | None:
    if key not in cols:
        return None
    y = cols[key][late:]
    y = y[np.isfinite(y)]
    return float(np.median(y)) if len(y) else None
