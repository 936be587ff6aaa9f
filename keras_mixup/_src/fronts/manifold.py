"""Manifold Mixup (Verma et al., ICML 2019): mixing points placed anywhere in a model, one
of them chosen at random in each training step to mix its hidden states.

Every point of a group is a `MixupLayer` (`MixingPoint`) with the group's options and
seed: in a training step each draws the same parameters (the same seed, the same stream
words: the same weights and partners) and the same choice of point (`choose_point`), and
only the chosen one mixes; the others pass their input on (a `cond`, not a blend). The
`MixupLoss` follows the group's first point, whose record holds those parameters, so
the targets are mixed once with the chosen point's weights and partners.
"""

from __future__ import annotations

import random
from typing import Any

import keras

from keras_mixup._src.bindings.ops import KERAS, in_tensorflow_graph, is_traced
from keras_mixup._src.core.sampler import choose
from keras_mixup._src.core.sampling import STREAMS, stream_words, unit_uniforms
from keras_mixup._src.core.validation import user_error, validate_seed, validate_shares
from keras_mixup._src.fronts.layer import MixupLayer


def choose_point(seed, probs: tuple, *, ops):
    """The point that mixes in the step of `seed` (int32 scalar): point `i` with
    probability `probs[i] / sum(probs)`, from one word of the seed's "point" stream."""
    if len(probs) == 1:
        return ops.convert(0, "int32")
    words = stream_words(seed, [(STREAMS["point"], 0, 2)], ops=ops)[0][:1]
    shares = [float(p) for p in probs]
    return choose(unit_uniforms(words, ops=ops), shares, [True] * len(probs), ops=ops)[0]


@keras.saving.register_keras_serializable(package="keras_mixup")
class MixingPoint(MixupLayer):
    """One mixing point of a `ManifoldMixup` group (made by `ManifoldMixup.point()`): a
    `MixupLayer` that mixes only in the steps that choose it (see the module docstring).

    Args:
        group: the group's name.
        index: the point's place in the group (0: the one the loss follows).
        points: how many points the group has (None: read from the group at the first
            training step, then saved).
        point_probs: each point's probability of being chosen (None: equal).
        **kwargs: `MixupLayer`'s arguments.
    """

    def __init__(self, *, group: str, index: int, points=None, point_probs=None, **kwargs):
        kwargs.setdefault("name", f"{group}_point_{index}")
        super().__init__(**kwargs)
        if self.spec.cuts:
            raise user_error(
                ValueError,
                f"ManifoldMixup '{group}': the methods that paste pixels (CutMix, ...) are not "
                "supported at mixing points yet; use Mixup (k-way included).",
            )
        self.group, self.index = group, int(index)
        self.points, self.point_probs = points, point_probs
        self._group = None  # the ManifoldMixup that made it (None once restored)
        self._chosen = None
        self._placed = False  # called on a symbolic tensor: part of a model

    def compute_output_spec(self, *args, **kwargs):
        self._placed = True
        return super().compute_output_spec(*args, **kwargs)

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "group": self.group,
            "index": self.index,
            "points": self._count(),
            "point_probs": self.point_probs,
        }

    def _count(self) -> int:
        """The group's points in the model: those placed in one (called on a symbolic
        tensor), or all made where none was (a subclassed model); as saved once restored."""
        if self._group is not None:
            placed = [p for p in self._group.points if p._placed]
            self.points = len(placed or self._group.points)
        return self.points

    def _check_bound(self) -> None:
        if self.index == 0:  # the loss follows the first point; it checks for the group
            super()._check_bound()

    def _step_seed(self):
        seed = super()._step_seed()
        owner = f"ManifoldMixup '{self.group}'"
        probs = validate_shares(
            self.point_probs, self._count(), "point_probs", "mixing points", owner
        )
        self._chosen = choose_point(seed, probs, ops=KERAS)
        return seed

    def _if_chosen(self, mixed, passed) -> list:
        """`mixed()` in the steps that choose this point, else `passed()` (lists of tensors)."""
        chosen = self._chosen == self.index
        if is_traced(chosen) or in_tensorflow_graph():
            return keras.ops.cond(chosen, mixed, passed)
        # not compiled (PyTorch; JAX or TensorFlow without jit_compile): the choice is a
        # value, even where the hidden states are JAX's gradient tracers. A `cond` there
        # would trace and compile both branches in every step (JAX: +25 % a point).
        return mixed() if bool(keras.ops.convert_to_numpy(chosen)) else passed()

    def _mixed_inputs(self, flat: list, masks: list, params, shards: int) -> list:
        return self._if_chosen(
            lambda: super(MixingPoint, self)._mixed_inputs(flat, masks, params, shards),
            lambda: [KERAS.cast(t, self.compute_dtype) for t in flat],
        )

    def _mixed_masks(self, masks: list, params, shards: int) -> list:
        """The union masks where this point mixes, the input masks where it passes."""
        present = [i for i, m in enumerate(masks) if m is not None]
        union = super()._mixed_masks(masks, params, shards)
        chosen = self._if_chosen(
            lambda: [union[i] for i in present], lambda: [masks[i] for i in present]
        )
        out = [None] * len(masks)
        for i, m in zip(present, chosen, strict=True):
            out[i] = m
        return out


