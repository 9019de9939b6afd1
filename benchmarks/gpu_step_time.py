"""Seconds per WGAN-GP iteration on a GPU: wgangp on CuPy and torch-CUDA against PyTorch peers.

Usage (one command on a machine with an NVIDIA GPU; a few minutes)::

    pip install -e '.[bench,gpu]'                   # torch and CuPy for CUDA 12
    python benchmarks/gpu_step_time.py              # the three sizes, every implementation
    python benchmarks/gpu_step_time.py --json gpu.json
    python benchmarks/gpu_step_time.py --device cpu --quick   # a dry run without a GPU

One *iteration* is ``n_critic = 5`` critic steps plus one generator step of
the seed's networks (3 hidden ReLU layers, RMSProp lr 1e-4, float32, 2-D
data, latent 2), at ``h512-b256``, ``h1024-b1024`` and ``h2048-b4096``
(hidden width and batch). Implementations, each in this process, on the
same card:

* ``wgangp-cupy``: ``WGANGP(backend="cupy", device="cuda")``;
* ``wgangp-torch``: ``WGANGP(backend="torch", device="cuda")``;
* ``wgangp-torch-graph``: the same with ``cuda_graph=True`` (the critic
  step captured in a CUDA graph; see the README: untested on hardware
  until this script runs);
* ``torch-eager``: the PyTorch loop of :mod:`torch_reference` (three critic
  forwards, ``autograd.grad(create_graph=True)``), its tensors and random
  numbers on the GPU, statistics kept on the device;
* ``torch-graph``: that loop's whole iteration captured once in a
  ``torch.cuda.CUDAGraph`` and replayed (capturable optimizers): the
  strongest GPU peer. ``torch.compile`` is not used: it does not support
  the double backward of the gradient penalty.

Each is timed over ``--iters`` iterations per round (synchronised at the
end of the round), ``--repeats`` rounds after ``--warmup`` iterations; the
median s/iteration is reported. The FLOP floor is the iteration's GEMMs
(:mod:`flops`) timed one shape at a time by ``torch.matmul`` on the card.

Without CUDA the script stops at once with a message (exit code 2) unless
``--device cpu`` asks for the dry run (``wgangp-numpy``, ``wgangp-torch``
and ``torch-eager`` on the CPU, small sizes with ``--quick``).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import flops  # noqa: E402

CONFIGS = {"h512-b256": (512, 256), "h1024-b1024": (1024, 1024), "h2048-b4096": (2048, 4096)}
QUICK_CONFIGS = {"h64-b64": (64, 64)}
GPU_IMPLS = ("wgangp-cupy", "wgangp-torch", "wgangp-torch-graph", "torch-eager", "torch-graph")
CPU_IMPLS = ("wgangp-numpy", "wgangp-torch", "torch-eager")
DEPTH, DATA_DIM, LATENT_DIM, N_CRITIC, LR = 3, 2, 2, 5, 1e-4
EXIT_NO_GPU = 2


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="cuda", choices=("cuda", "cpu"), help="default: cuda")
    p.add_argument(
        "--configs", default=None, help=f"comma-separated, from {[*CONFIGS, *QUICK_CONFIGS]}"
    )
    p.add_argument("--impls", default=None, help=f"comma-separated: {GPU_IMPLS} or {CPU_IMPLS}")
    p.add_argument("--iters", type=int, default=None, help="iterations per round (default 10)")
    p.add_argument("--repeats", type=int, default=None, help="timed rounds (default 5)")
    p.add_argument("--warmup", type=int, default=3, help="untimed iterations first (default 3)")
    p.add_argument("--quick", action="store_true", help="h64-b64, 2 rounds of 2: a smoke test")
    p.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    args = p.parse_args(argv)
    if args.configs is None:
        args.configs = ",".join(QUICK_CONFIGS if args.quick else CONFIGS)
    known = {**CONFIGS, **QUICK_CONFIGS}
    args.configs = [c.strip() for c in args.configs.split(",") if c.strip()]
    for c in args.configs:
        if c not in known:
            p.error(f"--configs: {c!r} is not one of {list(known)}")
    allowed = GPU_IMPLS if args.device == "cuda" else CPU_IMPLS
    args.impls = list(allowed) if args.impls is None else args.impls.split(",")
    for name in args.impls:
        if name not in allowed:
            p.error(f"--impls: {name!r} does not run on --device {args.device}; use {allowed}")
    args.iters = args.iters or (2 if args.quick else 10)
    args.repeats = args.repeats or (2 if args.quick else 5)
    if min(args.iters, args.repeats) < 1 or args.warmup < 0:
        p.error("--iters and --repeats must be >= 1, --warmup >= 0")
    return args


def require_cuda() -> str:
    """The GPU's name, or exit at once (code 2) saying why there is none."""
    try:
        import torch
    except ImportError:
        sys.exit("gpu_step_time: torch is not installed: pip install -e '.[bench,gpu]'")
    if not torch.cuda.is_available():
        print(
            "gpu_step_time: no CUDA GPU is visible to torch on this machine "
            f"(torch {torch.__version__}, CUDA build {torch.version.cuda}); run it where "
            "a GPU is, or pass --device cpu for a dry run",
            file=sys.stderr,
        )
        sys.exit(EXIT_NO_GPU)
    return torch.cuda.get_device_name(0)


