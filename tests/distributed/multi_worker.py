"""One worker of a two-process MultiWorkerMirroredStrategy run (started by
tests/integration/test_distribute.py with TF_CONFIG set). Trains a few steps of a model with
MixupLayer + MixupLoss on per-replica batches, and writes its final weights and the
lambdas its replica drew to the .npz file named on the command line (argv[2]: the
worker's index)."""

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import tensorflow as tf  # noqa: E402

strategy = tf.distribute.MultiWorkerMirroredStrategy()

import keras  # noqa: E402
import numpy as np  # noqa: E402

from keras_mixup import MixupLayer, MixupLoss, MixupTransform  # noqa: E402

GLOBAL_BATCH, FEATURES, CLASSES, STEPS = 8, 4, 3, 4
assert strategy.num_replicas_in_sync == 2, strategy.num_replicas_in_sync


def dataset_fn(context):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, FEATURES)).astype("float32")
    y = np.arange(64) % CLASSES
    return (
        tf.data.Dataset.from_tensor_slices((x, y))
        .shard(context.num_input_pipelines, context.input_pipeline_id)
        .batch(context.get_per_replica_batch_size(GLOBAL_BATCH))
        .repeat()
    )


keras.utils.set_random_seed(0)
with strategy.scope():
    layer = MixupLayer(alpha=1.0, seed=11)
    model = keras.Sequential([keras.Input((FEATURES,)), layer, keras.layers.Dense(CLASSES)])
    loss_fn = MixupLoss("sparse_categorical_crossentropy", layer=layer, from_logits=True)
    optimizer = keras.optimizers.SGD(0.1)
    optimizer.build(model.trainable_variables)
initial = [np.asarray(w) for w in model.trainable_weights]  # Dense kernel and bias


# A custom training loop: Keras 3's model.fit does not run under
# MultiWorkerMirroredStrategy (keras-team/keras#20585).
@tf.function
def train_step(iterator):
    def step(features, labels):
        with tf.GradientTape() as tape:
            loss = loss_fn(labels, model(features, training=True))  # scaled per replica
        gradients = tape.gradient(loss, model.trainable_variables)
        optimizer.apply(gradients, model.trainable_variables)  # all-reduced (summed)
        return loss, layer.record.params.mix_weight[0]

    return strategy.run(step, args=next(iterator))


iterator = iter(strategy.distribute_datasets_from_function(dataset_fn))
losses, lambdas = [], []
for _ in range(STEPS):
    loss, lam = train_step(iterator)
    losses.append(float(strategy.experimental_local_results(loss)[0]))
    lambdas.append(float(strategy.experimental_local_results(lam)[0]))

# The transform on each worker's pipeline: its first mixed batch (one-hot index features).
context = tf.distribute.InputContext(
    num_input_pipelines=2, input_pipeline_id=int(sys.argv[2]), num_replicas_in_sync=2
)
transform = MixupTransform(1.0, num_classes=CLASSES, seed=5).for_input_pipeline(context)
eye = np.eye(GLOBAL_BATCH, dtype="float32")
features, _ = next(iter(tf.data.Dataset.from_tensor_slices((eye, np.zeros(GLOBAL_BATCH, "int64")))
                        .batch(GLOBAL_BATCH).map(transform)))  # fmt: skip

np.savez(
    sys.argv[1],
    loss=np.asarray(losses),
    layer_lambdas=np.asarray(lambdas),
    transform_batch=np.asarray(features),
    **{f"initial_{i}": w for i, w in enumerate(initial)},
    **{f"final_{i}": np.asarray(w) for i, w in enumerate(model.trainable_weights)},
)
print("worker done")
