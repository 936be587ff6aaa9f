"""The package as users get it: sdist and wheel build, `twine check` passes, and the wheel
installs into a fresh environment outside the source tree and imports."""

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def run(*command, cwd=None, timeout=900):
    process = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    assert process.returncode == 0, (
        " ".join(map(str, command)) + "\n" + process.stdout + process.stderr
    )[-4000:]
    return process.stdout


@pytest.fixture(scope="module")
def distributions(tmp_path_factory):
    pytest.importorskip("build")
    out = tmp_path_factory.mktemp("dist")
    source = tmp_path_factory.mktemp("source") / "keras_mixup"
    # build from a copy of the tracked files (no .venv, no runs/)
    shutil.copytree(
        ROOT,
        source,
        ignore=shutil.ignore_patterns(".venv", "runs", "site", ".git", "*.egg-info", "__pycache__"),
    )
    run(sys.executable, "-m", "build", "--sdist", "--wheel", "--outdir", str(out), str(source))
    return sorted(out.iterdir())


def test_sdist_and_wheel_pass_twine_check(distributions):
    assert {p.suffix for p in distributions} == {".gz", ".whl"}
    run(sys.executable, "-m", "twine", "check", "--strict", *map(str, distributions))


def test_wheel_holds_the_package_and_its_type_marker(distributions):
    wheel = next(p for p in distributions if p.suffix == ".whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "keras_mixup/py.typed" in names and "keras_mixup/_src/core/sampling.py" in names
    assert not any(name.startswith(("tests/", "examples/", "benchmarks/")) for name in names)


def test_wheel_installs_in_a_fresh_environment_and_imports(distributions, tmp_path):
    wheel = next(p for p in distributions if p.suffix == ".whl")
    venv = tmp_path / "venv"
    run(sys.executable, "-m", "venv", str(venv))
    python = venv / "bin" / "python"
    run(
        str(python), "-m", "pip", "install", "-q", f"{wheel}[tensorflow]", timeout=1500
    )  # deps from pip's cache; tf.data needs the tensorflow extra
    out = run(str(python), "-c", "import keras_mixup, tensorflow as tf; "
              "x, y = keras_mixup.MixupTransform(0.2, num_classes=3, seed=0)(tf.zeros((4, 2)), tf.constant([0, 1, 2, 0])); "
              "print(keras_mixup.__version__, keras_mixup.__file__, '%dx%d' % tuple(y.shape))", cwd=tmp_path)  # fmt: skip
    version, location, shape = out.split()[-3:]
    assert version == keras_mixup_version() and str(venv) in location and shape == "4x3"


def keras_mixup_version() -> str:
    import keras_mixup

    return keras_mixup.__version__
