"""The paper's architectures that keras.applications lacks, in Keras 3.

- `preact_resnet18`: the authors' CIFAR PreAct ResNet-18 (kuangliu's variant):
  3x3 stem, pre-activation basic blocks [2, 2, 2, 2], 1x1 shortcuts on the
  pre-activated input, no final BN-ReLU, average pooling, linear. 11.17M.

Parameter counts are trainable parameters (BatchNorm moving statistics excluded)
for 10 classes (CIFAR) or 1000 (ImageNet); tests/paper/test_image_examples.py checks them.
- `wide_resnet_28_10`: WRN-28-10 (Zagoruyko & Komodakis), pre-activation, 36.5M.
- `densenet_bc_190`: DenseNet-BC, depth 190, growth rate 40, compression 0.5. 25.6M.
- `resnext101_32x4d`, `resnext101_64x4d`: ImageNet ResNeXt-101 (Xie et al.),
  grouped 3x3 convolutions. 44.2M and 83.5M.

Conventions, chosen to match the PyTorch code the paper used: convolutions
without bias, He-normal initialization, BatchNormalization with PyTorch's
momentum 0.9 and epsilon 1e-5, outputs are logits. Every builder takes
`num_classes` and `input_shape`; the pixel normalization, when given, is the
model's first layer, so models take raw [0, 255] (or [0, 1]) images and the
adversarial and in-between evaluators can work in pixel space.

Table 2 and Table 5 options of the PreAct ResNet: `dropout` (one dropout layer
after the ReLU between the two convolutions of every block) and `mixup_layer`
with `mix_stage` (a `keras_mixup.MixupLayer` before residual stage 1..4, or
before the final pooling + dense layer for stage 5: the paper's latent mixing).
"""

from __future__ import annotations

import keras
from keras import layers

DIGITS_CLASSES = 10

BN_MOMENTUM = 0.9  # PyTorch's momentum=0.1 is Keras's 0.9
BN_EPSILON = 1e-5


def _conv(filters, kernel_size, strides=1, groups=1, name=None):
    return layers.Conv2D(
        filters,
        kernel_size,
        strides=strides,
        padding="same",
        groups=groups,
        use_bias=False,
        kernel_initializer="he_normal",
        name=name,
    )


def _bn(name=None):
    return layers.BatchNormalization(momentum=BN_MOMENTUM, epsilon=BN_EPSILON, name=name)


def _inputs(input_shape, normalization):
    """Input, and the normalization layer `(mean, std)` per channel, if any."""
    inputs = keras.Input(input_shape)
    x = inputs
    if normalization is not None:
        mean, std = normalization
        x = layers.Normalization(mean=mean, variance=[s * s for s in std], name="normalize")(x)
    return inputs, x


def _head(x, num_classes):
    x = layers.GlobalAveragePooling2D(name="pool")(x)
    return layers.Dense(num_classes, name="logits")(x)


# --- PreAct ResNet ---------------------------------------------------------------------


def _preact_block(x, filters, strides, dropout, name):
    preact = layers.ReLU(name=f"{name}_relu1")(_bn(f"{name}_bn1")(x))
    if strides != 1 or x.shape[-1] != filters:
        shortcut = _conv(filters, 1, strides, name=f"{name}_shortcut")(preact)
    else:
        shortcut = x
    out = _conv(filters, 3, strides, name=f"{name}_conv1")(preact)
    out = layers.ReLU(name=f"{name}_relu2")(_bn(f"{name}_bn2")(out))
    if dropout:
        out = layers.Dropout(dropout, name=f"{name}_dropout")(out)
    out = _conv(filters, 3, name=f"{name}_conv2")(out)
    return layers.Add(name=f"{name}_add")([out, shortcut])


def preact_resnet(
    num_classes: int,
    input_shape=(32, 32, 3),
    *,
    widths=(64, 128, 256, 512),
    blocks=(2, 2, 2, 2),
    dropout: float = 0.0,
    mixup_layer=None,
    mix_stage: int | None = None,
    normalization=None,
    input_noise: float = 0.0,
    name: str = "preact_resnet",
) -> keras.Model:
    """A PreAct ResNet of basic blocks (the authors' CIFAR variant).

    Args:
        num_classes: outputs (logits).
        input_shape: image shape.
        widths, blocks: filters and number of blocks of each residual stage; the
            first stage keeps the resolution, the others halve it.
        dropout: probability of the dropout layer after the ReLU between the two
            convolutions of each block (Table 2); 0 = no dropout layer.
        mixup_layer: a `keras_mixup.MixupLayer` to insert at `mix_stage`.
        mix_stage: 1..len(blocks): before that residual stage; len(blocks) + 1:
            before the pooling + dense head (Table 5's "Layer 1".."Layer 5").
        normalization: optional `(mean, std)` per channel, applied first.
        input_noise: standard deviation of Gaussian noise added to the normalized
            inputs in training (Table 5's "add Gaussian noise to inputs"); 0 = none.
    """
    if (mixup_layer is None) != (mix_stage is None):
        raise ValueError("`mixup_layer` and `mix_stage` must be given together.")
    if mix_stage is not None and not 1 <= mix_stage <= len(blocks) + 1:
        raise ValueError(
            f"`mix_stage` must be in 1..{len(blocks) + 1} (before a residual stage, or "
            f"{len(blocks) + 1} before the head); got {mix_stage}."
        )
    inputs, x = _inputs(input_shape, normalization)
    if input_noise:
        x = layers.GaussianNoise(input_noise, name="input_noise")(x)
    x = _conv(widths[0], 3, name="stem_conv")(x)
    for stage, (filters, count) in enumerate(zip(widths, blocks, strict=True), start=1):
        if mix_stage == stage:
            x = mixup_layer(x)
        for block in range(count):
            strides = 2 if stage > 1 and block == 0 else 1
            x = _preact_block(x, filters, strides, dropout, name=f"stage{stage}_block{block + 1}")
    if mix_stage == len(blocks) + 1:
        x = mixup_layer(x)
    return keras.Model(inputs, _head(x, num_classes), name=name)


