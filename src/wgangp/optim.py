"""Optimizers with plain-data state, updating parameters in place.

PyTorch style: an optimizer object holds its hyperparameters and its state
(a dict of plain arrays built by :meth:`Optimizer.init`) and
:meth:`Optimizer.step` updates the parameters in place. The state is plain
data, never hidden in closures, so :meth:`Optimizer.state_dict` /
:meth:`Optimizer.load_state_dict` round-trip through a model file exactly.

Flat buffers (:mod:`wgangp.flat`): each state slot is one flat array with a
list of views aligned with the parameters. When :meth:`Optimizer.step` is
given a network's parameters and gradients as :class:`~wgangp.flat.ViewList`
(``net.params`` and the gradients of :mod:`wgangp.losses`), it updates the
whole network with one NumPy call per operation on the flat arrays, in
blocks that stay in the CPU cache; given plain lists it runs the same
operations array by array. Both give the same numbers.

======================  ===============================================
name                    what
======================  ===============================================
``"rmsprop"``           RMSProp, lr 1e-4, rho 0.99 (the recipe's default)
``"adam"``              Adam, lr 1e-4, betas (0, 0.9) (paper, Algorithm 1)
``"adam-toy"``          Adam, lr 1e-4, betas (0.5, 0.9) (paper's toy code)
``"sgd"``               SGD with momentum 0.9
======================  ===============================================
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from .backend import empty, into, kernel, namespace, to_numpy
from .errors import InvalidParameterError, InvalidParameterTypeError
from .flat import flat_of, flat_views, moved, pack, views_of
from .validation import check_float

BLOCK = 32768
"""Elements per block of a flat update: each operation runs over one block at a
time, so a block's arrays (gradient, state, parameters, work) stay in the L2
cache across the operations instead of streaming from memory once per pass."""


class Optimizer:
    """Base class: hyperparameters in the constructor, state in ``self.state``.

    ``state`` is ``{"step": int, <slot name>: [array per parameter], ...}``.
    """

    name = "optimizer"
    slots: tuple[str, ...] = ()

    def __init__(self, lr: float):
        self.lr = check_float(lr, "lr", strict=True)
        self.state: dict | None = None
        self._work: np.ndarray | None = None

    def hyperparameters(self) -> dict:
        raise NotImplementedError

    def config(self) -> dict:
        """JSON-serialisable hyperparameters including the name."""
        return {"name": self.name, **self.hyperparameters()}

    def clone(self) -> Optimizer:
        """A fresh optimizer with the same hyperparameters and no state."""
        return type(self)(**self.hyperparameters())

    def init(self, params: Sequence[np.ndarray]) -> dict:
        """Build zeroed state for ``params`` and keep it (each slot one flat array)."""
        self.state = {"step": 0}
        shapes = [tuple(p.shape) if hasattr(p, "shape") else np.shape(p) for p in params]
        flat = flat_of(params)
        for slot in self.slots:
            if flat is not None:  # in the parameters' namespace and on their device
                self.state[slot] = views_of(namespace(flat).zeros_like(flat), shapes)
            else:
                dtype = np.result_type(*params) if len(params) else np.float64
                self.state[slot] = flat_views(shapes, dtype)[1]
        self._work = None
        return self.state

    def to(self, backend) -> None:
        """Move the state to ``backend`` (a :class:`wgangp.backend.Backend`), where
        the parameters went; nothing moves when it is there."""
        if self.state is not None:
            self._flat_slots()  # plain lists packed into flat ones first
            for slot in self.slots:
                self.state[slot] = moved(self.state[slot], backend)
        self._work = None

    def _work_for(self, like: np.ndarray) -> np.ndarray:
        """A reusable 1-D work array of ``like``'s dtype and at least its size (not state)."""
        work = getattr(self, "_work", None)
        if work is None or _size(work) < _size(like) or work.dtype != like.dtype:
            work = self._work = empty(namespace(like), (_size(like),), like)
        return work

    def _flat_slots(self) -> list[np.ndarray]:
        """Each slot's flat array; a slot given as plain arrays is packed first."""
        flats = []
        for slot in self.slots:
            views = self.state[slot]
            if flat_of(views) is None:
                views = self.state[slot] = pack(views)
            flats.append(views.flat)
        return flats

    def step(self, params: Sequence[np.ndarray], grads: Sequence[np.ndarray]) -> None:
        """Update ``params`` in place from ``grads`` (same structure).

        One pass per operation over the flat arrays when ``params`` and
        ``grads`` are :class:`~wgangp.flat.ViewList` of the same layout;
        otherwise array by array.
        """
        if self.state is None:
            self.init(params)
        self.state["step"] += 1
        slots = self._flat_slots()
        p_flat, g_flat = flat_of(params), flat_of(grads)
        if (
            p_flat is not None
            and g_flat is not None
            and _size(p_flat) == _size(g_flat) == _size(slots[0])
            and all(p.shape == g.shape for p, g in zip(params, grads))
        ):
            self._prepare()
            if self._fused_update(p_flat, g_flat, slots):
                return
            work = self._work_for(p_flat)
            n = _size(p_flat)
            # blocks for the CPU's cache; a GPU takes the whole buffer in one call
            block_size = BLOCK if namespace(p_flat) is np else n
            for start in range(0, n, block_size):
                block = slice(start, min(start + block_size, n))
                self._update(
                    p_flat[block],
                    g_flat[block],
                    [s[block] for s in slots],
                    work[: block.stop - block.start],
                )
            return
        self._prepare()
        slot_views = [self.state[slot] for slot in self.slots]
        for i, (p, g) in enumerate(zip(params, grads)):
            xp = namespace(p)
            work = xp.reshape(self._work_for(p)[: _size(p)], tuple(p.shape))
            self._update(p, g, [views[i] for views in slot_views], work)

    def _prepare(self) -> None:
        """Per-step constants (bias corrections) before the blocks are updated."""

    def _update(self, p: np.ndarray, g: np.ndarray, slots: list, work: np.ndarray) -> None:
        """Update ``p`` in place from ``g`` and the matching pieces of the state slots;
        ``work`` is scratch of ``p``'s shape."""
        raise NotImplementedError

    def _fused_update(self, p: np.ndarray, g: np.ndarray, slots: list) -> bool:
        """:meth:`_update` of whole flat arrays in one pass by a compiled kernel
        (:func:`wgangp.backend.kernel`), with the same numbers; False when there
        is none for them (the caller then runs :meth:`_update`)."""
        return False

    def state_dict(self) -> dict:
        """``{"step": int, slot: [arrays]}``: copies aligned with the parameters, safe to store."""
        if self.state is None:
            return {"step": 0}
        out = {"step": int(self.state["step"])}
        for slot in self.slots:
            # NumPy copies, whatever the backend (a torch CPU tensor's numpy() shares memory)
            out[slot] = [np.array(to_numpy(a), copy=True) for a in self.state[slot]]
        return out

    def load_state_dict(self, state: dict) -> None:
        """Restore what :meth:`state_dict` returned."""
        if int(state.get("step", 0)) == 0 and not any(s in state for s in self.slots):
            self.state = None
            return
        new = {"step": int(state["step"])}
        for slot in self.slots:
            if slot not in state:
                raise InvalidParameterError(f"{self.name} state lacks the slot {slot!r}")
            new[slot] = pack(state[slot])
        self.state = new

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.hyperparameters().items())
        return f"{type(self).__name__}({args})"


