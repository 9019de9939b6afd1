"""Array namespaces: selection, errors, conversion, random numbers, and the engine on each.

The engine tests run on every namespace of the ``backend`` fixture
(conftest.py): NumPy, array-api-strict and torch-CPU here; CuPy and CUDA
skip with the reason where there is no GPU.
"""

from __future__ import annotations

import numpy as np
import pytest

import wgangp
from conftest import far_from_kinks, max_relative_error, numerical_grads, randomize_biases
from wgangp import backend as bk
from wgangp.errors import DeviceUnavailableError, InvalidParameterError
from wgangp.losses import critic_loss, generator_loss
from wgangp.nn import MLP
from wgangp.optim import get_optimizer

# --------------------------------------------------------------------------- #
# Selection and errors.                                                       #
# --------------------------------------------------------------------------- #


def test_numpy_arrays_get_numpy_itself():
    assert bk.namespace(np.ones(2), None, 3.0) is np
    assert bk.get_backend("auto", "cpu").xp is np


def test_other_arrays_get_their_standard_namespace():
    strict = pytest.importorskip("array_api_strict")
    assert bk.namespace(strict.ones(2)) is strict


def test_unknown_backend_and_device_are_refused_by_name():
    with pytest.raises(InvalidParameterError, match="backend='jax' is not known"):
        bk.get_backend("jax")
    with pytest.raises(InvalidParameterError, match="device='tpu' is not known"):
        bk.get_backend("numpy", "tpu")


def test_numpy_on_a_gpu_is_refused_naming_the_gpu_backends():
    with pytest.raises(InvalidParameterError, match="backend='cupy' or backend='torch'"):
        bk.get_backend("numpy", "cuda")


def test_missing_cupy_names_the_gpu_extra():
    try:
        import cupy  # noqa: F401
    except ImportError:
        with pytest.raises(ImportError, match=r"pip install 'wgangp\[gpu\]'"):
            bk.get_backend("cupy", "cuda")
    else:  # pragma: no cover - a machine with CuPy
        pytest.skip("CuPy is installed here")


def test_cuda_without_a_gpu_says_so():
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():  # pragma: no cover - a machine with a GPU
        pytest.skip("a CUDA GPU is present")
    with pytest.raises(DeviceUnavailableError, match="no such CUDA GPU is present"):
        bk.get_backend("torch", "cuda")
    with pytest.raises(DeviceUnavailableError):
        wgangp.WGANGP(hidden=4, depth=1, device="cuda", backend="torch").fit(
            np.ones((8, 2)), steps=1
        )


def test_a_refused_device_leaves_a_fitted_model_as_it_was():
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():  # pragma: no cover
        pytest.skip("a CUDA GPU is present")
    X = np.random.default_rng(0).normal(size=(32, 2))
    model = wgangp.WGANGP(hidden=4, depth=1, batch_size=8, random_state=0).fit(X, steps=2)
    before = [p.copy() for p in model.generator_.params]
    model.set_params(backend="torch", device="cuda")
    with pytest.raises(DeviceUnavailableError):
        model.partial_fit(X, steps=1)
    assert model.n_iter_ == 2
    assert all(np.array_equal(a, b) for a, b in zip(before, model.generator_.params))


def test_to_numpy_copies_from_any_backend(backend):
    a = np.arange(6.0).reshape(2, 3)
    moved = backend.asarray(a)
    assert bk.namespace(moved) is backend.xp
    back = bk.to_numpy(moved)
    assert isinstance(back, np.ndarray) and np.array_equal(back, a)


def test_random_numbers_follow_the_estimators_seed(backend):
    def draw(seed):
        source = backend.random(np.random.default_rng(seed))
        z = source.standard_normal((4, 3), dtype=np.float32)
        u = source.random((4, 1), dtype=np.float32)
        return bk.to_numpy(z), bk.to_numpy(u)

    (z1, u1), (z2, u2), (z3, _) = draw(5), draw(5), draw(6)
    assert z1.dtype == np.float32 and u1.shape == (4, 1)
    assert np.array_equal(z1, z2) and np.array_equal(u1, u2)
    assert not np.array_equal(z1, z3)
    assert ((u1 >= 0) & (u1 < 1)).all()


# --------------------------------------------------------------------------- #
# The engine on each namespace.                                               #
# --------------------------------------------------------------------------- #


