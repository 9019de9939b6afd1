"""Data-parallel scaling: measured on 1 and 2 ranks, and a model of the Allreduce beyond.

Usage::

    python benchmarks/scaling.py                      # about a minute on a quiet machine
    python benchmarks/scaling.py --iterations 20 --hidden 128 512

One run (this script starts ``mpiexec -n 2`` itself) prints:

1. **Measured**: the median seconds per WGAN-GP iteration (5 critic steps + 1 generator
   step; recipe networks of 3 hidden ReLU layers, RMSProp, float32, global
   batch 256, 2-D data) for 1 rank and for 2 ranks (128 + 128 rows of each
   batch), one BLAS thread per rank, at each ``--hidden``; for 2 ranks the
   share of the time spent inside ``Allreduce`` (a communicator wrapper times
   every call; the time includes waiting for the other rank; the slower
   rank's share of the whole timed run).
2. **The Allreduce model**, fitted to ``Allreduce`` of float64 arrays of
   several sizes between the 2 ranks (the fastest of the repeats: on a
   shared machine the others include waits for a descheduled rank): a ring
   allreduce over ``P`` ranks takes

       t(P, bytes) = 2 (P - 1) alpha + 2 (P - 1) / P * bytes / bandwidth

   (``alpha`` the latency of one of the ring's 2 (P - 1) steps), fitted by
   least squares on relative errors.
3. **Predicted** iterations per second and speedup over one rank at 8, 64
   and 512 ranks on a 10 and a 100 Gbit/s network: per iteration, the 6
   Allreduces of the measured message sizes through the fitted model with
   the network's bandwidth and per-step latency in place of the local ones
   (``--latency-us``: 25 us for 10 Gbit/s Ethernet, 3 us for a 100 Gbit/s
   RDMA fabric, assumed; the local fit shows the model's form holds),
   plus the compute per rank, twice: *ideal*, the one-rank time over ``P``
   (each rank's share of the global batch shrinks as 1/P), and *measured*,
   one rank's time at batch ``ceil(256 / P)`` (what a rank computes on its
   share, fixed costs per step included).

Two ranks on a 2-core machine shared with other work are indicative only:
the ranks compete with each other and with the machine's other jobs.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

SIZES = (16, 256, 4096, 32768, 262144, 1048576, 4194304)  # float64 values per Allreduce
RANKS = (8, 64, 512)
NETWORKS_GBIT = (10, 100)


class TimedComm:
    """A communicator that times its ``Allreduce`` calls and records their sizes."""

    def __init__(self, comm):
        self.comm = comm
        self.seconds = 0.0
        self.calls = 0
        self.bytes: list[int] = []

    def Allreduce(self, send, recv, *args, **kwargs):
        start = time.perf_counter()
        result = self.comm.Allreduce(send, recv, *args, **kwargs)
        self.seconds += time.perf_counter() - start
        self.calls += 1
        self.bytes.append(int(np.asarray(send).nbytes))
        return result

    def __getattr__(self, name):
        return getattr(self.comm, name)


def time_training(hidden: int, iterations: int, warmup: int, comm, batch: int = 256) -> dict:
    """Seconds per iteration of this rank (and its Allreduce time) after ``warmup``."""
    import wgangp
    from wgangp.data import toy
    from wgangp.parallel import rank_bounds

    X = toy("8gaussians", 25_600, random_state=0)
    rank, size = (0, 1) if comm is None else (comm.Get_rank(), comm.Get_size())
    start, stop = rank_bounds(len(X), rank, size)
    model = wgangp.WGANGP(hidden=hidden, depth=3, batch_size=batch, threads=1, random_state=0)
    timed = None if comm is None else TimedComm(comm)
    model.fit(X[start:stop], steps=warmup, comm=timed)
    if timed is not None:
        timed.seconds, timed.calls, timed.bytes = 0.0, 0, []
        comm.Barrier()
    started = time.perf_counter()
    model.partial_fit(X[start:stop], steps=iterations, comm=timed, log_every=1)
    seconds = time.perf_counter() - started
    # the median iteration: a busy neighbour's bursts move the mean more than the median
    per_iteration = np.asarray(model.history_.column("seconds"), dtype=float)[-iterations:]
    out = {"hidden": hidden, "ranks": size, "s_per_iter": float(np.median(per_iteration))}
    out["mean_s_per_iter"] = seconds / iterations
    if timed is not None:  # the share of the mean iteration spent in Allreduce
        out["allreduce_share"] = timed.seconds / seconds
        out["allreduce_calls_per_iter"] = timed.calls / iterations
        out["bytes_per_iter"] = sum(timed.bytes) / iterations
        out["messages"] = sorted(set(timed.bytes))
    return out


def time_allreduce(comm, repeats: int) -> list[tuple[int, float]]:
    """(bytes, seconds) of one Allreduce (sum) of float64 arrays of each size: the fastest
    of the repeats, on the slower rank."""
    out = []
    for n in SIZES:
        send, recv = np.ones(n), np.empty(n)
        reps = max(5, repeats if n <= 32768 else repeats // 10)
        times = []
        for _ in range(reps):
            comm.Barrier()
            start = time.perf_counter()
            comm.Allreduce(send, recv)
            times.append(time.perf_counter() - start)
        # the fastest call (of the slower rank): on a shared machine a rank that is
        # descheduled holds up the other, and that wait is the machine's, not the network's
        slowest = comm.allreduce(float(np.min(times)), op=_max())
        out.append((send.nbytes, slowest))
    return out


def _max():
    from mpi4py import MPI

    return MPI.MAX


def worker(args) -> None:
    """Under mpiexec: the measurements of every rank; rank 0 prints them as JSON."""
    from mpi4py import MPI

    comm = MPI.COMM_WORLD
    results = {
        "training": [time_training(h, args.iterations, args.warmup, comm) for h in args.hidden]
    }
    for row in results["training"]:  # the slowest rank's
        row["allreduce_share"] = comm.allreduce(row["allreduce_share"], op=MPI.MAX)
        row["s_per_iter"] = comm.allreduce(row["s_per_iter"], op=MPI.MAX)
    results["allreduce"] = time_allreduce(comm, args.repeats)
    if comm.Get_rank() == 0:
        print("RESULTS " + json.dumps(results), flush=True)


def fit_ring(points: list[tuple[int, float]], ranks: int = 2) -> tuple[float, float]:
    """``alpha`` (s) and bandwidth (bytes/s) of the ring model, fitted to (bytes, seconds).

    Least squares on relative errors (each equation divided by its time), so
    that the small messages fix the latency and the large ones the bandwidth.
    """
    steps = 2 * (ranks - 1)
    bytes_ = np.array([b for b, _ in points], dtype=float)
    seconds = np.array([t for _, t in points])
    design = np.column_stack([np.full_like(bytes_, steps), steps / ranks * bytes_])
    coef, *_ = np.linalg.lstsq(design / seconds[:, None], np.ones_like(seconds), rcond=None)
    alpha, per_byte = max(float(coef[0]), 0.0), max(float(coef[1]), 1e-15)
    return alpha, 1 / per_byte


def ring_seconds(ranks: int, nbytes: float, alpha: float, bandwidth: float) -> float:
    return 2 * (ranks - 1) * alpha + 2 * (ranks - 1) / ranks * nbytes / bandwidth


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--hidden", type=int, nargs="+", default=[128, 512])
    parser.add_argument("--iterations", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=200)
    parser.add_argument(
        "--latency-us",
        type=float,
        nargs=2,
        default=[25.0, 3.0],
        metavar=("AT_10", "AT_100"),
        help="latency of one ring step at 10 and at 100 Gbit/s (default 25 and 3 us)",
    )
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args)
        return

    load_start = os.getloadavg()
    single = [time_training(h, args.iterations, args.warmup, None) for h in args.hidden]
    small = {  # one rank's compute on the share of a batch that each of P ranks holds
        (h, ranks): time_training(h, args.iterations, args.warmup, None, -(-256 // ranks))
        for h in args.hidden
        for ranks in RANKS
    }
    mpiexec = shutil.which("mpiexec", path=str(Path(sys.executable).parent)) or shutil.which(
        "mpiexec"
    )
    if mpiexec is None:
        sys.exit("no mpiexec: pip install 'wgangp[mpi]' brings MPICH's")
    command = [mpiexec, "-n", "2", sys.executable, __file__, "--worker"]
    command += ["--hidden", *map(str, args.hidden), "--iterations", str(args.iterations)]
    command += ["--warmup", str(args.warmup), "--repeats", str(args.repeats)]
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    src = Path(__file__).resolve().parents[1] / "src"
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(src), env.get("PYTHONPATH")]))
    result = subprocess.run(command, capture_output=True, text=True, env=env)
    if result.returncode != 0:
        sys.exit(f"mpiexec failed:\n{result.stderr[-3000:]}")
    line = next(x for x in result.stdout.splitlines() if x.startswith("RESULTS "))
    results = json.loads(line[len("RESULTS ") :])
    double = results["training"]
    load_end = os.getloadavg()

    print("## Measured (1 BLAS thread per rank, global batch 256, float32 networks)\n")
    print(
        "| hidden | 1 rank s/iter | 2 ranks s/iter | speedup | Allreduce share (2 ranks) "
        "| Allreduces/iter | bytes/iter |"
    )
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for one, two in zip(single, double):
        share = two["allreduce_share"]
        print(
            f"| {one['hidden']} | {one['s_per_iter']:.4f} | {two['s_per_iter']:.4f} | "
            f"{one['s_per_iter'] / two['s_per_iter']:.2f} | {share:.1%} | "
            f"{two['allreduce_calls_per_iter']:.0f} | {two['bytes_per_iter'] / 1e6:.2f} MB |"
        )

    points = [(int(b), float(t)) for b, t in results["allreduce"]]
    alpha, bandwidth = fit_ring(points)
    print(
        "\n## Allreduce between the 2 ranks (float64, sum; fastest of the repeats, slower rank)\n"
    )
    print("| bytes | measured s | ring model s |")
    print("| ---: | ---: | ---: |")
    for b, t in points:
        print(f"| {b} | {t:.3g} | {ring_seconds(2, b, alpha, bandwidth):.3g} |")
    print(
        f"\nfitted: alpha = {alpha * 1e6:.2f} us per ring step, bandwidth = "
        f"{bandwidth / 1e9:.2f} GB/s (shared memory on one machine)"
    )

    latencies = dict(zip(NETWORKS_GBIT, (x * 1e-6 for x in args.latency_us)))
    print(
        "\n## Predicted (6 Allreduces per iteration of the measured sizes; ring latency "
        + ", ".join(f"{latencies[g] * 1e6:g} us at {g} Gbit/s" for g in NETWORKS_GBIT)
        + " per step)\n"
    )
    print(
        "| hidden | network | ranks | rows per rank per batch | ideal compute: it/s | speedup "
        "| measured compute: it/s | speedup | Allreduce share |"
    )
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for one, two in zip(single, double):
        compute = one["s_per_iter"]
        messages = two["bytes_per_iter"] / two["allreduce_calls_per_iter"]  # mean size
        calls = two["allreduce_calls_per_iter"]
        for gbit in NETWORKS_GBIT:
            link = gbit * 1e9 / 8
            for ranks in RANKS:
                comm = calls * ring_seconds(ranks, messages, latencies[gbit], link)
                ideal = compute / ranks + comm
                real = small[(one["hidden"], ranks)]["s_per_iter"] + comm
                print(
                    f"| {one['hidden']} | {gbit} Gbit/s | {ranks} | {256 / ranks:g} | "
                    f"{1 / ideal:.1f} | {compute / ideal:.1f} | {1 / real:.1f} | "
                    f"{compute / real:.1f} | {comm / real:.0%} |"
                )
    print(
        f"\nload average: {' '.join(f'{x:.2f}' for x in load_start)} at the start, "
        f"{' '.join(f'{x:.2f}' for x in load_end)} at the end"
    )


if __name__ == "__main__":
    main()
