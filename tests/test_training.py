"""Training end to end: a short fit on the paper's 8gaussians really learns."""

from wgangp import WGANGP, Callback
from wgangp.data import toy
from wgangp.metrics import wasserstein1


class SampleAtStart(Callback):
    def on_train_begin(self, model):
        self.samples = model.sample(1000, random_state=0)


def test_fit_on_8gaussians_lowers_exact_w1_clearly():
    X = toy("8gaussians", 2048, random_state=0)
    real = toy("8gaussians", 1000, random_state=1)
    start = SampleAtStart()
    model = WGANGP(hidden=64, depth=3, batch_size=128, lr=2e-3, random_state=0)
    model.fit(X, steps=400, callbacks=[start])
    w1_untrained = wasserstein1(start.samples, real)
    w1_trained = wasserstein1(model.sample(1000, random_state=0), real)
    assert w1_trained < 0.5 * w1_untrained, (w1_untrained, w1_trained)
    assert model.history_[-1]["wasserstein"] > 0
