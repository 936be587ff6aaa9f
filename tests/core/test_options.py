"""The option table (`keras_mixup/_src/core/options.py`) against what uses it: `MixSpec`'s
fields, both fronts' signatures, docstrings and configurations, the run-time
variables, and the public sampler's names (the old names deprecated)."""

import dataclasses
import inspect

import numpy as np
import pytest
import tensorflow as tf

import keras_mixup
from keras_mixup import MixupLayer, MixupTransform, sample_mix_params
from keras_mixup._src.core.composition import SHORTCUTS
from keras_mixup._src.core.methods import METHODS
from keras_mixup._src.core.options import OPTIONS, RUNTIME, options_of
from keras_mixup._src.core.spec import MixSpec
from keras_mixup._src.fronts.runtime import RuntimeSettings

FRONTS = {"transform": MixupTransform, "layer": MixupLayer}


def test_mixspec_has_a_field_per_option_with_the_table_s_default():
    fields = {
        f.name: f.default for f in dataclasses.fields(MixSpec) if not f.name.startswith("built_")
    }
    assert set(fields) == set(OPTIONS)
    for name, option in OPTIONS.items():
        assert fields[name] == option.default, name


@pytest.mark.parametrize("front", FRONTS)
def test_each_front_takes_its_options_with_the_table_s_defaults(front):
    """The core's options with the table's defaults; the methods through `methods` and
    `method_probs`, and the shortcuts (None: not given); no method's own option."""
    parameters = inspect.signature(FRONTS[front].__init__).parameters
    for name in options_of(front):
        assert name in parameters, f"{FRONTS[front].__name__} lacks `{name}`"
        assert parameters[name].default == OPTIONS[name].default, name
        assert parameters[name].kind is inspect.Parameter.KEYWORD_ONLY
    for name in (*SHORTCUTS, "methods", "method_probs"):
        assert parameters[name].default is None, name
    untaken = set(OPTIONS) - set(options_of(front)) - set(SHORTCUTS) - {"method_probs"}
    assert not untaken & set(parameters), untaken & set(parameters)
    assert {m.name for m in METHODS} - {"mixup", "cutmix"} and not any(
        name.startswith(("gridmix", "fmix", "smoothmix", "resizemix", "mosaic"))
        for name in parameters
    )


@pytest.mark.parametrize("front", FRONTS)
def test_each_front_documents_every_option_it_takes(front):
    doc = inspect.getdoc(FRONTS[front])
    taken = (*options_of(front), *SHORTCUTS, "methods", "method_probs")
    missing = [name for name in taken if f"{name}:" not in doc]
    assert not missing, f"{FRONTS[front].__name__}'s docstring lacks {missing}"


def test_each_front_s_configuration_holds_its_options_and_rebuilds_it():
    for front, cls in FRONTS.items():
        instance = cls(alpha=0.3, cutmix_alpha=0.7, switch_prob=0.2, num_classes=4)
        config = instance.get_config()
        assert set(options_of(front)) | set(SHORTCUTS) <= set(config), front
        rebuilt = cls.from_config(config) if hasattr(cls, "from_config") else cls(**config)
        assert rebuilt.spec == instance.spec


def test_the_run_time_options_are_the_table_s_and_each_has_a_property():
    assert set(RUNTIME) == {name for name, o in OPTIONS.items() if o.runtime}
    assert RUNTIME[:4] == ("alpha", "cutmix_alpha", "switch_prob", "prob")  # saved order
    # the order of the variables saved since 0.3.0's methods: a new method's alpha goes last
    assert RUNTIME[4:10] == (
        "gridmix_alpha",
        "fmix_alpha",
        "smoothmix_alpha",
        "resizemix_alpha",
        "mosaic_alpha",
        "saliencymix_alpha",
    )
    for name in RUNTIME:
        assert isinstance(getattr(RuntimeSettings, name), property), name
    assert keras_mixup.AlphaScheduler  # schedules read the same names (schedule.py)


BAD = {
    "alpha": (-1.0, "`alpha`"),
    "cutmix_alpha": (float("nan"), "`cutmix_alpha`"),
    "gridmix_alpha": (-2.0, "`gridmix_alpha`"),
    "gridmix_holes": ((0, 3), "`gridmix_holes`"),
    "fmix_alpha": (float("inf"), "`fmix_alpha`"),
    "fmix_decay_power": (0.0, "`fmix_decay_power`"),
    "fmix_max_soft": (0.6, "`fmix_max_soft`"),
    "fmix_reformulate": ("no", "`fmix_reformulate`"),
    "smoothmix_alpha": (-0.5, "`smoothmix_alpha`"),
    "smoothmix_sigma": ((0.5, 0.25), "`smoothmix_sigma`"),
    "resizemix_alpha": (-0.1, "`resizemix_alpha`"),
    "resizemix_scope": ((0.0, 0.5), "`resizemix_scope`"),
    "mosaic_alpha": (-0.1, "`mosaic_alpha`"),
    "mosaic_offset": ((0.5, 1.5), "`mosaic_offset`"),
    "switch_prob": (1.5, "`switch_prob`"),
    "method_probs": ((1.0, -1.0), "`method_probs`"),
    "prob": ("half", "`prob`"),
    "per_example": ("yes", "`per_example`"),
    "num_mixed": (1, "`num_mixed`"),
    "exact_cutmix_weight": (1, "`exact_cutmix_weight`"),
    "num_classes": (0, "num_classes"),
    "targets": ("soft", "targets"),
    "pairing": ("nearest", "pairing"),
    "c_mixup_bandwidth": (0.0, "`c_mixup_bandwidth`"),
    "label_smoothing": (2.0, "label_smoothing"),
    "ignore_class": (-1, "ignore_class"),
    "mix_across_devices": ("no", "`mix_across_devices`"),
    "bounding_box_format": ("xywhz", "bounding_box_format"),
    "min_box_visibility": (-0.1, "`min_box_visibility`"),
    "data_format": ("nhwc", "data_format"),
}
# every method's alpha (`alpha_option`) takes the same check: a negative one for those not above
BAD.update(
    {
        name: (-1.0, f"`{name}`")
        for name, option in OPTIONS.items()
        if option.argument == "alpha" and name not in BAD
    }
)


