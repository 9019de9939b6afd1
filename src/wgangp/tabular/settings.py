"""The synthesizer's settings: its parameter table and the defaults chosen from the data."""

from __future__ import annotations

from ..errors import InvalidParameterError
from ..train import CORE_PARAMS
from ..validation import Param
from .transformer import CONTINUOUS_METHODS

__all__ = ["DEFAULT_STEPS", "PARAMS", "auto_batch_and_pac"]

PARAMS: dict[str, Param] = {
    "discrete_columns": Param("columns", "discrete columns (default: inferred)", none="auto"),
    "continuous": Param(
        "str",
        "continuous columns: gmm (mode-specific normalisation), quantile, or auto "
        "(quantile for small tables)",
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
"""Generator iterations of a table fit when ``steps`` is not given.

Measured on 124 to 700 training rows (``benchmarks/tabular.py``): 800
iterations left wine's TSTR at 0.66, 1500 reach 0.96. Rows are drawn with
replacement, so the count does not grow with the table. A count that grows
with the number of discrete columns was tried on the development tables
(``benchmarks/tune_defaults.py``, 500 to 2500 iterations): 2500 helped
penguins (4 discrete columns; TSTR 0.62 -> 0.95) and biopsy (10), but
not titanic (3), mroz (5) or survey (7), and the median pair trends fell
from 0.887 to 0.827, so the count stays fixed.
"""
