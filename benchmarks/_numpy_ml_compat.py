"""Import numpy-ml 0.1.2's ``WGAN_GP`` on Python 3.10+ and time one of its iterations.

numpy-ml 0.1.2 (the last release on PyPI) does not import on Python 3.10+:
``numpy_ml/utils/data_structures.py`` says ``from collections import
Hashable``, and the ABC aliases in ``collections`` were removed in 3.10.
:func:`load_wgan_gp` copies the installed package into a temporary directory,
rewrites that import to ``from collections.abc import ...`` there (the
installed copy in site-packages is never touched), puts the copy first on
``sys.path``, imports ``numpy_ml.neural_nets.models.wgan_gp.WGAN_GP``, and
says on stdout that it did so.

What one numpy-ml iteration is, read from its source
(``numpy_ml/neural_nets/models/wgan_gp.py``):

* ``WGAN_GP.fit(X, lambda_, n_steps, batchsize, c_updates_per_epoch)`` runs
  ``n_steps`` generator iterations; each takes ``c_updates_per_epoch`` critic
  updates on the first minibatches of ``X`` in order (``minibatch(X,
  batchsize, shuffle=False)`` restarted every iteration), then one generator
  update. ``fit(X, ..., n_steps=1)`` is exactly one iteration and keeps the
  weights and optimizer state between calls (``_init_params`` runs once), so
  :class:`NumpyMLRunner` calls that, with its per-iteration print swallowed.
* Everything is float64 (``np.random.randn`` noise, float64 weights).
* The noise has the data's shape, so its latent size is always ``data_dim``.
* The optimizer string ``"RMSProp(lr=0.0001)"`` (its default) means numpy-ml's
  RMSProp with ``decay=0.9, eps=1e-7`` (epsilon outside the square root).
* Its generator never learns: ``update_generator`` calls
  ``flush_gradients("G")``, which empties the generator layers' cached
  inputs, before ``backward``, so the backward loops over nothing and every
  generator gradient stays zero (and its loss is ``-mean D`` of the *last
  critic step's* fakes, not of fresh noise). Its iteration time is thus
  ``c_updates_per_epoch`` critic steps and a generator step that does no
  GEMM; :func:`generator_learns` checks this on the installed version.
* Its critic step does more arithmetic than needed: three separate critic
  forwards, then backward passes over all three cached inputs twice (once
  for the input gradient with zero seeds on real and fake, once for the
  WGAN term with a zero seed on the interpolates), each backward recomputing
  ``X @ W + b``, and the penalty pullback recomputing it twice more.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib
import importlib.util
import io
import re
import shutil
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

_ABC_IMPORT = re.compile(
    r"^(\s*)from collections import ((?:Hashable|Iterable|Iterator|Mapping|MutableMapping"
    r"|Sequence|MutableSequence|Set|MutableSet|Callable|Container|Sized)"
    r"(?:\s*,\s*\w+)*)\s*$",
    re.MULTILINE,
)

_cache: dict[str, object] = {}


def _copy_with_fix(package_dir: Path) -> tuple[Path, list[str]]:
    """Copy ``package_dir`` to a temporary directory and fix its ABC imports there."""
    root = Path(tempfile.mkdtemp(prefix="numpy_ml_py310_"))
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    target = root / "numpy_ml"
    shutil.copytree(package_dir, target, ignore=shutil.ignore_patterns("__pycache__", "tests"))
    fixed = []
    for path in sorted(target.rglob("*.py")):
        text = path.read_text()
        new_text, n = _ABC_IMPORT.subn(r"\1from collections.abc import \2", text)
        if n:
            path.write_text(new_text)
            fixed.append(f"{path.relative_to(root)}: {n} line(s)")
    return root, fixed


def load_wgan_gp(verbose: bool = True) -> tuple[type | None, str]:
    """Import numpy-ml's ``WGAN_GP`` class, applying the import fix in a copy if needed.

    Returns ``(WGAN_GP, note)``, or ``(None, reason)`` when it cannot be
    imported. Repeated calls return the first result.
    """
    if "result" in _cache:
        return _cache["result"]  # type: ignore[return-value]
    spec = importlib.util.find_spec("numpy_ml")
    if spec is None or not spec.submodule_search_locations:
        result: tuple[type | None, str] = (None, "numpy-ml is not installed")
        if verbose:
            print(result[1], flush=True)
        _cache["result"] = result
        return result
    package_dir = Path(next(iter(spec.submodule_search_locations)))
    note = f"numpy-ml imported as installed from {package_dir}"
    source = (package_dir / "utils" / "data_structures.py").read_text()
    needs_fix = sys.version_info >= (3, 10) and _ABC_IMPORT.search(source) is not None
    if needs_fix:
        root, fixed = _copy_with_fix(package_dir)
        sys.path.insert(0, str(root))
        for name in [m for m in sys.modules if m == "numpy_ml" or m.startswith("numpy_ml.")]:
            del sys.modules[name]
        importlib.invalidate_caches()
        note = (
            "numpy-ml: applied the Python 3.10+ import fix (from collections import X -> "
            f"from collections.abc import X) in a temporary copy at {root} "
            f"[{'; '.join(fixed)}]; site-packages left untouched"
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # rl_models warns that gym is missing
            module = importlib.import_module("numpy_ml.neural_nets.models.wgan_gp")
        result = (module.WGAN_GP, note)
    except Exception as exc:  # any failure leaves the column empty, with the reason
        result = (None, f"numpy-ml does not import ({type(exc).__name__}: {exc}); {note}")
    if verbose:
        print(result[1], flush=True)
    _cache["result"] = result
    return result


def numpy_ml_optimizer(name: str = "rmsprop", lr: float = 1e-4) -> str:
    """numpy-ml's optimizer string closest to the reference's ``name``.

    numpy-ml's RMSProp has ``decay=0.9, eps=1e-7`` by default (PyTorch:
    ``alpha=0.99, eps=1e-8``); its default model optimizer,
    ``"RMSProp(lr=0.0001)"``, is kept as it is for ``"rmsprop"``.
    """
    return {
        "rmsprop": f"RMSProp(lr={lr})",
        "adam": f"Adam(lr={lr}, decay1=0.5, decay2=0.9, eps=1e-8)",
        "adam-paper": f"Adam(lr={lr}, decay1=0.0, decay2=0.9, eps=1e-8)",
    }[name]


class NumpyMLRunner:
    """numpy-ml's ``WGAN_GP`` driven one generator iteration at a time through its ``fit``.

    Parameters
    ----------
    X : array of shape (n_rows, data_dim)
        Training data; converted to float64 once. Needs at least
        ``batch_size * n_critic`` rows for ``n_critic`` full critic batches.
    hidden, batch_size, n_critic, lambda_gp :
        As in wgangp (numpy-ml's ``g_hidden``, ``batchsize``,
        ``c_updates_per_epoch``, ``lambda_``); depth is fixed at 3 there.
    optimizer : str
        A name for :func:`numpy_ml_optimizer`.
    seed : int
        numpy-ml draws from NumPy's global RNG; it is seeded here.
    """

    def __init__(
        self,
        WGAN_GP: type,
        X: np.ndarray,
        hidden: int = 512,
        batch_size: int = 256,
        n_critic: int = 5,
        lambda_gp: float = 10.0,
        optimizer: str = "rmsprop",
        lr: float = 1e-4,
        seed: int = 0,
    ) -> None:
        if len(X) < batch_size * n_critic:
            raise ValueError(
                f"numpy-ml takes its {n_critic} critic batches from the first rows of X in "
                f"order; X needs at least {batch_size * n_critic} rows, has {len(X)}"
            )
        np.random.seed(seed)
        self.X = np.ascontiguousarray(X, dtype=np.float64)
        self.kwargs = dict(
            lambda_=lambda_gp, n_steps=1, batchsize=batch_size, c_updates_per_epoch=n_critic
        )
        self.model = WGAN_GP(
            g_hidden=hidden, init="he_uniform", optimizer=numpy_ml_optimizer(optimizer, lr)
        )

    def iteration(self) -> None:
        """Exactly one generator iteration: ``n_critic`` critic updates + 1 generator update."""
        with contextlib.redirect_stdout(io.StringIO()):  # fit prints every 99th iteration
            self.model.fit(self.X, verbose=False, **self.kwargs)


def generator_learns(WGAN_GP: type, X: np.ndarray, hidden: int = 16) -> bool:
    """Whether numpy-ml's generator weights change over two iterations (0.1.2: no)."""
    runner = NumpyMLRunner(WGAN_GP, X, hidden=hidden, batch_size=32, n_critic=2)
    runner.iteration()
    before = [layer.parameters["W"].copy() for layer in runner.model.generator.values()]
    runner.iteration()
    after = [layer.parameters["W"] for layer in runner.model.generator.values()]
    return any(not np.array_equal(a, b) for a, b in zip(before, after, strict=True))


