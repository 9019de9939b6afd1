"""Flat buffers: many arrays as views into one contiguous array.

A network's parameters ``[W_1, b_1, ..., W_L, b_L]`` live in one 1-D array,
and so do its gradients and each slot of its optimizer state, all with the
same layout. Whole-network operations (an optimizer update, a gradient
norm, an all-reduce) then run as one large call on the flat array instead of
one small call per parameter, and the per-parameter views keep the familiar
list structure for everything else.

:class:`Scratch` is the same idea for the work arrays of a training step
(activations, masks, backward sweeps): handed out again, in the same order,
at every step, so that a step allocates no new memory. Fresh memory costs
more than it seems: the C library returns freed blocks of this size to the
system, and every new one then page-faults on first touch (measured here:
about a third of a critic step's time at hidden 128). Its arrays are
NumPy's: the engine asks for them through :func:`wgangp.backend.work`, which
lets another namespace (CuPy, torch) allocate its own.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .backend import NUMPY, copy_into, namespace, to_numpy

__all__ = ["Scratch", "ViewList", "flat_of", "flat_views", "moved", "pack", "views_of"]


class ViewList(list):
    """A list of arrays that are views into one contiguous 1-D array, ``flat``.

    It is an ordinary list for reading; assigning an item copies the value
    into the existing view (shape must match), so the views never detach
    from ``flat``:

    >>> flat, views = flat_views([(2, 2), (2,)], np.float64)
    >>> views[1] = [5.0, 6.0]
    >>> flat.tolist()
    [0.0, 0.0, 0.0, 0.0, 5.0, 6.0]
    >>> views[0][...] = 1.0
    >>> flat.tolist()
    [1.0, 1.0, 1.0, 1.0, 5.0, 6.0]
    """

    __slots__ = ("flat",)

    def __init__(self, flat: np.ndarray, views: Sequence[np.ndarray]):
        super().__init__(views)
        self.flat = flat

    def __reduce__(self):
        # a copy or a pickle keeps the views views: of the copied flat array
        return views_of, (self.flat, [tuple(v.shape) for v in self])

    def __setitem__(self, index, value):
        xp = namespace(self.flat)
        if isinstance(index, slice):
            for view, v in zip(self[index], value):
                copy_into(xp, view, v)
        else:
            copy_into(xp, self[index], value)


def flat_views(
    shapes: Sequence[tuple[int, ...]], dtype, backend=NUMPY
) -> tuple[np.ndarray, ViewList]:
    """A zeroed flat array (on ``backend``, NumPy by default) and its views of the
    given ``shapes``, in order."""
    sizes = [int(np.prod(s, dtype=np.int64)) for s in shapes]
    flat = backend.zeros((sum(sizes),), dtype)
    return flat, views_of(flat, shapes)


def views_of(flat, shapes: Sequence[tuple[int, ...]]) -> ViewList:
    """The views of ``shapes``, in order, into the 1-D array ``flat`` (any namespace)."""
    xp = namespace(flat)
    views, offset = [], 0
    for shape in shapes:
        size = int(np.prod(shape, dtype=np.int64))
        views.append(xp.reshape(flat[offset : offset + size], tuple(shape)))
        offset += size
    return ViewList(flat, views)


def moved(views: ViewList, backend) -> ViewList:
    """``views`` on ``backend`` (a :class:`~wgangp.backend.Backend`): the same
    list when its flat array is there already, else a copy there."""
    if backend.holds(views.flat):
        return views
    flat = backend.asarray(np.array(to_numpy(views.flat), copy=True))
    return views_of(flat, [tuple(v.shape) for v in views])


def pack(arrays: Sequence[np.ndarray], dtype=None) -> ViewList:
    """A :class:`ViewList` holding copies of ``arrays`` in one new flat array."""
    arrays = [np.asarray(a) for a in arrays]
    if dtype is None:
        dtype = np.result_type(*arrays) if arrays else np.float64
    _, views = flat_views([a.shape for a in arrays], dtype)
    for view, a in zip(views, arrays):
        np.copyto(view, a)
    return views


def flat_of(arrays: Sequence[np.ndarray]) -> np.ndarray | None:
    """The flat array behind ``arrays`` when it is a :class:`ViewList`, else None."""
    return getattr(arrays, "flat", None)


class Scratch:
    """Work arrays reused from one training step to the next.

    :meth:`empty` has :func:`numpy.empty`'s signature; after :meth:`reset`
    the ``i``-th call hands out the array the ``i``-th call handed out
    before (when its shape and dtype match; otherwise a new one takes its
    place). A step that makes the same calls in the same order therefore
    reuses all of its memory. The arrays are valid until the next
    :meth:`reset`: only the owner of a ``Scratch`` resets it, at the start of
    a step, and nothing handed out may outlive the step.

    With ``pack=True`` (the estimators' training steps), a reset after a step
    that made new arrays lays them all out again in one block on huge-page
    boundaries (:func:`_packed`); from then on they are handed out as before.

    >>> scratch = Scratch()
    >>> a = scratch.empty((2, 3), np.float32)
    >>> b = scratch.empty(4, bool)
    >>> scratch.reset()
    >>> scratch.empty((2, 3), np.float32) is a, scratch.empty(4, bool) is b
    (True, True)
    """

    __slots__ = ("_arrays", "_next", "_pack", "_grown")

    def __init__(self, pack: bool = False) -> None:
        self._arrays: list[np.ndarray] = []
        self._next = 0
        self._pack = pack
        self._grown = False

    def reset(self) -> None:
        """Start handing out the arrays again from the first (laid out in one
        block first, when packing and the last step made new ones)."""
        if self._grown:
            self._grown = False
            self._arrays = _packed(self._arrays)
        self._next = 0

    def empty(self, shape, dtype=np.float64) -> np.ndarray:
        """An uninitialised array of ``shape`` and ``dtype``, reused when it can be."""
        if not isinstance(shape, tuple):
            shape = (shape,) if isinstance(shape, int) else tuple(shape)
        i = self._next
        self._next = i + 1
        arrays = self._arrays
        if i < len(arrays):
            a = arrays[i]
            if a.shape == shape and a.dtype == dtype:
                return a
            a = arrays[i] = np.empty(shape, dtype)
            self._grown = self._pack
            return a
        a = np.empty(shape, dtype)
        arrays.append(a)
        self._grown = self._pack
        return a


HUGE_PAGE = 1 << 21
"""Bytes of a huge page of the x86-64 and arm64 Linux kernels (2 MiB)."""

PACK_BYTES = 1 << 20
"""The work arrays of a :class:`Scratch` that packs are laid out in one block
from this many bytes on; smaller sets stay as they are."""


def _packed(arrays: list[np.ndarray]) -> list[np.ndarray]:
    """``arrays``' shapes and dtypes as views of one block that starts on a huge
    page boundary and ends on one (each array on a 64-byte boundary; the
    values are not kept), when they take :data:`PACK_BYTES` or more.

    NumPy asks the kernel for huge pages for an allocation of 4 MiB or more
    (``madvise``); the block's pages are then 2 MiB each, and a step's sweep
    over its arrays needs a handful of address translations instead of one
    per 4 KiB: a step that starts after other work (whose pages took the
    translation cache) starts faster. Where huge pages are off, it is one
    allocation in place of several."""
    sizes = [-(-a.nbytes // 64) * 64 for a in arrays]
    total = sum(sizes)
    if total < PACK_BYTES:
        return arrays
    pages = -(-total // HUGE_PAGE) * HUGE_PAGE
    block = np.empty(pages + HUGE_PAGE, np.uint8)  # room to start on a boundary
    offset = -block.ctypes.data % HUGE_PAGE
    packed = []
    for a, size in zip(arrays, sizes):
        view = block[offset : offset + a.nbytes].view(a.dtype).reshape(a.shape)
        packed.append(view)
        offset += size
    return packed
