"""Data-parallel training over MPI gives the single process's model, with one Allreduce a step.

Runs ``mpiexec -n 2`` (the MPICH wheel of ``wgangp[mpi]``, installed by the
test command) on two ranks that each hold half of the rows, and compares the
parameters and optimizer state with one process fitted on all the rows.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import wgangp
from mpi_ranks import COUNTING, env, mpiexec
from wgangp.parallel import Shard, check_comm, mpi_launched, rank_bounds, rank_row_groups

SCRIPT = (
    r"""
import sys
import numpy as np
import wgangp
from mpi4py import MPI
"""
    + COUNTING
    + r"""
comm = Counting(MPI.COMM_WORLD)
X = np.load(sys.argv[1])
share = np.array_split(X, comm.Get_size())[comm.Get_rank()]
steps = int(sys.argv[3])
model = wgangp.WGANGP(hidden=16, depth=2, batch_size=256, dtype=np.float64, random_state=0)
model.fit(share, steps=steps, comm=comm, run_dir=sys.argv[4], checkpoint_every=50)
lines = comm.gather(f"rank {comm.Get_rank()} allreduce {comm.allreduce_calls}", root=0)
if comm.Get_rank() == 0:  # rank 0 prints all: two ranks' output can interleave mid-line
    print("\n".join(lines), flush=True)
    model.save(sys.argv[2])
"""
)


def _run(command: list[str], cwd=None) -> subprocess.CompletedProcess:
    """Run ``command`` with this checkout's wgangp importable; it must succeed."""
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=600, env=env())
    assert done.returncode == 0, done.stderr[-2000:]
    return done


def _train_twice(tmp_path, args: list[str]):
    """``wgangp <args>`` under ``mpiexec -n 2`` (into dp/) and as one process (into
    single/): the launched run's output, and both models."""
    launched = _run(
        [mpiexec(), "-n", "2", sys.executable, "-m", "wgangp", *args, "--out", "dp"], tmp_path
    )
    _run([sys.executable, "-m", "wgangp", *args, "--out", "single"], tmp_path)
    models = [wgangp.load(tmp_path / run / "model.npz") for run in ("dp", "single")]
    return launched, *models


def _relative_gap(a, b) -> float:
    """The largest parameter difference of two models, relative to ``b``'s largest value."""
    gap = max(np.abs(x - y).max() for x, y in zip(a.state_arrays(), b.state_arrays()))
    return gap / max(np.abs(y).max() for y in b.state_arrays())


def test_two_ranks_give_the_single_process_model_with_one_allreduce_per_step(tmp_path):
    launcher = mpiexec()
    X = np.random.default_rng(0).normal(size=(600, 3)) * [1.0, 2.0, 0.5] + [0.0, 1.0, -2.0]
    np.save(tmp_path / "X.npy", X)
    (tmp_path / "dp.py").write_text(SCRIPT)
    steps = 200
    result = _run(
        [
            launcher,
            "-n",
            "2",
            sys.executable,
            str(tmp_path / "dp.py"),
            str(tmp_path / "X.npy"),
            str(tmp_path / "dp.npz"),
            str(steps),
            str(tmp_path / "run"),
        ]
    )
    counts = sorted(line.split()[-1] for line in result.stdout.splitlines() if "allreduce" in line)
    assert counts == [str(steps * (5 + 1))] * 2  # one per critic step and per generator step

    single = wgangp.WGANGP(hidden=16, depth=2, batch_size=256, dtype=np.float64, random_state=0)
    single.fit(X, steps=steps)
    parallel = wgangp.load(tmp_path / "dp.npz")
    assert _relative_gap(parallel, single) < 1e-10
    np.testing.assert_allclose(parallel.scale_mean_, single.scale_mean_, rtol=1e-12)
    np.testing.assert_allclose(
        parallel.history_.column("wasserstein"), single.history_.column("wasserstein"), rtol=1e-8
    )
    assert parallel._rng.bit_generator.state == single._rng.bit_generator.state
    # rank 0 alone wrote the run folder, and its last checkpoint resumes the run
    resumed = wgangp.WGANGP().fit(X, steps=10, resume=tmp_path / "run")
    assert resumed.n_iter_ == steps + 10


class Recorder:
    """A communicator of two ranks seen from rank ``rank``: records what is sent."""

    def __init__(self, rank: int, other_sends: np.ndarray | None = None):
        self.rank, self.sent, self.other = rank, [], other_sends

    def Get_rank(self):
        return self.rank

    def Get_size(self):
        return 2

    def allgather(self, value):
        return [value, value] if not isinstance(value, int) else [300, 300]

    def allreduce(self, value, op=None):
        return value + value

    def bcast(self, value, root=0):
        return value

    def Allreduce(self, send, recv):
        self.sent.append(send.copy())
        recv[...] = send + (self.other if self.other is not None else send)