def preact_resnet18(num_classes: int = 10, input_shape=(32, 32, 3), **kwargs) -> keras.Model:
    """PreAct ResNet-18 as in the authors' code: 11.17M parameters for 10 classes."""
    return preact_resnet(num_classes, input_shape, name="preact_resnet18", **kwargs)


# --- MLP --------------------------------------------------------------------------------


def mlp(
    num_classes: int,
    input_shape=(28, 28, 1),
    *,
    widths=(512, 512),
    dropout: float = 0.0,
    normalization=None,
    name: str = "mlp",
) -> keras.Model:
    """A fully connected ReLU network on the flattened image, outputs logits.

    The memorization experiments of Zhang et al. 2017 ("Understanding deep learning requires
    rethinking generalization", Section 2) fit random labels with MLPs too; on a CPU it is the
    model that memorizes corrupted Fashion-MNIST labels within minutes (Table 2 on real images).

    Args:
        widths: units of each hidden layer.
        dropout: probability of a dropout layer after each hidden ReLU; 0 = none (Table 2).
        normalization: optional `(mean, std)` per channel, applied first.
    """
    inputs, x = _inputs(input_shape, normalization)
    x = layers.Flatten(name="flatten")(x)
    for index, units in enumerate(widths, start=1):
        x = layers.Dense(units, activation="relu", kernel_initializer="he_normal",
                         name=f"dense{index}")(x)  # fmt: skip
        if dropout:
            x = layers.Dropout(dropout, name=f"dropout{index}")(x)
    return keras.Model(inputs, layers.Dense(num_classes, name="logits")(x), name=name)


# --- Wide ResNet ---------------------------------------------------------------------------


def wide_resnet(
    num_classes: int,
    input_shape=(32, 32, 3),
    *,
    depth: int = 28,
    width: int = 10,
    dropout: float = 0.0,
    normalization=None,
) -> keras.Model:
    """WRN-depth-width: three groups of (depth - 4) / 6 pre-activation blocks."""
    if (depth - 4) % 6:
        raise ValueError(f"WRN depth must be 6n + 4; got {depth}.")
    per_group = (depth - 4) // 6
    inputs, x = _inputs(input_shape, normalization)
    x = _conv(16, 3, name="stem_conv")(x)
    for group, filters in enumerate((16 * width, 32 * width, 64 * width), start=1):
        for block in range(per_group):
            strides = 2 if group > 1 and block == 0 else 1
            # The same pre-activation block as the PreAct ResNet (the shortcut is a 1x1
            # convolution exactly where the width or resolution changes).
            x = _preact_block(x, filters, strides, dropout, name=f"group{group}_block{block + 1}")
    x = layers.ReLU(name="final_relu")(_bn("final_bn")(x))
    return keras.Model(inputs, _head(x, num_classes), name=f"wide_resnet_{depth}_{width}")


def wide_resnet_28_10(num_classes: int = 10, input_shape=(32, 32, 3), **kwargs) -> keras.Model:
    """WRN-28-10: 36.5M parameters for 10 classes."""
    return wide_resnet(num_classes, input_shape, depth=28, width=10, **kwargs)


# --- DenseNet-BC ---------------------------------------------------------------------------


