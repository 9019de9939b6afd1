"""The synthesizer's losses as :func:`wgangp.gradcheck` compares them with finite differences."""

from __future__ import annotations

import copy

import numpy as np

from ..backend import NUMPY
from ..nn import Dropout, far_from_kinks
from . import heads
from .heads import heads_forward, pack

__all__ = ["gradcheck_losses"]


def gradcheck_losses(synth, rng: np.random.Generator, n_samples: int, margin: float) -> list:
    """The losses :func:`wgangp.gradcheck` compares with finite differences.

    ``[(name, float64 network, loss)]``: the packed critic loss (penalty
    included) and the generator loss through heads, conditions, packing
    and the critic, on ``n_samples`` packs of rows, with dropout masks
    drawn once and held fixed (the critic is then an ordinary function).
    Real rows are random rows through the heads; inputs are redrawn until
    no ReLU-like pre-activation lies within ``margin`` of its kink. The
    model is not modified.
    """
    critic = synth.critic_.astype(np.float64).to(NUMPY)
    critic.activations = [copy.copy(act) for act in critic.activations]  # own masks
    generator = synth.generator_.astype(np.float64).to(NUMPY)
    pac, layout, tau = synth.pac_, synth.layout_, float(synth.tau)
    batch, width = n_samples * pac, synth.transformer_.output_dim_
    mask_seed = int(rng.integers(2**31 - 1))

    def set_masks(rows: int) -> None:
        mask_rng = np.random.default_rng(mask_seed)
        for act in critic.activations:
            if isinstance(act, Dropout):
                act.new_mask(mask_rng, rows, synth.critic_hidden, np.float64)

    def with_cond(x, cond):
        return np.concatenate([x, cond], axis=1) if synth.cond_dim_ else x

    for _ in range(200):
        cond = np.zeros((batch, 0))
        if synth.cond_dim_:
            cond = synth._original_conditions(batch, rng).astype(np.float64)
        z = rng.standard_normal((batch, synth.latent_dim))
        gumbel = rng.gumbel(size=(batch, width))
        real = heads_forward(layout, 2 * rng.standard_normal((batch, width)), tau, None)[0]
        x_real = with_cond(real, cond)
        x_fake = with_cond(
            heads_forward(layout, generator(with_cond(z, cond)), tau, gumbel)[0], cond
        )
        alpha = rng.random(n_samples)
        p_real, p_fake = pack(x_real, pac), pack(x_fake, pac)
        p_interp = p_fake + alpha[:, None] * (p_real - p_fake)
        set_masks(3 * n_samples)
        critic_ok = far_from_kinks(critic, np.concatenate([p_real, p_fake, p_interp]), margin)
        set_masks(n_samples)
        if (
            critic_ok
            and far_from_kinks(generator, with_cond(z, cond), margin)
            and far_from_kinks(critic, p_fake, margin)
        ):
            break
    else:
        raise RuntimeError(
            "gradcheck could not draw inputs away from ReLU kinks; lower margin= or n_samples="
        )
    lambda_gp, penalty, ce_weight = float(synth.lambda_gp), synth.penalty, float(synth.ce_weight)

    def critic_value():
        set_masks(3 * n_samples)
        loss, grads, _ = heads.packed_critic_loss(
            critic, x_real, x_fake, alpha, pac, lambda_gp, penalty
        )
        return loss, grads

    def generator_value():
        set_masks(n_samples)
        loss, grads, _ = heads.generator_loss(
            generator, critic, layout, z, cond, gumbel, tau, pac, ce_weight, synth.cond_blocks_
        )
        return loss, grads

    return [("critic", critic, critic_value), ("generator", generator, generator_value)]
