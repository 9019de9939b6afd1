"""What every estimator writes to and reads from its model file, once.

:class:`Saving` is the model-file half of the training core's
:class:`~wgangp.train.Estimator`: the header fields and arrays that all
estimators share (parameters of every network, optimizer moments, random
stream, bounded history, constructor arguments as JSON) are written by
:meth:`Saving.save` and read back, checked field by field and array by
array, by :meth:`Saving._from_file`. An estimator adds only its own fields
(``_fitted_header``, ``_header_extras``) and rebuilds its own networks from
them (``_restore``). The bytes on disk are :mod:`wgangp.modelfile`'s.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from ._version import __version__
from .backend import to_numpy
from .errors import ModelFileError, TrainingDiverged
from .history import History
from .modelfile import header_int, rng_from_state, write_model_file
from .nn import Activation, get_activation
from .optim import Optimizer, get_optimizer
from .validation import Param, check_dtype, check_path, check_random_state, remembered

__all__ = ["Saving", "check_sizes"]

_CORE_HEADER = frozenset(
    {
        "format",
        "format_version",
        "wgangp_version",
        "numpy_version",
        "saved_at",
        "class",
        "params",
        "fitted",
        "optimizers",
        "rng_state",
        "history",
        "arrays",
    }
)


class Saving:
    """The model file of an estimator: :meth:`save` and the checked load."""

    def _json_params(self) -> dict:
        """Constructor arguments as JSON values (what the model file records); a new
        dict, remembered for arguments that are all immutable scalars
        (:func:`~wgangp.validation.remembered`)."""
        params = self.get_params()
        return remembered(self, "_json_params_cache", params, lambda: self._as_json(params))

    def _as_json(self, params: dict) -> dict:
        """``params`` (from :meth:`get_params`, changed in place) as JSON values."""
        for name, value in params.items():
            if isinstance(value, Optimizer):
                params[name] = value.config()
            elif isinstance(value, Activation):
                params[name] = value.config()
            elif isinstance(value, dict) and name == "activation":
                params[name] = get_activation(value).config()
            elif self.PARAMS.get(name, Param("", "")).kind == "dtype":
                params[name] = check_dtype(value, name).name
            elif name == "random_state":
                if isinstance(value, np.random.Generator):
                    params[name] = None
                elif value is not None:
                    params[name] = int(check_random_state(value))
            elif isinstance(value, (np.integer, np.floating, np.bool_)):
                params[name] = value.item()
            elif isinstance(value, tuple):
                params[name] = list(value)
        return params

    @classmethod
    def _from_json_params(cls, params: dict, path):
        if not isinstance(params, dict):
            raise ModelFileError(f"{path}: header field 'params' is not a JSON object")
        unknown = set(params) - set(cls._param_names())
        if unknown:
            raise ModelFileError(f"{path}: unknown parameters {sorted(unknown)} in the header")
        params = dict(params)
        for name, value in params.items():
            if cls.PARAMS.get(name, Param("", "")).kind == "dtype":
                if value not in ("float32", "float64"):
                    raise ModelFileError(f"{path}: {name} {value!r} is not float32 or float64")
                params[name] = {"float32": np.float32, "float64": np.float64}[value]
            elif name == "optimizer" and isinstance(value, dict):
                params[name] = get_optimizer(value)
        return cls(**params)

    def save(self, path) -> Path:
        """Write the model to one ``.npz`` file, atomically.

        The file holds the arrays (weights, optimizer moments, the training
        history, and what the estimator adds) and a JSON header (parameters,
        fitted settings, versions, step counts, optimizer and random-stream
        state). It is written to a temporary file in the same folder and
        renamed into place, so a crash never leaves a torn file. A model
        with NaN or inf parameters is refused: such a file could not be
        loaded.
        """
        self.check_fitted()
        path = check_path(path, "path")
        bad = self.non_finite_parameters()
        if bad:
            raise TrainingDiverged(
                f"not saving {str(path)!r}: {', '.join(bad[:4])} holds NaN or inf (training "
                "diverged), and such a file could not be loaded; save a finite state",
                iteration=self.n_iter_,
            )
        arrays: dict[str, np.ndarray] = {}
        optimizers = {}
        for net_name, net in self.networks().items():
            for i, p in enumerate(net.params):
                arrays[f"{net_name}/{i}"] = to_numpy(p)  # NumPy whatever trained it
            opt = getattr(self, f"{net_name}_optimizer_")
            state = opt.state_dict()
            optimizers[net_name] = {"config": opt.config(), "step": state["step"]}
            for slot in opt.slots:
                for i, a in enumerate(state.get(slot, [])):
                    arrays[f"optim/{net_name}/{slot}/{i}"] = a
        history_info, columns = self.history_.to_arrays()
        for i, key in enumerate(history_info["columns"]):
            arrays[f"history/{i}"] = columns[key]
        extras, extra_arrays = self._header_extras()
        arrays.update(extra_arrays)
        fitted = {"n_iter": self.n_iter_}
        fitted.update(self._fitted_header())
        fingerprint = getattr(self, "data_fingerprint_", None)
        if fingerprint is not None:
            fitted["data"] = fingerprint  # what resuming checks the data against
        header = {
            "format": self.FORMAT_NAME,
            "format_version": self.FORMAT_VERSIONS[-1],
            "wgangp_version": __version__,
            "numpy_version": np.__version__,
            "saved_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "class": type(self).__name__,
            "params": self._json_params(),
            "fitted": fitted,
            "optimizers": optimizers,
            "rng_state": self._rng.bit_generator.state,
            "history": history_info,
        }
        header.update(extras)
        return write_model_file(path, header, arrays)

    @classmethod
    def _from_file(cls, header: dict, arrays: dict, path):
        """Build a fitted estimator from a model file that ``read_model_file`` checked."""
        unknown = sorted(set(header) - _CORE_HEADER - set(cls.HEADER_EXTRAS))
        if unknown:
            raise ModelFileError(
                f"{path}: unknown header fields {unknown}; the file was not written by "
                f"wgangp {__version__}"
            )
        for field in ("params", "fitted", "optimizers", "rng_state", *cls.HEADER_EXTRAS):
            if not isinstance(header.get(field), dict):
                raise ModelFileError(
                    f"{path}: header field {field!r} is missing or not a JSON object"
                )
        if header.get("class", cls.__name__) != cls.__name__:
            raise ModelFileError(
                f"{path} holds a {header['class']!r}, not a {cls.__name__}; "
                "load it with wgangp.load"
            )
        model = cls._from_json_params(header["params"], path)
        settings = model._validate_params()
        model._restore(header, arrays, path, settings)
        model.n_iter_ = header_int(header["fitted"]["n_iter"], "fitted.n_iter")
        model.data_fingerprint_ = _fingerprint(header["fitted"].get("data"), path)
        for net_name, net in model.networks().items():
            for i, p in enumerate(net.params):
                stored = arrays.get(f"{net_name}/{i}")
                if stored is None or stored.shape != p.shape or stored.dtype != p.dtype:
                    raise ModelFileError(
                        f"{path}: {net_name} parameter {i} is missing or does not match the "
                        f"architecture {net.sizes} ({p.dtype.name}): expected shape {p.shape}, "
                        f"found {None if stored is None else stored.shape}"
                    )
                if not np.isfinite(stored).all():
                    raise ModelFileError(
                        f"{path}: {net_name} parameter {i} holds NaN or inf; the model "
                        "diverged before it was saved"
                    )
                p[...] = stored
        for net_name, net in model.networks().items():
            info = header["optimizers"][net_name]
            opt = get_optimizer(info["config"])
            state = {"step": header_int(info["step"], f"optimizers.{net_name}.step")}
            if state["step"] > 0:
                for slot in opt.slots:
                    state[slot] = []
                    for i, p in enumerate(net.params):
                        a = arrays.get(f"optim/{net_name}/{slot}/{i}")
                        if a is None or a.shape != p.shape or a.dtype != p.dtype:
                            raise ModelFileError(
                                f"{path}: optimizer state {net_name}/{slot}/{i} is missing or "
                                f"does not match its parameter (shape {p.shape}, {p.dtype})"
                            )
                        state[slot].append(a)
            opt.load_state_dict(state)
            if opt.state is None:
                opt.init(net.params)
            setattr(model, f"{net_name}_optimizer_", opt)
        model._rng = rng_from_state(header["rng_state"], path)
        model.history_ = _history_from_file(header.get("history"), arrays, path)
        model._fitted_params = model._json_params()
        return model

    def _check_stored(self, arrays: dict, net_name: str, sizes: list, dtype, path) -> None:
        """Before a network is built: its stored weights must have the shapes its
        ``sizes`` give, so that forged sizes never make us allocate."""
        for k, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            for i, shape in ((2 * k, (fan_in, fan_out)), (2 * k + 1, (fan_out,))):
                a = arrays.get(f"{net_name}/{i}")
                if a is None or a.shape != shape or a.dtype != dtype:
                    raise ModelFileError(
                        f"{path}: {net_name} parameter {i} is missing or does not match the "
                        f"architecture {sizes} ({np.dtype(dtype).name}): expected shape {shape}, "
                        f"found {None if a is None else a.shape}"
                    )


def check_sizes(sizes, field: str, first: int, last: int) -> list:
    """A header's layer widths: integers >= 1 from ``first`` to ``last``."""
    if (
        not isinstance(sizes, list)
        or len(sizes) < 2
        or any(isinstance(s, bool) or not isinstance(s, int) or s < 1 for s in sizes)
        or sizes[0] != first
        or sizes[-1] != last
    ):
        raise ModelFileError(
            f"header field {field}={sizes!r} must be a list of integers >= 1 from {first} to {last}"
        )
    return sizes


