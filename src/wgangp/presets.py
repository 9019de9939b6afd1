"""Settings that train the WGAN-GP paper's toy sets well and fast.

``TOY_PRESETS[name]`` holds :class:`wgangp.WGANGP` constructor arguments
plus two training keys: ``"steps"`` (generator iterations) and
``"lr_decay"`` (the :class:`wgangp.schedules.ExponentialDecay` settings, in
iterations, or None). ``wgangp train --data NAME`` starts from them;
:func:`build_preset` turns one into a model, its steps and its callbacks.

What each preset reached is in :func:`get_preset`'s docstring and in
BENCHMARKS.md ("Quality on the paper's toy sets"), which also gives the
command that reproduces the figures.
"""

from __future__ import annotations

import copy

from .errors import InvalidParameterError
from .model import WGANGP
from .schedules import ExponentialDecay

TRAINING_KEYS = ("steps", "lr_decay")
"""Preset keys that are not estimator parameters."""

BASE_PRESET: dict = {
    "hidden": 128,
    "depth": 3,
    "optimizer": "adam-toy",
    "lr": 2e-3,
    "lambda_gp": 0.1,
    "n_critic": 2,
    "batch_size": 256,
    "latent_dim": 2,
    "scale": "standard",
}
"""What every toy preset shares: estimator parameters."""


def _decay(steps: int, start: int) -> dict:
    """The learning rate decays to 1% between ``start`` and the last iteration."""
    return {"start": start, "stop": steps, "final": 0.01}


_OVERRIDES: dict[str, dict] = {
    "8gaussians": {"steps": 10000, "lr_decay": _decay(10000, 3000)},
    "25gaussians": {"steps": 32000, "lr_decay": _decay(32000, 12000)},
    "swissroll": {"steps": 5000, "lr_decay": _decay(5000, 1500)},
}

TOY_PRESETS: dict[str, dict] = {
    name: {**BASE_PRESET, **override} for name, override in _OVERRIDES.items()
}
"""Toy set name -> estimator parameters, ``steps`` and ``lr_decay``."""

TOY_GOALS: dict[str, dict] = {
    "8gaussians": {"modes": 8, "high_quality": 98.3, "reverse_kl": 0.03},
    "25gaussians": {"modes": 25, "high_quality": 95.8, "reverse_kl": 0.03},
}
"""The quality goal of BENCHMARKS.md: beat every row of PacGAN's Table 1."""


def get_preset(name: str) -> dict:
    """A copy of the toy preset ``name``.

    What they reached on a shared 2-core machine (load average 4-11), one
    thread, medians over seeds 0-2 with [min-max], 2,500 samples (see
    BENCHMARKS.md for the table, the machine and the command):

    * ``"8gaussians"`` (10,000 steps, about 150 s): 8/8 modes, 97.8%
      [96.8-98.3] high quality, reverse KL 0.001, W1 0.077. PacGAN's Table 1
      beaten on modes and reverse KL; % high quality 0.5 points short of its
      GAN row's 98.2 (samples on the bridges between modes).
    * ``"25gaussians"`` (32,000 steps, about 260 s): 25/25 modes, 94.8%
      [92.5-95.4] high quality, reverse KL 0.005, W1 0.054; short of the
      95.8% goal on high quality only (16,000 steps gave 93.0%).
    * ``"swissroll"`` (5,000 steps, about 40 s): W1 0.080 [0.068-0.101]
      (two real samples: 0.064).

    Parameters
    ----------
    name : {"8gaussians", "25gaussians", "swissroll"}

    Returns
    -------
    dict
        Estimator parameters plus ``"steps"`` and ``"lr_decay"``; changing it
        leaves ``TOY_PRESETS`` as it was.

    Examples
    --------
    >>> preset = get_preset("8gaussians")
    >>> sorted(set(preset) - set(WGANGP().get_params()))
    ['lr_decay', 'steps']
    """
    if name not in TOY_PRESETS:
        raise InvalidParameterError(
            f"name={name!r} has no preset; choose one of {sorted(TOY_PRESETS)}"
        )
    return copy.deepcopy(TOY_PRESETS[name])


def split_preset(preset: dict) -> tuple[dict, int, list]:
    """Estimator parameters, steps and callbacks (the lr schedule) of a preset dict."""
    params = {k: v for k, v in preset.items() if k not in TRAINING_KEYS}
    decay = preset.get("lr_decay")
    callbacks = [ExponentialDecay(**decay)] if decay else []
    return params, int(preset["steps"]), callbacks


def build_preset(name: str, random_state=None) -> tuple[WGANGP, int, list]:
    """An unfitted model, its number of steps and its callbacks for toy set ``name``.

    >>> model, steps, callbacks = build_preset("25gaussians", random_state=0)
    >>> model.fit(X, steps=steps, callbacks=callbacks)  # doctest: +SKIP
    """
    params, steps, callbacks = split_preset(get_preset(name))
    return WGANGP(random_state=random_state, **params), steps, callbacks
