"""Every estimator on every array namespace: TabularSynthesizer and Translator.

The namespaces are the ``backend`` fixture's (conftest.py): NumPy,
array-api-strict and torch-CPU here; CuPy and CUDA skip with the reason
where there is no GPU. Gradients of the synthesizer's and the translator's
own losses (heads, Gumbel-softmax, condition loss, dropout, packing; cycle,
identity, pairs, table head) against central finite differences in
float64, a short fit that resumes bit for bit, models that load and run on
NumPy whatever trained them, the CLI flags, MPI over a staged gradient,
and the refusals.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import wgangp
from conftest import max_relative_error, numerical_grads, randomize_biases
from mpi_ranks import COUNTING, env, mpiexec
from wgangp import backend as bk
from wgangp.cycle import translator_generator_loss
from wgangp.errors import DeviceUnavailableError
from wgangp.nn import MLP, Dropout
from wgangp.tabular import heads
from wgangp.tabular.domains import TableHead

pd = pytest.importorskip("pandas")

# Two scalars (tanh) and two one-hot blocks, both conditioned.
OUTPUT_INFO = [
    {"kind": "tanh", "start": 0, "width": 1},
    {"kind": "softmax", "start": 1, "width": 3},
    {"kind": "tanh", "start": 4, "width": 1},
    {"kind": "softmax", "start": 5, "width": 2},
]
COND_BLOCKS = [(1, 0, 3), (5, 3, 2)]
WIDTH, COND, LATENT, PAC = 7, 5, 3, 2


def _conditions(rng, rows):
    """One conditioned block per row (as training-by-sampling draws them)."""
    cond = np.zeros((rows, COND))
    for i in range(rows):
        _, c_start, width = COND_BLOCKS[i % 2]
        cond[i, c_start + rng.integers(width)] = 1.0
    return cond


def _dropout_critic(rng, inner):
    critic = randomize_biases(
        MLP([PAC * (WIDTH + COND), 6, 5, 1], activation=inner, random_state=1, dtype=np.float64),
        rng,
    )
    critic.activations[0] = Dropout(inner, 0.3)
    return critic


def _with_masks(critic, backend, masks):
    """``critic`` on ``backend`` with its own dropout layer holding ``masks`` there."""
    moved = critic.astype(np.float64).to(backend)
    moved.activations = list(moved.activations)
    moved.activations[0] = Dropout(critic.activations[0].inner, 0.3)
    moved.activations[0].mask = backend.asarray(masks)
    return moved


@pytest.mark.parametrize("inner", ["softplus", "tanh"])
def test_tabular_critic_loss_gradient_matches_finite_differences(backend, inner):
    """The packed critic loss with conditions and a dropout mask, on each namespace."""
    rng = np.random.default_rng(10)
    critic = _dropout_critic(rng, inner)
    layout = heads.HeadLayout(OUTPUT_INFO)
    rows = 3 * PAC
    cond = _conditions(rng, rows)
    real = heads.heads_forward(layout, 2 * rng.normal(size=(rows, WIDTH)), 1.0)[0]
    fake = heads.heads_forward(
        layout, rng.normal(size=(rows, WIDTH)), 0.2, rng.gumbel(size=(rows, WIDTH))
    )[0]
    x_real, x_fake = np.hstack([real, cond]), np.hstack([fake, cond])
    alpha = rng.random(rows // PAC)
    masks = (rng.random((3 * rows // PAC, 6)) >= 0.3) / 0.7
    inputs = [backend.asarray(a) for a in (x_real, x_fake, alpha)]

    def on_backend():
        return heads.packed_critic_loss(_with_masks(critic, backend, masks), *inputs, PAC, 10.0)

    loss, grads, stats = on_backend()
    assert bk.namespace(grads[0]) is backend.xp
    analytic = [bk.to_numpy(g).copy() for g in grads]
    numeric = numerical_grads(lambda: float(on_backend()[0]), critic.params)
    assert max_relative_error(analytic, numeric) < 1e-5
    critic.activations[0].mask = masks  # NumPy's numbers, to round-off
    loss_np, grads_np, _ = heads.packed_critic_loss(critic, x_real, x_fake, alpha, PAC, 10.0)
    assert float(loss) == pytest.approx(loss_np, rel=1e-10)
    assert max_relative_error(analytic, grads_np) < 1e-10


@pytest.mark.parametrize("tau", [0.2, 1.0])
def test_tabular_generator_loss_gradient_matches_finite_differences(backend, tau):
    """Heads with Gumbel noise, the condition cross-entropy, packing and the critic
    (with its dropout mask) in the generator's loss, on each namespace."""
    rng = np.random.default_rng(11)
    gen = randomize_biases(
        MLP([LATENT + COND, 8, WIDTH], activation="tanh", random_state=0, dtype=np.float64), rng
    )
    critic = _dropout_critic(rng, "softplus")
    layout = heads.HeadLayout(OUTPUT_INFO)
    rows = 2 * PAC
    z, cond = rng.normal(size=(rows, LATENT)), _conditions(rng, rows)
    gumbel = rng.gumbel(size=(rows, WIDTH))
    masks = (rng.random((rows // PAC, 6)) >= 0.3) / 0.7
    inputs = [backend.asarray(a) for a in (z, cond, gumbel)]
    critic_b = _with_masks(critic, backend, masks)

    def on_backend():
        return heads.generator_loss(
            gen.astype(np.float64).to(backend),
            critic_b,
            layout,
            *inputs,
            tau,
            PAC,
            1.5,
            COND_BLOCKS,
        )

    loss, grads, stats = on_backend()
    assert float(stats["cross_entropy"]) > 0
    analytic = [bk.to_numpy(g).copy() for g in grads]
    numeric = numerical_grads(lambda: float(on_backend()[0]), gen.params)
    assert max_relative_error(analytic, numeric) < 1e-5
    critic.activations[0].mask = masks
    loss_np, grads_np, _ = heads.generator_loss(
        gen, critic, layout, z, cond, gumbel, tau, PAC, 1.5, COND_BLOCKS
    )
    assert float(loss) == pytest.approx(loss_np, rel=1e-10)
    assert max_relative_error(analytic, grads_np) < 1e-10


@pytest.mark.parametrize("table", [False, True], ids=["arrays", "table-head"])
def test_translator_generator_objective_gradients_match_finite_differences(backend, table):
    """Adversarial, cycle, identity and pair terms (and the table head), both generators."""
    rng = np.random.default_rng(12)
    d = WIDTH
    nets = [
        randomize_biases(MLP(s, activation=a, random_state=i, dtype=np.float64), rng)
        for i, (s, a) in enumerate(
            [([d, 6, d], "tanh"), ([d, 6, d], "tanh"), ([d, 5, 1], "softplus"), ([d, 5, 1], "tanh")]
        )
    ]
    head = TableHead(OUTPUT_INFO, 0.5) if table else None
    draw = (
        (lambda n: head.sample_rows(rng, n, np.float64))
        if table
        else (lambda n: rng.normal(size=(n, d)))
    )
    x_a, x_b, p_a, p_b = draw(4), draw(4), draw(3), draw(3)
    inputs = [backend.asarray(a) for a in (x_a, x_b)]
    pairs = (backend.asarray(p_a), backend.asarray(p_b))
    critics = [net.astype(np.float64).to(backend) for net in nets[2:]]

    def on_backend():
        gens = [net.astype(np.float64).to(backend) for net in nets[:2]]
        return translator_generator_loss(
            *gens, *critics, *inputs, 10.0, 0.5, True, head=head, pairs=pairs, lambda_pairs=2.0
        )

    loss, g_ab, g_ba, stats = on_backend()
    assert bk.namespace(g_ab[0]) is backend.xp
    assert {"identity_error", "pair_error", "cycle_error"} <= set(stats)
    analytic = [bk.to_numpy(g).copy() for g in g_ab + g_ba]
    numeric = numerical_grads(lambda: float(on_backend()[0]), nets[0].params + nets[1].params)
    assert max_relative_error(analytic, numeric) < 1e-5
    loss_np, *_ = translator_generator_loss(
        *nets, x_a, x_b, 10.0, 0.5, True, head=head, pairs=(p_a, p_b), lambda_pairs=2.0
    )
    assert float(loss) == pytest.approx(loss_np, rel=1e-10)


# --------------------------------------------------------------------------- #
# Estimators: fit, resume, files.                                             #
# --------------------------------------------------------------------------- #


def _table(n=60, seed=0):
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "x": rng.normal(size=n),
            "y": rng.gamma(2.0, size=n),
            "k": rng.choice(["a", "b", "c"], n),
            "j": rng.choice(["u", "v"], n),
        }
    )


def _synth(backend, **kw):
    params = dict(hidden=8, critic_hidden=8, batch_size=12, pac=2, random_state=0, dtype=np.float64)
    params.update(kw)
    return wgangp.TabularSynthesizer(backend=backend.name, device=backend.device, **params)


def _translator(backend, **kw):
    params = dict(hidden=8, batch_size=8, lambda_identity=0.5, random_state=0, dtype=np.float64)
    params.update(kw)
    return wgangp.Translator(backend=backend.name, device=backend.device, **params)


def _same_state(a, b):
    for x, y in zip(a.state_arrays(), b.state_arrays()):
        assert np.array_equal(bk.to_numpy(x), bk.to_numpy(y))


def test_synthesizer_resumes_bit_for_bit_on_the_same_backend(backend, tmp_path):
    frame = _table()
    whole = _synth(backend).fit(frame, steps=4)
    assert bk.namespace(whole.critic_.params[0]) is backend.xp
    half = _synth(backend).fit(frame, steps=2)
    half.save(tmp_path / "half.npz")
    resumed = wgangp.load(tmp_path / "half.npz")
    assert resumed.backend == backend.name
    resumed.partial_fit(frame, steps=2)
    _same_state(whole, resumed)
    assert whole.history_[-1]["critic_loss"] == resumed.history_[-1]["critic_loss"]
    assert np.isfinite(whole.history_.column("cross_entropy")).all()


def test_translator_resumes_bit_for_bit_on_the_same_backend(backend, tmp_path):
    rng = np.random.default_rng(1)
    A, B = rng.normal(size=(32, 3)), rng.normal(loc=2.0, size=(32, 3))
    pairs = (np.arange(4), B[:4])
    whole = _translator(backend).fit(A, B, steps=3, pairs=pairs)
    half = _translator(backend).fit(A, B, steps=1, pairs=pairs)
    half.save(tmp_path / "half.npz")
    resumed = wgangp.load(tmp_path / "half.npz")
    resumed.fit(A, B, steps=2, pairs=pairs, resume=tmp_path / "half.npz")
    _same_state(whole, resumed)
    assert whole.history_[-1]["generator_loss"] == resumed.history_[-1]["generator_loss"]
    assert "pair_error" in whole.history_[-1]


def test_models_trained_on_any_backend_load_and_run_on_numpy(backend, tmp_path):
    frame = _table(seed=2)
    synth = _synth(backend, dtype=np.float32).fit(frame, steps=2)
    rows = synth.sample(8, random_state=0)
    synth.save(tmp_path / "s.npz")
    with np.load(tmp_path / "s.npz", allow_pickle=False) as f:
        assert f["generator/0"].dtype == np.float32
    loaded = wgangp.load(tmp_path / "s.npz")
    assert isinstance(loaded.generator_.params[0], np.ndarray)
    pd.testing.assert_frame_equal(loaded.sample(8, random_state=0), rows)
    assert set(loaded.sample(5, conditions={"k": "b"}, random_state=0)["k"]) == {"b"}
    loaded.set_params(backend="numpy").partial_fit(frame, steps=1)  # continues on NumPy
    assert loaded.n_iter_ == 3

    site_a = _table(40, seed=3)[["x", "k"]]
    site_b = _table(30, seed=4)[["x", "k"]]
    table = _translator(backend, dtype=np.float32).fit(site_a, site_b, steps=2)
    out = table.transform(site_a[:5])
    table.save(tmp_path / "t.npz")
    back = wgangp.load(tmp_path / "t.npz")
    assert isinstance(back.generator_ab_.params[0], np.ndarray)
    pd.testing.assert_frame_equal(back.transform(site_a[:5]), out, rtol=1e-5)


# --------------------------------------------------------------------------- #
# Command line.                                                               #
# --------------------------------------------------------------------------- #


def test_cli_fit_table_augment_and_translate_take_backend_and_device(tmp_path, capsys):
    pytest.importorskip("array_api_strict")
    from wgangp.cli import main

    frame = _table(80, seed=5)
    frame.to_csv(tmp_path / "t.csv", index=False)
    flags = ["--backend", "array-api-strict", "--device", "cpu"]
    small = ["--hidden", "8", "--batch-size", "20"]
    code = main(
        [
            "fit-table",
            str(tmp_path / "t.csv"),
            "--steps",
            "2",
            "--out",
            str(tmp_path / "fit"),
            "--no-report",
            *small,
            *flags,
        ]
    )
    assert code == 0
    model = wgangp.load(tmp_path / "fit" / "model.npz")
    assert model.backend == "array-api-strict" and model.n_iter_ == 2
    code = main(
        [
            "augment",
            str(tmp_path / "t.csv"),
            "--target",
            "k",
            "--rows",
            "20",
            "--steps",
            "2",
            "-o",
            str(tmp_path / "aug.csv"),
            *small,
            *flags,
        ]
    )
    assert code == 0 and (tmp_path / "aug.csv").exists()
    frame[:40].to_csv(tmp_path / "a.csv", index=False)
    frame[40:].to_csv(tmp_path / "b.csv", index=False)
    code = main(
        [
            "translate",
            "--source",
            str(tmp_path / "a.csv"),
            "--target",
            str(tmp_path / "b.csv"),
            "--steps",
            "2",
            "--out",
            str(tmp_path / "tr"),
            "--hidden",
            "8",
            "--batch-size",
            "8",
            *flags,
        ]
    )
    assert code == 0
    assert wgangp.load(tmp_path / "tr" / "model.npz").backend == "array-api-strict"
    capsys.readouterr()


def test_cli_fit_table_on_cuda_without_a_gpu_says_so(tmp_path, capsys):
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():  # pragma: no cover - a machine with a GPU
        pytest.skip("a CUDA GPU is present")
    from wgangp.cli import main

    _table().to_csv(tmp_path / "t.csv", index=False)
    argv = ["fit-table", str(tmp_path / "t.csv"), "--steps", "1", "--out", str(tmp_path / "r")]
    assert main([*argv, "--device", "cuda", "--backend", "torch"]) != 0
    assert "no such CUDA GPU is present" in capsys.readouterr().err


# --------------------------------------------------------------------------- #
# Refusals.                                                                   #
# --------------------------------------------------------------------------- #


@pytest.mark.parametrize("make", ["synthesizer", "translator"])
def test_no_gpu_and_missing_libraries_are_refused_clearly(make):
    torch = pytest.importorskip("torch")
    frame = _table()
    cpu = bk.get_backend("numpy")

    def fit(model):
        if make == "synthesizer":
            return model.fit(frame, steps=1)
        return model.fit(frame[:30], frame[30:], steps=1)

    build = _synth if make == "synthesizer" else _translator
    if not torch.cuda.is_available():
        model = build(cpu).set_params(backend="torch", device="cuda")
        with pytest.raises(DeviceUnavailableError, match="no such CUDA GPU is present"):
            fit(model)
        assert not model.is_fitted()
    try:
        import cupy  # noqa: F401
    except ImportError:
        model = build(cpu).set_params(backend="cupy", device="cuda")
        with pytest.raises(ImportError, match=r"pip install 'wgangp\[gpu\]'"):
            fit(model)


# --------------------------------------------------------------------------- #
# MPI: the gradient staged through a host buffer.                             #
# --------------------------------------------------------------------------- #

MPI_SCRIPT = (
    """
import sys
import numpy as np
import wgangp
from mpi4py import MPI
"""
    + COUNTING
    + """
comm = Counting(MPI.COMM_WORLD)
X = np.load(sys.argv[1])
share = np.array_split(X, comm.Get_size())[comm.Get_rank()]
model = wgangp.WGANGP(hidden=8, depth=1, batch_size=32, n_critic=2, dtype=np.float64,
                      random_state=0, backend="torch")
model.fit(share, steps=int(sys.argv[3]), comm=comm)
lines = comm.gather(f"rank {comm.Get_rank()} allreduce {comm.allreduce_calls}", root=0)
if comm.Get_rank() == 0:
    print("\\n".join(lines), flush=True)
    model.save(sys.argv[2])
import pandas as pd
table = pd.read_csv(sys.argv[4])
share = np.array_split(np.arange(len(table)), comm.Get_size())[comm.Get_rank()]
synth = wgangp.TabularSynthesizer(hidden=8, critic_hidden=8, batch_size=12, pac=2,
                                  dtype=np.float64, random_state=0, backend="torch")
synth.fit(table.iloc[share].reset_index(drop=True), steps=int(sys.argv[3]), comm=comm)
if comm.Get_rank() == 0:
    synth.save(sys.argv[5])
"""
)


def test_torch_training_under_mpiexec_stages_one_allreduce_per_step(tmp_path):
    pytest.importorskip("torch")
    pytest.importorskip("mpi4py")
    launcher = mpiexec()
    X = np.random.default_rng(0).normal(size=(128, 2))
    np.save(tmp_path / "X.npy", X)
    (tmp_path / "dp.py").write_text(MPI_SCRIPT)
    table = _table(48, seed=6)
    table.to_csv(tmp_path / "t.csv", index=False)
    steps = 3
    result = subprocess.run(
        [
            launcher,
            "-n",
            "2",
            sys.executable,
            str(tmp_path / "dp.py"),
            str(tmp_path / "X.npy"),
            str(tmp_path / "dp.npz"),
            str(steps),
            str(tmp_path / "t.csv"),
            str(tmp_path / "s.npz"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env=env(),
    )
    assert result.returncode == 0, result.stderr[-2000:]
    counts = sorted(line.split()[-1] for line in result.stdout.splitlines() if "allreduce" in line)
    assert counts == [str(steps * (2 + 1))] * 2  # one per critic step and per generator step
    single = wgangp.WGANGP(
        hidden=8,
        depth=1,
        batch_size=32,
        n_critic=2,
        dtype=np.float64,
        random_state=0,
        backend="torch",
    ).fit(X, steps=steps)
    parallel = wgangp.load(tmp_path / "dp.npz")
    for a, b in zip(parallel.state_arrays(), single.state_arrays()):
        np.testing.assert_allclose(bk.to_numpy(a), bk.to_numpy(b), rtol=1e-10, atol=1e-12)
    # the synthesizer on torch: the single process's model too
    single = _synth(bk.get_backend("torch")).fit(pd.read_csv(tmp_path / "t.csv"), steps=steps)
    parallel = wgangp.load(tmp_path / "s.npz")
    assert parallel.n_iter_ == steps
    for a, b in zip(parallel.state_arrays(), single.state_arrays()):
        np.testing.assert_allclose(bk.to_numpy(a), bk.to_numpy(b), rtol=1e-10, atol=1e-12)