def _fingerprint(value, path) -> dict | None:
    """The training data's fingerprint from a header (files before it have none)."""
    if value is None:
        return None
    if (
        not isinstance(value, dict)
        or not isinstance(value.get("hash"), str)
        or isinstance(value.get("rows"), bool)
        or not isinstance(value.get("rows"), int)
    ):
        raise ModelFileError(f"{path}: header field fitted.data is not a data fingerprint")
    return value


def _history_from_file(info, arrays: dict, path) -> History:
    if info is None:  # format version 1 kept no history
        return History()
    if not isinstance(info, dict) or not isinstance(info.get("columns"), list):
        raise ModelFileError(f"{path}: header field 'history' must hold a list of columns")
    log_every = header_int(info.get("log_every"), "history.log_every", 1)
    max_records = header_int(info.get("max_records"), "history.max_records", 2)
    columns = {}
    sizes = set()
    for i, key in enumerate(info["columns"]):
        a = arrays.get(f"history/{i}")
        if not isinstance(key, str) or a is None or a.ndim != 1 or a.dtype.kind not in "iuf":
            raise ModelFileError(f"{path}: history column {i} ({key!r}) is missing or malformed")
        columns[key] = a
        sizes.add(len(a))
    if len(sizes) > 1 or (sizes and sizes.pop() > max_records):
        raise ModelFileError(f"{path}: history columns differ in length or exceed the bound")
    return History.from_arrays(
        {"log_every": log_every, "max_records": max_records, "columns": list(columns)}, columns
    )