def _critic_inputs(net, rng, batch=5):
    for _ in range(100):
        x_r = rng.normal(size=(batch, net.sizes[0]))
        x_f = rng.normal(size=(batch, net.sizes[0]))
        alpha = rng.random((batch, 1))
        x_i = x_f + alpha * (x_r - x_f)
        if far_from_kinks(net, np.concatenate([x_r, x_f, x_i])):
            return x_r, x_f, alpha
    raise AssertionError("no inputs away from the kinks")


@pytest.mark.parametrize("activation", ["leaky_relu", "tanh"])
def test_critic_loss_gradient_matches_finite_differences(backend, activation):
    rng = np.random.default_rng(1)
    host = randomize_biases(
        MLP([3, 6, 5, 1], activation=activation, random_state=0, dtype=np.float64), rng
    )
    x_r, x_f, alpha = _critic_inputs(host, rng)
    inputs = [backend.asarray(a) for a in (x_r, x_f, alpha)]

    def on_backend():
        return critic_loss(host.astype(np.float64).to(backend), *inputs, 10.0)

    loss, grads, stats = on_backend()
    assert bk.namespace(grads[0]) is backend.xp
    analytic = [bk.to_numpy(g).copy() for g in grads]
    numeric = numerical_grads(lambda: float(on_backend()[0]), host.params)
    assert max_relative_error(analytic, numeric) < 1e-5
    # the same numbers as NumPy's, to round-off
    loss_np, grads_np, stats_np = critic_loss(host, x_r, x_f, alpha, 10.0)
    assert float(loss) == pytest.approx(loss_np, rel=1e-10)
    assert float(stats["grad_norm_max"]) == pytest.approx(stats_np["grad_norm_max"], rel=1e-10)
    assert max_relative_error(analytic, grads_np) < 1e-10


def test_generator_loss_gradient_matches_finite_differences(backend):
    rng = np.random.default_rng(2)
    gen = randomize_biases(MLP([2, 6, 3], activation="tanh", random_state=0, dtype=np.float64), rng)
    critic = randomize_biases(
        MLP([3, 7, 1], activation="softplus", random_state=1, dtype=np.float64), rng
    )
    z = backend.asarray(rng.normal(size=(6, 2)))
    critic_b = critic.astype(np.float64).to(backend)

    def on_backend():
        return generator_loss(gen.astype(np.float64).to(backend), critic_b, z)

    loss, grads = on_backend()
    analytic = [bk.to_numpy(g).copy() for g in grads]
    numeric = numerical_grads(lambda: float(on_backend()[0]), gen.params)
    assert max_relative_error(analytic, numeric) < 1e-5


@pytest.mark.parametrize("name", ["rmsprop", "adam", "sgd"])
def test_optimizers_take_the_same_steps_as_on_numpy(backend, name):
    rng = np.random.default_rng(3)
    net = MLP([3, 4, 2], random_state=0, dtype=np.float64)
    moved = net.astype(np.float64).to(backend)
    opt_np, opt_b = get_optimizer(name, lr=1e-2), get_optimizer(name, lr=1e-2)
    for _ in range(3):
        grads = [rng.normal(size=p.shape) for p in net.params]
        opt_np.step(net.params, grads)
        opt_b.step(moved.params, [backend.asarray(g) for g in grads])
    for p_np, p_b in zip(net.params, moved.params):
        np.testing.assert_allclose(bk.to_numpy(p_b), p_np, rtol=1e-12, atol=1e-14)
    state = opt_b.state_dict()  # NumPy arrays, whatever the backend
    assert all(isinstance(a, np.ndarray) for slot in opt_b.slots for a in state[slot])


def _model(backend, **kw):
    params = dict(hidden=8, depth=2, batch_size=16, random_state=0, dtype=np.float64, lr=1e-3)
    params.update(kw)
    return wgangp.WGANGP(backend=backend.name, device=backend.device, **params)


def test_training_resumes_bit_for_bit_on_the_same_backend(backend, tmp_path):
    X = np.random.default_rng(4).normal(size=(64, 2))
    whole = _model(backend).fit(X, steps=4)
    half = _model(backend).fit(X, steps=2)
    half.save(tmp_path / "half.npz")
    resumed = wgangp.load(tmp_path / "half.npz").partial_fit(X, steps=2)
    for a, b in zip(whole.critic_.params, resumed.critic_.params):
        assert np.array_equal(bk.to_numpy(a), bk.to_numpy(b))
    assert whole.history_[-1]["critic_loss"] == resumed.history_[-1]["critic_loss"]
    assert np.isfinite(whole.history_.column("wasserstein")).all()


