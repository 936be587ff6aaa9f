"""The public method classes (`keras_mixup.methods`) and their composition by the fronts
(`methods=[...]`, `method_probs`; issue 42): each class's options are the option table's,
checked and serialized; the methods form draws what the shortcuts draw; the choice follows
`method_probs`; every misuse raises an error that names it."""

import inspect

import keras
import numpy as np
import pytest
from scipy import stats

import keras_mixup
from keras_mixup import MixupLayer, MixupLoss, MixupTransform, sample_mix_params
from keras_mixup import methods as public_methods
from keras_mixup._src.bindings.ops import NUMPY
from keras_mixup._src.core.methods import CLASSES, METHODS
from keras_mixup._src.core.options import OPTIONS
from keras_mixup._src.core.spec import MixSpec
from keras_mixup._src.core.structures import Parts
from keras_mixup.methods import CutMix, FMix, GridMix, Mixup, Mosaic, ResizeMix, SmoothMix

ALL = list(CLASSES.values())  # in the registry's order
SEED = np.array([4, 2], "int32")
IMAGES = np.random.default_rng(0).random((12, 8, 6, 3), dtype="float32")
LABELS = np.arange(12) % 4


def test_every_registered_method_has_one_public_class_exported():
    exported = {getattr(public_methods, name) for name in public_methods.__all__}
    assert exported == set(ALL) | {public_methods.MixingMethod}
    assert [cls.method for cls in ALL] == list(METHODS)
    assert len(set(ALL)) == len(METHODS)
    assert set(keras_mixup.methods.__all__) == {cls.__name__ for cls in ALL} | {"MixingMethod"}
    assert "methods" in keras_mixup.__all__


@pytest.mark.parametrize("cls", ALL, ids=lambda cls: cls.__name__)
def test_a_class_takes_its_method_s_options_with_the_table_s_defaults(cls):
    parameters = inspect.signature(cls).parameters
    options = {option.argument: option for option in cls.method.options}
    assert list(parameters) == list(options)
    assert parameters["alpha"].default == 1.0  # listed: on (the table's 0 is "not listed")
    for argument, option in options.items():
        if argument != "alpha":
            assert parameters[argument].default == option.default, argument
        assert option.name in OPTIONS and f"{argument}:" in inspect.getdoc(cls)
    doc = inspect.getdoc(cls)
    assert "Source:" in doc and "Raises:" in doc and len(doc.splitlines()) < 40


@pytest.mark.parametrize("cls", ALL, ids=lambda cls: cls.__name__)
def test_a_method_is_an_immutable_value_that_serializes_with_keras(cls):
    method = cls(alpha=0.5)
    assert method.alpha == 0.5 and method == cls(0.5) and hash(method) == hash(cls(0.5))
    assert method != cls(0.25) and repr(method).startswith(f"{cls.__name__}(alpha=0.5")
    with pytest.raises(AttributeError, match="immutable"):
        method.alpha = 1.0
    assert cls.from_config(method.get_config()) == method
    config = keras.saving.serialize_keras_object(method)
    assert config["registered_name"] == f"keras_mixup>{cls.__name__}"
    assert keras.saving.deserialize_keras_object(config) == method


BAD = [
    (Mixup, {"alpha": -1.0}, ValueError, "Mixup: `alpha` must be a finite number >= 0"),
    (Mixup, {"num_mixed": 1}, ValueError, "Mixup: `num_mixed` must be an integer >= 2"),
    (CutMix, {"exact_weight": 1}, TypeError, "CutMix: `exact_weight` must be True or False"),
    (GridMix, {"holes": (0, 3)}, ValueError, r"GridMix: `holes` must be \(low, high\)"),
    (FMix, {"decay_power": 0.0}, ValueError, "FMix: `decay_power`"),
    (FMix, {"max_soft": 0.6}, ValueError, "FMix: `max_soft`"),
    (SmoothMix, {"sigma": (0.5, 0.25)}, ValueError, "SmoothMix: `sigma` must be"),
    (ResizeMix, {"scope": (0.0, 0.5)}, ValueError, "ResizeMix: `scope` must be"),
    (Mosaic, {"offset": (0.5, 1.5)}, ValueError, "Mosaic: `offset` must be"),
]


@pytest.mark.parametrize("cls, options, kind, words", BAD, ids=lambda v: str(v)[:20])
def test_a_bad_option_names_the_class_the_option_and_the_value(cls, options, kind, words):
    with pytest.raises(kind, match=words) as raised:
        cls(**options)
    assert repr(next(iter(options.values()))) in str(raised.value)


# ---------------------------------------------------------------- the same draws


def _draws(**options):
    params = sample_mix_params(SEED, 64, per_example=True, image_size=(8, 6), **options)
    return {k: np.asarray(v) for k, v in params._asdict().items() if v is not None}


def _same(a, b):
    assert a.keys() == b.keys()
    for key in a:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)


