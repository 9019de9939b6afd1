"""Training on a file a window of row groups at a time (``RowStream``, ``WindowSampler``).

A stream reads ranges and groups of rows equal to the file's; the window
sampler visits each row at most once an epoch, never holds more than one
window, and finds its place from its step count alone, so that a streamed
fit resumes bit for bit (on one process and on two ranks, where only rank
0 writes checkpoints). The scaling and the fingerprint are the array's.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import wgangp
from mpi_ranks import COUNTING, env, mpiexec
from wgangp.cli import main
from wgangp.data import NPY_GROUP_ROWS, RowStream, rank_rows
from wgangp.errors import InvalidDataError, InvalidParameterError
from wgangp.steps import WindowSampler, sampler_from_state

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")


def _parquet(path, X, group: int):
    pq.write_table(pa.table({f"c{j}": X[:, j] for j in range(X.shape[1])}), path, group)
    return path


def _numbered(n: int, groups: int, path) -> RowStream:
    """A stream whose column 0 is the row's number, in row groups of ``groups`` rows."""
    rng = np.random.default_rng(3)
    X = np.column_stack([np.arange(n, dtype=float), rng.normal(size=n)])
    return _parquet(path, X, groups)


def test_a_stream_reads_the_files_rows_by_range_and_by_group(tmp_path):
    X = np.random.default_rng(0).normal(size=(1000, 3))
    stream = RowStream(_parquet(tmp_path / "x.parquet", X, 130), window_rows=300)
    assert stream.shape == (1000, 3) and len(stream) == 1000
    assert stream.group_rows == (130,) * 7 + (90,)
    np.testing.assert_array_equal(stream[125:400], X[125:400])  # across three groups
    np.testing.assert_array_equal(stream[:, 2], X[:, 2])
    np.testing.assert_array_equal(stream[990:5000], X[990:])
    assert stream[500:500].shape == (0, 3)
    np.testing.assert_array_equal(stream.read([7, 0]), np.concatenate([X[910:], X[:130]]))
    assert (stream.min(), stream.max()) == (X.min(), X.max()) and stream.all_finite()
    sample = stream.sample(200, seed=1)
    assert sample.shape == (200, 3)
    assert len({tuple(r) for r in sample}) == 200 and np.isin(sample[:, 0], X[:, 0]).all()
    # two ranks: whole groups each, together the file (rank_rows's split)
    parts = [RowStream(tmp_path / "x.parquet", r, 2) for r in (0, 1)]
    assert [p.shape[0] for p in parts] == [520, 480]
    for r, part in enumerate(parts):
        np.testing.assert_array_equal(part[:], rank_rows(tmp_path / "x.parquet", r, 2))


def test_a_stream_of_an_npy_file_reads_it_in_blocks_of_rows(tmp_path):
    X = np.random.default_rng(0).normal(size=(NPY_GROUP_ROWS + 10, 2)).astype(np.float32)
    np.save(tmp_path / "x.npy", X)
    stream = RowStream(tmp_path / "x.npy")
    assert stream.group_rows == (NPY_GROUP_ROWS, 10) and stream.dtype == np.float64
    np.testing.assert_array_equal(stream[NPY_GROUP_ROWS - 5 :], X[-15:])
    np.testing.assert_array_equal(stream.read([1]), X[-10:])


def test_a_stream_refuses_what_it_cannot_read(tmp_path):
    np.savetxt(tmp_path / "x.csv", np.ones((4, 2)), delimiter=",")
    with pytest.raises(InvalidParameterError, match="reads .parquet and .npy files"):
        RowStream(tmp_path / "x.csv")
    stream = RowStream(_parquet(tmp_path / "x.parquet", np.ones((10, 2)), 5))
    with pytest.raises(TypeError, match="ranges of rows"):
        stream[[1, 2]]
    with pytest.raises(TypeError, match="never one array"):
        np.asarray(stream)
    with pytest.raises(InvalidParameterError, match="window_rows"):
        RowStream(tmp_path / "x.parquet", window_rows=0)
    X = np.ones((10, 2))
    X[7, 1] = np.nan
    bad = RowStream(_parquet(tmp_path / "nan.parquet", X, 5))
    assert not bad.all_finite()
    with pytest.raises(InvalidDataError, match="NaN or infinite"):
        wgangp.WGANGP(hidden=8, depth=1, batch_size=4).fit(bad, steps=1)


def _bound(stream, batch: int, window: int, seed: int = 7, steps: int = 0) -> WindowSampler:
    sampler = WindowSampler(len(stream), batch, window, seed, steps)
    sampler.bind(stream, 0, batch)
    return sampler