def test_a_model_trained_on_any_backend_loads_and_samples_on_numpy(backend, tmp_path):
    X = np.random.default_rng(5).normal(size=(64, 2))
    model = _model(backend, dtype=np.float32).fit(X, steps=2)
    rows = model.sample(10, random_state=0)
    assert isinstance(rows, np.ndarray) and rows.shape == (10, 2)
    model.save(tmp_path / "m.npz")
    with np.load(tmp_path / "m.npz", allow_pickle=False) as f:
        assert f["generator/0"].dtype == np.float32
    loaded = wgangp.load(tmp_path / "m.npz")
    assert isinstance(loaded.generator_.params[0], np.ndarray)
    np.testing.assert_allclose(loaded.sample(10, random_state=0), rows, rtol=1e-5, atol=1e-5)
    # and continues on NumPy (another backend: it continues, not bit for bit)
    loaded.set_params(backend="numpy").partial_fit(X, steps=1)
    assert loaded.n_iter_ == 3 and np.isfinite(loaded.score_samples(X)).all()


def test_cuda_graph_is_refused_off_a_gpu_and_with_adam():
    X = np.random.default_rng(6).normal(size=(32, 2))
    with pytest.raises(InvalidParameterError, match="needs backend='torch' on device='cuda'"):
        wgangp.WGANGP(hidden=4, depth=1, cuda_graph=True).fit(X, steps=1)
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():  # pragma: no cover - a machine with a GPU
        model = wgangp.WGANGP(optimizer="adam", cuda_graph=True, backend="torch", device="cuda")
        with pytest.raises(InvalidParameterError, match="cannot capture Adam"):
            model.fit(X, steps=1)


def test_cli_train_takes_backend_and_device(tmp_path, capsys):
    from wgangp.cli import main

    out = tmp_path / "run"
    code = main(
        [
            "train",
            "--data",
            "8gaussians",
            "--n-rows",
            "256",
            "--steps",
            "2",
            "--hidden",
            "8",
            "--batch-size",
            "32",
            "--backend",
            "array-api-strict",
            "--no-report",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    model = wgangp.load(out / "model.npz")
    assert model.backend == "array-api-strict" and model.n_iter_ == 2
    code = main(["resume", str(out), "--steps", "1", "--backend", "numpy"])
    assert code == 0 and wgangp.load(out / "model.npz").n_iter_ == 3


def test_cli_on_cuda_without_a_gpu_says_so_in_one_line(tmp_path, capsys):
    from wgangp.cli import main

    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():  # pragma: no cover - a machine with a GPU
        pytest.skip("a CUDA GPU is present")
    argv = ["train", "--data", "8gaussians", "--n-rows", "64", "--steps", "1", "--hidden", "4"]
    code = main([*argv, "--device", "cuda", "--backend", "torch", "--out", str(tmp_path / "r")])
    assert code != 0
    assert "no such CUDA GPU is present" in capsys.readouterr().err


def test_steps_with_reused_work_arrays_run_on_every_namespace(backend):
    """A training step hands its networks a Scratch on every namespace: NumPy
    reuses its arrays, another namespace allocates its own (the Scratch stays
    empty) and the step is the step without one."""
    from wgangp.flat import Scratch
    from wgangp.steps import critic_step, generator_step

    X = np.random.default_rng(6).normal(size=(32, 2))
    runs = []
    for scratch in (None, Scratch()):
        gen = MLP([2, 8, 2], "relu", random_state=0, dtype=np.float64).to(backend)
        critic = MLP([2, 8, 1], "relu", random_state=1, dtype=np.float64).to(backend)
        opt_c, opt_g = get_optimizer("rmsprop", 1e-3), get_optimizer("rmsprop", 1e-3)
        rng = backend.random(np.random.default_rng(7))
        x_real = backend.asarray(X[:16])
        for _ in range(2):
            stats = critic_step(gen, critic, opt_c, x_real, rng, 10.0, "two-sided", scratch=scratch)
            generator_step(gen, critic, opt_g, 16, rng, scratch=scratch)
        runs.append((float(stats["loss"]), bk.to_numpy(gen.flat), bk.to_numpy(critic.flat)))
        if scratch is not None:
            assert (len(scratch._arrays) > 10) == backend.is_numpy
    (loss_a, gen_a, critic_a), (loss_b, gen_b, critic_b) = runs
    assert loss_a == loss_b
    np.testing.assert_array_equal(gen_a, gen_b)
    np.testing.assert_array_equal(critic_a, critic_b)
