"""The methods a mixer composes: `methods=[Mixup(0.8), CutMix(1.0)]` and `method_probs`, or
the shortcuts of the paper and of timm (`alpha`, `num_mixed`, `cutmix_alpha`,
`exact_cutmix_weight`, `switch_prob`), turned into the mixer's options (`MixSpec`'s
fields), and back into methods for a configuration. Every front (`MixupTransform`,
`MixupLayer`, `sample_mix_params`) composes here.

The choice among the methods (per batch, or per example with `per_example`):
`method_probs` gives each listed method's probability (default: equal), renormalised over
the methods whose alpha is > 0 at the step; the shortcut `switch_prob = p` is `[1 - p, p]`
for mixup and CutMix (the sampler draws the same for both forms, bit for bit).
"""

from __future__ import annotations

import keras

from keras_mixup._src.core.methods import CLASSES, METHODS, MixingMethod
from keras_mixup._src.core.options import OPTIONS
from keras_mixup._src.core.validation import user_error, validate_shares

# the shortcuts, with their values where a front leaves them at None (no methods=)
SHORTCUTS = {
    "alpha": 1.0,
    "num_mixed": 2,
    "cutmix_alpha": 0.0,
    "exact_cutmix_weight": True,
    "switch_prob": 0.5,
}
_INDEX = {method.name: index for index, method in enumerate(METHODS)}


def _method(value, owner: str) -> MixingMethod:
    if isinstance(value, dict):  # a configuration's entry (keras.saving's serialization)
        value = keras.saving.deserialize_keras_object(value)
    if isinstance(value, MixingMethod):
        return value
    kind = type(value)
    if kind.__module__.startswith("keras") and kind.__name__ in ("MixUp", "CutMix"):
        raise user_error(
            TypeError,
            f"{owner}: `methods` got keras.layers.{kind.__name__}, Keras's preprocessing "
            f"layer; it takes keras_mixup's method classes, e.g. "
            f"keras_mixup.methods.{'Mixup' if kind.__name__ == 'MixUp' else 'CutMix'}(alpha=...).",
        )
    names = ", ".join(cls.__name__ for cls in CLASSES.values())
    raise user_error(
        TypeError,
        f"{owner}: each of `methods` must be one of keras_mixup.methods' classes ({names}); "
        f"got {value!r}.",
    )


def compose(owner: str, methods, method_probs, shortcuts: dict) -> tuple[dict, tuple | None]:
    """`(options, listed)`: the mixer's options (`MixSpec` fields) for `methods` and
    `method_probs`, or, with `methods=None`, for the `shortcuts` (`SHORTCUTS`' names; None:
    the default); and the names of the methods listed (None: built with the shortcuts).

    Raises:
        TypeError: `methods` not a list of method objects (Keras's `MixUp` / `CutMix`
            layers named); a shortcut given beside `methods`.
        ValueError: no method or one twice; `method_probs` without `methods`, of another
            length, negative, not finite or summing to 0.
    """
    if methods is None:
        if method_probs is not None:
            raise user_error(
                ValueError,
                f"{owner}: `method_probs` gives the probabilities of the `methods` listed; "
                "pass methods=[...] with it (or switch_prob with alpha and cutmix_alpha).",
            )
        options = {name: SHORTCUTS[name] if shortcuts.get(name) is None else shortcuts[name]
                   for name in SHORTCUTS}  # fmt: skip
        return options, None
    given = sorted(name for name, value in shortcuts.items() if value is not None)
    if given:
        raise user_error(
            TypeError,
            f"{owner}: {', '.join(f'`{name}`' for name in given)} "
            f"{'is a shortcut' if len(given) == 1 else 'are shortcuts'} for "
            "methods=[Mixup(alpha, num_mixed), CutMix(cutmix_alpha, exact_cutmix_weight)]; "
            "with `methods`, give each method's options to its class (and the choice as "
            "method_probs).",
        )
    if isinstance(methods, (MixingMethod, dict)) or not hasattr(methods, "__iter__"):
        raise user_error(
            TypeError, f"{owner}: `methods` must be a list of methods; got {methods!r}."
        )
    methods = [_method(value, owner) for value in methods]
    names = [method.method.name for method in methods]
    if not methods or len(set(names)) != len(names):
        raise user_error(
            ValueError,
            f"{owner}: `methods` must list each method once, at least one; got {methods!r}.",
        )
    probs = validate_shares(method_probs, len(methods), "method_probs", "methods listed", owner)
    options = {"alpha": 0.0}  # no mixup unless listed
    for method in methods:
        options.update(method.options())
    shares = [0.0] * len(METHODS)
    for name, prob in zip(names, probs, strict=True):
        shares[_INDEX[name]] = prob
    return {**options, "method_probs": tuple(shares)}, tuple(names)


