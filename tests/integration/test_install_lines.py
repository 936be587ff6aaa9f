"""Each tutorial's install line installs what the tutorial imports (issue 43, item 2).

Resolved here without installing: the line's requirements (this checkout's extras from
pyproject.toml, named packages) and everything they require in turn, as this environment's
installed metadata says, must provide every top-level module the tutorial's set-up imports.
`make tutorials` then builds each line's environment for real and runs the set-ups there
(`tests/tutorial_setup.py --environments`).
"""

import importlib.metadata as metadata
import sys

import pytest
import tomllib
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests import tutorial_setup

PROJECT = tomllib.loads((tutorial_setup.ROOT / "pyproject.toml").read_text())["project"]


def project_requirements(extras: set[str]) -> list[Requirement]:
    """keras_mixup's own requirements with `extras`, as pyproject.toml lists them."""
    unknown = extras - set(PROJECT["optional-dependencies"])
    assert not unknown, f"extras {unknown} are not in pyproject.toml"
    names = list(PROJECT["dependencies"])
    for extra in sorted(extras):
        names += PROJECT["optional-dependencies"][extra]
    return [Requirement(name) for name in names]


def closure(line: str) -> set[str]:
    """The distributions (canonical names) an install line brings, with their requirements'
    requirements, as installed here."""
    pending = []
    for argument in tutorial_setup.requirements(line):
        if argument == "." or argument.startswith(".["):
            extras = set(argument[2:-1].split(",")) if argument != "." else set()
            pending += project_requirements({e.strip() for e in extras if e.strip()})
        else:
            pending.append(Requirement(argument))
    found = {"keras-mixup"}
    while pending:
        requirement = pending.pop()
        name = canonicalize_name(requirement.name)
        if name in found:
            continue
        found.add(name)
        for text in metadata.requires(requirement.name) or []:
            nested = Requirement(text)
            environment = [{"extra": extra} for extra in requirement.extras] or [{"extra": ""}]
            if nested.marker is None or any(nested.marker.evaluate(e) for e in environment):
                pending.append(nested)
    return found


PROVIDERS = {
    module: {canonicalize_name(d) for d in dists}
    for module, dists in metadata.packages_distributions().items()
}
PROVIDERS["keras_mixup"] = {"keras-mixup"}


@pytest.mark.parametrize("path", tutorial_setup.tutorials(), ids=lambda path: path.name)
def test_the_install_line_brings_every_module_the_tutorial_imports(path):
    line = tutorial_setup.install_line(path)
    brought = closure(line)
    imports = tutorial_setup.top_level_imports(path) - set(sys.stdlib_module_names)
    missing = sorted(m for m in imports if not PROVIDERS.get(m, set()) & brought)
    assert not missing, f"{path.name}: `{line}` does not install {missing}"


def test_a_line_without_grain_is_caught():
    """The mistake this test exists for: the README's JAX line without grain."""
    grain_tutorial = tutorial_setup.EXAMPLES / "grain_jax.py"
    assert "grain" in tutorial_setup.top_level_imports(grain_tutorial)
    assert not PROVIDERS["grain"] & closure('pip install . "jax[cpu]"')
    assert PROVIDERS["grain"] & closure(tutorial_setup.install_line(grain_tutorial))


def test_every_tutorial_names_one_line(tmp_path):
    for path in tutorial_setup.tutorials():
        assert tutorial_setup.install_line(path).startswith("pip install ")
    lone = tmp_path / "x.py"
    lone.write_text('"""\nTitle: x\nDescription: y\n"""\n\nimport keras\n')
    with pytest.raises(ValueError, match="one `Install: pip install"):
        tutorial_setup.install_line(lone)
