"""Data-parallel training over MPI: each rank its rows, one Allreduce per optimizer step.

``fit(X, ..., comm=MPI.COMM_WORLD)`` under ``mpiexec -n P``: ``X`` is this
rank's share of the rows (the global table is the ranks' shares in rank
order). Training then gives the same model as one process fitted on all the
rows, to the rounding of the sums:

* every random draw (the minibatch permutation over all rows, the noise,
  the interpolation coefficients) is made identically on every rank, from
  one stream that starts identical everywhere, so every rank always holds
  the same random state, parameters and optimizer state, and the same
  global minibatches as a single process;
* each rank computes the losses on the rows of the minibatch it holds (the
  critic) or on its equal part of the noise rows (the generator), scaled by
  its share of the batch, so that the sum over ranks is the global batch's
  mean; the penalty is per sample, so the sum is exact;
* **one** ``Allreduce`` (sum) per optimizer step carries the gradient and the
  step's statistics (and each rank's smallest and largest input-gradient
  norm, in slots of its own) in one buffer;
* what is computed from the data at the start (the scaling's means and
  standard deviations, the data's range) is reduced over all ranks;
* an estimator whose steps need whole rows of a minibatch together (the
  table synthesizer's packs) assembles the global minibatch's real rows on
  every rank with :meth:`Shard.gather_rows` (one ``Allgatherv`` of the
  batch's rows, each rank sending those it holds), then takes its own part
  of the batch (:meth:`Shard.part`);
* a set-up step that one rank does for all (:func:`on_rank0`) sends its
  result, or its error, to every rank, so that an error there never leaves
  the other ranks waiting.

Rank 0 alone writes run folders, histories, checkpoints and reports; since
every rank's state is the same, rank 0's checkpoint resumes every rank.
``mpi4py`` (with the ``mpich`` wheel: ``pip install wgangp[mpi]``, or a
cluster's own MPI) is needed only when a communicator of more than one rank
is given.
"""

from __future__ import annotations

import math

import numpy as np

from .backend import copy_into, namespace, to_numpy
from .blocks import mean_std
from .errors import InvalidParameterTypeError, RankFailed
from .flat import flat_of

__all__ = [
    "Shard",
    "check_comm",
    "launched_comm",
    "mpi_launched",
    "on_rank0",
    "rank_bounds",
    "rank_row_groups",
    "sample_counts",
]

_MPI_RANK_VARIABLES = ("PMI_RANK", "OMPI_COMM_WORLD_RANK", "PMIX_RANK", "MV2_COMM_WORLD_RANK")
_MPI_SIZE_VARIABLES = ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "MV2_COMM_WORLD_SIZE")


def mpi_launched(environ) -> bool:
    """Whether this process was started by ``mpiexec`` with more than one rank."""
    for name in _MPI_SIZE_VARIABLES:
        value = environ.get(name)
        if value is not None and value.isdigit() and int(value) > 1:
            return True
    return False


def launched_comm(environ):
    """``MPI.COMM_WORLD`` when ``mpiexec`` started more than one rank, else None."""
    if not mpi_launched(environ):
        return None
    try:
        from mpi4py import MPI
    except ImportError:
        raise ImportError(
            "wgangp was started by mpiexec but mpi4py is missing; install it with: "
            "pip install 'wgangp[mpi]'"
        ) from None
    return MPI.COMM_WORLD


def check_comm(comm, name: str = "comm"):
    """None, or an mpi4py communicator (anything with its methods); None for one rank."""
    if comm is None:
        return None
    needed = ("Get_rank", "Get_size", "Allreduce", "allreduce", "allgather", "bcast")
    missing = [m for m in needed if not callable(getattr(comm, m, None))]
    if missing:
        raise InvalidParameterTypeError(
            f"{name}={comm!r} is not an MPI communicator (it lacks {missing}); pass "
            "mpi4py.MPI.COMM_WORLD under mpiexec, or None for one process"
        )
    return comm if comm.Get_size() > 1 else None