def test_reduce_sends_one_buffer_and_keeps_min_and_max_per_rank():
    other = None
    # rank 1's buffer as it would send it: grads 1, stats 2, its extreme 0.5 / 3
    shard1 = Shard(Recorder(1), 300)
    g1 = [np.ones((2, 2)), np.ones(2)]
    shard1.reduce(g1, {"penalty": 2.0, "grad_norm_min": 0.5, "grad_norm_max": 3.0})
    other = shard1.comm.sent[0]
    shard0 = Shard(Recorder(0, other), 300)
    grads = [np.full((2, 2), 2.0), np.full(2, 2.0)]
    stats = shard0.reduce(grads, {"penalty": 1.0, "grad_norm_min": 0.7, "grad_norm_max": 2.0})
    assert len(shard0.comm.sent) == 1
    assert stats == {"penalty": 3.0, "grad_norm_min": 0.5, "grad_norm_max": 3.0}
    assert np.all(grads[0] == 3.0) and np.all(grads[1] == 3.0)


def test_rows_and_noise_are_split_by_owner():
    shard = Shard(Recorder(1), 300)  # rows 300..599 of 600
    positions, local = shard.rows(np.array([5, 310, 599, 299, 450]))
    assert positions.tolist() == [1, 2, 4] and local.tolist() == [10, 299, 150]
    assert shard.noise_positions(256).tolist() == list(range(128, 256))


def test_a_single_rank_or_no_communicator_is_one_process_and_bad_ones_are_refused():
    assert check_comm(None) is None
    with pytest.raises(TypeError, match="not an MPI communicator"):
        check_comm(object())
    assert mpi_launched({"PMI_SIZE": "2"}) and not mpi_launched({"PMI_SIZE": "1"})


def test_wgangp_train_under_mpiexec_is_the_single_process_run(tmp_path):
    """``mpiexec -n 2 wgangp train ...``: each rank its share, rank 0 writes the run."""
    args = ["train", "--data", "8gaussians", "--n-rows", "2000", "--steps", "30"]
    args += ["--hidden", "16", "--dtype", "float64", "--no-report"]
    launched, a, b = _train_twice(tmp_path, args)
    assert launched.stdout.count("model:  dp/model.npz") == 1  # rank 0 alone speaks
    assert _relative_gap(a, b) < 1e-10


def test_wgangp_train_on_a_parquet_file_under_mpiexec_reads_row_groups_per_rank(tmp_path):
    """``mpiexec -n 2 wgangp train --data X.parquet``: each rank reads its row groups;
    the model is the one process's, which read the whole file."""
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    X = np.random.default_rng(1).normal(size=(700, 3)) * [1.0, 3.0, 0.2]
    table = pa.table({name: X[:, j] for j, name in enumerate(["a", "b", "c"])})
    pq.write_table(table, tmp_path / "X.parquet", row_group_size=100)  # 7 groups: 4 + 3 rows
    args = ["train", "--data", "X.parquet", "--steps", "20", "--hidden", "16", "--depth", "2"]
    args += ["--batch-size", "64", "--dtype", "float64", "--no-report"]
    launched, a, b = _train_twice(tmp_path, args)
    assert "(700 rows x 3 columns, over 2 ranks)" in launched.stdout
    assert _relative_gap(a, b) < 1e-10
    assert a.data_fingerprint_ == b.data_fingerprint_  # summed over the ranks, never gathered
    np.testing.assert_allclose(a.scale_std_, X.std(axis=0), rtol=1e-12)


@pytest.mark.parametrize("size", [1, 2, 3, 5, 7])
def test_rank_row_groups_are_contiguous_cover_every_group_and_balance_rows(size):
    counts = [50, 10, 10, 80, 30, 30, 40]
    parts = [rank_row_groups(counts, r, size) for r in range(size)]
    assert parts[0][0] == 0 and parts[-1][1] == len(counts)
    assert all(a[1] == b[0] and a[0] < a[1] for a, b in zip(parts, parts[1:]))
    if size == 2:
        assert parts == [(0, 4), (4, 7)]  # 150 + 100 rows, the nearest to 125 + 125
    assert rank_row_groups(counts, 0, 8) is None  # fewer groups than ranks: split rows
    bounds = [rank_bounds(10, r, size) for r in range(size)]
    assert [b - a for a, b in bounds] == [len(p) for p in np.array_split(np.arange(10), size)]


def test_reduce_of_a_network_gradient_buffer_sums_the_flat_buffer_in_place():
    from wgangp.nn import MLP

    net = MLP([2, 4, 1], random_state=0, dtype=np.float64)
    net.grad_flat[...] = np.arange(net.grad_flat.size)
    shard = Shard(Recorder(0), 300)
    stats = shard.reduce(net.grads, {"loss": 1.5})
    assert len(shard.comm.sent) == 1  # gradient and statistics in one message
    np.testing.assert_array_equal(shard.comm.sent[0][: net.grad_flat.size], np.arange(17.0))
    np.testing.assert_array_equal(net.grad_flat, 2 * np.arange(17.0))  # the sum, in place
    assert all(np.shares_memory(g, net.grad_flat) for g in net.grads)
    assert stats == {"loss": 3.0}