def time_iteration(
    X: np.ndarray,
    hidden: int = 512,
    batch_size: int = 256,
    n_critic: int = 5,
    lambda_gp: float = 10.0,
    repeats: int = 3,
    seed: int = 0,
) -> tuple[float | None, str]:
    """Median seconds of one numpy-ml WGAN_GP iteration, or ``(None, reason)``.

    The first iteration (which builds the networks) is not timed.
    """
    WGAN_GP, note = load_wgan_gp()
    if WGAN_GP is None:
        return None, note
    try:
        runner = NumpyMLRunner(WGAN_GP, X, hidden, batch_size, n_critic, lambda_gp, seed=seed)
        runner.iteration()
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            runner.iteration()
            times.append(time.perf_counter() - t0)
    except Exception as exc:
        return None, f"numpy-ml WGAN_GP failed to run ({type(exc).__name__}: {exc})"
    return float(np.median(times)), note


if __name__ == "__main__":
    rng = np.random.default_rng(0)
    X = rng.standard_normal((4096, 2))
    seconds, note = time_iteration(X, hidden=128, repeats=3)
    print(f"hidden 128, batch 256, 2-D: {seconds} s/iteration")
    cls, _ = load_wgan_gp(verbose=False)
    if cls is not None:
        print("generator weights change between iterations:", generator_learns(cls, X))
