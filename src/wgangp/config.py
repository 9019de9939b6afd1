"""Run configurations: the TOML file behind every ``wgangp train``.

A run configuration says everything a training run depends on: where the
data come from, how many iterations, the seed, and every parameter of the
:class:`wgangp.WGANGP` estimator. ``wgangp train --config run.toml`` reads
one; every run folder gets a ``config.toml`` that reproduces the run::

    data = "8gaussians"          # a toy set, "digits", or a .csv / .npy / .parquet file
    n_rows = 20000               # rows drawn from a toy set
    steps = 1000                 # generator iterations
    seed = 0                     # seeds the model and the toy data
    log_every = 1                # keep every n-th iteration's metrics
    checkpoint_every = "auto"    # iterations between checkpoints; "auto": every 10%
    keep_checkpoints = 3
    report = true                # write report.html at the end of training
    threads = "auto"             # BLAS threads while training: auto, 0 (BLAS default) or N

    [model]                      # the estimator's parameters; any left out keep their default
    hidden = 512
    lr = 0.0001
    latent_dim = "auto"          # TOML has no None: "auto" stands for None
    scale = "standard"           # or "none"

Unknown keys, values of the wrong type and values outside what is allowed
raise :class:`ConfigError` naming the key, the value and what is allowed.
A relative ``data`` path in a file is relative to the file's folder.

TOML is read with :mod:`tomllib` (Python 3.11+) or ``tomli`` (Python 3.10)
and written here by hand (flat ``key = value`` lines), so writing needs no
dependency.

Examples
--------
>>> cfg = resolve({"data": "8gaussians", "steps": 20, "model": {"hidden": 32}})
>>> cfg["steps"], cfg["model"]["hidden"], cfg["model"]["lr"]
(20, 32, 0.0001)
>>> estimator_params(cfg)["latent_dim"] is None
True
>>> text = dumps(cfg)
>>> loads(text) == cfg
True
"""

from __future__ import annotations

import difflib
import inspect
import json
import math
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ._version import __version__
from .data import WINDOW_ROWS
from .errors import InvalidParameterError, InvalidParameterTypeError
from .model import WGANGP
from .presets import TOY_PRESETS
from .validation import Param, check_param

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

__all__ = [
    "ConfigError",
    "MODEL_PARAMS",
    "RUN_PARAMS",
    "defaults",
    "dumps",
    "estimator_params",
    "load",
    "loads",
    "resolve",
    "write",
]


class ConfigError(InvalidParameterError):
    """A run configuration has an unknown key, a value of a wrong type, or a bad value."""


MODEL_PARAMS: dict[str, Param] = {
    k: v for k, v in WGANGP.PARAMS.items() if k not in ("random_state", "threads")
}
"""The estimator's parameters (its own table, ``WGANGP.PARAMS``), in the order of its
constructor; ``random_state`` is the run's ``seed`` and ``threads`` the run's ``threads``."""

# Settings of the run around the estimator.
RUN_PARAMS: dict[str, Param] = {
    "preset": Param(
        "str",
        "toy-set settings to start from: auto (the data's preset when it is a toy set with "
        "one, wgangp.presets), none, or a preset name; flags and --config override them",
        choices=("auto", "none", *TOY_PRESETS),
    ),
    "data": Param(
        "str",
        "8gaussians, 25gaussians, swissroll, digits, or the path of a .csv, .npy or .parquet file",
    ),
    "n_rows": Param("int", "rows drawn from a toy set (ignored for digits and files)", minimum=1),
    "steps": Param("int", "generator iterations (each after n_critic critic steps)", minimum=1),
    "seed": Param(
        "int", "seeds the model and the toy data; the same seed gives the same run", minimum=0
    ),
    "log_every": Param("int", "keep every n-th iteration's metrics in history.jsonl", minimum=1),
    "checkpoint_every": Param(
        "int", "iterations between checkpoints; auto: every 10%% of steps", minimum=1, auto="auto"
    ),
    "keep_checkpoints": Param("int", "checkpoints kept in RUN_DIR/checkpoints", minimum=1),
    "report": Param("bool", "write report.html at the end of training"),
    "stream": Param(
        "bool",
        "read the data file (.parquet or .npy) a window of row groups at a time, never "
        "whole: files larger than memory (wgangp.data.RowStream)",
    ),
    "window_rows": Param(
        "int",
        "rows a --stream run holds at a time (whole row groups); each minibatch mixes the "
        "rows of one window",
        minimum=1,
    ),
    "threads": WGANGP.PARAMS["threads"],
}

