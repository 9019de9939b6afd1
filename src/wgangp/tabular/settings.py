"""The synthesizer's settings: its parameter table and the defaults chosen from the data."""

from __future__ import annotations

from ..errors import InvalidParameterError
from ..train import CORE_PARAMS
from ..validation import Param
from .transformer import CONTINUOUS_METHODS

__all__ = [
    "DEFAULT_EPOCHS",
    "DEFAULT_STEPS",
    "MAX_DEFAULT_STEPS",
    "PARAMS",
    "auto_batch_and_pac",
    "default_steps",
]

PARAMS: dict[str, Param] = {
    "discrete_columns": Param("columns", "discrete columns (default: inferred)", none="auto"),
    "continuous": Param(
        "str",
        "continuous columns: gmm (mode-specific normalisation), quantile, or auto "
        "(quantile: the default, measured best on every development table)",
        choices=CONTINUOUS_METHODS,
    ),
    "max_modes": Param("int", "most mixture modes per continuous column", minimum=1),
    "clip": Param("bool", "clip sampled values to the training range"),
    "match_marginals": Param(
        "bool", "map each quantile column's generated values onto the data's marginal"
    ),
    "hidden": Param("int", "units in each hidden layer of the generator", minimum=1),
    "depth": Param("int", "hidden layers of the generator", minimum=1),
    "critic_hidden": Param("int", "units in each hidden layer of the critic", minimum=1),
    "critic_depth": Param("int", "hidden layers of the critic", minimum=1),
    "latent_dim": Param("int", "noise dimension", minimum=1),
    "pac": Param("int", "rows per critic input (PacGAN)", minimum=1, auto="auto"),
    "batch_size": Param("int", "rows per minibatch", minimum=1, auto="auto"),
    "n_critic": CORE_PARAMS["n_critic"],
    "optimizer": CORE_PARAMS["optimizer"],
    "lr": CORE_PARAMS["lr"],
    "lambda_gp": CORE_PARAMS["lambda_gp"],
    "penalty": CORE_PARAMS["penalty"],
    "leaky_slope": Param("float", "slope of the critic's leaky ReLU", minimum=0.0, maximum=1.0),
    "dropout": Param("float", "dropout rate in the critic", minimum=0.0, maximum=1.0),
    "tau": Param("float", "Gumbel-softmax temperature", minimum=0.0, strict=True),
    "ce_weight": Param("float", "weight of the condition cross-entropy", minimum=0.0),
    "conditional": Param("bool", "condition on the discrete columns"),
    "log_frequency": Param("bool", "draw training conditions by log-frequency"),
    "dtype": CORE_PARAMS["dtype"],
    "backend": CORE_PARAMS["backend"],
    "device": CORE_PARAMS["device"],
    "random_state": CORE_PARAMS["random_state"],
    "threads": CORE_PARAMS["threads"],
}
"""The constructor's parameters, in order (see :class:`TabularSynthesizer`)."""


