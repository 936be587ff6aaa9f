"""mixup (Zhang et al., "mixup: Beyond Empirical Risk Minimization", ICLR 2018):
each example blended with its partners by weights ~ Beta(alpha, alpha) (pairs) or
Dirichlet(alpha, ..., alpha) (`num_mixed` > 2, the paper's Section 2 k-way mixing).

`MIXUP` is the method as the sampler sees it; `sample_beta` and `sample_log_gamma`
are its draws as public functions.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import keras

from keras_mixup._src.bindings.ops import ops_for
from keras_mixup._src.core.methods.base import Draw, Method, MixingMethod, Option
from keras_mixup._src.core.sampling import (
    as_alpha,
    dirichlet_weights,
    gamma_requests,
    log_gamma,
    weights_from_words,
)
from keras_mixup._src.core.validation import validate_alpha, validate_num_mixed

STREAMS = {"gamma": 6}  # the Gamma variates of the weights


def _requests(num_draws, num_mixed: int, *, ops) -> list:
    return gamma_requests(STREAMS["gamma"], num_mixed * num_draws, ops=ops)


def _draw(seed, words, values, build, *, ops) -> Draw:
    alpha = as_alpha(values["alpha"], ops=ops)
    weights = weights_from_words(
        seed, STREAMS["gamma"], words, build.num_mixed, build.num_draws, alpha, ops=ops
    )
    return Draw(
        own=weights[0], partner=weights[1], more=weights[2:] if build.num_mixed > 2 else None
    )


MIXUP = Method(
    name="mixup",
    title="mixup",
    alpha="alpha",
    options=(
        Option(
            "alpha",
            1.0,
            runtime=True,
            validate=validate_alpha,
            doc="mixup's alpha (Beta / Dirichlet concentration; 0: no mixup)",
            owner="mixup",
            argument="alpha",
        ),
        Option(
            "num_mixed",
            2,
            runtime=False,
            validate=lambda value, name: validate_num_mixed(value),
            doc="how many examples each mixed example combines (k-way mixup for k > 2)",
            owner="mixup",
            argument="num_mixed",
        ),
    ),
    streams=STREAMS,
    requests=lambda build, *, ops: _requests(build.num_draws, build.num_mixed, ops=ops),
    draw=_draw,
    test_time="a shrink of the inputs and targets towards their means by theta_bar, for "
    "pairs on a model's inputs (theta_bar, mixup_aware_predictor)",
)


@keras.saving.register_keras_serializable(package="keras_mixup")
class Mixup(MixingMethod):
    """mixup: each example blended with a partner from the same batch.

    `x~ = lam x + (1 - lam) x[perm]` and the same for the targets, `lam ~ Beta(alpha,
    alpha)`; with `num_mixed = k > 2`, k examples with weights ~ Dirichlet(alpha, ...,
    alpha) (k - 1 partners from independent permutations). Inputs of any shape.

    Args:
        alpha: the Beta / Dirichlet concentration, a finite number >= 0 (1: lambda
            uniform; the paper uses 0.1 to 0.4 on ImageNet, 1 on CIFAR, 8 or 32 against
            label noise; 0: no mixing, ERM). Run-time: schedulable without retracing.
        num_mixed: how many examples each mixed example combines, an int >= 2 (the
            paper's Section 2); not with methods that paste pixels.

    Raises:
        TypeError, ValueError: `alpha` negative or not finite, `num_mixed` < 2.

    Source: Zhang, Cisse, Dauphin & Lopez-Paz, "mixup: Beyond Empirical Risk
    Minimization", ICLR 2018, Section 2 (Eq. 1; k-way mixing in its discussion).
    """

    method = MIXUP

    def __init__(self, alpha: float = 1.0, num_mixed: int = 2):
        super().__init__(alpha=alpha, num_mixed=num_mixed)


def sample_log_gamma(seed, shape, alpha, ops=None):
    """Draws log(G) for G ~ Gamma(alpha, 1), exactly, with XLA-compilable ops.

    Args:
        seed: two integers (tensor of shape `[2]`).
        shape: static shape of the output (tuple of ints).
        alpha: float scalar (Python or tensor) > 0.
        ops: the ops binding; None: the one for `seed`'s kind of tensor.

    Returns:
        float32 tensor of `shape`.
    """
    ops = ops or ops_for(seed)
    count = math.prod(shape)
    values = log_gamma(seed, STREAMS["gamma"], count, as_alpha(alpha, ops=ops), ops=ops)
    return ops.reshape(values, list(shape))


def sample_beta(
    seed: Any,  # a tensor or array of two integers, of any kind the ops bindings take
    shape: Sequence[int],
    alpha: float | Any,  # or a scalar tensor
    ops: Any = None,  # an ops binding (`ops.py`; private), or None
):
    """Draws lambda ~ Beta(alpha, alpha), exactly, with XLA-compilable ops.

    lambda = G1 / (G1 + G2) with G1, G2 ~ Gamma(alpha, 1), computed from their
    logs so that tiny alphas (lambda near 0 or 1) stay finite. alpha == 0 gives
    lambda = 1 (no mixing: the paper's alpha -> 0 limit is ERM).

    Args:
        seed: two integers (tensor of shape `[2]`).
        shape: static shape of the output (tuple of ints).
        alpha: float scalar >= 0, Python number or tensor.
        ops: the ops binding; None: the one for `seed`'s kind of tensor.

    Returns:
        float32 tensor of `shape` with values in [0, 1].

    Examples:
        >>> lam = sample_beta(tf.constant([1, 2]), [4], alpha=1.0)
        >>> lam.shape, lam.dtype.name
        (TensorShape([4]), 'float32')
        >>> bool(tf.reduce_all((lam >= 0) & (lam <= 1)))
        True
    """
    ops = ops or ops_for(seed)
    count = math.prod(shape)
    alpha = as_alpha(alpha, ops=ops)
    log_gammas = log_gamma(
        seed, STREAMS["gamma"], 2 * count, ops.where(alpha > 0, alpha, 1.0), ops=ops
    )
    return ops.reshape(dirichlet_weights(log_gammas, 2, alpha, ops=ops)[0], list(shape))
