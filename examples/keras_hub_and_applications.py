"""
Title: mixup with keras.applications and KerasHub models
Description: MixupLayer and MixupLoss in front of a keras.applications network and a KerasHub
ImageClassifier; MixupTransform in tf.data feeding a KerasHub classifier. Offline (both built
from their constructors, no weights downloaded), about two minutes on 2 CPU cores.
"""

"""
## Introduction

keras_mixup has two front doors, and both take a ready-made classifier as it is:

- in the model: `MixupLayer` in front of the classifier mixes the inputs in training steps,
  and `MixupLoss`, bound to the layer, mixes the targets the same way. Integer labels are
  fine: `MixupLoss` one-hot encodes them, so the *sparse* loss is the one to wrap;
- in the input pipeline: `MixupTransform` yields mixed one-hot targets, so the loss must be
  the *categorical* one.

What the classifier outputs decides `from_logits`. `keras.applications` classifiers end in a
softmax (`classifier_activation="softmax"`): probabilities, `from_logits=False`. KerasHub's
`ImageClassifier` ends in a `Dense` layer with `activation=None` unless told otherwise:
logits, `from_logits=True` (check `classifier.activation`). Nothing here is downloaded: the
`keras.applications` model takes `weights=None`, the KerasHub one is built from its backbone's
constructor instead of `from_preset`.

## Setup
"""

import json
import os
from pathlib import Path

from _support.tensorflow_log import filter_start_up_noise

# TensorFlow's C++ log: errors only. Its start-up lines about a missing GPU driver (one of them
# an "error") show whatever the level: filter_start_up_noise drops them (examples/_support).
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
filter_start_up_noise()

import keras
import keras_hub
import numpy as np
import tensorflow as tf
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

import keras_mixup

SMOKE_TEST = os.environ.get("KERAS_MIXUP_SMOKE_TEST") == "1"  # the test suite's short run
EPOCHS = 2 if SMOKE_TEST else 6
TRAIN_SIZE = 400 if SMOKE_TEST else None  # None: all 1,297 training images
ALPHA = 0.4
BATCH_SIZE = 32
OUTPUT = Path("runs/tutorial_keras_hub_and_applications")
keras.utils.set_random_seed(0)

"""
## Prepare the dataset

The 8x8 digits become 32x32 RGB images in [0, 1]; the labels stay integer class ids.
"""

digits = load_digits()
images = np.repeat(np.kron(digits.images / 16.0, np.ones((4, 4)))[..., None], 3, axis=-1)
x_train, x_test, y_train, y_test = train_test_split(
    images.astype("float32"), digits.target, test_size=500, stratify=digits.target, random_state=0
)
x_train, y_train = x_train[:TRAIN_SIZE], y_train[:TRAIN_SIZE]
results = {}


def forget_faster(network):
    # see "Batch normalization in short runs" below
    for layer in network.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.momentum = 0.5


def train(name, model, *data, **fit_args):
    history = model.fit(*data, epochs=EPOCHS, verbose=2, **fit_args)
    accuracy = np.mean(model.predict(x_test, verbose=0).argmax(axis=1) == y_test)
    results[name] = {"last_loss": history.history["loss"][-1], "test_accuracy": float(accuracy)}


"""
## 1. A keras.applications classifier behind a MixupLayer

`MobileNetV3Small` with its own top (`classes=10`), so it outputs probabilities and the loss
keeps `from_logits=False`. `include_preprocessing=False`: the images are scaled already. Its
`BatchNormalization` layers have `momentum=0.999`, made for ImageNet's long epochs; at a few
dozen steps an epoch their moving averages would not move, and inference would use them:
`momentum=0.9` (as in the tf.data tutorial).
"""

network = keras.applications.MobileNetV3Small(
    input_shape=(32, 32, 3), weights=None, classes=10, include_preprocessing=False
)
forget_faster(network)
mixup = keras_mixup.MixupLayer(alpha=ALPHA, seed=0)
model = keras.Sequential([keras.Input((32, 32, 3)), mixup, network])
model.compile(
    optimizer=keras.optimizers.Adam(1e-3),
    loss=keras_mixup.MixupLoss("sparse_categorical_crossentropy", layer=mixup),
    metrics=[keras_mixup.MixupAccuracy(layer=mixup)],
)
train("keras.applications MobileNetV3Small", model, x_train, y_train, batch_size=BATCH_SIZE)