@pytest.mark.parametrize("switch", [0.0, 0.3, 0.5, 1.0])
def test_the_methods_form_draws_what_timm_s_shortcuts_draw(switch):
    shortcuts = _draws(alpha=0.8, cutmix_alpha=1.0, switch_prob=switch)
    _same(_draws(methods=[Mixup(0.8), CutMix(1.0)], method_probs=[1 - switch, switch]), shortcuts)
    if switch == 0.5:  # equally likely by default
        _same(_draws(methods=[CutMix(1.0), Mixup(0.8)]), shortcuts)  # the list's order aside


def test_the_fronts_mix_the_same_in_both_forms():
    old = MixupTransform(alpha=0.4, cutmix_alpha=1.0, num_classes=4, seed=3, per_example=True)
    new = MixupTransform(methods=[Mixup(0.4), CutMix(1.0)], num_classes=4, seed=3, per_example=True)
    for a, b in zip(old(IMAGES, LABELS), new(IMAGES, LABELS), strict=True):
        np.testing.assert_array_equal(a, b)
    assert old.spec.replace(method_probs=new.spec.method_probs) == new.spec


@pytest.mark.parametrize("cls", ALL[2:], ids=lambda cls: cls.__name__)
def test_a_method_alone_is_the_mixer_with_only_its_alpha_on(cls):
    """`methods=[GridMix(a, ...)]` is the mixer of the flat options `gridmix_alpha=a`, ...
    with mixup off: the same spec and, chosen alone, the same draws as the switch rule."""
    method = cls(0.7)
    spec = MixupTransform(methods=[method], num_classes=4, per_example=True).spec
    flat = MixSpec(alpha=0.0, num_classes=4, per_example=True, **method.options())
    assert spec.replace(method_probs=None) == flat and flat.method_probs is None
    parts = Parts(features=IMAGES)
    drawn = [s.draw(SEED, parts, s.runtime_values(), owner="test", ops=NUMPY) for s in (spec, flat)]
    for a, b in zip(*drawn, strict=True):
        assert (a is None) == (b is None)
        if a is not None:
            np.testing.assert_array_equal(a, b)


# ---------------------------------------------------------------- the choice


def _chosen(params, height=8, width=6) -> np.ndarray:
    """0 mixup, 1 CutMix, 2 GridMix, for each row of per-example draws of those three."""
    whole = (params["holes"][:, 0] == height) & (params["holes"][:, 1] == width)
    return np.where(~params["cut"], 0, np.where(whole, 1, 2))


def test_method_probs_set_how_often_each_method_is_chosen():
    n, probs = 6000, [0.2, 0.5, 0.3]
    params = sample_mix_params(
        SEED, n, per_example=True, image_size=(8, 6), methods=[Mixup(1.0), CutMix(1.0), GridMix(1.0)],
        method_probs=probs,
    )  # fmt: skip
    counts = np.bincount(
        _chosen({k: np.asarray(v) for k, v in params._asdict().items() if v is not None}),
        minlength=3,
    )
    assert stats.chisquare(counts, np.array(probs) * n).pvalue > 1e-3
    unnormalised = sample_mix_params(
        SEED, n, per_example=True, image_size=(8, 6), methods=[Mixup(1.0), CutMix(1.0), GridMix(1.0)],
        method_probs=[2.0, 5.0, 3.0],
    )  # fmt: skip
    np.testing.assert_array_equal(np.asarray(unnormalised.cut), np.asarray(params.cut))


def test_a_method_scheduled_to_zero_leaves_the_choice_to_the_others():
    transform = MixupTransform(
        methods=[Mixup(1.0), CutMix(1.0), GridMix(1.0)], method_probs=[0.2, 0.5, 0.3],
        per_example=True, num_classes=4, seed=0,
    )  # fmt: skip
    transform.cutmix_alpha = 0.0
    values = transform.spec.runtime_values()
    parts = Parts(features=np.zeros((400, 8, 6, 3), "float32"))
    params = transform.spec.draw(np.array([1, 2], "int32"), parts, values, owner="t", ops=NUMPY)
    chosen = _chosen({k: np.asarray(v) for k, v in params._asdict().items() if v is not None})
    assert 1 not in chosen and {0, 2} <= set(chosen.tolist())


# ---------------------------------------------------------------- configurations


def test_a_front_built_with_methods_saves_them_and_rebuilds_itself():
    transform = MixupTransform(
        methods=[FMix(1.0, max_soft=0.1), Mixup(0.3)], method_probs=[3, 1], num_classes=4, seed=2
    )
    config = transform.get_config()
    assert "alpha" not in config and "cutmix_alpha" not in config
    assert config["method_probs"] == [1.0, 3.0]  # in the registry's order: mixup first
    rebuilt = MixupTransform(**config)
    assert rebuilt.spec == transform.spec
    assert "methods=[Mixup(alpha=0.3, num_mixed=2), FMix(alpha=1.0" in repr(transform)
    for a, b in zip(transform(IMAGES, LABELS), rebuilt(IMAGES, LABELS), strict=True):
        np.testing.assert_array_equal(a, b)