# --------------------------------------------------------------------------- #
# Implementations: each has step(n) running n iterations, and sync().         #
# --------------------------------------------------------------------------- #


def data(n_rows: int = 20000, seed: int = 0) -> np.ndarray:
    """The 8-Gaussians ring (the paper's toy set), float32."""
    rng = np.random.default_rng(seed)
    angles = np.arange(8) * np.pi / 4
    centres = np.stack([np.cos(angles), np.sin(angles)], axis=1) * 2
    X = centres[rng.integers(0, 8, n_rows)] + 0.02 * rng.standard_normal((n_rows, 2))
    return X.astype(np.float32)


class WgangpRunner:
    """``WGANGP.partial_fit(X, steps=n)`` on a backend and device."""

    def __init__(self, backend, device, hidden, batch, X, cuda_graph=False):
        import wgangp

        params = dict(
            hidden=hidden,
            depth=DEPTH,
            batch_size=batch,
            lr=LR,
            latent_dim=LATENT_DIM,
            random_state=0,
            backend=backend,
            device=device,
        )
        if cuda_graph:
            params["cuda_graph"] = True
        self.model = wgangp.WGANGP(**params)
        self.X = X
        self.model.fit(X, steps=1)

    def step(self, n: int) -> None:
        self.model.partial_fit(self.X, steps=n)

    def sync(self) -> None:
        self.model._backend.synchronize()


class TorchEager:
    """:mod:`torch_reference`'s loop with every tensor and random number on ``device``."""

    def __init__(self, device, hidden, batch, X, optimizer_kwargs=None):
        import torch

        from torch_reference import mlp

        self.torch = torch
        self.device = torch.device(device)
        torch.manual_seed(0)
        self.batch = batch
        self.generator = mlp(LATENT_DIM, DATA_DIM, hidden, DEPTH).to(self.device)
        self.critic = mlp(DATA_DIM, 1, hidden, DEPTH).to(self.device)
        kwargs = {"alpha": 0.99, "eps": 1e-8, **(optimizer_kwargs or {})}
        self.opt_g = torch.optim.RMSprop(self.generator.parameters(), lr=LR, **kwargs)
        self.opt_d = torch.optim.RMSprop(self.critic.parameters(), lr=LR, **kwargs)
        self.X = torch.as_tensor(X, device=self.device)
        self.stats = None

    def critic_step(self):
        torch, B = self.torch, self.batch
        idx = torch.randint(0, self.X.shape[0], (B,), device=self.device)
        x_real = self.X[idx]
        with torch.no_grad():
            x_fake = self.generator(torch.randn(B, LATENT_DIM, device=self.device))
        self.opt_d.zero_grad(set_to_none=True)
        d_real = self.critic(x_real).mean()
        d_fake = self.critic(x_fake).mean()
        alpha = torch.rand(B, 1, device=self.device)
        x_interp = (alpha * x_real + (1.0 - alpha) * x_fake).requires_grad_(True)
        d_interp = self.critic(x_interp)
        (grad,) = torch.autograd.grad(
            d_interp, x_interp, grad_outputs=torch.ones_like(d_interp), create_graph=True
        )
        penalty = 10.0 * ((grad.norm(2, dim=1) - 1.0) ** 2).mean()
        loss = d_fake - d_real + penalty
        loss.backward()
        self.opt_d.step()
        return loss.detach()

    def generator_step(self):
        for p in self.critic.parameters():
            p.requires_grad_(False)
        self.opt_g.zero_grad(set_to_none=True)
        z = self.torch.randn(self.batch, LATENT_DIM, device=self.device)
        loss = -self.critic(self.generator(z)).mean()
        loss.backward()
        self.opt_g.step()
        for p in self.critic.parameters():
            p.requires_grad_(True)
        return loss.detach()

    def iteration(self):
        for _ in range(N_CRITIC):
            critic_loss = self.critic_step()
        self.stats = (critic_loss, self.generator_step())  # on the device, never read

    def step(self, n: int) -> None:
        for _ in range(n):
            self.iteration()

    def sync(self) -> None:
        if self.device.type == "cuda":
            self.torch.cuda.synchronize()


class TorchGraph(TorchEager):
    """The eager loop's whole iteration captured once in a CUDA graph, then replayed."""

    def __init__(self, device, hidden, batch, X):
        super().__init__(device, hidden, batch, X, {"capturable": True})
        torch = self.torch
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):  # warm-up outside the graph, as the recipe asks
            for _ in range(3):
                self.iteration()
        torch.cuda.current_stream().wait_stream(side)
        self.graph = torch.cuda.CUDAGraph()
        self.opt_d.zero_grad(set_to_none=True)
        self.opt_g.zero_grad(set_to_none=True)
        with torch.cuda.graph(self.graph):
            self.iteration()

    def step(self, n: int) -> None:
        for _ in range(n):
            self.graph.replay()


