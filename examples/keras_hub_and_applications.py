"""
Title: mixup with keras.applications and KerasHub models
Description: MixupLayer and MixupLoss in front of a keras.applications network and a KerasHub
ImageClassifier; MixupTransform in tf.data feeding a KerasHub classifier. Offline (built from
constructors, no weights downloaded), about 90 s on 2 CPU cores.
Install: pip install ".[examples]"
"""

"""
## Introduction

Both front doors of keras_mixup take a ready-made classifier as it is. In the model, a
`MixupLayer` mixes the inputs and `MixupLoss`, bound to it, the targets; it one-hot encodes
class ids, so the loss it wraps is the *sparse* one. In the pipeline, `MixupTransform` yields
mixed one-hot targets, so the loss is the *categorical* one. `from_logits` follows the output:
`keras.applications` classifiers end in a softmax (`from_logits=False`), KerasHub's
`ImageClassifier` in a `Dense` layer with `activation=None` (logits, `from_logits=True`).
Nothing is downloaded: `weights=None`, and KerasHub's backbone comes from its constructor.

## Setup
"""

import json
import os
from pathlib import Path

from _support.tensorflow_log import filter_start_up_noise

# TensorFlow's C++ log: errors only; filter_start_up_noise drops its GPU-driver start-up lines.
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
ALPHA, BATCH_SIZE = 0.4, 32
OUTPUT = Path("runs/tutorial_keras_hub_and_applications")
keras.utils.set_random_seed(0)

"""
## Prepare the dataset and a short-run setting

32x32 RGB images in [0, 1], integer labels; test images through `tf.data` (a KerasHub task
makes Grain datasets of NumPy arrays, and logs Grain's warnings). `BatchNormalization`'s moving
averages start at mean 0, variance 1 and keep `momentum` of their value a step (0.999 in
`keras.applications`, 0.9 in KerasHub's ResNet): after a few dozen steps enough of the start
is left for inference to predict one class for every image. `momentum=0.5` forgets it.
"""

digits = load_digits()
images = np.repeat(np.kron(digits.images / 16.0, np.ones((4, 4)))[..., None], 3, axis=-1)
x_train, x_test, y_train, y_test = train_test_split(
    images.astype("float32"), digits.target, test_size=500, stratify=digits.target, random_state=0
)
x_train, y_train = x_train[:TRAIN_SIZE], y_train[:TRAIN_SIZE]
test_images = tf.data.Dataset.from_tensor_slices(x_test).batch(BATCH_SIZE)
results = {}


def forget_faster(network):
    for layer in network.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.momentum = 0.5


def train(name, model, *data, **fit_args):
    history = model.fit(*data, epochs=EPOCHS, verbose=2, **fit_args)
    accuracy = np.mean(model.predict(test_images, verbose=0).argmax(axis=1) == y_test)
    results[name] = {"last_loss": history.history["loss"][-1], "test_accuracy": float(accuracy)}


"""
## 1. A keras.applications classifier behind a MixupLayer

`MobileNetV3Small` with its own top (`classes=10`): it outputs probabilities, and the loss
keeps `from_logits=False`. `include_preprocessing=False`: the images are scaled already.
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

A small ResNet (`ResNetBackbone` wants 64 filters in the first stack, and `"basic_block"` as
many in the stem), `preprocessor=None`: a KerasHub preprocessor runs in the task's own `fit`,
which a model wrapping the task, `inputs -> mixup -> classifier`, skips.
"""


def resnet_classifier():
    backbone = keras_hub.models.ResNetBackbone(
        input_conv_filters=[64],
        input_conv_kernel_sizes=[3],
        stackwise_num_filters=[64, 128],
        stackwise_num_blocks=[1, 1],
        stackwise_num_strides=[1, 2],
        block_type="basic_block",
    )
    forget_faster(backbone)
    return keras_hub.models.ResNetImageClassifier(backbone, num_classes=10, preprocessor=None)


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

"""
## 3. MixupTransform in tf.data, feeding a KerasHub classifier

A KerasHub task compiles itself when built, with `SparseCategoricalCrossentropy` (one class id
a row). The transform's targets are mixed one-hot rows, which that loss refuses with a
`ValueError` about ranks. Compile again: `CategoricalCrossentropy(from_logits=True)`, and
`MixupAccuracy` for a training accuracy that reads mixed targets.
"""

dataset = (
    tf.data.Dataset.from_tensor_slices((x_train, y_train))
    .shuffle(len(x_train), seed=0)
    .batch(BATCH_SIZE)
    .apply(keras_mixup.MixupTransform(alpha=ALPHA, num_classes=10, seed=0))
)
classifier = resnet_classifier()
default_loss, default_error = type(classifier.loss).__name__, None
batch_images, batch_targets = next(iter(dataset))
try:
    classifier.train_on_batch(batch_images, batch_targets)
except ValueError as error:
    default_error = str(error).splitlines()[0]
print(f"The default compile ({default_loss}) on mixed targets: {default_error}")
classifier.compile(
    optimizer=keras.optimizers.Adam(1e-3),
    loss=keras.losses.CategoricalCrossentropy(from_logits=True),
    metrics=[keras_mixup.MixupAccuracy()],
)
train("KerasHub ResNet, MixupTransform", classifier, dataset, shuffle=False)  # tf.data shuffles

"""
## Results

Test accuracy on the 500 clean test images (chance: 0.1). Short runs from scratch: they show
the wiring, not what mixup is worth (docs/results.md).
"""

print(f"\n{'run':<36}{'last loss':>10}{'test accuracy':>15}")
for name, result in results.items():
    print(f"{name:<36}{result['last_loss']:>10.3f}{result['test_accuracy']:>15.3f}")
summary = dict(results=results, keras_hub_default_loss=default_loss, default_error=default_error)
summary["keras_hub_activation"] = classifier.activation  # None: logits
summary["keras_applications_activation"] = network.layers[-1].activation.__name__
summary["mixed_targets_min_row_max"] = float(tf.reduce_min(tf.reduce_max(batch_targets, 1)))
OUTPUT.mkdir(parents=True, exist_ok=True)
(OUTPUT / "results.json").write_text(json.dumps(summary, indent=2))