"""
## 2. A KerasHub ImageClassifier behind a MixupLayer

A small ResNet from `ResNetBackbone`'s constructor (its first stack needs 64 filters, as many
as the stem has for `"basic_block"`), under `ResNetImageClassifier` with `preprocessor=None`.
A KerasHub preprocessor runs in the task's own `fit`, on the dataset, so a model that wraps
the task would skip it: scale the images before, as here. The wrapper is a functional model,
`inputs -> mixup -> classifier`; the classifier outputs logits.
"""


def resnet_classifier():
    backbone = keras_hub.models.ResNetBackbone(
        input_conv_filters=[64],
        input_conv_kernel_sizes=[3],
        stackwise_num_filters=[64, 128],
        stackwise_num_blocks=[1, 1],
        stackwise_num_strides=[1, 2],
        block_type="basic_block",
        image_shape=(32, 32, 3),
    )
    forget_faster(backbone)
    return keras_hub.models.ResNetImageClassifier(
        backbone=backbone, num_classes=10, preprocessor=None
    )


classifier = resnet_classifier()
mixup = keras_mixup.MixupLayer(alpha=ALPHA, seed=0)
inputs = keras.Input((32, 32, 3))
model = keras.Model(inputs, classifier(mixup(inputs)))
model.compile(
    optimizer=keras.optimizers.Adam(1e-3),
    loss=keras_mixup.MixupLoss("sparse_categorical_crossentropy", layer=mixup, from_logits=True),
    metrics=[keras_mixup.MixupAccuracy(layer=mixup)],
)
train("KerasHub ResNet, MixupLayer", model, x_train, y_train, batch_size=BATCH_SIZE)
hub_activation = classifier.activation

"""
## 3. MixupTransform in tf.data, feeding a KerasHub classifier

A KerasHub task compiles itself when built, with `SparseCategoricalCrossentropy`: integer
labels in, one id a row. The transform's targets are mixed one-hot rows, which that loss
refuses (a `ValueError` about ranks). Compile again with `CategoricalCrossentropy`
(`from_logits=True`, the classifier's output being logits) and `MixupAccuracy` for a
training accuracy that reads mixed targets.
"""

dataset = (
    tf.data.Dataset.from_tensor_slices((x_train, y_train))
    .shuffle(len(x_train), seed=0)
    .batch(BATCH_SIZE)
    .apply(keras_mixup.MixupTransform(alpha=ALPHA, num_classes=10, seed=0))
    .prefetch(tf.data.AUTOTUNE)
)
classifier = resnet_classifier()
default_loss = type(classifier.loss).__name__
images_batch, targets_batch = next(iter(dataset))
try:
    classifier.train_on_batch(images_batch, targets_batch)
    default_error = None
except ValueError as error:
    default_error = str(error).splitlines()[0]
print(f"the default compile ({default_loss}) on mixed targets: {default_error}")
classifier.compile(
    optimizer=keras.optimizers.Adam(1e-3),
    loss=keras.losses.CategoricalCrossentropy(from_logits=True),
    metrics=[keras_mixup.MixupAccuracy()],
)
train("KerasHub ResNet, MixupTransform", classifier, dataset, shuffle=False)  # tf.data shuffles

"""
## Results

Test accuracy of each run on the 500 clean test images (chance: 0.1). Short runs on a toy
data set from scratch: they show the wiring, not what mixup is worth (docs/results.md).
"""

print(f"\n{'run':<36}{'last loss':>10}{'test accuracy':>15}")
for name, result in results.items():
    print(f"{name:<36}{result['last_loss']:>10.3f}{result['test_accuracy']:>15.3f}")
summary = {
    "results": results,
    "keras_hub_default_loss": default_loss,
    "keras_hub_default_loss_error": default_error,
    "keras_hub_activation": hub_activation,
    "keras_applications_activation": network.layers[-1].activation.__name__,
    "mixed_targets_min_row_max": float(tf.reduce_min(tf.reduce_max(targets_batch, axis=1))),
}
OUTPUT.mkdir(parents=True, exist_ok=True)
(OUTPUT / "results.json").write_text(json.dumps(summary, indent=2))