class ManifoldMixup:
    """Manifold Mixup: mixing points anywhere in a model, one chosen per training step.

    Each training step one point of the group, chosen at random (`point_probs`, default
    equal), mixes the hidden states it is given, `lam h + (1 - lam) h[perm]`; every other
    point passes its input on, and the `MixupLoss` bound to the group mixes the targets
    with the same `lam` and `perm`. In evaluation and prediction every point is the
    identity. A point at the model's input makes input mixup one of the choices, as the
    paper's eligible set (the input and the first blocks) does. On masked (sequence)
    inputs the chosen point mixes padding as zeros and hands on the union of its sources'
    masks, as `MixupLayer` does; the other points hand on their input's mask.

    Args:
        alpha: the Beta(alpha, alpha) concentration (the paper uses 2.0); or
        methods: `[Mixup(alpha, num_mixed=k)]` (the methods that paste pixels are not
            supported at points yet).
        point_probs: each point's probability of being chosen, in the order the points
            were made (None: equal).
        seed: an int for reproducible runs (the same choices and weights on every
            backend); None: a random one, shared by the points (and saved with them).
        name: the group's name, the prefix of its points' layer names.
        **options: `MixupLayer`'s other options (`per_example`, `prob`, `targets`, ...).

    A group serves one model: its points are those placed in it (the count is saved with
    them). Each point holds its run-time settings: schedule them all at once,
    `AlphaScheduler(schedule, *group.points)`.

    Raises:
        ValueError: (from `point()`, as `MixupLayer`) an option out of range, a method
            that pastes pixels; `point_probs` that are not one number >= 0 per point (at
            the first training step).

    Example:
        >>> manifold = ManifoldMixup(alpha=2.0, seed=0)
        >>> model = keras.Sequential([keras.Input((8,)), manifold.point(),
        ...                           keras.layers.Dense(16, activation="relu"),
        ...                           manifold.point(), keras.layers.Dense(3)])
        >>> model.compile("sgd", MixupLoss("sparse_categorical_crossentropy",
        ...                                layer=manifold, from_logits=True))
        >>> history = model.fit(np.zeros((16, 8), "float32"), np.arange(16) % 3, verbose=0)

    Source: Verma, Lamb, Beckham, Najafi, Mitliagkas, Lopez-Paz & Bengio, "Manifold
    Mixup: Better Representations by Interpolating Hidden States", ICML 2019, Section 2.
    """

    def __init__(
        self,
        alpha: float | None = None,
        *,
        methods: list | None = None,
        point_probs: list[float] | None = None,
        seed: int | None = None,
        name: str = "manifold_mixup",
        **options: Any,
    ):
        self.name = name
        self.points: list[MixingPoint] = []
        # one seed for every point, drawn here where none is given: the points must draw
        # the same parameters and the same choice in each step
        seed = validate_seed(seed)
        seed = random.SystemRandom().randrange(2**31) if seed is None else seed
        self._options = {"alpha": alpha, "methods": methods, "seed": seed, **options}
        self.point_probs = point_probs

    def point(self, name: str | None = None) -> MixingPoint:
        """A new mixing point of the group (a Keras layer), placed where it is called."""
        point = MixingPoint(
            group=self.name,
            index=len(self.points),
            point_probs=self.point_probs,
            **self._options,
            **({} if name is None else {"name": name}),
        )
        point._group = self
        self.points.append(point)
        return point

    @property
    def followed_layer(self) -> MixingPoint:
        """The point `MixupLoss(layer=group)` and `MixupAccuracy` follow: the first."""
        if not self.points:
            raise user_error(
                ValueError,
                f"ManifoldMixup '{self.name}' has no mixing point yet: place its points in "
                "the model (group.point()) before binding the loss.",
            )
        return self.points[0]
