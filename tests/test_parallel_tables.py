"""The table synthesizer and the table commands under ``mpiexec -n 2``.

Each test launches two ranks (the MPICH wheel of ``wgangp[mpi]``) that each
hold a share of a small table, and compares with one process holding it all.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import wgangp
from mpi_ranks import COUNTING, env, mpiexec
from wgangp.parallel import Shard, sample_counts

pd = pytest.importorskip("pandas")

FIT = (
    r"""
import sys
import numpy as np
import pandas as pd
from mpi4py import MPI
from wgangp.tabular import TabularSynthesizer
"""
    + COUNTING
    + r"""
comm = Counting(MPI.COMM_WORLD)
table = pd.read_csv(sys.argv[1])
rows = np.array_split(np.arange(len(table)), comm.Get_size())[comm.Get_rank()]
synth = TabularSynthesizer(
    hidden=16, critic_hidden=16, batch_size=40, pac=4, n_critic=2,
    conditional=sys.argv[4] == "conditional", dtype=np.float64, random_state=0,
)
synth.fit(table.iloc[rows].reset_index(drop=True), steps=int(sys.argv[3]), comm=comm)
line = f"rank {comm.Get_rank()} calls {comm.allreduce_calls} {comm.gather_calls}"
lines = comm.gather(line, root=0)  # rank 0 prints all: ranks' output could interleave
if comm.Get_rank() == 0:
    print("\n".join(lines), flush=True)
    synth.save(sys.argv[2])
"""
)

SAMPLED = r"""
import numpy as np
import pandas as pd
from mpi4py import MPI
from wgangp.parallel import Shard
from wgangp.tabular import transformer

comm = MPI.COMM_WORLD
rank = comm.Get_rank()
rng = np.random.default_rng(rank)
n = 300 if rank == 0 else 100
table = pd.DataFrame({
    "x": rng.normal(size=n) + 10 * rank,  # rank 1's values lie far above rank 0's
    "k": rng.choice(["a", "b"] if rank == 0 else ["c"], n),  # "c" on rank 1 alone
})
if rank == 1:
    table.loc[3, "x"] = np.nan  # the one missing value
fitted = transformer.fit_across_ranks(
    transformer.TabularTransformer(random_state=0),
    table,
    Shard(comm, n),
    np.random.default_rng(rank),
    max_rows=40,
)
x, k = fitted.columns_
line = f"rank {rank} k {','.join(k['categories'])} x {x['min'] < 0} {x['max'] > 12} {x['has_null']}"
lines = comm.gather(line, root=0)  # rank 0 prints all: ranks' output could interleave
if rank == 0:
    print("\n".join(lines), flush=True)
"""


RESUME = r"""
import numpy as np
import pandas as pd
from mpi4py import MPI
from wgangp.tabular import TabularSynthesizer

comm = MPI.COMM_WORLD
table = pd.read_csv("t.csv")
rows = np.array_split(np.arange(len(table)), comm.Get_size())[comm.Get_rank()]
share = table.iloc[rows].reset_index(drop=True)


def make():
    return TabularSynthesizer(
        hidden=16, critic_hidden=16, batch_size=40, pac=4, dtype=np.float64, random_state=0
    )


whole = make().fit(share, steps=10, comm=comm, run_dir="run", checkpoint_every=5)
comm.Barrier()
resumed = make().fit(share, steps=5, comm=comm, resume="run/checkpoints/ckpt-00000005.npz")
same = all(np.array_equal(a, b) for a, b in zip(whole.state_arrays(), resumed.state_arrays()))
same &= whole._rng.bit_generator.state == resumed._rng.bit_generator.state
lines = comm.gather(f"rank {comm.Get_rank()} resumed {resumed.n_iter_} same {same}", root=0)
if comm.Get_rank() == 0:  # rank 0 prints all: ranks' output could interleave
    print("\n".join(lines), flush=True)