_RUN_DEFAULTS: dict[str, Any] = {
    "preset": "auto",
    "data": None,
    "n_rows": 20000,
    "steps": 1000,
    "seed": 0,
    "log_every": 1,
    "checkpoint_every": "auto",
    "keep_checkpoints": 3,
    "report": True,
    "stream": False,
    "window_rows": WINDOW_ROWS,
    "threads": "auto",
}


def _model_defaults() -> dict[str, Any]:
    """The estimator's constructor defaults, written as configuration values."""
    sig = inspect.signature(WGANGP.__init__)
    out = {}
    for name, spec in MODEL_PARAMS.items():
        value = sig.parameters[name].default
        if value is None and spec.none is not None:
            value = spec.none
        elif spec.kind == "dtype":
            value = getattr(value, "__name__", str(value))
        out[name] = value
    return out


def defaults() -> dict[str, Any]:
    """A complete configuration with every default (``data`` is None: it has none)."""
    cfg = dict(_RUN_DEFAULTS)
    cfg["model"] = _model_defaults()
    return cfg


# --------------------------------------------------------------------------- #
# Validation.                                                                 #
# --------------------------------------------------------------------------- #


def _unknown(key: str, known, where: str) -> ConfigError:
    close = difflib.get_close_matches(key, list(known), n=1)
    hint = f"; did you mean {close[0]!r}?" if close else f"; known keys: {', '.join(known)}"
    return ConfigError(f"unknown key {key!r} {where}{hint}")


def check_value(name: str, value: Any, spec: Param, where: str = "") -> Any:
    """Check one configuration value against its :class:`~wgangp.validation.Param`.

    Returns it normalised (an int as int, ...) and in the file's spelling
    (``"auto"`` or ``"none"`` where the estimator takes None).
    """
    label = f"{where}{name}"
    spelled = spec.none or spec.auto
    if spelled is not None and value == spelled:
        return value
    if spec.kind == "bool" and not isinstance(value, bool):
        raise ConfigError(f"{label}={value!r} must be true or false")
    if spec.kind in ("str", "dtype") and not isinstance(value, str):
        raise ConfigError(f"{label}={value!r} must be a string")
    if spec.kind == "dtype" and value not in spec.choices:
        raise ConfigError(
            f"{label}={value!r} is not allowed; choose one of {', '.join(spec.choices)}"
        )
    if spec.kind == "float" and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    try:
        checked = check_param(value, label, spec._replace(auto=None, none=None))
    except (InvalidParameterError, InvalidParameterTypeError) as exc:
        also = f" or {spelled!r}" if spelled and spec.kind in ("int", "float") else ""
        raise ConfigError(f"{exc}{also}") from None
    return value if spec.kind == "dtype" else checked