def auto_batch_and_pac(n_rows: int, batch_size="auto", pac="auto") -> tuple[int, int]:
    """Batch size and pac for a table of ``n_rows`` rows.

    Rows are drawn with replacement (training-by-sampling), so the batch need
    not divide the table: ``auto`` gives ``min(500, max(100, 2 n))``, and
    pac ``auto`` gives 10 once the batch reaches 300 rows, else
    ``max(1, batch // 30)``, so the critic always sees at least ~30 packs;
    the batch is then rounded down to a multiple of pac.

    >>> auto_batch_and_pac(30), auto_batch_and_pac(124), auto_batch_and_pac(5000)
    ((99, 3), (248, 8), (500, 10))
    """
    batch = min(500, max(100, 2 * n_rows)) if batch_size == "auto" else int(batch_size)
    if pac == "auto":
        pac = 10 if batch >= 300 else max(1, batch // 30)
    pac = int(pac)
    if batch < pac:
        raise InvalidParameterError(f"batch_size={batch} is smaller than pac={pac}")
    return batch - batch % pac, pac


DEFAULT_STEPS = 1500
"""The fewest generator iterations of a table fit when ``steps`` is not given
(:func:`default_steps`).

Measured on 124 to 700 training rows (``benchmarks/tabular.py``): 800
iterations left wine's TSTR at 0.66, 1500 reach 0.96. A count that grows
with the number of discrete columns was tried on the development tables
(``benchmarks/tune_defaults.py``, 500 to 2500 iterations): 2500 helped
penguins (4 discrete columns; TSTR 0.62 -> 0.95) and biopsy (10), but
not titanic (3), mroz (5) or survey (7), and the median pair trends fell
from 0.887 to 0.827, so the count does not follow the columns.
"""

DEFAULT_EPOCHS = 400
"""Passes over the rows that :func:`default_steps` gives a table larger than
``DEFAULT_STEPS`` batches cover (each iteration draws one batch).

Chosen on the development tables of 2,820 to 5,512 training rows (nwtco,
arrests, flchain, fair), where 1500 iterations are 140 to 270 passes:
seed 0 scored at 1500, 3000 and 4500 iterations, then 1500 against this
rule on seeds 0-2 (``benchmarks/tune_defaults.py --at 1500,auto``;
BENCHMARKS.md). The rule raised the median TSTR on all four (nwtco 0.49
-> 0.65, arrests 0.50 -> 0.54, flchain 0.54 -> 0.73, fair 0.18 -> 0.20),
pair trends on two (fair 0.77 -> 0.82, arrests 0.85 -> 0.87; nwtco 0.86
-> 0.85, flchain 0.72 -> 0.69) and column shapes on three (nwtco 0.93 ->
0.90). Letting the learning rate fall to a tenth over the second half
kept nwtco's shapes (0.95) but lost its TSTR gain (0.50), so there is no
decay. At 4500 iterations fair's shapes fell to 0.80: more is not better.
Those runs used gmm columns; re-checked once quantiles became the default
for every table, the rule again raised TSTR on every run (flchain 0.68 ->
0.82) for 0.01 to 0.03 of column shapes and pair trends.

The count is sized for time (a fit ends before CTGAN's 300 epochs do), not
for convergence: four times it (``steps=4 * default_steps(len(rows))``)
raised the median TSTR/TRTR of the development tables from 0.92 to 0.97 and
of the check tables from 0.73 to 0.94, still in less time than CTGAN's 3000
epochs (BENCHMARKS.md).
"""

MAX_DEFAULT_STEPS = 5000
"""The most iterations :func:`default_steps` gives (a 50,000-row table would
otherwise take 40,000): a bound on the default fit's time, just above the
4,409 that the largest development table gets. Pass ``steps`` for more."""


def default_steps(n_rows: int, batch_size="auto") -> int:
    """Generator iterations of a fit without ``steps``: ``DEFAULT_EPOCHS`` passes over
    ``n_rows`` rows in batches of ``batch_size``, at least ``DEFAULT_STEPS`` and at
    most ``MAX_DEFAULT_STEPS``.

    ``batch_size="auto"`` (the default) is the batch a fit at the synthesizer's
    ``batch_size="auto"`` uses (:func:`auto_batch_and_pac`), so that
    ``fit(real, steps=4 * default_steps(len(real)))`` trains four times as long
    as ``fit(real)``. Small tables get ``DEFAULT_STEPS`` (up to 1,875 rows at the
    auto batch of 500).

    >>> default_steps(300, 500), default_steps(2820, 500), default_steps(5512, 500)
    (1500, 2256, 4410)
    >>> default_steps(50_000), default_steps(2820), default_steps(2820, 250)
    (5000, 2256, 4512)
    """
    if isinstance(batch_size, str) and batch_size == "auto":
        batch_size, _ = auto_batch_and_pac(n_rows)
    n_rows, batch_size = int(n_rows), int(batch_size)
    if n_rows < 1 or batch_size < 1:
        raise InvalidParameterError(
            f"default_steps needs at least one row and a batch of one; got {n_rows} rows "
            f"and batch_size={batch_size}"
        )
    passes = -(-DEFAULT_EPOCHS * n_rows // batch_size)  # ceiling
    return int(min(MAX_DEFAULT_STEPS, max(DEFAULT_STEPS, passes)))
