"""Peak memory of ``wgangp train`` on a large Parquet file: one process against each MPI rank.

Usage::

    python benchmarks/large_file.py               # 5,000,000 x 20
    python benchmarks/large_file.py --rows 200000 --steps 2   # a quick look

Writes a ``--rows`` x ``--columns`` float64 Parquet file of standard normal
values in row groups of ``--row-group`` rows (in a temporary folder, deleted
at the end), then runs the same ``wgangp train --data FILE.parquet --steps N``
four times, each with one BLAS thread:

* (a) one process, which reads the whole file;
* (b) ``mpiexec -n 2``, where each rank reads its own row groups
  (:func:`wgangp.data.rank_rows`) and trains on them (one Allreduce per
  optimizer step);
* (c) one process with ``--stream``, which reads the file a window of
  ``--window-rows`` rows at a time (:class:`wgangp.data.RowStream`);
* (d) ``mpiexec -n 2`` with ``--stream``: each rank streams its own row groups.

Every process reports its own peak resident memory: ``VmHWM`` of
``/proc/self/status`` on Linux (``ru_maxrss`` of ``resource.getrusage``
elsewhere; Linux keeps ``ru_maxrss`` across ``exec``, so a process started
by a larger one would report its parent's size). A third run, one process on a 1,000-row file,
gives what a process needs without the data (interpreter, NumPy, pyarrow,
the networks), to tell the part that grows with the rows. The script prints
the peaks, the ratio of each rank's peak to the single process's, and the
load average.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

CHILD = r"""
import os, resource, sys
from wgangp.cli import main
code = main(sys.argv[1:])
rank = os.environ.get("PMI_RANK", os.environ.get("OMPI_COMM_WORLD_RANK", "0"))
# Linux keeps ru_maxrss across exec: a child started by a larger parent would report the
# parent's size. VmHWM, the peak of this process's own memory map, starts afresh at exec.
try:
    with open("/proc/self/status") as status:
        peak_kib = next(int(x.split()[1]) for x in status if x.startswith("VmHWM:"))
except (OSError, StopIteration):
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(f"PEAK rank={rank} kib={peak_kib}", flush=True)
sys.exit(code)
"""


def write_parquet(path: Path, rows: int, columns: int, row_group: int, seed: int = 0) -> None:
    """``rows`` x ``columns`` standard normal float64 values, written one row group at a time."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    names = [f"x{j}" for j in range(columns)]
    schema = pa.schema([(name, pa.float64()) for name in names])
    with pq.ParquetWriter(path, schema, compression="none") as writer:
        for start in range(0, rows, row_group):
            block = rng.standard_normal((min(row_group, rows - start), columns))
            table = pa.table({name: block[:, j] for j, name in enumerate(names)}, schema=schema)
            writer.write_table(table, row_group_size=row_group)


def run(command: list[str], env: dict) -> tuple[dict[str, int], float]:
    """Run ``command``; the peak RSS (bytes) that each process printed, and the wall time."""
    start = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        sys.exit(f"{' '.join(command[:4])} ... failed:\n{result.stderr[-3000:]}")
    peaks = {}
    for line in result.stdout.splitlines():
        if line.startswith("PEAK "):
            fields = dict(part.split("=") for part in line.split()[1:])
            peaks[fields["rank"]] = int(fields["kib"]) * 1024  # Linux reports KiB
    return peaks, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--columns", type=int, default=20)
    parser.add_argument("--row-group", type=int, default=250_000)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--ranks", type=int, default=2)
    parser.add_argument(
        "--window-rows", type=int, default=None, help="of the --stream runs (default: wgangp's)"
    )
    args = parser.parse_args()

    mpiexec = shutil.which("mpiexec", path=str(Path(sys.executable).parent)) or shutil.which(
        "mpiexec"
    )
    if mpiexec is None:
        sys.exit("no mpiexec: pip install 'wgangp[mpi]' brings MPICH's")
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    src = Path(__file__).resolve().parents[1] / "src"
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(src), env.get("PYTHONPATH")]))
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        big, small = folder / "big.parquet", folder / "small.parquet"
        started = time.perf_counter()
        write_parquet(big, args.rows, args.columns, args.row_group)
        write_parquet(small, 1000, args.columns, 1000)
        size_mb = big.stat().st_size / 1e6
        print(
            f"file: {args.rows} rows x {args.columns} float64 columns, "
            f"{-(-args.rows // args.row_group)} row groups, {size_mb:.0f} MB "
            f"(written in {time.perf_counter() - started:.0f} s)"
        )

        def train(data: Path, out: str, stream: bool = False) -> list[str]:
            flags = ["--stream"] if stream else []
            if stream and args.window_rows:
                flags += ["--window-rows", str(args.window_rows)]
            return [
                sys.executable,
                "-c",
                CHILD,
                "train",
                "--data",
                str(data),
                "--steps",
                str(args.steps),
                "--hidden",
                str(args.hidden),
                "--threads",
                "1",
                "--no-report",
                "--out",
                str(folder / out),
                *flags,
            ]

        base, base_s = run(train(small, "base"), env)
        single, single_s = run(train(big, "single"), env)
        ranks, ranks_s = run([mpiexec, "-n", str(args.ranks), *train(big, "ranks")], env)
        streamed, streamed_s = run(train(big, "streamed", stream=True), env)
        launched = [mpiexec, "-n", str(args.ranks), *train(big, "ranks-streamed", stream=True)]
        ranks_streamed, ranks_streamed_s = run(launched, env)

    mib = 2**20
    one = single["0"]
    floor = base["0"]
    print(f"training: {args.steps} iterations, hidden {args.hidden}, one BLAS thread per process")
    print("| run | process | peak RSS (MiB) | above the 1,000-row run (MiB) | of (a) | wall s |")
    print("| --- | --- | ---: | ---: | ---: | ---: |")
    print(f"| 1,000 rows | 1 process | {floor / mib:.0f} | 0 | | {base_s:.0f} |")
    runs = [
        ("(a) whole file", "1 process", one, single_s),
        *[
            (f"(b) mpiexec -n {args.ranks}", f"rank {r}", ranks[r], ranks_s)
            for r in sorted(ranks, key=int)
        ],
        ("(c) --stream", "1 process", streamed["0"], streamed_s),
        *[
            (
                f"(d) mpiexec -n {args.ranks} --stream",
                f"rank {r}",
                ranks_streamed[r],
                ranks_streamed_s,
            )
            for r in sorted(ranks_streamed, key=int)
        ],
    ]
    for label, process, peak, seconds in runs:
        print(
            f"| {label} | {process} | {peak / mib:.0f} | {(peak - floor) / mib:.0f} | "
            f"{peak / one:.2f} | {seconds:.0f} |"
        )
    for label, peaks in (("rank", ranks), ("streamed rank", ranks_streamed)):
        worst = max(peaks.values())
        print(
            f"largest {label} / one process reading the whole file: {worst / one:.3f} "
            f"(target: under 0.5); above the 1,000-row run: {(worst - floor) / (one - floor):.3f}"
        )
    print(
        f"largest streamed rank / one streamed process: "
        f"{max(ranks_streamed.values()) / streamed['0']:.3f}"
    )
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
