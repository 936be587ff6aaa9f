"""Op level on the Keras backend (JAX or PyTorch), no TensorFlow needed: one mixup call on a
batch already on the device, against one read+write pass of the batch (the copy limit).

Run by `python -m benchmarks --only op` when KERAS_BACKEND is jax or torch (on a GPU machine
without TensorFlow too). Candidates: keras_mixup's blend with given parameters, its draw
alone, draw + blend as `MixupLayer` does it in a training step (jitted on JAX, eager on
PyTorch, where the draw runs on the host), the recipe (mixup 0.8 + CutMix 1.0, switch 0.5)
CutMix and k = 3; peers when installed: `keras.layers.MixUp` (JAX, jitted, explicit seed), timm's
`Mixup`, kornia's `RandomMixUpV2` and `RandomCutMixV2` and torchvision's v2 `MixUp` (PyTorch;
kornia and torchvision on the same batch channels first).
"""

from __future__ import annotations

import keras
import numpy as np

from benchmarks.common import interleaved_medians, print_table
from keras_mixup import MixupLayer, sample_mix_params
from keras_mixup._src.bindings.ops import KERAS
from keras_mixup._src.core.mixing import blend_tensor
from keras_mixup._src.fronts.eager import params_for

CLASSES = 1000


def _on_gpu() -> bool:
    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        return jax.devices()[0].platform != "cpu"
    import torch

    return torch.cuda.is_available()


def _blocking(fn):
    """`fn` made to return only when its device work is done."""
    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        return lambda: jax.block_until_ready(fn())
    import torch

    if torch.cuda.is_available():

        def run():
            out = fn()
            torch.cuda.synchronize()
            return out

        return run
    return fn


def _layer_step(layer, x):
    """draw + blend as in a training step: jitted with the layer's state on JAX, eager on
    PyTorch."""
    layer(x, training=True)  # builds, and runs the eager path once
    if keras.backend.backend() == "jax":
        import jax

        state = [v.value for v in layer.non_trainable_variables]
        step = jax.jit(lambda x, state: layer.stateless_call([], state, x, training=True)[0])
        return lambda: step(x, state)
    return lambda: layer(x, training=True)


def _draw_only(layer, x):
    first = x
    if keras.backend.backend() == "jax":
        import jax

        seed = keras.ops.convert_to_tensor(np.array([1, 2], "int32"))
        values = layer.runtime.keras_values()
        draw = jax.jit(
            lambda s: sample_mix_params(s, x.shape[0], values["alpha"], ops=KERAS).mix_weight
        )
        return lambda: draw(seed)
    return lambda: layer._step_params(x, first)


def _peers(x, labels) -> dict:
    backend = keras.backend.backend()
    found = {}
    if backend == "jax":
        import jax

        peer = keras.layers.MixUp(alpha=0.8)
        one_hot = keras.ops.one_hot(labels, CLASSES)

        def keras_mixup_layer(images, targets, seed):
            data = {"images": images, "labels": targets}
            transformation = peer.get_random_transformation(data, training=True, seed=seed)
            return (
                peer.transform_images(images, transformation),
                peer.transform_labels(targets, transformation),
            )

        jitted = jax.jit(keras_mixup_layer)
        key = jax.random.PRNGKey(0)
        found["keras.layers.MixUp (jit, explicit seed)"] = lambda: jitted(x, one_hot, key)
        return found
    import torch

    try:
        from timm.data import Mixup

        timm_mixup = Mixup(mixup_alpha=0.8, num_classes=CLASSES, mode="batch")
        found["timm Mixup (in place, batch mode)"] = lambda: timm_mixup(x.clone(), labels)
    except ImportError:
        pass
    try:
        from kornia.augmentation import RandomCutMixV2, RandomMixUpV2

        channels_first = x.permute(0, 3, 1, 2).contiguous()
        ids = labels.long()
        kornia_mixup = RandomMixUpV2(p=1.0, data_keys=["input", "class"])
        found["kornia RandomMixUpV2"] = lambda: kornia_mixup(channels_first, ids)
        kornia_cutmix = RandomCutMixV2(p=1.0, use_correct_lambda=True, data_keys=["input", "class"])
        found["kornia RandomCutMixV2"] = lambda: kornia_cutmix(channels_first, ids)
    except ImportError:
        pass
    try:
        from torchvision.transforms import v2

        tv = v2.MixUp(alpha=0.8, num_classes=CLASSES)
        channels_first = x.permute(0, 3, 1, 2).contiguous()
        found["torchvision v2 MixUp"] = lambda: tv(channels_first, labels)
    except ImportError:
        pass
    del torch
    return found


def run(quick: bool) -> dict:
    backend = keras.backend.backend()
    gpu = _on_gpu()
    shapes = {"cifar": (128, 32, 32, 3), "imagenet": (256 if gpu else 32, 224, 224, 3)}
    rounds, seconds = (1, 0.1) if quick else (7, 0.5)
    rng = np.random.default_rng(0)
    results = []
    for shape_name, shape in shapes.items():
        x = keras.ops.convert_to_tensor(rng.random(shape, dtype=np.float32))
        labels = keras.ops.convert_to_tensor(rng.integers(0, CLASSES, shape[0]).astype("int32"))
        host_params = sample_mix_params(np.array([3, 4], np.int32), shape[0], 0.8)
        params = params_for(host_params, ops=KERAS)
        calls = {
            "copy limit (one read + write pass)": _jit(lambda t: t * 2.0, x),
            "keras_mixup blend, parameters given": _jit(
                lambda t, p=params: blend_tensor(t, p, ops=KERAS), x
            ),
            "keras_mixup draw only": _draw_only(MixupLayer(alpha=0.8, seed=0, inputs_only=True), x),
            "keras_mixup draw + blend (MixupLayer step)": _layer_step(
                MixupLayer(alpha=0.8, seed=0, inputs_only=True), x
            ),
            "keras_mixup mixup 0.8 + CutMix 1.0, switch 0.5": _layer_step(
                MixupLayer(alpha=0.8, cutmix_alpha=1.0, seed=0, inputs_only=True), x
            ),
            "keras_mixup CutMix": _layer_step(
                MixupLayer(alpha=0.0, cutmix_alpha=1.0, seed=0, inputs_only=True), x
            ),
            "keras_mixup k=3": _layer_step(
                MixupLayer(alpha=0.8, num_mixed=3, seed=0, inputs_only=True), x
            ),
            **_peers(x, labels),
        }
        timings = interleaved_medians(
            {name: _blocking(fn) for name, fn in calls.items()},
            rounds,
            seconds,
            base="copy limit (one read + write pass)",
        )
        rows = []
        for name, t in timings.items():
            ratio = t["ratio_to_base"]["median"]
            rows.append([name, f"{t['median_s'] * 1e3:.3f}", f"{ratio:.2f}x"])
            results.append(
                {
                    "backend": backend,
                    "shape": shape_name,
                    "batch_shape": list(shape),
                    "implementation": name,
                    "seconds": t,
                    "ratio_to_copy_limit": ratio,
                }
            )
        print_table(
            f"Op level on {backend}: {shape_name} batch {shape}, float32",
            ["implementation", "ms (median)", "vs copy limit (median of round ratios)"],
            rows,
        )
    return {"rounds": rounds, "seconds_per_round": seconds, "results": results}


def _jit(fn, x):
    if keras.backend.backend() == "jax":
        import jax

        jitted = jax.jit(fn)
        return lambda: jitted(x)
    return lambda: fn(x)
