"""The tutorials' install lines, and their set-up run in the environments those lines make.

Every tutorial (`examples/*.py` with a `Title:`) names the command that installs what it needs,
on one line of its header: `Install: pip install ".[examples]"`.

    python tests/tutorial_setup.py --lines                   # each distinct line, its tutorials
    python tests/tutorial_setup.py --run examples/x.py       # x's set-up, in this environment
    python tests/tutorial_setup.py --environments DIR        # each line in a fresh venv under DIR,
                                                             # then every tutorial's set-up in it
                                   --environments DIR --prune  # each venv removed after its set-ups

A tutorial's set-up is its module-level code up to its last top-level import (the "Setup"
section of a keras.io tutorial: its imports, and the environment variables it sets before them,
such as `KERAS_BACKEND`), run as a script from `examples/`. `make tutorials` runs
`--environments`; `tests/integration/test_install_lines.py` checks the lines without installing.
Plain Python, no test framework: `--run` runs where only a tutorial's line is installed.
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import re
import shlex
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
INSTALL = re.compile(r"^Install: (pip install .+)$", re.M)


def tutorials() -> list[Path]:
    """The tutorials at the top of examples/ (a keras.io header with a `Title:`)."""
    return [
        path
        for path in sorted(EXAMPLES.glob("*.py"))
        if (ast.get_docstring(ast.parse(path.read_text())) or "").startswith("Title:")
    ]


def install_line(path: Path) -> str:
    """The `pip install ...` command of a tutorial's header.

    Raises:
        ValueError: the header names none, or more than one.
    """
    lines = INSTALL.findall(ast.get_docstring(ast.parse(path.read_text())) or "")
    if len(lines) != 1:
        raise ValueError(f"{path.name}: its header must name one `Install: pip install ...` line")
    return lines[0].strip()


def requirements(line: str) -> list[str]:
    """The arguments of `pip install` in an install line (`.` is this checkout)."""
    words = shlex.split(line)
    assert words[:2] == ["pip", "install"], line
    return words[2:]


def setup_code(path: Path) -> str:
    """A tutorial's module-level statements up to its last top-level import."""
    module = ast.parse(path.read_text())
    body = module.body
    last = max(i for i, node in enumerate(body) if isinstance(node, ast.Import | ast.ImportFrom))
    return ast.unparse(ast.Module(body=body[: last + 1], type_ignores=[]))


def top_level_imports(path: Path) -> set[str]:
    """The top-level modules a tutorial's set-up imports (`_support` is examples/' own)."""
    names = set()
    for node in ast.walk(ast.parse(setup_code(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names.add(node.module.split(".")[0])
    return names - {"_support"}


def run_setup(path: Path, python: str = sys.executable) -> subprocess.CompletedProcess:
    """Runs a tutorial's set-up with `python -c` from examples/, so that its own `_support`
    package imports as it does under `python examples/x.py`."""
    return subprocess.run(
        [python, "-c", setup_code(path)], cwd=path.parent, capture_output=True, text=True
    )


def environments(folder: Path, prune: bool = False) -> int:
    """Each distinct install line in its own fresh venv under `folder` (kept, and reused
    while the line and pyproject.toml are unchanged), then every tutorial's set-up run in the
    venv of its line. With `prune`, each venv is removed once its set-ups have run (about 2 GB
    each: CI's disk is small). Returns the number of failures."""
    by_line: dict[str, list[Path]] = {}
    for path in tutorials():
        by_line.setdefault(install_line(path), []).append(path)
    project = (ROOT / "pyproject.toml").read_bytes()
    failures = 0
    for line, paths in by_line.items():
        key = hashlib.sha256(line.encode() + project).hexdigest()[:12]
        home = folder / key
        python = home / "bin" / "python"
        stamp = home / ".installed"
        if not stamp.exists():
            print(f"[{key}] {line}", flush=True)
            venv.create(home, with_pip=True, clear=True)
            quiet = [str(python), "-m", "pip", "install", "-q"]
            subprocess.run([*quiet, "--upgrade", "pip"], check=True)
            subprocess.run([*quiet, *requirements(line)], cwd=ROOT, check=True)
            stamp.write_text(line + "\n")
        for path in paths:
            result = run_setup(path, str(python))
            verdict = "ok" if result.returncode == 0 else "FAILED"
            print(f"[{key}] {path.name}: set-up {verdict}", flush=True)
            if result.returncode:
                failures += 1
                print(result.stderr[-3000:], file=sys.stderr)
        if prune:
            shutil.rmtree(home)
    return failures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--lines", action="store_true", help="list the install lines")
    group.add_argument("--run", type=Path, help="run one tutorial's set-up here")
    group.add_argument("--environments", type=Path, help="a folder for one venv per line")
    parser.add_argument("--prune", action="store_true", help="remove each venv after its set-ups")
    args = parser.parse_args(argv)
    if args.lines:
        for path in tutorials():
            print(f"{path.name}: {install_line(path)}")
        return 0
    if args.run:
        result = run_setup(args.run.resolve())
        print(result.stdout + result.stderr, end="")
        return result.returncode
    failures = environments(args.environments.resolve(), prune=args.prune)
    print(f"tutorial set-ups: {len(tutorials()) - failures} ran, {failures} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
