"""examples.paper.adversarial (Table 3) and in_between (Figure 2): quick profiles and the
full-scale paths on mock data."""

import json

from examples.paper import adversarial, in_between


def test_adversarial_quick_profile_end_to_end(tmp_path):
    adversarial.main(["--quick", "--seeds", "1", "--epochs", "1", "--output", str(tmp_path)])
    results = json.loads((tmp_path / "results.json").read_text())["results"]
    assert "eps=0.1|black|mixup|I-FGSM" in results
    assert (tmp_path / "error_vs_epsilon.png").stat().st_size > 10_000


def test_in_between_quick_profile_end_to_end(tmp_path):
    in_between.main(
        ["--quick", "--seeds", "1", "--epochs", "1", "--pairs", "50", "--output", str(tmp_path)]
    )
    summary = json.loads((tmp_path / "results.json").read_text())["results"]["summary"]
    assert set(summary) == {"ERM", "mixup"}
    assert len(summary["ERM"]["miss_rate_curve_mean"]) == 11
    for name in ("in_between.png", "reliability_ERM_seed0.png", "reliability_mixup_seed0.png"):
        assert (tmp_path / name).stat().st_size > 10_000


def _tiny_saved_classifier(path, input_shape, classes, seed):
    import keras

    keras.utils.set_random_seed(seed)
    model = keras.Sequential(
        [
            keras.Input(input_shape),
            keras.layers.Rescaling(1 / 255),
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(classes),
        ]
    )
    model.save(path)
    return path


def test_adversarial_full_scale_path_on_mock_imagenet(tmp_path):
    """The real TFDS loading and 224 center-crop code on tfds.testing.mock_data (random-size images)."""
    import tensorflow_datasets as tfds

    paths = [
        _tiny_saved_classifier(tmp_path / f"{n}.keras", (224, 224, 3), 1000, i)
        for i, n in enumerate(["erm1", "erm2", "mixup"])
    ]
    with tfds.testing.mock_data(num_examples=4):
        adversarial.main(
            [
                "--erm1",
                str(paths[0]),
                "--erm2",
                str(paths[1]),
                "--mixup",
                str(paths[2]),
                "--limit",
                "4",
                "--batch-size",
                "2",
                "--steps",
                "2",
                "--output",
                str(tmp_path / "out"),
            ]
        )
    results = json.loads((tmp_path / "out" / "results.json").read_text())["results"]
    assert results["white|mixup|FGSM"]["examples"] == 4


def test_in_between_full_scale_path_on_mock_cifar10(tmp_path):
    import tensorflow_datasets as tfds

    erm = _tiny_saved_classifier(tmp_path / "erm.keras", (32, 32, 3), 10, 0)
    mixup = _tiny_saved_classifier(tmp_path / "mixup.keras", (32, 32, 3), 10, 1)
    with tfds.testing.mock_data(num_examples=20):
        in_between.main(
            [
                "--erm",
                str(erm),
                "--mixup",
                str(mixup),
                "--pool",
                "20",
                "--test-examples",
                "20",
                "--pairs",
                "10",
                "--output",
                str(tmp_path / "out"),
            ]
        )
    summary = json.loads((tmp_path / "out" / "results.json").read_text())["results"]["summary"]
    assert set(summary) == {"ERM", "mixup"}


def test_calibration_profile_end_to_end(tmp_path):
    """examples.paper.calibration, shortened: every row, the table and the figure."""
    from examples.paper import calibration

    results = calibration.main(
        ["--datasets", "breast_cancer", "--alphas", "1", "--epochs", "1", "--tabular-epochs", "1",
         "--output", str(tmp_path)]
    )  # fmt: skip
    rows = set(results["breast_cancer"])
    assert rows == {"ERM", *(f"mixup α = 1 {m}" for m in calibration.METHODS)}
    predictor_row = results["breast_cancer"]["mixup α = 1 + mixup-aware predictor"][0]
    assert predictor_row["theta_bar"] == 0.75 and 0 <= predictor_row["ece"] <= 100
    import json

    table = calibration.markdown(json.loads((tmp_path / "results.json").read_text()))
    assert "+ temperature scaling" in table and "NLL" in table
    assert (tmp_path / "reliability.png").stat().st_size > 10_000


def _fake_fashion_mnist(monkeypatch, train=600, test=200):
    """Fashion-MNIST's loader answering with images made here, in its format."""
    from examples._support import real_images
    from tests.paper.made_images import fashion_like

    arrays = fashion_like(train, test)
    monkeypatch.setattr(real_images, "load", lambda name: arrays)
    return arrays


def test_fashion_mnist_split_is_stratified_disjoint_and_scaled(monkeypatch):
    import numpy as np

    from examples.paper.data import load_fashion_mnist_split

    x, y, *_ = _fake_fashion_mnist(monkeypatch)
    split = load_fashion_mnist_split(1, train_size=200, held_out=100, test_size=50)
    x_train, y_train, x_held, y_held, x_test, y_test, source = split
    assert source == "made in the test"
    assert x_train.shape == (200, 28, 28, 1) and x_train.dtype == np.float32
    assert np.bincount(y_train, minlength=10).tolist() == [20] * 10
    assert len(y_held) == 100 and len(y_test) == 50
    assert 0.0 <= x_train.min() and x_train.max() <= 1.0
    # the training and held-out images are different rows of the training split
    rows = {bytes(image) for image in (x * 1).reshape(len(x), -1)}
    as_bytes = [bytes(np.rint(image * 255).astype(np.uint8).ravel()) for image in x_train]
    held_bytes = [bytes(np.rint(image * 255).astype(np.uint8).ravel()) for image in x_held]
    assert set(as_bytes) <= rows and not set(as_bytes) & set(held_bytes)
    again = load_fashion_mnist_split(1, train_size=200, held_out=100, test_size=50)
    np.testing.assert_array_equal(again[1], y_train)


def test_adversarial_quick_protocol_on_fashion_mnist_images(tmp_path, monkeypatch):
    _fake_fashion_mnist(monkeypatch)
    adversarial.main(
        ["--quick", "--dataset", "fashion_mnist", "--train-size", "100", "--limit", "50",
         "--seeds", "1", "--epochs", "1", "--output", str(tmp_path)]
    )  # fmt: skip
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved["config"]["data_source"] == "made in the test"
    clean = saved["results"]["eps=0.1|white|ERM|FGSM"]["clean_top1"][0]
    assert 0 <= clean <= 100
    table = adversarial.markdown(saved)
    assert "Data: made in the test" in table and "50 test images attacked" in table


def test_calibration_on_fashion_mnist_images(tmp_path, monkeypatch):
    from examples.paper import calibration

    _fake_fashion_mnist(monkeypatch, train=2300)
    results = calibration.main(
        ["--datasets", "fashion_mnist", "--train-size", "200", "--alphas", "1", "--epochs", "1",
         "--output", str(tmp_path)]
    )  # fmt: skip
    assert set(results["fashion_mnist"]) == {
        "ERM",
        *(f"mixup α = 1 {m}" for m in calibration.METHODS),
    }
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved["config"]["data_sources"] == {"fashion_mnist": "made in the test"}
    assert "Data (fashion_mnist): made in the test" in calibration.markdown(saved)