def test_every_option_has_a_bad_value_in_this_test():
    assert set(BAD) == set(OPTIONS)


@pytest.mark.parametrize("name", sorted(BAD))
def test_each_option_s_check_names_it_and_the_value(name):
    value, words = BAD[name]
    with pytest.raises((ValueError, TypeError)) as raised:
        MixSpec(**{name: value})
    assert words in str(raised.value) and repr(value).strip("'") in str(raised.value)


# ---------------------------------------------------------------- the public sampler


def test_the_public_sampler_uses_the_fronts_names_and_defaults():
    parameters = inspect.signature(sample_mix_params).parameters
    for name in ["per_example", "pairing", "c_mixup_bandwidth", "prob"]:
        assert parameters[name].default == OPTIONS[name].default, name
    for name in (*SHORTCUTS, "methods", "method_probs"):
        assert parameters[name].default is None, name


SEED = np.array([3, 8], "int32")
CLASSES = np.array([0, 1, 1, 0, 2, 2, 1, 0], "int32")


def _same(a, b):
    for x, y in zip(a, b, strict=True):
        assert (x is None) == (y is None)
        if x is not None:
            np.testing.assert_array_equal(x, y)


def test_old_names_warn_and_draw_what_the_new_names_draw():
    new = sample_mix_params(SEED, 8, 1.0, pairing="same_class", labels=CLASSES)
    with pytest.warns(DeprecationWarning, match="`groups` is deprecated"):
        _same(sample_mix_params(SEED, 8, 1.0, groups=CLASSES), new)
    with pytest.warns(DeprecationWarning, match="`groups` is deprecated"):
        _same(sample_mix_params(SEED, 8, 1.0, False, CLASSES), new)  # positional, as before
    cut = dict(cutmix_alpha=1.0, image_size=(6, 6))
    with pytest.warns(DeprecationWarning, match="`exact_area` is deprecated"):
        _same(
            sample_mix_params(SEED, 8, 0.0, exact_area=False, **cut),
            sample_mix_params(SEED, 8, 0.0, exact_cutmix_weight=False, **cut),
        )
    # None is "not given" now (the shortcut's default: no CutMix), no longer deprecated
    _same(sample_mix_params(SEED, 8, 1.0, cutmix_alpha=None), sample_mix_params(SEED, 8, 1.0))


def test_same_class_pairing_reads_class_ids_or_one_hot_labels():
    ids = sample_mix_params(SEED, 8, 1.0, pairing="same_class", labels=tf.constant(CLASSES))
    np.testing.assert_array_equal(CLASSES[np.asarray(ids.permutation)], CLASSES)
    one_hot = np.eye(3, dtype="float32")[CLASSES]
    _same(
        sample_mix_params(SEED, 8, 1.0, pairing="same_class", labels=one_hot),
        sample_mix_params(SEED, 8, 1.0, pairing="same_class", labels=CLASSES),
    )


def test_labels_and_same_class_pairing_come_together():
    with pytest.raises(ValueError, match="pairing='same_class' reads the classes from `labels`"):
        sample_mix_params(SEED, 8, 1.0, pairing="same_class")
    with pytest.raises(ValueError, match="got pairing='random' with labels=a tensor"):
        sample_mix_params(SEED, 8, 1.0, labels=CLASSES)
    with pytest.raises(ValueError, match="pairing"):
        sample_mix_params(SEED, 8, 1.0, pairing="nearest")


def test_cutmix_needs_the_image_size_and_a_python_zero_leaves_it_out():
    with pytest.raises(
        ValueError,
        match=r"`image_size` \(H, W\).*is needed with the methods that paste pixels.*cutmix_alpha=0.5",
    ):
        sample_mix_params(SEED, 8, 1.0, cutmix_alpha=0.5)
    for zero in (0, 0.0, np.float32(0), np.array(0.0)):
        params = sample_mix_params(SEED, 8, 1.0, cutmix_alpha=zero)
        assert params.box is None and params.cut is None
    traced = sample_mix_params(SEED, 8, 1.0, cutmix_alpha=tf.constant(0.0), image_size=(4, 4))
    assert not np.asarray(traced.cut).any()