def mixer_options(owner: str, methods, method_probs, shortcuts: dict, removed: dict):
    """`(options, listed)` for a front: the mixer's options from `compose`, and the names
    of the methods listed (None: built with the shortcuts), for its configuration.

    Raises:
        TypeError: `removed` holds keywords the front does not take (`removed_keywords`).
    """
    if removed:
        raise removed_keywords(owner, removed, shortcuts)
    return compose(owner, methods, method_probs, shortcuts)


def _from_options(cls: type[MixingMethod], config: dict) -> MixingMethod:
    """The method of class `cls` with its options read from `config` (by table name)."""
    return cls(**{option.argument: config[option.name] for option in cls.method.options})


def listed_methods(config: dict) -> list[MixingMethod]:
    """The methods whose options `config` (a mixer's options by name) holds, with those
    options: the methods turned on (alpha > 0), mixup always where nothing is."""
    config = {**{name: option.default for name, option in OPTIONS.items()}, **config}
    methods = [
        _from_options(cls, config) for cls in CLASSES.values() if config[cls.method.alpha] > 0
    ]
    return methods or [CLASSES["mixup"](config["alpha"])]


def methods_config(spec, listed: tuple[str, ...] | None) -> dict:
    """The methods' part of a front's configuration: the shortcuts' values (a front
    built with them, `listed=None`), or `methods` (serialized, in the registry's order)
    and `method_probs` for the `listed` method names."""
    if listed is None:
        return spec.config(*SHORTCUTS)
    config = spec.config()
    methods = [_from_options(cls, config) for name, cls in CLASSES.items() if name in listed]
    return {
        "methods": [keras.saving.serialize_keras_object(method) for method in methods],
        "method_probs": [spec.method_probs[_INDEX[m.method.name]] for m in methods],
    }


def removed_keywords(owner: str, keywords: dict, shortcuts: dict) -> Exception:
    """The error for `keywords` a front does not take: the method options of the
    development versions of 0.3.0 (`gridmix_alpha`, `fmix_decay_power`, ...) name the
    `methods=[...]` form that replaces them, with the `shortcuts` given beside them;
    anything else is an unknown keyword."""
    moved = {name for name in keywords if name in OPTIONS and OPTIONS[name].owner != "core"}
    unknown = sorted(set(keywords) - moved)
    if unknown:
        return TypeError(f"{owner} got unexpected keyword argument(s) {unknown}.")
    config = {**compose(owner, None, None, shortcuts)[0], **keywords}
    listed = listed_methods(config)
    form = f"methods={listed!r}"
    cutting = [m for m in listed if m.method.cuts]
    if cutting and isinstance(listed[0], CLASSES["mixup"]):  # switch_prob's shares
        switch = config["switch_prob"]
        probs = [1 - switch] + [switch / len(cutting)] * len(cutting)
        if probs != [1 / len(listed)] * len(listed):  # not the default: equally likely
            form += f", method_probs={probs!r}"
    return user_error(
        TypeError,
        f"{owner}: {', '.join(f'`{name}`' for name in sorted(moved))} moved to the method "
        f"classes of keras_mixup.methods: pass {form} instead (and no alpha / cutmix_alpha "
        "/ switch_prob shortcut beside methods).",
    )