def on_rank0(comm, compute):
    """``compute()`` run on rank 0 alone, its value broadcast to every rank.

    An exception on rank 0 is raised there as it is, and on the other ranks
    as :class:`~wgangp.errors.RankFailed` with rank 0's message, so that no
    rank waits for a value that never comes. The value travels through
    mpi4py's ``bcast`` (pickled between the job's own ranks): keep it plain
    data (dicts, lists, numbers, strings, arrays).
    """
    if comm.Get_rank() == 0:
        try:
            value = compute()
        except BaseException as exc:
            comm.bcast(("error", f"{type(exc).__name__}: {exc}"), root=0)
            raise
        comm.bcast(("ok", value), root=0)
        return value
    status, value = comm.bcast(None, root=0)
    if status == "error":
        raise RankFailed(f"rank 0 failed: {value}")
    return value


def sample_counts(counts: list[int], max_rows: int) -> list[int]:
    """How many rows each rank gives to a sample of at most ``max_rows`` rows,
    in proportion to the rows it holds (largest remainders; all rows when
    they fit).

    >>> sample_counts([3, 5], 100), sample_counts([600, 300, 100], 10)
    ([3, 5], [6, 3, 1])
    """
    total = sum(counts)
    if total <= max_rows:
        return list(counts)
    exact = np.array(counts, dtype=np.float64) * max_rows / total
    take = np.floor(exact).astype(int)
    order = np.argsort(-(exact - take), kind="stable")
    take[order[: max_rows - int(take.sum())]] += 1
    return [int(min(t, c)) for t, c in zip(take, counts)]


def rank_bounds(n_rows: int, rank: int, size: int) -> tuple[int, int]:
    """Rank ``rank``'s contiguous rows ``[start, stop)`` of ``n_rows`` split over ``size`` ranks.

    The split of :func:`numpy.array_split`: the first ``n_rows % size`` ranks
    hold one row more.

    >>> [rank_bounds(10, r, 3) for r in range(3)]
    [(0, 4), (4, 7), (7, 10)]
    """
    share, extra = divmod(n_rows, size)
    start = rank * share + min(rank, extra)
    return start, start + share + (1 if rank < extra else 0)


def rank_row_groups(group_rows, rank: int, size: int) -> tuple[int, int] | None:
    """Rank ``rank``'s contiguous row groups ``[first, stop)``, balanced by rows.

    ``group_rows`` are the row counts of a file's row groups (a Parquet
    file's, from its metadata). Rank ``r`` starts at the group boundary
    nearest to ``r / size`` of the rows, every rank holding at least one
    group. None when there are fewer groups than ranks: split by rows then
    (:func:`rank_bounds`).

    >>> rank_row_groups([100, 100, 100, 50], 0, 2), rank_row_groups([100, 100, 100, 50], 1, 2)
    ((0, 2), (2, 4))
    >>> rank_row_groups([100], 0, 2) is None
    True
    """
    counts = np.asarray(group_rows, dtype=np.int64)
    n_groups = len(counts)
    if n_groups < size:
        return None
    ends = np.concatenate([[0], np.cumsum(counts)])  # ends[k]: rows before group k
    starts = [0]
    for r in range(1, size):
        target = ends[-1] * r / size
        low, high = starts[-1] + 1, n_groups - (size - r)  # at least one group each
        candidates = np.arange(low, high + 1)
        starts.append(int(candidates[np.argmin(np.abs(ends[candidates] - target))]))
    starts.append(n_groups)
    return starts[rank], starts[rank + 1]


def rank_file_rows(group_rows, rank: int, size: int) -> tuple[int, int]:
    """Rank ``rank``'s rows ``[start, stop)`` of a file of row groups: whole groups
    (:func:`rank_row_groups`) when there are at least as many groups as ranks,
    else contiguous rows (:func:`rank_bounds`).

    >>> rank_file_rows([100, 100, 100, 50], 1, 2), rank_file_rows([100], 1, 2)
    ((200, 350), (50, 100))
    """
    groups = rank_row_groups(group_rows, rank, size)
    if groups is None:
        return rank_bounds(int(sum(group_rows)), rank, size)
    first, stop = groups
    return int(sum(group_rows[:first])), int(sum(group_rows[:stop]))


