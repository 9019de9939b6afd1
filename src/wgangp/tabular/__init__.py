"""Synthetic tables: transform, output heads, a conditional WGAN-GP, augmentation.

The pieces, from data to rows:

* :class:`TabularTransformer` turns a DataFrame into a matrix the networks
  can learn and back: continuous columns by quantiles (a uniform scalar in
  [-1, 1]; the default) or by mode-specific normalisation (``gmm``: a
  Bayesian Gaussian mixture per column, a scalar within the chosen mode
  plus a one-hot of the mode);
  discrete columns one-hot; missing values as a null indicator.
* Output heads (:func:`heads_forward`, :func:`heads_backward`): ``tanh`` on
  each scalar and a (Gumbel-)softmax on each one-hot block, after the
  generator's linear output.
* Critic options: PacGAN packing (:func:`pack`: ``pac`` rows side by side,
  one interpolation coefficient per pack; the penalty is on the packed
  rows), leaky ReLU and :class:`Dropout` (an activation with a fixed mask
  per step, so the exact penalty pullback of :mod:`wgangp.nn` covers it).
* Conditional generation: a condition vector over the discrete columns,
  training-by-sampling (:class:`ConditionSampler`) and a cross-entropy term
  (:func:`condition_cross_entropy`) that makes the generator honour it.
* :class:`TabularSynthesizer`: fit, sample (with conditions), save, load,
  resume; :func:`augment`: rows for the rare classes and a before/after
  table on a real holdout.

The generator loss with heads, conditions and packing,

.. math::

    L_G = -\\frac{1}{B/\\mathrm{pac}} \\sum_j D(\\mathrm{pack}([h(G([z, c])), c]))_j
          + w_{ce} \\frac{1}{B} \\sum_i \\mathrm{CE}(G([z, c])_i, c_i),

is :func:`generator_loss`; every gradient here is hand-derived and checked
against finite differences in ``tests/test_tabular.py``.

The package's modules, by job: :mod:`~wgangp.tabular.frames` (reading and
checking DataFrames), :mod:`~wgangp.tabular.transformer`,
:mod:`~wgangp.tabular.heads` (heads, packing, the losses),
:mod:`~wgangp.tabular.conditions`, :mod:`~wgangp.tabular.synthesizer`,
:mod:`~wgangp.tabular.augment` and :mod:`~wgangp.tabular.domains` (two tables
as the domains of a :class:`wgangp.Translator`: checks, one encoding, its
output head).

pandas and scikit-learn (``pip install wgangp[tabular]``) are imported when
needed; sampling from a loaded model needs pandas only.
"""

from ..nn import Dropout
from .augment import allocate_rows, augment
from .conditions import ConditionSampler
from .heads import (
    HeadLayout,
    condition_cross_entropy,
    generator_loss,
    heads_backward,
    heads_forward,
    pack,
    packed_critic_loss,
)
from .settings import DEFAULT_STEPS, auto_batch_and_pac, default_steps
from .synthesizer import TabularSynthesizer, load
from .transformer import TabularTransformer

__all__ = [
    "DEFAULT_STEPS",
    "ConditionSampler",
    "Dropout",
    "HeadLayout",
    "TabularSynthesizer",
    "TabularTransformer",
    "allocate_rows",
    "augment",
    "auto_batch_and_pac",
    "condition_cross_entropy",
    "default_steps",
    "generator_loss",
    "heads_backward",
    "heads_forward",
    "load",
    "pack",
    "packed_critic_loss",
]