class RMSProp(Optimizer):
    """RMSProp.

    .. math::

        v \\leftarrow \\rho v + (1 - \\rho) g^2, \\qquad
        p \\leftarrow p - \\mathrm{lr}\\, g / (\\sqrt{v} + \\epsilon)

    Epsilon sits *outside* the square root, as in PyTorch's ``RMSprop``
    (``alpha`` there is ``rho`` here; defaults 0.99 and 1e-8 are PyTorch's).
    TensorFlow 1 also adds it outside, Keras inside (``sqrt(v + eps)``).

    Examples
    --------
    >>> p, g = np.array([1.0]), np.array([0.5])
    >>> opt = RMSProp(lr=0.1)
    >>> opt.step([p], [g])
    >>> round(float(p[0]), 6)  # 1 - 0.1 * 0.5 / (sqrt(0.01 * 0.25) + 1e-8)
    0.0
    """

    name = "rmsprop"
    slots = ("square_avg",)

    def __init__(self, lr: float = 1e-4, rho: float = 0.99, eps: float = 1e-8):
        super().__init__(lr)
        self.rho = check_float(rho, "rho", maximum=1.0)
        self.eps = check_float(eps, "eps", strict=True)

    def hyperparameters(self):
        return {"lr": self.lr, "rho": self.rho, "eps": self.eps}

    def _fused_update(self, p, g, slots):
        fused = kernel("rmsprop", p, g, *slots)
        if fused is None:
            return False
        c = p.dtype.type  # the rounding NumPy gives a Python float in _update
        fused(p, g, slots[0], c(self.rho), c(1 - self.rho), c(self.eps), c(self.lr))
        return True

    def _update(self, p, g, slots, work):
        (v,) = slots
        v *= self.rho
        into("square", g, out=work)
        work *= 1 - self.rho
        v += work
        into("sqrt", v, out=work)
        work += self.eps
        into("divide", g, work, out=work)
        work *= self.lr
        p -= work