class Shard:
    """This rank's part of a data-parallel run.

    Parameters
    ----------
    comm : mpi4py communicator of more than one rank
    n_local : int
        Rows this rank holds.
    """

    def __init__(self, comm, n_local: int):
        self.comm = comm
        self.rank = comm.Get_rank()
        self.size = comm.Get_size()
        counts = comm.allgather(int(n_local))
        self.counts = counts
        self.offset = sum(counts[: self.rank])
        self.n_local = int(n_local)
        self.n_rows = sum(counts)
        self.allreduce_calls = 0
        self.gather_calls = 0
        self._buffer: np.ndarray | None = None
        self._result: np.ndarray | None = None

    # ------------------------------------------------------------ set-up --

    def sum(self, value):
        """The sum of ``value`` (a number or an array) over the ranks (set-up only)."""
        from mpi4py import MPI

        return self.comm.allreduce(value, op=MPI.SUM)

    def column_max(self, values: np.ndarray) -> np.ndarray:
        """The elementwise largest of ``values`` over the ranks (set-up only)."""
        return np.max(np.stack(self.comm.allgather(np.asarray(values))), axis=0)

    def min_max(self, low: float, high: float) -> tuple[float, float]:
        """The smallest ``low`` and the largest ``high`` over the ranks (set-up only)."""
        lows = self.comm.allgather(float(low))
        highs = self.comm.allgather(float(high))
        return min(lows), max(highs)

    def mean_std(self, X: np.ndarray, unit=1.0) -> tuple[np.ndarray, np.ndarray]:
        """Column means and (population) standard deviations of all ranks' ``X / unit``.

        Two passes, as a single process computes them (:func:`blocks.mean_std`,
        a block of rows at a time): the global mean, then the global mean of
        squared deviations from it.
        """
        return mean_std(X, unit, total=self.sum, n_rows=self.n_rows)

    def broadcast_arrays(self, arrays: list[np.ndarray]) -> None:
        """Overwrite ``arrays`` on every rank with rank 0's, in place."""
        for a in arrays:
            self.comm.Bcast(a, root=0)

    def broadcast(self, value):
        """Rank 0's ``value`` (any picklable object, set-up only) on every rank."""
        return self.comm.bcast(value, root=0)

    def allgather(self, value) -> list:
        """Every rank's ``value`` (plain data, set-up only), in rank order, on every rank."""
        return self.comm.allgather(value)

    def gather(self, value) -> list | None:
        """Every rank's ``value`` (plain data, set-up only), in rank order, on rank 0
        (None on the others)."""
        return self.comm.gather(value, root=0)

    # ------------------------------------------------------------- steps --

    def rows(self, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Of a global minibatch's row ``indices``: the positions this rank holds,
        and those rows' local indices."""
        here = (indices >= self.offset) & (indices < self.offset + self.n_local)
        positions = np.flatnonzero(here)
        return positions, indices[positions] - self.offset

    def noise_positions(self, batch: int) -> np.ndarray:
        """This rank's equal part of ``batch`` noise rows (the generator step)."""
        return np.arange(*self.part(batch))

    def part(self, n: int) -> tuple[int, int]:
        """``(start, stop)`` of this rank's equal, contiguous part of ``n`` items."""
        bounds = np.linspace(0, n, self.size + 1).round().astype(int)
        return int(bounds[self.rank]), int(bounds[self.rank + 1])

    def locate(self, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Of global row ``indices``: the rank that holds each, and its row there."""
        ends = np.cumsum(self.counts)
        owners = np.searchsorted(ends, indices, side="right")
        return owners, indices - (ends - self.counts)[owners]

    def gather_rows(self, data: np.ndarray, owners: np.ndarray, local: np.ndarray) -> np.ndarray:
        """The rows of a global minibatch, whole, on every rank: one ``Allgatherv``.

        Position ``i`` of the minibatch is row ``local[i]`` of rank
        ``owners[i]`` (``local`` is read only where ``owners`` is this rank);
        every rank knows ``owners`` (drawn identically everywhere) and sends
        the rows it holds, in position order. Rows are copied, never summed,
        so the batch is exactly the single process's ``data[indices]``.
        """
        width = data.shape[1]
        mine = owners == self.rank
        send = np.ascontiguousarray(data[local[mine]])
        counts = np.bincount(owners, minlength=self.size) * width
        received = np.empty((len(owners), width), dtype=data.dtype)
        self.comm.Allgatherv(send, [received, counts])
        self.gather_calls += 1
        batch = np.empty_like(received)
        batch[np.argsort(owners, kind="stable")] = received  # grouped by rank -> positions
        return batch

    def reduce(self, grads: list, stats: dict, holds_rows: bool = True) -> dict:
        """Sum ``grads`` (in place) and ``stats`` over the ranks: one ``Allreduce``.

        ``grads`` is a network's gradient buffer (``net.grads``, whose flat
        array goes into the message with one copy) or a plain list of arrays.

        Each rank's gradient and statistics are its part of the batch's mean
        (``batch_total`` of the losses), so their sum is the batch's.
        ``stats`` entries named ``*_min`` / ``*_max`` are reduced to the
        smallest / largest over the ranks that hold rows, through slots of
        each rank's own in the same buffer. Returns the reduced statistics.

        Off NumPy (a network on CuPy or torch, CPU or GPU) the gradient is
        staged through this host buffer: one copy of the flat gradient to
        the host, the ``Allreduce``, one copy back to the device; the
        statistics (0-d arrays on the device) are read into the same message.
        """
        keys = list(stats)
        extreme = [k for k in keys if k.endswith(("_min", "_max"))]
        summed = [k for k in keys if k not in extreme]
        flat = flat_of(grads)
        n_grad = flat.shape[0] if flat is not None else sum(math.prod(g.shape) for g in grads)
        n = n_grad + len(summed) + 2 * self.size * len(extreme)
        if self._buffer is None or self._buffer.shape[0] != n:
            self._buffer = np.zeros(n, dtype=np.float64)
            self._result = np.empty(n, dtype=np.float64)
        buf = self._buffer
        if flat is not None:
            buf[:n_grad] = flat if type(flat) is np.ndarray else to_numpy(flat)  # one copy
        else:
            pos = 0
            for g in grads:
                size = math.prod(g.shape)
                buf[pos : pos + size] = to_numpy(g).ravel()
                pos += size
        buf[n_grad:] = 0.0
        for i, k in enumerate(summed):
            buf[n_grad + i] = float(stats[k])
        base = n_grad + len(summed)
        for j, k in enumerate(extreme):
            slot = base + 2 * self.size * j + 2 * self.rank
            buf[slot] = 1.0 if holds_rows else 0.0
            buf[slot + 1] = float(stats[k]) if holds_rows else 0.0
        self.comm.Allreduce(buf, self._result)
        self.allreduce_calls += 1
        out = self._result
        if flat is not None:
            if type(flat) is np.ndarray:
                flat[...] = out[:n_grad]
            else:
                copy_into(namespace(flat), flat, out[:n_grad])
        else:
            pos = 0
            for g in grads:
                size = math.prod(g.shape)
                copy_into(namespace(g), g, out[pos : pos + size].reshape(tuple(g.shape)))
                pos += size
        reduced = {k: float(out[n_grad + i]) for i, k in enumerate(summed)}
        for j, k in enumerate(extreme):
            slots = out[base + 2 * self.size * j : base + 2 * self.size * (j + 1)].reshape(-1, 2)
            held = slots[slots[:, 0] > 0, 1]
            if held.size:
                reduced[k] = float(held.min() if k.endswith("_min") else held.max())
            else:
                reduced[k] = float("nan")
        return reduced
