"""Changing the mixing during training: warm-up without it, off for the last epochs.

`MixupTransform` and `MixupLayer` read their run-time settings (`alpha`, each
method's alpha, `switch_prob`, `prob`) from variables in their traced code, so
assigning `mixer.alpha = value` between epochs takes effect at the next batch they
mix, without retracing or rebuilding the pipeline. Every method's alpha at 0 means
no mixing at all: inputs and targets exactly as they are (one-hot targets).

`AlphaScheduler` is the Keras callback that does it at the start of every epoch;
`alpha_schedule` builds the common schedules. By default a schedule drives the
mixing as a whole, every method the mixer has: 0 turns all of them off (timm's
`--mixup-off-epoch`), a positive value turns them back on with mixup's alpha set
to it. `attribute="alpha"` (or "cutmix_alpha", ...) drives that one setting alone:

    schedule = alpha_schedule(0.2, warmup_epochs=5)                # speech commands (Fig. 4)
    schedule = alpha_schedule(1.0, epochs=200, off_for_last=10)    # timm's "mixup off" end
    model.fit(dataset.apply(transform), epochs=200,
              callbacks=[AlphaScheduler(schedule, transform)])

Timing: Keras calls `on_epoch_begin` before it creates the epoch's iterator, so
with a finite dataset every batch of epoch `e` uses `schedule(e)`. With an
infinite (repeated) dataset and `steps_per_epoch`, batches already prefetched
when the epoch starts were mixed with the previous values.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING

import keras

from keras_mixup._src.core.methods import METHODS
from keras_mixup._src.core.options import RUNTIME as SCHEDULABLE
from keras_mixup._src.core.validation import (
    user_error,
    validate_alpha,
    validate_epoch_count,
    validate_schedule_end,
    validate_scheduler,
)
from keras_mixup._src.fronts.manifold import ManifoldMixup

if TYPE_CHECKING:  # the fronts' public names, for the annotation only (no run-time import)
    import keras_mixup


def alpha_schedule(
    alpha: float,
    *,
    warmup_epochs: int = 0,
    epochs: int | None = None,
    off_for_last: int = 0,
) -> Callable[[int], float]:
    """`epoch -> alpha`: 0 for the first `warmup_epochs` epochs and the last
    `off_for_last` of `epochs`, `alpha` in between (epochs counted from 0).

    Examples:
        >>> schedule = alpha_schedule(0.2, warmup_epochs=2, epochs=6, off_for_last=1)
        >>> [schedule(e) for e in range(6)]
        [0.0, 0.0, 0.2, 0.2, 0.2, 0.0]
    """
    alpha = validate_alpha(alpha)
    warmup_epochs = validate_epoch_count(warmup_epochs, "warmup_epochs")
    off_for_last = validate_epoch_count(off_for_last, "off_for_last")
    validate_schedule_end(off_for_last, epochs)

    def schedule(epoch: int) -> float:
        if epoch < warmup_epochs:
            return 0.0
        if off_for_last and epoch >= epochs - off_for_last:
            return 0.0
        return alpha

    return schedule


class AlphaScheduler(keras.callbacks.Callback):
    """Sets the mixing of `MixupTransform` / `MixupLayer` objects at every epoch start.

    By default the schedule drives the mixing as a whole: `schedule(epoch) == 0`
    turns every method of the mixer off (mixup, CutMix and the rest: inputs and
    one-hot targets exactly as they are, as timm's `--mixup-off-epoch`); a positive
    value turns them back on at the alphas the mixer was built with, mixup's `alpha`
    set to the value. A mixer built to mix without mixup (`alpha=0` beside CutMix,
    ...) keeps `alpha` at 0: for it only "0 or not" counts. `attribute=` drives one
    run-time setting alone, the other methods untouched. A default scheduler owns
    every method's alpha: combining it with a scheduler of one method's alpha on the
    same mixer in one `fit` raises (`"prob"` and `"switch_prob"` combine freely).

    Args:
        schedule: function `epoch -> value` (e.g. from `alpha_schedule`), epochs
            counted from 0.
        *mixers: the transforms and layers to drive; a `ManifoldMixup` group drives
            every point it has when the scheduler is made.
        attribute: None (default): the mixing as a whole, as above. One setting's
            name drives it alone: "alpha" (mixup's alpha only), a method's alpha
            ("<method>_alpha": "cutmix_alpha", "gridmix_alpha", ...), "switch_prob" or
            "prob". Use one scheduler per setting.
        verbose: 1 prints the value when it changes.

    Each epoch logs (in `History`) the first mixer's value of the setting driven:
    `mixup_<attribute>`, or by default `mixup_alpha` (mixup's alpha as set; 0 for a
    mixer without mixup) and `mixup_on` (1.0 or 0.0). Values are validated like the
    constructor argument they set.

    Raises:
        ValueError: no mixers, or an unknown `attribute`; at an epoch start, a value
            the setting does not take, or a default scheduler and a scheduler of one
            method's alpha driving the same mixer.
        TypeError: a mixer without that setting.

    Examples:
        >>> transform = MixupTransform(alpha=1.0, cutmix_alpha=1.0)
        >>> schedule = alpha_schedule(1.0, warmup_epochs=1, epochs=4, off_for_last=1)
        >>> scheduler = AlphaScheduler(schedule, transform)
        >>> scheduler.on_epoch_begin(3)  # the last epoch: nothing mixes
        >>> transform.alpha, transform.cutmix_alpha
        (0.0, 0.0)
        >>> scheduler.on_epoch_begin(1)
        >>> transform.alpha, transform.cutmix_alpha
        (1.0, 1.0)
        >>> other = MixupTransform(alpha=1.0, cutmix_alpha=1.0)
        >>> cutmix_later = AlphaScheduler(lambda epoch: 1.0 if epoch >= 5 else 0.0, other,
        ...                               attribute="cutmix_alpha")  # CutMix's alpha alone
    """

    def __init__(
        self,
        schedule: Callable[[int], float],
        *mixers: keras_mixup.MixupTransform | keras_mixup.MixupLayer,
        attribute: str | None = None,
        verbose: int = 0,
    ):
        super().__init__()
        mixers = tuple(
            point
            for mixer in mixers
            for point in (_group_points(mixer) if isinstance(mixer, ManifoldMixup) else (mixer,))
        )
        validate_scheduler(mixers, "alpha" if attribute is None else attribute, SCHEDULABLE)
        self.schedule = schedule
        self.mixers = mixers
        self.attribute = attribute
        self.verbose = verbose
        self._current = self._on = self._was_on = None
        # the whole mixing: each mixer's alphas when on, and whether mixup's follows
        self._when_on = None
        if attribute is None:
            self._when_on = [_alphas_when_on(mixer) for mixer in mixers]

    @property
    def _log_name(self) -> str:
        return f"mixup_{self.attribute or 'alpha'}"

    @property
    def _owns_alphas(self) -> bool:
        """Whether this scheduler sets methods' alphas (the default sets them all)."""
        return self.attribute is None or self.attribute.endswith("alpha")

    def on_train_begin(self, logs=None):
        for mixer in self.mixers:
            _ACTIVE.setdefault(mixer, weakref.WeakSet()).add(self)

    def _check_alone(self) -> None:
        """Raises where a default scheduler and another that sets an alpha drive one mixer
        in this `fit`: which of them wins would depend on the callbacks' order."""
        if not self._owns_alphas or not self.params:  # called outside a fit
            return
        for mixer in self.mixers:
            others = [  # the same fit's callbacks share one params dict
                s
                for s in _ACTIVE.get(mixer, ())
                if s is not self and s._owns_alphas and s.params is self.params
            ]
            if others and (self.attribute is None or any(s.attribute is None for s in others)):
                names = sorted(repr(s.attribute or "the mixing as a whole") for s in others)
                raise user_error(
                    ValueError,
                    f"AlphaScheduler(attribute={self.attribute!r}) and another AlphaScheduler "
                    f"driving {', '.join(names)} are set on the same {type(mixer).__name__} "
                    "in one fit: a default AlphaScheduler sets every method's alpha, so the "
                    "result would depend on the callbacks' order. Use the default scheduler "
                    "alone, or one scheduler per alpha (attribute='alpha', 'cutmix_alpha', ...).",
                )

    def on_epoch_begin(self, epoch, logs=None):
        self._check_alone()
        value = self.schedule(epoch)
        try:
            if self.attribute is None:
                value = validate_alpha(value)
                for mixer, (alphas, follows) in zip(self.mixers, self._when_on, strict=True):
                    if value == 0:
                        mixer.runtime.set(**dict.fromkeys(alphas, 0.0))
                    else:
                        mixer.runtime.set(**{**alphas, **({"alpha": value} if follows else {})})
                self._on = float(value > 0)
                value = self.mixers[0].alpha
            else:
                for mixer in self.mixers:
                    setattr(mixer, self.attribute, value)  # validates
                value = getattr(self.mixers[0], self.attribute)
        except (TypeError, ValueError) as error:
            raise type(error)(f"AlphaScheduler: schedule({epoch}) = {value!r}. {error}") from None
        if self.verbose and (value, self._on) != (self._current, self._was_on):
            state = "mixing off" if self.attribute is None and not self._on else f"{value:g}"
            print(f"\nEpoch {epoch + 1}: {self._log_name} = {state}")
        self._current, self._was_on = value, self._on

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs[self._log_name] = self._current
            if self.attribute is None:
                logs["mixup_on"] = self._on


# the schedulers of each mixer that a `fit` has started (weakly: they go with their fit)
_ACTIVE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _alphas_when_on(mixer) -> tuple[dict, bool]:
    """The alphas of every method `mixer` traces, mixup's included, as it was built
    (where a schedule has taken one to 0, the value it was built with), and whether
    mixup's alpha follows the schedule: where the mixer was built to mix with mixup,
    or with nothing else (a warm-up from alpha 0)."""
    names = [method.alpha for method in METHODS if mixer.spec.traces(method.alpha)]
    alphas = mixer.spec.config(*names)
    others = any(alphas[name] > 0 for name in names if name != "alpha")
    return alphas, alphas["alpha"] > 0 or not others


def _group_points(group: ManifoldMixup) -> list:
    """A group's points, to schedule together (each holds its run-time settings)."""
    group.followed_layer  # noqa: B018 (raises where the group has no point yet)
    return list(group.points)