def test_a_model_with_a_methods_layer_saves_and_loads(tmp_path):
    layer = MixupLayer(methods=[Mixup(0.2), SmoothMix(1.0, sigma=(0.3, 0.4))], seed=0)
    model = keras.Sequential(
        [keras.Input((8, 6, 3)), layer, keras.layers.Flatten(), keras.layers.Dense(4)]
    )
    model.compile(
        optimizer="sgd", loss=MixupLoss("categorical_crossentropy", layer=layer, from_logits=True)
    )
    model.fit(IMAGES, np.eye(4)[LABELS], epochs=1, verbose=0)
    layer.smoothmix_alpha = 0.0  # scheduled off: saved on, with its variable at 0
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    restored = loaded.layers[0]
    assert restored.spec == layer.spec and restored.smoothmix_alpha == 0.0
    assert restored.get_config()["methods"] == layer.get_config()["methods"]


# ---------------------------------------------------------------- errors


def test_a_shortcut_beside_methods_raises():
    with pytest.raises(TypeError, match="`alpha`, `switch_prob` are shortcuts for methods="):
        MixupTransform(methods=[CutMix()], alpha=0.2, switch_prob=0.5)
    with pytest.raises(TypeError, match="`cutmix_alpha` is a shortcut"):
        MixupLayer(methods=[Mixup()], cutmix_alpha=1.0)
    with pytest.raises(TypeError, match="`num_mixed` is a shortcut"):
        sample_mix_params(SEED, 4, methods=[Mixup()], num_mixed=3)


def test_keras_s_own_layers_are_named_when_passed_as_methods():
    with pytest.raises(
        TypeError,
        match=r"keras.layers.CutMix, Keras's preprocessing layer.*keras_mixup.methods.CutMix",
    ):
        MixupTransform(methods=[keras.layers.CutMix()])
    with pytest.raises(TypeError, match=r"keras.layers.MixUp.*keras_mixup.methods.Mixup"):
        MixupLayer(methods=[keras.layers.MixUp()])
    with pytest.raises(TypeError, match="each of `methods` must be one of keras_mixup.methods"):
        MixupTransform(methods=["cutmix"])
    with pytest.raises(TypeError, match="`methods` must be a list of methods"):
        MixupTransform(methods=CutMix())


@pytest.mark.parametrize(
    "methods, probs, words",
    [
        ([], None, "each method once, at least one"),
        ([CutMix(), CutMix(0.5)], None, "each method once"),
        ([Mixup(), CutMix()], [1.0], "give each of the 2 methods listed"),
        ([Mixup(), CutMix()], [1.0, -0.5], "a finite number >= 0"),
        ([Mixup(), CutMix()], [0, 0], "not all 0"),
        ([Mixup(), CutMix()], [1, float("nan")], "finite"),
        (None, [0.5, 0.5], "pass methods=\\[...\\] with it"),
    ],
)
def test_a_bad_composition_is_named(methods, probs, words):
    with pytest.raises((TypeError, ValueError), match=words):
        MixupTransform(methods=methods, method_probs=probs)


def test_a_removed_keyword_shows_the_methods_form_of_the_same_mixer():
    """The method keywords of the 0.3.0 development versions raise with the `methods=`
    form; that form, built, is the mixer the keywords described."""
    old = {"alpha": 0.5, "cutmix_alpha": 1.0, "fmix_alpha": 2.0, "fmix_max_soft": 0.1,
           "switch_prob": 0.6}  # fmt: skip
    with pytest.raises(TypeError, match="moved to the method classes") as raised:
        MixupTransform(**old, num_classes=4)
    message = str(raised.value)
    assert "`fmix_alpha`, `fmix_max_soft`" in message
    form = message[message.index("pass ") + 5 : message.index(" instead")]
    namespace = {cls.__name__: cls for cls in ALL}
    built = eval(
        f"MixupTransform({form}, num_classes=4)", {"MixupTransform": MixupTransform, **namespace}
    )
    flat = MixSpec(num_classes=4, **old)
    assert built.spec.replace(method_probs=None, switch_prob=0.6) == flat
    others = (0.0,) * (len(METHODS) - 4)  # GridMix's and the methods after FMix
    assert built.spec.method_probs == pytest.approx((0.4, 0.3, 0.0, 0.3, *others))
    with pytest.raises(ValueError, match="chooses by `method_probs`"):
        built.switch_prob = 0.2  # the choice is method_probs': not silently ignored
    with pytest.raises(
        TypeError,
        match=r"methods=\[Mixup\(alpha=1.0, num_mixed=2\), Mosaic\(.*\)\], method_probs=\[0.7, 0.3\] instead",
    ):
        MixupTransform(mosaic_alpha=1.0, switch_prob=0.3)  # one method beside mixup
    with pytest.raises(TypeError, match=r"Mosaic\(alpha=1.0, offset=\(0.25, 0.75\)\)\] instead"):
        MixupTransform(mosaic_alpha=1.0)  # switch 0.5: equally likely, the default
    with pytest.raises(TypeError, match="`gridmix_holes` moved"):
        MixupLayer(gridmix_holes=(2, 4))
    with pytest.raises(TypeError, match="unexpected keyword argument"):
        MixupTransform(cutmix_prob=0.5)