class Adam(Optimizer):
    """Adam with bias correction.

    .. math::

        m \\leftarrow \\beta_1 m + (1-\\beta_1) g,\\quad
        v \\leftarrow \\beta_2 v + (1-\\beta_2) g^2,\\quad
        p \\leftarrow p - \\mathrm{lr}\\,
            \\frac{m / (1-\\beta_1^t)}{\\sqrt{v / (1-\\beta_2^t)} + \\epsilon}

    Epsilon sits outside the square root, as in PyTorch's ``Adam``. The
    defaults are the WGAN-GP paper's Algorithm 1: lr 1e-4, betas (0, 0.9).

    Examples
    --------
    >>> p = np.array([1.0])
    >>> Adam(lr=0.1).step([p], [np.array([2.0])])  # first step moves by ~lr
    >>> round(float(p[0]), 6)
    0.9
    """

    name = "adam"
    slots = ("exp_avg", "exp_avg_sq")

    def __init__(
        self, lr: float = 1e-4, betas: tuple[float, float] = (0.0, 0.9), eps: float = 1e-8
    ):
        super().__init__(lr)
        try:
            b1, b2 = betas
        except (TypeError, ValueError):
            raise InvalidParameterTypeError(f"betas={betas!r} must be a pair of floats") from None
        self.betas = (
            check_float(b1, "betas[0]", maximum=1.0),
            check_float(b2, "betas[1]", maximum=1.0),
        )
        self.eps = check_float(eps, "eps", strict=True)

    def hyperparameters(self):
        return {"lr": self.lr, "betas": list(self.betas), "eps": self.eps}

    def _prepare(self):
        b1, b2 = self.betas
        t = self.state["step"]
        self._step_size = self.lr / (1 - b1**t)
        self._v_scale = 1 / (1 - b2**t)

    def _fused_update(self, p, g, slots):
        fused = kernel("adam", p, g, *slots)
        if fused is None:
            return False
        (b1, b2), c = self.betas, p.dtype.type
        m, v = slots
        fused(p, g, m, v, c(b1), c(1 - b1), c(b2), c(1 - b2), c(self._v_scale), c(self.eps),
              c(self._step_size))  # fmt: skip
        return True

    def _update(self, p, g, slots, work):
        b1, b2 = self.betas
        m, v = slots
        m *= b1
        into("multiply", g, 1 - b1, out=work)
        m += work
        v *= b2
        into("square", g, out=work)
        work *= 1 - b2
        v += work
        into("multiply", v, self._v_scale, out=work)
        into("sqrt", work, out=work)
        work += self.eps
        into("divide", m, work, out=work)
        work *= self._step_size
        p -= work


class SGD(Optimizer):
    """SGD with (heavy-ball) momentum, PyTorch's convention.

    .. math::

        b \\leftarrow \\mu b + g, \\qquad p \\leftarrow p - \\mathrm{lr}\\, b

    Examples
    --------
    >>> p = np.array([1.0])
    >>> opt = SGD(lr=0.1, momentum=0.5)
    >>> opt.step([p], [np.array([1.0])]); opt.step([p], [np.array([1.0])])
    >>> round(float(p[0]), 6)  # 1 - 0.1 * 1 - 0.1 * 1.5
    0.75
    """

    name = "sgd"
    slots = ("momentum_buffer",)

    def __init__(self, lr: float = 1e-4, momentum: float = 0.9):
        super().__init__(lr)
        self.momentum = check_float(momentum, "momentum", maximum=1.0)

    def hyperparameters(self):
        return {"lr": self.lr, "momentum": self.momentum}

    def _fused_update(self, p, g, slots):
        fused = kernel("sgd", p, g, *slots)
        if fused is None:
            return False
        c = p.dtype.type
        fused(p, g, slots[0], c(self.momentum), c(self.lr))
        return True

    def _update(self, p, g, slots, work):
        (buf,) = slots
        buf *= self.momentum
        buf += g
        into("multiply", buf, self.lr, out=work)
        p -= work


def _size(a) -> int:
    """Elements of an array of any namespace (torch's ``size`` is a method)."""
    return a.size if type(a) is np.ndarray else math.prod(a.shape)


OPTIMIZER_NAMES = ("rmsprop", "adam", "adam-toy", "sgd")


def get_optimizer(spec, lr: float = 1e-4) -> Optimizer:
    """An optimizer from a name (``OPTIMIZER_NAMES``), a config dict, or an instance.

    An instance is cloned (same hyperparameters, fresh state), so the
    generator and the critic never share moments.

    >>> get_optimizer("adam-toy", lr=2e-4)
    Adam(lr=0.0002, betas=[0.5, 0.9], eps=1e-08)
    """
    if isinstance(spec, Optimizer):
        return spec.clone()
    if isinstance(spec, dict):
        cfg = dict(spec)
        name = cfg.pop("name", None)
        classes = {"rmsprop": RMSProp, "adam": Adam, "sgd": SGD}
        if name not in classes:
            raise InvalidParameterError(
                f"optimizer name {name!r} is not known; choose one of {sorted(classes)}"
            )
        if "betas" in cfg:
            cfg["betas"] = tuple(cfg["betas"])
        return classes[name](**cfg)
    if not isinstance(spec, str):
        raise InvalidParameterTypeError(
            f"optimizer={spec!r} has type {type(spec).__name__}; "
            f"use one of {OPTIMIZER_NAMES} or an Optimizer instance"
        )
    if spec == "rmsprop":
        return RMSProp(lr=lr)
    if spec == "adam":
        return Adam(lr=lr, betas=(0.0, 0.9))
    if spec == "adam-toy":
        return Adam(lr=lr, betas=(0.5, 0.9))
    if spec == "sgd":
        return SGD(lr=lr)
    raise InvalidParameterError(f"optimizer={spec!r} is not known; choose one of {OPTIMIZER_NAMES}")