def resolve(*layers: Mapping[str, Any]) -> dict[str, Any]:
    """Merge configuration layers over the defaults, later layers winning; validate.

    Each layer is a mapping as :func:`loads` returns it (run keys at the top,
    estimator parameters under ``"model"``); a value of None means "not set
    here" and leaves the lower layer's value.

    Raises
    ------
    ConfigError
        An unknown key, a wrong type or a value out of range.
    """
    cfg = defaults()
    for layer in layers:
        for key, value in layer.items():
            if key == "model":
                if not isinstance(value, Mapping):
                    raise ConfigError(f"model must be a table ([model]); got {value!r}")
                for name, v in value.items():
                    if name not in MODEL_PARAMS:
                        raise _unknown(name, MODEL_PARAMS, "in [model]")
                    if v is not None:
                        cfg["model"][name] = check_value(name, v, MODEL_PARAMS[name], "model.")
            elif key in RUN_PARAMS:
                if value is not None:
                    cfg[key] = check_value(key, value, RUN_PARAMS[key])
            elif key in MODEL_PARAMS:
                raise ConfigError(
                    f"{key!r} is a model parameter; put it under the [model] table, "
                    f"not at the top level"
                )
            else:
                raise _unknown(key, [*RUN_PARAMS, "model"], "at the top level")
    return cfg


def estimator_params(cfg: Mapping[str, Any]) -> dict[str, Any]:
    """Keyword arguments of :class:`wgangp.WGANGP` for a resolved configuration."""
    params = dict(cfg["model"])
    for name, spec in MODEL_PARAMS.items():
        if spec.none is not None and params[name] == spec.none:
            params[name] = None
    params["random_state"] = cfg["seed"]
    params["threads"] = cfg["threads"]
    return params


def checkpoint_period(cfg: Mapping[str, Any]) -> int:
    """Iterations between checkpoints: ``checkpoint_every``, or 10% of ``steps`` for "auto"."""
    every = cfg["checkpoint_every"]
    return max(1, cfg["steps"] // 10) if every == "auto" else int(every)


# --------------------------------------------------------------------------- #
# Reading and writing.                                                        #
# --------------------------------------------------------------------------- #


def loads(text: str, source: str = "<config>") -> dict[str, Any]:
    """Parse and validate TOML text; return the resolved configuration."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source} is not valid TOML: {exc}") from None
    try:
        return resolve(raw)
    except ConfigError as exc:
        raise ConfigError(f"{source}: {exc}") from None


def load(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a run configuration file; a relative ``data`` path becomes relative to its folder.

    Raises
    ------
    FileNotFoundError
        No such file.
    ConfigError
        Not valid TOML, or a bad key or value (the message names the file).
    """
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"config file {path} is a directory")
    if not path.is_file():
        raise FileNotFoundError(f"config file {path} does not exist")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path} is not UTF-8 text: {exc}") from None
    cfg = loads(text, source=str(path))
    data = cfg["data"]
    if data is not None and _is_file_source(data) and not Path(data).is_absolute():
        cfg["data"] = str((path.parent / data).resolve())
    return cfg


def _is_file_source(data: str) -> bool:
    return data not in ("8gaussians", "25gaussians", "swissroll", "digits")


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        # A JSON string is a valid TOML basic string, except that TOML also
        # wants DEL escaped.
        return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")
    raise TypeError(f"cannot write {value!r} of type {type(value).__name__} to TOML")


def dumps(cfg: Mapping[str, Any], header: str | None = None) -> str:
    """A resolved configuration as TOML text, one commented ``key = value`` per line."""
    lines = []
    if header:
        lines += [f"# {line}" if line else "#" for line in header.splitlines()]
        lines.append("")
    for key, spec in RUN_PARAMS.items():
        value = cfg.get(key)
        if value is None:
            continue
        lines.append(f"{key} = {_toml_value(value)}  # {spec.help.replace('%%', '%')}")
    lines += ["", "[model]"]
    for key, spec in MODEL_PARAMS.items():
        lines.append(f"{key} = {_toml_value(cfg['model'][key])}  # {spec.help}")
    return "\n".join(lines) + "\n"


def write(cfg: Mapping[str, Any], path: str | os.PathLike[str], command: str | None = None) -> Path:
    """Write ``config.toml`` (to a temporary file renamed into place); return its path."""
    path = Path(path)
    header = f"wgangp {__version__} run configuration."
    if command:
        header += f"\nReproduce this run with: {command}"
    text = dumps(cfg, header=header)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
    return path