def build(name, device, hidden, batch, X):
    if name == "wgangp-numpy":
        return WgangpRunner("numpy", "cpu", hidden, batch, X)
    if name == "wgangp-cupy":
        return WgangpRunner("cupy", device, hidden, batch, X)
    if name == "wgangp-torch":
        return WgangpRunner("torch", device, hidden, batch, X)
    if name == "wgangp-torch-graph":
        return WgangpRunner("torch", device, hidden, batch, X, cuda_graph=True)
    if name == "torch-eager":
        return TorchEager(device, hidden, batch, X)
    if name == "torch-graph":
        return TorchGraph(device, hidden, batch, X)
    raise ValueError(name)


def time_runner(runner, args) -> float:
    """Median seconds per iteration over the rounds."""
    if args.warmup:
        runner.step(args.warmup)
    runner.sync()
    per_iteration = []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        runner.step(args.iters)
        runner.sync()
        per_iteration.append((time.perf_counter() - t0) / args.iters)
    return statistics.median(per_iteration)


def floor_seconds(device: str, hidden: int, batch: int, repeats: int = 10) -> float:
    """The iteration's GEMMs, one distinct shape at a time, by torch.matmul on ``device``."""
    import torch

    dev = torch.device(device)
    gemms = flops.iteration_gemms(DATA_DIM, LATENT_DIM, hidden, DEPTH, batch, N_CRITIC)
    total = 0.0
    for (m, k, n, layout), count in flops._distinct(gemms).items():
        a = torch.randn((k, m) if layout == "tn" else (m, k), device=dev)
        b = torch.randn((n, k) if layout == "nt" else (k, n), device=dev)
        a = a.T if layout == "tn" else a
        b = b.T if layout == "nt" else b
        out = torch.empty((m, n), device=dev)
        torch.matmul(a, b, out=out)
        times = []
        for _ in range(repeats):
            if dev.type == "cuda":
                torch.cuda.synchronize()
            t0 = time.perf_counter()
            for _ in range(20):
                torch.matmul(a, b, out=out)
            if dev.type == "cuda":
                torch.cuda.synchronize()
            times.append((time.perf_counter() - t0) / 20)
        total += count * statistics.median(times)
    return total


def environment(args, gpu: str | None) -> dict:
    import torch

    env = {
        "device": args.device,
        "gpu": gpu,
        "torch": torch.__version__,
        "numpy": np.__version__,
        "cpu_count": os.cpu_count(),
        "load_average": os.getloadavg(),
    }
    try:
        import cupy

        env["cupy"] = cupy.__version__
    except ImportError:
        env["cupy"] = None
    if gpu is not None:
        try:
            env["nvidia_smi"] = subprocess.run(
                ["nvidia-smi", "--query-gpu=name,driver_version,clocks.max.sm", "--format=csv"],
                capture_output=True,
                text=True,
                timeout=20,
            ).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            env["nvidia_smi"] = None
    return env


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    gpu = require_cuda() if args.device == "cuda" else None
    import torch

    if args.device == "cpu":  # the dry run: one thread for every library, as wgangp's small nets
        torch.set_num_threads(1)

    torch.set_float32_matmul_precision("highest")  # float32 GEMMs, no TF32, for all alike
    X = data()
    known = {**CONFIGS, **QUICK_CONFIGS}
    env = environment(args, gpu)
    where = f"{args.device} ({gpu})" if gpu else args.device
    print(f"# device {where}; load average {env['load_average']}")
    results = []
    for cfg in args.configs:
        hidden, batch = known[cfg]
        gflop = flops.iteration_flops(DATA_DIM, LATENT_DIM, hidden, DEPTH, batch, N_CRITIC) / 1e9
        floor = floor_seconds(args.device, hidden, batch)
        row = {"config": cfg, "gflop": gflop, "floor_s": floor, "s_per_iteration": {}, "errors": {}}
        for name in args.impls:
            try:
                seconds = time_runner(build(name, args.device, hidden, batch, X), args)
            except Exception as exc:  # one implementation failing must not stop the others
                row["errors"][name] = f"{type(exc).__name__}: {exc}"
                print(f"{cfg:12s} {name:20s} failed: {row['errors'][name]}", flush=True)
                continue
            row["s_per_iteration"][name] = seconds
            print(
                f"{cfg:12s} {name:20s} {seconds:.5f} s/it  {seconds / floor:6.2f}x floor",
                flush=True,
            )
        print(f"{cfg:12s} {'floor':20s} {floor:.5f} s/it  ({gflop:.1f} GFLOP/iteration)")
        results.append(row)
    env["load_average_end"] = os.getloadavg()
    if args.json:
        Path(args.json).write_text(json.dumps({"environment": env, "results": results}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
