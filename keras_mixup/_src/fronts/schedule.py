"""Changing alpha during training: warm-up without mixup, mixup off for the last epochs.

`MixupTransform` and `MixupLayer` read alpha from a variable in their traced
code, so setting `mixer.alpha = value` between epochs takes effect at the next
batch they mix, without retracing or rebuilding the pipeline. alpha = 0 means
no mixing (the transform skips the blend; the layer blends with lambda = 1,
which leaves inputs and targets exactly as they are).

`AlphaScheduler` is the Keras callback that does it at the start of every
epoch; `alpha_schedule` builds the common schedules:

    schedule = alpha_schedule(0.2, warmup_epochs=5)                # speech commands (Fig. 4)
    schedule = alpha_schedule(1.0, epochs=200, off_for_last=10)    # timm's "mixup off" end
    model.fit(dataset.apply(transform), epochs=200,
              callbacks=[AlphaScheduler(schedule, transform)])

Timing: Keras calls `on_epoch_begin` before it creates the epoch's iterator, so
with a finite dataset every batch of epoch `e` uses `schedule(e)`. With an
infinite (repeated) dataset and `steps_per_epoch`, batches already prefetched
when the epoch starts were mixed with the previous alpha.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import keras

from keras_mixup._src.core.options import RUNTIME as SCHEDULABLE
from keras_mixup._src.core.validation import (
    validate_alpha,
    validate_epoch_count,
    validate_schedule_end,
    validate_scheduler,
)

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
    """Sets alpha (or another run-time setting) of `MixupTransform` / `MixupLayer`
    objects at every epoch start.

    Args:
        schedule: function `epoch -> value` (e.g. from `alpha_schedule`), epochs
            counted from 0.
        *mixers: the transforms and layers to drive.
        attribute: the setting to drive: "alpha" (default), "cutmix_alpha",
            "switch_prob" or "prob". Use one scheduler per setting.
        verbose: 1 prints the value when it changes.

    The value of each epoch is logged as `mixup_<attribute>` (e.g. `mixup_alpha`,
    in `History`). The value is validated like the constructor argument.

    Raises:
        ValueError: no mixers, or an unknown `attribute`.
        TypeError: a mixer without that setting.

    Examples:
        >>> transform = MixupTransform(alpha=1.0, cutmix_alpha=1.0)
        >>> warm_up = AlphaScheduler(alpha_schedule(1.0, warmup_epochs=2), transform)
        >>> cutmix_later = AlphaScheduler(lambda epoch: 1.0 if epoch >= 5 else 0.0, transform,
        ...                               attribute="cutmix_alpha")
    """

    def __init__(
        self,
        schedule: Callable[[int], float],
        *mixers: keras_mixup.MixupTransform | keras_mixup.MixupLayer,
        attribute: str = "alpha",
        verbose: int = 0,
    ):
        super().__init__()
        validate_scheduler(mixers, attribute, SCHEDULABLE)
        self.schedule = schedule
        self.mixers = mixers
        self.attribute = attribute
        self.verbose = verbose
        self._current = None

    def on_epoch_begin(self, epoch, logs=None):
        value = self.schedule(epoch)
        for mixer in self.mixers:
            try:
                setattr(mixer, self.attribute, value)  # validates
            except (TypeError, ValueError) as error:
                raise type(error)(
                    f"AlphaScheduler: schedule({epoch}) = {value!r}. {error}"
                ) from None
        value = getattr(self.mixers[0], self.attribute)
        if self.verbose and value != self._current:
            print(f"\nEpoch {epoch + 1}: mixup {self.attribute} = {value:g}")
        self._current = value

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs[f"mixup_{self.attribute}"] = self._current