"""


def _mpiexec() -> str:
    pytest.importorskip("mpi4py")
    return mpiexec()


def _table(n: int = 90) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    table = pd.DataFrame(
        {
            "x": rng.normal(size=n),
            "y": rng.gamma(2.0, size=n),
            "k": rng.choice(["a", "b", "c"], n, p=[0.6, 0.3, 0.1]),
            "j": rng.choice([0, 1], n),
        }
    )
    table.loc[rng.random(n) < 0.1, "x"] = np.nan
    return table


def _launch(tmp_path, script: str, *args) -> subprocess.CompletedProcess:
    (tmp_path / "script.py").write_text(script)
    command = [_mpiexec(), "-n", "2", sys.executable, str(tmp_path / "script.py"), *args]
    return subprocess.run(
        command, capture_output=True, text=True, timeout=600, env=env(), cwd=tmp_path
    )


@pytest.mark.parametrize("conditional", ["conditional", "unconditional"])
def test_two_ranks_fit_the_single_process_synthesizer(tmp_path, conditional):
    """Two ranks of 45 rows each: the same transformer, parameters, optimizer state
    and random stream as one process on the 90 rows; one Allreduce per optimizer
    step and one Allgatherv (the real rows) per critic step."""
    _table().to_csv(tmp_path / "t.csv", index=False)
    steps = 15
    result = _launch(tmp_path, FIT, "t.csv", "dp.npz", str(steps), conditional)
    assert result.returncode == 0, result.stderr[-2000:]
    calls = sorted(line.split()[-2:] for line in result.stdout.splitlines() if "calls" in line)
    assert calls == [[str(steps * (2 + 1)), str(steps * 2)]] * 2

    single = wgangp.TabularSynthesizer(
        hidden=16,
        critic_hidden=16,
        batch_size=40,
        pac=4,
        n_critic=2,
        conditional=conditional == "conditional",
        dtype=np.float64,
        random_state=0,
    ).fit(pd.read_csv(tmp_path / "t.csv"), steps=steps)
    parallel = wgangp.load(tmp_path / "dp.npz")
    assert parallel.transformer_.state_dict() == single.transformer_.state_dict()
    np.testing.assert_array_equal(parallel._condition_frequencies, single._condition_frequencies)
    gap = max(np.abs(a - b).max() for a, b in zip(parallel.state_arrays(), single.state_arrays()))
    assert gap / max(np.abs(b).max() for b in single.state_arrays()) < 1e-10
    np.testing.assert_allclose(
        parallel.history_.column("critic_loss"), single.history_.column("critic_loss"), rtol=1e-8
    )
    assert parallel._rng.bit_generator.state == single._rng.bit_generator.state


def test_a_sampled_transformer_knows_every_rank_s_categories_and_bounds(tmp_path):
    """Fitted on 40 of 400 rows, rank 0 still learns the category that only rank 1
    holds, rank 1's larger values and its missing value; both ranks agree."""
    result = _launch(tmp_path, SAMPLED)
    assert result.returncode == 0, result.stderr[-2000:]
    lines = sorted(line for line in result.stdout.splitlines() if line.startswith("rank"))
    assert lines == [f"rank {r} k a,b,c x True True True" for r in (0, 1)]


def test_two_ranks_resume_the_synthesizer_bit_for_bit(tmp_path):
    """Every rank reads rank 0's checkpoint of iteration 5; 5 more iterations give
    exactly the uninterrupted 10-iteration 2-rank run, on both ranks."""
    _table().to_csv(tmp_path / "t.csv", index=False)
    result = _launch(tmp_path, RESUME)
    assert result.returncode == 0, result.stderr[-2000:]
    lines = sorted(line for line in result.stdout.splitlines() if line.startswith("rank"))
    assert lines == [f"rank {r} resumed 10 same True" for r in (0, 1)]


def test_sample_counts_are_proportional_and_bounded():
    assert sample_counts([10, 20], 100) == [10, 20]
    counts = sample_counts([700, 200, 100], 99)
    assert sum(counts) == 99 and counts == [69, 20, 10]


FAILING_RANK = r"""
import sys
from mpi4py import MPI
import wgangp.model
from wgangp.cli import main

iteration = wgangp.model.WGANGP._iteration


def failing(self, data, settings):
    if MPI.COMM_WORLD.Get_rank() == 1 and self.n_iter_ == 25:
        raise RuntimeError("injected failure on rank 1")
    return iteration(self, data, settings)


wgangp.model.WGANGP._iteration = failing
sys.exit(main(sys.argv[1:]))
"""

TRAIN = ["train", "--data", "8gaussians", "--n-rows", "2000", "--steps", "40"]
TRAIN += ["--checkpoint-every", "10", "--hidden", "16", "--dtype", "float64", "--no-report"]


def _wgangp(tmp_path, *args, ranks: int = 2) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "wgangp", *args]
    if ranks > 1:
        command = [_mpiexec(), "-n", str(ranks), *command]
    return subprocess.run(
        command, capture_output=True, text=True, timeout=600, env=env(), cwd=tmp_path
    )


