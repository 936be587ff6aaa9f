"""The package as users get it: sdist and wheel build, `twine check` passes, and the wheel
installs into a fresh environment outside the source tree and imports."""

import shutil
import subprocess
import sys
import sysconfig
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
        ignore=shutil.ignore_patterns(
            ".venv*", "runs", "site", ".git", "*.egg-info", "__pycache__"
        ),
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
    """The wheel alone, in a fresh venv that reads this environment's packages through a `.pth`
    line (TensorFlow, Keras: not a second 2 GB copy on CI's small disk; `make user` installs the
    dependencies from the metadata). This environment's editable keras_mixup is not on that path:
    its own `.pth` is not processed, so the import below is the wheel's."""
    wheel = next(p for p in distributions if p.suffix == ".whl")
    venv = tmp_path / "venv"
    run(sys.executable, "-m", "venv", str(venv))
    python = venv / "bin" / "python"
    site = run(str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])")
    Path(site.strip(), "_host_packages.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    run(str(python), "-m", "pip", "install", "-q", "--no-deps", str(wheel))
    out = run(str(python), "-c", "import keras_mixup, tensorflow as tf; "
              "x, y = keras_mixup.MixupTransform(0.2, num_classes=3, seed=0)(tf.zeros((4, 2)), tf.constant([0, 1, 2, 0])); "
              "print(keras_mixup.__version__, keras_mixup.__file__, '%dx%d' % tuple(y.shape))", cwd=tmp_path)  # fmt: skip
    version, location, shape = out.split()[-3:]
    assert version == keras_mixup_version() and str(venv) in location and shape == "4x3"


def test_wheel_declares_its_dependencies_and_the_tensorflow_extra(distributions):
    wheel = next(p for p in distributions if p.suffix == ".whl")
    with zipfile.ZipFile(wheel) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        requires = [
            line.split(":", 1)[1].strip()
            for line in archive.read(name).decode().splitlines()
            if line.startswith("Requires-Dist:")
        ]
    assert any(r.startswith("keras>=3.7") for r in requires), requires
    assert any(r.startswith("numpy") for r in requires), requires
    assert any(r.startswith("tensorflow>=2.16") and 'extra == "tensorflow"' in r for r in requires)


def keras_mixup_version() -> str:
    import keras_mixup

    return keras_mixup.__version__
