"""examples/paper/models.py, training.py, cifar.py and imagenet.py: architectures, training
utilities with exact expectations, and both scripts end to end on TFDS mock data."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from examples.paper import cifar, data, imagenet, models, training
from keras_mixup import MixupLayer
from tests.paper.made_images import fashion_like

# Published trainable-parameter counts (the paper's Table 1 / 3a models).
PUBLISHED = {
    "preact_resnet18": (models.preact_resnet18, 10, 11.17e6),
    "wide_resnet_28_10": (models.wide_resnet_28_10, 10, 36.5e6),
    "densenet_bc_190": (models.densenet_bc_190, 10, 25.6e6),
    "resnext101_32x4d": (models.resnext101_32x4d, 1000, 44.2e6),
    "resnext101_64x4d": (models.resnext101_64x4d, 1000, 83.5e6),
}


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_architectures_have_the_published_parameter_counts(name):
    builder, classes, published = PUBLISHED[name]
    count = models.trainable_parameters(builder(classes))
    assert abs(count - published) / published < 0.003, count
    keras.backend.clear_session()


def test_preact_resnet_mix_stage_places_the_layer_and_dropout_sits_between_the_convs():
    for stage, after in [(1, "stem_conv"), (3, "stage2_block2_add"), (5, "stage4_block2_add")]:
        mixup = MixupLayer(1.0, inputs_only=True)
        model = models.preact_resnet18(10, mixup_layer=mixup, mix_stage=stage)
        names = [layer.name for layer in model.layers]
        assert names[names.index(mixup.name) - 1] == after
    model = models.preact_resnet(
        10, (8, 8, 1), widths=(4, 4, 4, 4), blocks=(1, 1, 1, 1), dropout=0.5
    )
    names = [layer.name for layer in model.layers]
    block = "stage2_block1"
    assert (
        names.index(f"{block}_relu2")
        < names.index(f"{block}_dropout")
        < names.index(f"{block}_conv2")
    )
    with pytest.raises(ValueError, match="mix_stage"):
        models.preact_resnet18(10, mixup_layer=MixupLayer(1.0), mix_stage=6)
    with pytest.raises(ValueError, match="together"):
        models.preact_resnet18(10, mix_stage=2)


def test_coupled_sgd_is_pytorch_sgd_with_weight_decay():
    """v <- mu v + (g + wd w); w <- w - lr v (torch.optim.SGD), two steps by hand."""
    lr, mu, wd = 0.1, 0.9, 0.01
    w = keras.Variable(np.array([1.0, -2.0], "float32"))
    optimizer = training.CoupledSGD(lr, momentum=mu, coupled_decay=wd)
    grads = [np.array([0.5, 0.25], "float32"), np.array([-1.0, 2.0], "float32")]
    expected_w, velocity = np.array([1.0, -2.0]), np.zeros(2)
    for g in grads:
        optimizer.apply_gradients([(tf.constant(g), w)])
        velocity = mu * velocity + (g + wd * expected_w)
        expected_w = expected_w - lr * velocity
    np.testing.assert_allclose(w.numpy(), expected_w, rtol=1e-6)


def test_step_and_warmup_schedules():
    schedule = training.step_schedule(0.1, [2, 3], steps_per_epoch=10)
    assert [float(schedule(s)) for s in (0, 19, 20, 30)] == pytest.approx([0.1, 0.1, 0.01, 0.001])
    warm = imagenet.WarmupStepSchedule(0.1, 0.4, warmup_steps=10, boundaries=[20, 30])
    values = [float(warm(s)) for s in (0, 5, 10, 19, 20, 30)]
    assert values == pytest.approx([0.1, 0.25, 0.4, 0.4, 0.04, 0.004])


def test_random_crop_flip_takes_windows_of_the_zero_padded_image():
    images = tf.reshape(tf.range(2 * 4 * 4, dtype=tf.int32) + 1, [2, 4, 4, 1])
    np.testing.assert_array_equal(training.random_crop_flip(images, 0, flip=False), images)
    flipped = training.random_crop_flip(images, 0, flip=True).numpy()
    for out, image in zip(flipped, images.numpy(), strict=True):
        assert (out == image).all() or (out == image[:, ::-1]).all()
    padded = np.pad(images.numpy(), [[0, 0], [1, 1], [1, 1], [0, 0]])
    for _ in range(5):
        out = training.random_crop_flip(images, 1, flip=False).numpy()
        for i in range(2):
            windows = [padded[i, r : r + 4, c : c + 4] for r in range(3) for c in range(3)]
            assert any((out[i] == w).all() for w in windows)


def test_label_corruption_is_seeded_with_the_asked_rate():
    labels = np.arange(20_000) % 10
    a = cifar.corrupt_labels(labels, 0.5, 10, seed=3)
    np.testing.assert_array_equal(a, cifar.corrupt_labels(labels, 0.5, 10, seed=3))
    assert 0.44 < np.mean(a != labels) < 0.46  # half redrawn, one in ten keeps its class


def test_row_specs_parse_and_reject_bad_tokens():
    row = cifar.Row.parse("mixup=1+knn=same_class+targets=dominant")
    assert (row.alpha, row.knn, row.targets) == (1.0, "same_class", "dominant")
    assert cifar.Row.parse("erm+dropout=0.7").dropout == 0.7
    for _, spec, _ in cifar.PAPER_TABLE5:
        cifar.Row.parse(spec)
    with pytest.raises(ValueError, match="token 'mixp=1'"):
        cifar.Row.parse("mixp=1")
    with pytest.raises(ValueError, match="mixes nothing"):
        cifar.Row.parse("erm+latent=2")


def test_copy_matching_weights_gives_models_with_a_mixup_layer_the_same_start():
    source = models.preact_resnet(10, (8, 8, 1), widths=(4, 4, 4, 4), blocks=(1, 1, 1, 1))
    mixup = MixupLayer(1.0, inputs_only=True)
    target = models.preact_resnet(
        10, (8, 8, 1), widths=(4, 4, 4, 4), blocks=(1, 1, 1, 1), mixup_layer=mixup, mix_stage=2
    )
    assert training.copy_matching_weights(source, target) > 0
    x = np.random.default_rng(0).normal(size=(3, 8, 8, 1)).astype("float32")
    np.testing.assert_allclose(source(x), target(x), rtol=1e-5)


def test_cifar_full_scale_path_on_mock_cifar10(tmp_path):
    """TFDS loading, padding crops and flips, normalization, CoupledSGD, label noise, the
    PreAct ResNet-18, two rows from the same weights: one epoch of 2 batches."""
    import tensorflow_datasets as tfds

    with tfds.testing.mock_data(num_examples=32):
        results = cifar.main(
            [
                "--experiment",
                "table2",
                "--label-noise",
                "0.5",
                "--rows",
                "erm,mixup=8+dropout=0.3",
                "--epochs",
                "1",
                "--batch-size",
                "16",
                "--limit",
                "32",
                "--verbose",
                "0",
                "--output",
                str(tmp_path),
            ]
        )
    # --rows that the paper's table has get its labels and numbers
    mixed = "mixup + dropout (α = 8, p = 0.3)"
    assert set(results) == {"ERM | wd=0.0001", f"{mixed} | wd=0.0001", "paper"}
    assert results["paper"][mixed] == (10.9, 10.9, 7.56, 87.90)
    saved = json.loads((tmp_path / "results.json").read_text())
    assert len(saved["results"]["ERM | wd=0.0001"]["test_error_per_epoch"][0]) == 1
    assert 0 <= saved["results"]["ERM | wd=0.0001"]["train_error_corrupted"][0] <= 100
    assert (tmp_path / "test_error.png").stat().st_size > 10_000
    table = cifar.markdown(saved)  # Table 2's layout, the paper's numbers beside ours
    assert "fits the corrupted labels" in table and "10.9 / 10.9" in table


def test_cifar_quick_ablation_rows_run(tmp_path):
    """KNN partners, same-class pairing, latent mixing, smoothing and noise rows on digits."""
    results = cifar.main(
        [
            "--quick",
            "--experiment",
            "table5",
            "--seeds",
            "1",
            "--epochs",
            "1",
            "--weight-decays",
            "1e-4",
            "--rows",
            "mixup=1+knn=same_class+targets=dominant,mixup=1+pairing=same_class+targets=dominant,"
            "mixup=1+latent=3,mixup=1+smooth=0.1,erm+noise=0.1",
            "--output",
            str(tmp_path),
        ]
    )
    assert len(results) == 6
    for key, value in results.items():
        if key != "paper":
            assert 0 <= value["last"][0] <= 100


def test_imagenet_quick_profile_on_mock_data(tmp_path, capsys):
    results = imagenet.main(["--quick", "--verbose", "0", "--output", str(tmp_path)])
    assert set(results) == {"ERM", "mixup α = 0.2"}
    assert len(results["ERM"]["top5"]["per_epoch"]) == 2
    assert "MOCK DATA" in capsys.readouterr().out


def test_mlp_is_the_fully_connected_network_it_says():
    model = models.mlp(10, (28, 28, 1), dropout=0.5)
    # 784 -> 512 -> 512 -> 10, with biases
    assert models.trainable_parameters(model) == 784 * 512 + 512 + 512 * 512 + 512 + 512 * 10 + 10
    assert [layer.rate for layer in model.layers if isinstance(layer, keras.layers.Dropout)] == [
        0.5,
        0.5,
    ]
    assert not any(isinstance(layer, keras.layers.Dropout) for layer in models.mlp(10).layers)


def test_stratified_subset_takes_the_same_share_of_every_class_by_seed():
    labels = np.repeat(np.arange(4), [30, 50, 20, 40])
    keep = data.stratified_subset(labels, 40, seed=3)
    assert np.bincount(labels[keep]).tolist() == [10, 10, 10, 10]
    assert np.all(np.diff(keep) > 0)
    np.testing.assert_array_equal(keep, data.stratified_subset(labels, 40, seed=3))
    assert not np.array_equal(keep, data.stratified_subset(labels, 40, seed=4))


def test_table2_on_fashion_mnist_images_with_the_mlp(tmp_path, monkeypatch):
    """The real-images path: the loader's arrays (made here), a stratified subset, corrupted
    labels, the MLP with dropout rows, seeds, the data source in the results and the table."""
    arrays = fashion_like(500, 200)
    monkeypatch.setattr(cifar, "load", lambda name: arrays)
    argv = ["--dataset", "fashion_mnist", "--model", "mlp", "--experiment", "table2",
            "--label-noise", "0.5", "--rows", "erm,mixup=8+dropout=0.3", "--train-size", "200",
            "--no-augment", "--epochs", "2", "--seeds", "2", "--verbose", "0",
            "--output", str(tmp_path)]  # fmt: skip
    results = cifar.main(argv)
    runs = results["ERM | wd=0.0001"]
    assert len(runs["last"]) == 2 and len(runs["test_error_per_epoch"][0]) == 2
    assert all(0 <= value <= 100 for value in runs["train_error_corrupted"])
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved["config"]["data_source"] == "made in the test"
    table = cifar.markdown(saved)
    assert "Data: made in the test; a stratified subset of 200" in table
    assert "not this setting" in table and "10.9 / 10.9" in table
    with pytest.raises(SystemExit):
        cifar.main(["--quick", *argv])


def test_corrupt_labels_changes_the_share_it_is_given():
    labels = np.zeros(20_000, np.int64)
    corrupted = cifar.corrupt_labels(labels, 0.5, 10, seed=0)
    # half are redrawn; a tenth of those draw their own class again
    assert abs(np.mean(corrupted != labels) - 0.45) < 0.015
