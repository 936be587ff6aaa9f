"""Manifold Mixup (Verma et al., ICML 2019): mixing points placed anywhere in a model, one
of them chosen at random in each training step to mix its hidden states.

Every point of a group is a `MixupLayer` (`MixingPoint`) with the group's options and
seed: in a training step each draws the same parameters (the same seed, the same stream
words: the same weights and partners) and the same choice of point (`choose_point`), and
only the chosen one mixes; the others pass their input on (a `cond`, not a blend). The
`MixupLoss` follows the group's first point, whose record holds those parameters, so
the targets are mixed once with the chosen point's weights and partners. Where the group
pastes pixels (CutMix, ...), a box's share of the map depends on the map's size, so the
first point's record takes its label weights from the chosen point's
(`MixingPoint._followed_record`).
"""

from __future__ import annotations

import random
import weakref
from typing import Any

import keras

from keras_mixup._src.bindings.ops import KERAS, in_tensorflow_graph, is_traced
from keras_mixup._src.core.sampler import choose
from keras_mixup._src.core.sampling import STREAMS, stream_words, unit_uniforms
from keras_mixup._src.core.validation import (
    user_error,
    validate_image_shape,
    validate_seed,
    validate_shares,
)
from keras_mixup._src.fronts.followers import StepRecord
from keras_mixup._src.fronts.layer import MixupLayer

# The label weights of a step's parameters: what differs between the points of a group
# that pastes pixels (the partners and the methods chosen are the same at every point).
LABEL_WEIGHTS = ("mix_weight", "partner_weight", "more_weights")
# The group each point restored from a file joins, by group name (see `MixingPoint.from_config`).
_RESTORING: weakref.WeakValueDictionary = weakref.WeakValueDictionary()


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
        self.group, self.index = group, int(index)
        self.points, self.point_probs = points, point_probs
        self._group = None  # the ManifoldMixup that made it (None once restored)
        self._chosen = None
        self._placed = False  # called on a symbolic tensor: part of a model

    @classmethod
    def from_config(cls, config: dict):
        """A point restored from a file joins the group of its kind being restored (a new
        one where that group already has a point of its index: another copy)."""
        point = cls(**config)
        group = _RESTORING.get(point.group)
        if group is None or any(p.index == point.index for p in group.points):
            group = ManifoldMixup._restored(point.group)
            _RESTORING[point.group] = group
        group.points.append(point)
        point._group = group
        return point

    def compute_output_spec(self, inputs, *args, **kwargs):
        if self.spec.cuts:  # the methods that paste pixels: at image-shaped maps only
            for tensor in keras.tree.flatten(inputs):
                validate_image_shape(
                    tuple(tensor.shape),
                    f"{self.owner} (a mixing point of ManifoldMixup '{self.group}')",
                    channels_first=self.spec.channels_first,
                    alphas=tuple(m.alpha for m in self.spec.cutting_methods) or ("cutmix_alpha",),
                )
        self._placed = True
        return super().compute_output_spec(inputs, *args, **kwargs)

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "group": self.group,
            "index": self.index,
            "points": self._count(),
            "point_probs": self.point_probs,
        }

    def _members(self) -> list:
        """The group's points in the model, by index: those placed in one (called on a
        symbolic tensor), or all made where none was (a subclassed model)."""
        points = [] if self._group is None else self._group.points
        placed = [p for p in points if p._placed]
        return sorted(placed or points, key=lambda p: p.index)

    def _count(self) -> int:
        """How many points the group has in the model (as saved, where it is not known)."""
        if self._group is not None:
            self.points = len(self._members())
        return self.points

    def _followed_record(self) -> StepRecord | None:
        """This point's record, with the label weights of the chosen point's where the
        group pastes pixels (a box's share of a map depends on the map's size). Every point
        of the group must have run in the step: one outside the model could be the chosen
        one, and the targets would be mixed while no input was.

        Raises:
            ValueError: a point of the group did not run in this step.
        """
        record = self.record
        if record is None or record.params is None:
            return record
        members = self._members()
        records = [p.record for p in members]
        missing = [
            p.name
            for p, r in zip(members, records, strict=True)
            if r is None or r.params is None or r.graph is not record.graph
        ]
        if missing:
            raise user_error(
                ValueError,
                f"ManifoldMixup '{self.group}': its points {missing} did not run in this "
                "training step; every point of a group must be part of the model it trains.",
            )
        if not self.spec.cuts:  # the same weights at every point
            return record
        chosen = self._chosen
        merged = {}
        for field in LABEL_WEIGHTS:
            values = [getattr(r.params, field) for r in records]
            if values[0] is None:
                continue
            out = values[0]
            for index, value in enumerate(values[1:], start=1):
                out = keras.ops.where(chosen == index, value, out)
            merged[field] = out
        return record._replace(params=record.params._replace(**merged))

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
        methods: the methods mixed at the chosen point, e.g. `[Mixup(alpha, num_mixed=k)]`;
            those that paste pixels (`CutMix`, `FMix`, ...) need every point's input to be
            an image-shaped map `[B, H, W(, C)]` (the loss takes the chosen map's box
            areas).
        point_probs: each point's probability of being chosen, in the order the points
            were made (None: equal).
        seed: an int for reproducible runs (the same choices and weights on every
            backend); None: a random one, shared by the points (and saved with them).
        name: the group's name, the prefix of its points' layer names.
        **options: `MixupLayer`'s other options (`per_example`, `prob`, `targets`, ...).

    A group serves one model: its points are those placed in it (the count is saved with
    them). Each point holds its run-time settings: schedule them all at once,
    `AlphaScheduler(schedule, group)` (the points the group has then).

    Raises:
        ValueError: (from `point()`, as `MixupLayer`) an option out of range; (where a
            point is placed) a method that pastes pixels at a point whose input is not an
            image-shaped map, naming the point and the shape; `point_probs` that are not
            one number >= 0 per point (at the first training step).

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

    @classmethod
    def _restored(cls, name: str) -> ManifoldMixup:
        """The group of points restored from a file: their list only (the options and the
        seed are each point's own, saved with it)."""
        group = cls.__new__(cls)
        group.name, group.points, group.point_probs, group._options = name, [], None, {}
        return group

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