def densenet_bc(
    num_classes: int,
    input_shape=(32, 32, 3),
    *,
    depth: int = 190,
    growth_rate: int = 40,
    compression: float = 0.5,
    normalization=None,
) -> keras.Model:
    """DenseNet-BC for CIFAR: three dense blocks of bottleneck layers."""
    if (depth - 4) % 6:
        raise ValueError(f"DenseNet-BC depth must be 6n + 4; got {depth}.")
    per_block = (depth - 4) // 6
    inputs, x = _inputs(input_shape, normalization)
    x = _conv(2 * growth_rate, 3, name="stem_conv")(x)
    for block in range(1, 4):
        for unit in range(1, per_block + 1):
            name = f"block{block}_unit{unit}"
            out = layers.ReLU(name=f"{name}_relu1")(_bn(f"{name}_bn1")(x))
            out = _conv(4 * growth_rate, 1, name=f"{name}_conv1")(out)
            out = layers.ReLU(name=f"{name}_relu2")(_bn(f"{name}_bn2")(out))
            out = _conv(growth_rate, 3, name=f"{name}_conv2")(out)
            x = layers.Concatenate(name=f"{name}_concat")([x, out])
        if block < 3:
            name = f"transition{block}"
            x = layers.ReLU(name=f"{name}_relu")(_bn(f"{name}_bn")(x))
            x = _conv(int(x.shape[-1] * compression), 1, name=f"{name}_conv")(x)
            x = layers.AveragePooling2D(2, name=f"{name}_pool")(x)
    x = layers.ReLU(name="final_relu")(_bn("final_bn")(x))
    return keras.Model(inputs, _head(x, num_classes), name=f"densenet_bc_{depth}_k{growth_rate}")


def densenet_bc_190(num_classes: int = 10, input_shape=(32, 32, 3), **kwargs) -> keras.Model:
    """DenseNet-BC-190, growth rate 40: 25.6M trainable parameters for 10 classes."""
    return densenet_bc(num_classes, input_shape, depth=190, growth_rate=40, **kwargs)


# --- ResNeXt -------------------------------------------------------------------------------


def _resnext_block(x, width, filters, cardinality, strides, name):
    if strides != 1 or x.shape[-1] != filters:
        shortcut = _conv(filters, 1, strides, name=f"{name}_shortcut")(x)
        shortcut = _bn(f"{name}_shortcut_bn")(shortcut)
    else:
        shortcut = x
    out = layers.ReLU()(_bn(f"{name}_bn1")(_conv(width, 1, name=f"{name}_conv1")(x)))
    out = _conv(width, 3, strides, groups=cardinality, name=f"{name}_conv2")(out)
    out = layers.ReLU()(_bn(f"{name}_bn2")(out))
    out = _bn(f"{name}_bn3")(_conv(filters, 1, name=f"{name}_conv3")(out))
    return layers.ReLU(name=f"{name}_out")(layers.Add(name=f"{name}_add")([out, shortcut]))


def resnext(
    num_classes: int = 1000,
    input_shape=(224, 224, 3),
    *,
    blocks=(3, 4, 23, 3),
    cardinality: int = 32,
    group_width: int = 4,
    normalization=None,
    name: str = "resnext",
) -> keras.Model:
    """ImageNet ResNeXt: bottleneck blocks whose 3x3 convolution has `cardinality`
    groups of `group_width` channels (stride on the 3x3, as in Xie et al.)."""
    inputs, x = _inputs(input_shape, normalization)
    x = _conv(64, 7, 2, name="stem_conv")(x)
    x = layers.ReLU(name="stem_relu")(_bn("stem_bn")(x))
    x = layers.MaxPooling2D(3, 2, padding="same", name="stem_pool")(x)
    for stage, count in enumerate(blocks):
        width = cardinality * group_width * 2**stage
        filters = 256 * 2**stage
        for block in range(count):
            strides = 2 if stage > 0 and block == 0 else 1
            x = _resnext_block(
                x, width, filters, cardinality, strides, name=f"stage{stage + 1}_block{block + 1}"
            )
    return keras.Model(inputs, _head(x, num_classes), name=name)


def resnext101_32x4d(num_classes: int = 1000, input_shape=(224, 224, 3), **kwargs):
    """ResNeXt-101 32x4d: 44.2M parameters for 1000 classes."""
    return resnext(
        num_classes, input_shape, cardinality=32, group_width=4, name="resnext101_32x4d", **kwargs
    )


def resnext101_64x4d(num_classes: int = 1000, input_shape=(224, 224, 3), **kwargs):
    """ResNeXt-101 64x4d: 83.5M parameters for 1000 classes."""
    return resnext(
        num_classes, input_shape, cardinality=64, group_width=4, name="resnext101_64x4d", **kwargs
    )


def trainable_parameters(model: keras.Model) -> int:
    return int(sum(keras.ops.size(w) for w in model.trainable_weights))


CIFAR_MODELS = {
    "preact_resnet18": preact_resnet18,
    "wide_resnet_28_10": wide_resnet_28_10,
    "densenet_bc_190": densenet_bc_190,
}


def small_cnn(seed: int, input_shape=(8, 8, 1)) -> keras.Model:
    """Two 3x3 convolutions, max-pooling, a 256-unit dense layer; outputs logits (10 classes:
    digits, or Fashion-MNIST with `input_shape=(28, 28, 1)`)."""
    keras.utils.set_random_seed(seed)
    return keras.Sequential(
        [
            keras.Input(input_shape),
            keras.layers.Conv2D(32, 3, padding="same", activation="relu"),
            keras.layers.Conv2D(64, 3, padding="same", activation="relu"),
            keras.layers.MaxPooling2D(),
            keras.layers.Flatten(),
            keras.layers.Dense(256, activation="relu"),
            keras.layers.Dense(DIGITS_CLASSES),
        ],
        name="small_cnn",
    )