def test_each_epoch_draws_every_row_at_most_once_from_one_window_at_a_time(tmp_path):
    stream = RowStream(_numbered(1000, 90, tmp_path / "n.parquet"), window_rows=250)
    batch, groups = 32, np.cumsum((0,) + stream.group_rows)
    sampler = _bound(stream, batch, 250)
    for epoch in range(2):
        windows = sampler.windows(epoch)
        assert sorted(g for w in windows for g in w) == list(range(len(stream.group_rows)))
        seen = []
        for window in windows:
            rows = sum(stream.group_rows[g] for g in window)
            assert rows >= 250 or window is windows[-1]
            members = np.concatenate([np.arange(groups[g], groups[g + 1]) for g in window])
            drawn = [sampler.next_rows()[:, 0].astype(int) for _ in range(rows // batch)]
            drawn = np.concatenate(drawn)
            assert np.isin(drawn, members).all()  # minibatches of this window's rows only
            assert rows - len(drawn) < batch  # fewer than a minibatch skipped
            seen.append(drawn)
        seen = np.concatenate(seen)
        assert len(np.unique(seen)) == len(seen)  # no row twice in an epoch
    # one window (and the group a range read keeps) at most
    assert stream.rows_held_max <= 250 + max(stream.group_rows)
    assert sampler.windows(0) != sampler.windows(1)  # a fresh order each epoch


def test_a_window_sampler_finds_its_place_from_the_step_count(tmp_path):
    stream = RowStream(_numbered(700, 60, tmp_path / "n.parquet"), window_rows=200)
    whole = _bound(stream, 24, 200)
    rows = [whole.next_rows() for _ in range(60)]  # more than two epochs
    state = _bound(stream, 24, 200, steps=0)
    for _ in range(23):
        state.next_rows()
    again = sampler_from_state(state.state(), {}, "checkpoint")
    again.bind(stream, 0, 24)
    for expected in rows[23:]:
        np.testing.assert_array_equal(again.next_rows(), expected)
    # a snapshot taken mid-window is put back by count
    snap = whole.snapshot()
    first = whole.next_rows()
    whole.restore(snap)
    np.testing.assert_array_equal(whole.next_rows(), first)
    other_rank = WindowSampler(700, 24, 200, 7)
    other_rank.bind(stream, 1, 24)
    assert not np.array_equal(other_rank.next_rows(), rows[0])  # its own orders
    with pytest.raises(InvalidDataError, match="fewer than its"):
        WindowSampler(700, 800, 200, 7).bind(stream, 0, 800)


def test_fitting_a_stream_scales_like_the_array_and_resumes_bit_for_bit(tmp_path):
    X = np.random.default_rng(1).normal(size=(1500, 3)) * [1.0, 4.0, 0.5] + [0.0, 3.0, -1.0]
    path = _parquet(tmp_path / "x.parquet", X, 200)
    params = dict(hidden=16, depth=2, batch_size=64, dtype=np.float64, random_state=0)
    streamed = wgangp.WGANGP(**params).fit(RowStream(path, window_rows=500), steps=30)
    in_memory = wgangp.WGANGP(**params).fit(X, steps=1)
    np.testing.assert_allclose(streamed.scale_mean_, in_memory.scale_mean_, rtol=1e-12)
    np.testing.assert_allclose(streamed.scale_std_, in_memory.scale_std_, rtol=1e-12)
    assert streamed.data_fingerprint_ == in_memory.data_fingerprint_
    assert np.isfinite(streamed.history_.column("wasserstein")).all()

    run = tmp_path / "run"
    wgangp.WGANGP(**params).fit(
        RowStream(path, window_rows=500), steps=20, run_dir=run, checkpoint_every=10
    )
    resumed = wgangp.WGANGP().fit(RowStream(path, window_rows=500), steps=10, resume=run)
    assert resumed.n_iter_ == 30
    for a, b in zip(resumed.state_arrays(), streamed.state_arrays()):
        np.testing.assert_array_equal(a, b)
    # the same model goes on with the array in memory (a new permutation sampler)
    resumed.partial_fit(X, steps=2)
    assert resumed.n_iter_ == 32 and type(resumed._sampler).__name__ == "MinibatchSampler"
    with pytest.raises(InvalidDataError, match="columns"):
        resumed.partial_fit(RowStream(_parquet(tmp_path / "y.parquet", X[:, :2], 100)), steps=1)


def test_a_streamed_fit_reads_the_file_three_times_before_its_first_window(tmp_path, monkeypatch):
    """Finiteness, range and fingerprint in one pass, the scaling's two; the
    overflow check of the unscaled moments takes none for ordinary values."""
    X = np.random.default_rng(2).normal(size=(1200, 3))
    path = _parquet(tmp_path / "x.parquet", X, 100)
    reads = []
    plain = RowStream.read

    def counting(self, groups):
        out = plain(self, groups)
        reads.append(len(out))
        return out

    monkeypatch.setattr(RowStream, "read", counting)
    wgangp.WGANGP(hidden=8, depth=1, batch_size=64, random_state=0).fit(
        RowStream(path, window_rows=600), steps=1
    )
    passes = [n for n in reads if n == 100]  # whole row groups, one at a time, in order
    assert sum(passes) == 3 * len(X)
    assert all(n >= 600 for n in reads if n != 100)  # then windows


def test_wgangp_train_stream_trains_a_window_at_a_time_and_refuses_a_csv(tmp_path, capsys):
    X = np.random.default_rng(2).normal(size=(2000, 2))
    _parquet(tmp_path / "x.parquet", X, 300)
    np.savetxt(tmp_path / "x.csv", X, delimiter=",")
    out = tmp_path / "run"
    args = ["train", "--data", str(tmp_path / "x.parquet"), "--stream", "--window-rows", "700"]
    assert main([*args, "--steps", "4", "--hidden", "16", "--out", str(out)]) == 0
    said = capsys.readouterr().out
    assert "read 700 rows at a time" in said and (out / "report.html").is_file()
    assert "a row group at a time, before the first iteration" in said
    assert "stream = true" in (out / "config.toml").read_text()
    assert main(["resume", str(out), "--steps", "2"]) == 0
    assert wgangp.load(out / "model.npz").n_iter_ == 6
    code = main(["train", "--data", str(tmp_path / "x.csv"), "--stream", "--out", str(out) + "2"])
    assert code == 2 and "--stream reads a .parquet or .npy file" in capsys.readouterr().err


RANKS = (
    r"""
import sys
import numpy as np
import wgangp
from mpi4py import MPI
from wgangp.data import RowStream
"""
    + COUNTING
    + r"""
comm = Counting(MPI.COMM_WORLD)
rank, path, run = comm.Get_rank(), sys.argv[1], sys.argv[2]
params = dict(hidden=16, depth=2, batch_size=64, dtype=np.float64, random_state=0)
stream = RowStream(path, rank, 2, window_rows=300)
whole = wgangp.WGANGP(**params).fit(stream, steps=20, comm=comm, run_dir=run, checkpoint_every=10)
calls = comm.allreduce_calls
resumed = wgangp.WGANGP().fit(
    RowStream(path, rank, 2, window_rows=300), steps=10, comm=comm,
    resume=run + "/checkpoints/ckpt-00000010.npz",
)
same = all(np.array_equal(a, b) for a, b in zip(whole.state_arrays(), resumed.state_arrays()))
flats = comm.gather(whole.critic_.flat.copy(), root=0)
lines = comm.gather(
    f"rank {rank} rows {len(stream)} held {stream.rows_held_max} allreduce {calls} resumed {same}",
    root=0,
)
if rank == 0:
    print("\n".join(lines))
    print("ranks agree", np.array_equal(flats[0], flats[1]))
"""
)


def test_two_ranks_stream_their_own_row_groups_and_resume_bit_for_bit(tmp_path):
    launcher = mpiexec()
    X = np.random.default_rng(4).normal(size=(1600, 3))
    _parquet(tmp_path / "x.parquet", X, 100)
    (tmp_path / "ranks.py").write_text(RANKS)
    command = [launcher, "-n", "2", sys.executable, str(tmp_path / "ranks.py")]
    command += [str(tmp_path / "x.parquet"), str(tmp_path / "run")]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, env=env())
    assert done.returncode == 0, done.stderr[-2000:]
    lines = [line.split() for line in done.stdout.splitlines() if " rows " in line]
    assert len(lines) == 2
    for line in lines:
        fields = dict(zip(line[::2], line[1::2]))
        assert fields["rows"] == "800"  # its own 8 row groups
        assert int(fields["held"]) <= 300 + 100  # one window (and one group) at a time
        assert fields["allreduce"] == str(20 * (5 + 1))  # one per optimizer step
        assert fields["resumed"] == "True"  # the checkpoint of rank 0 serves both
    assert "ranks agree True" in done.stdout
    assert (tmp_path / "run" / "checkpoints").is_dir()