def test_a_failing_rank_ends_the_job_and_resume_continues_bit_for_bit(tmp_path):
    """Rank 1 raises at iteration 26 of 40: the job ends at once with exit code 1 and
    rank 1's error (no rank left waiting); the checkpoint of iteration 20 loads;
    ``mpiexec -n 2 wgangp resume`` then gives exactly the uninterrupted 2-rank run."""
    (tmp_path / "fail.py").write_text(FAILING_RANK)
    command = [_mpiexec(), "-n", "2", sys.executable, str(tmp_path / "fail.py")]
    crashed = subprocess.run(
        [*command, *TRAIN, "--out", "crashed"],
        capture_output=True,
        text=True,
        timeout=120,  # a rank left waiting would hang until this kills the test
        env=env(),
        cwd=tmp_path,
    )
    assert crashed.returncode == 1, crashed.stderr[-2000:]
    assert "injected failure on rank 1" in crashed.stderr
    assert "rank 1 of 2 ended with exit code 1" in crashed.stderr
    checkpoints = sorted((tmp_path / "crashed" / "checkpoints").glob("ckpt-*.npz"))
    assert wgangp.load(checkpoints[-1]).n_iter_ == 20

    resumed = _wgangp(tmp_path, "resume", "crashed")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert resumed.stdout.count("resuming crashed from ckpt-00000020.npz") == 1
    full = _wgangp(tmp_path, *TRAIN, "--out", "full")
    assert full.returncode == 0, full.stderr[-2000:]
    a = wgangp.load(tmp_path / "crashed" / "model.npz")
    b = wgangp.load(tmp_path / "full" / "model.npz")
    assert a.n_iter_ == b.n_iter_ == 40
    for x, y in zip(a.state_arrays(), b.state_arrays()):
        np.testing.assert_array_equal(x, y)
    assert a._rng.bit_generator.state == b._rng.bit_generator.state


@pytest.mark.parametrize("discrete", [[], ["--discrete", "j"]])
def test_fit_table_under_mpiexec_is_the_single_process_fit(tmp_path, discrete):
    """``mpiexec -n 2 wgangp fit-table``: each rank reads only its half of the rows
    (a count column has a missing value in rank 1's half only: both ranks still read
    it as floats, as one process does), rank 0 alone writes and prints, and the model
    is the one process's (float32, to its rounding)."""
    table = _table()
    table["n"] = pd.array(np.arange(len(table)) % 4, dtype="Int64")
    table.loc[len(table) - 1, "n"] = pd.NA
    table.to_csv(tmp_path / "t.csv", index=False)
    args = ["fit-table", "t.csv", "--steps", "10", "--hidden", "16", "--batch-size", "40"]
    args += ["--seed", "0", "--no-report", *discrete]
    launched = _wgangp(tmp_path, *args, "--out", "dp")
    assert launched.returncode == 0, launched.stderr[-2000:]
    assert launched.stdout.count("model:  dp/model.npz") == 1
    assert "on 2 MPI ranks" in launched.stdout
    single = _wgangp(tmp_path, *args, "--out", "single", ranks=1)
    assert single.returncode == 0, single.stderr[-2000:]
    a, b = (
        wgangp.load(tmp_path / "dp" / "model.npz"),
        wgangp.load(tmp_path / "single" / "model.npz"),
    )
    assert a.transformer_.state_dict() == b.transformer_.state_dict()
    gap = max(np.abs(x - y).max() for x, y in zip(a.state_arrays(), b.state_arrays()))
    assert gap / max(np.abs(y).max() for y in b.state_arrays()) < 1e-4


def test_augment_under_mpiexec_writes_once_from_rank_0(tmp_path):
    table = _table(120)
    table.to_csv(tmp_path / "t.csv", index=False)
    args = ["augment", "t.csv", "--target", "k", "--rows", "20", "--steps", "5"]
    args += ["--hidden", "16", "--batch-size", "40", "-o", "aug.csv", "--save", "syn"]
    launched = _wgangp(tmp_path, *args)
    assert launched.returncode == 0, launched.stderr[-2000:]
    assert launched.stdout.count("written to aug.csv") == 1
    augmented = pd.read_csv(tmp_path / "aug.csv")
    assert len(augmented) == 120 + 20 and list(augmented.columns) == list(table.columns)
    assert wgangp.load(tmp_path / "syn" / "model.npz").n_iter_ == 5


class ThreeRanks:
    """Rank 1 of three that hold 4, 3 and 5 rows (only what Shard's set-up asks)."""

    def Get_rank(self):
        return 1

    def Get_size(self):
        return 3

    def allgather(self, value):
        return [4, 3, 5]


def test_locate_finds_each_global_row_s_rank_and_local_row():
    owners, local = Shard(ThreeRanks(), 3).locate(np.array([0, 3, 4, 6, 7, 11]))
    assert owners.tolist() == [0, 0, 1, 1, 2, 2] and local.tolist() == [0, 3, 0, 2, 0, 4]
